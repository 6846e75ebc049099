/*
 * Fuzz target: the streaming frame decoder over arbitrary bytes.
 *
 * The first input byte picks how the rest is cut into reads; the rest is the
 * stream. The stream is decoded twice, once in a single read and once in the
 * picked chunks, and both must agree. Every frame must re-encode to exactly
 * the bytes it came from (with the origin bit cleared), and a protocol error
 * must come right after the offending header. A third pass decodes the single
 * read as the engine does, each frame that lies whole after a frame boundary
 * by the fast path (tofui_dec_whole_len, tofui_dec_whole) and the rest by the
 * streaming decoder: it must agree with the other two. Violations abort().
 */
#include <stdlib.h>
#include <string.h>

#include "msg/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c)                                                                    \
    do {                                                                            \
        if (!(c))                                                                   \
            abort();                                                                \
    } while (0)

/* What one decoding pass saw, to compare the two passes. */
typedef struct pass {
    size_t frames;
    size_t consumed;
    uint64_t digest; /* mixes every frame end offset */
    tofui_dec_rc last;
    tofu_status error;
    bool mid_frame;
} pass;

/* Chunk sizes from a small generator seeded by the first input byte: the
 * low bits choose the largest chunk (1 byte up to 4 KiB). */
typedef struct chunker {
    uint32_t state;
    uint32_t max;
} chunker;

static void decoder__chunker_init(chunker *c, uint8_t seed) {
    c->state = 0x9E3779B9u ^ seed;
    c->max = 1u << (seed % 13);
}

static size_t decoder__next_chunk(chunker *c) {
    if (c == NULL)
        return SIZE_MAX;
    c->state = c->state * 1664525u + 1013904223u;
    return 1 + (c->state >> 8) % c->max;
}

/* A decoded frame re-encodes to its own input bytes; only the origin bit
 * differs, because the decoder forces it to "application". */
static void decoder__check_frame(const tofu_msg *m, const uint8_t *src, size_t len) {
    CHECK(m->bhdr.origin == TOFU_ORIGIN_APPLICATION);
    CHECK(m->bhdr.opcode < TOFU_OP_WELCOME_REQUEST);
    CHECK(m->thdrs.len == m->bhdr.thl && m->body.len == m->bhdr.bl);
    CHECK(len == TOFUI_BHDR_SIZE + m->thdrs.len + m->body.len);
    CHECK(tofui_frame_len(m) == len);
    static unsigned char stage[TOFUI_BATCH_STAGE];
    static uint8_t again[TOFUI_BHDR_SIZE + 2 * TOFU_MAX_PART_LEN];
    tofui_batch b;
    size_t skip = 0, n = 0;
    tofui_batch_init(&b, stage);
    CHECK(tofui_batch_add(&b, m, &skip));
    for (int i = 0; i < b.n_iov; i++) {
        memcpy(again + n, b.iov[i].base, b.iov[i].len);
        n += b.iov[i].len;
    }
    CHECK(n == len && b.total == len);
    again[2] |= src[2] & 0x10u; /* the origin bit, the only byte allowed to differ */
    CHECK(memcmp(again, src, len) == 0);
}

/* An error is reported right after the 16 bytes of a header whose opcode
 * may not arrive from the wire, with the status that names why. */
static void decoder__check_error(const pass *p, const uint8_t *s, size_t frame_start) {
    CHECK(p->consumed == frame_start + TOFUI_BHDR_SIZE);
    unsigned op = s[frame_start + 2] & 0x0Fu;
    if (p->error == TOFU_INVALID_OP_CODE)
        CHECK(op >= 10);
    else if (p->error == TOFU_INVALID_MESSAGE)
        CHECK(op == TOFU_OP_WELCOME_REQUEST || op == TOFU_OP_WELCOME_RESPONSE);
    else
        CHECK(p->error == TOFU_ALLOCATION_FAILED);
}

/* The fast path at p.consumed, as recv.c takes it: true when it decoded a
 * whole frame there (checked like any other). */
static bool decoder__whole(tofui_dec *d, pass *p, const uint8_t *s, size_t len, tofu_msg *rx) {
    size_t n = tofui_dec_whole_len(d, s + p->consumed, len - p->consumed);
    if (n == 0)
        return false;
    CHECK(n >= TOFUI_BHDR_SIZE && n <= len - p->consumed);
    p->last = tofui_dec_whole(d, rx, s + p->consumed);
    CHECK(p->last == TOFUI_DEC_FRAME && !tofui_dec_mid_frame(d));
    decoder__check_frame(rx, s + p->consumed, n);
    p->consumed += n;
    p->frames++;
    p->digest = (p->digest ^ p->consumed) * 0x100000001B3ull;
    return true;
}

/* Feeds the stream in chunks (NULL chunker: one read), reusing one message
 * for every frame as the engine's pool does; with `fast`, frames that lie
 * whole go by the fast path. */
static pass decoder__run(const uint8_t *s, size_t len, chunker *c, tofu_msg *rx, bool fast) {
    tofui_dec d;
    tofui_dec_init(&d);
    pass p = {0, 0, 0, TOFUI_DEC_MORE, TOFU_SUCCESS, false};
    size_t frame_start = 0;
    bool attached = false;
    while (p.consumed < len || attached) {
        if (fast && !attached && decoder__whole(&d, &p, s, len, rx)) {
            frame_start = p.consumed;
            continue;
        }
        size_t left = len - p.consumed, want = decoder__next_chunk(c), used = SIZE_MAX;
        size_t give = want < left ? want : left;
        p.last = tofui_dec_feed(&d, attached ? rx : NULL, s + p.consumed, give, &used);
        CHECK(used <= give);
        p.consumed += used;
        if (p.last == TOFUI_DEC_ERROR) {
            p.error = d.error;
            decoder__check_error(&p, s, frame_start);
            break;
        }
        if (p.last == TOFUI_DEC_MORE) {
            CHECK(used == give);
            if (give == 0)
                break;
        } else if (p.last == TOFUI_DEC_NEED_MSG) {
            CHECK(!attached && p.consumed == frame_start + TOFUI_BHDR_SIZE);
            attached = true;
        } else {
            CHECK(p.last == TOFUI_DEC_FRAME && attached);
            decoder__check_frame(rx, s + frame_start, p.consumed - frame_start);
            p.frames++;
            p.digest = (p.digest ^ p.consumed) * 0x100000001B3ull;
            frame_start = p.consumed;
            attached = false;
        }
    }
    p.mid_frame = tofui_dec_mid_frame(&d);
    if (p.last != TOFUI_DEC_ERROR) {
        CHECK(p.consumed == len);
        CHECK(p.mid_frame == (frame_start != len));
    }
    return p;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0)
        return 0;
    tofu_msg *rx = NULL;
    if (tofu_msg_create(&rx) != TOFU_SUCCESS)
        return 0;
    chunker c;
    decoder__chunker_init(&c, data[0]);
    pass whole = decoder__run(data + 1, size - 1, NULL, rx, false);
    pass chunked = decoder__run(data + 1, size - 1, &c, rx, false);
    pass fast = decoder__run(data + 1, size - 1, NULL, rx, true);
    tofu_msg_destroy(rx);
    CHECK(whole.frames == fast.frames && whole.consumed == fast.consumed);
    CHECK(whole.digest == fast.digest && whole.error == fast.error);
    CHECK(whole.mid_frame == fast.mid_frame);
    CHECK(whole.frames == chunked.frames && whole.consumed == chunked.consumed);
    CHECK(whole.digest == chunked.digest && whole.error == chunked.error);
    CHECK(whole.mid_frame == chunked.mid_frame);
    return 0;
}
