/* Text headers (SPEC §1.5): the checked writer, the iterator with the
 * original's reading rules (its four worked examples), and lookup. */
#include "test.h"

#include "msg/headers.h"

static tofu_msg *new_msg(void) {
    tofu_msg *m = NULL;
    ASSERT_OK(tofu_msg_create(&m));
    return m;
}

static void assert_block(const tofu_msg *m, const char *want) {
    size_t n;
    const char *h = tofu_msg_headers(m, &n);
    ASSERT_MEM_EQ(h, n, want, strlen(want));
}

/* Iterates a NUL-terminated block and expects exactly the given
 * name/value pairs (NULL-terminated list), then the end. */
static void expect_headers(const char *block, const char *const *pairs) {
    tofu_hdr_iter it;
    tofu_header h;
    tofu_hdr_iter_init(&it, block, strlen(block));
    for (; pairs[0] != NULL; pairs += 2) {
        ASSERT_TRUE(tofu_hdr_iter_next(&it, &h));
        ASSERT_MEM_EQ(h.name, h.name_len, pairs[0], strlen(pairs[0]));
        ASSERT_MEM_EQ(h.value, h.value_len, pairs[1], strlen(pairs[1]));
    }
    ASSERT_FALSE(tofu_hdr_iter_next(&it, &h));
}

/* ---- writer ---- */

TEST(add_header_writes_name_colon_value_crlf_without_a_space) {
    tofu_msg *m = new_msg();
    ASSERT_OK(tofu_msg_add_header(m, "~connect_to", "tcp|127.0.0.1|7099"));
    assert_block(m, "~connect_to:tcp|127.0.0.1|7099\r\n");
    tofu_msg_destroy(m);
    ASSERT_EQ(tofu_live_messages(), 0);
}

TEST(add_header_appends_in_order_after_existing_headers) {
    tofu_msg *m = new_msg();
    ASSERT_OK(tofu_msg_add_header(m, "a", "1"));
    ASSERT_OK(tofu_msg_add_header(m, "b", "2"));
    ASSERT_OK(tofu_msg_add_header(m, "a", "3")); /* duplicates are kept */
    assert_block(m, "a:1\r\nb:2\r\na:3\r\n");
    tofu_msg_destroy(m);
    ASSERT_EQ(tofu_live_messages(), 0);
}

TEST(add_header_trims_the_name_of_space_tab_cr_lf_and_keeps_the_value_as_given) {
    tofu_msg *m = new_msg();
    ASSERT_OK(tofu_msg_add_header(m, " \t\r\nname \t\r\n", "  value\t"));
    assert_block(m, "name:  value\t\r\n");
    ASSERT_OK(tofu_msg_add_header(m, "in ner", "x:y"));
    assert_block(m, "name:  value\t\r\nin ner:x:y\r\n");
    tofu_msg_destroy(m);
    ASSERT_EQ(tofu_live_messages(), 0);
}

TEST(add_header_n_uses_the_given_lengths) {
    tofu_msg *m = new_msg();
    ASSERT_OK(tofu_msg_add_header_n(m, "keyXXX", 3, "valYYY", 3));
    assert_block(m, "key:val\r\n");
    tofu_msg_destroy(m);
    ASSERT_EQ(tofu_live_messages(), 0);
}

TEST(add_header_rejects_bad_names_and_values_and_leaves_the_message_unchanged) {
    tofu_msg *m = new_msg();
    ASSERT_OK(tofu_msg_add_header(m, "keep", "me"));
    static const char *const bad[][2] = {
        {"", "v"},       {" \t\r\n", "v"}, {"n", ""},     {"a:b", "v"}, {":", "v"},
        {"a\rb", "v"},   {"a\nb", "v"},    {"n", "a\rb"}, {"n", "a\nb"}, {"n", "\r\n"},
        {"n", "tail\r"}, {"n", "\nhead"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ASSERT_STATUS(TOFU_INVALID_MESSAGE, tofu_msg_add_header(m, bad[i][0], bad[i][1]));
    ASSERT_STATUS(TOFU_INVALID_MESSAGE, tofu_msg_add_header(m, NULL, "v"));
    ASSERT_STATUS(TOFU_INVALID_MESSAGE, tofu_msg_add_header(m, "n", NULL));
    ASSERT_STATUS(TOFU_INVALID_MESSAGE, tofu_msg_add_header_n(m, "a\0b", 3, "v", 1));
    ASSERT_STATUS(TOFU_INVALID_MESSAGE, tofu_msg_add_header_n(m, "n", 1, "a\0b", 3));
    ASSERT_STATUS(TOFU_INVALID_MESSAGE, tofu_msg_add_header_n(m, NULL, 2, "v", 1));
    ASSERT_STATUS(TOFU_INVALID_MESSAGE, tofu_msg_add_header_n(m, "n", 1, NULL, 2));
    assert_block(m, "keep:me\r\n");
    tofu_msg_destroy(m);
    ASSERT_EQ(tofu_live_messages(), 0);
}

TEST(add_header_accepts_a_block_of_exactly_65535_bytes) {
    tofu_msg *m = new_msg();
    size_t vlen = 65535 - 4; /* "n:" + value + CR LF */
    char *v = malloc(vlen);
    ASSERT_NOT_NULL(v);
    memset(v, 'v', vlen);
    ASSERT_OK(tofu_msg_add_header_n(m, "n", 1, v, vlen));
    size_t n;
    const char *h = tofu_msg_headers(m, &n);
    ASSERT_EQ(n, 65535);
    ASSERT_MEM_EQ(h + n - 3, 3, "v\r\n", 3);
    ASSERT_STATUS(TOFU_INVALID_HEADERS_LEN, tofu_msg_add_header(m, "a", "b"));
    tofu_msg_headers(m, &n);
    ASSERT_EQ(n, 65535);
    free(v);
    tofu_msg_destroy(m);
    ASSERT_EQ(tofu_live_messages(), 0);
}

TEST(add_header_rejects_a_block_of_65536_bytes_with_invalid_headers_len) {
    tofu_msg *m = new_msg();
    size_t vlen = 65536 - 4;
    char *v = malloc(vlen);
    ASSERT_NOT_NULL(v);
    memset(v, 'v', vlen);
    ASSERT_STATUS(TOFU_INVALID_HEADERS_LEN, tofu_msg_add_header_n(m, "n", 1, v, vlen));
    ASSERT_OK(tofu_msg_add_header(m, "a", "b"));
    ASSERT_STATUS(TOFU_INVALID_HEADERS_LEN, tofu_msg_add_header_n(m, "n", 1, v, vlen - 5));
    ASSERT_OK(tofu_msg_add_header_n(m, "n", 1, v, vlen - 6)); /* 5 + 65530 = 65535 */
    size_t n;
    tofu_msg_headers(m, &n);
    ASSERT_EQ(n, 65535);
    free(v);
    tofu_msg_destroy(m);
    ASSERT_EQ(tofu_live_messages(), 0);
}

/* ---- iterator: the four worked examples of SPEC §1.5 ---- */

TEST(iterator_example_1_single_header_without_crlf) {
    expect_headers("a: b", (const char *const[]){"a", "b", NULL});
}

TEST(iterator_example_2_empty_lines_and_empty_value_are_handled) {
    expect_headers("a: b\r\nc:  \r\nd:e\r\n\r\nf: g\r\n\r\n",
                   (const char *const[]){"a", "b", "c", "", "d", "e", "f", "g", NULL});
}

TEST(iterator_example_3_empty_name_ends_at_once) {
    expect_headers(": ss\r\n\r\n", (const char *const[]){NULL});
}

TEST(iterator_example_4_empty_name_after_a_header_ends) {
    expect_headers("a:b\r\n\r\n: ss\r\n\r\n", (const char *const[]){"a", "b", NULL});
}

/* ---- iterator: the remaining rules ---- */

TEST(iterator_over_an_empty_or_null_block_yields_nothing) {
    tofu_hdr_iter it;
    tofu_header h;
    tofu_hdr_iter_init(&it, NULL, 0);
    ASSERT_FALSE(tofu_hdr_iter_next(&it, &h));
    tofu_hdr_iter_init(&it, NULL, 10);
    ASSERT_FALSE(tofu_hdr_iter_next(&it, &h));
    tofu_hdr_iter_init(&it, "a:b", 0);
    ASSERT_FALSE(tofu_hdr_iter_next(&it, &h));
    expect_headers("\r\n\r\n\r\n", (const char *const[]){NULL});

    tofu_msg *m = new_msg(); /* a fresh message has no headers */
    tofu_msg_hdr_iter(m, &it);
    ASSERT_FALSE(tofu_hdr_iter_next(&it, &h));
    tofu_msg_destroy(m);
    ASSERT_EQ(tofu_live_messages(), 0);
}

TEST(iterator_accepts_a_last_line_without_crlf) {
    expect_headers("a:1\r\nb:2", (const char *const[]){"a", "1", "b", "2", NULL});
    expect_headers("a:1\r\n\r\nb: 2 ", (const char *const[]){"a", "1", "b", "2", NULL});
}

TEST(iterator_line_without_colon_is_a_name_with_an_empty_value) {
    expect_headers("flag\r\nx:y\r\n", (const char *const[]){"flag", "", "x", "y", NULL});
    expect_headers("  spaced name  ", (const char *const[]){"  spaced name  ", "", NULL});
}

TEST(iterator_splits_at_the_first_colon_and_trims_only_the_value) {
    expect_headers(" n \t:\t v:w \t\r\n",
                   (const char *const[]){" n \t", "v:w", NULL});
    expect_headers("~connect_to:tcp|::1|80\r\n",
                   (const char *const[]){"~connect_to", "tcp|::1|80", NULL});
}

TEST(iterator_treats_a_lone_cr_or_lf_as_part_of_the_line) {
    expect_headers("a:b\nc:d\r\n", (const char *const[]){"a", "b\nc:d", NULL});
    expect_headers("a:b\rc\r\n", (const char *const[]){"a", "b\rc", NULL});
    expect_headers("a:b\r", (const char *const[]){"a", "b\r", NULL});
}

TEST(iterator_after_an_empty_name_resumes_with_the_next_line) {
    /* Rule 6: the end is reported for that call only; the position has moved. */
    tofu_hdr_iter it;
    tofu_header h;
    const char *block = ": ss\r\nx:y\r\n";
    tofu_hdr_iter_init(&it, block, strlen(block));
    ASSERT_FALSE(tofu_hdr_iter_next(&it, &h));
    ASSERT_TRUE(tofu_hdr_iter_next(&it, &h));
    ASSERT_MEM_EQ(h.name, h.name_len, "x", 1);
    ASSERT_MEM_EQ(h.value, h.value_len, "y", 1);
    ASSERT_FALSE(tofu_hdr_iter_next(&it, &h));
}

TEST(iterator_rewind_starts_again_from_the_first_header) {
    tofu_hdr_iter it;
    tofu_header h;
    const char *block = "a:1\r\nb:2\r\n";
    tofu_hdr_iter_init(&it, block, strlen(block));
    ASSERT_TRUE(tofu_hdr_iter_next(&it, &h));
    ASSERT_TRUE(tofu_hdr_iter_next(&it, &h));
    ASSERT_FALSE(tofu_hdr_iter_next(&it, &h));
    ASSERT_FALSE(tofu_hdr_iter_next(&it, &h)); /* the end stays the end */
    tofu_hdr_iter_rewind(&it);
    ASSERT_TRUE(tofu_hdr_iter_next(&it, &h));
    ASSERT_MEM_EQ(h.name, h.name_len, "a", 1);
    ASSERT_MEM_EQ(h.value, h.value_len, "1", 1);
}

TEST(iterator_reads_back_what_the_writer_wrote) {
    tofu_msg *m = new_msg();
    ASSERT_OK(tofu_msg_add_header(m, "first", "1"));
    ASSERT_OK(tofu_msg_add_header(m, " second ", "  two  "));
    ASSERT_OK(tofu_msg_append_headers_raw(m, "\r\n", 2));
    ASSERT_OK(tofu_msg_add_header(m, "third", "x|y"));
    tofu_hdr_iter it;
    tofu_header h;
    tofu_msg_hdr_iter(m, &it);
    ASSERT_TRUE(tofu_hdr_iter_next(&it, &h));
    ASSERT_MEM_EQ(h.name, h.name_len, "first", 5);
    ASSERT_MEM_EQ(h.value, h.value_len, "1", 1);
    ASSERT_TRUE(tofu_hdr_iter_next(&it, &h));
    ASSERT_MEM_EQ(h.name, h.name_len, "second", 6);
    ASSERT_MEM_EQ(h.value, h.value_len, "two", 3);
    ASSERT_TRUE(tofu_hdr_iter_next(&it, &h));
    ASSERT_MEM_EQ(h.name, h.name_len, "third", 5);
    ASSERT_MEM_EQ(h.value, h.value_len, "x|y", 3);
    ASSERT_FALSE(tofu_hdr_iter_next(&it, &h));
    tofu_msg_destroy(m);
    ASSERT_EQ(tofu_live_messages(), 0);
}

/* ---- lookup ---- */

TEST(find_header_returns_the_first_exact_case_sensitive_match) {
    tofu_msg *m = new_msg();
    const char *block = "Name:upper\r\nname:1\r\nname:2\r\nnamex:3\r\n";
    ASSERT_OK(tofu_msg_append_headers_raw(m, block, strlen(block)));
    tofu_header h;
    ASSERT_TRUE(tofu_msg_find_header(m, "name", &h));
    ASSERT_MEM_EQ(h.value, h.value_len, "1", 1);
    ASSERT_TRUE(tofu_msg_find_header(m, "Name", &h));
    ASSERT_MEM_EQ(h.value, h.value_len, "upper", 5);
    ASSERT_TRUE(tofu_msg_find_header(m, "namex", NULL));
    ASSERT_FALSE(tofu_msg_find_header(m, "nam", &h));
    ASSERT_FALSE(tofu_msg_find_header(m, "NAME", &h));
    ASSERT_FALSE(tofu_msg_find_header(m, "", &h));
    ASSERT_FALSE(tofu_msg_find_header(m, NULL, &h));
    tofu_msg_destroy(m);
    ASSERT_EQ(tofu_live_messages(), 0);
}

TEST(find_header_on_a_message_without_headers_finds_nothing) {
    tofu_msg *m = new_msg();
    ASSERT_FALSE(tofu_msg_find_header(m, "a", NULL));
    tofu_msg_destroy(m);
    ASSERT_EQ(tofu_live_messages(), 0);
}

/* ---- replacing a value (the engine's bound ~listen_on) ---- */

TEST(replace_header_changes_only_the_first_value_and_keeps_every_other_byte) {
    tofu_msg *m = new_msg();
    const char *block = "a:1\r\n~listen_on: tcp|127.0.0.1|0 \r\n~listen_on:x\r\nz:9";
    ASSERT_OK(tofu_msg_append_headers_raw(m, block, strlen(block)));
    ASSERT_OK(tofui_msg_replace_header(m, "~listen_on", "tcp|127.0.0.1|40123", 19));
    assert_block(m, "a:1\r\n~listen_on: tcp|127.0.0.1|40123 \r\n~listen_on:x\r\nz:9");
    ASSERT_STATUS(TOFU_INVALID_MESSAGE, tofui_msg_replace_header(m, "a", "", 0));
    ASSERT_OK(tofui_msg_replace_header(m, "z", "8", 1));
    assert_block(m, "a:1\r\n~listen_on: tcp|127.0.0.1|40123 \r\n~listen_on:x\r\nz:8");
    tofu_msg_destroy(m);
    ASSERT_EQ(tofu_live_messages(), 0);
}

TEST(replace_header_refuses_a_missing_name_a_bad_value_or_a_block_too_long) {
    tofu_msg *m = new_msg();
    ASSERT_STATUS(TOFU_INVALID_MESSAGE, tofui_msg_replace_header(m, "n", "v", 1));
    size_t vlen = 65535 - 4; /* "n:" + value + CR LF: exactly 65535 bytes */
    char *v = malloc(vlen + 1);
    ASSERT_NOT_NULL(v);
    memset(v, 'v', vlen + 1);
    ASSERT_OK(tofu_msg_add_header_n(m, "n", 1, v, vlen));
    ASSERT_STATUS(TOFU_INVALID_MESSAGE, tofui_msg_replace_header(m, "n", "a\r\nb", 4));
    ASSERT_STATUS(TOFU_INVALID_MESSAGE, tofui_msg_replace_header(m, "x", "v", 1));
    ASSERT_STATUS(TOFU_INVALID_HEADERS_LEN, tofui_msg_replace_header(m, "n", v, vlen + 1));
    ASSERT_OK(tofui_msg_replace_header(m, "n", v, vlen)); /* the same length fits */
    size_t n;
    const char *h = tofu_msg_headers(m, &n);
    ASSERT_EQ(n, 65535);
    ASSERT_MEM_EQ(h, 3, "n:v", 3);
    free(v);
    tofu_msg_destroy(m);
    ASSERT_EQ(tofu_live_messages(), 0);
}
