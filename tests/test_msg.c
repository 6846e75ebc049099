/* The message object (SPEC §2): lifecycle, header accessors, body and raw
 * text-header buffers, the 65535 limits, the growth rule of the buffers, the
 * message id counter and the live-message count. */
#include "test.h"

#include "msg/msg.h"
#include "platform/platform.h"

static tofu_msg *new_msg(void) {
    tofu_msg *m = NULL;
    ASSERT_OK(tofu_msg_create(&m));
    ASSERT_NOT_NULL(m);
    return m;
}

/* A buffer of n bytes with a recognisable pattern. */
static unsigned char *pattern(size_t n, unsigned seed) {
    unsigned char *p = malloc(n ? n : 1);
    ASSERT_NOT_NULL(p);
    for (size_t i = 0; i < n; i++)
        p[i] = (unsigned char)(i * 31u + seed);
    return p;
}

static void fill_header(tofu_msg *m) {
    tofu_bhdr *h = tofu_msg_bhdr(m);
    h->channel = 0x2A3B;
    h->opcode = TOFU_OP_HELLO_RESPONSE;
    h->origin = TOFU_ORIGIN_ENGINE;
    h->more = true;
    h->internal_a = true;
    h->internal_b = true;
    h->status = TOFU_CHANNEL_CLOSED;
    h->message_id = 0x0102030405060708ull;
    h->thl = 32;
    h->bl = 7;
}

static void assert_header_zero(const tofu_msg *m) {
    const tofu_bhdr *h = tofu_msg_bhdr_const(m);
    ASSERT_EQ(h->channel, 0);
    ASSERT_EQ(h->opcode, 0);
    ASSERT_EQ(h->origin, 0);
    ASSERT_FALSE(h->more);
    ASSERT_FALSE(h->internal_a);
    ASSERT_FALSE(h->internal_b);
    ASSERT_EQ(h->status, 0);
    ASSERT_EQ(h->message_id, 0);
    ASSERT_EQ(h->thl, 0);
    ASSERT_EQ(h->bl, 0);
}

/* ---- lifecycle ---- */

TEST(create_gives_a_zeroed_header_and_empty_256_byte_buffers) {
    tofu_msg *m = new_msg();
    assert_header_zero(m);
    ASSERT_EQ(m->thdrs.len, 0);
    ASSERT_EQ(m->thdrs.cap, 256);
    ASSERT_EQ(m->body.len, 0);
    ASSERT_EQ(m->body.cap, 256);
    ASSERT_NULL(tofu_msg_user(m));
    ASSERT_NULL(m->ctx);
    ASSERT_NULL(m->next);
    tofu_msg_destroy(m);
    ASSERT_EQ(tofu_live_messages(), 0);
}

TEST(live_message_count_follows_create_clone_and_destroy) {
    ASSERT_EQ(tofu_live_messages(), 0);
    tofu_msg *a = new_msg();
    ASSERT_EQ(tofu_live_messages(), 1);
    tofu_msg *b = new_msg();
    ASSERT_EQ(tofu_live_messages(), 2);
    tofu_msg *c = NULL;
    ASSERT_OK(tofu_msg_clone(a, &c));
    ASSERT_EQ(tofu_live_messages(), 3);
    tofu_msg_destroy(b);
    ASSERT_EQ(tofu_live_messages(), 2);
    tofu_msg_destroy(NULL); /* a no-op: must not decrement */
    ASSERT_EQ(tofu_live_messages(), 2);
    tofu_msg_destroy(a);
    tofu_msg_destroy(c);
    ASSERT_EQ(tofu_live_messages(), 0);
}

TEST(reset_zeroes_header_empties_buffers_clears_pointers_and_keeps_capacity) {
    tofu_msg *m = new_msg();
    unsigned char *p = pattern(1000, 1);
    fill_header(m);
    ASSERT_OK(tofu_msg_append_body(m, p, 1000));
    ASSERT_OK(tofu_msg_append_headers_raw(m, p, 600));
    int anchor;
    tofu_msg_set_user(m, &anchor);
    m->ctx = &anchor;
    size_t body_cap = m->body.cap, th_cap = m->thdrs.cap;
    ASSERT_EQ(body_cap, 1024);
    ASSERT_EQ(th_cap, 768);

    tofu_msg_reset(m);
    assert_header_zero(m);
    size_t n = 99;
    tofu_msg_body(m, &n);
    ASSERT_EQ(n, 0);
    tofu_msg_headers(m, &n);
    ASSERT_EQ(n, 0);
    ASSERT_EQ(m->body.cap, body_cap);
    ASSERT_EQ(m->thdrs.cap, th_cap);
    ASSERT_NULL(tofu_msg_user(m));
    ASSERT_NULL(m->ctx);
    free(p);
    tofu_msg_destroy(m);
    ASSERT_EQ(tofu_live_messages(), 0);
}

TEST(internal_clear_also_unlinks_the_message) {
    tofu_msg *a = new_msg(), *b = new_msg();
    fill_header(a);
    a->next = b;
    a->ctx = b;
    tofui_msg_clear(a);
    assert_header_zero(a);
    ASSERT_NULL(a->next);
    ASSERT_NULL(a->ctx);
    tofu_msg_destroy(a);
    tofu_msg_destroy(b);
    ASSERT_EQ(tofu_live_messages(), 0);
}

TEST(clone_is_a_deep_copy_of_header_headers_body_and_user_pointer) {
    tofu_msg *m = new_msg();
    int anchor;
    fill_header(m);
    tofu_msg_set_user(m, &anchor);
    m->ctx = &anchor;
    ASSERT_OK(tofu_msg_add_header(m, "k", "v"));
    ASSERT_OK(tofu_msg_append_body(m, "payload", 7));

    tofu_msg *c = NULL;
    ASSERT_OK(tofu_msg_clone(m, &c));
    ASSERT_TRUE(c != m);
    ASSERT_MEM_EQ(tofu_msg_bhdr(c), sizeof(tofu_bhdr), tofu_msg_bhdr(m), sizeof(tofu_bhdr));
    ASSERT_TRUE(tofu_msg_user(c) == &anchor);
    ASSERT_NULL(c->ctx); /* the copy belongs to no group */
    ASSERT_NULL(c->next);
    size_t hl, bl;
    const char *h = tofu_msg_headers(c, &hl);
    const void *b = tofu_msg_body(c, &bl);
    ASSERT_MEM_EQ(h, hl, "k:v\r\n", 5);
    ASSERT_MEM_EQ(b, bl, "payload", 7);
    ASSERT_TRUE(h != m->thdrs.data);
    ASSERT_TRUE(b != m->body.data);

    /* Changing the original afterwards leaves the copy alone. */
    tofu_msg_reset(m);
    ASSERT_OK(tofu_msg_append_body(m, "XXXXXXX", 7));
    ASSERT_OK(tofu_msg_append_headers_raw(m, "YYYYY", 5));
    h = tofu_msg_headers(c, &hl);
    b = tofu_msg_body(c, &bl);
    ASSERT_MEM_EQ(h, hl, "k:v\r\n", 5);
    ASSERT_MEM_EQ(b, bl, "payload", 7);
    ASSERT_EQ(tofu_msg_channel(c), 0x2A3B);
    tofu_msg_destroy(m);
    tofu_msg_destroy(c);
    ASSERT_EQ(tofu_live_messages(), 0);
}

TEST(clone_copies_parts_of_the_maximum_length) {
    tofu_msg *m = new_msg();
    unsigned char *p = pattern(TOFU_MAX_PART_LEN, 7);
    ASSERT_OK(tofu_msg_append_body(m, p, TOFU_MAX_PART_LEN));
    ASSERT_OK(tofu_msg_append_headers_raw(m, p, TOFU_MAX_PART_LEN));
    tofu_msg *c = NULL;
    ASSERT_OK(tofu_msg_clone(m, &c));
    size_t n;
    const void *b = tofu_msg_body(c, &n);
    ASSERT_MEM_EQ(b, n, p, TOFU_MAX_PART_LEN);
    const char *h = tofu_msg_headers(c, &n);
    ASSERT_MEM_EQ(h, n, p, TOFU_MAX_PART_LEN);
    ASSERT_EQ(c->body.cap % 256, 0);
    free(p);
    tofu_msg_destroy(m);
    tofu_msg_destroy(c);
    ASSERT_EQ(tofu_live_messages(), 0);
}

/* ---- header accessors ---- */

TEST(accessors_read_and_write_the_binary_header_in_place) {
    tofu_msg *m = new_msg();
    tofu_msg_set_opcode(m, TOFU_OP_BYE_REQUEST);
    tofu_msg_set_channel(m, 65534);
    tofu_msg_set_id(m, UINT64_MAX);
    ASSERT_EQ(tofu_msg_opcode(m), TOFU_OP_BYE_REQUEST);
    ASSERT_EQ(tofu_msg_channel(m), 65534);
    ASSERT_EQ(tofu_msg_id(m), UINT64_MAX);
    const tofu_bhdr *h = tofu_msg_bhdr_const(m);
    ASSERT_EQ(h->opcode, TOFU_OP_BYE_REQUEST);
    ASSERT_EQ(h->channel, 65534);
    ASSERT_EQ(h->message_id, UINT64_MAX);
    ASSERT_TRUE(h == tofu_msg_bhdr(m));

    tofu_msg_bhdr(m)->channel = 17;
    tofu_msg_bhdr(m)->opcode = 12; /* invalid opcodes are stored as given */
    ASSERT_EQ(tofu_msg_channel(m), 17);
    ASSERT_EQ(tofu_msg_opcode(m), 12);
    tofu_msg_destroy(m);
    ASSERT_EQ(tofu_live_messages(), 0);
}

TEST(status_accessor_reads_raw_bytes_of_31_and_above_as_unknown_error) {
    tofu_msg *m = new_msg();
    ASSERT_STATUS(TOFU_SUCCESS, tofu_msg_status(m));
    tofu_msg_bhdr(m)->status = TOFU_POOL_EMPTY;
    ASSERT_STATUS(TOFU_POOL_EMPTY, tofu_msg_status(m));
    tofu_msg_bhdr(m)->status = 200;
    ASSERT_STATUS(TOFU_UNKNOWN_ERROR, tofu_msg_status(m));
    tofu_msg_destroy(m);
    ASSERT_EQ(tofu_live_messages(), 0);
}

TEST(from_engine_follows_the_origin_bit) {
    tofu_msg *m = new_msg();
    ASSERT_FALSE(tofu_msg_from_engine(m));
    tofu_msg_bhdr(m)->origin = TOFU_ORIGIN_ENGINE;
    ASSERT_TRUE(tofu_msg_from_engine(m));
    tofu_msg_bhdr(m)->origin = TOFU_ORIGIN_APPLICATION;
    ASSERT_FALSE(tofu_msg_from_engine(m));
    tofu_msg_destroy(m);
    ASSERT_EQ(tofu_live_messages(), 0);
}

TEST(user_pointer_round_trips) {
    tofu_msg *m = new_msg();
    int x;
    tofu_msg_set_user(m, &x);
    ASSERT_TRUE(tofu_msg_user(m) == &x);
    tofu_msg_set_user(m, NULL);
    ASSERT_NULL(tofu_msg_user(m));
    tofu_msg_destroy(m);
    ASSERT_EQ(tofu_live_messages(), 0);
}

/* ---- body ---- */

TEST(body_appends_accumulate_and_clear_keeps_capacity) {
    tofu_msg *m = new_msg();
    ASSERT_OK(tofu_msg_append_body(m, "hello ", 6));
    ASSERT_OK(tofu_msg_append_body(m, "world", 5));
    ASSERT_OK(tofu_msg_append_body(m, NULL, 0));
    size_t n = 0;
    const void *b = tofu_msg_body(m, &n);
    ASSERT_MEM_EQ(b, n, "hello world", 11);
    ASSERT_NOT_NULL(tofu_msg_body(m, NULL)); /* len may be NULL */
    unsigned char *p = pattern(700, 3);
    ASSERT_OK(tofu_msg_append_body(m, p, 700));
    size_t cap = m->body.cap;
    tofu_msg_clear_body(m);
    tofu_msg_body(m, &n);
    ASSERT_EQ(n, 0);
    ASSERT_EQ(m->body.cap, cap);
    free(p);
    tofu_msg_destroy(m);
    ASSERT_EQ(tofu_live_messages(), 0);
}

TEST(body_append_of_null_data_with_a_length_is_rejected) {
    tofu_msg *m = new_msg();
    ASSERT_STATUS(TOFU_INVALID_MESSAGE, tofu_msg_append_body(m, NULL, 3));
    ASSERT_STATUS(TOFU_INVALID_MESSAGE, tofu_msg_append_headers_raw(m, NULL, 3));
    size_t n = 9;
    tofu_msg_body(m, &n);
    ASSERT_EQ(n, 0);
    tofu_msg_destroy(m);
    ASSERT_EQ(tofu_live_messages(), 0);
}

TEST(body_accepts_exactly_65535_bytes) {
    tofu_msg *m = new_msg();
    unsigned char *p = pattern(65535, 5);
    ASSERT_OK(tofu_msg_append_body(m, p, 65535));
    size_t n;
    const void *b = tofu_msg_body(m, &n);
    ASSERT_MEM_EQ(b, n, p, 65535);
    ASSERT_STATUS(TOFU_INVALID_BODY_LEN, tofu_msg_append_body(m, "x", 1));
    b = tofu_msg_body(m, &n);
    ASSERT_MEM_EQ(b, n, p, 65535);
    free(p);
    tofu_msg_destroy(m);
    ASSERT_EQ(tofu_live_messages(), 0);
}

TEST(body_of_65536_bytes_is_rejected_with_invalid_body_len_and_body_unchanged) {
    tofu_msg *m = new_msg();
    unsigned char *p = pattern(65536, 9);
    ASSERT_OK(tofu_msg_append_body(m, "abc", 3));
    ASSERT_STATUS(TOFU_INVALID_BODY_LEN, tofu_msg_append_body(m, p, 65536));
    ASSERT_STATUS(TOFU_INVALID_BODY_LEN, tofu_msg_append_body(m, p, 65533));
    ASSERT_STATUS(TOFU_INVALID_BODY_LEN, tofu_msg_append_body(m, p, SIZE_MAX));
    size_t n;
    const void *b = tofu_msg_body(m, &n);
    ASSERT_MEM_EQ(b, n, "abc", 3);
    ASSERT_EQ(m->body.cap, 256); /* nothing was allocated for the refused append */
    ASSERT_OK(tofu_msg_append_body(m, p, 65532)); /* 3 + 65532 = 65535 */
    tofu_msg_body(m, &n);
    ASSERT_EQ(n, 65535);
    free(p);
    tofu_msg_destroy(m);
    ASSERT_EQ(tofu_live_messages(), 0);
}

/* ---- raw text-header block ---- */

TEST(raw_headers_append_view_and_clear) {
    tofu_msg *m = new_msg();
    ASSERT_OK(tofu_msg_append_headers_raw(m, "a: b", 4));
    ASSERT_OK(tofu_msg_append_headers_raw(m, "\r\n", 2));
    size_t n;
    const char *h = tofu_msg_headers(m, &n);
    ASSERT_MEM_EQ(h, n, "a: b\r\n", 6);
    tofu_msg_clear_headers(m);
    tofu_msg_headers(m, &n);
    ASSERT_EQ(n, 0);
    ASSERT_EQ(m->thdrs.cap, 256);
    tofu_msg_destroy(m);
    ASSERT_EQ(tofu_live_messages(), 0);
}

TEST(raw_headers_accept_65535_bytes_and_reject_65536_with_invalid_headers_len) {
    tofu_msg *m = new_msg();
    unsigned char *p = pattern(65536, 11);
    ASSERT_STATUS(TOFU_INVALID_HEADERS_LEN, tofu_msg_append_headers_raw(m, p, 65536));
    size_t n = 1;
    tofu_msg_headers(m, &n);
    ASSERT_EQ(n, 0);
    ASSERT_OK(tofu_msg_append_headers_raw(m, p, 65535));
    ASSERT_STATUS(TOFU_INVALID_HEADERS_LEN, tofu_msg_append_headers_raw(m, p, 1));
    const char *h = tofu_msg_headers(m, &n);
    ASSERT_MEM_EQ(h, n, p, 65535);
    free(p);
    tofu_msg_destroy(m);
    ASSERT_EQ(tofu_live_messages(), 0);
}

/* ---- growth rule of the buffers ---- */

TEST(buffer_grows_to_the_larger_of_rounded_need_and_double_capacity) {
    tofu_msg *m = new_msg();
    unsigned char *p = pattern(4096, 13);
    ASSERT_OK(tofu_msg_append_body(m, p, 256));
    ASSERT_EQ(m->body.cap, 256); /* exactly full: no growth */
    ASSERT_OK(tofu_msg_append_body(m, p, 1));
    ASSERT_EQ(m->body.cap, 512); /* need 257 -> 512 both ways */
    ASSERT_OK(tofu_msg_append_body(m, p, 256));
    ASSERT_EQ(m->body.cap, 1024); /* need 513: rounded 768 < doubled 1024 */
    ASSERT_OK(tofu_msg_append_body(m, p, 3000));
    ASSERT_EQ(m->body.cap, 3584); /* need 3513: rounded 3584 > doubled 2048 */
    ASSERT_OK(tofu_msg_append_body(m, p, 72));
    ASSERT_EQ(m->body.cap, 7168); /* need 3585: doubled 7168 > rounded 3840 */
    free(p);
    tofu_msg_destroy(m);
    ASSERT_EQ(tofu_live_messages(), 0);
}

TEST(buffer_capacity_is_a_multiple_of_256_and_capped_at_65536) {
    tofui_buf b = {0};
    ASSERT_OK(tofui_buf_reserve(&b, 0));
    ASSERT_EQ(b.cap, 256); /* a zeroed buffer gets the minimum */
    ASSERT_OK(tofui_buf_reserve(&b, 40000));
    ASSERT_EQ(b.cap, 40192); /* rounded need beats 512 */
    ASSERT_OK(tofui_buf_reserve(&b, 40193));
    ASSERT_EQ(b.cap, 65536); /* doubling would give 80384 */
    ASSERT_OK(tofui_buf_reserve(&b, 65536));
    ASSERT_EQ(b.cap, 65536);
    ASSERT_STATUS(TOFU_NOT_ALLOWED, tofui_buf_reserve(&b, 65537));
    ASSERT_EQ(b.cap, 65536);
    ASSERT_EQ(b.len, 0);
    free(b.data);
}

TEST(buffer_resize_sets_the_length_and_grows_by_the_same_rule) {
    tofui_buf b = {0};
    ASSERT_OK(tofui_buf_resize(&b, 300));
    ASSERT_EQ(b.len, 300);
    ASSERT_EQ(b.cap, 512);
    memset(b.data, 0xAB, b.len); /* the bytes are really there (ASan checks) */
    ASSERT_OK(tofui_buf_resize(&b, 10));
    ASSERT_EQ(b.len, 10);
    ASSERT_EQ(b.cap, 512); /* never shrinks */
    ASSERT_OK(tofui_buf_resize(&b, 65535));
    ASSERT_EQ(b.cap, 65536);
    ASSERT_STATUS(TOFU_NOT_ALLOWED, tofui_buf_resize(&b, 70000));
    ASSERT_EQ(b.len, 65535);
    free(b.data);
}

/* ---- message ids ---- */

TEST(message_ids_start_at_1_in_a_fresh_process) {
    /* CTest runs every case in its own process, so this is the first call. */
    ASSERT_EQ(tofu_next_message_id(), 1);
    ASSERT_EQ(tofu_next_message_id(), 2);
}

TEST(message_id_increments_by_exactly_1_between_two_calls) {
    uint64_t a = tofu_next_message_id();
    uint64_t b = tofu_next_message_id();
    ASSERT_NE(a, 0);
    ASSERT_EQ(b, a + 1);
}

#define ID_THREADS 4
#define IDS_PER_THREAD 20000

static uint64_t ids_seen[ID_THREADS][IDS_PER_THREAD];

static void take_ids(void *arg) {
    uint64_t *out = arg;
    for (int i = 0; i < IDS_PER_THREAD; i++)
        out[i] = tofu_next_message_id();
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

TEST(message_ids_taken_from_several_threads_are_all_distinct) {
    uint64_t first = tofu_next_message_id();
    tofui_thread t[ID_THREADS];
    for (int i = 0; i < ID_THREADS; i++)
        ASSERT_OK(tofui_thread_create(&t[i], take_ids, ids_seen[i]));
    for (int i = 0; i < ID_THREADS; i++)
        tofui_thread_join(&t[i]);
    uint64_t *all = &ids_seen[0][0];
    size_t n = (size_t)ID_THREADS * IDS_PER_THREAD;
    qsort(all, n, sizeof *all, cmp_u64);
    /* Exactly the n values after `first`, each once. */
    for (size_t i = 0; i < n; i++)
        ASSERT_EQ(all[i], first + 1 + i);
    ASSERT_EQ(tofu_next_message_id(), first + 1 + n);
}

TEST(internal_opcode_sets_agree_with_the_opcode_table_for_every_byte) {
    for (unsigned op = 0; op < 256; op++) {
        bool valid = tofu_op_valid(op);
        ASSERT_EQ(tofui_op_in(TOFUI_OPS_VALID, (uint8_t)op), valid);
        bool response = valid && tofu_op_role((tofu_opcode)op) == TOFU_ROLE_RESPONSE;
        ASSERT_EQ(tofui_op_in(TOFUI_OPS_RESPONSE, (uint8_t)op), response);
        bool not_regular = valid && tofu_op_type((tofu_opcode)op) != TOFU_TYPE_REGULAR;
        ASSERT_EQ(tofui_op_in(TOFUI_OPS_NOT_REGULAR, (uint8_t)op), not_regular);
        bool bye = valid && tofu_op_type((tofu_opcode)op) == TOFU_TYPE_BYE;
        ASSERT_EQ(tofui_op_in(TOFUI_OPS_BYE, (uint8_t)op), bye);
    }
    ASSERT_EQ(tofu_live_messages(), 0);
}
