/*
 * tofucat — a command-line peer for libtofu: listen and print or echo, or
 * connect and send data. This header is shared by the tool's modules only.
 *
 * Modules: args.c (command line), url.c (ADDRESS URLs), output.c, text.c and
 * json.c (one line per received message), sys.c (the few OS services the tool
 * needs: clock, signals, files), listen.c, connect.c, main.c.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef TOFUCAT_H
#define TOFUCAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "tofu.h"

/* Exit codes (documented in tofucat(1)). */
enum {
    TC_EXIT_OK = 0,
    TC_EXIT_FAILURE = 1, /* the engine or the peer reported a status */
    TC_EXIT_USAGE = 2,   /* bad command line */
    TC_EXIT_TIMEOUT = 3  /* nothing came within --timeout */
};

#define TC_DEFAULT_TIMEOUT_MS 10000u

typedef enum tc_command {
    TC_CMD_LISTEN,
    TC_CMD_CONNECT,
    TC_CMD_HELP,
    TC_CMD_VERSION
} tc_command;

typedef enum tc_format {
    TC_FORMAT_TEXT,
    TC_FORMAT_JSON,
    TC_FORMAT_RAW /* only the bodies of received data, as they came */
} tc_format;

/* Everything the command line says. Strings point into argv. */
typedef struct tc_options {
    tc_command command;
    const char *address_text; /* ADDRESS as given */
    tofu_address address;     /* ADDRESS parsed */
    tc_format format;
    bool quiet; /* print no received messages */

    /* listen */
    bool echo;
    bool show_peers; /* a line per new client: its address and credentials */
    uint64_t max_messages; /* 0 = no limit */

    /* connect */
    const char **data; /* --data payloads, in order */
    size_t ndata;
    const char *file;
    bool signal;
    uint64_t count; /* how often the payload list is sent (default 1) */
    const char **headers; /* --header NAME:VALUE (HelloRequest) */
    size_t nheaders;
    const char **data_headers; /* --data-header NAME:VALUE (every Request/Signal) */
    size_t ndata_headers;
    uint64_t timeout_ms;
    uint64_t retry_ms; /* --retry: the HelloRequest's retry deadline (0: none) */
    bool abort;      /* end with a bit-6 ByeSignal: reset */
    bool bye_signal; /* end with a ByeSignal without bit 6: "nothing more" */
} tc_options;

/* ---- args.c ---- */

/* Parses the command line into *opt. Returns TC_EXIT_OK, or TC_EXIT_USAGE
 * after printing a one-line complaint on stderr. Free with tc_options_fini. */
int tc_parse_args(int argc, char **argv, tc_options *opt);
void tc_options_fini(tc_options *opt);
void tc_print_help(FILE *f);
void tc_print_version(FILE *f);

/* ---- url.c ---- */

/* Parses an ADDRESS URL: tcp://HOST:PORT, tcp://[IPV6]:PORT, uds:///path,
 * uds://@name, or a tofu address value (tcp|host|port, uds|path). for_listen
 * allows an empty TCP host ("any") and port 0 ("pick one"). On error returns
 * false and sets *why to a short explanation. */
bool tc_url_parse(const char *url, bool for_listen, tofu_address *out, const char **why);

/* Formats an address as a URL (the inverse of tc_url_parse). False when it
 * does not fit in cap bytes. */
bool tc_url_format(const tofu_address *a, char *buf, size_t cap);

/* ---- output.c, text.c, json.c ---- */

/* Prints one received message as one line on stdout (text or JSON) and
 * flushes, so that a reader of a pipe sees each message as it arrives. */
void tc_print_msg(const tc_options *opt, const tofu_msg *m);
void tc_text_write_msg(FILE *f, const tofu_msg *m);
void tc_json_write_msg(FILE *f, const tofu_msg *m);

/* Length (1..4) of the well-formed UTF-8 sequence at p (n bytes left), or 0
 * when the bytes there are not one. */
size_t tc_utf8_seq_len(const unsigned char *p, size_t n);

/* How tc_write_escaped writes a byte that is neither printable ASCII nor part
 * of well-formed UTF-8. */
typedef enum tc_escape_style {
    TC_ESCAPE_JSON, /* \u00XX (0x7F passes as is: JSON allows it) */
    TC_ESCAPE_TEXT  /* \xNN (0x7F too: it would act on a terminal) */
} tc_escape_style;

/* Writes p[0..n) with '"', '\\', CR, LF and TAB escaped C-style and other
 * unprintable bytes in the given style; well-formed UTF-8 passes as is.
 * Returns false when some byte was not UTF-8. */
bool tc_write_escaped(FILE *f, const unsigned char *p, size_t n, tc_escape_style style);

/* The status named by a message's ~reason header, or fallback. */
tofu_status tc_msg_reason(const tofu_msg *m, tofu_status fallback);

/* True for the engine's close Signal (the last message of every channel). */
bool tc_is_close_signal(const tofu_msg *m);

/* Prints "tofucat: <status name>[: detail]" on stderr. */
void tc_report_status(tofu_status st, const char *detail);

/* Room for a message's ~error text (tc_msg_error). */
#define TC_ERROR_CAP 256

/* The ~error of an engine-made message (the system's error behind a
 * failure), NUL-terminated; "" when it has none. */
void tc_msg_error(const tofu_msg *m, char *buf, size_t cap);

/* A failure on one line of stderr: "tofucat: <status>: <detail>[:
 * <os_error>][ (<hint>)]", the hint where one helps (nobody listening at
 * `address`, another process listening there). os_error and address may
 * be NULL or "". */
void tc_report_failure(tofu_status st, const char *detail, const char *os_error,
                       const char *address);

/* ---- sys.c ---- */

/* Monotonic milliseconds (arbitrary origin). */
uint64_t tc_now_ms(void);

/* SIGINT/SIGTERM set a flag instead of killing the process. */
void tc_install_stop_handlers(void);
/* Standard output in binary mode (no CR LF translation on Windows). */
void tc_stdout_binary(void);

/* Starts fn(arg) on a detached thread, never joined: it may be blocked in
 * a read when tofucat is done, and exit ends it. False when it cannot. */
bool tc_thread_start_detached(void (*fn)(void *), void *arg);
/* A gate a thread passes once per opening (a counting semaphore): the
 * standard-input reader reads the next line only when the main thread is
 * ready for it. Once closed, nobody passes or holds it any more: what the
 * reader does with the engine it does holding the gate, so after close
 * returns the engine may go. Destroyed by whichever of the two threads is
 * done with it last. */
typedef struct tc_gate tc_gate;
tc_gate *tc_gate_create(void);
void tc_gate_open(tc_gate *g);
/* Waits for an opening; false once the gate is closed. */
bool tc_gate_pass(tc_gate *g);
/* Holds the gate shut against close (true), or false when it is closed. */
bool tc_gate_hold(tc_gate *g);
void tc_gate_release(tc_gate *g);
void tc_gate_close(tc_gate *g);
void tc_gate_destroy(tc_gate *g);
/* How many stop signals arrived so far. */
int tc_stop_requests(void);

/* Reads one line (without its LF or CR LF) into a growing buffer. Returns
 * false at end of input with nothing read. */
bool tc_read_line(FILE *f, char **buf, size_t *cap, size_t *len);

/* Reads a whole file into a new buffer (binary). On error returns false and
 * leaves errno's message in *why. */
bool tc_read_file(const char *path, unsigned char **data, size_t *len, const char **why);

/* ---- session.c: one engine and one group ---- */

typedef struct tc_session {
    tofu_engine *e;
    tofu_group *g;
} tc_session;

/* Creates the engine and the group; reports the status on failure. With
 * own_data_only (connect) the send queue is unlimited: it holds only what
 * the user gave tofucat to send, so a slow peer slows tofucat down rather
 * than refusing its data. A listener faces peers it does not know and keeps
 * the engine's default bound. */
tofu_status tc_session_open(tc_session *s, bool own_data_only);
/* Destroys the group (closing what is still open) and the engine. */
void tc_session_close(tc_session *s);
/* A fresh message (allocated when the pool is empty); NULL only when memory
 * runs out. */
tofu_msg *tc_session_msg(tc_session *s);
void tc_session_put(tc_session *s, tofu_msg **m);
/* Posts; on failure the message goes back to the pool and the status is
 * returned. */
tofu_status tc_session_post(tc_session *s, tofu_msg **m, tofu_bhdr *out);
/* The next message of the group, waiting at most wait_ms; NULL on timeout or
 * when the engine is shutting down (*st tells which: success on timeout). */
tofu_msg *tc_session_next(tc_session *s, uint64_t wait_ms, tofu_status *st);
/* Adds a NAME:VALUE command-line header to a message. */
tofu_status tc_add_header_arg(tofu_msg *m, const char *arg);

/* ---- listen.c, connect.c ---- */

int tc_listen(const tc_options *opt);
int tc_connect(const tc_options *opt);

#endif
