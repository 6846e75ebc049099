/*
 * Message internals shared by the core modules. Applications only see the
 * opaque tofu_msg of tofu.h.
 */
#ifndef TOFUI_MSG_H
#define TOFUI_MSG_H

#include "tofu.h"

/* Growable byte buffer: capacity is a multiple of 256 (minimum 256); growth is
 * to max(rounded need, 2 x capacity), never above TOFUI_BUF_MAX_CAP. */
typedef struct tofui_buf {
    char *data;
    size_t len;
    size_t cap;
} tofui_buf;

#define TOFUI_BUF_UNIT 256u
#define TOFUI_BUF_MAX_CAP 65536u

/* A time in milliseconds the application may give a message; unset, the
 * engine's default applies. */
typedef struct tofui_msg_ms {
    uint32_t ms;
    bool set;
} tofui_msg_ms;

/* A message's local properties: never transmitted, cleared by reset,
 * copied by clone. */
typedef struct tofui_msg_local {
    tofui_msg_ms timeout; /* a Request's deadline (tofu_msg_set_timeout) */
    tofui_msg_ms retry;   /* a HelloRequest's retry deadline (tofu_msg_set_connect_retry) */
    bool late;            /* a Response that answers no waiting Request */
} tofui_msg_local;

struct tofu_msg {
    tofu_bhdr bhdr;
    tofui_buf thdrs;
    tofui_buf body;
    void *user;      /* the application's pointer */
    void *ctx;       /* engine-private (owning group); cleared before delivery */
    tofu_msg *next;  /* intrusive link for the engine's queues */
    tofui_msg_local local;
    /* Engine-private while the message is in a send queue: */
    void *track;         /* its record among the waiting Requests */
};

/* Grows the buffer to hold `need` bytes (tofui_buf_reserve's slow path). */
tofu_status tofui_buf_grow(tofui_buf *b, size_t need);

/* Makes room for at least `need` bytes in total (len unchanged). Inline:
 * every received frame and every append passes here, and the buffer almost
 * always has the room. */
static inline tofu_status tofui_buf_reserve(tofui_buf *b, size_t need) {
    if (need <= b->cap && b->data != NULL)
        return TOFU_SUCCESS;
    return tofui_buf_grow(b, need);
}

/* Sets the length to exactly `len` bytes, growing capacity as needed; the new
 * bytes are uninitialised (the receiver fills them). */
static inline tofu_status tofui_buf_resize(tofui_buf *b, size_t len) {
    tofu_status st = tofui_buf_reserve(b, len);
    if (st == TOFU_SUCCESS)
        b->len = len;
    return st;
}

/* Opcode classes as bit sets (bit n: opcode n), for the checks every post
 * and every send makes: a shift and a mask where tofu_op_role and
 * tofu_op_type are calls into status.c's table. test_msg.c checks them
 * against that table. */
#define TOFUI_OP_BIT(op) (1u << (op))
/* tofu_op_role(op) == TOFU_ROLE_RESPONSE */
#define TOFUI_OPS_RESPONSE                                                                     \
    (TOFUI_OP_BIT(TOFU_OP_RESPONSE) | TOFUI_OP_BIT(TOFU_OP_HELLO_RESPONSE) |                   \
     TOFUI_OP_BIT(TOFU_OP_BYE_RESPONSE) | TOFUI_OP_BIT(TOFU_OP_WELCOME_RESPONSE))
/* tofu_op_type(op) != TOFU_TYPE_REGULAR */
#define TOFUI_OPS_NOT_REGULAR                                                                  \
    (TOFUI_OP_BIT(TOFU_OP_HELLO_REQUEST) | TOFUI_OP_BIT(TOFU_OP_HELLO_RESPONSE) |              \
     TOFUI_OP_BIT(TOFU_OP_BYE_REQUEST) | TOFUI_OP_BIT(TOFU_OP_BYE_RESPONSE) |                  \
     TOFUI_OP_BIT(TOFU_OP_BYE_SIGNAL) | TOFUI_OP_BIT(TOFU_OP_WELCOME_REQUEST) |                \
     TOFUI_OP_BIT(TOFU_OP_WELCOME_RESPONSE))
/* tofu_op_type(op) == TOFU_TYPE_BYE */
#define TOFUI_OPS_BYE                                                                          \
    (TOFUI_OP_BIT(TOFU_OP_BYE_REQUEST) | TOFUI_OP_BIT(TOFU_OP_BYE_RESPONSE) |                  \
     TOFUI_OP_BIT(TOFU_OP_BYE_SIGNAL))

/* tofu_op_valid(op): the ten opcodes, 0..9 */
#define TOFUI_OPS_VALID (TOFUI_OP_BIT(TOFU_OP_WELCOME_RESPONSE + 1) - 1u)

/* Whether op (any byte) is in the set. */
static inline bool tofui_op_in(unsigned set, uint8_t op) {
    return op < 32u && ((set >> op) & 1u) != 0;
}

/* A Hello/WelcomeRequest: the posts that open a new channel. */
static inline bool tofui_op_opens_channel(uint8_t op) {
    return op == TOFU_OP_HELLO_REQUEST || op == TOFU_OP_WELCOME_REQUEST;
}

/* Clears header, buffers (capacity kept), user and ctx pointers, local
 * properties, links: tofu_msg_reset and the link. Inline, as the pool clears
 * every message it takes back and hands out: a few stores, not a call and a
 * memset. */
static inline void tofui_msg_clear(tofu_msg *m) {
    static const tofu_bhdr zero_bhdr;
    static const tofui_msg_local zero_local;
    m->bhdr = zero_bhdr;
    m->thdrs.len = 0;
    m->body.len = 0;
    m->user = NULL;
    m->ctx = NULL;
    m->next = NULL;
    m->local = zero_local;
    m->track = NULL;
}

/* A new message made by the engine: origin engine, status st, no text
 * headers or body. NULL without memory. */
tofu_msg *tofui_msg_engine(tofu_opcode op, tofu_status st, uint16_t channel, uint64_t id);

#endif
