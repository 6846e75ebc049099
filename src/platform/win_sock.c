/*
 * Winsock implementation of the sockets part of platform.h.
 *
 * Windows specifics, each explained where it is handled:
 *   - every socket is created non-inheritable (the CLOEXEC of POSIX) and
 *     made non-blocking with ioctlsocket(FIONBIO);
 *   - TCP listeners use SO_EXCLUSIVEADDRUSE: Windows' SO_REUSEADDR would let
 *     a second process bind the same port, the opposite of POSIX;
 *   - AF_UNIX (afunix.h, Windows 10 1803+) exists only on filesystem paths:
 *     there is no abstract namespace; whether it works at all is found out at
 *     run time (Wine has none), see tofui_sock_uds_available;
 *   - a missing UDS path is detected by looking at the file before the
 *     connect: Winsock's error for it is not documented;
 *   - Winsock errors are mapped to statuses in one table (win_sock__errors);
 *   - keepalive goes through SIO_KEEPALIVE_VALS (milliseconds), its probe
 *     count through TCP_KEEPCNT (Windows 10 1703+; older ones refuse it
 *     and send 10 probes); TCP_USER_TIMEOUT does not
 *     exist: TCP_MAXRT (whole seconds, how long a retransmission may go
 *     on) is the nearest.
 */
#include <winsock2.h>
#include <ws2tcpip.h>
#include <windows.h>
#include <afunix.h>
#include <mstcpip.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "platform/platform.h"
#include "platform/sock_addr.h"
#include "platform/sock_count.h"

_Static_assert(sizeof(SOCKET) <= sizeof(tofui_socket), "SOCKET does not fit tofui_socket");
_Static_assert(sizeof(struct sockaddr_un) <= sizeof(((tofui_sockaddr *)0)->storage),
               "tofui_sockaddr too small for AF_UNIX");

/* Winsock's SOMAXCONN asks for "a reasonable maximum" backlog. */
#define WIN_SOCK__BACKLOG_MAX SOMAXCONN
/* Buffers handed to one WSASend (as many as posix_sock.c gathers): a longer
 * list is simply written by the next call. */
#define WIN_SOCK__MAX_IOV 256
/* The reparse tag Windows puts on an AF_UNIX socket file. */
#define WIN_SOCK__REPARSE_TAG_AF_UNIX 0x80000023u

/* ---- address limits ---- */

size_t tofu_uds_path_max(void) {
    /* sun_path of afunix.h is 108 bytes, NUL included. */
    return sizeof(((struct sockaddr_un *)0)->sun_path) - 1;
}

bool tofu_uds_abstract_supported(void) {
    /* Windows accepts a leading NUL in sun_path but its "abstract" sockets
     * do not work (bind succeeds, connect fails): not offered. */
    return false;
}

/* ---- the error table ---- */

/* What a Winsock error means to the calls of this file (the same kinds as
 * posix_sock.c); each call turns the kind into its own status. WSAEINTR is
 * absent: it only ends blocking calls, and every socket here is
 * non-blocking. */
typedef enum win_sock__kind {
    WIN_SOCK__FAILED = 0,   /* not listed: the call's own failure status */
    WIN_SOCK__WOULD_BLOCK,  /* nothing to do now; for connect: under way */
    WIN_SOCK__IN_PROGRESS,  /* non-blocking connect under way */
    WIN_SOCK__ADDR_IN_USE,  /* bind: address taken */
    WIN_SOCK__REFUSED,      /* nobody listens there */
    WIN_SOCK__TRANSIENT,    /* accept: that connection failed, the listener is fine */
    WIN_SOCK__EXHAUSTED,    /* accept: no handle or buffer for it now (it stays queued) */
    WIN_SOCK__TIMED_OUT,    /* the system gave up on the peer (keepalive, TCP_MAXRT) */
} win_sock__kind;

static const struct {
    int code;
    win_sock__kind kind;
} win_sock__errors[] = {
    {WSAEWOULDBLOCK, WIN_SOCK__WOULD_BLOCK},
    {WSAEINPROGRESS, WIN_SOCK__IN_PROGRESS},
    {WSAEALREADY, WIN_SOCK__IN_PROGRESS},
    {WSAEADDRINUSE, WIN_SOCK__ADDR_IN_USE},
    /* a bind refused because another socket holds the address with
     * SO_EXCLUSIVEADDRUSE */
    {WSAEACCES, WIN_SOCK__ADDR_IN_USE},
    {WSAECONNREFUSED, WIN_SOCK__REFUSED},
    {WSAETIMEDOUT, WIN_SOCK__TIMED_OUT},
    /* accept: the connection was reset before it was taken, or resources
     * ran short for it */
    {WSAECONNRESET, WIN_SOCK__TRANSIENT},
    {WSAECONNABORTED, WIN_SOCK__TRANSIENT},
    /* Wine 8: a connection reset while it waited in the backlog (the
     * listener itself would give WSAEINVAL) */
    {WSAENOTCONN, WIN_SOCK__TRANSIENT},
    /* the connection stays queued and the listener readable: reporting
     * "nothing pending" would make the engine spin, so the caller pauses */
    {WSAEMFILE, WIN_SOCK__EXHAUSTED},
    {WSAENOBUFS, WIN_SOCK__EXHAUSTED},
    {WSAENETDOWN, WIN_SOCK__TRANSIENT},
    {WSAENETUNREACH, WIN_SOCK__TRANSIENT},
    {WSAEHOSTDOWN, WIN_SOCK__TRANSIENT},
    {WSAEHOSTUNREACH, WIN_SOCK__TRANSIENT},
};

static win_sock__kind win_sock__classify(int code) {
    for (size_t i = 0; i < sizeof win_sock__errors / sizeof win_sock__errors[0]; i++)
        if (win_sock__errors[i].code == code)
            return win_sock__errors[i].kind;
    return WIN_SOCK__FAILED;
}

static win_sock__kind win_sock__last(void) {
    return win_sock__classify(WSAGetLastError());
}

/* ---- creating and closing ---- */

static bool win_sock__nonblocking(SOCKET s) {
    u_long on = 1;
    return ioctlsocket(s, FIONBIO, &on) == 0;
}

/* A non-inheritable (the CLOEXEC of Windows), non-blocking stream socket,
 * counted as open; INVALID_SOCKET on failure. */
static SOCKET win_sock__socket(int family) {
    int proto = family == AF_UNIX ? 0 : IPPROTO_TCP;
    SOCKET s = WSASocketW(family, SOCK_STREAM, proto, NULL, 0,
                          WSA_FLAG_OVERLAPPED | WSA_FLAG_NO_HANDLE_INHERIT);
    if (s == INVALID_SOCKET)
        return INVALID_SOCKET;
    if (!win_sock__nonblocking(s)) {
        closesocket(s);
        return INVALID_SOCKET;
    }
    tofui_sock_socket_opened();
    return s;
}

/* closesocket, never CloseHandle: Winsock must see the close to release its
 * own state. Without SO_LINGER queued data is still delivered (graceful). */
static void win_sock__close(SOCKET s) {
    /* The clean-up of a failed call keeps the error that call reports
     * (tofui_sock_last_error). */
    int err = WSAGetLastError();
    closesocket(s);
    tofui_sock_socket_closed();
    WSASetLastError(err);
}

/* Nagle would hold back the small frames of a request/response exchange. */
static void win_sock__no_delay(SOCKET s) {
    int on = 1;
    setsockopt(s, IPPROTO_TCP, TCP_NODELAY, (const char *)&on, sizeof on);
}

/* ---- socket addresses ---- */

static const struct sockaddr_un *win_sock__un(const tofui_sockaddr *sa) {
    return (const struct sockaddr_un *)(const void *)sa->storage;
}

/* Filesystem paths only: Windows has no abstract namespace (a leading NUL
 * binds, but nothing can connect to it), so an abstract address is invalid
 * here. addrlen counts the terminating NUL. */
static tofu_status win_sock__resolve_uds(const tofu_address *a, tofui_sockaddr *out) {
    struct sockaddr_un un;
    size_t n = strnlen(a->path, sizeof a->path);
    if (a->abstract || n == 0 || n > tofu_uds_path_max())
        return TOFU_INVALID_ADDRESS;
    memset(&un, 0, sizeof un);
    un.sun_family = AF_UNIX;
    memcpy(un.sun_path, a->path, n);
    tofui_sockaddr_store(out, &un, offsetof(struct sockaddr_un, sun_path) + n + 1, true, true);
    return TOFU_SUCCESS;
}

/* TCP addresses resolve the same on every platform (sock_addr.c). */
tofu_status tofui_sock_resolve(const tofu_address *a, bool passive, tofui_sockaddr *out,
                               size_t max, size_t *n) {
    if (a->transport != TOFU_TRANSPORT_UDS)
        return tofui_sockaddr_resolve_tcp(a, passive, out, max, n);
    *n = 0;
    if (max == 0)
        return TOFU_INVALID_ADDRESS;
    tofu_status st = win_sock__resolve_uds(a, out);
    *n = st == TOFU_SUCCESS ? 1 : 0;
    return st;
}

/* ---- UDS socket files ---- */

/* True for an AF_UNIX socket file: Windows marks them as reparse points
 * with their own tag (the S_ISSOCK of Windows). */
static bool win_sock__is_socket_file(const char *path) {
    WIN32_FIND_DATAA fd;
    HANDLE h = FindFirstFileA(path, &fd);
    if (h == INVALID_HANDLE_VALUE)
        return false;
    FindClose(h);
    return (fd.dwFileAttributes & FILE_ATTRIBUTE_REPARSE_POINT) != 0 &&
           fd.dwReserved0 == WIN_SOCK__REPARSE_TAG_AF_UNIX;
}

/* True when nothing at all is at the path (no file, no directory). */
static bool win_sock__path_missing(const char *path) {
    if (GetFileAttributesA(path) != INVALID_FILE_ATTRIBUTES)
        return false;
    DWORD e = GetLastError();
    return e == ERROR_FILE_NOT_FOUND || e == ERROR_PATH_NOT_FOUND;
}

/* A socket file nobody answers on: left behind by a listener that died
 * without closing. Only socket files qualify, so a regular file that happens
 * to sit at the path is never removed; only a refused connect proves the
 * listener gone (a live one is never stolen). */
static bool win_sock__uds_is_stale(const tofui_sockaddr *sa) {
    if (!win_sock__is_socket_file(win_sock__un(sa)->sun_path))
        return false;
    SOCKET probe = win_sock__socket(AF_UNIX);
    if (probe == INVALID_SOCKET)
        return false;
    /* Non-blocking, but an AF_UNIX connect is local: a listener that is gone
     * refuses at once. */
    bool refused = connect(probe, tofui_sockaddr_sa(sa), (int)sa->len) != 0 &&
                   win_sock__last() == WIN_SOCK__REFUSED;
    win_sock__close(probe);
    return refused;
}

/* ---- listening ---- */

static int win_sock__bind(SOCKET s, const tofui_sockaddr *sa) {
    if (bind(s, tofui_sockaddr_sa(sa), (int)sa->len) == 0)
        return 0;
    if (!sa->uds_filesystem || win_sock__last() != WIN_SOCK__ADDR_IN_USE)
        return -1;
    if (!win_sock__uds_is_stale(sa)) {
        WSASetLastError(WSAEADDRINUSE); /* the probe's own error is not the answer */
        return -1;
    }
    DeleteFileA(win_sock__un(sa)->sun_path);
    return bind(s, tofui_sockaddr_sa(sa), (int)sa->len);
}

tofu_status tofui_sock_listen_backlog(const tofui_sockaddr *sa, uint32_t backlog,
                                      tofui_socket *out) {
    *out = TOFUI_INVALID_SOCKET;
    SOCKET s = win_sock__socket(tofui_sockaddr_family(sa));
    if (s == INVALID_SOCKET)
        return TOFU_LISTEN_FAILED;
    if (!sa->uds) {
        /* Exclusive use: no other socket may bind this address and port
         * while this one is open. Windows' SO_REUSEADDR would let a second
         * socket take over the port, the opposite of what it means on
         * POSIX (DESIGN.md: a port in use fails). */
        int on = 1;
        setsockopt(s, SOL_SOCKET, SO_EXCLUSIVEADDRUSE, (const char *)&on, sizeof on);
    }
    int max = backlog == 0 || backlog > INT_MAX ? WIN_SOCK__BACKLOG_MAX : (int)backlog;
    if (win_sock__bind(s, sa) != 0 || listen(s, max) != 0) {
        win_sock__close(s);
        return TOFU_LISTEN_FAILED;
    }
    *out = (tofui_socket)s;
    return TOFU_SUCCESS;
}

/* ---- connecting and accepting ---- */

tofu_status tofui_sock_connect(const tofui_sockaddr *sa, tofui_socket *out, bool *in_progress) {
    *out = TOFUI_INVALID_SOCKET;
    *in_progress = false;
    /* Winsock's error for a missing AF_UNIX path is undocumented (and there
     * may be no AF_UNIX at all): the path itself is looked at. */
    if (sa->uds_filesystem && win_sock__path_missing(win_sock__un(sa)->sun_path))
        return TOFU_UDS_PATH_NOT_FOUND; /* last error: ERROR_FILE/PATH_NOT_FOUND */
    SOCKET s = win_sock__socket(tofui_sockaddr_family(sa));
    if (s == INVALID_SOCKET)
        return TOFU_CONNECT_FAILED;
    if (!sa->uds)
        win_sock__no_delay(s);
    if (connect(s, tofui_sockaddr_sa(sa), (int)sa->len) != 0) {
        /* A non-blocking connect that goes on in the background reports
         * WSAEWOULDBLOCK on Windows (EINPROGRESS on POSIX). */
        win_sock__kind kind = win_sock__last();
        if (kind != WIN_SOCK__WOULD_BLOCK && kind != WIN_SOCK__IN_PROGRESS) {
            win_sock__close(s);
            return TOFU_CONNECT_FAILED;
        }
        *in_progress = true;
    }
    *out = (tofui_socket)s;
    return TOFU_SUCCESS;
}

tofu_status tofui_sock_connect_result(tofui_socket s) {
    int err = 0, len = sizeof err;
    struct sockaddr_storage peer;
    int plen = sizeof peer;
    if (getsockopt((SOCKET)s, SOL_SOCKET, SO_ERROR, (char *)&err, &len) != 0)
        return TOFU_CONNECT_FAILED;
    if (err != 0) { /* the connect's own error, for tofui_sock_last_error */
        WSASetLastError(err);
        return TOFU_CONNECT_FAILED;
    }
    /* No pending error but no peer either: the connect did not complete. */
    if (getpeername((SOCKET)s, (struct sockaddr *)&peer, &plen) != 0)
        return TOFU_CONNECT_FAILED;
    return TOFU_SUCCESS;
}

tofu_status tofui_sock_accept(tofui_socket l, tofui_socket *out) {
    struct sockaddr_storage peer;
    int len = sizeof peer;
    *out = TOFUI_INVALID_SOCKET;
    memset(&peer, 0, sizeof peer);
    SOCKET s = accept((SOCKET)l, (struct sockaddr *)&peer, &len);
    if (s == INVALID_SOCKET) {
        win_sock__kind kind = win_sock__last();
        if (kind == WIN_SOCK__WOULD_BLOCK || kind == WIN_SOCK__TRANSIENT ||
            kind == WIN_SOCK__TIMED_OUT) /* that connection's own error */
            return TOFU_SUCCESS;
        return kind == WIN_SOCK__EXHAUSTED ? TOFU_ALLOCATION_FAILED : TOFU_ACCEPT_FAILED;
    }
    /* The accepted socket inherits the listener's attributes; both are set
     * again explicitly rather than relied upon. */
    if (!win_sock__nonblocking(s)) {
        closesocket(s);
        return TOFU_SUCCESS;
    }
    SetHandleInformation((HANDLE)s, HANDLE_FLAG_INHERIT, 0);
    tofui_sock_socket_opened();
    if (peer.ss_family == AF_INET || peer.ss_family == AF_INET6)
        win_sock__no_delay(s);
    *out = (tofui_socket)s;
    return TOFU_SUCCESS;
}

/* ---- dead-peer detection ---- */

/* ws2ipdef.h values that MinGW's headers lack (Windows SDK): an older
 * Windows refuses them, and the system's own values stay. */
#if !defined(TCP_MAXRT)
#define TCP_MAXRT 5
#endif
#if !defined(TCP_KEEPCNT)
#define TCP_KEEPCNT 16
#endif

/* TCP_MAXRT counts whole seconds: rounded up, at least 1. */
static DWORD win_sock__seconds(uint32_t ms) {
    DWORD s = ms / 1000u + (ms % 1000u != 0);
    return s == 0 ? 1 : s;
}

static void win_sock__keepalive(SOCKET s, const tofui_liveness *lv) {
    struct tcp_keepalive ka;
    DWORD out = 0;
    ka.onoff = lv->keepalive_idle_ms != 0;
    ka.keepalivetime = lv->keepalive_idle_ms;
    ka.keepaliveinterval = lv->keepalive_interval_ms;
    WSAIoctl(s, SIO_KEEPALIVE_VALS, &ka, sizeof ka, NULL, 0, &out, NULL, NULL);
    if (lv->keepalive_idle_ms != 0) {
        DWORD n = lv->keepalive_count;
        setsockopt(s, IPPROTO_TCP, TCP_KEEPCNT, (const char *)&n, sizeof n);
    }
}

void tofui_sock_set_liveness(tofui_socket s, const tofui_liveness *lv) {
    win_sock__keepalive((SOCKET)s, lv);
    if (lv->user_timeout_ms != 0) {
        DWORD secs = win_sock__seconds(lv->user_timeout_ms);
        setsockopt((SOCKET)s, IPPROTO_TCP, TCP_MAXRT, (const char *)&secs, sizeof secs);
    }
}

/* ---- data ---- */

static tofu_status win_sock__send_error(int e) {
    if (e == WSAECONNRESET || e == WSAECONNABORTED)
        return TOFU_COMMUNICATION_FAILED;
    if (e == WSAETIMEDOUT)
        return TOFUI_SOCK_TIMED_OUT;
    return win_sock__classify(e) == WIN_SOCK__WOULD_BLOCK ? TOFU_SUCCESS : TOFU_SEND_FAILED;
}

tofu_status tofui_sock_writev(tofui_socket s, const tofui_iov *iov, int n, size_t *written) {
    WSABUF bufs[WIN_SOCK__MAX_IOV];
    DWORD sent = 0;
    int count = n < WIN_SOCK__MAX_IOV ? n : WIN_SOCK__MAX_IOV;
    *written = 0;
    if (count <= 0)
        return TOFU_SUCCESS;
    for (int i = 0; i < count; i++) {
        bufs[i].buf = (char *)iov[i].base; /* WSASend only reads it */
        bufs[i].len = iov[i].len > ULONG_MAX ? ULONG_MAX : (ULONG)iov[i].len;
    }
    /* No SIGPIPE on Windows: a write to a closed peer just fails. */
    if (WSASend((SOCKET)s, bufs, (DWORD)count, &sent, 0, NULL, NULL) != 0)
        return win_sock__send_error(WSAGetLastError());
    *written = sent;
    return TOFU_SUCCESS;
}

/* After recv returned 0: true when the connection was reset rather than
 * closed in order. Windows' recv already fails with WSAECONNRESET then, but
 * Wine 8's returns 0 for both; a zero-byte send, which transmits nothing,
 * fails only on a reset connection. Costs one call per connection end. */
static bool win_sock__was_reset(SOCKET s) {
    if (send(s, "", 0, 0) == 0)
        return false;
    int e = WSAGetLastError();
    return e == WSAECONNRESET || e == WSAECONNABORTED;
}

static tofu_status win_sock__recv(tofui_socket s, void *buf, size_t cap, int flags,
                                  size_t *got) {
    *got = 0;
    if (cap == 0)
        return TOFU_SUCCESS;
    int r = recv((SOCKET)s, buf, cap > INT_MAX ? INT_MAX : (int)cap, flags);
    if (r > 0) {
        *got = (size_t)r;
        return TOFU_SUCCESS;
    }
    if (r == 0)
        return win_sock__was_reset((SOCKET)s) ? TOFU_RECV_FAILED : TOFU_PEER_DISCONNECTED;
    win_sock__kind kind = win_sock__last();
    if (kind == WIN_SOCK__TIMED_OUT)
        return TOFUI_SOCK_TIMED_OUT;
    return kind == WIN_SOCK__WOULD_BLOCK ? TOFU_SUCCESS : TOFU_RECV_FAILED;
}

tofu_status tofui_sock_read(tofui_socket s, void *buf, size_t cap, size_t *got) {
    return win_sock__recv(s, buf, cap, 0, got);
}

tofu_status tofui_sock_peek(tofui_socket s, void *buf, size_t cap, size_t *got) {
    return win_sock__recv(s, buf, cap, MSG_PEEK, got);
}

/* ---- closing ---- */

void tofui_sock_shutdown_write(tofui_socket s) {
    shutdown((SOCKET)s, SD_SEND);
}

void tofui_sock_close(tofui_socket s) {
    if (s != TOFUI_INVALID_SOCKET)
        win_sock__close((SOCKET)s);
}

void tofui_sock_abort(tofui_socket s) {
    if (s == TOFUI_INVALID_SOCKET)
        return;
    /* Linger on with a zero timeout: closesocket discards unsent data and
     * sends a reset. The only abortive close of this layer. */
    struct linger lg = {1, 0};
    setsockopt((SOCKET)s, SOL_SOCKET, SO_LINGER, (const char *)&lg, sizeof lg);
    win_sock__close((SOCKET)s);
}

void tofui_sock_close_listener(tofui_socket s, const tofui_sockaddr *bound) {
    if (s == TOFUI_INVALID_SOCKET)
        return;
    win_sock__close((SOCKET)s);
    if (bound != NULL && bound->uds_filesystem)
        DeleteFileA(win_sock__un(bound)->sun_path);
}

/* ---- local address ---- */

/* The path a UDS socket is bound to: getsockname's when it names one, else
 * the request's (the path asked for is the path bound). */
static void win_sock__uds_name(const struct sockaddr_storage *ss, size_t len,
                               const tofui_sockaddr *requested, tofu_address *out) {
    const struct sockaddr_un *un = (const struct sockaddr_un *)(const void *)ss;
    size_t off = offsetof(struct sockaddr_un, sun_path);
    out->transport = TOFU_TRANSPORT_UDS;
    if (len > off && un->sun_path[0] != '\0') {
        size_t n = strnlen(un->sun_path, len - off);
        snprintf(out->path, sizeof out->path, "%.*s", (int)n, un->sun_path);
    } else if (requested != NULL && requested->uds) {
        snprintf(out->path, sizeof out->path, "%s", win_sock__un(requested)->sun_path);
    }
}

tofu_status tofui_sock_local_address(tofui_socket s, const tofui_sockaddr *requested,
                                     tofu_address *out) {
    struct sockaddr_storage ss;
    int len = sizeof ss;
    memset(out, 0, sizeof *out);
    memset(&ss, 0, sizeof ss);
    if (getsockname((SOCKET)s, (struct sockaddr *)&ss, &len) != 0)
        return TOFU_COMMUNICATION_FAILED;
    if (ss.ss_family != AF_UNIX)
        return tofui_sockaddr_inet_to_address(&ss, out);
    win_sock__uds_name(&ss, (size_t)len, requested, out);
    return TOFU_SUCCESS;
}

/* ---- the peer ---- */

/* Windows tells the pid of an AF_UNIX peer (Windows 10 1803+), nothing of
 * its user: uid and gid stay -1. */
static void win_sock__peer_pid(SOCKET s, tofu_peer *out) {
#if defined(SIO_AF_UNIX_GETPEERPID)
    ULONG pid = 0;
    DWORD got = 0;
    if (WSAIoctl(s, SIO_AF_UNIX_GETPEERPID, NULL, 0, &pid, sizeof pid, &got, NULL, NULL) == 0 &&
        got == sizeof pid && pid != 0) {
        out->pid = (int64_t)pid;
        out->has_credentials = true;
    }
#else
    (void)s, (void)out;
#endif
}

void tofui_sock_peer(tofui_socket s, bool uds, tofu_peer *out) {
    memset(out, 0, sizeof *out);
    out->uid = out->gid = out->pid = -1;
    struct sockaddr_storage ss;
    int len = sizeof ss;
    memset(&ss, 0, sizeof ss);
    if (getpeername((SOCKET)s, (struct sockaddr *)&ss, &len) == 0) {
        if (ss.ss_family == AF_UNIX)
            win_sock__uds_name(&ss, (size_t)len, NULL, &out->address);
        else if (tofui_sockaddr_inet_to_address(&ss, &out->address) != TOFU_SUCCESS)
            memset(&out->address, 0, sizeof out->address);
    }
    out->address.transport = uds ? TOFU_TRANSPORT_UDS : TOFU_TRANSPORT_TCP;
    if (uds)
        win_sock__peer_pid((SOCKET)s, out);
}

/* ---- capabilities ---- */

/* Probed once: AF_UNIX support does not come and go while a process runs.
 * Wine 8, and Windows before 10 1803, have none. */
static INIT_ONCE win_sock__uds_once = INIT_ONCE_STATIC_INIT;
static bool win_sock__uds_ok;

static BOOL CALLBACK win_sock__probe_uds(PINIT_ONCE once, PVOID param, PVOID *ctx) {
    (void)once, (void)param, (void)ctx;
    /* Its own start-up/clean-up pair: the answer must not depend on whether
     * an engine exists yet. */
    WSADATA wsa;
    if (WSAStartup(MAKEWORD(2, 2), &wsa) != 0)
        return TRUE;
    SOCKET s = WSASocketW(AF_UNIX, SOCK_STREAM, 0, NULL, 0, WSA_FLAG_NO_HANDLE_INHERIT);
    win_sock__uds_ok = s != INVALID_SOCKET;
    if (s != INVALID_SOCKET)
        closesocket(s);
    WSACleanup();
    return TRUE;
}

bool tofui_sock_uds_available(void) {
    InitOnceExecuteOnce(&win_sock__uds_once, win_sock__probe_uds, NULL, NULL);
    return win_sock__uds_ok;
}

int tofui_sock_last_error(void) {
    return WSAGetLastError();
}
