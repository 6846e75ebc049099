/*
 * Closing a channel: gracefully, and by aborting.
 *
 * Graceful: post a ByeRequest. Everything posted before it reaches the
 * peer first, so the client does not need to wait for its last Responses
 * before saying bye. The peer answers with a ByeResponse; both sides then
 * receive the engine's close Signal (status channel_closed, header
 * ~reason: channel_closed).
 *
 * Abort: post a ByeSignal with bit 6 (internal_a) set. It is never sent: the engine resets the
 * connection at once and hands back, with status channel_closed, the
 * ByeSignal and every message that was not written to the socket yet, so
 * the application knows exactly what did not leave. (What was written may
 * still be lost: a reset discards data the peer had not read yet. Use the
 * graceful close when everything must arrive.) The peer sees its channel
 * close with a reason such as communication_failed (a reset).
 *
 * (A ByeSignal without bit 6 is different: it is sent like a Signal, after
 * everything posted before it, and nothing is sent after it; the channel
 * closes when the peer closes. That is how the original tofu's
 * applications say "I am done" one way.)
 *
 * Exits 0 when both closes behave as described.
 */
#include <stdio.h>
#include <string.h>

#include "support.h"
#include "tofu.h"

#define BEFORE_BYE 3
#define BEFORE_ABORT 2000

typedef struct server {
    tofu_engine *e;
    tofu_group *g;
    char address[300];
    int signals;         /* Signals received */
    int requests;        /* Requests answered */
    int closes;          /* close Signals of connections */
    char last_reason[32];
} server;

static void note_close(server *s, const tofu_msg *m) {
    tofu_header h;
    s->closes++;
    if (tofu_msg_find_header(m, TOFU_HDR_REASON, &h) && h.value_len < sizeof s->last_reason) {
        memcpy(s->last_reason, h.value, h.value_len);
        s->last_reason[h.value_len] = '\0';
    }
}

/* Answers Hello, Request and ByeRequest; counts Signals; stops after the
 * second connection closed. */
static void server_thread(void *arg) {
    server *s = arg;
    while (s->closes < 2) {
        tofu_msg *m = ex_wait(s->g);
        tofu_opcode op = tofu_msg_opcode(m), reply;
        if (tofu_msg_from_engine(m) && tofu_msg_status(m) == TOFU_CHANNEL_CLOSED)
            note_close(s, m);
        else if (!tofu_msg_from_engine(m) && op == TOFU_OP_SIGNAL)
            s->signals++;
        else if (!tofu_msg_from_engine(m) && tofu_op_echo(op, &reply) == TOFU_SUCCESS) {
            s->requests += op == TOFU_OP_REQUEST;
            tofu_msg_set_opcode(m, reply);
            ex_check(tofu_post(s->g, &m, NULL), "post reply");
        }
        tofu_put(s->e, &m);
    }
}

/* ---- the client ---- */

static uint16_t connect_to(tofu_engine *e, tofu_group *g, const char *address) {
    tofu_address a;
    tofu_bhdr h;
    ex_check(tofu_address_parse(address, strlen(address), &a), "address");
    tofu_msg *m = tofu_get(e, TOFU_ALWAYS);
    ex_check(tofu_msg_connect(m, &a), "HelloRequest");
    ex_check(tofu_post(g, &m, &h), "post HelloRequest");
    m = ex_wait(g);
    ex_check(tofu_msg_status(m), "connect");
    tofu_put(e, &m);
    return h.channel;
}

static void post_op(tofu_engine *e, tofu_group *g, uint16_t ch, tofu_opcode op) {
    tofu_msg *m = tofu_get(e, TOFU_ALWAYS);
    tofu_msg_set_opcode(m, op);
    tofu_msg_set_channel(m, ch);
    ex_check(tofu_post(g, &m, NULL), tofu_op_name(op));
}

/* The abortive close: a ByeSignal with bit 6, never transmitted. */
static void post_abort(tofu_engine *e, tofu_group *g, uint16_t ch) {
    tofu_msg *m = tofu_get(e, TOFU_ALWAYS);
    tofu_msg_set_opcode(m, TOFU_OP_BYE_SIGNAL);
    tofu_msg_set_channel(m, ch);
    tofu_msg_bhdr(m)->internal_a = true;
    ex_check(tofu_post(g, &m, NULL), "ByeSignal");
}

/* Three Requests and the ByeRequest at once, then read until closed. */
static bool graceful(tofu_engine *e, tofu_group *g, const char *address) {
    uint16_t ch = connect_to(e, g, address);
    for (int i = 0; i < BEFORE_BYE; i++)
        post_op(e, g, ch, TOFU_OP_REQUEST);
    post_op(e, g, ch, TOFU_OP_BYE_REQUEST);
    int responses = 0, responses_before_bye = -1;
    tofu_status reason = TOFU_UNKNOWN_ERROR;
    for (bool open = true; open;) {
        tofu_msg *m = ex_wait(g);
        tofu_header h;
        if (tofu_msg_opcode(m) == TOFU_OP_RESPONSE)
            responses++;
        if (tofu_msg_opcode(m) == TOFU_OP_BYE_RESPONSE)
            responses_before_bye = responses;
        open = !(tofu_msg_from_engine(m) && tofu_msg_opcode(m) == TOFU_OP_SIGNAL);
        if (!open && tofu_msg_find_header(m, TOFU_HDR_REASON, &h) && h.value_len < 32) {
            char name[32];
            memcpy(name, h.value, h.value_len);
            name[h.value_len] = '\0';
            tofu_status_from_name(name, &reason);
        }
        tofu_put(e, &m);
    }
    printf("graceful_close: %d Responses, then the ByeResponse, then the close Signal "
           "(~reason %s)\n",
           responses_before_bye, tofu_status_name(reason));
    /* Everything posted before the ByeRequest was answered before it. */
    return responses_before_bye == BEFORE_BYE && reason == TOFU_CHANNEL_CLOSED;
}

/* Many Signals and a ByeSignal at once. Returns how many Signals came
 * back unsent; *bye_back tells whether the ByeSignal came back too. */
static int aborted(tofu_engine *e, tofu_group *g, const char *address, bool *bye_back) {
    uint16_t ch = connect_to(e, g, address);
    for (int i = 0; i < BEFORE_ABORT; i++)
        post_op(e, g, ch, TOFU_OP_SIGNAL);
    post_abort(e, g, ch);
    int returned = 0;
    *bye_back = false;
    for (bool open = true; open;) {
        tofu_msg *m = ex_wait(g);
        bool engine = tofu_msg_from_engine(m);
        bool closing_signal = tofu_msg_find_header(m, TOFU_HDR_REASON, NULL);
        if (engine && tofu_msg_status(m) == TOFU_CHANNEL_CLOSED && !closing_signal) {
            returned += tofu_msg_opcode(m) == TOFU_OP_SIGNAL;
            *bye_back = *bye_back || tofu_msg_opcode(m) == TOFU_OP_BYE_SIGNAL;
        }
        open = !(engine && closing_signal); /* the close Signal has a ~reason */
        tofu_put(e, &m);
    }
    return returned;
}

int main(void) {
    server s = {0};
    ex_thread thread;
    tofu_engine *ce = NULL;
    tofu_group *cg = NULL;
    ex_check(tofu_engine_create(NULL, &s.e), "engine_create");
    ex_check(tofu_group_create(s.e, &s.g), "group_create");
    ex_listen(s.e, s.g, "tcp|127.0.0.1|0", s.address, sizeof s.address);
    ex_thread_start(&thread, server_thread, &s);
    ex_check(tofu_engine_create(NULL, &ce), "engine_create");
    ex_check(tofu_group_create(ce, &cg), "group_create");

    bool graceful_ok = graceful(ce, cg, s.address);
    bool bye_back = false;
    int returned = aborted(ce, cg, s.address, &bye_back);
    ex_thread_join(&thread); /* both connections closed on the server too */

    tofu_group_destroy(ce, cg);
    tofu_engine_destroy(ce);
    tofu_group_destroy(s.e, s.g);
    tofu_engine_destroy(s.e);

    printf("graceful_close: abort: of %d Signals, %d were handed back unsent and %d reached "
           "the server; its channel closed with ~reason %s\n",
           BEFORE_ABORT, returned, s.signals, s.last_reason);
    bool ok = graceful_ok && s.requests == BEFORE_BYE && bye_back &&
              s.signals + returned <= BEFORE_ABORT && s.closes == 2;
    return ok ? 0 : 1;
}
