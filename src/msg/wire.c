/*
 * The tofu wire format (SPEC §1): header marshalling, the batch of frames
 * for one gather write, and the streaming frame decoder.
 *
 * Every multi-byte field is written and read with shifts, one byte at a time,
 * so the bytes are the same on little- and big-endian hosts (the original Zig
 * code copied a packed struct and would not have been, SPEC §1.2).
 */
#include "msg/wire.h"

#include <assert.h>
#include <string.h>

/* ProtoFields bits (SPEC §1.3). */
#define WIRE_OPCODE_MASK TOFUI_WIRE_OPCODE_MASK
#define WIRE_ORIGIN_BIT 0x10u
#define WIRE_MORE_BIT 0x20u
#define WIRE_INTERNAL_A_BIT 0x40u
#define WIRE_INTERNAL_B_BIT 0x80u

/* Byte offsets inside the 16-byte binary header (SPEC §1.2). */
#define WIRE_OFF_CHANNEL 0
#define WIRE_OFF_PROTO TOFUI_WIRE_OFF_PROTO
#define WIRE_OFF_STATUS 3
#define WIRE_OFF_ID 4
#define WIRE_OFF_THL TOFUI_WIRE_OFF_THL
#define WIRE_OFF_BL TOFUI_WIRE_OFF_BL

/* ---- big-endian helpers ---- */

/* Where the compiler tells the byte order, a field is one load or store and
 * a byte swap (the header is packed and unpacked once per frame); elsewhere
 * it goes byte by byte. */
#if defined(__BYTE_ORDER__) && defined(__ORDER_LITTLE_ENDIAN__) && \
    __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define WIRE__BE16(v) __builtin_bswap16(v)
#define WIRE__BE64(v) __builtin_bswap64(v)
#elif defined(__BYTE_ORDER__) && defined(__ORDER_BIG_ENDIAN__) && \
    __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define WIRE__BE16(v) (v)
#define WIRE__BE64(v) (v)
#endif

#ifdef WIRE__BE64
static void wire__put_u16(uint8_t *p, uint16_t v) {
    uint16_t be = WIRE__BE16(v);
    memcpy(p, &be, sizeof be);
}

static uint16_t wire__get_u16(const uint8_t *p) {
    uint16_t be;
    memcpy(&be, p, sizeof be);
    return WIRE__BE16(be);
}

static void wire__put_u64(uint8_t *p, uint64_t v) {
    uint64_t be = WIRE__BE64(v);
    memcpy(p, &be, sizeof be);
}

static uint64_t wire__get_u64(const uint8_t *p) {
    uint64_t be;
    memcpy(&be, p, sizeof be);
    return WIRE__BE64(be);
}
#else
static void wire__put_u16(uint8_t *p, uint16_t v) {
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static uint16_t wire__get_u16(const uint8_t *p) {
    return (uint16_t)((unsigned)p[0] << 8 | p[1]);
}

static void wire__put_u64(uint8_t *p, uint64_t v) {
    for (int i = 7; i >= 0; i--) {
        p[i] = (uint8_t)v;
        v >>= 8;
    }
}

static uint64_t wire__get_u64(const uint8_t *p) {
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}
#endif

/* ---- header ---- */

uint8_t tofui_proto_pack(const tofu_bhdr *h) {
    unsigned p = h->opcode & WIRE_OPCODE_MASK;
    p |= h->origin != TOFU_ORIGIN_APPLICATION ? WIRE_ORIGIN_BIT : 0u;
    p |= h->more ? WIRE_MORE_BIT : 0u;
    p |= h->internal_a ? WIRE_INTERNAL_A_BIT : 0u;
    p |= h->internal_b ? WIRE_INTERNAL_B_BIT : 0u;
    return (uint8_t)p;
}

void tofui_proto_unpack(uint8_t proto, tofu_bhdr *h) {
    h->opcode = (uint8_t)(proto & WIRE_OPCODE_MASK);
    h->origin = (proto & WIRE_ORIGIN_BIT) ? TOFU_ORIGIN_ENGINE : TOFU_ORIGIN_APPLICATION;
    h->more = (proto & WIRE_MORE_BIT) != 0;
    h->internal_a = (proto & WIRE_INTERNAL_A_BIT) != 0;
    h->internal_b = (proto & WIRE_INTERNAL_B_BIT) != 0;
}

/* The header with thl and bl given apart from h's. */
static void wire__pack(const tofu_bhdr *h, uint16_t thl, uint16_t bl, uint8_t out[TOFUI_BHDR_SIZE]) {
    wire__put_u16(out + WIRE_OFF_CHANNEL, h->channel);
    out[WIRE_OFF_PROTO] = tofui_proto_pack(h);
    out[WIRE_OFF_STATUS] = h->status;
    wire__put_u64(out + WIRE_OFF_ID, h->message_id);
    wire__put_u16(out + WIRE_OFF_THL, thl);
    wire__put_u16(out + WIRE_OFF_BL, bl);
}

void tofui_bhdr_pack(const tofu_bhdr *h, uint8_t out[TOFUI_BHDR_SIZE]) {
    wire__pack(h, h->thl, h->bl, out);
}

static inline void wire__unpack(const uint8_t in[TOFUI_BHDR_SIZE], tofu_bhdr *h) {
    h->channel = wire__get_u16(in + WIRE_OFF_CHANNEL);
    tofui_proto_unpack(in[WIRE_OFF_PROTO], h);
    h->status = in[WIRE_OFF_STATUS];
    h->message_id = wire__get_u64(in + WIRE_OFF_ID);
    h->thl = wire__get_u16(in + WIRE_OFF_THL);
    h->bl = wire__get_u16(in + WIRE_OFF_BL);
}

void tofui_bhdr_unpack(const uint8_t in[TOFUI_BHDR_SIZE], tofu_bhdr *h) {
    wire__unpack(in, h);
}

/* ---- encoder: a batch of frames for one gather write ---- */

/* The header with thl/bl taken from the buffers, whatever bhdr says. */
static void wire__frame_header(const tofu_msg *m, uint8_t out[TOFUI_BHDR_SIZE]) {
    /* Post validation keeps both parts within the u16 fields; a longer
     * buffer here would desynchronise the stream, so it is a bug upstream. */
    assert(m->thdrs.len <= TOFU_MAX_PART_LEN && m->body.len <= TOFU_MAX_PART_LEN);
    wire__pack(&m->bhdr, (uint16_t)m->thdrs.len, (uint16_t)m->body.len, out);
}

void tofui_batch_init(tofui_batch *b, unsigned char *stage) {
    b->stage = stage;
    b->staged = 0;
    b->stage_iov = -1;
    b->n_iov = 0;
    b->total = 0;
}

/* Bytes of m that the batch copies. */
static size_t wire__copied_len(const tofu_msg *m) {
    size_t n = TOFUI_BHDR_SIZE;
    n += m->thdrs.len <= TOFUI_BATCH_COPY_MAX ? m->thdrs.len : 0;
    n += m->body.len <= TOFUI_BATCH_COPY_MAX ? m->body.len : 0;
    return n;
}

/* Whether all of m still fits: at most 3 iovecs and its copied parts. */
static bool wire__fits(const tofui_batch *b, const tofu_msg *m) {
    return b->n_iov + 3 <= TOFUI_BATCH_IOV && b->staged + wire__copied_len(m) <= TOFUI_BATCH_STAGE;
}

/* len bytes just written at the end of the stage join the iovec that ends
 * there, or start one. */
static void wire__staged(tofui_batch *b, unsigned char *dst, size_t len) {
    b->staged += len;
    if (b->stage_iov >= 0) {
        b->iov[b->stage_iov].len += len;
        return;
    }
    b->stage_iov = b->n_iov;
    b->iov[b->n_iov].base = dst;
    b->iov[b->n_iov++].len = len;
}

/* Copies a small piece to the stage, extending the iovec that ends there. */
static void wire__add_copy(tofui_batch *b, const void *p, size_t len) {
    unsigned char *dst = b->stage + b->staged;
    memcpy(dst, p, len);
    wire__staged(b, dst, len);
}

static void wire__add_ref(tofui_batch *b, const void *p, size_t len) {
    b->stage_iov = -1; /* what is copied next starts a new iovec */
    b->iov[b->n_iov].base = p;
    b->iov[b->n_iov++].len = len;
}

/* Adds what is left of one part after *skip bytes, consuming *skip. */
static void wire__add_part(tofui_batch *b, const void *p, size_t len, size_t *skip) {
    if (*skip >= len) {
        *skip -= len;
        return;
    }
    p = (const unsigned char *)p + *skip;
    len -= *skip;
    *skip = 0;
    if (len <= TOFUI_BATCH_COPY_MAX)
        wire__add_copy(b, p, len);
    else
        wire__add_ref(b, p, len);
    b->total += len;
}

/* The common case, a frame none of which is written yet and whose parts
 * are all copied: header, text headers and body go to the stage in one
 * piece, the header packed in place. */
static void wire__add_whole(tofui_batch *b, const tofu_msg *m) {
    unsigned char *dst = b->stage + b->staged;
    size_t thl = m->thdrs.len, bl = m->body.len;
    wire__frame_header(m, dst);
    if (thl > 0)
        memcpy(dst + TOFUI_BHDR_SIZE, m->thdrs.data, thl);
    if (bl > 0)
        memcpy(dst + TOFUI_BHDR_SIZE + thl, m->body.data, bl);
    wire__staged(b, dst, TOFUI_BHDR_SIZE + thl + bl);
    b->total += TOFUI_BHDR_SIZE + thl + bl;
}

bool tofui_batch_add(tofui_batch *b, const tofu_msg *m, size_t *skip) {
    size_t thl = m->thdrs.len, bl = m->body.len;
    if (*skip == 0 && thl <= TOFUI_BATCH_COPY_MAX && bl <= TOFUI_BATCH_COPY_MAX) {
        /* wire__fits with the copied length known: all of it */
        if (b->n_iov + 3 > TOFUI_BATCH_IOV || b->staged + TOFUI_BHDR_SIZE + thl + bl > TOFUI_BATCH_STAGE)
            return false;
        wire__add_whole(b, m);
        return true;
    }
    if (!wire__fits(b, m))
        return false;
    uint8_t hdr[TOFUI_BHDR_SIZE]; /* always copied: the stage keeps it */
    wire__frame_header(m, hdr);
    wire__add_part(b, hdr, TOFUI_BHDR_SIZE, skip);
    wire__add_part(b, m->thdrs.data, m->thdrs.len, skip);
    wire__add_part(b, m->body.data, m->body.len, skip);
    return true;
}

/* ---- streaming decoder ---- */

void tofui_dec_init(tofui_dec *d) {
    memset(d, 0, sizeof *d);
    d->error = TOFU_SUCCESS;
}

bool tofui_dec_mid_frame(const tofui_dec *d) {
    return d->hdr_got > 0 || d->have_hdr;
}

static size_t wire__min(size_t a, size_t b) {
    return a < b ? a : b;
}

/* Ends the stream with a protocol error; the decoder stays dead so a caller
 * that feeds it again cannot resynchronise on garbage. */
static tofui_dec_rc wire__fail(tofui_dec *d, tofu_status why) {
    d->error = why;
    return TOFUI_DEC_ERROR;
}

/* The receiver-side header checks of DESIGN "Wire": 10..15 are no opcodes,
 * and Welcome messages are local commands that a peer never sends. The
 * opcodes a peer may send are all below the Welcome pair, the last two
 * valid ones, so one comparison passes them. */
_Static_assert(TOFU_OP_WELCOME_REQUEST == 8 && TOFU_OP_WELCOME_RESPONSE == 9,
               "the Welcome opcodes are the last two");
static tofu_status wire__check_header(const tofu_bhdr *h) {
    if (h->opcode < TOFU_OP_WELCOME_REQUEST)
        return TOFU_SUCCESS;
    if (!tofu_op_valid(h->opcode))
        return TOFU_INVALID_OP_CODE;
    return TOFU_INVALID_MESSAGE;
}

/* The 16 header bytes at p: unpacked into the decoder and validated. */
static tofu_status wire__header_from(tofui_dec *d, const uint8_t *p) {
    wire__unpack(p, &d->bhdr);
    tofu_status st = wire__check_header(&d->bhdr);
    if (st == TOFU_SUCCESS)
        d->have_hdr = true;
    return st;
}

/* Collects header bytes; once all 16 are in, unpacks and validates them.
 * A header that lies whole in the input is read where it is. */
static tofu_status wire__take_header(tofui_dec *d, const uint8_t *p, size_t len, size_t *off) {
    if (d->hdr_got == 0 && len - *off >= TOFUI_BHDR_SIZE) {
        *off += TOFUI_BHDR_SIZE;
        return wire__header_from(d, p + *off - TOFUI_BHDR_SIZE);
    }
    size_t n = wire__min(TOFUI_BHDR_SIZE - d->hdr_got, len - *off);
    if (n > 0) { /* data may be NULL when len is 0 */
        memcpy(d->hdr + d->hdr_got, p + *off, n);
        d->hdr_got += n;
        *off += n;
    }
    if (d->hdr_got < TOFUI_BHDR_SIZE)
        return TOFU_SUCCESS;
    d->hdr_got = 0; /* have_hdr from now on */
    return wire__header_from(d, d->hdr);
}

/* Sizes the message's buffers to exactly thl/bl before the first part byte
 * lands; later calls find them sized and leave them alone. */
static tofu_status wire__prepare_msg(const tofui_dec *d, tofu_msg *m) {
    if (d->th_got > 0 || d->body_got > 0)
        return TOFU_SUCCESS;
    tofu_status st = tofui_buf_resize(&m->thdrs, d->bhdr.thl);
    if (st == TOFU_SUCCESS)
        st = tofui_buf_resize(&m->body, d->bhdr.bl);
    /* resize answers NOT_ALLOWED only beyond 64 KiB, which a u16 never is */
    return st == TOFU_SUCCESS ? st : TOFU_ALLOCATION_FAILED;
}

/* Copies as many bytes of one part as are available into dst. */
static void wire__take_part(char *dst, size_t want, size_t *got, const uint8_t *p, size_t len,
                            size_t *off) {
    size_t n = wire__min(want - *got, len - *off);
    if (n == 0)
        return;
    memcpy(dst + *got, p + *off, n);
    *got += n;
    *off += n;
}

/* Hands the finished frame to the message and readies the decoder for the
 * next one. A peer cannot forge engine messages: origin is forced to
 * application whatever the wire said. */
static void wire__finish_frame(tofui_dec *d, tofu_msg *m) {
    m->bhdr = d->bhdr;
    m->bhdr.origin = TOFU_ORIGIN_APPLICATION;
    d->have_hdr = false;
    d->th_got = 0;
    d->body_got = 0;
}

/* The parts of the frame whose header the decoder holds, from p[*off..len). */
static tofui_dec_rc wire__take_parts(tofui_dec *d, tofu_msg *m, const uint8_t *p, size_t len,
                                     size_t *off) {
    size_t thl = d->bhdr.thl, bl = d->bhdr.bl;
    tofu_status st = wire__prepare_msg(d, m);
    if (st != TOFU_SUCCESS)
        return wire__fail(d, st);
    if (d->th_got == 0 && d->body_got == 0 && len - *off >= thl + bl) {
        /* the common case: the whole rest of the frame is at hand */
        if (thl > 0)
            memcpy(m->thdrs.data, p + *off, thl);
        if (bl > 0)
            memcpy(m->body.data, p + *off + thl, bl);
        *off += thl + bl;
    } else {
        wire__take_part(m->thdrs.data, thl, &d->th_got, p, len, off);
        if (d->th_got == thl)
            wire__take_part(m->body.data, bl, &d->body_got, p, len, off);
        if (d->th_got < thl || d->body_got < bl)
            return TOFUI_DEC_MORE;
    }
    wire__finish_frame(d, m);
    return TOFUI_DEC_FRAME;
}

/* The header once complete, from p[*off..len); TOFUI_DEC_NEED_MSG when it
 * is. */
static tofui_dec_rc wire__header(tofui_dec *d, const uint8_t *p, size_t len, size_t *off) {
    tofu_status st = wire__take_header(d, p, len, off);
    if (st != TOFU_SUCCESS)
        return wire__fail(d, st);
    return d->have_hdr ? TOFUI_DEC_NEED_MSG : TOFUI_DEC_MORE;
}

/* tofui_dec_feed's source of messages: the caller gives them. */
static tofu_msg *wire__no_take(void *ctx, size_t rest, size_t avail) {
    (void)ctx;
    (void)rest;
    (void)avail;
    return NULL;
}

tofui_dec_rc tofui_dec_feed(tofui_dec *d, tofu_msg *m, const void *data, size_t len,
                            size_t *used) {
    return tofui_dec_feed_take(d, &m, wire__no_take, NULL, data, len, used);
}

tofui_dec_rc tofui_dec_feed_take(tofui_dec *d, tofu_msg **m, tofui_dec_take take, void *ctx,
                                 const void *data, size_t len, size_t *used) {
    const uint8_t *p = data;
    size_t off = 0;
    *used = 0;
    if (d->error != TOFU_SUCCESS)
        return TOFUI_DEC_ERROR;
    if (!d->have_hdr) {
        tofui_dec_rc rc = wire__header(d, p, len, &off);
        *used = off;
        if (rc != TOFUI_DEC_NEED_MSG)
            return rc;
    }
    if (*m == NULL)
        *m = take(ctx, (size_t)d->bhdr.thl + d->bhdr.bl, len - off);
    if (*m == NULL)
        return TOFUI_DEC_NEED_MSG;
    tofui_dec_rc rc = wire__take_parts(d, *m, p, len, &off);
    *used = off;
    return rc;
}

/* The whole frame at p: unpacked straight into m (the decoder's own header
 * copy is for frames that come in pieces), origin forced as in
 * wire__finish_frame, the parts copied. */
tofui_dec_rc tofui_dec_whole(tofui_dec *d, tofu_msg *m, const uint8_t *p) {
    wire__unpack(p, &m->bhdr);
    m->bhdr.origin = TOFU_ORIGIN_APPLICATION;
    size_t thl = m->bhdr.thl, bl = m->bhdr.bl;
    if (tofui_buf_resize(&m->thdrs, thl) != TOFU_SUCCESS ||
        tofui_buf_resize(&m->body, bl) != TOFU_SUCCESS)
        return wire__fail(d, TOFU_ALLOCATION_FAILED);
    if (thl > 0)
        memcpy(m->thdrs.data, p + TOFUI_BHDR_SIZE, thl);
    if (bl > 0)
        memcpy(m->body.data, p + TOFUI_BHDR_SIZE + thl, bl);
    return TOFUI_DEC_FRAME;
}
