/*
 * Backpressure: what happens when a receiver cannot keep up, and how an
 * application handles it.
 *
 * Every message the engine receives needs a message from the engine's
 * pool. A receiver that holds on to messages (it queued work and has not
 * finished it) eventually empties its pool. The engine then stops reading
 * that channel - the data waits in the kernel, and TCP slows the sender
 * down - and tells the group once with a pool_empty Signal (origin engine).
 * Nothing is lost: as soon as messages are put back, reading resumes.
 *
 * The server here has a pool of 4 messages and is "slow": it keeps every
 * Request until the engine says pool_empty, then works off everything it
 * holds at once (answering returns the messages to the pool). The client
 * limits itself to WINDOW Requests in flight, the sender-side half of flow
 * control: it never posts faster than answers come back.
 *
 * Exits 0 when every Request got its Response, in order, and the server
 * saw at least one pool_empty Signal.
 */
#include <stdio.h>
#include <string.h>

#include "support.h"
#include "tofu.h"

#define REQUESTS 200
#define WINDOW 32
#define SERVER_POOL 4
#define IDLE_MS 50

typedef struct server {
    tofu_engine *e;
    tofu_group *g;
    char address[300];
    tofu_msg *held[REQUESTS];
    size_t nheld;
    int pool_empty_signals;
    size_t largest_batch;
} server;

/* Answers every held Request, oldest first: posting hands each message
 * back to the engine, which returns it to the pool once it is sent. */
static void work_off(server *s) {
    if (s->nheld > s->largest_batch)
        s->largest_batch = s->nheld;
    for (size_t i = 0; i < s->nheld; i++) {
        tofu_msg_set_opcode(s->held[i], TOFU_OP_RESPONSE);
        ex_check(tofu_post(s->g, &s->held[i], NULL), "post Response");
    }
    s->nheld = 0;
}

/* Returns false when the session is over. */
static bool server_handle(server *s, tofu_msg *m) {
    tofu_opcode op = tofu_msg_opcode(m), reply;
    if (tofu_msg_from_engine(m)) {
        bool closed = tofu_msg_status(m) == TOFU_CHANNEL_CLOSED;
        if (tofu_msg_status(m) == TOFU_POOL_EMPTY) {
            s->pool_empty_signals++;
            work_off(s); /* the engine is waiting for us: catch up */
        }
        tofu_put(s->e, &m);
        return !closed;
    }
    if (op == TOFU_OP_REQUEST) {
        s->held[s->nheld++] = m; /* queued work, not answered yet */
        return true;
    }
    if (tofu_op_echo(op, &reply) == TOFU_SUCCESS) {
        tofu_msg_set_opcode(m, reply); /* HelloResponse, ByeResponse */
        ex_check(tofu_post(s->g, &m, NULL), "post reply");
    }
    tofu_put(s->e, &m);
    return true;
}

static void server_thread(void *arg) {
    server *s = arg;
    for (;;) {
        tofu_msg *m = NULL;
        ex_check(tofu_wait_receive(s->g, IDLE_MS * 1000000ull, &m), "wait_receive");
        if (m == NULL) { /* quiet for a while: finish what is held */
            work_off(s);
            continue;
        }
        if (!server_handle(s, m))
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

/* The message is taken from the pool, waiting for one to come back when all
 * are out (the engine puts each back once it is written): the pool bounds
 * what this client has in flight, with no polling and no sleeping. */
static void send_request(tofu_engine *e, tofu_group *g, uint16_t ch, int seq) {
    tofu_msg *m = NULL;
    ex_check(tofu_get_wait(e, TOFU_WAIT_INFINITE, &m), "get_wait");
    tofu_msg_set_opcode(m, TOFU_OP_REQUEST);
    tofu_msg_set_channel(m, ch);
    ex_check(tofu_msg_append_body(m, &seq, sizeof seq), "append_body");
    ex_check(tofu_post(g, &m, NULL), "post Request");
}

/* Waits for the next Response; true when it carries sequence `seq`. The
 * client's own engine may run short of pool messages for a moment too (it
 * receives the Responses into them while this thread holds some): its
 * pool_empty Signal is only news, and is put back. */
static bool receive_response(tofu_engine *e, tofu_group *g, int seq) {
    tofu_msg *m = ex_wait(g);
    while (tofu_msg_opcode(m) == TOFU_OP_SIGNAL && tofu_msg_status(m) == TOFU_POOL_EMPTY) {
        tofu_put(e, &m);
        m = ex_wait(g);
    }
    int got = -1;
    size_t len = 0;
    const void *body = tofu_msg_body(m, &len);
    if (tofu_msg_opcode(m) == TOFU_OP_RESPONSE && len == sizeof got)
        memcpy(&got, body, sizeof got);
    tofu_put(e, &m);
    return got == seq;
}

/* Keeps at most WINDOW Requests in flight. */
static int run_client(tofu_engine *e, tofu_group *g, uint16_t ch) {
    int sent = 0, answered = 0, in_order = 0;
    while (answered < REQUESTS) {
        while (sent < REQUESTS && sent - answered < WINDOW)
            send_request(e, g, ch, sent++);
        in_order += receive_response(e, g, answered++);
    }
    return in_order;
}

int main(void) {
    server s = {0};
    ex_thread thread;
    tofu_engine *ce = NULL;
    tofu_group *cg = NULL;
    tofu_options small;
    tofu_options_init(&small);
    small.initial_pool_msgs = SERVER_POOL;
    small.max_pool_msgs = SERVER_POOL;
    ex_check(tofu_engine_create(&small, &s.e), "engine_create (server)");
    ex_check(tofu_group_create(s.e, &s.g), "group_create");
    ex_listen(s.e, s.g, "tcp|127.0.0.1|0", s.address, sizeof s.address);
    ex_thread_start(&thread, server_thread, &s);

    ex_check(tofu_engine_create(NULL, &ce), "engine_create (client)");
    ex_check(tofu_group_create(ce, &cg), "group_create");
    uint16_t ch = connect_to(ce, cg, s.address);
    int in_order = run_client(ce, cg, ch);

    tofu_msg *m = tofu_get(ce, TOFU_ALWAYS);
    tofu_msg_set_opcode(m, TOFU_OP_BYE_REQUEST);
    tofu_msg_set_channel(m, ch);
    ex_check(tofu_post(cg, &m, NULL), "post ByeRequest");
    for (int i = 0; i < 2; i++) { /* ByeResponse, then the close Signal */
        m = ex_wait(cg);
        tofu_put(ce, &m);
    }
    ex_thread_join(&thread);
    tofu_group_destroy(ce, cg);
    tofu_engine_destroy(ce);
    tofu_group_destroy(s.e, s.g);
    tofu_engine_destroy(s.e);

    printf("backpressure: %d/%d Responses in order; server: %d pool_empty Signals, "
           "largest batch %zu\n",
           in_order, REQUESTS, s.pool_empty_signals, s.largest_batch);
    return in_order == REQUESTS && s.pool_empty_signals > 0 ? 0 : 1;
}
