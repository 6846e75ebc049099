/*
 * Request/response with correlation ids: the client sends several Requests
 * without waiting, the server answers them in a different order, and the
 * client matches each Response to its Request by message id.
 *
 * tofu_post assigns a fresh id to every message posted with id 0 and
 * returns it in the header (tofu_bhdr.message_id). A server answers by
 * posting a Response with the same id; that id is the only link between
 * the two. Ids come from one process-wide counter, so they never repeat
 * within a process.
 *
 * Client and server share one engine here (two groups); the server runs on
 * its own thread. Exits 0 when every Response matched its Request.
 */
#include <stdio.h>
#include <string.h>

#include "support.h"
#include "tofu.h"

#define QUESTIONS 8

/* ---- the server: collects a batch, answers it backwards ---- */

typedef struct server {
    tofu_engine *e;
    tofu_group *g;
    char address[300];
} server;

/* Answers Request q with "answer to <q's body>" and the same id. */
static void answer(server *s, tofu_msg *q) {
    char text[128];
    size_t len = 0;
    const char *body = tofu_msg_body(q, &len);
    int n = snprintf(text, sizeof text, "answer to %.*s", (int)len, body);
    tofu_msg_clear_body(q);
    tofu_msg_append_body(q, text, (size_t)n);
    tofu_msg_set_opcode(q, TOFU_OP_RESPONSE); /* same channel, same id */
    ex_check(tofu_post(s->g, &q, NULL), "post Response");
}

static void server_thread(void *arg) {
    server *s = arg;
    tofu_msg *batch[QUESTIONS];
    size_t held = 0;
    for (;;) {
        tofu_msg *m = ex_wait(s->g);
        tofu_opcode op = tofu_msg_opcode(m);
        if (tofu_msg_from_engine(m)) { /* the close Signal ends the session */
            bool closed = tofu_msg_status(m) == TOFU_CHANNEL_CLOSED;
            tofu_put(s->e, &m);
            if (closed)
                return;
            continue;
        }
        if (op == TOFU_OP_REQUEST) {
            batch[held++] = m; /* keep it: answered later, out of order */
            if (held == QUESTIONS)
                while (held > 0)
                    answer(s, batch[--held]);
            continue;
        }
        tofu_opcode reply; /* HelloRequest, ByeRequest */
        if (tofu_op_echo(op, &reply) == TOFU_SUCCESS) {
            tofu_msg_set_opcode(m, reply);
            ex_check(tofu_post(s->g, &m, NULL), "post reply");
        }
        tofu_put(s->e, &m);
    }
}

/* ---- the client ---- */

typedef struct pending {
    uint64_t id; /* 0 once answered */
    char question[32];
} pending;

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

/* Posts one Request and remembers its id. */
static void ask(tofu_engine *e, tofu_group *g, uint16_t ch, pending *p, int i) {
    snprintf(p->question, sizeof p->question, "question %d", i);
    tofu_msg *m = tofu_get(e, TOFU_ALWAYS);
    tofu_msg_set_opcode(m, TOFU_OP_REQUEST);
    tofu_msg_set_channel(m, ch);
    ex_check(tofu_msg_append_body(m, p->question, strlen(p->question)), "body");
    tofu_bhdr h;
    ex_check(tofu_post(g, &m, &h), "post Request");
    p->id = h.message_id; /* the correlation id */
}

/* Finds the pending Request a Response answers; checks its body. */
static bool match(pending *table, tofu_msg *r) {
    for (int i = 0; i < QUESTIONS; i++) {
        if (table[i].id == 0 || table[i].id != tofu_msg_id(r))
            continue;
        char want[64];
        size_t len = 0;
        const char *body = tofu_msg_body(r, &len);
        int n = snprintf(want, sizeof want, "answer to %s", table[i].question);
        printf("request_response: id %llu -> \"%.*s\"\n", (unsigned long long)table[i].id,
               (int)len, body);
        table[i].id = 0;
        return len == (size_t)n && memcmp(body, want, len) == 0;
    }
    return false; /* an id we never sent, or answered twice */
}

static void bye(tofu_engine *e, tofu_group *g, uint16_t ch) {
    tofu_msg *m = tofu_get(e, TOFU_ALWAYS);
    tofu_msg_set_opcode(m, TOFU_OP_BYE_REQUEST);
    tofu_msg_set_channel(m, ch);
    ex_check(tofu_post(g, &m, NULL), "post ByeRequest");
    for (int i = 0; i < 2; i++) { /* ByeResponse, then the close Signal */
        m = ex_wait(g);
        tofu_put(e, &m);
    }
}

int main(void) {
    server s;
    ex_thread thread;
    tofu_group *cg = NULL;
    ex_check(tofu_engine_create(NULL, &s.e), "engine_create");
    ex_check(tofu_group_create(s.e, &s.g), "group_create");
    ex_check(tofu_group_create(s.e, &cg), "group_create");
    ex_listen(s.e, s.g, "tcp|127.0.0.1|0", s.address, sizeof s.address);
    ex_thread_start(&thread, server_thread, &s);

    uint16_t ch = connect_to(s.e, cg, s.address);
    pending table[QUESTIONS];
    for (int i = 0; i < QUESTIONS; i++) /* all at once: no waiting */
        ask(s.e, cg, ch, &table[i], i);
    int matched = 0;
    for (int i = 0; i < QUESTIONS; i++) {
        tofu_msg *r = ex_wait(cg);
        if (tofu_msg_opcode(r) == TOFU_OP_RESPONSE && match(table, r))
            matched++;
        tofu_put(s.e, &r);
    }
    bye(s.e, cg, ch);

    ex_thread_join(&thread);
    tofu_group_destroy(s.e, cg);
    tofu_group_destroy(s.e, s.g);
    tofu_engine_destroy(s.e);
    printf("request_response: %d of %d Responses matched their Request\n", matched, QUESTIONS);
    return matched == QUESTIONS ? 0 : 1;
}
