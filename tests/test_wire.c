/* The wire codec (SPEC §1): header bytes, the batch of frames the engine
 * writes (the same code) and the streaming decoder, against the byte
 * examples of the specification. */
#include "test.h"

#include "msg/wire.h"

#define MAX_FRAMES 64

/* The HelloRequest of SPEC §1.11: channel 0x2A3B, id 5, tcp|127.0.0.1|7099. */
static const uint8_t spec_hello[48] = {
    0x2A, 0x3B, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x05, 0x00, 0x20, 0x00, 0x00,
    0x7E, 0x63, 0x6F, 0x6E, 0x6E, 0x65, 0x63, 0x74, 0x5F, 0x74, 0x6F, 0x3A, /* ~connect_to: */
    0x74, 0x63, 0x70, 0x7C, 0x31, 0x32, 0x37, 0x2E, 0x30, 0x2E, 0x30, 0x2E, 0x31, 0x7C,
    0x37, 0x30, 0x39, 0x39, /* tcp|127.0.0.1|7099 */
    0x0D, 0x0A};

static tofu_msg *new_msg(void) {
    tofu_msg *m = NULL;
    ASSERT_OK(tofu_msg_create(&m));
    return m;
}

/* A message with the given opcode and parts; other header fields zero. */
static tofu_msg *make_msg(uint8_t opcode, const void *th, size_t thl, const void *body,
                          size_t bl) {
    tofu_msg *m = new_msg();
    m->bhdr.opcode = opcode;
    ASSERT_OK(tofu_msg_append_headers_raw(m, th, thl));
    ASSERT_OK(tofu_msg_append_body(m, body, bl));
    return m;
}

/* The stage of every batch built here. */
static unsigned char stage[TOFUI_BATCH_STAGE];

/* Appends the bytes of a batch's iovecs at out + *len, as a gather write
 * puts them on the socket; no iovec may be empty. */
static void gather_into(const tofui_batch *b, uint8_t *out, size_t *len) {
    for (int i = 0; i < b->n_iov; i++) {
        ASSERT_TRUE(b->iov[i].len > 0);
        memcpy(out + *len, b->iov[i].base, b->iov[i].len);
        *len += b->iov[i].len;
    }
}

/* Encodes m as a batch of one frame and appends its bytes at out + *len. */
static void encode_into(const tofu_msg *m, uint8_t *out, size_t *len) {
    tofui_batch b;
    size_t skip = 0;
    tofui_batch_init(&b, stage);
    ASSERT_TRUE(tofui_batch_add(&b, m, &skip));
    size_t before = *len;
    gather_into(&b, out, len);
    ASSERT_EQ(*len - before, b.total);
    ASSERT_EQ(b.total, tofui_frame_len(m));
}

/* Decodes a stream fed in chunks of `chunk` bytes, creating a message for
 * each frame when the decoder asks for one. Returns the last result (MORE or
 * ERROR); *n receives the number of frames. A message left over by a
 * truncated stream is destroyed. */
static tofui_dec_rc decode_chunks(tofui_dec *d, const uint8_t *p, size_t len, size_t chunk,
                                  tofu_msg **out, int *n) {
    tofu_msg *cur = NULL;
    tofui_dec_rc rc = TOFUI_DEC_MORE;
    *n = 0;
    for (size_t pos = 0; pos < len && rc != TOFUI_DEC_ERROR;) {
        size_t c = len - pos < chunk ? len - pos : chunk, off = 0;
        for (;;) {
            size_t used = 99999;
            rc = tofui_dec_feed(d, cur, p + pos + off, c - off, &used);
            ASSERT_TRUE(used <= c - off);
            off += used;
            if (rc == TOFUI_DEC_MORE) {
                ASSERT_EQ(off, c);
                break;
            }
            if (rc == TOFUI_DEC_ERROR)
                break;
            if (rc == TOFUI_DEC_NEED_MSG) {
                ASSERT_NULL(cur);
                cur = new_msg();
                continue;
            }
            ASSERT_TRUE(*n < MAX_FRAMES);
            out[(*n)++] = cur;
            cur = NULL;
        }
        pos += off;
    }
    tofu_msg_destroy(cur);
    return rc;
}

static void destroy_all(tofu_msg **m, int n) {
    for (int i = 0; i < n; i++)
        tofu_msg_destroy(m[i]);
}

/* Same header fields (thl/bl included), text headers and body. */
static void assert_same_msg(const tofu_msg *want, const tofu_msg *got) {
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

/* ---- header ---- */

TEST(header_packs_to_the_bytes_of_spec_1_2) {
    static const uint8_t want[16] = {0x12, 0x34, 0x00, 0xFF, 0xAA, 0xBB, 0xCC, 0xDD,
                                     0xEE, 0xFF, 0x00, 0x11, 0x56, 0x78, 0x9A, 0xBC};
    tofu_bhdr h = {.channel = 0x1234, .opcode = TOFU_OP_REQUEST, .status = 0xFF,
                   .message_id = 0xAABBCCDDEEFF0011ull, .thl = 0x5678, .bl = 0x9ABC};
    uint8_t out[16];
    tofui_bhdr_pack(&h, out);
    ASSERT_MEM_EQ(out, sizeof out, want, sizeof want);
}

TEST(header_unpacks_the_bytes_of_spec_1_2) {
    static const uint8_t in[16] = {0x12, 0x34, 0x00, 0xFF, 0xAA, 0xBB, 0xCC, 0xDD,
                                   0xEE, 0xFF, 0x00, 0x11, 0x56, 0x78, 0x9A, 0xBC};
    tofu_bhdr h;
    memset(&h, 0x5A, sizeof h);
    tofui_bhdr_unpack(in, &h);
    ASSERT_EQ(h.channel, 0x1234);
    ASSERT_EQ(h.opcode, TOFU_OP_REQUEST);
    ASSERT_EQ(h.origin, TOFU_ORIGIN_APPLICATION);
    ASSERT_FALSE(h.more);
    ASSERT_FALSE(h.internal_a);
    ASSERT_FALSE(h.internal_b);
    ASSERT_EQ(h.status, 0xFF);
    ASSERT_EQ(h.message_id, 0xAABBCCDDEEFF0011ull);
    ASSERT_EQ(h.thl, 0x5678);
    ASSERT_EQ(h.bl, 0x9ABC);
    uint8_t again[16];
    tofui_bhdr_pack(&h, again);
    ASSERT_MEM_EQ(again, sizeof again, in, sizeof in);
}

TEST(proto_byte_values_of_spec_1_3) {
    static const uint8_t want[10] = {0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09};
    for (uint8_t op = 0; op < 10; op++) {
        tofu_bhdr h = {.opcode = op};
        ASSERT_EQ(tofui_proto_pack(&h), want[op]);
    }
    tofu_bhdr bye = {.opcode = TOFU_OP_BYE_SIGNAL, .internal_a = true};
    ASSERT_EQ(tofui_proto_pack(&bye), 0x47);
    tofu_bhdr more = {.opcode = TOFU_OP_REQUEST, .more = true};
    ASSERT_EQ(tofui_proto_pack(&more), 0x20);
    tofu_bhdr engine = {.opcode = TOFU_OP_REQUEST, .origin = TOFU_ORIGIN_ENGINE};
    ASSERT_EQ(tofui_proto_pack(&engine), 0x10);
    tofu_bhdr b7 = {.opcode = TOFU_OP_SIGNAL, .internal_b = true};
    ASSERT_EQ(tofui_proto_pack(&b7), 0x82);
}

TEST(every_proto_byte_round_trips) {
    for (unsigned v = 0; v < 256; v++) {
        tofu_bhdr h;
        memset(&h, 0, sizeof h);
        tofui_proto_unpack((uint8_t)v, &h);
        ASSERT_EQ(h.opcode, v & 0x0F);
        ASSERT_EQ(h.origin, (v >> 4) & 1);
        ASSERT_EQ(h.more, (v >> 5) & 1);
        ASSERT_EQ(h.internal_a, (v >> 6) & 1);
        ASSERT_EQ(h.internal_b, (v >> 7) & 1);
        ASSERT_EQ(tofui_proto_pack(&h), v);
    }
}

TEST(header_fields_are_independent_bytes) {
    /* One field at a time set to all ones must touch only its own bytes. */
    uint8_t out[16];
    tofu_bhdr h = {.message_id = UINT64_MAX};
    tofui_bhdr_pack(&h, out);
    for (int i = 0; i < 16; i++)
        ASSERT_EQ(out[i], (i >= 4 && i < 12) ? 0xFF : 0x00);
    tofu_bhdr c = {.channel = 0x00FF, .bl = 0xFF00};
    tofui_bhdr_pack(&c, out);
    ASSERT_EQ(out[0], 0x00);
    ASSERT_EQ(out[1], 0xFF);
    ASSERT_EQ(out[14], 0xFF);
    ASSERT_EQ(out[15], 0x00);
}

/* ---- encoder ---- */

static tofu_msg *spec_hello_msg(void) {
    tofu_msg *m = new_msg();
    ASSERT_OK(tofu_msg_connect_tcp(m, "127.0.0.1", 7099));
    m->bhdr.channel = 0x2A3B;
    m->bhdr.message_id = 5;
    return m;
}

TEST(hello_request_encodes_to_the_48_bytes_of_spec_1_11) {
    tofu_msg *m = spec_hello_msg();
    uint8_t out[64];
    size_t len = 0;
    encode_into(m, out, &len);
    ASSERT_MEM_EQ(out, len, spec_hello, sizeof spec_hello);
    tofu_msg_destroy(m);
}

/* True when p lies inside the message buffer. */
static bool in_buf(const tofui_buf *buf, const void *p) {
    const char *c = p;
    return c >= buf->data && c < buf->data + buf->len;
}

/* True when p lies inside the stage (the batch copied it). */
static bool in_stage(const void *p) {
    const unsigned char *c = p;
    return c >= stage && c < stage + sizeof stage;
}

TEST(batch_copies_small_parts_and_points_at_big_ones) {
    tofu_msg *m = spec_hello_msg();
    uint8_t big[300];
    memset(big, 'b', sizeof big);
    ASSERT_OK(tofu_msg_append_body(m, big, sizeof big));
    m->bhdr.thl = 99; /* stale: the frame takes thl and bl from the buffers */
    m->bhdr.bl = 1;
    tofui_batch b;
    size_t skip = 0;
    tofui_batch_init(&b, stage);
    ASSERT_TRUE(tofui_batch_add(&b, m, &skip));
    ASSERT_EQ(b.n_iov, 2);
    ASSERT_TRUE(in_stage(b.iov[0].base)); /* header and the 32 header bytes */
    ASSERT_EQ(b.iov[0].len, 16 + 32);
    ASSERT_TRUE(b.iov[1].base == m->body.data); /* the body in place */
    ASSERT_EQ(b.iov[1].len, 300);
    ASSERT_EQ(b.total, 16 + 32 + 300);
    ASSERT_EQ(tofui_frame_len(m), 16 + 32 + 300);
    const uint8_t *hdr = b.iov[0].base;
    ASSERT_EQ(hdr[13], 32);
    ASSERT_EQ(hdr[14] << 8 | hdr[15], 300);
    ASSERT_MEM_EQ(hdr + 16, 32, m->thdrs.data, 32);
    tofu_msg_destroy(m);
}

/* Builds a batch after every possible number of sent bytes and checks that
 * it holds exactly the rest of the frame, with no empty iovec, and that
 * small parts were copied (one iovec) while parts over 256 bytes are
 * referenced in place. */
static void check_batch_at_every_offset(const tofu_msg *m) {
    static uint8_t whole[2 * 1024], rest[2 * 1024];
    size_t len = 0;
    encode_into(m, whole, &len);
    ASSERT_EQ(tofui_frame_len(m), len);
    for (size_t sent = 0; sent <= len; sent++) {
        tofui_batch b;
        size_t skip = sent, rlen = 0;
        tofui_batch_init(&b, stage);
        ASSERT_TRUE(tofui_batch_add(&b, m, &skip));
        ASSERT_EQ(skip, 0);
        gather_into(&b, rest, &rlen);
        ASSERT_MEM_EQ(rest, rlen, whole + sent, len - sent);
        ASSERT_EQ(b.total, len - sent);
        for (int i = 0; i < b.n_iov; i++) {
            if (in_stage(b.iov[i].base))
                continue;
            ASSERT_TRUE(b.iov[i].len > TOFUI_BATCH_COPY_MAX);
            ASSERT_TRUE(in_buf(&m->thdrs, b.iov[i].base) || in_buf(&m->body, b.iov[i].base));
        }
    }
}

TEST(batch_after_partial_writes_at_every_offset) {
    uint8_t big[300];
    memset(big, 'x', sizeof big);
    tofu_msg *full = make_msg(TOFU_OP_REQUEST, "a:b\r\n", 5, "0123456789", 10);
    tofu_msg *no_th = make_msg(TOFU_OP_SIGNAL, NULL, 0, "body", 4);
    tofu_msg *no_body = make_msg(TOFU_OP_RESPONSE, "k:v", 3, NULL, 0);
    tofu_msg *empty = make_msg(TOFU_OP_BYE_REQUEST, NULL, 0, NULL, 0);
    tofu_msg *big_body = make_msg(TOFU_OP_REQUEST, "k:v", 3, big, sizeof big);
    tofu_msg *big_both = make_msg(TOFU_OP_REQUEST, big, sizeof big, big, sizeof big);
    check_batch_at_every_offset(full);
    check_batch_at_every_offset(no_th);
    check_batch_at_every_offset(no_body);
    check_batch_at_every_offset(empty);
    check_batch_at_every_offset(big_body);
    check_batch_at_every_offset(big_both);

    /* The number of iovecs after 0, 16 (the header), and more bytes. */
    size_t counts[][3] = {{0, 1, 1}, {16, 1, 1}, {21, 1, 1}, {31, 0, 0}};
    for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++) {
        tofui_batch b;
        size_t skip = counts[i][0];
        tofui_batch_init(&b, stage);
        ASSERT_TRUE(tofui_batch_add(&b, full, &skip));
        ASSERT_EQ(b.n_iov, counts[i][1]);
    }
    /* A 300-byte body after 16 + 3 bytes: in place while more than 256
     * bytes of it are left, copied after that. */
    struct {
        size_t skip;
        int n_iov;
        size_t body_off; /* where the last iovec points into the body; SIZE_MAX: the stage */
    } big_counts[] = {{0, 2, 0}, {18, 2, 0}, {19, 1, 0}, {19 + 43, 1, 43}, {19 + 44, 1, SIZE_MAX}};
    for (size_t i = 0; i < sizeof big_counts / sizeof big_counts[0]; i++) {
        tofui_batch b;
        size_t skip = big_counts[i].skip;
        tofui_batch_init(&b, stage);
        ASSERT_TRUE(tofui_batch_add(&b, big_body, &skip));
        ASSERT_EQ(b.n_iov, big_counts[i].n_iov);
        const void *last = b.iov[b.n_iov - 1].base;
        if (big_counts[i].body_off == SIZE_MAX)
            ASSERT_TRUE(in_stage(last));
        else
            ASSERT_TRUE(last == big_body->body.data + big_counts[i].body_off);
    }
    tofui_batch b;
    size_t skip = 16;
    tofui_batch_init(&b, stage);
    ASSERT_TRUE(tofui_batch_add(&b, empty, &skip));
    ASSERT_EQ(b.n_iov, 0);
    tofu_msg_destroy(full);
    tofu_msg_destroy(no_th);
    tofu_msg_destroy(no_body);
    tofu_msg_destroy(empty);
    tofu_msg_destroy(big_body);
    tofu_msg_destroy(big_both);
}

/* Frames after the first go on while they fit; what does not fit is left
 * for the next write, and the bytes are the frames back to back. */
static void fill_batch(const tofu_msg *m, int want_frames, int want_iov) {
    static uint8_t got[TOFUI_BATCH_STAGE + 64 * 1024], want[TOFUI_BATCH_STAGE + 64 * 1024];
    tofui_batch b;
    size_t skip = 0, glen = 0, wlen = 0;
    int frames = 0;
    tofui_batch_init(&b, stage);
    while (tofui_batch_add(&b, m, &skip))
        frames++;
    ASSERT_EQ(frames, want_frames);
    ASSERT_EQ(b.n_iov, want_iov);
    ASSERT_TRUE(b.staged <= TOFUI_BATCH_STAGE);
    gather_into(&b, got, &glen);
    for (int i = 0; i < frames; i++)
        encode_into(m, want, &wlen);
    ASSERT_MEM_EQ(got, glen, want, wlen);
    ASSERT_EQ(b.total, wlen);
}

TEST(batch_stops_when_its_iovecs_or_its_stage_are_full) {
    static uint8_t part[300];
    memset(part, 'p', sizeof part);
    /* Two parts over 256 bytes: header copied, both parts in place, 3
     * iovecs a frame: 85 frames fill 255 of the 256 iovecs. */
    tofu_msg *refs = make_msg(TOFU_OP_REQUEST, part, 300, part, 300);
    fill_batch(refs, TOFUI_BATCH_IOV / 3, TOFUI_BATCH_IOV / 3 * 3);
    /* Everything copied (16 + 256 + 256 bytes a frame) into one iovec,
     * until the 64 KiB stage is full. */
    tofu_msg *copies = make_msg(TOFU_OP_REQUEST, part, 256, part, 256);
    fill_batch(copies, (int)(TOFUI_BATCH_STAGE / (16 + 256 + 256)), 1);
    tofu_msg_destroy(refs);
    tofu_msg_destroy(copies);
}

TEST(spec_hello_bytes_decode_to_the_hello_request) {
    tofui_dec d;
    tofui_dec_init(&d);
    tofu_msg *got[MAX_FRAMES];
    int n = 0;
    ASSERT_EQ(decode_chunks(&d, spec_hello, sizeof spec_hello, sizeof spec_hello, got, &n),
              TOFUI_DEC_MORE);
    ASSERT_EQ(n, 1);
    tofu_msg *want = spec_hello_msg();
    assert_same_msg(want, got[0]);
    tofu_header h;
    ASSERT_TRUE(tofu_msg_find_header(got[0], TOFU_HDR_CONNECT_TO, &h));
    ASSERT_MEM_EQ(h.value, h.value_len, "tcp|127.0.0.1|7099", 18);
    ASSERT_FALSE(tofui_dec_mid_frame(&d));
    tofu_msg_destroy(want);
    destroy_all(got, n);
}

TEST(decode_one_byte_at_a_time) {
    tofu_msg *m = make_msg(TOFU_OP_RESPONSE, "name:value\r\n", 12, "some body", 9);
    m->bhdr.channel = 7;
    m->bhdr.message_id = 0x0102030405060708ull;
    uint8_t buf[128];
    size_t len = 0;
    encode_into(m, buf, &len);
    tofui_dec d;
    tofui_dec_init(&d);
    tofu_msg *got[MAX_FRAMES];
    int n = 0;
    ASSERT_EQ(decode_chunks(&d, buf, len, 1, got, &n), TOFUI_DEC_MORE);
    ASSERT_EQ(n, 1);
    assert_same_msg(m, got[0]);
    destroy_all(got, n);
    tofu_msg_destroy(m);
}

TEST(many_frames_in_one_chunk) {
    uint8_t buf[2048];
    size_t len = 0;
    tofu_msg *src[10];
    for (int i = 0; i < 10; i++) {
        char body[40];
        int bl = snprintf(body, sizeof body, "frame number %d", i);
        src[i] = make_msg((uint8_t)(i % 8), "h:v\r\n", (size_t)(i % 2) * 5, body, (size_t)bl);
        src[i]->bhdr.message_id = (uint64_t)i + 1;
        src[i]->bhdr.channel = (uint16_t)(100 + i);
        encode_into(src[i], buf, &len);
    }
    for (size_t chunk = 1; chunk <= len; chunk = chunk * 3 + 1) {
        tofui_dec d;
        tofui_dec_init(&d);
        tofu_msg *got[MAX_FRAMES];
        int n = 0;
        ASSERT_EQ(decode_chunks(&d, buf, len, chunk, got, &n), TOFUI_DEC_MORE);
        ASSERT_EQ(n, 10);
        for (int i = 0; i < 10; i++)
            assert_same_msg(src[i], got[i]);
        destroy_all(got, n);
    }
    /* And the whole stream in one call. */
    tofui_dec d;
    tofui_dec_init(&d);
    tofu_msg *got[MAX_FRAMES];
    int n = 0;
    ASSERT_EQ(decode_chunks(&d, buf, len, len, got, &n), TOFUI_DEC_MORE);
    ASSERT_EQ(n, 10);
    destroy_all(got, n);
    destroy_all(src, 10);
}

TEST(empty_headers_and_body) {
    tofu_msg *m = make_msg(TOFU_OP_SIGNAL, NULL, 0, NULL, 0);
    uint8_t buf[64];
    size_t len = 0;
    encode_into(m, buf, &len);
    encode_into(m, buf, &len);
    ASSERT_EQ(len, 32);
    tofui_dec d;
    tofui_dec_init(&d);
    tofu_msg *got[MAX_FRAMES];
    int n = 0;
    ASSERT_EQ(decode_chunks(&d, buf, len, 16, got, &n), TOFUI_DEC_MORE);
    ASSERT_EQ(n, 2);
    assert_same_msg(m, got[0]);
    assert_same_msg(m, got[1]);
    ASSERT_EQ(got[0]->thdrs.len, 0);
    ASSERT_EQ(got[0]->body.len, 0);
    destroy_all(got, n);
    tofu_msg_destroy(m);
}

TEST(largest_parts_of_65535_bytes) {
    size_t max = TOFU_MAX_PART_LEN;
    uint8_t *th = malloc(max), *body = malloc(max);
    uint8_t *buf = malloc(2 * (16 + 2 * max));
    ASSERT_TRUE(th && body && buf);
    for (size_t i = 0; i < max; i++) {
        th[i] = (uint8_t)(i * 7);
        body[i] = (uint8_t)(i * 13 + 1);
    }
    tofu_msg *m = make_msg(TOFU_OP_REQUEST, th, max, body, max);
    tofu_msg *only_body = make_msg(TOFU_OP_RESPONSE, NULL, 0, body, max);
    size_t len = 0;
    encode_into(m, buf, &len);
    encode_into(only_body, buf, &len);
    ASSERT_EQ(len, 16 + 2 * max + 16 + max);
    ASSERT_EQ(buf[12], 0xFF);
    ASSERT_EQ(buf[13], 0xFF);
    size_t chunks[] = {1000, 4096, 65536, len};
    for (size_t i = 0; i < sizeof chunks / sizeof chunks[0]; i++) {
        tofui_dec d;
        tofui_dec_init(&d);
        tofu_msg *got[MAX_FRAMES];
        int n = 0;
        ASSERT_EQ(decode_chunks(&d, buf, len, chunks[i], got, &n), TOFUI_DEC_MORE);
        ASSERT_EQ(n, 2);
        assert_same_msg(m, got[0]);
        assert_same_msg(only_body, got[1]);
        destroy_all(got, n);
    }
    tofu_msg_destroy(m);
    tofu_msg_destroy(only_body);
    free(th);
    free(body);
    free(buf);
}

/* A 16-byte header with the given proto byte and empty parts. */
static void raw_header(uint8_t proto, uint8_t out[16]) {
    tofu_bhdr h = {.channel = 1, .message_id = 9};
    tofui_bhdr_pack(&h, out);
    out[2] = proto;
}

/* Feeds a header one byte at a time: no error may show before byte 16, and
 * byte 16 must give `want`. */
static void assert_rejected_at_byte_16(uint8_t proto, tofu_status want) {
    uint8_t hdr[16];
    raw_header(proto, hdr);
    tofui_dec d;
    tofui_dec_init(&d);
    size_t used = 0;
    for (int i = 0; i < 15; i++) {
        ASSERT_EQ(tofui_dec_feed(&d, NULL, hdr + i, 1, &used), TOFUI_DEC_MORE);
        ASSERT_EQ(used, 1);
    }
    ASSERT_EQ(tofui_dec_feed(&d, NULL, hdr + 15, 1, &used), TOFUI_DEC_ERROR);
    ASSERT_EQ(used, 1);
    ASSERT_STATUS(want, d.error);
    /* The stream stays dead, with or without a message. */
    tofu_msg *m = new_msg();
    ASSERT_EQ(tofui_dec_feed(&d, m, hdr, 16, &used), TOFUI_DEC_ERROR);
    ASSERT_EQ(used, 0);
    ASSERT_STATUS(want, d.error);
    tofu_msg_destroy(m);
}

TEST(opcodes_10_to_15_are_rejected) {
    for (uint8_t op = 10; op < 16; op++) {
        assert_rejected_at_byte_16(op, TOFU_INVALID_OP_CODE);
        assert_rejected_at_byte_16((uint8_t)(op | 0xF0), TOFU_INVALID_OP_CODE);
    }
}

TEST(welcome_opcodes_from_the_wire_are_rejected) {
    assert_rejected_at_byte_16(TOFU_OP_WELCOME_REQUEST, TOFU_INVALID_MESSAGE);
    assert_rejected_at_byte_16(TOFU_OP_WELCOME_RESPONSE, TOFU_INVALID_MESSAGE);
    assert_rejected_at_byte_16(TOFU_OP_WELCOME_RESPONSE | 0x10, TOFU_INVALID_MESSAGE);
}

TEST(invalid_header_after_good_frames_in_one_chunk) {
    tofu_msg *good = make_msg(TOFU_OP_REQUEST, "a:b", 3, "c", 1);
    uint8_t buf[128];
    size_t len = 0;
    encode_into(good, buf, &len);
    size_t good_len = len;
    raw_header(13, buf + len);
    len += 16;
    memset(buf + len, 0xEE, 20); /* garbage the decoder must not consume */
    len += 20;
    tofui_dec d;
    tofui_dec_init(&d);
    tofu_msg *m = new_msg();
    size_t used = 0;
    ASSERT_EQ(tofui_dec_feed(&d, NULL, buf, len, &used), TOFUI_DEC_NEED_MSG);
    ASSERT_EQ(used, 16);
    size_t off = used;
    ASSERT_EQ(tofui_dec_feed(&d, m, buf + off, len - off, &used), TOFUI_DEC_FRAME);
    off += used;
    ASSERT_EQ(off, good_len);
    assert_same_msg(good, m);
    ASSERT_EQ(tofui_dec_feed(&d, NULL, buf + off, len - off, &used), TOFUI_DEC_ERROR);
    ASSERT_EQ(used, 16);
    ASSERT_STATUS(TOFU_INVALID_OP_CODE, d.error);
    tofu_msg_destroy(m);
    tofu_msg_destroy(good);
}

TEST(origin_bit_from_the_wire_is_cleared) {
    tofu_msg *m = make_msg(TOFU_OP_SIGNAL, "x:y", 3, "z", 1);
    m->bhdr.origin = TOFU_ORIGIN_ENGINE;
    m->bhdr.status = TOFU_CHANNEL_CLOSED;
    m->bhdr.internal_a = true;
    m->bhdr.internal_b = true;
    m->bhdr.more = true;
    uint8_t buf[64];
    size_t len = 0;
    encode_into(m, buf, &len);
    ASSERT_EQ(buf[2], 0xF2); /* the encoder sends what it is given */
    tofui_dec d;
    tofui_dec_init(&d);
    tofu_msg *got[MAX_FRAMES];
    int n = 0;
    ASSERT_EQ(decode_chunks(&d, buf, len, len, got, &n), TOFUI_DEC_MORE);
    ASSERT_EQ(n, 1);
    ASSERT_EQ(got[0]->bhdr.origin, TOFU_ORIGIN_APPLICATION);
    ASSERT_FALSE(tofu_msg_from_engine(got[0]));
    /* Everything else passes through untouched. */
    assert_same_msg(m, got[0]);
    destroy_all(got, n);
    tofu_msg_destroy(m);
}

TEST(truncated_input_yields_no_frame) {
    tofu_msg *m = make_msg(TOFU_OP_REQUEST, "k:v\r\n", 5, "payload", 7);
    uint8_t buf[64];
    size_t len = 0;
    encode_into(m, buf, &len);
    for (size_t cut = 0; cut < len; cut++) {
        for (size_t chunk = 1; chunk <= cut + 1; chunk++) {
            tofui_dec d;
            tofui_dec_init(&d);
            tofu_msg *got[MAX_FRAMES];
            int n = 0;
            ASSERT_EQ(decode_chunks(&d, buf, cut, chunk, got, &n), TOFUI_DEC_MORE);
            ASSERT_EQ(n, 0);
            ASSERT_EQ(tofui_dec_mid_frame(&d), cut > 0);
        }
    }
    tofu_msg_destroy(m);
}

TEST(need_msg_protocol) {
    tofu_msg *src = make_msg(TOFU_OP_HELLO_RESPONSE, "a:1", 3, "bb", 2);
    uint8_t buf[64];
    size_t len = 0;
    encode_into(src, buf, &len);
    tofui_dec d;
    tofui_dec_init(&d);
    size_t used = 0;
    ASSERT_FALSE(tofui_dec_mid_frame(&d));
    ASSERT_EQ(tofui_dec_feed(&d, NULL, buf, 10, &used), TOFUI_DEC_MORE);
    ASSERT_EQ(used, 10);
    ASSERT_TRUE(tofui_dec_mid_frame(&d));
    ASSERT_EQ(tofui_dec_feed(&d, NULL, buf + 10, len - 10, &used), TOFUI_DEC_NEED_MSG);
    ASSERT_EQ(used, 6); /* only the header was consumed */
    ASSERT_TRUE(tofui_dec_mid_frame(&d));
    /* Asking again without a message consumes nothing. */
    ASSERT_EQ(tofui_dec_feed(&d, NULL, buf + 16, len - 16, &used), TOFUI_DEC_NEED_MSG);
    ASSERT_EQ(used, 0);
    /* Nothing available yet with a message: MORE, nothing consumed. */
    tofu_msg *m = new_msg();
    ASSERT_EQ(tofui_dec_feed(&d, m, NULL, 0, &used), TOFUI_DEC_MORE);
    ASSERT_EQ(used, 0);
    ASSERT_EQ(tofui_dec_feed(&d, m, buf + 16, 2, &used), TOFUI_DEC_MORE);
    ASSERT_EQ(used, 2);
    ASSERT_EQ(tofui_dec_feed(&d, m, buf + 18, len - 18, &used), TOFUI_DEC_FRAME);
    ASSERT_EQ(used, len - 18);
    assert_same_msg(src, m);
    ASSERT_FALSE(tofui_dec_mid_frame(&d));
    tofu_msg_destroy(m);
    tofu_msg_destroy(src);
}

TEST(empty_frame_needs_a_message_too) {
    uint8_t hdr[16];
    raw_header(TOFU_OP_SIGNAL, hdr);
    tofui_dec d;
    tofui_dec_init(&d);
    size_t used = 0;
    ASSERT_EQ(tofui_dec_feed(&d, NULL, hdr, 16, &used), TOFUI_DEC_NEED_MSG);
    ASSERT_EQ(used, 16);
    tofu_msg *m = new_msg();
    ASSERT_EQ(tofui_dec_feed(&d, m, NULL, 0, &used), TOFUI_DEC_FRAME);
    ASSERT_EQ(used, 0);
    ASSERT_EQ(m->bhdr.channel, 1);
    ASSERT_EQ(m->bhdr.message_id, 9);
    ASSERT_EQ(m->bhdr.opcode, TOFU_OP_SIGNAL);
    tofu_msg_destroy(m);
}

TEST(decoder_sizes_a_used_message_exactly) {
    tofu_msg *src = make_msg(TOFU_OP_REQUEST, "a:b", 3, "tiny", 4);
    uint8_t buf[64];
    size_t len = 0;
    encode_into(src, buf, &len);
    /* A recycled message with longer old contents must come out exact. */
    tofu_msg *m = new_msg();
    char junk[1000];
    memset(junk, 'j', sizeof junk);
    ASSERT_OK(tofu_msg_append_headers_raw(m, junk, sizeof junk));
    ASSERT_OK(tofu_msg_append_body(m, junk, sizeof junk));
    m->bhdr.origin = TOFU_ORIGIN_ENGINE;
    tofui_dec d;
    tofui_dec_init(&d);
    size_t used = 0;
    ASSERT_EQ(tofui_dec_feed(&d, NULL, buf, len, &used), TOFUI_DEC_NEED_MSG);
    ASSERT_EQ(tofui_dec_feed(&d, m, buf + used, len - used, &used), TOFUI_DEC_FRAME);
    assert_same_msg(src, m);
    tofu_msg_destroy(m);
    tofu_msg_destroy(src);
}

TEST(decoder_never_reads_past_the_given_length) {
    /* A heap copy of exactly the frame's bytes: ASan catches any overread. */
    tofu_msg *src = make_msg(TOFU_OP_REQUEST, "k:v", 3, "body", 4);
    uint8_t tmp[64];
    size_t len = 0;
    encode_into(src, tmp, &len);
    for (size_t cut = 0; cut <= len; cut++) {
        uint8_t *exact = malloc(cut ? cut : 1);
        ASSERT_NOT_NULL(exact);
        memcpy(exact, tmp, cut);
        tofui_dec d;
        tofui_dec_init(&d);
        tofu_msg *got[MAX_FRAMES];
        int n = 0;
        ASSERT_EQ(decode_chunks(&d, exact, cut, cut ? cut : 1, got, &n), TOFUI_DEC_MORE);
        ASSERT_EQ(n, cut == len ? 1 : 0);
        destroy_all(got, n);
        free(exact);
    }
    tofu_msg_destroy(src);
}

/* The fast path (tofui_dec_whole_len + tofui_dec_whole) takes exactly the
 * frames that lie whole after a frame boundary with an opcode below 8, and
 * decodes them as the general path does; everything else is left to it. */
TEST(whole_frame_fast_path_matches_the_general_decoder) {
    uint8_t buf[2048];
    size_t len = 0;
    tofu_msg *src[10];
    size_t end[10];
    for (int i = 0; i < 10; i++) {
        char body[40];
        int bl = snprintf(body, sizeof body, "frame %d", i);
        src[i] = make_msg((uint8_t)(i % 8), "h:v\r\n", (size_t)(i % 2) * 5, body, (size_t)bl);
        src[i]->bhdr.message_id = (uint64_t)i + 1;
        src[i]->bhdr.channel = (uint16_t)(100 + i);
        src[i]->bhdr.more = i % 3 == 0;
        src[i]->bhdr.internal_b = true;
        src[i]->bhdr.origin = TOFU_ORIGIN_ENGINE; /* forced to application */
        encode_into(src[i], buf, &len);
        end[i] = len;
    }
    tofui_dec d;
    tofui_dec_init(&d);
    size_t pos = 0;
    for (int i = 0; i < 10; i++) {
        /* One byte short of the frame: not whole. */
        ASSERT_EQ(tofui_dec_whole_len(&d, buf + pos, end[i] - pos - 1), 0);
        ASSERT_EQ(tofui_dec_whole_len(&d, buf + pos, len - pos), end[i] - pos);
        tofu_msg *m = new_msg();
        ASSERT_EQ(tofui_dec_whole(&d, m, buf + pos), TOFUI_DEC_FRAME);
        ASSERT_FALSE(tofui_dec_mid_frame(&d));
        assert_same_msg(src[i], m);
        tofu_msg_destroy(m);
        pos = end[i];
    }
    /* Mid-frame (after the general path took a header piece): not whole. */
    size_t used = 0;
    ASSERT_EQ(tofui_dec_feed(&d, NULL, buf, 3, &used), TOFUI_DEC_MORE);
    ASSERT_EQ(tofui_dec_whole_len(&d, buf + 3, len - 3), 0);
    /* Welcome and invalid opcodes go to the general path, which refuses
     * them. */
    for (unsigned op = TOFU_OP_WELCOME_REQUEST; op < 16; op++) {
        uint8_t hdr[16];
        raw_header((uint8_t)op, hdr);
        tofui_dec_init(&d);
        ASSERT_EQ(tofui_dec_whole_len(&d, hdr, sizeof hdr), 0);
        ASSERT_EQ(tofui_dec_feed(&d, NULL, hdr, sizeof hdr, &used), TOFUI_DEC_ERROR);
        /* and a dead decoder never takes the fast path */
        raw_header(TOFU_OP_SIGNAL, hdr);
        ASSERT_EQ(tofui_dec_whole_len(&d, hdr, sizeof hdr), 0);
    }
    destroy_all(src, 10);
    ASSERT_EQ(tofu_live_messages(), 0);
}
