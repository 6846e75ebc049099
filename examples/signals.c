/*
 * Signals: one-way messages that are never answered. Here the server uses
 * them to report progress on a long Request before it sends the Response,
 * and the client uses one to say "I am still here" without expecting
 * anything back.
 *
 * A Signal needs no reply and gets none from the engine either. It carries
 * a message id like any message; by posting the progress Signals with the
 * Request's id, the server tells the client which Request they are about.
 * On one channel they arrive in order, so every progress Signal of a
 * Request arrives before its Response.
 *
 * Exits 0 when the client saw all progress steps, in order, then the
 * Response.
 */
#include <stdio.h>
#include <string.h>

#include "support.h"
#include "tofu.h"

#define STEPS 5

typedef struct server {
    tofu_engine *e;
    tofu_group *g;
    char address[300];
    int heartbeats; /* Signals received from the client */
} server;

/* Posts a progress Signal "progress: <percent>" for the Request. */
static void progress(server *s, const tofu_msg *request, int percent) {
    char value[8];
    snprintf(value, sizeof value, "%d", percent);
    tofu_msg *m = tofu_get(s->e, TOFU_ALWAYS);
    tofu_msg_set_opcode(m, TOFU_OP_SIGNAL);
    tofu_msg_set_channel(m, tofu_msg_channel(request));
    tofu_msg_set_id(m, tofu_msg_id(request)); /* "about that Request" */
    ex_check(tofu_msg_add_header(m, "progress", value), "add_header");
    ex_check(tofu_post(s->g, &m, NULL), "post progress");
}

/* The "long" work: STEPS steps, a progress Signal after each. */
static void work(server *s, tofu_msg **request) {
    for (int step = 1; step <= STEPS; step++) {
        ex_sleep_ms(10);
        progress(s, *request, step * 100 / STEPS);
    }
    tofu_msg_clear_body(*request);
    tofu_msg_append_body(*request, "done", 4);
    tofu_msg_set_opcode(*request, TOFU_OP_RESPONSE);
    ex_check(tofu_post(s->g, request, NULL), "post Response");
}

static void server_thread(void *arg) {
    server *s = arg;
    for (;;) {
        tofu_msg *m = ex_wait(s->g);
        tofu_opcode op = tofu_msg_opcode(m), reply;
        bool closed = tofu_msg_from_engine(m) && tofu_msg_status(m) == TOFU_CHANNEL_CLOSED;
        if (tofu_msg_from_engine(m)) {
            /* nothing to answer */
        } else if (op == TOFU_OP_REQUEST) {
            work(s, &m);
        } else if (op == TOFU_OP_SIGNAL) {
            s->heartbeats++; /* never answered */
        } else if (tofu_op_echo(op, &reply) == TOFU_SUCCESS) {
            tofu_msg_set_opcode(m, reply); /* HelloResponse, ByeResponse */
            ex_check(tofu_post(s->g, &m, NULL), "post reply");
        }
        tofu_put(s->e, &m);
        if (closed)
            return;
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

static uint64_t post_empty(tofu_engine *e, tofu_group *g, uint16_t ch, tofu_opcode op) {
    tofu_msg *m = tofu_get(e, TOFU_ALWAYS);
    tofu_bhdr h;
    tofu_msg_set_opcode(m, op);
    tofu_msg_set_channel(m, ch);
    ex_check(tofu_post(g, &m, &h), tofu_op_name(op));
    return h.message_id;
}

/* A header value is not NUL-terminated: read its digits. */
static int parse_percent(const char *s, size_t n) {
    int v = 0;
    for (size_t i = 0; i < n && s[i] >= '0' && s[i] <= '9'; i++)
        v = v * 10 + (s[i] - '0');
    return v;
}

/* Reads progress Signals until the Response of `id`; returns how many
 * steps arrived in increasing order. */
static int follow(tofu_engine *e, tofu_group *g, uint64_t id) {
    int steps = 0, last = 0;
    for (;;) {
        tofu_msg *m = ex_wait(g);
        bool response = tofu_msg_opcode(m) == TOFU_OP_RESPONSE && tofu_msg_id(m) == id;
        tofu_header h;
        if (tofu_msg_opcode(m) == TOFU_OP_SIGNAL && tofu_msg_id(m) == id &&
            tofu_msg_find_header(m, "progress", &h)) {
            int percent = parse_percent(h.value, h.value_len);
            printf("signals: progress %d%%\n", percent);
            steps += percent > last;
            last = percent;
        }
        tofu_put(e, &m);
        if (response)
            return steps;
    }
}

int main(void) {
    server s = {0};
    ex_thread thread;
    tofu_group *cg = NULL;
    ex_check(tofu_engine_create(NULL, &s.e), "engine_create");
    ex_check(tofu_group_create(s.e, &s.g), "group_create");
    ex_check(tofu_group_create(s.e, &cg), "group_create");
    ex_listen(s.e, s.g, "tcp|127.0.0.1|0", s.address, sizeof s.address);
    ex_thread_start(&thread, server_thread, &s);

    uint16_t ch = connect_to(s.e, cg, s.address);
    post_empty(s.e, cg, ch, TOFU_OP_SIGNAL); /* a heartbeat: no answer */
    uint64_t id = post_empty(s.e, cg, ch, TOFU_OP_REQUEST);
    int steps = follow(s.e, cg, id);
    printf("signals: the Response arrived after %d progress steps\n", steps);

    post_empty(s.e, cg, ch, TOFU_OP_BYE_REQUEST);
    for (int i = 0; i < 2; i++) { /* ByeResponse, then the close Signal */
        tofu_msg *m = ex_wait(cg);
        tofu_put(s.e, &m);
    }
    ex_thread_join(&thread);
    tofu_group_destroy(s.e, cg);
    tofu_group_destroy(s.e, s.g);
    tofu_engine_destroy(s.e);
    bool ok = steps == STEPS && s.heartbeats == 1;
    printf("signals: %s\n", ok ? "done" : "unexpected");
    return ok ? 0 : 1;
}
