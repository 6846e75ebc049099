/* The platform layer (src/platform/platform.h): threads, locks, clock,
 * address resolution and the socket calls, against real sockets. Written
 * once for every platform: it uses only the contract and the harness,
 * never an OS header. Every case checks at its end that it left no socket
 * open. */
#include "sockets.h"
#include "test.h"

#include "platform/platform.h"
#include "platform/poller.h"

#define T_PAYLOAD 1000
#define T_PATIENCE_MS 5000

/* ------------------------------------------------------------------------ */
/* helpers                                                                  */
/* ------------------------------------------------------------------------ */

#define T_BEGIN() const uint64_t t_sockets_at_start = tofu_open_sockets()
#define T_END() ASSERT_EQ(tofu_open_sockets(), t_sockets_at_start)

static tofu_address t_tcp(const char *host, uint16_t port) {
    tofu_address a;
    memset(&a, 0, sizeof a);
    a.transport = TOFU_TRANSPORT_TCP;
    snprintf(a.host, sizeof a.host, "%s", host);
    a.port = port;
    return a;
}

static tofu_address t_uds(const char *path, bool abstract) {
    tofu_address a;
    memset(&a, 0, sizeof a);
    a.transport = TOFU_TRANSPORT_UDS;
    snprintf(a.path, sizeof a.path, "%s", path);
    a.abstract = abstract;
    return a;
}

/* The system's error of the call that just failed (tofui_sock_last_error)
 * reads "<SYMBOL> <text>" on one ASCII line, and its symbol contains one of
 * parts (NULL-terminated): the part POSIX and Windows names share. */
static void t_last_error_at(const char *const *parts, const char *file, int line) {
    char text[TOFUI_OS_ERROR_TEXT_MAX];
    tofui_os_error_text(tofui_sock_last_error(), text, sizeof text);
    const char *space = strchr(text, ' ');
    size_t symbol = space != NULL ? (size_t)(space - text) : strlen(text);
    for (const char *c = text; *c != '\0'; c++)
        if ((unsigned char)*c < 0x20 || (unsigned char)*c > 0x7e)
            tofu_t_fail(file, line, "\"%s\": not one line of ASCII", text);
    for (const char *const *p = parts; *p != NULL; p++) {
        const char *at = strstr(text, *p);
        if (at != NULL && (size_t)(at - text) < symbol) {
            printf("last error: %s\n", text);
            return;
        }
    }
    tofu_t_fail(file, line, "last error \"%s\": expected %s", text, parts[0]);
}
#define T_LAST_ERROR(...)                                   \
    do {                                                    \
        const char *const parts_[] = {__VA_ARGS__, NULL};   \
        t_last_error_at(parts_, __FILE__, __LINE__);        \
    } while (0)

/* A fresh UDS path, unique per process and call; nothing is created. */
static tofu_address t_temp_uds(void) {
    char path[TOFU_UDS_PATH_BUF];
    tofu_t_uds_path(path, sizeof path);
    return t_uds(path, false);
}

static tofu_address t_abstract_name(void) {
    char name[TOFU_UDS_PATH_BUF];
    tofu_t_abstract_name(name, sizeof name);
    return t_uds(name + 1, true); /* the name without the @ of the notation */
}

static tofui_sockaddr t_resolve1(const tofu_address *a, bool passive) {
    tofui_sockaddr sa;
    size_t n = 0;
    ASSERT_OK(tofui_sock_resolve(a, passive, &sa, 1, &n));
    ASSERT_EQ(n, 1);
    return sa;
}

/* A listener; *bound is the address it was asked to bind. */
static tofui_socket t_listen(const tofu_address *a, tofui_sockaddr *bound) {
    tofui_socket l = TOFUI_INVALID_SOCKET;
    *bound = t_resolve1(a, true);
    ASSERT_OK(tofui_sock_listen(bound, &l));
    ASSERT_TRUE(l != TOFUI_INVALID_SOCKET);
    return l;
}

/* The address a client uses to reach listener l. */
static tofu_address t_reachable(tofui_socket l, const tofui_sockaddr *bound) {
    tofu_address a;
    ASSERT_OK(tofui_sock_local_address(l, bound, &a));
    return a;
}

static tofui_socket t_accept(tofui_socket l) {
    tofui_socket s = TOFUI_INVALID_SOCKET;
    for (int i = 0; i < T_PATIENCE_MS && s == TOFUI_INVALID_SOCKET; i++) {
        ASSERT_OK(tofui_sock_accept(l, &s));
        if (s == TOFUI_INVALID_SOCKET)
            tofui_sleep_ms(1);
    }
    ASSERT_TRUE(s != TOFUI_INVALID_SOCKET);
    return s;
}

typedef struct t_conn {
    tofui_sockaddr bound;
    tofui_socket listener, client, server;
} t_conn;

/* Listener on `where`, a client connected to it and the accepted end. */
static void t_connect_pair(const tofu_address *where, t_conn *c) {
    bool in_progress = false;
    c->listener = t_listen(where, &c->bound);
    tofu_address target = t_reachable(c->listener, &c->bound);
    tofui_sockaddr sa = t_resolve1(&target, false);
    ASSERT_OK(tofui_sock_connect(&sa, &c->client, &in_progress));
    c->server = t_accept(c->listener);
    /* The accept proves the handshake is done. */
    ASSERT_OK(tofui_sock_connect_result(c->client));
}

static void t_close_pair(t_conn *c) {
    tofui_sock_close(c->client);
    tofui_sock_close(c->server);
    tofui_sock_close_listener(c->listener, &c->bound);
}

static void t_write_all(tofui_socket s, const void *buf, size_t n) {
    size_t done = 0;
    for (int i = 0; i < T_PATIENCE_MS && done < n; i++) {
        tofui_iov iov = {(const char *)buf + done, n - done};
        size_t w = 0;
        ASSERT_OK(tofui_sock_writev(s, &iov, 1, &w));
        done += w;
        if (w == 0)
            tofui_sleep_ms(1);
    }
    ASSERT_EQ(done, n);
}

static void t_read_exact(tofui_socket s, void *buf, size_t n) {
    size_t done = 0;
    for (int i = 0; i < T_PATIENCE_MS && done < n; i++) {
        size_t got = 0;
        ASSERT_OK(tofui_sock_read(s, (char *)buf + done, n - done, &got));
        done += got;
        if (got == 0)
            tofui_sleep_ms(1);
    }
    ASSERT_EQ(done, n);
}

/* Reads (and drops) until the read fails, and returns how it failed. */
static tofu_status t_read_until_error(tofui_socket s) {
    char buf[256];
    for (int i = 0; i < T_PATIENCE_MS; i++) {
        size_t got = 0;
        tofu_status st = tofui_sock_read(s, buf, sizeof buf, &got);
        if (st != TOFU_SUCCESS)
            return st;
        if (got == 0)
            tofui_sleep_ms(1);
    }
    return TOFU_SUCCESS;
}

/* Sends 1000 bytes of 0xAB each way and checks them. */
static void t_round_trip(t_conn *c) {
    unsigned char out[T_PAYLOAD], in[T_PAYLOAD];
    memset(out, 0xAB, sizeof out);
    t_write_all(c->client, out, sizeof out);
    t_read_exact(c->server, in, sizeof in);
    ASSERT_MEM_EQ(in, sizeof in, out, sizeof out);
    memset(out, 0xCD, sizeof out);
    t_write_all(c->server, out, sizeof out);
    t_read_exact(c->client, in, sizeof in);
    ASSERT_MEM_EQ(in, sizeof in, out, sizeof out);
}

static bool t_file_exists(const char *path) {
    /* Connecting tells "no such path" apart from "a file nobody listens on"
     * without an OS header. */
    tofu_address a = t_uds(path, false);
    tofui_sockaddr sa = t_resolve1(&a, false);
    tofui_socket s = TOFUI_INVALID_SOCKET;
    bool in_progress = false;
    tofu_status st = tofui_sock_connect(&sa, &s, &in_progress);
    tofui_sock_close(s);
    return st != TOFU_UDS_PATH_NOT_FOUND;
}

/* ------------------------------------------------------------------------ */
/* threads, locks, clock                                                    */
/* ------------------------------------------------------------------------ */

TEST(plat_init_and_fini_nest) {
    ASSERT_OK(tofui_plat_init());
    ASSERT_OK(tofui_plat_init());
    tofui_plat_fini();
    tofui_plat_fini();
}

static void t_set_flag(void *arg) {
    tofui_sleep_ms(20);
    *(int *)arg = 42;
}

TEST(thread_runs_its_function_and_join_waits_for_it) {
    tofui_thread t;
    int flag = 0;
    ASSERT_OK(tofui_thread_create(&t, t_set_flag, &flag));
    tofui_thread_join(&t);
    ASSERT_EQ(flag, 42);
}

typedef struct t_handover {
    tofui_mutex m;
    tofui_cond c;
    int value;
} t_handover;

static void t_hand_over(void *arg) {
    t_handover *h = arg;
    tofui_sleep_ms(10);
    tofui_mutex_lock(&h->m);
    h->value = 7;
    tofui_cond_signal(&h->c);
    tofui_mutex_unlock(&h->m);
}

TEST(cond_wait_sees_a_value_handed_over_by_another_thread) {
    t_handover h;
    tofui_thread t;
    memset(&h, 0, sizeof h);
    tofui_mutex_init(&h.m);
    tofui_cond_init(&h.c);
    ASSERT_OK(tofui_thread_create(&t, t_hand_over, &h));
    tofui_mutex_lock(&h.m);
    while (h.value == 0)
        tofui_cond_wait(&h.c, &h.m);
    tofui_mutex_unlock(&h.m);
    tofui_thread_join(&t);
    ASSERT_EQ(h.value, 7);
    tofui_cond_fini(&h.c);
    tofui_mutex_fini(&h.m);
}

TEST(cond_wait_until_returns_false_at_the_deadline) {
    tofui_mutex m;
    tofui_cond c;
    tofui_mutex_init(&m);
    tofui_cond_init(&c);
    uint64_t deadline = tofui_clock_ns() + 30 * 1000000ull;
    bool signalled = true;
    tofui_mutex_lock(&m);
    while (signalled && tofui_clock_ns() < deadline)
        signalled = tofui_cond_wait_until(&c, &m, deadline);
    tofui_mutex_unlock(&m);
    ASSERT_FALSE(signalled);
    ASSERT_TRUE(tofui_clock_ns() >= deadline);
    /* A deadline already past returns at once. */
    tofui_mutex_lock(&m);
    ASSERT_FALSE(tofui_cond_wait_until(&c, &m, 0));
    tofui_mutex_unlock(&m);
    tofui_cond_fini(&c);
    tofui_mutex_fini(&m);
}

static void t_signal_later(void *arg) {
    t_handover *h = arg;
    tofui_sleep_ms(10);
    tofui_mutex_lock(&h->m);
    h->value = 1;
    tofui_cond_broadcast(&h->c);
    tofui_mutex_unlock(&h->m);
}

TEST(cond_wait_until_returns_true_when_signalled_before_the_deadline) {
    t_handover h;
    tofui_thread t;
    memset(&h, 0, sizeof h);
    tofui_mutex_init(&h.m);
    tofui_cond_init(&h.c);
    ASSERT_OK(tofui_thread_create(&t, t_signal_later, &h));
    uint64_t deadline = tofui_clock_ns() + 10 * TOFU_WAIT_SECOND;
    tofui_mutex_lock(&h.m);
    while (h.value == 0)
        ASSERT_TRUE(tofui_cond_wait_until(&h.c, &h.m, deadline));
    tofui_mutex_unlock(&h.m);
    ASSERT_TRUE(tofui_clock_ns() < deadline);
    tofui_thread_join(&t);
    tofui_cond_fini(&h.c);
    tofui_mutex_fini(&h.m);
}

TEST(clock_is_monotonic_and_sleep_lasts_at_least_its_time) {
    uint64_t a = tofui_clock_ns();
    tofui_sleep_ms(25);
    uint64_t b = tofui_clock_ns();
    ASSERT_TRUE(b >= a + 25 * 1000000ull);
    for (int i = 0; i < 1000; i++) {
        uint64_t c = tofui_clock_ns();
        ASSERT_TRUE(c >= b);
        b = c;
    }
}

/* ------------------------------------------------------------------------ */
/* resolution                                                               */
/* ------------------------------------------------------------------------ */

TEST(resolve_ipv4_literal_binds_that_address) {
    T_BEGIN();
    tofu_address a = t_tcp("127.0.0.1", 0);
    ASSERT_TRUE(tofui_sock_is_literal(&a));
    tofui_sockaddr sa = t_resolve1(&a, false);
    ASSERT_FALSE(sa.uds);
    ASSERT_TRUE(sa.len > 0);
    tofui_socket l = t_listen(&a, &sa);
    tofu_address got = t_reachable(l, &sa);
    ASSERT_EQ(got.transport, TOFU_TRANSPORT_TCP);
    ASSERT_STR_EQ(got.host, "127.0.0.1");
    tofui_sock_close_listener(l, &sa);
    T_END();
}

TEST(resolve_ipv6_literal_binds_that_address) {
    T_BEGIN();
    tofu_address a = t_tcp("::1", 0);
    ASSERT_TRUE(tofui_sock_is_literal(&a));
    tofui_sockaddr sa = t_resolve1(&a, false);
    ASSERT_FALSE(sa.uds);
    tofui_socket l = TOFUI_INVALID_SOCKET;
    if (tofui_sock_listen(&sa, &l) != TOFU_SUCCESS)
        tofu_t_skip("no IPv6 loopback on this host");
    tofu_address got = t_reachable(l, &sa);
    ASSERT_STR_EQ(got.host, "::1");
    ASSERT_NE(got.port, 0);
    tofui_sock_close_listener(l, &sa);
    T_END();
}

/* The resolver cases need a name the system resolves: "localhost", from
 * /etc/hosts. A minimal system (a bare container) may lack it: the case is
 * then skipped, saying why, rather than failed. */
static void t_need_localhost(void) {
    tofu_address a = t_tcp("localhost", 80);
    tofui_sockaddr sa[1];
    size_t n = 0;
    if (tofui_sock_resolve(&a, false, sa, 1, &n) != TOFU_SUCCESS)
        tofu_t_skip("this system cannot resolve \"localhost\" (no /etc/hosts entry?)");
}

TEST(resolve_host_name_gives_loopback_addresses) {
    T_BEGIN();
    t_need_localhost();
    tofu_address a = t_tcp("localhost", 0);
    tofui_sockaddr sa[8];
    size_t n = 0, bound = 0;
    ASSERT_FALSE(tofui_sock_is_literal(&a));
    ASSERT_OK(tofui_sock_resolve(&a, false, sa, 8, &n));
    ASSERT_TRUE(n >= 1 && n <= 8);
    for (size_t i = 0; i < n; i++) {
        tofui_socket l = TOFUI_INVALID_SOCKET;
        ASSERT_FALSE(sa[i].uds);
        if (tofui_sock_listen(&sa[i], &l) != TOFU_SUCCESS)
            continue; /* e.g. ::1 listed on a host without IPv6 */
        tofu_address got = t_reachable(l, &sa[i]);
        ASSERT_TRUE(strcmp(got.host, "127.0.0.1") == 0 || strcmp(got.host, "::1") == 0);
        tofui_sock_close_listener(l, &sa[i]);
        bound++;
    }
    ASSERT_TRUE(bound >= 1);
    T_END();
}

TEST(resolve_keeps_at_most_max_results) {
    t_need_localhost();
    tofu_address a = t_tcp("localhost", 80);
    tofui_sockaddr sa[1];
    size_t n = 99;
    ASSERT_OK(tofui_sock_resolve(&a, false, sa, 1, &n));
    ASSERT_EQ(n, 1);
    ASSERT_STATUS(TOFU_INVALID_ADDRESS, tofui_sock_resolve(&a, false, sa, 0, &n));
    ASSERT_EQ(n, 0);
}

TEST(resolve_unknown_host_is_invalid_address) {
    tofu_address a = t_tcp("no-such-host.invalid", 7099);
    tofui_sockaddr sa;
    size_t n = 99;
    ASSERT_STATUS(TOFU_INVALID_ADDRESS, tofui_sock_resolve(&a, false, &sa, 1, &n));
    ASSERT_EQ(n, 0);
}

TEST(resolve_empty_host_is_ipv4_any_when_listening_only) {
    T_BEGIN();
    tofu_address a = t_tcp("", 0);
    tofui_sockaddr sa;
    size_t n = 0;
    ASSERT_TRUE(tofui_sock_is_literal(&a));
    ASSERT_STATUS(TOFU_INVALID_ADDRESS, tofui_sock_resolve(&a, false, &sa, 1, &n));
    tofui_socket l = t_listen(&a, &sa);
    tofu_address got = t_reachable(l, &sa);
    ASSERT_STR_EQ(got.host, "0.0.0.0");
    ASSERT_NE(got.port, 0);
    tofui_sock_close_listener(l, &sa);
    T_END();
}

TEST(resolve_uds_path_and_limits) {
    char longest[TOFU_UDS_PATH_BUF + 1];
    size_t max = tofu_uds_path_max();
    ASSERT_TRUE(max >= 103 && max < TOFU_UDS_PATH_BUF);
    tofu_address a = t_uds("/tmp/x.sock", false);
    ASSERT_TRUE(tofui_sock_is_literal(&a));
    tofui_sockaddr sa = t_resolve1(&a, false);
    ASSERT_TRUE(sa.uds);
    ASSERT_TRUE(sa.uds_filesystem);
    /* The longest path that fits, and one byte more. */
    memset(longest, 'p', sizeof longest);
    longest[0] = '/';
    longest[max] = '\0';
    a = t_uds(longest, false);
    sa = t_resolve1(&a, false);
    if (max + 1 < TOFU_UDS_PATH_BUF) {
        memset(a.path, 'p', max + 1);
        a.path[max + 1] = '\0';
        size_t n = 0;
        ASSERT_STATUS(TOFU_INVALID_ADDRESS, tofui_sock_resolve(&a, false, &sa, 1, &n));
    }
    a = t_uds("", false);
    size_t n = 0;
    ASSERT_STATUS(TOFU_INVALID_ADDRESS, tofui_sock_resolve(&a, false, &sa, 1, &n));
}

TEST(resolve_abstract_name_only_where_supported) {
    tofu_address a = t_uds("tofu_abstract", true);
    tofui_sockaddr sa;
    size_t n = 0;
    if (!tofu_uds_abstract_supported()) {
        ASSERT_STATUS(TOFU_INVALID_ADDRESS, tofui_sock_resolve(&a, false, &sa, 1, &n));
        return;
    }
    sa = t_resolve1(&a, false);
    ASSERT_TRUE(sa.uds);
    ASSERT_FALSE(sa.uds_filesystem);
}

/* ------------------------------------------------------------------------ */
/* TCP                                                                      */
/* ------------------------------------------------------------------------ */

TEST(tcp_listen_on_port_zero_reports_the_real_port) {
    T_BEGIN();
    tofu_address a = t_tcp("127.0.0.1", 0);
    tofui_sockaddr sa;
    tofui_socket l = t_listen(&a, &sa);
    tofu_address got = t_reachable(l, &sa);
    ASSERT_NE(got.port, 0);
    ASSERT_EQ(tofui_sock_open_count(), t_sockets_at_start + 1);
    tofui_sock_close_listener(l, &sa);
    T_END();
}

TEST(second_tcp_listener_on_a_port_in_use_fails) {
    T_BEGIN();
    tofu_address a = t_tcp("127.0.0.1", 0);
    tofui_sockaddr sa;
    tofui_socket l = t_listen(&a, &sa), l2 = TOFUI_INVALID_SOCKET;
    tofu_address taken = t_reachable(l, &sa);
    tofui_sockaddr sa2 = t_resolve1(&taken, true);
    ASSERT_STATUS(TOFU_LISTEN_FAILED, tofui_sock_listen(&sa2, &l2));
    T_LAST_ERROR("ADDRINUSE", "EACCES"); /* Windows' exclusive use: either */
    ASSERT_TRUE(l2 == TOFUI_INVALID_SOCKET);
    /* The wildcard address overlaps it too. */
    tofu_address any = t_tcp("", taken.port);
    sa2 = t_resolve1(&any, true);
    ASSERT_STATUS(TOFU_LISTEN_FAILED, tofui_sock_listen(&sa2, &l2));
    tofui_sock_close_listener(l, &sa);
    T_END();
}

TEST(tcp_connect_accept_and_round_trip_1000_bytes) {
    T_BEGIN();
    tofu_address a = t_tcp("127.0.0.1", 0);
    t_conn c;
    t_connect_pair(&a, &c);
    ASSERT_EQ(tofui_sock_open_count(), t_sockets_at_start + 3);
    t_round_trip(&c);
    t_close_pair(&c);
    T_END();
}

TEST(tcp_ipv6_connect_accept_and_round_trip) {
    T_BEGIN();
    tofu_address a = t_tcp("::1", 0);
    tofui_sockaddr probe = t_resolve1(&a, true);
    tofui_socket l = TOFUI_INVALID_SOCKET;
    if (tofui_sock_listen(&probe, &l) != TOFU_SUCCESS)
        tofu_t_skip("no IPv6 loopback on this host");
    tofui_sock_close_listener(l, &probe);
    t_conn c;
    t_connect_pair(&a, &c);
    t_round_trip(&c);
    t_close_pair(&c);
    T_END();
}

TEST(tcp_connect_to_a_closed_port_fails) {
    T_BEGIN();
    tofu_address a = t_tcp("127.0.0.1", 0);
    tofui_sockaddr sa;
    tofui_socket l = t_listen(&a, &sa), s = TOFUI_INVALID_SOCKET;
    tofu_address closed = t_reachable(l, &sa);
    tofui_sock_close_listener(l, &sa);
    tofui_sockaddr target = t_resolve1(&closed, false);
    bool in_progress = false;
    tofu_status st = tofui_sock_connect(&target, &s, &in_progress);
    if (st != TOFU_SUCCESS) {
        ASSERT_STATUS(TOFU_CONNECT_FAILED, st);
        T_LAST_ERROR("REFUSED");
        ASSERT_TRUE(s == TOFUI_INVALID_SOCKET);
    } else {
        /* Refused later: the poller reports the socket, SO_ERROR says why. */
        ASSERT_TRUE(in_progress);
        tofui_poller *p = NULL;
        tofui_event ev[4];
        bool woken = false;
        ASSERT_OK(tofui_poller_create(&p));
        ASSERT_OK(tofui_poller_add(p, s, &s, TOFUI_POLL_OUT));
        ASSERT_EQ_I(tofui_poller_wait(p, ev, 4, T_PATIENCE_MS, &woken), 1);
        ASSERT_TRUE(ev[0].data == &s);
        ASSERT_STATUS(TOFU_CONNECT_FAILED, tofui_sock_connect_result(s));
        T_LAST_ERROR("REFUSED"); /* SO_ERROR's */
        tofui_poller_remove(p, s);
        tofui_poller_destroy(p);
        tofui_sock_close(s);
    }
    T_END();
}

TEST(accept_with_nothing_pending_gives_no_socket) {
    T_BEGIN();
    tofu_address a = t_tcp("127.0.0.1", 0);
    tofui_sockaddr sa;
    tofui_socket l = t_listen(&a, &sa), s = (tofui_socket)12345;
    ASSERT_OK(tofui_sock_accept(l, &s));
    ASSERT_TRUE(s == TOFUI_INVALID_SOCKET);
    ASSERT_OK(tofui_sock_accept(l, &s));
    ASSERT_TRUE(s == TOFUI_INVALID_SOCKET);
    tofui_sock_close_listener(l, &sa);
    T_END();
}

TEST(read_with_no_data_gives_zero_bytes) {
    T_BEGIN();
    tofu_address a = t_tcp("127.0.0.1", 0);
    t_conn c;
    char buf[64];
    size_t got = 99;
    t_connect_pair(&a, &c);
    ASSERT_OK(tofui_sock_read(c.server, buf, sizeof buf, &got));
    ASSERT_EQ(got, 0);
    ASSERT_OK(tofui_sock_read(c.client, buf, sizeof buf, &got));
    ASSERT_EQ(got, 0);
    t_close_pair(&c);
    T_END();
}

TEST(writev_gathers_its_parts_in_order) {
    T_BEGIN();
    tofu_address a = t_tcp("127.0.0.1", 0);
    t_conn c;
    char in[16];
    size_t w = 0;
    tofui_iov iov[4] = {{"head", 4}, {"", 0}, {"-body-", 6}, {"tail", 4}};
    t_connect_pair(&a, &c);
    ASSERT_OK(tofui_sock_writev(c.client, iov, 4, &w));
    ASSERT_EQ(w, 14);
    ASSERT_OK(tofui_sock_writev(c.client, iov, 0, &w));
    ASSERT_EQ(w, 0);
    t_read_exact(c.server, in, 14);
    ASSERT_MEM_EQ(in, 14, "head-body-tail", 14);
    t_close_pair(&c);
    T_END();
}

TEST(writev_fills_the_socket_until_it_would_block) {
    T_BEGIN();
    tofu_address a = t_tcp("127.0.0.1", 0);
    t_conn c;
    static char chunk[65536];
    size_t total = 0, w = 1;
    int calls = 0;
    t_connect_pair(&a, &c);
    /* Nobody reads: the socket buffers fill and the write would block. At
     * most 64 MiB, far more than any socket buffer. */
    for (; w != 0 && calls < 1024; calls++) {
        tofui_iov iov = {chunk, sizeof chunk};
        ASSERT_OK(tofui_sock_writev(c.client, &iov, 1, &w));
        total += w;
    }
    ASSERT_EQ(w, 0);
    ASSERT_TRUE(total > 0);
    /* After the peer drains some, writing works again. */
    char sink[65536];
    t_read_exact(c.server, sink, sizeof sink);
    t_close_pair(&c);
    T_END();
}

TEST(read_after_peer_close_is_peer_disconnected) {
    T_BEGIN();
    tofu_address a = t_tcp("127.0.0.1", 0);
    t_conn c;
    char buf[8];
    t_connect_pair(&a, &c);
    t_write_all(c.client, "bye", 3);
    tofui_sock_close(c.client);
    /* Data sent before the close still arrives, then the end of stream. */
    t_read_exact(c.server, buf, 3);
    ASSERT_MEM_EQ(buf, 3, "bye", 3);
    ASSERT_STATUS(TOFU_PEER_DISCONNECTED, t_read_until_error(c.server));
    c.client = TOFUI_INVALID_SOCKET;
    t_close_pair(&c);
    T_END();
}

TEST(read_after_peer_abort_is_recv_failed) {
    T_BEGIN();
    tofu_address a = t_tcp("127.0.0.1", 0);
    t_conn c;
    t_connect_pair(&a, &c);
    tofui_sock_abort(c.client);
    c.client = TOFUI_INVALID_SOCKET;
    ASSERT_STATUS(TOFU_RECV_FAILED, t_read_until_error(c.server));
    t_close_pair(&c);
    T_END();
}

TEST(write_to_a_reset_peer_reports_the_reset_without_killing_the_process) {
    T_BEGIN();
    tofu_address a = t_tcp("127.0.0.1", 0);
    t_conn c;
    tofu_status st = TOFU_SUCCESS;
    t_connect_pair(&a, &c);
    tofui_sock_abort(c.client);
    c.client = TOFUI_INVALID_SOCKET;
    /* The first write may still be accepted; one after the reset fails with
     * ECONNRESET (reported as the reset it is), never SIGPIPE. */
    for (int i = 0; i < T_PATIENCE_MS && st == TOFU_SUCCESS; i++) {
        tofui_iov iov = {"x", 1};
        size_t w = 0;
        st = tofui_sock_writev(c.server, &iov, 1, &w);
        tofui_sleep_ms(1);
    }
    ASSERT_STATUS(TOFU_COMMUNICATION_FAILED, st);
    t_close_pair(&c);
    T_END();
}

TEST(shutdown_write_ends_one_direction_only) {
    T_BEGIN();
    tofu_address a = t_tcp("127.0.0.1", 0);
    t_conn c;
    char buf[8];
    t_connect_pair(&a, &c);
    tofui_sock_shutdown_write(c.client);
    ASSERT_STATUS(TOFU_PEER_DISCONNECTED, t_read_until_error(c.server));
    /* The other direction still carries data. */
    t_write_all(c.server, "late", 4);
    t_read_exact(c.client, buf, 4);
    ASSERT_MEM_EQ(buf, 4, "late", 4);
    t_close_pair(&c);
    T_END();
}

/* ------------------------------------------------------------------------ */
/* Unix-domain sockets                                                      */
/* ------------------------------------------------------------------------ */

TEST(uds_connect_accept_and_round_trip_1000_bytes) {
    if (!tofui_sock_uds_available())
        tofu_t_skip("no AF_UNIX on this system");
    T_BEGIN();
    tofu_address a = t_temp_uds();
    t_conn c;
    t_connect_pair(&a, &c);
    t_round_trip(&c);
    tofu_address got = t_reachable(c.listener, &c.bound);
    ASSERT_EQ(got.transport, TOFU_TRANSPORT_UDS);
    ASSERT_STR_EQ(got.path, a.path);
    ASSERT_FALSE(got.abstract);
    t_close_pair(&c);
    T_END();
}

TEST(uds_read_after_peer_close_is_peer_disconnected) {
    if (!tofui_sock_uds_available())
        tofu_t_skip("no AF_UNIX on this system");
    T_BEGIN();
    tofu_address a = t_temp_uds();
    t_conn c;
    t_connect_pair(&a, &c);
    tofui_sock_abort(c.server); /* on a UDS socket an abort is a plain close */
    c.server = TOFUI_INVALID_SOCKET;
    ASSERT_STATUS(TOFU_PEER_DISCONNECTED, t_read_until_error(c.client));
    t_close_pair(&c);
    T_END();
}

TEST(uds_connect_to_a_missing_path_is_uds_path_not_found) {
    if (!tofui_sock_uds_available())
        tofu_t_skip("no AF_UNIX on this system");
    T_BEGIN();
    tofu_address a = t_temp_uds();
    tofui_sockaddr sa = t_resolve1(&a, false);
    tofui_socket s = (tofui_socket)12345;
    bool in_progress = true;
    ASSERT_STATUS(TOFU_UDS_PATH_NOT_FOUND, tofui_sock_connect(&sa, &s, &in_progress));
    T_LAST_ERROR("ENOENT", "NOT_FOUND");
    ASSERT_TRUE(s == TOFUI_INVALID_SOCKET);
    ASSERT_FALSE(in_progress);
    T_END();
}

TEST(uds_listener_close_removes_the_socket_file) {
    if (!tofui_sock_uds_available())
        tofu_t_skip("no AF_UNIX on this system");
    T_BEGIN();
    tofu_address a = t_temp_uds();
    tofui_sockaddr sa;
    tofui_socket l = t_listen(&a, &sa);
    ASSERT_TRUE(t_file_exists(a.path));
    tofui_sock_close_listener(l, &sa);
    ASSERT_FALSE(t_file_exists(a.path));
    T_END();
}

TEST(uds_stale_socket_file_is_replaced) {
    if (!tofui_sock_uds_available())
        tofu_t_skip("no AF_UNIX on this system");
    T_BEGIN();
    tofu_address a = t_temp_uds();
    tofui_sockaddr sa;
    /* A plain close leaves the file behind, like a crashed server. */
    tofui_sock_close(t_listen(&a, &sa));
    ASSERT_TRUE(t_file_exists(a.path));
    t_conn c;
    t_connect_pair(&a, &c);
    t_round_trip(&c);
    t_close_pair(&c);
    ASSERT_FALSE(t_file_exists(a.path));
    T_END();
}

TEST(uds_live_listener_path_is_not_stolen) {
    if (!tofui_sock_uds_available())
        tofu_t_skip("no AF_UNIX on this system");
    T_BEGIN();
    tofu_address a = t_temp_uds();
    tofui_sockaddr sa;
    tofui_socket l = t_listen(&a, &sa), l2 = TOFUI_INVALID_SOCKET;
    ASSERT_STATUS(TOFU_LISTEN_FAILED, tofui_sock_listen(&sa, &l2));
    T_LAST_ERROR("ADDRINUSE"); /* not the error of the probe's connect */
    ASSERT_TRUE(l2 == TOFUI_INVALID_SOCKET);
    /* The first listener still owns the path: a new client reaches it (after
     * the probe connection the second listen may have made to test it). */
    tofui_socket s = TOFUI_INVALID_SOCKET, srv = TOFUI_INVALID_SOCKET;
    bool in_progress = false;
    ASSERT_OK(tofui_sock_connect(&sa, &s, &in_progress));
    tofui_sock_close(t_accept(l));
    for (int i = 0; i < 50 && srv == TOFUI_INVALID_SOCKET; i++, tofui_sleep_ms(1))
        ASSERT_OK(tofui_sock_accept(l, &srv));
    tofui_sock_close(srv);
    tofui_sock_close(s);
    tofui_sock_close_listener(l, &sa);
    T_END();
}

TEST(uds_regular_file_at_the_path_is_never_removed) {
    if (!tofui_sock_uds_available())
        tofu_t_skip("no AF_UNIX on this system");
    T_BEGIN();
    tofu_address a = t_temp_uds();
    FILE *f = fopen(a.path, "w");
    ASSERT_NOT_NULL(f);
    fputs("precious", f);
    fclose(f);
    tofui_sockaddr sa = t_resolve1(&a, true);
    tofui_socket l = TOFUI_INVALID_SOCKET;
    ASSERT_STATUS(TOFU_LISTEN_FAILED, tofui_sock_listen(&sa, &l));
    f = fopen(a.path, "r");
    ASSERT_NOT_NULL(f);
    fclose(f);
    ASSERT_EQ(remove(a.path), 0);
    T_END();
}

TEST(abstract_uds_listen_connect_and_round_trip) {
    if (!tofu_uds_abstract_supported() || !tofui_sock_uds_available())
        tofu_t_skip("no abstract UDS namespace on this system");
    T_BEGIN();
    tofu_address a = t_abstract_name();
    t_conn c;
    t_connect_pair(&a, &c);
    t_round_trip(&c);
    tofu_address got = t_reachable(c.listener, &c.bound);
    ASSERT_TRUE(got.abstract);
    ASSERT_STR_EQ(got.path, a.path);
    /* A second listener on the same name fails: abstract names are never
     * "stale". */
    tofui_socket l2 = TOFUI_INVALID_SOCKET;
    ASSERT_STATUS(TOFU_LISTEN_FAILED, tofui_sock_listen(&c.bound, &l2));
    t_close_pair(&c);
    T_END();
}

TEST(open_socket_counter_follows_every_open_and_close) {
    T_BEGIN();
    tofu_address a = t_tcp("127.0.0.1", 0);
    t_conn c;
    t_connect_pair(&a, &c);
    ASSERT_EQ(tofu_open_sockets(), t_sockets_at_start + 3);
    tofui_sock_abort(c.client);
    c.client = TOFUI_INVALID_SOCKET;
    ASSERT_EQ(tofu_open_sockets(), t_sockets_at_start + 2);
    tofui_sock_close(c.server);
    c.server = TOFUI_INVALID_SOCKET;
    ASSERT_EQ(tofu_open_sockets(), t_sockets_at_start + 1);
    tofui_poller *p = NULL;
    ASSERT_OK(tofui_poller_create(&p));
    /* Every backend counts its wake-up/port handles with the sockets. */
    ASSERT_TRUE(tofu_open_sockets() > t_sockets_at_start + 1);
    tofui_poller_destroy(p);
    t_close_pair(&c);
    T_END();
}

/* The text of an error number: a number without a name is shown as one
 * ("errno 987654 ..." on POSIX, "error 987654 ..." on Windows); a short
 * buffer gets a cut, NUL-terminated text. */
TEST(os_error_text_of_unknown_numbers_and_short_buffers) {
    char text[TOFUI_OS_ERROR_TEXT_MAX];
    tofui_os_error_text(987654, text, sizeof text);
    printf("987654: %s\n", text);
    ASSERT_TRUE(strncmp(text, "errno 987654", 12) == 0 || strncmp(text, "error 987654", 12) == 0);
    char small[8];
    memset(small, 'x', sizeof small);
    tofui_os_error_text(987654, small, sizeof small);
    ASSERT_EQ(strlen(small), sizeof small - 1);
    ASSERT_TRUE(strncmp(small, text, sizeof small - 1) == 0);
}
