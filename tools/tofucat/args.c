/*
 * tofucat's command line: `tofucat listen|connect ADDRESS [options]`,
 * `tofucat --help`, `tofucat --version`. Options may come before or after
 * ADDRESS, as `--name value` or `--name=value`. Every mistake is a usage
 * error: one line on stderr and exit code 2, before anything is opened.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "tofucat.h"

#define CMD_LISTEN (1u << 0)
#define CMD_CONNECT (1u << 1)
#define CMD_BOTH (CMD_LISTEN | CMD_CONNECT)

typedef bool (*option_apply)(tc_options *opt, const char *value);

typedef struct option_spec {
    const char *name;     /* without the leading "--" */
    unsigned commands;    /* CMD_* where it is allowed */
    bool takes_value;
    option_apply apply;   /* false: the value is not acceptable */
    const char *expected; /* what a valid value looks like, for the complaint */
} option_spec;

#if defined(__GNUC__)
__attribute__((format(printf, 1, 2)))
#endif
static int args__usage(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("tofucat: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputs("\nTry 'tofucat --help'.\n", stderr);
    va_end(ap);
    return TC_EXIT_USAGE;
}

/* Decimal digits only, no sign, no overflow. */
static bool args__parse_u64(const char *s, uint64_t *out) {
    uint64_t v = 0;
    if (*s == '\0')
        return false;
    for (; *s != '\0'; s++) {
        if (*s < '0' || *s > '9')
            return false;
        unsigned d = (unsigned)(*s - '0');
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

/* NAME:VALUE with a non-empty name and value; the library checks the rest
 * (no CR, LF or further rules) when the header is added. */
static bool args__header_ok(const char *s) {
    const char *colon = strchr(s, ':');
    return colon != NULL && colon != s && colon[1] != '\0';
}

/* ---- option handlers ---- */

static bool opt__echo(tc_options *o, const char *v) {
    (void)v;
    o->echo = true;
    return true;
}

static bool opt__show_peers(tc_options *o, const char *v) {
    (void)v;
    o->show_peers = true;
    return true;
}

static bool opt__max_messages(tc_options *o, const char *v) {
    return args__parse_u64(v, &o->max_messages) && o->max_messages > 0;
}

static bool opt__format(tc_options *o, const char *v) {
    if (strcmp(v, "text") == 0)
        o->format = TC_FORMAT_TEXT;
    else if (strcmp(v, "json") == 0)
        o->format = TC_FORMAT_JSON;
    else if (strcmp(v, "raw") == 0)
        o->format = TC_FORMAT_RAW;
    else
        return false;
    return true;
}

static bool opt__quiet(tc_options *o, const char *v) {
    (void)v;
    o->quiet = true;
    return true;
}

static bool opt__data(tc_options *o, const char *v) {
    o->data[o->ndata++] = v;
    return true;
}

static bool opt__file(tc_options *o, const char *v) {
    if (o->file != NULL || *v == '\0')
        return false; /* one file, named */
    o->file = v;
    return true;
}

static bool opt__signal(tc_options *o, const char *v) {
    (void)v;
    o->signal = true;
    return true;
}

static bool opt__count(tc_options *o, const char *v) {
    return args__parse_u64(v, &o->count);
}

static bool opt__header(tc_options *o, const char *v) {
    if (!args__header_ok(v))
        return false;
    o->headers[o->nheaders++] = v;
    return true;
}

static bool opt__data_header(tc_options *o, const char *v) {
    if (!args__header_ok(v))
        return false;
    o->data_headers[o->ndata_headers++] = v;
    return true;
}

static bool opt__timeout(tc_options *o, const char *v) {
    /* An upper bound keeps the millisecond arithmetic far from overflow. */
    return args__parse_u64(v, &o->timeout_ms) && o->timeout_ms > 0 &&
           o->timeout_ms <= 1000ull * 1000 * 1000 * 1000;
}

static bool opt__retry(tc_options *o, const char *v) {
    /* The engine's retry deadline is a uint32 of milliseconds. */
    return args__parse_u64(v, &o->retry_ms) && o->retry_ms > 0 && o->retry_ms < TOFU_TIMEOUT_NONE;
}

static bool opt__abort(tc_options *o, const char *v) {
    (void)v;
    o->abort = true;
    return true;
}

static bool opt__bye_signal(tc_options *o, const char *v) {
    (void)v;
    o->bye_signal = true;
    return true;
}

static const option_spec args__options[] = {
    {"echo", CMD_LISTEN, false, opt__echo, NULL},
    {"show-peers", CMD_LISTEN, false, opt__show_peers, NULL},
    {"max-messages", CMD_LISTEN, true, opt__max_messages, "a positive number"},
    {"format", CMD_BOTH, true, opt__format, "text, json or raw"},
    {"quiet", CMD_BOTH, false, opt__quiet, NULL},
    {"data", CMD_CONNECT, true, opt__data, "a string"},
    {"file", CMD_CONNECT, true, opt__file, "one file path"},
    {"signal", CMD_CONNECT, false, opt__signal, NULL},
    {"count", CMD_CONNECT, true, opt__count, "a whole number, 0 or more"},
    {"header", CMD_CONNECT, true, opt__header, "NAME:VALUE"},
    {"data-header", CMD_CONNECT, true, opt__data_header, "NAME:VALUE"},
    {"timeout", CMD_CONNECT, true, opt__timeout, "milliseconds, at least 1"},
    {"retry", CMD_CONNECT, true, opt__retry, "milliseconds, at least 1"},
    {"abort", CMD_CONNECT, false, opt__abort, NULL},
    {"bye-signal", CMD_CONNECT, false, opt__bye_signal, NULL},
};

static const option_spec *args__find(const char *name, size_t len) {
    for (size_t i = 0; i < sizeof args__options / sizeof args__options[0]; i++) {
        const option_spec *s = &args__options[i];
        if (strlen(s->name) == len && memcmp(s->name, name, len) == 0)
            return s;
    }
    return NULL;
}

/* ---- the parse ---- */

static const char *args__command_name(tc_command c) {
    return c == TC_CMD_LISTEN ? "listen" : "connect";
}

/* Applies the option at argv[*i] (which starts with "--"), consuming its
 * value from the next argument when it was not given with '='. */
static int args__option(int argc, char **argv, int *i, tc_options *opt) {
    const char *arg = argv[*i] + 2;
    const char *eq = strchr(arg, '=');
    size_t name_len = eq != NULL ? (size_t)(eq - arg) : strlen(arg);
    const option_spec *s = args__find(arg, name_len);
    if (s == NULL)
        return args__usage("unknown option '%s'", argv[*i]);
    unsigned here = opt->command == TC_CMD_LISTEN ? CMD_LISTEN : CMD_CONNECT;
    if ((s->commands & here) == 0)
        return args__usage("option --%s does not apply to '%s'", s->name,
                           args__command_name(opt->command));
    const char *value = NULL;
    if (s->takes_value && eq != NULL) {
        value = eq + 1;
    } else if (s->takes_value) {
        if (*i + 1 >= argc)
            return args__usage("option --%s needs a value (%s)", s->name, s->expected);
        value = argv[++*i];
    } else if (eq != NULL) {
        return args__usage("option --%s takes no value", s->name);
    }
    if (!s->apply(opt, value))
        return args__usage("bad value for --%s (expected %s)", s->name, s->expected);
    return TC_EXIT_OK;
}

/* The arrays for repeatable options hold at most one entry per argument. */
static bool args__alloc(int argc, tc_options *opt) {
    size_t n = (size_t)argc + 1;
    opt->data = calloc(n, sizeof *opt->data);
    opt->headers = calloc(n, sizeof *opt->headers);
    opt->data_headers = calloc(n, sizeof *opt->data_headers);
    return opt->data != NULL && opt->headers != NULL && opt->data_headers != NULL;
}

static bool args__is_flag(const char *a, const char *long_name, const char *short_name) {
    return strcmp(a, long_name) == 0 || strcmp(a, short_name) == 0;
}

/* The first argument: a command, --help or --version. */
static int args__command(int argc, char **argv, tc_options *opt) {
    if (argc < 2)
        return args__usage("a command is needed: listen or connect");
    const char *c = argv[1];
    if (args__is_flag(c, "--help", "-h"))
        opt->command = TC_CMD_HELP;
    else if (args__is_flag(c, "--version", "-V"))
        opt->command = TC_CMD_VERSION;
    else if (strcmp(c, "listen") == 0)
        opt->command = TC_CMD_LISTEN;
    else if (strcmp(c, "connect") == 0)
        opt->command = TC_CMD_CONNECT;
    else
        return args__usage("unknown command '%s' (expected listen or connect)", c);
    return TC_EXIT_OK;
}

/* Checks that go across options, once everything is read. */
static int args__finish(tc_options *opt) {
    const char *why = NULL;
    if (opt->address_text == NULL)
        return args__usage("'%s' needs an ADDRESS, e.g. tcp://127.0.0.1:7099",
                           args__command_name(opt->command));
    if (opt->abort && opt->bye_signal)
        return args__usage("--abort and --bye-signal are two ways to end: choose one");
    bool listening = opt->command == TC_CMD_LISTEN;
    if (!tc_url_parse(opt->address_text, listening, &opt->address, &why))
        return args__usage("bad ADDRESS '%s': %s", opt->address_text, why);
    return TC_EXIT_OK;
}

int tc_parse_args(int argc, char **argv, tc_options *opt) {
    memset(opt, 0, sizeof *opt);
    opt->count = 1;
    opt->timeout_ms = TC_DEFAULT_TIMEOUT_MS;
    if (!args__alloc(argc, opt)) {
        fprintf(stderr, "tofucat: allocation_failed\n");
        return TC_EXIT_FAILURE;
    }
    int rc = args__command(argc, argv, opt);
    if (rc != TC_EXIT_OK || opt->command == TC_CMD_HELP || opt->command == TC_CMD_VERSION)
        return rc;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        if (args__is_flag(a, "--help", "-h")) {
            opt->command = TC_CMD_HELP;
            return TC_EXIT_OK;
        }
        if (strncmp(a, "--", 2) == 0 && a[2] != '\0')
            rc = args__option(argc, argv, &i, opt);
        else if (opt->address_text == NULL)
            opt->address_text = a;
        else
            rc = args__usage("unexpected argument '%s' (ADDRESS is '%s')", a, opt->address_text);
        if (rc != TC_EXIT_OK)
            return rc;
    }
    return args__finish(opt);
}

void tc_options_fini(tc_options *opt) {
    free((void *)opt->data);
    free((void *)opt->headers);
    free((void *)opt->data_headers);
    opt->data = opt->headers = opt->data_headers = NULL;
}

void tc_print_version(FILE *f) {
    fprintf(f, "tofucat %s (libtofu %s)\n", TOFU_VERSION_STRING, tofu_version());
}

void tc_print_help(FILE *f) {
    fputs("Usage:\n"
          "  tofucat listen ADDRESS [--echo] [--max-messages N] [--show-peers]\n"
          "                 [--format text|json|raw] [--quiet]\n"
          "  tofucat connect ADDRESS [--data STR]... [--file PATH] [--signal] [--count N]\n"
          "                  [--header NAME:VALUE]... [--data-header NAME:VALUE]...\n"
          "                  [--format text|json|raw] [--timeout MS] [--retry MS]\n"
          "                  [--abort | --bye-signal] [--quiet]\n"
          "  tofucat --help | --version\n"
          "\n"
          "ADDRESS:\n"
          "  tcp://HOST:PORT       TCP (listen: HOST may be empty for any, PORT 0 for any)\n"
          "  tcp://[IPV6]:PORT     TCP over IPv6\n"
          "  uds:///absolute/path  Unix-domain socket file\n"
          "  uds://@name           Linux abstract Unix-domain socket\n"
          "\n"
          "listen: prints 'listening on ADDRESS', answers every HelloRequest and\n"
          "ByeRequest, and prints every message received.\n"
          "  --echo              answer each Request with a Response carrying the same id,\n"
          "                      headers and body; send each Signal back (without --echo\n"
          "                      a Request gets an empty Response)\n"
          "  --max-messages N    exit 0 after N Requests/Signals, once the replies are out\n"
          "  --show-peers        a line per new client before its first message: its\n"
          "                      address and, over a Unix socket, its uid, gid and pid\n"
          "\n"
          "connect: says hello, sends each payload as a Request and waits for its\n"
          "Response, then says bye. Payloads: every --data, then --file (split into\n"
          "65535-byte parts marked 'more'), or else each line of standard input.\n"
          "  --signal            send Signals and wait for nothing\n"
          "  --count N           send the payloads N times (default 1)\n"
          "  --header N:V        text header on the HelloRequest\n"
          "  --data-header N:V   text header on every Request or Signal\n"
          "  --timeout MS        each Request's deadline, and the longest wait for the\n"
          "                      HelloResponse (default 10000); a Request unanswered\n"
          "                      is reported with its id\n"
          "  --retry MS          wait for the server: a refused connect (or no socket\n"
          "                      file yet) is tried again, with growing pauses, for up\n"
          "                      to MS; the wait for the HelloResponse grows by MS\n"
          "  --abort             end with a ByeSignal (reset) instead of a ByeRequest\n"
          "  --bye-signal        end with a ByeSignal sent in order (the original tofu's\n"
          "                      'nothing more from me'), then wait for the peer's close\n"
          "                      or its ByeSignal\n"
          "\n"
          "Both:\n"
          "  --format text|json  one line per received message (default text); json:\n"
          "                      every line of stdout is JSON\n"
          "  --format raw        only the bodies of the peer's Requests, Responses and\n"
          "                      Signals, byte for byte (to save what arrives:\n"
          "                      > file); 'listening on' then goes to stderr\n"
          "  --quiet             print no received messages\n"
          "\n"
          "Exit status: 0 success, 1 a status from the engine or the peer (named on\n"
          "stderr, e.g. 'tofucat: connect_failed'), 2 usage error, 3 timeout.\n",
          f);
}
