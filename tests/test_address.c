/* Addresses (SPEC §5.8, DESIGN.md "Addresses"): strict parse and format of
 * "tcp|host|port", "uds|path" and "uds|@name", and the message helpers that
 * make HelloRequest / WelcomeRequest messages. */
#include "test.h"

#include "msg/msg.h"

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

static tofu_status parse(const char *s, tofu_address *a) {
    return tofu_address_parse(s, strlen(s), a);
}

static void assert_invalid(const char *s) {
    tofu_address a;
    memset(&a, 0x5A, sizeof a);
    tofu_status st = parse(s, &a);
    if (st != TOFU_INVALID_ADDRESS)
        tofu_t_fail(__FILE__, __LINE__, "\"%s\" parsed with status %s", s, tofu_status_name(st));
    for (size_t i = 0; i < sizeof a; i++) /* *out untouched on error */
        ASSERT_EQ(((unsigned char *)&a)[i], 0x5A);
}

/* A string of n copies of c, NUL-terminated; the caller frees it. */
static char *repeat(char c, size_t n) {
    char *s = malloc(n + 1);
    ASSERT_NOT_NULL(s);
    memset(s, c, n);
    s[n] = '\0';
    return s;
}

/* "prefix" followed by n copies of c. */
static char *prefixed(const char *prefix, char c, size_t n) {
    size_t p = strlen(prefix);
    char *s = malloc(p + n + 1);
    ASSERT_NOT_NULL(s);
    memcpy(s, prefix, p);
    memset(s + p, c, n);
    s[p + n] = '\0';
    return s;
}

/* "tcp|" + host_len 'h' bytes + "|" + port. */
static char *tcp_value(size_t host_len, const char *port) {
    char *s = prefixed("tcp|", 'h', host_len);
    size_t n = strlen(s);
    char *t = malloc(n + 1 + strlen(port) + 1);
    ASSERT_NOT_NULL(t);
    memcpy(t, s, n);
    t[n] = '|';
    strcpy(t + n + 1, port);
    free(s);
    return t;
}

static void assert_fresh_header(const tofu_msg *m, tofu_opcode op) {
    const tofu_bhdr *h = tofu_msg_bhdr_const(m);
    ASSERT_EQ(h->opcode, op);
    ASSERT_EQ(h->channel, 0);
    ASSERT_EQ(h->origin, 0);
    ASSERT_FALSE(h->more);
    ASSERT_FALSE(h->internal_a);
    ASSERT_FALSE(h->internal_b);
    ASSERT_EQ(h->status, 0);
    ASSERT_EQ(h->message_id, 0);
    ASSERT_EQ(h->thl, 0);
    ASSERT_EQ(h->bl, 0);
}

static void dirty_header(tofu_msg *m) {
    tofu_bhdr *h = tofu_msg_bhdr(m);
    h->channel = 77;
    h->opcode = TOFU_OP_SIGNAL;
    h->origin = 1;
    h->more = true;
    h->internal_a = true;
    h->internal_b = true;
    h->status = 9;
    h->message_id = 1234;
    h->thl = 5;
    h->bl = 6;
}

/* ---- message helpers ---- */

TEST(connect_tcp_defaults_give_exactly_the_original_header_and_parse_back) {
    tofu_msg *m = new_msg();
    ASSERT_OK(tofu_msg_connect_tcp(m, NULL, 0));
    assert_block(m, "~connect_to:tcp|127.0.0.1|7099\r\n");
    assert_fresh_header(m, TOFU_OP_HELLO_REQUEST);

    tofu_header h;
    ASSERT_TRUE(tofu_msg_find_header(m, TOFU_HDR_CONNECT_TO, &h));
    tofu_address a;
    ASSERT_OK(tofu_address_parse(h.value, h.value_len, &a));
    ASSERT_EQ(a.transport, TOFU_TRANSPORT_TCP);
    ASSERT_STR_EQ(a.host, "127.0.0.1");
    ASSERT_EQ(a.port, 7099);
    tofu_msg_destroy(m);
    ASSERT_EQ(tofu_live_messages(), 0);
}

TEST(connect_tcp_replaces_the_whole_binary_header_and_keeps_earlier_headers) {
    tofu_msg *m = new_msg();
    dirty_header(m);
    ASSERT_OK(tofu_msg_add_header(m, "x", "1"));
    ASSERT_OK(tofu_msg_append_body(m, "body", 4));
    ASSERT_OK(tofu_msg_connect_tcp(m, "::1", 80));
    assert_fresh_header(m, TOFU_OP_HELLO_REQUEST);
    assert_block(m, "x:1\r\n~connect_to:tcp|::1|80\r\n");
    size_t n;
    tofu_msg_body(m, &n);
    ASSERT_EQ(n, 4);
    tofu_msg_destroy(m);
    ASSERT_EQ(tofu_live_messages(), 0);
}

TEST(connect_tcp_with_empty_host_is_wrong_address_and_changes_nothing) {
    tofu_msg *m = new_msg();
    dirty_header(m);
    ASSERT_STATUS(TOFU_WRONG_ADDRESS, tofu_msg_connect_tcp(m, "", 7099));
    ASSERT_EQ(tofu_msg_bhdr(m)->channel, 77);
    ASSERT_EQ(tofu_msg_bhdr(m)->message_id, 1234);
    assert_block(m, "");
    tofu_msg_destroy(m);
    ASSERT_EQ(tofu_live_messages(), 0);
}

TEST(connect_tcp_rejects_bad_hosts_without_truncating) {
    tofu_msg *m = new_msg();
    char *h256 = repeat('h', 256);
    char *h255 = repeat('h', 255);
    static const char *const bad[] = {"a b", "a\tb", "a|b", "a\nb", "a\rb", "\x01", "x\x7f"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ASSERT_STATUS(TOFU_INVALID_ADDRESS, tofu_msg_connect_tcp(m, bad[i], 80));
    ASSERT_STATUS(TOFU_INVALID_ADDRESS, tofu_msg_connect_tcp(m, h256, 80));
    assert_block(m, "");
    ASSERT_EQ(tofu_msg_opcode(m), 0);
    ASSERT_OK(tofu_msg_connect_tcp(m, h255, 65535));
    tofu_header h;
    ASSERT_TRUE(tofu_msg_find_header(m, TOFU_HDR_CONNECT_TO, &h));
    ASSERT_EQ(h.value_len, 4 + 255 + 1 + 5);
    free(h256);
    free(h255);
    tofu_msg_destroy(m);
    ASSERT_EQ(tofu_live_messages(), 0);
}

TEST(connect_tcp_with_a_host_name) {
    tofu_msg *m = new_msg();
    ASSERT_OK(tofu_msg_connect_tcp(m, "example.com", 443));
    assert_block(m, "~connect_to:tcp|example.com|443\r\n");
    tofu_msg_destroy(m);
    ASSERT_EQ(tofu_live_messages(), 0);
}

TEST(listen_tcp_with_null_or_empty_host_means_any_and_port_0_is_kept) {
    tofu_msg *m = new_msg();
    dirty_header(m);
    ASSERT_OK(tofu_msg_listen_tcp(m, NULL, 0));
    assert_fresh_header(m, TOFU_OP_WELCOME_REQUEST);
    assert_block(m, "~listen_on:tcp||0\r\n");
    tofu_msg_clear_headers(m);
    ASSERT_OK(tofu_msg_listen_tcp(m, "", 7099));
    assert_block(m, "~listen_on:tcp||7099\r\n");
    tofu_msg_clear_headers(m);
    ASSERT_OK(tofu_msg_listen_tcp(m, "0.0.0.0", 1));
    assert_block(m, "~listen_on:tcp|0.0.0.0|1\r\n");

    tofu_header h;
    tofu_address a;
    ASSERT_TRUE(tofu_msg_find_header(m, TOFU_HDR_LISTEN_ON, &h));
    ASSERT_OK(tofu_address_parse(h.value, h.value_len, &a));
    ASSERT_STR_EQ(a.host, "0.0.0.0");
    ASSERT_EQ(a.port, 1);
    ASSERT_FALSE(tofu_msg_find_header(m, TOFU_HDR_CONNECT_TO, NULL));
    tofu_msg_destroy(m);
    ASSERT_EQ(tofu_live_messages(), 0);
}

TEST(connect_and_listen_uds_with_a_path) {
    tofu_msg *m = new_msg();
    ASSERT_OK(tofu_msg_connect_uds(m, "/tmp/tofu.sock"));
    assert_fresh_header(m, TOFU_OP_HELLO_REQUEST);
    assert_block(m, "~connect_to:uds|/tmp/tofu.sock\r\n");
    tofu_msg_clear_headers(m);
    ASSERT_OK(tofu_msg_listen_uds(m, "relative/path"));
    assert_fresh_header(m, TOFU_OP_WELCOME_REQUEST);
    assert_block(m, "~listen_on:uds|relative/path\r\n");
    tofu_msg_destroy(m);
    ASSERT_EQ(tofu_live_messages(), 0);
}

TEST(uds_helpers_with_null_or_empty_path_are_wrong_address) {
    tofu_msg *m = new_msg();
    ASSERT_STATUS(TOFU_WRONG_ADDRESS, tofu_msg_connect_uds(m, NULL));
    ASSERT_STATUS(TOFU_WRONG_ADDRESS, tofu_msg_connect_uds(m, ""));
    ASSERT_STATUS(TOFU_WRONG_ADDRESS, tofu_msg_listen_uds(m, NULL));
    ASSERT_STATUS(TOFU_WRONG_ADDRESS, tofu_msg_listen_uds(m, ""));
    assert_block(m, "");
    tofu_msg_destroy(m);
    ASSERT_EQ(tofu_live_messages(), 0);
}

TEST(uds_helpers_accept_a_path_of_max_length_and_reject_max_plus_1) {
    size_t max = tofu_uds_path_max();
    char *ok = prefixed("/", 'p', max - 1);
    char *too_long = prefixed("/", 'p', max);
    tofu_msg *m = new_msg();
    ASSERT_STATUS(TOFU_INVALID_ADDRESS, tofu_msg_connect_uds(m, too_long));
    ASSERT_STATUS(TOFU_INVALID_ADDRESS, tofu_msg_listen_uds(m, too_long));
    assert_block(m, "");
    ASSERT_OK(tofu_msg_listen_uds(m, ok));
    tofu_header h;
    ASSERT_TRUE(tofu_msg_find_header(m, TOFU_HDR_LISTEN_ON, &h));
    ASSERT_EQ(h.value_len, 4 + max);
    free(ok);
    free(too_long);
    tofu_msg_destroy(m);
    ASSERT_EQ(tofu_live_messages(), 0);
}

TEST(uds_helpers_with_an_abstract_name_follow_platform_support) {
    tofu_msg *m = new_msg();
    if (tofu_uds_abstract_supported()) {
        ASSERT_OK(tofu_msg_connect_uds(m, "@tofu-abstract"));
        assert_block(m, "~connect_to:uds|@tofu-abstract\r\n");
        tofu_header h;
        tofu_address a;
        ASSERT_TRUE(tofu_msg_find_header(m, TOFU_HDR_CONNECT_TO, &h));
        ASSERT_OK(tofu_address_parse(h.value, h.value_len, &a));
        ASSERT_EQ(a.transport, TOFU_TRANSPORT_UDS);
        ASSERT_TRUE(a.abstract);
        ASSERT_STR_EQ(a.path, "tofu-abstract");
    } else {
        ASSERT_STATUS(TOFU_INVALID_ADDRESS, tofu_msg_connect_uds(m, "@tofu-abstract"));
        assert_block(m, "");
    }
    tofu_msg_destroy(m);
    ASSERT_EQ(tofu_live_messages(), 0);
}

TEST(connect_from_an_address_needs_a_host_and_a_port) {
    tofu_msg *m = new_msg();
    tofu_address a;
    ASSERT_OK(parse("tcp||7099", &a));
    ASSERT_STATUS(TOFU_WRONG_ADDRESS, tofu_msg_connect(m, &a));
    ASSERT_OK(parse("tcp|localhost|0", &a));
    ASSERT_STATUS(TOFU_WRONG_ADDRESS, tofu_msg_connect(m, &a));
    ASSERT_STATUS(TOFU_WRONG_ADDRESS, tofu_msg_connect(m, NULL));
    ASSERT_STATUS(TOFU_WRONG_ADDRESS, tofu_msg_listen(m, NULL));
    assert_block(m, "");
    ASSERT_OK(parse("tcp|localhost|8080", &a));
    ASSERT_OK(tofu_msg_connect(m, &a));
    assert_block(m, "~connect_to:tcp|localhost|8080\r\n");
    tofu_msg_destroy(m);
    ASSERT_EQ(tofu_live_messages(), 0);
}

TEST(connect_and_listen_from_an_invalid_address_struct_fail) {
    tofu_msg *m = new_msg();
    tofu_address a;
    memset(&a, 'h', sizeof a); /* host with no NUL in its array */
    a.transport = TOFU_TRANSPORT_TCP;
    a.port = 80;
    ASSERT_STATUS(TOFU_INVALID_ADDRESS, tofu_msg_connect(m, &a));
    ASSERT_STATUS(TOFU_INVALID_ADDRESS, tofu_msg_listen(m, &a));
    memset(&a, 0, sizeof a);
    a.transport = TOFU_TRANSPORT_UDS; /* empty path */
    ASSERT_STATUS(TOFU_INVALID_ADDRESS, tofu_msg_listen(m, &a));
    a.transport = (tofu_transport)7;
    ASSERT_STATUS(TOFU_INVALID_ADDRESS, tofu_msg_listen(m, &a));
    assert_block(m, "");
    tofu_msg_destroy(m);
    ASSERT_EQ(tofu_live_messages(), 0);
}

TEST(helper_that_would_overflow_the_header_block_leaves_the_message_unchanged) {
    tofu_msg *m = new_msg();
    char *fill = repeat('f', 65510);
    ASSERT_OK(tofu_msg_append_headers_raw(m, fill, 65510));
    dirty_header(m);
    ASSERT_STATUS(TOFU_INVALID_HEADERS_LEN, tofu_msg_connect_tcp(m, NULL, 0)); /* 32 > 25 left */
    ASSERT_STATUS(TOFU_INVALID_HEADERS_LEN, tofu_msg_listen_tcp(m, "a-rather-long-host-name", 1));
    ASSERT_EQ(tofu_msg_bhdr(m)->channel, 77);
    ASSERT_EQ(tofu_msg_opcode(m), TOFU_OP_SIGNAL);
    size_t n;
    tofu_msg_headers(m, &n);
    ASSERT_EQ(n, 65510);
    free(fill);
    tofu_msg_destroy(m);
    ASSERT_EQ(tofu_live_messages(), 0);
}

/* ---- parse ---- */

TEST(parse_tcp_ipv4_ipv6_and_host_names) {
    tofu_address a;
    ASSERT_OK(parse("tcp|127.0.0.1|7099", &a));
    ASSERT_EQ(a.transport, TOFU_TRANSPORT_TCP);
    ASSERT_STR_EQ(a.host, "127.0.0.1");
    ASSERT_EQ(a.port, 7099);
    ASSERT_OK(parse("tcp|::1|80", &a));
    ASSERT_STR_EQ(a.host, "::1");
    ASSERT_EQ(a.port, 80);
    ASSERT_OK(parse("tcp|fe80::1:2:3|65535", &a));
    ASSERT_STR_EQ(a.host, "fe80::1:2:3");
    ASSERT_EQ(a.port, 65535);
    ASSERT_OK(parse("tcp|my-host.example.org|1", &a));
    ASSERT_STR_EQ(a.host, "my-host.example.org");
    ASSERT_EQ(a.port, 1);
}

TEST(parse_tcp_accepts_empty_host_port_0_and_leading_zeros) {
    tofu_address a;
    ASSERT_OK(parse("tcp||7099", &a));
    ASSERT_STR_EQ(a.host, "");
    ASSERT_EQ(a.port, 7099);
    ASSERT_OK(parse("tcp|h|0", &a));
    ASSERT_EQ(a.port, 0);
    ASSERT_OK(parse("tcp|h|0080", &a));
    ASSERT_EQ(a.port, 80);
}

TEST(parse_uds_path) {
    tofu_address a;
    ASSERT_OK(parse("uds|/tmp/t.sock", &a));
    ASSERT_EQ(a.transport, TOFU_TRANSPORT_UDS);
    ASSERT_FALSE(a.abstract);
    ASSERT_STR_EQ(a.path, "/tmp/t.sock");
    ASSERT_OK(parse("uds|with space:and@at", &a));
    ASSERT_STR_EQ(a.path, "with space:and@at");
}

TEST(parse_uds_abstract_name_follows_platform_support) {
    tofu_address a;
    if (tofu_uds_abstract_supported()) {
        ASSERT_OK(parse("uds|@name", &a));
        ASSERT_EQ(a.transport, TOFU_TRANSPORT_UDS);
        ASSERT_TRUE(a.abstract);
        ASSERT_STR_EQ(a.path, "name");
    } else {
        assert_invalid("uds|@name");
    }
    assert_invalid("uds|@"); /* an empty name is no name */
}

TEST(parse_rejects_other_schemes_missing_parts_and_extra_parts) {
    static const char *const bad[] = {
        "", "tcp", "tcp|", "tcp|h", "tcp|h|", "tcp||", "udp|h|80", "TCP|h|80", "Tcp|h|80",
        "x|y|z", "|tcp|h|80", " tcp|h|80", "tcp|h|80|x", "tcp|h|80|", "uds", "uds|", "UDS|/p",
        "uds|a|b", "uds|/p|", "uds|@a|b", "http|x", "|", "||", "|||",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_invalid(bad[i]);
}

TEST(parse_rejects_bad_ports) {
    static const char *const bad[] = {
        "tcp|h|65536", "tcp|h|99999", "tcp|h|100000", "tcp|h|18446744073709551617",
        "tcp|h|+80",   "tcp|h|-80",   "tcp|h| 80",    "tcp|h|80 ",
        "tcp|h|\t80",  "tcp|h|8a",    "tcp|h|0x50",   "tcp|h|8.0",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_invalid(bad[i]);
}

TEST(parse_rejects_hosts_with_whitespace_control_bytes_or_over_255_bytes) {
    static const char *const bad[] = {
        "tcp|a b|80", "tcp| a|80", "tcp|a |80", "tcp|a\tb|80", "tcp|a\rb|80",
        "tcp|a\nb|80", "tcp|\x01|80", "tcp|\x7f|80", "tcp|a\x1f|80",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_invalid(bad[i]);
    char *h256 = tcp_value(256, "80");
    char *h255 = tcp_value(255, "80");
    assert_invalid(h256);
    tofu_address a;
    ASSERT_OK(parse(h255, &a));
    ASSERT_EQ(strlen(a.host), 255);
    free(h256);
    free(h255);
}

TEST(parse_rejects_nul_bytes_anywhere) {
    tofu_address a;
    ASSERT_STATUS(TOFU_INVALID_ADDRESS, tofu_address_parse("tcp|a\0b|80", 10, &a));
    ASSERT_STATUS(TOFU_INVALID_ADDRESS, tofu_address_parse("tcp|ab|8\0", 9, &a));
    ASSERT_STATUS(TOFU_INVALID_ADDRESS, tofu_address_parse("uds|/tmp/a\0b", 12, &a));
    ASSERT_STATUS(TOFU_INVALID_ADDRESS, tofu_address_parse("uds|\0", 5, &a));
    ASSERT_STATUS(TOFU_INVALID_ADDRESS, tofu_address_parse("tcp\0h|80", 8, &a));
    ASSERT_STATUS(TOFU_INVALID_ADDRESS, tofu_address_parse(NULL, 0, &a));
    ASSERT_STATUS(TOFU_INVALID_ADDRESS, tofu_address_parse("uds|/p", 6, NULL));
}

TEST(parse_uses_only_the_given_length) {
    tofu_address a;
    ASSERT_OK(tofu_address_parse("tcp|h|80trailing", 8, &a));
    ASSERT_EQ(a.port, 80);
    ASSERT_OK(tofu_address_parse("uds|/p/q", 6, &a));
    ASSERT_STR_EQ(a.path, "/p");
}

TEST(parse_rejects_uds_paths_that_would_not_survive_a_header) {
    assert_invalid("uds|/tmp/a\rb");
    assert_invalid("uds|/tmp/a\nb");
    assert_invalid("uds|/tmp/trailing ");
    assert_invalid("uds|/tmp/trailing\t");
}

TEST(parse_accepts_a_uds_path_of_max_length_and_rejects_max_plus_1) {
    size_t max = tofu_uds_path_max();
    ASSERT_TRUE(max > 0 && max < TOFU_UDS_PATH_BUF);
    char *ok = prefixed("uds|", 'p', max);
    char *too_long = prefixed("uds|", 'p', max + 1);
    tofu_address a;
    ASSERT_OK(parse(ok, &a));
    ASSERT_EQ(strlen(a.path), max);
    assert_invalid(too_long);
    free(ok);
    free(too_long);
}

TEST(parse_accepts_an_abstract_name_of_max_length_and_rejects_max_plus_1) {
    if (!tofu_uds_abstract_supported()) {
        assert_invalid("uds|@x");
        return;
    }
    size_t max = tofu_uds_path_max();
    char *ok = prefixed("uds|@", 'n', max);
    char *too_long = prefixed("uds|@", 'n', max + 1);
    tofu_address a;
    ASSERT_OK(parse(ok, &a));
    ASSERT_TRUE(a.abstract);
    ASSERT_EQ(strlen(a.path), max);
    assert_invalid(too_long);
    free(ok);
    free(too_long);
}

/* ---- format ---- */

TEST(format_writes_the_header_value_of_each_kind) {
    tofu_address a;
    char buf[300];
    size_t n = 0;
    memset(&a, 0, sizeof a);
    a.transport = TOFU_TRANSPORT_TCP;
    strcpy(a.host, "::1");
    a.port = 80;
    ASSERT_OK(tofu_address_format(&a, buf, sizeof buf, &n));
    ASSERT_STR_EQ(buf, "tcp|::1|80");
    ASSERT_EQ(n, 10);
    a.host[0] = '\0';
    a.port = 0;
    ASSERT_OK(tofu_address_format(&a, buf, sizeof buf, NULL));
    ASSERT_STR_EQ(buf, "tcp||0");
    memset(&a, 0, sizeof a);
    a.transport = TOFU_TRANSPORT_UDS;
    strcpy(a.path, "/run/x.sock");
    ASSERT_OK(tofu_address_format(&a, buf, sizeof buf, &n));
    ASSERT_STR_EQ(buf, "uds|/run/x.sock");
    ASSERT_EQ(n, 15);
    a.abstract = true;
    if (tofu_uds_abstract_supported()) {
        ASSERT_OK(tofu_address_format(&a, buf, sizeof buf, &n));
        ASSERT_STR_EQ(buf, "uds|@/run/x.sock");
    } else {
        ASSERT_STATUS(TOFU_INVALID_ADDRESS, tofu_address_format(&a, buf, sizeof buf, &n));
    }
}

TEST(format_needs_room_for_the_value_and_its_nul) {
    tofu_address a;
    ASSERT_OK(parse("tcp|h|80", &a));
    char buf[9];
    memset(buf, '#', sizeof buf);
    ASSERT_STATUS(TOFU_NOT_ALLOWED, tofu_address_format(&a, buf, 8, NULL));
    ASSERT_EQ(buf[0], '#'); /* nothing written */
    ASSERT_STATUS(TOFU_NOT_ALLOWED, tofu_address_format(&a, NULL, 0, NULL));
    size_t n = 0;
    ASSERT_OK(tofu_address_format(&a, buf, 9, &n));
    ASSERT_STR_EQ(buf, "tcp|h|80");
    ASSERT_EQ(n, 8);
}

TEST(format_rejects_invalid_addresses) {
    tofu_address a;
    char buf[300];
    memset(&a, 0, sizeof a);
    a.transport = TOFU_TRANSPORT_TCP;
    strcpy(a.host, "bad host");
    ASSERT_STATUS(TOFU_INVALID_ADDRESS, tofu_address_format(&a, buf, sizeof buf, NULL));
    strcpy(a.host, "a|b");
    ASSERT_STATUS(TOFU_INVALID_ADDRESS, tofu_address_format(&a, buf, sizeof buf, NULL));
    memset(a.host, 'h', sizeof a.host); /* no NUL: never read past the array */
    ASSERT_STATUS(TOFU_INVALID_ADDRESS, tofu_address_format(&a, buf, sizeof buf, NULL));

    memset(&a, 0, sizeof a);
    a.transport = TOFU_TRANSPORT_UDS;
    ASSERT_STATUS(TOFU_INVALID_ADDRESS, tofu_address_format(&a, buf, sizeof buf, NULL));
    memset(a.path, 'p', sizeof a.path); /* no NUL */
    ASSERT_STATUS(TOFU_INVALID_ADDRESS, tofu_address_format(&a, buf, sizeof buf, NULL));
    memset(a.path, 0, sizeof a.path);
    strcpy(a.path, "a|b");
    ASSERT_STATUS(TOFU_INVALID_ADDRESS, tofu_address_format(&a, buf, sizeof buf, NULL));
    a.transport = (tofu_transport)5;
    strcpy(a.path, "/ok");
    ASSERT_STATUS(TOFU_INVALID_ADDRESS, tofu_address_format(&a, buf, sizeof buf, NULL));
    ASSERT_STATUS(TOFU_INVALID_ADDRESS, tofu_address_format(NULL, buf, sizeof buf, NULL));
}

TEST(format_and_parse_round_trip) {
    size_t max = tofu_uds_path_max();
    char *long_path = prefixed("uds|/", 'q', max - 1);
    char *long_host = tcp_value(255, "65535");
    const char *values[] = {
        "tcp|127.0.0.1|7099", "tcp|::1|80", "tcp||0", "tcp|example.com|443",
        "uds|/tmp/x.sock", "uds|rel", long_path, long_host,
        tofu_uds_abstract_supported() ? "uds|@abstract" : "uds|/abstract-unsupported",
    };
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        tofu_address a, b;
        char buf[300];
        size_t n = 0;
        ASSERT_OK(parse(values[i], &a));
        ASSERT_OK(tofu_address_format(&a, buf, sizeof buf, &n));
        ASSERT_MEM_EQ(buf, n, values[i], strlen(values[i]));
        ASSERT_OK(tofu_address_parse(buf, n, &b));
        ASSERT_EQ(b.transport, a.transport);
        ASSERT_EQ(b.port, a.port);
        ASSERT_EQ(b.abstract, a.abstract);
        ASSERT_STR_EQ(b.host, a.host);
        ASSERT_STR_EQ(b.path, a.path);
    }
    free(long_path);
    free(long_host);
}
