/*
 * tofucat listen: one listener, any number of clients, one thread.
 *
 * Every HelloRequest gets a HelloResponse and every ByeRequest a
 * ByeResponse (both the same message with the reply opcode, so id, headers
 * and body are kept). A peer's ByeSignal ("I send nothing more", as the
 * original tofu says it) gets a ByeSignal after every reply before it; the
 * engine then sends nothing more either and closes when the peer does. A Request gets a Response: with --echo the same
 * headers and body, otherwise an empty one, so that a client waiting for
 * its Response never hangs. With --echo each Signal goes back unchanged.
 *
 * Ending (--max-messages reached, SIGINT, SIGTERM): the listener is closed
 * and every connection gets a ByeRequest. The engine sends a ByeRequest
 * after everything posted before it, so once a connection's close Signal
 * came back, every reply on it was written. tofucat waits for those close
 * Signals for a short grace period, then destroys the engine.
 */
#include <string.h>

#include "tofucat.h"

/* Slices of the main wait: how soon a stop signal is noticed. */
#define LISTEN_SLICE_MS 100u
/* How long binding may take (a host name may need resolving). */
#define LISTEN_START_MS 30000u
/* How long clients get to answer the closing ByeRequests. */
#define LISTEN_GRACE_DONE_MS 5000u
#define LISTEN_GRACE_SIGNAL_MS 2000u

typedef struct server {
    tc_session s;
    const tc_options *opt;
    uint16_t listener;
    bool listener_closed;
    uint8_t open[65536 / 8]; /* channels that delivered a message and are not closed */
    size_t nopen;
    uint64_t handled; /* Requests and Signals answered */
    bool closing;
    uint64_t close_deadline_ms;
    int exit_code;
} server;

/* ---- the set of open connection channels ---- */

static bool server__is_open(const server *sv, uint16_t ch) {
    return (sv->open[ch / 8] >> (ch % 8)) & 1u;
}

/* Returns true when the channel was not known before. */
static bool server__mark_open(server *sv, uint16_t ch) {
    if (server__is_open(sv, ch))
        return false;
    sv->open[ch / 8] |= (uint8_t)(1u << (ch % 8));
    sv->nopen++;
    return true;
}

static void server__mark_closed(server *sv, uint16_t ch) {
    if (!server__is_open(sv, ch))
        return;
    sv->open[ch / 8] &= (uint8_t)~(1u << (ch % 8));
    sv->nopen--;
}

/* ---- posting ---- */

/* Posts an empty message with that opcode on ch; failures are harmless
 * here (the channel closed meanwhile, and its close Signal says so). */
static void server__post_op(server *sv, uint16_t ch, tofu_opcode op) {
    tofu_msg *m = tc_session_msg(&sv->s);
    if (m == NULL)
        return;
    tofu_msg_set_opcode(m, op);
    tofu_msg_set_channel(m, ch);
    tc_session_post(&sv->s, &m, NULL);
}

/* Sends the received message back with the reply opcode: same channel, id,
 * headers and body. */
static void server__reply(server *sv, tofu_msg **m, tofu_opcode op) {
    tofu_msg_set_opcode(*m, op);
    tc_session_post(&sv->s, m, NULL);
}

/* ---- ending ---- */

static void server__start_closing(server *sv, uint64_t grace_ms) {
    if (sv->closing)
        return;
    sv->closing = true;
    sv->close_deadline_ms = tc_now_ms() + grace_ms;
    if (!sv->listener_closed)
        server__post_op(sv, sv->listener, TOFU_OP_BYE_SIGNAL); /* stop accepting */
    for (uint32_t ch = 1; ch < 65535; ch++)
        if (server__is_open(sv, (uint16_t)ch))
            server__post_op(sv, (uint16_t)ch, TOFU_OP_BYE_REQUEST);
}

static bool server__finished(const server *sv) {
    if (!sv->closing)
        return false;
    if (sv->nopen == 0 && sv->listener_closed)
        return true;
    /* A second Ctrl-C means "now". */
    return tc_now_ms() >= sv->close_deadline_ms || tc_stop_requests() >= 2;
}

static void server__count_handled(server *sv) {
    sv->handled++;
    if (sv->opt->max_messages != 0 && sv->handled >= sv->opt->max_messages)
        server__start_closing(sv, LISTEN_GRACE_DONE_MS);
}

/* ---- received messages ---- */

/* Messages from the engine: close Signals, pool_empty, our replies coming
 * back because their channel closed. */
static void server__engine_msg(server *sv, tofu_msg *m) {
    uint16_t ch = tofu_msg_channel(m);
    bool listener = ch == sv->listener;
    /* Not news: the listener's own messages, and replies handed back
     * because we are closing their channels. Close Signals always are. */
    bool ours_back = sv->closing && !tc_is_close_signal(m);
    if (!listener && !ours_back)
        tc_print_msg(sv->opt, m);
    if (tc_is_close_signal(m) && listener) {
        sv->listener_closed = true;
        if (!sv->closing) {
            char os_error[TC_ERROR_CAP];
            tc_msg_error(m, os_error, sizeof os_error);
            tc_report_failure(tc_msg_reason(m, TOFU_CHANNEL_CLOSED), "the listener closed",
                              os_error, NULL);
            sv->exit_code = TC_EXIT_FAILURE;
            server__start_closing(sv, LISTEN_GRACE_SIGNAL_MS);
        }
    } else if (tc_is_close_signal(m)) {
        server__mark_closed(sv, ch);
    }
    tc_session_put(&sv->s, &m);
}

static void server__request(server *sv, tofu_msg **m) {
    if (sv->closing) { /* beyond --max-messages: not answered */
        tc_session_put(&sv->s, m);
        return;
    }
    if (!sv->opt->echo) {
        tofu_msg_clear_headers(*m);
        tofu_msg_clear_body(*m);
    }
    server__reply(sv, m, TOFU_OP_RESPONSE);
    server__count_handled(sv);
}

static void server__signal(server *sv, tofu_msg **m) {
    if (sv->closing) {
        tc_session_put(&sv->s, m);
        return;
    }
    if (sv->opt->echo)
        server__reply(sv, m, TOFU_OP_SIGNAL);
    else
        tc_session_put(&sv->s, m);
    server__count_handled(sv);
}

/* --show-peers: who a new client is (tofu_channel_peer), before its first
 * message: "Peer channel=N address=URL uid=U gid=G pid=P" (-1: unknown),
 * or {"peer":{...}} with --format json. */
static void server__show_peer(const server *sv, uint16_t ch) {
    tofu_peer p;
    char url[TOFU_MAX_HOST_LEN + TOFU_UDS_PATH_BUF + 32] = "";
    if (!sv->opt->show_peers || sv->opt->quiet || tofu_channel_peer(sv->s.g, ch, &p) != TOFU_SUCCESS)
        return;
    if (!tc_url_format(&p.address, url, sizeof url))
        strcpy(url, p.address.transport == TOFU_TRANSPORT_UDS ? "uds:" : "");
    FILE *f = sv->opt->format == TC_FORMAT_RAW ? stderr : stdout;
    if (sv->opt->format == TC_FORMAT_JSON) {
        fprintf(f, "{\"peer\":{\"channel\":%u,\"address\":\"", (unsigned)ch);
        tc_write_escaped(f, (const unsigned char *)url, strlen(url), TC_ESCAPE_JSON);
        fprintf(f, "\",\"uid\":%lld,\"gid\":%lld,\"pid\":%lld}}\n", (long long)p.uid,
                (long long)p.gid, (long long)p.pid);
    } else {
        fprintf(f, "Peer channel=%u address=%s uid=%lld gid=%lld pid=%lld\n", (unsigned)ch, url,
                (long long)p.uid, (long long)p.gid, (long long)p.pid);
    }
    fflush(f);
}

static void server__app_msg(server *sv, tofu_msg *m) {
    uint16_t ch = tofu_msg_channel(m);
    bool is_new = server__mark_open(sv, ch);
    if (is_new)
        server__show_peer(sv, ch);
    tc_print_msg(sv->opt, m);
    switch (tofu_msg_opcode(m)) {
    case TOFU_OP_HELLO_REQUEST:
        server__reply(sv, &m, TOFU_OP_HELLO_RESPONSE);
        break;
    case TOFU_OP_BYE_REQUEST:
        server__reply(sv, &m, TOFU_OP_BYE_RESPONSE);
        break;
    case TOFU_OP_REQUEST:
        server__request(sv, &m);
        break;
    case TOFU_OP_SIGNAL:
        server__signal(sv, &m);
        break;
    case TOFU_OP_BYE_SIGNAL:
        tofu_msg_bhdr(m)->internal_a = false; /* sent in order, not an abort */
        server__reply(sv, &m, TOFU_OP_BYE_SIGNAL);
        break;
    default: /* Responses: nothing to answer */
        break;
    }
    if (m != NULL)
        tc_session_put(&sv->s, &m);
    if (is_new && sv->closing) /* a client that arrived while ending */
        server__post_op(sv, ch, TOFU_OP_BYE_REQUEST);
}

/* ---- start ---- */

/* Prints "listening on URL" with the address the engine actually bound
 * (the real port when port 0 was asked): {"listening":"URL"} with --format
 * json, where every line is JSON; on stderr with --format raw, where stdout
 * carries only what the peers sent. */
static void server__announce(const tc_options *opt, const tofu_msg *welcome,
                             const char *fallback) {
    tofu_header h;
    tofu_address a;
    char url[TOFU_MAX_HOST_LEN + TOFU_UDS_PATH_BUF + 32];
    const char *shown = fallback;
    if (tofu_msg_find_header(welcome, TOFU_HDR_LISTEN_ON, &h) &&
        tofu_address_parse(h.value, h.value_len, &a) == TOFU_SUCCESS &&
        tc_url_format(&a, url, sizeof url))
        shown = url;
    if (opt->format == TC_FORMAT_JSON) {
        fputs("{\"listening\":\"", stdout);
        tc_write_escaped(stdout, (const unsigned char *)shown, strlen(shown), TC_ESCAPE_JSON);
        fputs("\"}\n", stdout);
    } else {
        fprintf(opt->format == TC_FORMAT_RAW ? stderr : stdout, "listening on %s\n", shown);
    }
    fflush(stdout);
}

/* Waits for the WelcomeResponse of the listener just posted. */
static int server__await_welcome(server *sv) {
    uint64_t deadline = tc_now_ms() + LISTEN_START_MS;
    tofu_status st;
    while (tc_now_ms() < deadline && tc_stop_requests() == 0) {
        tofu_msg *m = tc_session_next(&sv->s, LISTEN_SLICE_MS, &st);
        if (m == NULL && st != TOFU_SUCCESS)
            break;
        if (m == NULL)
            continue;
        bool ours = tofu_msg_opcode(m) == TOFU_OP_WELCOME_RESPONSE &&
                    tofu_msg_channel(m) == sv->listener;
        st = tofu_msg_status(m);
        if (ours && st == TOFU_SUCCESS)
            server__announce(sv->opt, m, sv->opt->address_text);
        char os_error[TC_ERROR_CAP];
        tc_msg_error(m, os_error, sizeof os_error);
        tc_session_put(&sv->s, &m);
        if (ours && st != TOFU_SUCCESS) {
            tc_report_failure(st, sv->opt->address_text, os_error, NULL);
            return TC_EXIT_FAILURE;
        }
        if (ours)
            return TC_EXIT_OK;
    }
    if (tc_stop_requests() > 0)
        return TC_EXIT_OK;
    fprintf(stderr, "tofucat: timeout: the listener did not start\n");
    return TC_EXIT_TIMEOUT;
}

static int server__start(server *sv) {
    tofu_msg *m = tc_session_msg(&sv->s);
    tofu_bhdr h;
    tofu_status st = m == NULL ? TOFU_ALLOCATION_FAILED : tofu_msg_listen(m, &sv->opt->address);
    if (st == TOFU_SUCCESS)
        st = tc_session_post(&sv->s, &m, &h);
    else
        tc_session_put(&sv->s, &m);
    if (st != TOFU_SUCCESS) {
        tc_report_status(st, sv->opt->address_text);
        return TC_EXIT_FAILURE;
    }
    sv->listener = h.channel;
    return server__await_welcome(sv);
}

/* ---- the loop ---- */

static void server__loop(server *sv) {
    tofu_status st;
    while (!server__finished(sv)) {
        if (tc_stop_requests() > 0)
            server__start_closing(sv, LISTEN_GRACE_SIGNAL_MS);
        tofu_msg *m = tc_session_next(&sv->s, LISTEN_SLICE_MS, &st);
        if (m == NULL && st != TOFU_SUCCESS) {
            tc_report_status(st, "the engine stopped");
            sv->exit_code = TC_EXIT_FAILURE;
            return;
        }
        if (m != NULL && tofu_msg_from_engine(m))
            server__engine_msg(sv, m);
        else if (m != NULL)
            server__app_msg(sv, m);
    }
}

int tc_listen(const tc_options *opt) {
    static server sv; /* the channel bitmap is 8 KiB: not for the stack */
    memset(&sv, 0, sizeof sv);
    sv.opt = opt;
    tc_install_stop_handlers();
    if (tc_session_open(&sv.s, false) != TOFU_SUCCESS)
        return TC_EXIT_FAILURE;
    int rc = server__start(&sv);
    if (rc == TC_EXIT_OK && tc_stop_requests() == 0) {
        server__loop(&sv);
        rc = sv.exit_code;
    }
    tc_session_close(&sv.s);
    return rc;
}
