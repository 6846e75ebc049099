/* Socket fixtures; see sockets.h. */
#if defined(_WIN32)
#include <winsock2.h> /* socket(), bind(), for a held port */
#else
#include <sys/socket.h> /* socket(), bind(), for a held port; listen(), to shrink a backlog */
#include <unistd.h>
#endif

#include <stdatomic.h>
#include <stdint.h>

#include "platform/poller.h"
#include "platform/sock_addr.h"
#include "sockets.h"

#define SOCKETS__NS_PER_S 1000000000ull

/* ---- the transport of a TRANSPORT_TEST case ---- */

static const char *const sockets__transport_names[] = {"tcp4", "tcp6", "uds", "abstract"};

const char *tofu_t_transport_name(tofu_t_transport t) {
    return sockets__transport_names[t];
}

bool tofu_t_transport_is_uds(tofu_t_transport t) {
    return t == TOFU_T_UDS || t == TOFU_T_ABSTRACT;
}

static tofu_t_transport sockets__transport_named(const char *name) {
    for (int t = TOFU_T_TCP4; t <= TOFU_T_ABSTRACT; t++)
        if (strcmp(name, sockets__transport_names[t]) == 0)
            return (tofu_t_transport)t;
    tofu_t_fail(__FILE__, __LINE__, "unknown transport %s (tcp4, tcp6, uds, abstract)", name);
}

tofu_t_transport tofu_t_transport_arg(void) {
    const char *name = tofu_t_arg(0);
    tofu_t_transport t = name == NULL ? TOFU_T_TCP4 : sockets__transport_named(name);
    tofu_t_transport_require(t);
    return t;
}

void tofu_t_transport_require(tofu_t_transport t) {
    if (t == TOFU_T_TCP6 && !tofu_t_ipv6_available())
        tofu_t_skip("IPv6 loopback ::1 unavailable");
    if (tofu_t_transport_is_uds(t) && !tofui_sock_uds_available())
        tofu_t_skip("AF_UNIX unavailable");
    if (t == TOFU_T_ABSTRACT && !tofu_uds_abstract_supported())
        tofu_t_skip("no abstract UDS namespace on this system");
}

void tofu_t_listen_value(tofu_t_transport t, char *buf, size_t cap) {
    char name[TOFU_UDS_PATH_BUF];
    int len = 0;
    switch (t) {
    case TOFU_T_TCP4:
        len = snprintf(buf, cap, "tcp|127.0.0.1|0");
        break;
    case TOFU_T_TCP6:
        len = snprintf(buf, cap, "tcp|::1|0");
        break;
    case TOFU_T_UDS:
        tofu_t_uds_path(name, sizeof name);
        len = snprintf(buf, cap, "uds|%s", name);
        break;
    case TOFU_T_ABSTRACT:
        tofu_t_abstract_name(name, sizeof name);
        len = snprintf(buf, cap, "uds|%s", name);
        break;
    }
    ASSERT_TRUE(len > 0 && (size_t)len < cap);
}

/* ---- raw sockets ---- */

/* Waits until s reports `interest` (or an error) in a private poller. */
static void sockets__raw_wait(tofui_socket s, unsigned interest, const char *file, int line) {
    tofui_poller *p = NULL;
    ASSERT_OK(tofui_poller_create(&p));
    ASSERT_OK(tofui_poller_add(p, s, &s, interest));
    uint64_t deadline = tofui_clock_ns() + TOFU_T_WAIT_S * SOCKETS__NS_PER_S;
    for (;;) {
        tofui_event ev[4];
        bool woken = false;
        int n = tofui_poller_wait(p, ev, 4, 100, &woken);
        if (n < 0)
            tofu_t_fail(file, line, "raw socket: poller wait failed");
        if (n > 0)
            break;
        if (tofui_clock_ns() > deadline)
            tofu_t_fail(file, line, "raw socket: not ready within %u s", TOFU_T_WAIT_S);
    }
    tofui_poller_remove(p, s);
    tofui_poller_destroy(p);
}

tofui_socket tofu_t_raw_connect_at(const tofu_address *a, const char *file, int line) {
    tofui_sockaddr sa;
    size_t n = 0;
    if (tofui_sock_resolve(a, false, &sa, 1, &n) != TOFU_SUCCESS || n == 0)
        tofu_t_fail(file, line, "raw socket: cannot resolve the address");
    tofui_socket s = TOFUI_INVALID_SOCKET;
    bool in_progress = false;
    tofu_status st = tofui_sock_connect(&sa, &s, &in_progress);
    if (st != TOFU_SUCCESS)
        tofu_t_fail(file, line, "raw socket: connect failed with %s", tofu_status_name(st));
    if (in_progress) {
        sockets__raw_wait(s, TOFUI_POLL_OUT, file, line);
        st = tofui_sock_connect_result(s);
        if (st != TOFU_SUCCESS)
            tofu_t_fail(file, line, "raw socket: connect failed with %s", tofu_status_name(st));
    }
    return s;
}

void tofu_t_raw_send_at(tofui_socket s, const void *p, size_t n, const char *file, int line) {
    const unsigned char *b = p;
    while (n > 0) {
        tofui_iov iov = {b, n};
        size_t w = 0;
        tofu_status st = tofui_sock_writev(s, &iov, 1, &w);
        if (st != TOFU_SUCCESS)
            tofu_t_fail(file, line, "raw socket: write failed with %s", tofu_status_name(st));
        if (w == 0)
            sockets__raw_wait(s, TOFUI_POLL_OUT, file, line);
        b += w;
        n -= w;
    }
}

void tofu_t_raw_recv_at(tofui_socket s, void *p, size_t n, const char *file, int line) {
    unsigned char *b = p;
    while (n > 0) {
        size_t got = 0;
        tofu_status st = tofui_sock_read(s, b, n, &got);
        if (st != TOFU_SUCCESS)
            tofu_t_fail(file, line, "raw socket: read failed with %s, %zu bytes short",
                        tofu_status_name(st), n);
        if (got == 0)
            sockets__raw_wait(s, TOFUI_POLL_IN, file, line);
        b += got;
        n -= got;
    }
}

void tofu_t_raw_wait_closed_at(tofui_socket s, const char *file, int line) {
    for (;;) {
        unsigned char buf[4096];
        size_t got = 0;
        tofu_status st = tofui_sock_read(s, buf, sizeof buf, &got);
        if (st != TOFU_SUCCESS)
            return; /* EOF or reset: the engine closed its end */
        if (got == 0)
            sockets__raw_wait(s, TOFUI_POLL_IN, file, line);
    }
}

static void sockets__be(uint8_t *out, uint64_t v, int bytes) {
    for (int i = bytes - 1; i >= 0; i--) {
        out[i] = (uint8_t)(v & 0xFF);
        v >>= 8;
    }
}

void tofu_t_raw_header(uint8_t out[16], uint16_t channel, uint8_t proto, uint64_t id,
                       uint16_t thl, uint16_t bl) {
    sockets__be(out, channel, 2);
    out[2] = proto;
    out[3] = 0;
    sockets__be(out + 4, id, 8);
    sockets__be(out + 12, thl, 2);
    sockets__be(out + 14, bl, 2);
}

size_t tofu_t_raw_frame(uint8_t *out, uint16_t channel, uint8_t proto, uint64_t id,
                        const void *th, uint16_t thl, const void *body, uint16_t bl) {
    tofu_t_raw_header(out, channel, proto, id, thl, bl);
    if (thl > 0)
        memcpy(out + 16, th, thl);
    if (bl > 0)
        memcpy(out + 16 + thl, body, bl);
    return 16u + thl + bl;
}

/* ---- addresses ---- */

static atomic_int sockets__names;

/* Paths handed out, removed at exit if a test left one behind (a failed
 * test exits without cleaning up). */
#define SOCKETS__MAX_PATHS 4096
static char sockets__paths[SOCKETS__MAX_PATHS][TOFU_UDS_PATH_BUF];
static atomic_int sockets__npaths;
static atomic_flag sockets__atexit_done = ATOMIC_FLAG_INIT;

static void sockets__remove_paths(void) {
    int n = atomic_load(&sockets__npaths);
    for (int i = 0; i < n && i < SOCKETS__MAX_PATHS; i++)
        if (sockets__paths[i][0] != '\0')
            remove(sockets__paths[i]);
}

static void sockets__remember_path(const char *path) {
    if (!atomic_flag_test_and_set(&sockets__atexit_done))
        atexit(sockets__remove_paths);
    int i = atomic_fetch_add(&sockets__npaths, 1);
    if (i < SOCKETS__MAX_PATHS)
        snprintf(sockets__paths[i], TOFU_UDS_PATH_BUF, "%s", path);
}

void tofu_t_uds_path(char *buf, size_t cap) {
    tofu_t_temp_path(buf, cap, ".sock");
    ASSERT_TRUE(strlen(buf) <= tofu_uds_path_max());
    sockets__remember_path(buf);
}

void tofu_t_abstract_name(char *buf, size_t cap) {
    int n = atomic_fetch_add(&sockets__names, 1);
    int len = snprintf(buf, cap, "@tofu_%lu_%d", tofu_t_pid(), n);
    ASSERT_TRUE(len > 0 && (size_t)len < cap);
}

/* Binds a raw listener on host port 0; returns false when that fails. */
static bool sockets__probe_listen(const char *value, uint16_t *port) {
    tofu_address a;
    if (tofu_address_parse(value, strlen(value), &a) != TOFU_SUCCESS)
        return false;
    tofui_sockaddr sa;
    size_t n = 0;
    if (tofui_sock_resolve(&a, true, &sa, 1, &n) != TOFU_SUCCESS || n == 0)
        return false;
    tofui_socket s = TOFUI_INVALID_SOCKET;
    if (tofui_sock_listen(&sa, &s) != TOFU_SUCCESS)
        return false;
    tofu_address bound;
    tofu_status st = tofui_sock_local_address(s, &sa, &bound);
    tofui_sock_close_listener(s, &sa);
    if (st != TOFU_SUCCESS)
        return false;
    if (port != NULL)
        *port = bound.port;
    return true;
}

uint16_t tofu_t_free_tcp_port(void) {
    uint16_t port = 0;
    ASSERT_TRUE(sockets__probe_listen("tcp|127.0.0.1|0", &port));
    ASSERT_NE(port, 0);
    return port;
}

/* A port held on the address of `value` (a TCP loopback, port 0).
 *
 * Held ports are taken below the ephemeral ranges (Linux 32768-60999,
 * Windows and the BSDs 49152-65535): a port chosen by the kernel for a
 * listener on port 0 is also where other tests' outgoing connects take
 * their source ports, and one of them (a storm of 1,000 connects runs
 * beside these tests) could take a held port in the moment between its
 * release and the listen it was held for (seen once: listen_failed). A
 * port is asked for at random in this range, port 0 if none binds.
 *
 * Since the kernel does not choose the port, the hold itself must keep
 * every other socket off it, in this process and in the tests running
 * beside it: a socket bound exclusively and not listening (connects to it
 * are refused, and it leaves nothing in TIME_WAIT when closed). An
 * accepted connection that outlived its listener, the hold before, did
 * not: POSIX lets a listener with SO_REUSEADDR bind a port whose other
 * sockets all have it and none listens, and Wine let an exclusive listener
 * bind it too, so two holds could share a port and one test's "refused"
 * connect reached the other's listener (scenarios.tcp4.simultaneous under
 * Wine: a HelloResponse with success where a connect failure was due). */
#define SOCKETS__HOLD_LOW 20000u
#define SOCKETS__HOLD_SPAN 12000u
#define SOCKETS__HOLD_TRIES 64

/* A TCP socket bound to sa that no other socket can bind beside:
 * POSIX without SO_REUSEADDR (any bind to the port then conflicts, with
 * or without the option), Windows with SO_EXCLUSIVEADDRUSE. Not listening.
 * TOFUI_INVALID_SOCKET when the port is taken. Made with the system's calls,
 * not the library's, so outside its socket count. */
static tofui_socket sockets__bind_exclusive(const tofui_sockaddr *sa) {
#if defined(_WIN32)
    SOCKET s = socket(tofui_sockaddr_family(sa), SOCK_STREAM, IPPROTO_TCP);
    if (s == INVALID_SOCKET)
        return TOFUI_INVALID_SOCKET;
    int on = 1;
    setsockopt(s, SOL_SOCKET, SO_EXCLUSIVEADDRUSE, (const char *)&on, sizeof on);
    if (bind(s, tofui_sockaddr_sa(sa), (int)sa->len) != 0) {
        closesocket(s);
        return TOFUI_INVALID_SOCKET;
    }
    return (tofui_socket)s;
#else
    int fd = socket(tofui_sockaddr_family(sa), SOCK_STREAM, 0);
    if (fd < 0)
        return TOFUI_INVALID_SOCKET;
    if (bind(fd, tofui_sockaddr_sa(sa), (socklen_t)sa->len) != 0) {
        close(fd);
        return TOFUI_INVALID_SOCKET;
    }
    return fd;
#endif
}

/* Closes what sockets__bind_exclusive made (outside the library's socket
 * count, which the leak checks compare with zero). */
static void sockets__close_exclusive(tofui_socket s) {
#if defined(_WIN32)
    closesocket((SOCKET)s);
#else
    close((int)s);
#endif
}

static tofui_socket sockets__bind_below_ephemeral(tofu_address *a, tofui_sockaddr *sa) {
    static atomic_uint_fast64_t seed;
    uint64_t x = atomic_fetch_add(&seed, 0x9E3779B97F4A7C15ull) ^ tofui_clock_ns() ^
                 (uint64_t)(uintptr_t)&x;
    tofui_socket s = TOFUI_INVALID_SOCKET;
    for (int i = 0; i < SOCKETS__HOLD_TRIES && s == TOFUI_INVALID_SOCKET; i++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        a->port = (uint16_t)(SOCKETS__HOLD_LOW + (x >> 33) % SOCKETS__HOLD_SPAN);
        size_t n = 0;
        if (tofui_sock_resolve(a, true, sa, 1, &n) != TOFU_SUCCESS || n == 0)
            continue;
        s = sockets__bind_exclusive(sa);
    }
    return s;
}

static uint16_t sockets__hold_on(tofu_t_port_hold *h, const char *value, const char *file,
                                 int line) {
    tofu_address a;
    tofui_sockaddr sa;
    size_t n = 0;
    ASSERT_OK(tofu_address_parse(value, strlen(value), &a));
    tofui_socket s = sockets__bind_below_ephemeral(&a, &sa);
    if (s == TOFUI_INVALID_SOCKET) {
        a.port = 0;
        ASSERT_OK(tofui_sock_resolve(&a, true, &sa, 1, &n));
        s = sockets__bind_exclusive(&sa);
        if (s == TOFUI_INVALID_SOCKET)
            tofu_t_fail(file, line, "no port to hold on %s (%d tries below the ephemeral range, "
                        "then port 0)", value, SOCKETS__HOLD_TRIES);
    }
    tofu_address bound;
    ASSERT_OK(tofui_sock_local_address(s, &sa, &bound));
    h->bound = s;
    h->port = bound.port;
    return h->port;
}

void tofu_t_port_release(tofu_t_port_hold *h) {
    if (h->port == 0)
        return;
    sockets__close_exclusive(h->bound);
    h->bound = TOFUI_INVALID_SOCKET;
    h->port = 0;
}

void tofu_t_closed_value_at(tofu_t_transport t, tofu_t_port_hold *hold, char *buf, size_t cap,
                            const char *file, int line) {
    hold->bound = TOFUI_INVALID_SOCKET;
    hold->port = 0;
    if (tofu_t_transport_is_uds(t)) {
        tofu_t_listen_value(t, buf, cap); /* nobody made that file or name yet */
        return;
    }
    char any[TOFU_T_ADDR_CAP];
    tofu_t_listen_value(t, any, sizeof any);
    tofu_address a;
    ASSERT_OK(tofu_address_parse(any, strlen(any), &a));
    a.port = sockets__hold_on(hold, any, file, line);
    ASSERT_OK(tofu_address_format(&a, buf, cap, NULL));
}

bool tofu_t_ipv6_available(void) {
    return sockets__probe_listen("tcp|::1|0", NULL);
}

void tofu_t_connect_value(const tofu_address *bound, char *buf, size_t cap) {
    tofu_address a = *bound;
    if (a.transport == TOFU_TRANSPORT_TCP) {
        if (a.host[0] == '\0' || strcmp(a.host, "0.0.0.0") == 0)
            snprintf(a.host, sizeof a.host, "127.0.0.1");
        else if (strcmp(a.host, "::") == 0)
            snprintf(a.host, sizeof a.host, "::1");
    }
    ASSERT_OK(tofu_address_format(&a, buf, cap, NULL));
}

/* ---- a listener that does not answer ---- */

/* True when s finished connecting within ms (a non-failing wait). */
static bool sockets__connected_within(tofui_socket s, unsigned ms) {
    tofui_poller *p = NULL;
    ASSERT_OK(tofui_poller_create(&p));
    ASSERT_OK(tofui_poller_add(p, s, NULL, TOFUI_POLL_OUT));
    tofui_event ev[2];
    bool woken = false;
    int n = tofui_poller_wait(p, ev, 2, (int)ms, &woken);
    tofui_poller_remove(p, s);
    tofui_poller_destroy(p);
    return n > 0 && tofui_sock_connect_result(s) == TOFU_SUCCESS;
}

#if defined(__linux__)
static bool sockets__shrink_backlog(tofui_socket listener) {
    return listen(listener, 0) == 0;
}
#else
static bool sockets__shrink_backlog(tofui_socket listener) {
    (void)listener;
    return false;
}
#endif

bool tofu_t_silent_listener(tofui_socket *listener, tofui_socket fillers[4], int *nfill,
                            tofu_address *bound) {
    tofu_address a;
    tofui_sockaddr sa;
    size_t n = 0;
    *nfill = 0;
    ASSERT_OK(tofu_address_parse("tcp|127.0.0.1|0", 15, &a));
    ASSERT_OK(tofui_sock_resolve(&a, true, &sa, 1, &n));
    ASSERT_OK(tofui_sock_listen(&sa, listener));
    ASSERT_OK(tofui_sock_local_address(*listener, &sa, bound));
    if (!sockets__shrink_backlog(*listener))
        return false;
    ASSERT_OK(tofui_sock_resolve(bound, false, &sa, 1, &n));
    /* Connect until one connect stays unanswered: the queue is full. */
    while (*nfill < 4) {
        bool in_progress = false;
        tofui_socket s = TOFUI_INVALID_SOCKET;
        ASSERT_OK(tofui_sock_connect(&sa, &s, &in_progress));
        bool answered = !in_progress || sockets__connected_within(s, 500);
        if (!answered) {
            tofui_sock_abort(s);
            return true;
        }
        fillers[(*nfill)++] = s;
    }
    return false; /* the kernel kept answering */
}
