/* Seeded property tests of the wire codec: random frames of every shape are
 * encoded, concatenated, cut into random chunks and decoded; every field and
 * every byte must come back. Each case is deterministic (fixed seed), so a
 * failure reproduces exactly. */
#include "test.h"

#include "msg/wire.h"

/* Frames per group: one group is one stream, a few MB at most. */
#define BATCH 400
/* Frames per round-trip case; four cases make 400,000 frames (about 4 GB of
 * stream, a few seconds in all; ASan about four times that). */
#define FRAMES_PER_CASE 100000

/* ---- random shapes ---- */

/* A part length: mostly small, regularly 0 and 65535, and now and then
 * anything in between, so every length class is hit many times. */
static size_t rand_len(tofu_t_rng *r) {
    uint64_t pick = tofu_t_rng_below(r, 100);
    if (pick < 10)
        return 0;
    if (pick < 12)
        return TOFU_MAX_PART_LEN;
    if (pick < 14)
        return TOFU_MAX_PART_LEN - (size_t)tofu_t_rng_below(r, 4);
    if (pick < 50)
        return 1 + (size_t)tofu_t_rng_below(r, 32);
    if (pick < 80)
        return (size_t)tofu_t_rng_below(r, 512);
    if (pick < 95)
        return (size_t)tofu_t_rng_below(r, 8192);
    return (size_t)tofu_t_rng_below(r, TOFU_MAX_PART_LEN + 1);
}

/* A valid opcode that may travel on the wire: 0..7 (not Welcome). */
static uint8_t rand_wire_opcode(tofu_t_rng *r) {
    return (uint8_t)tofu_t_rng_below(r, 8);
}

/* An opcode the receiver must reject: 8..15. */
static uint8_t rand_bad_opcode(tofu_t_rng *r) {
    return (uint8_t)(8 + tofu_t_rng_below(r, 8));
}

/* A chunk size for one read: from one byte to far more than a frame. */
static size_t rand_chunk(tofu_t_rng *r) {
    uint64_t pick = tofu_t_rng_below(r, 100);
    if (pick < 20)
        return 1 + (size_t)tofu_t_rng_below(r, 16);
    if (pick < 50)
        return 1 + (size_t)tofu_t_rng_below(r, 1024);
    if (pick < 85)
        return 1 + (size_t)tofu_t_rng_below(r, 65536);
    return 1 + (size_t)tofu_t_rng_below(r, 1u << 20);
}

static void fill_random(tofu_t_rng *r, tofui_buf *b, size_t len) {
    ASSERT_OK(tofui_buf_resize(b, len));
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t v = tofu_t_rng_next(r);
        memcpy(b->data + i, &v, 8);
    }
    for (; i < len; i++)
        b->data[i] = (char)tofu_t_rng_next(r);
}

/* A message with random header fields (origin too: the decoder must clear
 * it) and random parts. */
static tofu_msg *rand_msg(tofu_t_rng *r, uint8_t opcode) {
    tofu_msg *m = NULL;
    ASSERT_OK(tofu_msg_create(&m));
    uint64_t bits = tofu_t_rng_next(r);
    m->bhdr.channel = (uint16_t)bits;
    m->bhdr.status = (uint8_t)(bits >> 16);
    m->bhdr.origin = (uint8_t)((bits >> 24) & 1);
    m->bhdr.more = (bits >> 25) & 1;
    m->bhdr.internal_a = (bits >> 26) & 1;
    m->bhdr.internal_b = (bits >> 27) & 1;
    m->bhdr.message_id = tofu_t_rng_next(r);
    m->bhdr.opcode = opcode;
    fill_random(r, &m->thdrs, rand_len(r));
    fill_random(r, &m->body, rand_len(r));
    return m;
}

/* ---- streams ---- */

typedef struct stream {
    uint8_t *data;
    size_t len;
    size_t cap;
    size_t ends[BATCH]; /* stream offset just past each frame */
} stream;

/* The stage of every batch built here. */
static unsigned char stage[TOFUI_BATCH_STAGE];

static void stream_reserve(stream *s, size_t more) {
    size_t need = s->len + more;
    if (need > s->cap) {
        s->cap = need * 2;
        s->data = realloc(s->data, s->cap);
        ASSERT_NOT_NULL(s->data);
    }
}

/* Appends the first `n` bytes the batch would write. */
static void stream_write(stream *s, const tofui_batch *b, size_t n) {
    stream_reserve(s, n);
    for (int i = 0; i < b->n_iov && n > 0; i++) {
        size_t k = b->iov[i].len < n ? b->iov[i].len : n;
        ASSERT_TRUE(b->iov[i].len > 0);
        memcpy(s->data + s->len, b->iov[i].base, k);
        s->len += k;
        n -= k;
    }
}

/* One frame, written whole. */
static void stream_add(stream *s, const tofu_msg *m, int index) {
    tofui_batch b;
    size_t skip = 0;
    tofui_batch_init(&b, stage);
    ASSERT_TRUE(tofui_batch_add(&b, m, &skip));
    ASSERT_EQ(b.total, tofui_frame_len(m));
    stream_write(s, &b, b.total);
    s->ends[index] = s->len;
}

/* The frames of m[0..n) written as the engine writes a send queue: each
 * write takes a batch of the frames left after (first unsent frame, bytes of
 * it already sent), and the socket takes a random part of it. */
static void stream_write_queue(tofu_t_rng *r, stream *s, tofu_msg **m, int n) {
    int head = 0;
    size_t sent_off = 0;
    while (head < n) {
        tofui_batch b;
        size_t skip = sent_off;
        tofui_batch_init(&b, stage);
        for (int i = head; i < n && tofui_batch_add(&b, m[i], &skip); i++) {
        }
        ASSERT_EQ(skip, 0);
        ASSERT_TRUE(b.total > 0 || tofui_frame_len(m[head]) == sent_off);
        size_t written = b.total == 0 ? 0 : 1 + (size_t)tofu_t_rng_below(r, b.total);
        stream_write(s, &b, written);
        while (head < n && written >= tofui_frame_len(m[head]) - sent_off) {
            written -= tofui_frame_len(m[head]) - sent_off;
            sent_off = 0;
            s->ends[head++] = s->len - written;
        }
        sent_off += written;
    }
}

static void assert_same_frame(const tofu_msg *want, const tofu_msg *got) {
    ASSERT_EQ(got->bhdr.channel, want->bhdr.channel);
    ASSERT_EQ(got->bhdr.opcode, want->bhdr.opcode);
    ASSERT_EQ(got->bhdr.origin, TOFU_ORIGIN_APPLICATION);
    ASSERT_EQ(got->bhdr.more, want->bhdr.more);
    ASSERT_EQ(got->bhdr.internal_a, want->bhdr.internal_a);
    ASSERT_EQ(got->bhdr.internal_b, want->bhdr.internal_b);
    ASSERT_EQ(got->bhdr.status, want->bhdr.status);
    ASSERT_EQ(got->bhdr.message_id, want->bhdr.message_id);
    ASSERT_EQ(got->bhdr.thl, want->thdrs.len);
    ASSERT_EQ(got->bhdr.bl, want->body.len);
    ASSERT_MEM_EQ(got->thdrs.data, got->thdrs.len, want->thdrs.data, want->thdrs.len);
    ASSERT_MEM_EQ(got->body.data, got->body.len, want->body.data, want->body.len);
}

/* What decoding a stream produced. */
typedef struct outcome {
    int frames;           /* frames completed */
    tofui_dec_rc last;    /* MORE, or ERROR */
    size_t consumed;      /* bytes the decoder accepted */
    bool mid_frame;       /* decoder state at the end */
} outcome;

/* Decodes s->data[0..len) in random chunks. One receive message is reused
 * for every frame, as the engine's pool would, so buffers shrink and grow.
 * Frame i is compared with want[i] as soon as it completes. */
static outcome decode_stream(tofu_t_rng *r, const stream *s, size_t len, tofu_msg **want,
                             int nwant) {
    tofui_dec d;
    tofui_dec_init(&d);
    tofu_msg *rx = NULL;
    ASSERT_OK(tofu_msg_create(&rx));
    bool attached = false;
    outcome o = {0, TOFUI_DEC_MORE, 0, false};
    while (o.last != TOFUI_DEC_ERROR && (o.consumed < len || attached)) {
        size_t left = len - o.consumed, chunk = rand_chunk(r), used = 0;
        size_t give = chunk < left ? chunk : left;
        o.last = tofui_dec_feed(&d, attached ? rx : NULL, s->data + o.consumed, give, &used);
        ASSERT_TRUE(used <= give);
        o.consumed += used;
        if (o.last == TOFUI_DEC_MORE) {
            ASSERT_EQ(used, give);
            if (give == 0)
                break; /* all bytes in; the frame in progress stays incomplete */
        } else if (o.last == TOFUI_DEC_NEED_MSG) {
            ASSERT_FALSE(attached);
            attached = true;
        } else if (o.last == TOFUI_DEC_FRAME) {
            ASSERT_TRUE(o.frames < nwant);
            ASSERT_EQ(o.consumed, s->ends[o.frames]);
            assert_same_frame(want[o.frames], rx);
            o.frames++;
            tofu_msg_reset(rx);
            attached = false;
        }
    }
    o.mid_frame = tofui_dec_mid_frame(&d);
    tofu_msg_destroy(rx);
    return o;
}

static void destroy_all(tofu_msg **m, int n) {
    for (int i = 0; i < n; i++)
        tofu_msg_destroy(m[i]);
}

/* ---- properties ---- */

/* Encodes `frames` random valid frames in groups (each written as a send
 * queue, in batches cut by random partial writes) and decodes each group's
 * stream from random chunks. */
static void round_trip(uint64_t seed, int frames) {
    tofu_t_rng r;
    tofu_t_rng_seed(&r, seed);
    stream s = {0};
    tofu_msg *src[BATCH];
    uint64_t total_bytes = 0;
    for (int done = 0; done < frames; done += BATCH) {
        int n = frames - done < BATCH ? frames - done : BATCH;
        s.len = 0;
        for (int i = 0; i < n; i++)
            src[i] = rand_msg(&r, rand_wire_opcode(&r));
        stream_write_queue(&r, &s, src, n);
        outcome o = decode_stream(&r, &s, s.len, src, n);
        ASSERT_TRUE(o.last != TOFUI_DEC_ERROR);
        ASSERT_EQ(o.frames, n);
        ASSERT_EQ(o.consumed, s.len);
        ASSERT_FALSE(o.mid_frame);
        total_bytes += s.len;
        destroy_all(src, n);
    }
    free(s.data);
    printf("  %d frames, %" PRIu64 " bytes, seed %" PRIu64 "\n", frames, total_bytes, seed);
    ASSERT_EQ(tofu_live_messages(), 0);
}

TEST(random_frames_round_trip_seed_1) {
    round_trip(1, FRAMES_PER_CASE);
}

TEST(random_frames_round_trip_seed_2) {
    round_trip(0x5EED0002ull, FRAMES_PER_CASE);
}

TEST(random_frames_round_trip_seed_3) {
    round_trip(0xC0FFEE03ull, FRAMES_PER_CASE);
}

TEST(random_frames_round_trip_seed_4) {
    round_trip(0x70F0F0F4ull, FRAMES_PER_CASE);
}

/* A stream of good frames with one bad opcode (10..15 or Welcome) at a
 * random place: exactly the frames before it come out, then the error, right
 * after its 16 header bytes. */
TEST(random_invalid_opcodes_are_rejected) {
    tofu_t_rng r;
    tofu_t_rng_seed(&r, 0xBAD0C0DEull);
    stream s = {0};
    tofu_msg *src[BATCH];
    for (int round = 0; round < 10000; round++) {
        int n = 1 + (int)tofu_t_rng_below(&r, 8), bad = (int)tofu_t_rng_below(&r, (uint64_t)n);
        s.len = 0;
        for (int i = 0; i < n; i++) {
            src[i] = rand_msg(&r, i == bad ? rand_bad_opcode(&r) : rand_wire_opcode(&r));
            stream_add(&s, src[i], i);
        }
        size_t bad_start = bad == 0 ? 0 : s.ends[bad - 1];
        outcome o = decode_stream(&r, &s, s.len, src, bad);
        ASSERT_EQ(o.last, TOFUI_DEC_ERROR);
        ASSERT_EQ(o.frames, bad);
        ASSERT_EQ(o.consumed, bad_start + TOFUI_BHDR_SIZE);
        destroy_all(src, n);
    }
    free(s.data);
}

/* The same decoder error statuses as the unit tests, for every bad proto
 * byte (any flag bits with opcodes 8..15). */
TEST(every_bad_proto_byte_gives_the_right_status) {
    for (unsigned v = 0; v < 256; v++) {
        uint8_t hdr[TOFUI_BHDR_SIZE] = {0};
        hdr[2] = (uint8_t)v;
        tofui_dec d;
        tofui_dec_init(&d);
        size_t used = 0;
        tofui_dec_rc rc = tofui_dec_feed(&d, NULL, hdr, sizeof hdr, &used);
        ASSERT_EQ(used, TOFUI_BHDR_SIZE);
        unsigned op = v & 0x0F;
        if (op < 8) {
            ASSERT_EQ(rc, TOFUI_DEC_NEED_MSG);
        } else {
            ASSERT_EQ(rc, TOFUI_DEC_ERROR);
            ASSERT_STATUS(op < 10 ? TOFU_INVALID_MESSAGE : TOFU_INVALID_OP_CODE, d.error);
        }
    }
}

/* A stream cut at a random place gives exactly the frames that lie wholly
 * before the cut, and the decoder says "mid frame" unless the cut falls on
 * a frame boundary. */
TEST(random_truncation_yields_no_extra_frame) {
    tofu_t_rng r;
    tofu_t_rng_seed(&r, 0x7E5CA7EDull);
    stream s = {0};
    tofu_msg *src[BATCH];
    for (int round = 0; round < 10000; round++) {
        int n = 1 + (int)tofu_t_rng_below(&r, 8);
        s.len = 0;
        for (int i = 0; i < n; i++) {
            src[i] = rand_msg(&r, rand_wire_opcode(&r));
            stream_add(&s, src[i], i);
        }
        /* Half the cuts land near a frame end, where off-by-one bugs live. */
        size_t cut = (size_t)tofu_t_rng_below(&r, s.len);
        if (tofu_t_rng_below(&r, 2) == 0) {
            size_t end = s.ends[tofu_t_rng_below(&r, (uint64_t)n)];
            cut = end - (size_t)tofu_t_rng_below(&r, end < 3 ? end + 1 : 3);
        }
        int whole = 0;
        while (whole < n && s.ends[whole] <= cut)
            whole++;
        bool boundary = cut == 0 || (whole > 0 && s.ends[whole - 1] == cut);
        outcome o = decode_stream(&r, &s, cut, src, n);
        ASSERT_TRUE(o.last != TOFUI_DEC_ERROR);
        ASSERT_EQ(o.frames, whole);
        ASSERT_EQ(o.consumed, cut);
        ASSERT_EQ(o.mid_frame, !boundary);
        destroy_all(src, n);
    }
    free(s.data);
}
