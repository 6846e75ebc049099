/*
 * The porting contract: every OS primitive the portable code uses. Nothing
 * outside src/platform/ includes an OS header; the types below are opaque
 * storage that each implementation checks with a static assertion.
 *
 * Implementations: posix_thread.c, posix_sock.c, posix_notify.c (POSIX);
 * win_thread.c, win_sock.c, win_notify.c (Windows).
 */
#ifndef TOFUI_PLATFORM_H
#define TOFUI_PLATFORM_H

#include <stdalign.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "platform/iov.h"
#include "tofu.h"

/* ---- process-wide start-up (Winsock on Windows; no-op on POSIX) ---- */

/* Counted: every engine calls init once at create and fini once at destroy. */
tofu_status tofui_plat_init(void);
void tofui_plat_fini(void);

/* ---- threads, locks, condition variables ---- */

typedef struct tofui_thread {
    alignas(8) unsigned char opaque[16];
} tofui_thread;

typedef struct tofui_mutex {
    alignas(16) unsigned char opaque[64];
} tofui_mutex;

typedef struct tofui_cond {
    alignas(16) unsigned char opaque[64];
} tofui_cond;

typedef void (*tofui_thread_fn)(void *arg);

/* Starts a joinable thread running fn(arg). */
tofu_status tofui_thread_create(tofui_thread *t, tofui_thread_fn fn, void *arg);
/* Waits for the thread to end and releases it. */
void tofui_thread_join(tofui_thread *t);

void tofui_mutex_init(tofui_mutex *m);
void tofui_mutex_fini(tofui_mutex *m);
void tofui_mutex_lock(tofui_mutex *m);
void tofui_mutex_unlock(tofui_mutex *m);
/* Takes m if it is free; false (at once) when another thread holds it. */
bool tofui_mutex_trylock(tofui_mutex *m);

void tofui_cond_init(tofui_cond *c);
void tofui_cond_fini(tofui_cond *c);
void tofui_cond_wait(tofui_cond *c, tofui_mutex *m);
/* Waits until woken or until the monotonic clock reaches deadline_ns
 * (tofui_clock_ns time base). Returns false on timeout. Spurious wake-ups are
 * possible: callers re-check their condition. */
bool tofui_cond_wait_until(tofui_cond *c, tofui_mutex *m, uint64_t deadline_ns);
void tofui_cond_signal(tofui_cond *c);
void tofui_cond_broadcast(tofui_cond *c);

/* Gives the processor to another ready thread (a spin that waits for a
 * lock holder that was preempted). */
void tofui_thread_yield(void);

/* One pointer per thread for the message pool's per-thread cache, with a
 * function that runs when a thread that set it ends (a pthread key's
 * destructor, an FLS callback): its value is NULL again by then. The exit
 * function is the same for every call (one per process). Set returns false
 * when the platform could not arrange the exit call (nothing is set then).
 * A process's last thread that leaves through exit() gets no call. On
 * POSIX the get reads a _Thread_local; on Windows it is FlsGetValue,
 * which needs no thread-local storage of the C runtime. */
typedef void (*tofui_thread_exit_fn)(void *value);
bool tofui_thread_local_set(void *value, tofui_thread_exit_fn at_exit);
void *tofui_thread_local(void);

/* Monotonic clock in nanoseconds (arbitrary origin). */
uint64_t tofui_clock_ns(void);
/* The clock's value timeout_ns from now, saturating at UINT64_MAX (so a
 * huge timeout, TOFU_WAIT_INFINITE among them, is "never"). */
static inline uint64_t tofui_clock_deadline(uint64_t timeout_ns) {
    if (timeout_ns == UINT64_MAX) /* never: no clock read for every infinite wait */
        return UINT64_MAX;
    uint64_t now = tofui_clock_ns();
    return timeout_ns > UINT64_MAX - now ? UINT64_MAX : now + timeout_ns;
}
void tofui_sleep_ms(unsigned ms);

/* ---- sockets ---- */

/* A socket: an fd on POSIX, a SOCKET on Windows. */
typedef intptr_t tofui_socket;
#define TOFUI_INVALID_SOCKET ((tofui_socket)-1)

/* A resolved socket address (sockaddr_storage sized). */
typedef struct tofui_sockaddr {
    alignas(8) unsigned char storage[128];
    uint32_t len;
    bool uds;             /* AF_UNIX */
    bool uds_filesystem;  /* AF_UNIX on a path (not abstract) */
} tofui_sockaddr;

/* Turns a parsed address into socket addresses, at most `max` of them, in
 * the resolver's order. TCP host names go through getaddrinfo, which blocks:
 * never call it on the I/O thread for a host name. An empty host with
 * passive=true gives the IPv4 wildcard. Errors: TOFU_INVALID_ADDRESS. */
tofu_status tofui_sock_resolve(const tofu_address *a, bool passive, tofui_sockaddr *out,
                               size_t max, size_t *n);

/* True when a TCP address is a numeric literal (resolving it never blocks). */
bool tofui_sock_is_literal(const tofu_address *a);

/* Creates a non-blocking listening socket with that backlog (0: the
 * largest the system allows, SOMAXCONN; larger values are capped by the
 * system). TCP: SO_REUSEADDR (POSIX) / SO_EXCLUSIVEADDRUSE (Windows), never
 * SO_REUSEPORT: a port in use fails. UDS on a path: a stale socket file
 * (nothing answers a connect) is replaced; a live listener's path is never
 * stolen. Errors: TOFU_LISTEN_FAILED, TOFU_INVALID_ADDRESS. */
tofu_status tofui_sock_listen_backlog(const tofui_sockaddr *sa, uint32_t backlog,
                                      tofui_socket *out);

/* The same with the largest backlog. */
static inline tofu_status tofui_sock_listen(const tofui_sockaddr *sa, tofui_socket *out) {
    return tofui_sock_listen_backlog(sa, 0, out);
}

/* Dead-peer detection on a connected TCP socket (tofu_options), in ms;
 * 0 turns a part off. */
typedef struct tofui_liveness {
    uint32_t keepalive_idle_ms; /* 0: no keepalive */
    uint32_t keepalive_interval_ms;
    uint32_t keepalive_count;
    uint32_t user_timeout_ms;   /* 0: the system's own limit */
} tofui_liveness;

/* Applies lv where the platform has the options (POSIX: SO_KEEPALIVE,
 * TCP_KEEPIDLE/TCP_KEEPALIVE, TCP_KEEPINTVL, TCP_KEEPCNT, in whole seconds,
 * rounded up; TCP_USER_TIMEOUT in ms. Windows: SIO_KEEPALIVE_VALS in ms,
 * TCP_KEEPCNT where known, TCP_MAXRT in whole seconds). Best effort: an
 * option the system refuses keeps the system's value. */
void tofui_sock_set_liveness(tofui_socket s, const tofui_liveness *lv);

/* Not a status of tofu.h: what tofui_sock_read and tofui_sock_writev
 * return when the system gave up on the connection (ETIMEDOUT: keepalive
 * probes unanswered, TCP_USER_TIMEOUT, retransmissions). The engine turns
 * it into communication_failed with a ~limit; it never reaches the
 * application. */
#define TOFUI_SOCK_TIMED_OUT ((tofu_status)(TOFU_UNKNOWN_ERROR + 1))

/* Not a status of tofu.h: what tofui_sock_connect returns when a Unix
 * socket's listener is there but its backlog is full (Linux: EAGAIN). The
 * connect did not start; the engine tries again shortly. */
#define TOFUI_SOCK_BUSY ((tofu_status)(TOFU_UNKNOWN_ERROR + 2))

/* Starts a non-blocking connect (TCP_NODELAY on TCP). *in_progress is set
 * when completion must be awaited (writable, then tofui_sock_connect_result).
 * Errors: TOFU_UDS_PATH_NOT_FOUND (no such UDS path), TOFUI_SOCK_BUSY (a
 * Unix listener's backlog is full, where the system tells so),
 * TOFU_CONNECT_FAILED. */
tofu_status tofui_sock_connect(const tofui_sockaddr *sa, tofui_socket *out, bool *in_progress);

/* After a connecting socket became writable (or reported an error): success
 * or TOFU_CONNECT_FAILED. */
tofu_status tofui_sock_connect_result(tofui_socket s);

/* Accepts one connection, non-blocking, TCP_NODELAY on TCP. Nothing pending:
 * TOFU_SUCCESS with *out = TOFUI_INVALID_SOCKET. Errors: TOFU_ACCEPT_FAILED
 * for errors that concern the listener itself; transient per-connection
 * errors (ECONNABORTED...) are reported as nothing pending.
 * TOFU_ALLOCATION_FAILED: out of descriptors or memory (EMFILE, ENFILE,
 * ENOBUFS, ENOMEM); the connection stays queued and the listener stays
 * readable, so the caller must wait before it tries again. */
tofu_status tofui_sock_accept(tofui_socket l, tofui_socket *out);

/* Gather write, never raising SIGPIPE. Would-block: TOFU_SUCCESS with
 * *written = 0. Errors: TOFU_COMMUNICATION_FAILED when the peer reset the
 * connection (the reset is reported once: later reads see an end of
 * stream), TOFUI_SOCK_TIMED_OUT (reported once too), TOFU_SEND_FAILED
 * otherwise. */
tofu_status tofui_sock_writev(tofui_socket s, const tofui_iov *iov, int n, size_t *written);

/* Reads up to cap bytes. Would-block: TOFU_SUCCESS with *got = 0. Orderly
 * end of stream: TOFU_PEER_DISCONNECTED. The system gave up on the peer:
 * TOFUI_SOCK_TIMED_OUT. Reset or other error: TOFU_RECV_FAILED. */
tofu_status tofui_sock_read(tofui_socket s, void *buf, size_t cap, size_t *got);

/* The same, leaving the bytes in the socket: a reader that may not be able
 * to use them all reads back only what it used (tofui_sock_read of that
 * many), and the rest stays in the kernel's buffer instead of its own. */
tofu_status tofui_sock_peek(tofui_socket s, void *buf, size_t cap, size_t *got);

/* Half-close: sends FIN after the queued data. */
void tofui_sock_shutdown_write(tofui_socket s);

/* Closes gracefully (queued data still delivered). */
void tofui_sock_close(tofui_socket s);

/* Closes abortively (SO_LINGER {1,0}: the peer sees a reset). */
void tofui_sock_abort(tofui_socket s);

/* Closes a listener; for a UDS listener on a path also removes the file. */
void tofui_sock_close_listener(tofui_socket s, const tofui_sockaddr *bound);

/* The address a socket is bound to, as a tofu_address (the real port after
 * binding port 0). */
tofu_status tofui_sock_local_address(tofui_socket s, const tofui_sockaddr *requested,
                                     tofu_address *out);

/* What the system tells about the peer of a connected socket (uds: the
 * transport it was opened on): getpeername's address, and on a Unix socket
 * the peer process's credentials where the platform has a call for them
 * (Linux SO_PEERCRED; OpenBSD SO_PEERCRED; the other BSDs and macOS
 * getpeereid, and LOCAL_PEERPID on macOS; Windows SIO_AF_UNIX_GETPEERPID).
 * Never fails: what the system does not tell stays empty, or -1. */
void tofui_sock_peer(tofui_socket s, bool uds, tofu_peer *out);

/* Sockets opened by this layer and not yet closed, process-wide. */
uint64_t tofui_sock_open_count(void);

/* Poller backends call these for every OS handle they open/close that is not
 * a socket of this layer (eventfd, pipe ends), so that tofu_open_sockets()
 * (= tofui_sock_open_count() + these handles) proves they were released too.
 * A backend without such handles never calls them. */
void tofui_sock_count_opened(void);
void tofui_sock_count_closed(void);

#if !defined(_WIN32)
/* POSIX: a pipe whose two ends are non-blocking and close-on-exec (the
 * wake-up of poller_poll.c, the readiness flag of posix_notify.c where
 * there is no eventfd); 0, or -1 with errno. Not counted: the caller does
 * that. */
int tofui_posix_pipe(int fds[2]);
#endif

/* ---- the operating system's error behind a failure ---- */

/* The OS error of this thread's last call of this layer that failed (errno
 * on POSIX, WSAGetLastError on Windows; a connect that failed gives its
 * SO_ERROR). Valid only right after that call: the calls keep it through
 * their own clean-up, and the engine reads it at once. 0: none known. */
int tofui_sock_last_error(void);

/* Longest text tofui_os_error_text writes, NUL included. */
#define TOFUI_OS_ERROR_TEXT_MAX 256

/* The error as one ASCII line, "<SYMBOL> <text>": "ECONNREFUSED Connection
 * refused" (POSIX: the symbolic name, strerror's text), "WSAECONNREFUSED No
 * connection could be made..." (Windows: the Winsock name, FormatMessage's
 * text). Unknown numbers: "errno 123 <text>" / "error 123 <text>". Always
 * NUL-terminated (cap > 0), cut short to fit. */
void tofui_os_error_text(int err, char *buf, size_t cap);

/* ---- readiness flag: a handle an outside event loop can wait on ---- */

/* A flag that an application's event loop (epoll, poll, select, libuv,
 * WSAPoll) sees as "readable" exactly while it is set. POSIX: an eventfd on
 * Linux, a pipe elsewhere; Windows: a connected pair of loopback TCP
 * sockets (select and WSAPoll only see sockets). Its handles are counted by
 * tofu_open_sockets(). Not thread-safe: the owner serialises set, clear and
 * close (the group does it under its lock). */
typedef struct tofui_notify {
    tofui_socket rd; /* what the application polls */
    tofui_socket wr; /* == rd for an eventfd */
    bool set;
} tofui_notify;

/* Opens the handles, the flag clear. Errors: TOFU_COMMUNICATION_FAILED. */
tofu_status tofui_notify_open(tofui_notify *n);
/* Makes the handle readable (no-op when set already). When this returns the
 * handle polls readable: the byte is in the reader's buffer. */
void tofui_notify_set(tofui_notify *n);
/* Makes it not readable (no-op when clear). */
void tofui_notify_clear(tofui_notify *n);
/* Closes the handles; rd becomes TOFUI_INVALID_SOCKET. */
void tofui_notify_close(tofui_notify *n);

/* True when this system can create AF_UNIX stream sockets right now (false
 * under Wine, for instance). */
bool tofui_sock_uds_available(void);

#endif
