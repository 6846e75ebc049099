/*
 * POSIX sockets (platform.h): address resolution, non-blocking TCP and
 * Unix-domain sockets. Every socket opened or closed here is counted
 * (sock_count.c), so that the tests can prove nothing leaked.
 *
 * Portability: Linux is the primary target; the few BSD/macOS differences
 * are behind the feature macros they concern (SOCK_NONBLOCK, MSG_NOSIGNAL,
 * SO_NOSIGPIPE, the abstract namespace).
 */
#if defined(__linux__)
#define _GNU_SOURCE /* accept4, SOCK_NONBLOCK/SOCK_CLOEXEC, MSG_NOSIGNAL */
#elif defined(__APPLE__)
#define _DARWIN_C_SOURCE /* SO_NOSIGPIPE */
#endif

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include "platform/platform.h"
#include "platform/sock_addr.h"
#include "platform/sock_count.h"

_Static_assert(sizeof(((struct sockaddr_un *)0)->sun_path) <= TOFU_UDS_PATH_BUF,
               "tofu_address.path cannot hold this platform's sun_path");

/* The largest backlog: listen() caps it at the system's maximum
 * (net.core.somaxconn on Linux, kern.ipc.somaxconn on the BSDs and macOS),
 * which may be above the SOMAXCONN of the headers. */
#define POSIX_SOCK__BACKLOG_MAX INT_MAX

/* Linux and the BSDs set non-blocking and close-on-exec atomically at
 * socket()/accept4(); elsewhere (macOS) fcntl follows. */
#if defined(SOCK_NONBLOCK) && defined(SOCK_CLOEXEC)
#define POSIX_SOCK__ATOMIC_FLAGS 1
#endif

/* Parts handed to one sendmsg: enough to gather many small messages, small
 * enough for the stack; a longer list is simply written by the next call. */
#if defined(IOV_MAX) && IOV_MAX < 256
#define POSIX_SOCK__IOV_BATCH IOV_MAX
#else
#define POSIX_SOCK__IOV_BATCH 256
#endif

/* Where MSG_NOSIGNAL is missing (older macOS) SO_NOSIGPIPE, set on every
 * socket at creation, keeps a write to a closed peer from raising SIGPIPE. */
#if defined(MSG_NOSIGNAL)
#define POSIX_SOCK__SEND_FLAGS MSG_NOSIGNAL
#else
#define POSIX_SOCK__SEND_FLAGS 0
#endif

/* ------------------------------------------------------------------------ */
/* errno classification: the one mapping table of this file                */
/* ------------------------------------------------------------------------ */

/* What an errno means to the calls of this file; each call turns the kind
 * into its own status (a refused connect is TOFU_CONNECT_FAILED, an aborted
 * accept is "nothing pending", and so on). */
typedef enum posix_sock__kind {
    POSIX_SOCK__FAILED = 0,   /* not listed: the call's own failure status */
    POSIX_SOCK__INTERRUPTED,  /* a signal: retry */
    POSIX_SOCK__WOULD_BLOCK,  /* nothing to do now */
    POSIX_SOCK__IN_PROGRESS,  /* non-blocking connect under way */
    POSIX_SOCK__NO_PATH,      /* UDS path does not exist */
    POSIX_SOCK__ADDR_IN_USE,  /* bind: address taken */
    POSIX_SOCK__REFUSED,      /* nobody listens there */
    POSIX_SOCK__TRANSIENT,    /* accept: that connection failed, the listener is fine */
    POSIX_SOCK__EXHAUSTED,    /* accept: no descriptor or memory for it now (it stays queued) */
    POSIX_SOCK__TIMED_OUT,    /* the system gave up on the peer (keepalive, user timeout) */
} posix_sock__kind;

static const struct {
    int err;
    posix_sock__kind kind;
} posix_sock__errors[] = {
    {EINTR, POSIX_SOCK__INTERRUPTED},
    {EAGAIN, POSIX_SOCK__WOULD_BLOCK},
    {EWOULDBLOCK, POSIX_SOCK__WOULD_BLOCK},
    {EINPROGRESS, POSIX_SOCK__IN_PROGRESS},
    {EALREADY, POSIX_SOCK__IN_PROGRESS},
    {ENOENT, POSIX_SOCK__NO_PATH},
    {EADDRINUSE, POSIX_SOCK__ADDR_IN_USE},
    {ECONNREFUSED, POSIX_SOCK__REFUSED},
    {ETIMEDOUT, POSIX_SOCK__TIMED_OUT},
    /* accept: the connection went away; Linux also passes pending network
     * errors of the new connection through accept (accept(2), "Error
     * handling"). Out of descriptors or buffers the connection stays queued
     * and the listener readable: the caller must back off, not retry. */
    {ECONNABORTED, POSIX_SOCK__TRANSIENT},
    {EMFILE, POSIX_SOCK__EXHAUSTED},
    {ENFILE, POSIX_SOCK__EXHAUSTED},
    {ENOBUFS, POSIX_SOCK__EXHAUSTED},
    {ENOMEM, POSIX_SOCK__EXHAUSTED},
    {EPROTO, POSIX_SOCK__TRANSIENT},
    {EPERM, POSIX_SOCK__TRANSIENT}, /* a firewall rule refused the connection */
    {ENETDOWN, POSIX_SOCK__TRANSIENT},
    {ENETUNREACH, POSIX_SOCK__TRANSIENT},
    {EHOSTDOWN, POSIX_SOCK__TRANSIENT},
    {EHOSTUNREACH, POSIX_SOCK__TRANSIENT},
    {ENOPROTOOPT, POSIX_SOCK__TRANSIENT},
    {EOPNOTSUPP, POSIX_SOCK__TRANSIENT},
#if defined(ENONET)
    {ENONET, POSIX_SOCK__TRANSIENT},
#endif
};

static posix_sock__kind posix_sock__classify(int err) {
    for (size_t i = 0; i < sizeof posix_sock__errors / sizeof posix_sock__errors[0]; i++)
        if (posix_sock__errors[i].err == err)
            return posix_sock__errors[i].kind;
    return POSIX_SOCK__FAILED;
}

/* ------------------------------------------------------------------------ */
/* socket creation and options                                              */
/* ------------------------------------------------------------------------ */

static int posix_sock__fd(tofui_socket s) {
    return (int)s;
}

static void posix_sock__close_fd(int fd) {
    /* close() is not retried on EINTR: on Linux the descriptor is released
     * anyway and a retry could close a descriptor another thread just got.
     * errno survives it: the clean-up of a failed call must not replace the
     * error that call reports (tofui_sock_last_error). */
    int err = errno;
    close(fd);
    tofui_sock_socket_closed();
    errno = err;
}

#if !defined(POSIX_SOCK__ATOMIC_FLAGS)
static int posix_sock__set_nonblocking_cloexec(int fd) {
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) != 0)
        return -1;
    return fcntl(fd, F_SETFD, FD_CLOEXEC);
}
#endif

static void posix_sock__no_sigpipe(int fd) {
#if defined(SO_NOSIGPIPE)
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &one, sizeof one);
#else
    (void)fd;
#endif
}

/* Nagle would hold back the small frames of a request/response exchange. */
static void posix_sock__no_delay(int fd) {
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

/* A non-blocking, close-on-exec stream socket, counted as open. */
static int posix_sock__socket(int family) {
#if defined(POSIX_SOCK__ATOMIC_FLAGS)
    int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
#else
    int fd = socket(family, SOCK_STREAM, 0);
    if (fd >= 0 && posix_sock__set_nonblocking_cloexec(fd) != 0) {
        close(fd);
        fd = -1;
    }
#endif
    if (fd < 0)
        return -1;
    tofui_sock_socket_opened();
    posix_sock__no_sigpipe(fd);
    return fd;
}

/* ------------------------------------------------------------------------ */
/* socket addresses                                                         */
/* ------------------------------------------------------------------------ */

/* A filesystem path: addrlen counts the terminating NUL. An abstract name
 * (Linux): a leading NUL, then exactly the name's bytes, no terminator. */
static tofu_status posix_sock__resolve_uds(const tofu_address *a, tofui_sockaddr *out) {
    struct sockaddr_un un;
    size_t n = strnlen(a->path, sizeof a->path);
    if (n == 0 || n > tofu_uds_path_max() || (a->abstract && !tofu_uds_abstract_supported()))
        return TOFU_INVALID_ADDRESS;
    memset(&un, 0, sizeof un);
    un.sun_family = AF_UNIX;
    size_t off = a->abstract ? 1 : 0;
    memcpy(un.sun_path + off, a->path, n);
    size_t len = offsetof(struct sockaddr_un, sun_path) + off + n + (a->abstract ? 0 : 1);
    tofui_sockaddr_store(out, &un, len, true, !a->abstract);
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
    tofu_status st = posix_sock__resolve_uds(a, out);
    *n = st == TOFU_SUCCESS ? 1 : 0;
    return st;
}

/* ------------------------------------------------------------------------ */
/* listening                                                                */
/* ------------------------------------------------------------------------ */

static void posix_sock__uds_path(const tofui_sockaddr *sa, char *path, size_t cap) {
    struct sockaddr_un un;
    memset(&un, 0, sizeof un);
    memcpy(&un, sa->storage, sa->len < sizeof un ? sa->len : sizeof un);
    snprintf(path, cap, "%.*s", (int)sizeof un.sun_path, un.sun_path);
}

/* A socket file nobody answers on: left behind by a listener that died
 * without closing. Only socket files qualify, so a regular file that happens
 * to sit at the path is never removed. */
static bool posix_sock__uds_is_stale(const tofui_sockaddr *sa, const char *path) {
    struct stat st;
    if (lstat(path, &st) != 0 || !S_ISSOCK(st.st_mode))
        return false;
    int probe = posix_sock__socket(AF_UNIX);
    if (probe < 0)
        return false;
    bool refused = connect(probe, tofui_sockaddr_sa(sa), (socklen_t)sa->len) != 0 &&
                   errno == ECONNREFUSED;
    posix_sock__close_fd(probe);
    return refused;
}

static int posix_sock__bind(int fd, const tofui_sockaddr *sa) {
    char path[TOFU_UDS_PATH_BUF + 1];
    if (bind(fd, tofui_sockaddr_sa(sa), (socklen_t)sa->len) == 0)
        return 0;
    if (!sa->uds_filesystem || posix_sock__classify(errno) != POSIX_SOCK__ADDR_IN_USE)
        return -1;
    posix_sock__uds_path(sa, path, sizeof path);
    if (!posix_sock__uds_is_stale(sa, path)) {
        errno = EADDRINUSE; /* the probe's own errno is not the answer */
        return -1;
    }
    unlink(path);
    return bind(fd, tofui_sockaddr_sa(sa), (socklen_t)sa->len);
}

tofu_status tofui_sock_listen_backlog(const tofui_sockaddr *sa, uint32_t backlog,
                                      tofui_socket *out) {
    *out = TOFUI_INVALID_SOCKET;
    int fd = posix_sock__socket(tofui_sockaddr_family(sa));
    if (fd < 0)
        return TOFU_LISTEN_FAILED;
    if (!sa->uds) {
        /* Lets a restarted server bind while old connections sit in
         * TIME_WAIT; unlike SO_REUSEPORT it never lets two listeners share
         * the port. */
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    }
    int max = backlog == 0 || backlog > INT_MAX ? POSIX_SOCK__BACKLOG_MAX : (int)backlog;
    if (posix_sock__bind(fd, sa) != 0 || listen(fd, max) != 0) {
        posix_sock__close_fd(fd);
        return TOFU_LISTEN_FAILED;
    }
    *out = fd;
    return TOFU_SUCCESS;
}

/* ------------------------------------------------------------------------ */
/* connecting and accepting                                                 */
/* ------------------------------------------------------------------------ */

static tofu_status posix_sock__connect_status(posix_sock__kind kind, bool uds) {
    if (kind == POSIX_SOCK__NO_PATH && uds)
        return TOFU_UDS_PATH_NOT_FOUND;
    if (kind == POSIX_SOCK__WOULD_BLOCK && uds) /* Linux: the backlog is full */
        return TOFUI_SOCK_BUSY;
    return TOFU_CONNECT_FAILED;
}

tofu_status tofui_sock_connect(const tofui_sockaddr *sa, tofui_socket *out, bool *in_progress) {
    *out = TOFUI_INVALID_SOCKET;
    *in_progress = false;
    int fd = posix_sock__socket(tofui_sockaddr_family(sa));
    if (fd < 0)
        return TOFU_CONNECT_FAILED;
    if (!sa->uds)
        posix_sock__no_delay(fd);
    if (connect(fd, tofui_sockaddr_sa(sa), (socklen_t)sa->len) != 0) {
        posix_sock__kind kind = posix_sock__classify(errno);
        /* An interrupted non-blocking connect goes on in the background,
         * exactly like EINPROGRESS (POSIX connect(), EINTR). A UDS EAGAIN
         * (listener backlog full) did not start anything: the caller tries
         * again. */
        if (kind != POSIX_SOCK__IN_PROGRESS && kind != POSIX_SOCK__INTERRUPTED) {
            posix_sock__close_fd(fd);
            return posix_sock__connect_status(kind, sa->uds);
        }
        *in_progress = true;
    }
    *out = fd;
    return TOFU_SUCCESS;
}

tofu_status tofui_sock_connect_result(tofui_socket s) {
    int err = 0;
    socklen_t len = sizeof err;
    struct sockaddr_storage peer;
    socklen_t plen = sizeof peer;
    if (getsockopt(posix_sock__fd(s), SOL_SOCKET, SO_ERROR, &err, &len) != 0)
        return TOFU_CONNECT_FAILED;
    if (err != 0) { /* the connect's own error, for tofui_sock_last_error */
        errno = err;
        return TOFU_CONNECT_FAILED;
    }
    /* No pending error but no peer either: the connect did not complete. */
    if (getpeername(posix_sock__fd(s), (struct sockaddr *)&peer, &plen) != 0)
        return TOFU_CONNECT_FAILED;
    return TOFU_SUCCESS;
}

static int posix_sock__accept_raw(int l, struct sockaddr_storage *peer, socklen_t *len) {
#if defined(POSIX_SOCK__ATOMIC_FLAGS)
    return accept4(l, (struct sockaddr *)peer, len, SOCK_NONBLOCK | SOCK_CLOEXEC);
#else
    int fd = accept(l, (struct sockaddr *)peer, len);
    if (fd >= 0 && posix_sock__set_nonblocking_cloexec(fd) != 0) {
        int saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
    return fd;
#endif
}

tofu_status tofui_sock_accept(tofui_socket l, tofui_socket *out) {
    *out = TOFUI_INVALID_SOCKET;
    for (;;) {
        struct sockaddr_storage peer;
        socklen_t len = sizeof peer;
        memset(&peer, 0, sizeof peer);
        int fd = posix_sock__accept_raw(posix_sock__fd(l), &peer, &len);
        if (fd >= 0) {
            tofui_sock_socket_opened();
            posix_sock__no_sigpipe(fd);
            if (peer.ss_family == AF_INET || peer.ss_family == AF_INET6)
                posix_sock__no_delay(fd);
            *out = fd;
            return TOFU_SUCCESS;
        }
        posix_sock__kind kind = posix_sock__classify(errno);
        if (kind == POSIX_SOCK__INTERRUPTED)
            continue;
        if (kind == POSIX_SOCK__WOULD_BLOCK || kind == POSIX_SOCK__TRANSIENT ||
            kind == POSIX_SOCK__TIMED_OUT) /* that connection's own error */
            return TOFU_SUCCESS;
        return kind == POSIX_SOCK__EXHAUSTED ? TOFU_ALLOCATION_FAILED : TOFU_ACCEPT_FAILED;
    }
}

/* ------------------------------------------------------------------------ */
/* dead-peer detection                                                      */
/* ------------------------------------------------------------------------ */

/* The keepalive options count whole seconds: rounded up, so a probe never
 * goes out before the time asked for, and at least 1 (0 is refused). */
static int posix_sock__seconds(uint32_t ms) {
    uint32_t s = ms / 1000u + (ms % 1000u != 0);
    if (s == 0)
        return 1;
    return s > (uint32_t)INT_MAX ? INT_MAX : (int)s;
}

static void posix_sock__int_opt(int fd, int level, int name, int v) {
    setsockopt(fd, level, name, &v, sizeof v);
}

static void posix_sock__keepalive(int fd, const tofui_liveness *lv) {
    posix_sock__int_opt(fd, SOL_SOCKET, SO_KEEPALIVE, lv->keepalive_idle_ms != 0);
    if (lv->keepalive_idle_ms == 0)
        return;
#if defined(TCP_KEEPIDLE)
    posix_sock__int_opt(fd, IPPROTO_TCP, TCP_KEEPIDLE, posix_sock__seconds(lv->keepalive_idle_ms));
#elif defined(TCP_KEEPALIVE) /* macOS: the same option under another name */
    posix_sock__int_opt(fd, IPPROTO_TCP, TCP_KEEPALIVE, posix_sock__seconds(lv->keepalive_idle_ms));
#endif
#if defined(TCP_KEEPINTVL)
    posix_sock__int_opt(fd, IPPROTO_TCP, TCP_KEEPINTVL,
                        posix_sock__seconds(lv->keepalive_interval_ms));
#endif
#if defined(TCP_KEEPCNT)
    posix_sock__int_opt(fd, IPPROTO_TCP, TCP_KEEPCNT,
                        lv->keepalive_count > INT_MAX ? INT_MAX : (int)lv->keepalive_count);
#endif
}

/* Linux (and FreeBSD 14+): how long sent data may stay unacknowledged
 * before the connection is given up, and on Linux how long a keepalive may
 * go unanswered. Elsewhere the system's retransmission limit stays. */
static void posix_sock__user_timeout(int fd, uint32_t ms) {
#if defined(TCP_USER_TIMEOUT)
    unsigned int v = ms;
    setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &v, sizeof v);
#else
    (void)fd, (void)ms;
#endif
}

void tofui_sock_set_liveness(tofui_socket s, const tofui_liveness *lv) {
    int fd = posix_sock__fd(s);
    posix_sock__keepalive(fd, lv);
    posix_sock__user_timeout(fd, lv->user_timeout_ms);
}

/* ------------------------------------------------------------------------ */
/* data                                                                     */
/* ------------------------------------------------------------------------ */

tofu_status tofui_sock_writev(tofui_socket s, const tofui_iov *iov, int n, size_t *written) {
    struct iovec v[POSIX_SOCK__IOV_BATCH];
    struct msghdr mh;
    int count = n < POSIX_SOCK__IOV_BATCH ? n : POSIX_SOCK__IOV_BATCH;
    *written = 0;
    if (count <= 0)
        return TOFU_SUCCESS;
    for (int i = 0; i < count; i++) {
        v[i].iov_base = (void *)iov[i].base; /* sendmsg only reads it */
        v[i].iov_len = iov[i].len;
    }
    memset(&mh, 0, sizeof mh);
    mh.msg_iov = v;
    mh.msg_iovlen = count;
    for (;;) {
        ssize_t r = sendmsg(posix_sock__fd(s), &mh, POSIX_SOCK__SEND_FLAGS);
        if (r >= 0) {
            *written = (size_t)r;
            return TOFU_SUCCESS;
        }
        if (errno == ECONNRESET)
            return TOFU_COMMUNICATION_FAILED;
        posix_sock__kind kind = posix_sock__classify(errno);
        if (kind == POSIX_SOCK__INTERRUPTED)
            continue;
        if (kind == POSIX_SOCK__TIMED_OUT)
            return TOFUI_SOCK_TIMED_OUT;
        return kind == POSIX_SOCK__WOULD_BLOCK ? TOFU_SUCCESS : TOFU_SEND_FAILED;
    }
}

static tofu_status posix_sock__recv(tofui_socket s, void *buf, size_t cap, int flags,
                                   size_t *got) {
    *got = 0;
    if (cap == 0)
        return TOFU_SUCCESS;
    for (;;) {
        ssize_t r = recv(posix_sock__fd(s), buf, cap, flags);
        if (r > 0) {
            *got = (size_t)r;
            return TOFU_SUCCESS;
        }
        if (r == 0)
            return TOFU_PEER_DISCONNECTED;
        posix_sock__kind kind = posix_sock__classify(errno);
        if (kind == POSIX_SOCK__INTERRUPTED)
            continue;
        if (kind == POSIX_SOCK__TIMED_OUT)
            return TOFUI_SOCK_TIMED_OUT;
        return kind == POSIX_SOCK__WOULD_BLOCK ? TOFU_SUCCESS : TOFU_RECV_FAILED;
    }
}

tofu_status tofui_sock_read(tofui_socket s, void *buf, size_t cap, size_t *got) {
    return posix_sock__recv(s, buf, cap, 0, got);
}

tofu_status tofui_sock_peek(tofui_socket s, void *buf, size_t cap, size_t *got) {
    return posix_sock__recv(s, buf, cap, MSG_PEEK, got);
}

/* ------------------------------------------------------------------------ */
/* closing                                                                  */
/* ------------------------------------------------------------------------ */

void tofui_sock_shutdown_write(tofui_socket s) {
    shutdown(posix_sock__fd(s), SHUT_WR);
}

void tofui_sock_close(tofui_socket s) {
    if (s != TOFUI_INVALID_SOCKET)
        posix_sock__close_fd(posix_sock__fd(s));
}

void tofui_sock_abort(tofui_socket s) {
    if (s == TOFUI_INVALID_SOCKET)
        return;
    /* Linger on with a zero timeout: close discards unsent data and sends a
     * reset (TCP); on a UDS socket it is a plain close. */
    struct linger lg = {1, 0};
    setsockopt(posix_sock__fd(s), SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    posix_sock__close_fd(posix_sock__fd(s));
}

void tofui_sock_close_listener(tofui_socket s, const tofui_sockaddr *bound) {
    char path[TOFU_UDS_PATH_BUF + 1];
    if (s == TOFUI_INVALID_SOCKET)
        return;
    posix_sock__close_fd(posix_sock__fd(s));
    if (bound != NULL && bound->uds_filesystem) {
        posix_sock__uds_path(bound, path, sizeof path);
        unlink(path);
    }
}

/* ------------------------------------------------------------------------ */
/* local address                                                            */
/* ------------------------------------------------------------------------ */

/* A UDS name of n bytes after sun_family: a path (NUL-terminated or not), or
 * for an abstract name a leading NUL followed by exactly n - 1 name bytes. */
static bool posix_sock__un_name(const struct sockaddr_un *un, size_t n, tofu_address *out) {
    if (n > sizeof un->sun_path)
        n = sizeof un->sun_path;
    if (n > 1 && un->sun_path[0] == '\0') {
        size_t name = n - 1 < sizeof out->path ? n - 1 : sizeof out->path - 1;
        memcpy(out->path, un->sun_path + 1, name);
        out->path[name] = '\0';
        out->abstract = true;
        return true;
    }
    if (n > 0 && un->sun_path[0] != '\0') {
        snprintf(out->path, sizeof out->path, "%.*s", (int)n, un->sun_path);
        return true;
    }
    return false;
}

/* The name of an AF_UNIX socket (len bytes in ss); when the system reports
 * none, the address the socket was bound with (`requested`). */
static void posix_sock__uds_name(const struct sockaddr_storage *ss, size_t len,
                                 const tofui_sockaddr *requested, tofu_address *out) {
    size_t off = offsetof(struct sockaddr_un, sun_path);
    out->transport = TOFU_TRANSPORT_UDS;
    if (posix_sock__un_name((const struct sockaddr_un *)(const void *)ss,
                            len > off ? len - off : 0, out))
        return;
    /* Some systems report an empty name for a bound socket: the request
     * knows it. */
    if (requested != NULL && requested->uds && requested->len > off) {
        struct sockaddr_un un;
        memset(&un, 0, sizeof un);
        memcpy(&un, requested->storage, requested->len < sizeof un ? requested->len : sizeof un);
        posix_sock__un_name(&un, requested->len - off, out);
    }
}

tofu_status tofui_sock_local_address(tofui_socket s, const tofui_sockaddr *requested,
                                     tofu_address *out) {
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    memset(out, 0, sizeof *out);
    memset(&ss, 0, sizeof ss);
    if (getsockname(posix_sock__fd(s), (struct sockaddr *)&ss, &len) != 0)
        return TOFU_COMMUNICATION_FAILED;
    if (ss.ss_family != AF_UNIX)
        return tofui_sockaddr_inet_to_address(&ss, out);
    posix_sock__uds_name(&ss, (size_t)len, requested, out);
    return TOFU_SUCCESS;
}

/* ------------------------------------------------------------------------ */
/* the peer                                                                 */
/* ------------------------------------------------------------------------ */

/* The peer process of a Unix socket, as far as this system tells: Linux and
 * OpenBSD have SO_PEERCRED (uid, gid, pid; the structure's name differs),
 * macOS and the other BSDs getpeereid (uid, gid), macOS also LOCAL_PEERPID. */
static void posix_sock__peer_credentials(int fd, tofu_peer *out) {
#if defined(__linux__) || defined(__OpenBSD__)
#if defined(__linux__)
    struct ucred cred;
#else
    struct sockpeercred cred;
#endif
    socklen_t len = sizeof cred;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 && len == sizeof cred) {
        out->uid = (int64_t)cred.uid;
        out->gid = (int64_t)cred.gid;
        out->pid = cred.pid > 0 ? (int64_t)cred.pid : -1;
        out->has_credentials = true;
    }
#elif defined(__APPLE__) || defined(__FreeBSD__) || defined(__NetBSD__) || defined(__DragonFly__)
    uid_t uid;
    gid_t gid;
    if (getpeereid(fd, &uid, &gid) == 0) {
        out->uid = (int64_t)uid;
        out->gid = (int64_t)gid;
        out->has_credentials = true;
    }
#if defined(LOCAL_PEERPID)
    pid_t pid = 0;
    socklen_t len = sizeof pid;
    if (getsockopt(fd, SOL_LOCAL, LOCAL_PEERPID, &pid, &len) == 0 && pid > 0) {
        out->pid = (int64_t)pid;
        out->has_credentials = true;
    }
#endif
#else
    (void)fd, (void)out; /* no known call: has_credentials stays false */
#endif
}

void tofui_sock_peer(tofui_socket s, bool uds, tofu_peer *out) {
    memset(out, 0, sizeof *out);
    out->uid = out->gid = out->pid = -1;
    int fd = posix_sock__fd(s);
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    memset(&ss, 0, sizeof ss);
    if (getpeername(fd, (struct sockaddr *)&ss, &len) == 0) {
        if (ss.ss_family == AF_UNIX)
            posix_sock__uds_name(&ss, (size_t)len, NULL, &out->address);
        else if (tofui_sockaddr_inet_to_address(&ss, &out->address) != TOFU_SUCCESS)
            memset(&out->address, 0, sizeof out->address);
    }
    out->address.transport = uds ? TOFU_TRANSPORT_UDS : TOFU_TRANSPORT_TCP;
    if (uds)
        posix_sock__peer_credentials(fd, out);
}

/* ------------------------------------------------------------------------ */
/* capabilities                                                             */
/* ------------------------------------------------------------------------ */

bool tofui_sock_uds_available(void) {
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd < 0)
        return false;
    close(fd);
    return true;
}

size_t tofu_uds_path_max(void) {
    return sizeof(((struct sockaddr_un *)0)->sun_path) - 1;
}

bool tofu_uds_abstract_supported(void) {
#if defined(__linux__)
    return true;
#else
    return false;
#endif
}

int tofui_sock_last_error(void) {
    return errno;
}
