/*
 * One demo client: its own group on the shared engine, one connection,
 * `round_trips` Requests each waiting for its Response, then a graceful
 * close. Every Response is checked (same id, same body); anything else
 * counts as an error, and the first error's status is kept for the report.
 */
#include <stdlib.h>
#include <string.h>

#include "demo.h"

typedef struct client_ctx {
    demo_client *c;
    tofu_group *g;
    uint16_t ch;
    unsigned char *body; /* the pattern every Request carries */
} client_ctx;

static void client__error(demo_client *c, tofu_status st) {
    if (c->errors++ == 0)
        c->first_error = st;
}

/* The next message of the client's group, or NULL (an error is counted)
 * when nothing came or the engine is going away. */
static tofu_msg *client__wait(client_ctx *x) {
    tofu_msg *m = NULL;
    tofu_status st = tofu_wait_receive(x->g, DEMO_WAIT_NS, &m);
    if (st != TOFU_SUCCESS || m == NULL) {
        client__error(x->c, st != TOFU_SUCCESS ? st : TOFU_COMMUNICATION_FAILED);
        return NULL;
    }
    return m;
}

/* Waits for the reply with that id; pool_empty Signals are skipped (the
 * engine only says it paused reading). Returns the reply or NULL after
 * counting an error. */
static tofu_msg *client__reply(client_ctx *x, tofu_opcode op, uint64_t id) {
    for (;;) {
        tofu_msg *m = client__wait(x);
        if (m == NULL)
            return NULL;
        if (tofu_msg_from_engine(m) && tofu_msg_status(m) == TOFU_POOL_EMPTY) {
            tofu_put(x->c->e, &m);
            continue;
        }
        if (tofu_msg_opcode(m) == op && tofu_msg_id(m) == id && tofu_msg_status(m) == 0)
            return m;
        client__error(x->c, tofu_msg_status(m) != 0 ? tofu_msg_status(m) : TOFU_INVALID_MESSAGE);
        bool closed = tofu_msg_from_engine(m) && tofu_msg_opcode(m) == TOFU_OP_SIGNAL;
        tofu_put(x->c->e, &m);
        if (closed)
            return NULL;
    }
}

/* Posts a message with that opcode on the channel (body only for data) and
 * returns its id, or 0 after counting an error. */
static uint64_t client__post(client_ctx *x, tofu_opcode op, const void *body, size_t len) {
    tofu_msg *m = tofu_get(x->c->e, TOFU_ALWAYS);
    tofu_bhdr h;
    tofu_status st = m == NULL ? TOFU_ALLOCATION_FAILED : TOFU_SUCCESS;
    if (st == TOFU_SUCCESS) {
        tofu_msg_set_opcode(m, op);
        tofu_msg_set_channel(m, x->ch);
        st = tofu_msg_append_body(m, body, len);
    }
    if (st == TOFU_SUCCESS)
        st = tofu_post(x->g, &m, &h);
    tofu_put(x->c->e, &m);
    if (st != TOFU_SUCCESS) {
        client__error(x->c, st);
        return 0;
    }
    return h.message_id;
}

static bool client__hello(client_ctx *x) {
    tofu_address a;
    tofu_msg *m = tofu_get(x->c->e, TOFU_ALWAYS);
    tofu_status st = tofu_address_parse(x->c->address, strlen(x->c->address), &a);
    if (st == TOFU_SUCCESS)
        st = m == NULL ? TOFU_ALLOCATION_FAILED : tofu_msg_connect(m, &a);
    tofu_bhdr h;
    if (st == TOFU_SUCCESS)
        st = tofu_post(x->g, &m, &h);
    tofu_put(x->c->e, &m);
    if (st != TOFU_SUCCESS) {
        client__error(x->c, st);
        return false;
    }
    x->ch = h.channel;
    m = client__reply(x, TOFU_OP_HELLO_RESPONSE, h.message_id);
    tofu_put(x->c->e, &m);
    return x->c->errors == 0;
}

/* One timed round trip; false when the channel is no longer usable. */
static bool client__round_trip(client_ctx *x, uint32_t i) {
    demo_client *c = x->c;
    memcpy(x->body, &i, c->body_len < sizeof i ? c->body_len : sizeof i);
    uint64_t t0 = demo_clock_ns();
    uint64_t id = client__post(x, TOFU_OP_REQUEST, x->body, c->body_len);
    tofu_msg *m = id == 0 ? NULL : client__reply(x, TOFU_OP_RESPONSE, id);
    if (m == NULL)
        return false;
    uint64_t t1 = demo_clock_ns();
    size_t len = 0;
    const void *got = tofu_msg_body(m, &len);
    if (len != c->body_len || memcmp(got, x->body, len) != 0)
        client__error(c, TOFU_INVALID_MESSAGE);
    else
        c->rtt_ns[c->done++] = t1 - t0;
    tofu_put(c->e, &m);
    return true;
}

/* ByeRequest, its ByeResponse, then the close Signal. */
static void client__bye(client_ctx *x) {
    uint64_t id = client__post(x, TOFU_OP_BYE_REQUEST, NULL, 0);
    tofu_msg *m = id == 0 ? NULL : client__reply(x, TOFU_OP_BYE_RESPONSE, id);
    if (m == NULL)
        return;
    tofu_put(x->c->e, &m);
    m = client__wait(x);
    if (m != NULL && tofu_msg_status(m) != TOFU_CHANNEL_CLOSED)
        client__error(x->c, tofu_msg_status(m));
    tofu_put(x->c->e, &m);
}

void demo_client_run(void *arg) {
    static const unsigned char fill[] = "tofu demo payload ";
    client_ctx x = {.c = arg};
    demo_client *c = x.c;
    x.body = malloc(c->body_len + 1);
    tofu_status st = x.body == NULL ? TOFU_ALLOCATION_FAILED : tofu_group_create(c->e, &x.g);
    if (st != TOFU_SUCCESS) {
        client__error(c, st);
        c->errors += c->round_trips; /* none attempted */
        free(x.body);
        return;
    }
    for (size_t i = 0; i < c->body_len; i++)
        x.body[i] = (unsigned char)(fill[(i + c->seed) % (sizeof fill - 1)]);
    uint32_t i = 0;
    if (client__hello(&x)) {
        while (i < c->round_trips && client__round_trip(&x, i))
            i++;
        if (i < c->round_trips)
            i++; /* the one that failed is counted already */
        client__bye(&x);
    }
    c->errors += c->round_trips - i; /* never attempted */
    tofu_group_destroy(c->e, x.g);
    free(x.body);
}
