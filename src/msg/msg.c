/* The message object (SPEC §2.1): binary header, growable text-header and body
 * buffers, the application's pointer, the process-wide message id counter and
 * the count of live messages. */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "msg/msg.h"

/* Process-wide counters. The id counter is shared by all engines (SPEC §2.2);
 * relaxed ordering is enough: ids only need to be distinct. */
static atomic_uint_fast64_t msg__last_id;
static atomic_uint_fast64_t msg__live;

uint64_t tofu_next_message_id(void) {
    return (uint64_t)atomic_fetch_add_explicit(&msg__last_id, 1, memory_order_relaxed) + 1;
}

uint64_t tofu_live_messages(void) {
    return (uint64_t)atomic_load_explicit(&msg__live, memory_order_relaxed);
}

/* ---- growable buffer ---- */

/* Capacity for `n` bytes: a multiple of the 256-byte unit, at least one. */
static size_t buf__round(size_t n) {
    if (n == 0)
        return TOFUI_BUF_UNIT;
    return (n + TOFUI_BUF_UNIT - 1) / TOFUI_BUF_UNIT * TOFUI_BUF_UNIT;
}

/* Doubling keeps repeated small appends amortised O(1); the cap keeps a
 * buffer within what a u16 length can ever need. */
static size_t buf__grown_cap(size_t cap, size_t need) {
    size_t rounded = buf__round(need);
    size_t doubled = 2 * cap;
    size_t grown = rounded > doubled ? rounded : doubled;
    return grown > TOFUI_BUF_MAX_CAP ? TOFUI_BUF_MAX_CAP : grown;
}

tofu_status tofui_buf_grow(tofui_buf *b, size_t need) {
    if (need <= b->cap && b->data != NULL)
        return TOFU_SUCCESS;
    if (need > TOFUI_BUF_MAX_CAP)
        return TOFU_NOT_ALLOWED; /* no part of a message may ever be that long */
    size_t cap = buf__grown_cap(b->cap, need);
    char *data = realloc(b->data, cap);
    if (data == NULL)
        return TOFU_ALLOCATION_FAILED;
    b->data = data;
    b->cap = cap;
    return TOFU_SUCCESS;
}

/* Appends n bytes unless the result would exceed the u16 length of a part;
 * then `too_long` is returned and the buffer is left as it was. */
static tofu_status buf__append(tofui_buf *b, const void *data, size_t n, tofu_status too_long) {
    if (b->len > TOFU_MAX_PART_LEN || n > TOFU_MAX_PART_LEN - b->len)
        return too_long;
    if (n == 0)
        return TOFU_SUCCESS;
    tofu_status st = tofui_buf_reserve(b, b->len + n);
    if (st != TOFU_SUCCESS)
        return st;
    memcpy(b->data + b->len, data, n);
    b->len += n;
    return TOFU_SUCCESS;
}

static bool buf__init(tofui_buf *b, size_t need) {
    b->len = 0;
    b->cap = buf__round(need);
    b->data = malloc(b->cap);
    return b->data != NULL;
}

/* ---- lifecycle ---- */

/* The one place where messages are allocated, so tofu_live_messages() counts
 * every message whatever created it (create, clone, pool, engine). */
static tofu_msg *msg__alloc(size_t thdrs_cap, size_t body_cap) {
    tofu_msg *m = calloc(1, sizeof *m);
    if (m == NULL)
        return NULL;
    if (!buf__init(&m->thdrs, thdrs_cap) || !buf__init(&m->body, body_cap)) {
        free(m->thdrs.data);
        free(m->body.data);
        free(m);
        return NULL;
    }
    atomic_fetch_add_explicit(&msg__live, 1, memory_order_relaxed);
    return m;
}

tofu_status tofu_msg_create(tofu_msg **out) {
    tofu_msg *m = msg__alloc(TOFUI_BUF_UNIT, TOFUI_BUF_UNIT);
    if (m == NULL)
        return TOFU_ALLOCATION_FAILED;
    *out = m;
    return TOFU_SUCCESS;
}

void tofu_msg_destroy(tofu_msg *m) {
    if (m == NULL)
        return;
    free(m->thdrs.data);
    free(m->body.data);
    free(m);
    atomic_fetch_sub_explicit(&msg__live, 1, memory_order_relaxed);
}

void tofu_msg_reset(tofu_msg *m) {
    tofu_msg *next = m->next; /* reset leaves the link alone */
    tofui_msg_clear(m);
    m->next = next;
}

tofu_msg *tofui_msg_engine(tofu_opcode op, tofu_status st, uint16_t channel, uint64_t id) {
    tofu_msg *m = msg__alloc(TOFUI_BUF_UNIT, TOFUI_BUF_UNIT);
    if (m == NULL)
        return NULL;
    m->bhdr.opcode = (uint8_t)op;
    m->bhdr.origin = TOFU_ORIGIN_ENGINE;
    m->bhdr.status = tofu_status_to_byte(st);
    m->bhdr.channel = channel;
    m->bhdr.message_id = id;
    return m;
}

tofu_status tofu_msg_clone(const tofu_msg *m, tofu_msg **out) {
    tofu_msg *c = msg__alloc(m->thdrs.len, m->body.len);
    if (c == NULL)
        return TOFU_ALLOCATION_FAILED;
    c->bhdr = m->bhdr;
    c->user = m->user;
    c->local = m->local;
    memcpy(c->thdrs.data, m->thdrs.data, m->thdrs.len);
    c->thdrs.len = m->thdrs.len;
    memcpy(c->body.data, m->body.data, m->body.len);
    c->body.len = m->body.len;
    *out = c; /* ctx and links stay NULL: the copy belongs to no group or queue */
    return TOFU_SUCCESS;
}

/* ---- binary header ---- */

tofu_bhdr *tofu_msg_bhdr(tofu_msg *m) {
    return &m->bhdr;
}

const tofu_bhdr *tofu_msg_bhdr_const(const tofu_msg *m) {
    return &m->bhdr;
}

tofu_opcode tofu_msg_opcode(const tofu_msg *m) {
    return (tofu_opcode)m->bhdr.opcode;
}

void tofu_msg_set_opcode(tofu_msg *m, tofu_opcode op) {
    m->bhdr.opcode = (uint8_t)op;
}

uint16_t tofu_msg_channel(const tofu_msg *m) {
    return m->bhdr.channel;
}

void tofu_msg_set_channel(tofu_msg *m, uint16_t channel) {
    m->bhdr.channel = channel;
}

uint64_t tofu_msg_id(const tofu_msg *m) {
    return m->bhdr.message_id;
}

void tofu_msg_set_id(tofu_msg *m, uint64_t id) {
    m->bhdr.message_id = id;
}

tofu_status tofu_msg_status(const tofu_msg *m) {
    return tofu_status_from_byte(m->bhdr.status);
}

bool tofu_msg_from_engine(const tofu_msg *m) {
    return m->bhdr.origin == TOFU_ORIGIN_ENGINE;
}

void *tofu_msg_user(const tofu_msg *m) {
    return m->user;
}

void tofu_msg_set_user(tofu_msg *m, void *p) {
    m->user = p;
}

static void msg__ms_set(tofui_msg_ms *v, uint32_t ms) {
    v->ms = ms;
    v->set = true;
}

/* True when set, *ms (may be NULL) then receiving it. */
static bool msg__ms_get(const tofui_msg_ms *v, uint32_t *ms) {
    if (v->set && ms != NULL)
        *ms = v->ms;
    return v->set;
}

void tofu_msg_set_timeout(tofu_msg *m, uint32_t ms) {
    msg__ms_set(&m->local.timeout, ms);
}

bool tofu_msg_timeout(const tofu_msg *m, uint32_t *ms) {
    return msg__ms_get(&m->local.timeout, ms);
}

void tofu_msg_set_connect_retry(tofu_msg *m, uint32_t ms) {
    msg__ms_set(&m->local.retry, ms);
}

bool tofu_msg_connect_retry(const tofu_msg *m, uint32_t *ms) {
    return msg__ms_get(&m->local.retry, ms);
}

bool tofu_msg_late(const tofu_msg *m) {
    return m->local.late;
}

/* ---- raw text-header block and body ---- */

tofu_status tofu_msg_append_headers_raw(tofu_msg *m, const void *data, size_t len) {
    if (len > 0 && data == NULL)
        return TOFU_INVALID_MESSAGE;
    return buf__append(&m->thdrs, data, len, TOFU_INVALID_HEADERS_LEN);
}

const char *tofu_msg_headers(const tofu_msg *m, size_t *len) {
    if (len != NULL)
        *len = m->thdrs.len;
    return m->thdrs.data;
}

void tofu_msg_clear_headers(tofu_msg *m) {
    m->thdrs.len = 0;
}

tofu_status tofu_msg_append_body(tofu_msg *m, const void *data, size_t len) {
    if (len > 0 && data == NULL)
        return TOFU_INVALID_MESSAGE;
    return buf__append(&m->body, data, len, TOFU_INVALID_BODY_LEN);
}

const void *tofu_msg_body(const tofu_msg *m, size_t *len) {
    if (len != NULL)
        *len = m->body.len;
    return m->body.data;
}

void tofu_msg_clear_body(tofu_msg *m) {
    m->body.len = 0;
}
