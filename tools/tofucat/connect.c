/*
 * tofucat connect: HelloRequest, then the payloads as Requests (each waiting
 * for its Response) or Signals (waiting for nothing), then ByeRequest and
 * its ByeResponse; or a ByeSignal with bit 6 with --abort (a reset); or with
 * --bye-signal a ByeSignal sent in order, after which the engine sends
 * nothing more and the session ends when the peer closes, or when the peer's
 * own ByeSignal comes (then tofucat resets: both sides are done).
 *
 * Every wait is bounded by --timeout; every message received is printed.
 * What ends a session early: a HelloResponse with an error status (the
 * engine could not connect), the channel's close Signal (the server went
 * away; its ~reason header names why), a message the engine hands back with
 * an error status. Each is reported as "tofucat: <status>" and exit 1.
 *
 * A server may end the session itself (tofucat listen --max-messages): its
 * ByeRequest is answered with a ByeResponse at any time; if payloads were
 * still to go, they come back with channel_closed and the run fails.
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "tofucat.h"

typedef struct client {
    tc_session s;
    const tc_options *opt;
    uint16_t ch;
    bool peer_said_bye; /* the server's ByeRequest was answered */
    bool closed;        /* our channel's close Signal arrived */
    tofu_status close_reason;
    char close_error[TC_ERROR_CAP]; /* the close Signal's ~error */
    uint64_t stream_id; /* the id of a file's parts after the first; 0: new */
    unsigned char *file; /* --file's bytes, read before connecting */
    size_t file_len;
} client;

/* One message to send: a --data string, a part of --file or a line. */
typedef struct payload {
    const unsigned char *data;
    size_t len;
    bool more; /* a part of a file that has further parts */
} payload;

/* ---- failures ---- */

static int client__fail(tofu_status st, const char *detail) {
    tc_report_status(st, detail);
    return TC_EXIT_FAILURE;
}

static int client__timeout(const client *c, const char *what) {
    fprintf(stderr, "tofucat: timeout: no %s within %llu ms\n", what,
            (unsigned long long)c->opt->timeout_ms);
    return TC_EXIT_TIMEOUT;
}

/* ---- messages that are not the awaited answer ---- */

static void client__answer_bye(client *c, tofu_msg **m) {
    tofu_msg_set_opcode(*m, TOFU_OP_BYE_RESPONSE);
    if (tc_session_post(&c->s, m, NULL) == TOFU_SUCCESS)
        c->peer_said_bye = true;
}

/* The failure of a session whose channel closed before it was done. */
static int client__closed_early(const client *c) {
    tc_report_failure(c->close_reason,
                      c->peer_said_bye ? "the peer ended the session" : "the connection closed",
                      c->close_error, NULL);
    return TC_EXIT_FAILURE;
}

/* Handles a message that arrived while waiting for something else; puts
 * it. The close Signal is only noted: whether it ends the session too early
 * depends on what was still to do. Returns TC_EXIT_OK to go on, else the
 * failure. */
static int client__other(client *c, tofu_msg *m) {
    int rc = TC_EXIT_OK;
    tofu_status st = tofu_msg_status(m);
    if (tc_is_close_signal(m) && tofu_msg_channel(m) == c->ch) {
        c->closed = true;
        c->close_reason = tc_msg_reason(m, TOFU_CHANNEL_CLOSED);
        tc_msg_error(m, c->close_error, sizeof c->close_error);
    } else if (tofu_msg_from_engine(m) && st != TOFU_SUCCESS && st != TOFU_POOL_EMPTY) {
        char detail[64];
        snprintf(detail, sizeof detail, "%s handed back by the engine",
                 tofu_op_name(tofu_msg_opcode(m)));
        rc = client__fail(st, detail);
    } else if (!tofu_msg_from_engine(m) && tofu_msg_opcode(m) == TOFU_OP_BYE_REQUEST) {
        client__answer_bye(c, &m);
    }
    tc_session_put(&c->s, &m);
    return rc;
}

/* The next message within the time left before deadline_ms (printed), or
 * NULL with *rc set on timeout or engine shutdown. */
static tofu_msg *client__next(client *c, uint64_t deadline_ms, const char *what, int *rc) {
    uint64_t now = tc_now_ms();
    tofu_status st = TOFU_SUCCESS;
    tofu_msg *m = now < deadline_ms ? tc_session_next(&c->s, deadline_ms - now, &st) : NULL;
    if (m != NULL) {
        tc_print_msg(c->opt, m);
        return m;
    }
    *rc = now < deadline_ms && st != TOFU_SUCCESS ? client__fail(st, "the engine stopped")
                                                  : client__timeout(c, what);
    return NULL;
}

/* Takes messages until our channel's close Signal (printed, as all), at
 * most until deadline_ms: a Request the engine answered because the
 * channel closed is reported after the whole story is out. */
static void client__until_closed(client *c, uint64_t deadline_ms) {
    while (!c->closed) {
        int rc = TC_EXIT_OK;
        tofu_msg *m = client__next(c, deadline_ms, "close Signal", &rc);
        if (m == NULL)
            return;
        client__other(c, m);
    }
}

/* The engine answered our Request for the peer: its deadline passed
 * (exit 3, "timeout"), or the channel closed before the peer answered
 * (exit 1, the close reason), each naming the Request's id. */
static int client__unanswered(client *c, tofu_msg **m, uint64_t deadline_ms) {
    uint64_t id = tofu_msg_id(*m);
    bool timed_out = tofu_msg_timed_out(*m);
    tofu_status st = tofu_msg_status(*m);
    tc_session_put(&c->s, m);
    if (timed_out) {
        fprintf(stderr, "tofucat: timeout: Request %llu got no answer within %llu ms\n",
                (unsigned long long)id, (unsigned long long)c->opt->timeout_ms);
        return TC_EXIT_TIMEOUT;
    }
    client__until_closed(c, deadline_ms);
    char detail[96];
    snprintf(detail, sizeof detail, "Request %llu got no answer (the connection closed)",
             (unsigned long long)id);
    return client__fail(c->closed ? c->close_reason : st, detail);
}

/* How long a Request may wait here: the engine answers it at its deadline
 * (tofu_msg_set_timeout), so the local wait only backs that up. */
#define CLIENT__BACKSTOP_MS 1000u

/* Waits for the answer (opcode op, message id id) on our channel. An
 * engine-made answer with an error status (a failed connect; a Request
 * unanswered) is a failure naming that status. */
static int client__await(client *c, tofu_opcode op, uint64_t id, const char *what) {
    uint64_t deadline = tc_now_ms() + c->opt->timeout_ms;
    if (op == TOFU_OP_RESPONSE)
        deadline += CLIENT__BACKSTOP_MS;
    if (op == TOFU_OP_HELLO_RESPONSE) /* the engine may retry that long first */
        deadline += c->opt->retry_ms;
    for (;;) {
        int rc = TC_EXIT_OK;
        tofu_msg *m = client__next(c, deadline, what, &rc);
        if (m == NULL)
            return rc;
        bool answer = tofu_msg_opcode(m) == op && tofu_msg_id(m) == id &&
                      tofu_msg_channel(m) == c->ch && !tofu_msg_late(m);
        if (!answer) {
            rc = client__other(c, m);
            if (rc != TC_EXIT_OK)
                return rc;
            if (c->closed)
                return client__closed_early(c);
            continue;
        }
        tofu_status st = tofu_msg_status(m);
        bool failed = tofu_msg_from_engine(m) && st != TOFU_SUCCESS;
        if (failed && op == TOFU_OP_RESPONSE)
            return client__unanswered(c, &m, deadline);
        char os_error[TC_ERROR_CAP];
        tc_msg_error(m, os_error, sizeof os_error);
        tc_session_put(&c->s, &m);
        if (failed) { /* a connect that failed: what the system said, and a hint */
            tc_report_failure(st, c->opt->address_text, os_error, c->opt->address_text);
            return TC_EXIT_FAILURE;
        }
        return TC_EXIT_OK;
    }
}

/* Handles whatever already arrived, without waiting (--signal mode). */
static int client__drain(client *c) {
    tofu_status st;
    tofu_msg *m;
    while ((m = tc_session_next(&c->s, 0, &st)) != NULL) {
        tc_print_msg(c->opt, m);
        int rc = client__other(c, m);
        if (rc != TC_EXIT_OK)
            return rc;
    }
    return st == TOFU_SUCCESS ? TC_EXIT_OK : client__fail(st, "the engine stopped");
}

/* A post to our channel fails with channel_closed once the channel
 * closed; its close Signal, already queued, tells why. */
static int client__post_failed(client *c, tofu_status st, const char *what) {
    int rc = st == TOFU_CHANNEL_CLOSED ? client__drain(c) : TC_EXIT_OK;
    if (rc == TC_EXIT_OK && c->closed)
        return client__closed_early(c);
    return rc != TC_EXIT_OK ? rc : client__fail(st, what);
}

/* ---- hello ---- */

static int client__hello(client *c) {
    tofu_msg *m = tc_session_msg(&c->s);
    tofu_status st = m == NULL ? TOFU_ALLOCATION_FAILED : tofu_msg_connect(m, &c->opt->address);
    for (size_t i = 0; st == TOFU_SUCCESS && i < c->opt->nheaders; i++)
        st = tc_add_header_arg(m, c->opt->headers[i]);
    if (st == TOFU_SUCCESS && c->opt->retry_ms != 0)
        tofu_msg_set_connect_retry(m, (uint32_t)c->opt->retry_ms);
    tofu_bhdr h;
    if (st == TOFU_SUCCESS)
        st = tc_session_post(&c->s, &m, &h);
    else
        tc_session_put(&c->s, &m);
    if (st != TOFU_SUCCESS)
        return client__fail(st, "cannot post the HelloRequest");
    c->ch = h.channel;
    return client__await(c, TOFU_OP_HELLO_RESPONSE, h.message_id, "HelloResponse");
}

/* ---- data ---- */

static int client__send(client *c, const payload *p) {
    if (c->closed)
        return client__closed_early(c);
    tofu_msg *m = tc_session_msg(&c->s);
    if (m == NULL)
        return client__fail(TOFU_ALLOCATION_FAILED, NULL);
    tofu_msg_set_opcode(m, c->opt->signal ? TOFU_OP_SIGNAL : TOFU_OP_REQUEST);
    tofu_msg_set_channel(m, c->ch);
    tofu_msg_bhdr(m)->more = p->more;
    /* The parts of one file are one Request: they share its id, and so
     * do the parts of its answer (the last one has `more` clear). */
    tofu_msg_set_id(m, c->stream_id);
    if (!c->opt->signal) /* --timeout is each Request's deadline */
        tofu_msg_set_timeout(m, c->opt->timeout_ms < TOFU_TIMEOUT_NONE
                                    ? (uint32_t)c->opt->timeout_ms
                                    : TOFU_TIMEOUT_NONE - 1);
    tofu_status st = tofu_msg_append_body(m, p->data, p->len);
    for (size_t i = 0; st == TOFU_SUCCESS && i < c->opt->ndata_headers; i++)
        st = tc_add_header_arg(m, c->opt->data_headers[i]);
    tofu_bhdr h;
    if (st == TOFU_SUCCESS)
        st = tc_session_post(&c->s, &m, &h);
    else
        tc_session_put(&c->s, &m);
    if (st != TOFU_SUCCESS)
        return client__post_failed(c, st,
                                   c->opt->signal ? "cannot send a Signal" : "cannot send a Request");
    c->stream_id = p->more ? h.message_id : 0;
    if (c->opt->signal)
        return client__drain(c);
    return client__await(c, TOFU_OP_RESPONSE, h.message_id, "Response");
}

static int client__send_list(client *c, const payload *list, size_t n) {
    for (uint64_t round = 0; round < c->opt->count; round++) {
        for (size_t i = 0; i < n; i++) {
            int rc = client__send(c, &list[i]);
            if (rc != TC_EXIT_OK)
                return rc;
        }
    }
    return TC_EXIT_OK;
}

/* Splits the file into parts of at most TOFU_MAX_PART_LEN bytes (the body
 * limit); every part but the last is marked `more`. An empty file is one
 * empty message. */
static size_t client__file_parts(const unsigned char *data, size_t len, payload *out) {
    size_t n = 0, off = 0;
    do {
        size_t part = len - off < TOFU_MAX_PART_LEN ? len - off : TOFU_MAX_PART_LEN;
        out[n].data = data + off;
        out[n].len = part;
        off += part;
        out[n].more = off < len;
        n++;
    } while (off < len);
    return n;
}

/* --file is read before connecting: a file that cannot be read is told
 * at once, not after a connection was made for nothing. */
static int client__read_file(client *c) {
    const char *why = NULL;
    if (c->opt->file != NULL && !tc_read_file(c->opt->file, &c->file, &c->file_len, &why)) {
        fprintf(stderr, "tofucat: cannot read %s: %s\n", c->opt->file, why);
        return TC_EXIT_FAILURE;
    }
    return TC_EXIT_OK;
}

/* The --data strings, then the parts of --file, sent --count times. */
static int client__send_arguments(client *c) {
    size_t max = c->opt->ndata + (c->file != NULL ? c->file_len / TOFU_MAX_PART_LEN + 1 : 0);
    payload *list = calloc(max + 1, sizeof *list);
    if (list == NULL)
        return client__fail(TOFU_ALLOCATION_FAILED, NULL);
    size_t n = 0;
    for (; n < c->opt->ndata; n++) {
        list[n].data = (const unsigned char *)c->opt->data[n];
        list[n].len = strlen(c->opt->data[n]);
    }
    if (c->file != NULL)
        n += client__file_parts(c->file, c->file_len, list + n);
    int rc = client__send_list(c, list, n);
    free(list);
    return rc;
}

/* ---- standard input ----
 *
 * Lines are read by a thread of their own and handed to the main thread
 * through the group (tofu_update_receiver), so that the main thread waits
 * for the next line and for the peer at once: a peer that closes is seen
 * at once, not when the next line comes. The reader reads a line only when
 * the main thread is ready for it (the gate): one line at a time, in
 * order, each sent and answered before the next is read. */

/* What a message from the reader carries, in its user pointer. */
static char client__stdin_line;
static char client__stdin_end;

/* Shared by the main thread and the reader; the last of the two to be done
 * with it frees it (the reader may stay blocked in a read until exit). */
typedef struct stdin_reader {
    tc_session *s;
    tc_gate *gate;
    atomic_int users;
} stdin_reader;

static void client__reader_done(stdin_reader *r) {
    if (atomic_fetch_sub(&r->users, 1) == 1) {
        tc_gate_destroy(r->gate);
        free(r);
    }
}

/* Hands a line (or the end of the input) to the main thread; nothing once
 * the main thread is done with the engine (the gate is closed). */
static void client__forward(stdin_reader *r, const char *line, size_t len, void *kind) {
    if (!tc_gate_hold(r->gate))
        return;
    tofu_msg *m = tc_session_msg(r->s);
    if (m == NULL) {
        tc_gate_release(r->gate);
        return;
    }
    if (line != NULL && tofu_msg_append_body(m, line, len) != TOFU_SUCCESS)
        kind = &client__stdin_end; /* a line too long for one body ends the input */
    tofu_msg_set_user(m, kind);
    if (tofu_update_receiver(r->s->g, &m) != TOFU_SUCCESS)
        tc_session_put(r->s, &m);
    tc_gate_release(r->gate);
}

static void client__read_stdin(void *arg) {
    stdin_reader *r = arg;
    char *line = NULL;
    size_t cap = 0, len = 0;
    while (tc_gate_pass(r->gate) && tc_read_line(stdin, &line, &cap, &len))
        client__forward(r, line, len, &client__stdin_line);
    client__forward(r, NULL, 0, &client__stdin_end);
    free(line);
    client__reader_done(r);
}

/* Waits for the next line of standard input (NULL at its end), handling
 * what the peer sends meanwhile; a stop signal or our channel's close ends
 * the wait with *rc set. */
static tofu_msg *client__next_line(client *c, int *rc) {
    for (;;) {
        tofu_status st = TOFU_SUCCESS;
        tofu_msg *m = tc_session_next(&c->s, 100, &st);
        if (st != TOFU_SUCCESS) {
            *rc = client__fail(st, "the engine stopped");
            return NULL;
        }
        if (tc_stop_requests() > 0) { /* interrupted: close as at the end of input */
            tc_session_put(&c->s, &m);
            return NULL;
        }
        if (m == NULL)
            continue;
        void *kind = tofu_msg_user(m);
        if (kind == &client__stdin_line)
            return m;
        if (kind == &client__stdin_end) {
            tc_session_put(&c->s, &m);
            return NULL;
        }
        tc_print_msg(c->opt, m);
        *rc = client__other(c, m);
        if (*rc == TC_EXIT_OK && c->closed)
            *rc = client__closed_early(c);
        if (*rc != TC_EXIT_OK)
            return NULL;
    }
}

/* Each line of standard input, as soon as it is read, --count times. */
static int client__send_stdin(client *c) {
    stdin_reader *r = calloc(1, sizeof *r);
    tc_gate *gate = tc_gate_create();
    if (r == NULL || gate == NULL) {
        free(r);
        if (gate != NULL)
            tc_gate_destroy(gate);
        return client__fail(TOFU_ALLOCATION_FAILED, "cannot start reading standard input");
    }
    r->s = &c->s;
    r->gate = gate;
    atomic_init(&r->users, 2);
    if (!tc_thread_start_detached(client__read_stdin, r)) {
        tc_gate_destroy(gate);
        free(r);
        return client__fail(TOFU_ALLOCATION_FAILED, "cannot start reading standard input");
    }
    int rc = TC_EXIT_OK;
    tc_gate_open(gate);
    tofu_msg *m;
    while ((m = client__next_line(c, &rc)) != NULL) {
        size_t len = 0;
        const void *body = tofu_msg_body(m, &len);
        payload p = {body, len, false};
        rc = client__send_list(c, &p, 1);
        tc_session_put(&c->s, &m);
        if (rc != TC_EXIT_OK)
            break;
        tc_gate_open(gate);
    }
    tc_gate_close(gate); /* the reader touches the engine no more */
    client__reader_done(r);
    return rc;
}

/* ---- bye ---- */

/* The peer said it sends nothing more (its ByeSignal): after our own
 * ByeSignal nothing is left to say either way, so the channel is reset
 * (bit 6) instead of waiting for the linger bound. */
static void client__abort(client *c, tofu_msg **m) {
    tofu_msg_set_opcode(*m, TOFU_OP_BYE_SIGNAL);
    tofu_msg_set_channel(*m, c->ch);
    tofu_msg_bhdr(*m)->internal_a = true;
    tc_session_post(&c->s, m, NULL); /* on failure the caller puts it */
}

/* Waits for our channel's close Signal; a graceful end has the reason
 * channel_closed. Our own posts that come back meanwhile (a ByeRequest
 * that crossed the server's, the messages an abort discarded) are
 * expected. */
static int client__await_close(client *c, const char *what) {
    uint64_t deadline = tc_now_ms() + c->opt->timeout_ms;
    for (;;) {
        int rc = TC_EXIT_OK;
        tofu_msg *m = client__next(c, deadline, what, &rc);
        if (m == NULL)
            return rc;
        bool closed = tc_is_close_signal(m) && tofu_msg_channel(m) == c->ch;
        tofu_status reason = closed ? tc_msg_reason(m, TOFU_CHANNEL_CLOSED) : TOFU_SUCCESS;
        if (!tofu_msg_from_engine(m) && tofu_msg_opcode(m) == TOFU_OP_BYE_REQUEST)
            client__answer_bye(c, &m);
        else if (c->opt->bye_signal && !tofu_msg_from_engine(m) &&
                 tofu_msg_opcode(m) == TOFU_OP_BYE_SIGNAL)
            client__abort(c, &m);
        tc_session_put(&c->s, &m);
        if (closed)
            return reason == TOFU_CHANNEL_CLOSED ? TC_EXIT_OK
                                                 : client__fail(reason, "the connection closed");
    }
}

static int client__bye(client *c) {
    if (c->closed) /* the server said bye after our last payload: fine */
        return c->close_reason == TOFU_CHANNEL_CLOSED ? TC_EXIT_OK : client__closed_early(c);
    tofu_msg *m = tc_session_msg(&c->s);
    if (m == NULL)
        return client__fail(TOFU_ALLOCATION_FAILED, NULL);
    bool abort = c->opt->abort;
    bool bye_request = !abort && !c->opt->bye_signal;
    if (!abort && c->peer_said_bye) { /* the server already closed: just wait */
        tc_session_put(&c->s, &m);
        return client__await_close(c, "end of the connection");
    }
    tofu_msg_set_opcode(m, bye_request ? TOFU_OP_BYE_REQUEST : TOFU_OP_BYE_SIGNAL);
    tofu_msg_set_channel(m, c->ch);
    tofu_msg_bhdr(m)->internal_a = abort; /* bit 6: "abort" */
    tofu_status st = tc_session_post(&c->s, &m, NULL);
    if (st != TOFU_SUCCESS)
        return client__post_failed(c, st,
                                   bye_request ? "cannot post the ByeRequest" : "cannot post the ByeSignal");
    return client__await_close(c, bye_request ? "ByeResponse" : "end of the connection");
}

/* ---- the session ---- */

static int client__run(client *c) {
    int rc = client__read_file(c);
    if (rc == TC_EXIT_OK)
        rc = client__hello(c);
    if (rc != TC_EXIT_OK)
        return rc;
    bool from_arguments = c->opt->ndata > 0 || c->opt->file != NULL;
    rc = from_arguments ? client__send_arguments(c) : client__send_stdin(c);
    if (rc != TC_EXIT_OK)
        return rc;
    return client__bye(c);
}

int tc_connect(const tc_options *opt) {
    client c;
    memset(&c, 0, sizeof c);
    c.opt = opt;
    if (tc_session_open(&c.s, true) != TOFU_SUCCESS)
        return TC_EXIT_FAILURE;
    int rc = client__run(&c);
    tc_session_close(&c.s);
    free(c.file);
    return rc;
}
