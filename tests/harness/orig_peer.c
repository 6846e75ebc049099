/* The orig peer: the original tofu's socket behaviour; see orig_peer.h. */
#if !defined(_WIN32)
#define _GNU_SOURCE 1 /* POLLRDHUP */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
typedef int orig__sock;
#define ORIG__BAD (-1)
#else
#include <winsock2.h>
#include <ws2tcpip.h>
#include <afunix.h>
typedef SOCKET orig__sock;
#define ORIG__BAD INVALID_SOCKET
#endif

#include <stdatomic.h>
#include <stddef.h>

#include "orig_peer.h"

/* Where poll() cannot report a peer's FIN (no POLLRDHUP), a pass reads
 * first and decides afterwards (orig_peer.h, docs/platforms.md). */
#if defined(_WIN32) || !defined(POLLRDHUP)
#define ORIG__EMULATED 1
#else
#define ORIG__EMULATED 0
#endif

#if defined(MSG_NOSIGNAL)
#define ORIG__SEND_FLAGS MSG_NOSIGNAL
#else
#define ORIG__SEND_FLAGS 0
#endif

#define ORIG__HDR 16u
#define ORIG__IDLE_MS 100       /* longest wait of a pass (posts wake it up) */
#define ORIG__READ_CHUNK 65536u /* one recv() */
#define ORIG__PASS_READ_MAX (1u << 20)
#define ORIG__CHANNEL 0x0101u /* the peer's own channel number on the wire */
#define ORIG__NS_PER_S 1000000000ull

static atomic_uint_fast64_t orig__open;

uint64_t orig_peer_open_sockets(void) {
    return atomic_load(&orig__open);
}

/* ======================================================================== */
/* the socket calls, per platform                                           */
/* ======================================================================== */

#if defined(_WIN32)
static int orig__error(void) {
    return WSAGetLastError();
}
static bool orig__would_block(int err) {
    return err == WSAEWOULDBLOCK;
}
static bool orig__interrupted(int err) {
    return err == WSAEINTR;
}
static void orig__nonblocking(orig__sock s) {
    u_long on = 1;
    ioctlsocket(s, FIONBIO, &on);
}
static size_t orig__pending(orig__sock s) {
    u_long n = 0;
    return ioctlsocket(s, FIONREAD, &n) == 0 ? (size_t)n : 0;
}
static void orig__closesocket(orig__sock s) {
    closesocket(s);
}
static long orig__send(orig__sock s, const void *p, size_t n) {
    return send(s, (const char *)p, (int)n, 0);
}
static long orig__recv(orig__sock s, void *p, size_t n) {
    return recv(s, (char *)p, (int)n, 0);
}
static void orig__no_sigpipe(orig__sock s) {
    (void)s;
}
#else
static int orig__error(void) {
    return errno;
}
static bool orig__would_block(int err) {
    return err == EAGAIN || err == EWOULDBLOCK;
}
static bool orig__interrupted(int err) {
    return err == EINTR;
}
static void orig__nonblocking(orig__sock s) {
    int fl = fcntl(s, F_GETFL, 0);
    fcntl(s, F_SETFL, fl | O_NONBLOCK);
}
static size_t orig__pending(orig__sock s) {
    int n = 0;
    return ioctl(s, FIONREAD, &n) == 0 && n > 0 ? (size_t)n : 0;
}
static void orig__closesocket(orig__sock s) {
    close(s);
}
static long orig__send(orig__sock s, const void *p, size_t n) {
    return (long)send(s, p, n, ORIG__SEND_FLAGS);
}
static long orig__recv(orig__sock s, void *p, size_t n) {
    return (long)recv(s, p, n, 0);
}
static void orig__no_sigpipe(orig__sock s) {
#if defined(SO_NOSIGPIPE)
    int on = 1;
    setsockopt(s, SOL_SOCKET, SO_NOSIGPIPE, &on, sizeof on);
#else
    (void)s;
#endif
}
#endif

static orig__sock orig__socket(int family, int type) {
    orig__sock s = socket(family, type, 0);
    if (s != ORIG__BAD)
        atomic_fetch_add(&orig__open, 1);
    return s;
}

static void orig__close(orig__sock s) {
    if (s == ORIG__BAD)
        return;
    orig__closesocket(s);
    atomic_fetch_sub(&orig__open, 1);
}

/* What the original does to every connection socket: SO_LINGER {1, 0}, so
 * that every close is a reset; and it never sets TCP_NODELAY. */
static void orig__connection_options(orig__sock s) {
    struct linger lg;
    memset(&lg, 0, sizeof lg);
    lg.l_onoff = 1;
    lg.l_linger = 0;
    setsockopt(s, SOL_SOCKET, SO_LINGER, (const char *)&lg, sizeof lg);
    orig__no_sigpipe(s);
    orig__nonblocking(s);
}

typedef struct orig__addr {
    struct sockaddr_storage ss;
    int len;
} orig__addr;

/* A parsed ~connect_to value as a socket address (numeric TCP hosts and
 * filesystem UDS paths: all the tests use). */
static bool orig__addr_from(const tofu_address *a, orig__addr *out) {
    memset(out, 0, sizeof *out);
    if (a->transport == TOFU_TRANSPORT_UDS) {
        struct sockaddr_un *un = (struct sockaddr_un *)&out->ss;
        size_t n = strlen(a->path);
        if (a->abstract || n >= sizeof un->sun_path)
            return false;
        un->sun_family = AF_UNIX;
        memcpy(un->sun_path, a->path, n + 1);
        out->len = (int)(offsetof(struct sockaddr_un, sun_path) + n + 1);
        return true;
    }
    struct sockaddr_in *in4 = (struct sockaddr_in *)&out->ss;
    if (inet_pton(AF_INET, a->host, &in4->sin_addr) == 1) {
        in4->sin_family = AF_INET;
        in4->sin_port = htons(a->port);
        out->len = (int)sizeof *in4;
        return true;
    }
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&out->ss;
    if (inet_pton(AF_INET6, a->host, &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons(a->port);
        out->len = (int)sizeof *in6;
        return true;
    }
    return false;
}

/* The readiness and error flags of one wait (ORIG__IN/OUT, ORIG_F_*). */
#define ORIG__IN 0x100u
#define ORIG__OUT 0x200u

/* Empties the wake-up socket (its datagrams only end a wait). */
static void orig__drain_wake(orig__sock wake) {
    char buf[64];
    while (orig__recv(wake, buf, sizeof buf) > 0) {
    }
}

#if defined(_WIN32)
static unsigned orig__poll(orig__sock s, orig__sock wake, bool want_write, bool rdhup, int ms) {
    WSAPOLLFD pf[2];
    memset(pf, 0, sizeof pf);
    pf[0].fd = s;
    pf[0].events = (SHORT)(POLLRDNORM | (want_write ? POLLWRNORM : 0));
    pf[1].fd = wake;
    pf[1].events = POLLRDNORM;
    (void)rdhup;
    if (WSAPoll(pf, 2, ms) <= 0)
        return 0;
    if (pf[1].revents != 0)
        orig__drain_wake(wake);
    SHORT r = pf[0].revents;
    return ((r & POLLRDNORM) ? ORIG__IN : 0) | ((r & POLLWRNORM) ? ORIG__OUT : 0) |
           ((r & POLLERR) ? ORIG_F_ERR : 0) | ((r & POLLHUP) ? ORIG_F_HUP : 0);
}
#else
static unsigned orig__poll(orig__sock s, orig__sock wake, bool want_write, bool rdhup, int ms) {
    struct pollfd pf[2];
    memset(pf, 0, sizeof pf);
    pf[0].fd = s;
    pf[0].events = (short)(POLLIN | (want_write ? POLLOUT : 0));
#if !ORIG__EMULATED
    if (rdhup)
        pf[0].events |= POLLRDHUP;
#else
    (void)rdhup;
#endif
    pf[1].fd = wake;
    pf[1].events = POLLIN;
    if (poll(pf, 2, ms) <= 0)
        return 0;
    if (pf[1].revents != 0)
        orig__drain_wake(wake);
    short r = pf[0].revents;
    unsigned out = ((r & POLLIN) ? ORIG__IN : 0) | ((r & POLLOUT) ? ORIG__OUT : 0) |
                   ((r & (POLLERR | POLLNVAL)) ? ORIG_F_ERR : 0) | ((r & POLLHUP) ? ORIG_F_HUP : 0);
#if !ORIG__EMULATED
    if (r & POLLRDHUP)
        out |= ORIG_F_RDHUP;
#endif
    return out;
}
#endif

/* The application's wake-up of the peer's thread (the original's
 * notifier): a connected pair of loopback UDP sockets; a datagram on *tx
 * makes *rx readable. */
static bool orig__wake_pair(orig__sock *rx, orig__sock *tx) {
    struct sockaddr_in a;
    socklen_t len = sizeof a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(0x7F000001u);
    *rx = orig__socket(AF_INET, SOCK_DGRAM);
    *tx = orig__socket(AF_INET, SOCK_DGRAM);
    if (*rx == ORIG__BAD || *tx == ORIG__BAD ||
        bind(*rx, (const struct sockaddr *)&a, sizeof a) != 0 ||
        getsockname(*rx, (struct sockaddr *)&a, &len) != 0 ||
        connect(*tx, (const struct sockaddr *)&a, sizeof a) != 0)
        return false;
    orig__nonblocking(*rx);
    orig__nonblocking(*tx);
    return true;
}

/* ======================================================================== */
/* the peer                                                                 */
/* ======================================================================== */

/* A frame to write: the whole encoded frame, written part by part. */
typedef struct orig__out {
    struct orig__out *next;
    size_t thl, len;
    unsigned char *buf;
} orig__out;

typedef struct orig__queue {
    orig__out *head, *tail;
    size_t n;
} orig__queue;

struct orig_peer {
    orig_layer layer;
    orig__sock listener, sock;
    orig__sock wake_rx, wake_tx; /* the application wakes the thread */
    char path[TOFU_UDS_PATH_BUF]; /* the UDS listener's file ("" for TCP) */
    tofu_t_thread thread;
    bool joined;

    tofui_mutex mu;
    tofui_cond cv;
    /* under mu */
    orig_script script;
    orig__queue posted; /* the application's posts, in order */
    bool abort_req;
    orig_frame **log;
    size_t nlog, caplog;
    orig_report rep;
    bool finished;

    /* the peer's thread only */
    orig__queue q; /* taken from `posted`, being written */
    size_t off;    /* bytes of q.head written */
    bool bye_sent;
    unsigned char *rbuf;
    size_t rlen, rcap;
};

static void *orig__alloc(size_t n) {
    void *p = malloc(n > 0 ? n : 1);
    if (p == NULL)
        tofu_t_fail(__FILE__, __LINE__, "orig peer: out of memory");
    return p;
}

const char *orig_layer_name(orig_layer l) {
    return l == ORIG_STDPOSIX ? "stdposix" : "posixnet";
}

const char *orig_end_name(orig_end e) {
    static const char *const names[] = {"open",         "error_flag",   "eof",
                                        "read_error",   "write_error",  "bye_response",
                                        "abort",        "no_connection"};
    return (size_t)e < sizeof names / sizeof names[0] ? names[e] : "?";
}

void orig_report_describe(const orig_report *r, char *buf, size_t cap) {
    snprintf(buf, cap,
             "end=%s flags=%s%s%s eof=%d dropped=%zu received=%zu sent=%zu unsent=%zu bye_sent=%d",
             orig_end_name(r->end), (r->flags & ORIG_F_ERR) ? "ERR|" : "",
             (r->flags & ORIG_F_HUP) ? "HUP|" : "", (r->flags & ORIG_F_RDHUP) ? "RDHUP" : "",
             (int)r->eof_seen, r->dropped, r->received, r->sent, r->unsent, (int)r->bye_sent);
}

/* ---- the wire format, written here from SPEC §1 (not the library's) ---- */

static void orig__put_be(unsigned char *p, uint64_t v, int bytes) {
    for (int i = bytes - 1; i >= 0; i--, v >>= 8)
        p[i] = (unsigned char)(v & 0xFFu);
}

static uint64_t orig__get_be(const unsigned char *p, int bytes) {
    uint64_t v = 0;
    for (int i = 0; i < bytes; i++)
        v = (v << 8) | p[i];
    return v;
}

static orig__out *orig__encode(uint8_t proto, uint64_t id, const void *th, size_t thl,
                               const void *body, size_t bl) {
    if (thl > 0xFFFFu || bl > 0xFFFFu)
        tofu_t_fail(__FILE__, __LINE__, "orig peer: a part longer than 65535 bytes");
    orig__out *o = orig__alloc(sizeof *o);
    o->next = NULL;
    o->thl = thl;
    o->len = ORIG__HDR + thl + bl;
    o->buf = orig__alloc(o->len);
    orig__put_be(o->buf, ORIG__CHANNEL, 2);
    o->buf[2] = proto;
    o->buf[3] = 0;
    orig__put_be(o->buf + 4, id, 8);
    orig__put_be(o->buf + 12, thl, 2);
    orig__put_be(o->buf + 14, bl, 2);
    if (thl > 0)
        memcpy(o->buf + ORIG__HDR, th, thl);
    if (bl > 0)
        memcpy(o->buf + ORIG__HDR + thl, body, bl);
    return o;
}

static orig_frame *orig__decode_frame(const unsigned char *h) {
    orig_frame *f = orig__alloc(sizeof *f);
    f->channel = (uint16_t)orig__get_be(h, 2);
    f->proto = h[2];
    f->status = h[3];
    f->id = orig__get_be(h + 4, 8);
    f->thl = (uint16_t)orig__get_be(h + 12, 2);
    f->bl = (uint16_t)orig__get_be(h + 14, 2);
    f->th = orig__alloc((size_t)f->thl + 1);
    f->body = orig__alloc((size_t)f->bl + 1);
    memcpy(f->th, h + ORIG__HDR, f->thl);
    memcpy(f->body, h + ORIG__HDR + f->thl, f->bl);
    f->th[f->thl] = '\0';
    f->body[f->bl] = '\0';
    return f;
}

/* A Bye-type frame: after it the original writes nothing more. */
static bool orig__is_bye(uint8_t proto) {
    uint8_t op = ORIG_OP(proto);
    return op == TOFU_OP_BYE_REQUEST || op == TOFU_OP_BYE_RESPONSE ||
           (op == TOFU_OP_BYE_SIGNAL && (proto & ORIG_BIT6) == 0);
}

/* ---- queues ---- */

static void orig__push(orig__queue *q, orig__out *o) {
    if (q->tail != NULL)
        q->tail->next = o;
    else
        q->head = o;
    q->tail = o;
    q->n++;
}

static orig__out *orig__pop(orig__queue *q) {
    orig__out *o = q->head;
    if (o != NULL) {
        q->head = o->next;
        if (q->head == NULL)
            q->tail = NULL;
        q->n--;
    }
    return o;
}

static void orig__free_out(orig__out *o) {
    free(o->buf);
    free(o);
}

static void orig__drain_queue(orig__queue *q) {
    orig__out *o;
    while ((o = orig__pop(q)) != NULL)
        orig__free_out(o);
}

/* Appends every frame of `from` to `to`. */
static void orig__splice(orig__queue *to, orig__queue *from) {
    if (from->head == NULL)
        return;
    if (to->tail != NULL)
        to->tail->next = from->head;
    else
        to->head = from->head;
    to->tail = from->tail;
    to->n += from->n;
    memset(from, 0, sizeof *from);
}

/* ---- the application's side ---- */

static void orig__post(orig_peer *p, orig__out *o) {
    tofui_mutex_lock(&p->mu);
    orig__push(&p->posted, o);
    tofui_mutex_unlock(&p->mu);
}

static void orig__wake(orig_peer *p) {
    char b = 'w';
    (void)orig__send(p->wake_tx, &b, 1);
}

void orig_peer_send(orig_peer *p, uint8_t proto, uint64_t id, const void *th, size_t thl,
                    const void *body, size_t bl) {
    if (ORIG_OP(proto) == TOFU_OP_BYE_SIGNAL && (proto & ORIG_BIT6) != 0)
        tofu_t_fail(__FILE__, __LINE__, "orig peer: a bit-6 ByeSignal is orig_peer_abort");
    orig__post(p, orig__encode(proto, id, th, thl, body, bl));
    orig__wake(p);
}

void orig_peer_abort(orig_peer *p) {
    tofui_mutex_lock(&p->mu);
    p->abort_req = true;
    tofui_mutex_unlock(&p->mu);
    orig__wake(p);
}

void orig_peer_set_script(orig_peer *p, const orig_script *s) {
    tofui_mutex_lock(&p->mu);
    p->script = *s;
    tofui_mutex_unlock(&p->mu);
}

/* The script's answer: the received frame with another opcode (origin
 * cleared; `more` and bits 6 and 7 kept). */
static void orig__reply(orig_peer *p, const orig_frame *f, uint8_t op) {
    uint8_t proto = (uint8_t)((f->proto & 0xE0u) | op);
    orig__post(p, orig__encode(proto, f->id, f->th, f->thl, f->body, f->bl));
}

/* Logs a received frame and lets the script act on it. Returns how the
 * connection ends because of it (ORIG_END_OPEN: it goes on). */
static orig_end orig__deliver(orig_peer *p, const unsigned char *h) {
    orig_frame *f = orig__decode_frame(h);
    tofui_mutex_lock(&p->mu);
    if (p->nlog == p->caplog) {
        p->caplog = p->caplog ? 2 * p->caplog : 64;
        orig_frame **n = realloc(p->log, p->caplog * sizeof *n);
        if (n == NULL)
            tofu_t_fail(__FILE__, __LINE__, "orig peer: out of memory");
        p->log = n;
    }
    p->log[p->nlog++] = f;
    p->rep.received = p->nlog;
    orig_script s = p->script;
    tofui_cond_broadcast(&p->cv);
    tofui_mutex_unlock(&p->mu);

    if (s.die_after != 0 && p->nlog >= s.die_after)
        return ORIG_END_ABORT;
    if (s.echo_below_id != 0 && f->id >= s.echo_below_id)
        s.echo = false;
    switch (ORIG_OP(f->proto)) {
    case TOFU_OP_HELLO_REQUEST:
        if (s.answer_hello)
            orig__reply(p, f, TOFU_OP_HELLO_RESPONSE);
        break;
    case TOFU_OP_REQUEST:
        if (s.echo)
            orig__reply(p, f, TOFU_OP_RESPONSE);
        break;
    case TOFU_OP_SIGNAL:
        if (s.echo)
            orig__reply(p, f, TOFU_OP_SIGNAL);
        break;
    case TOFU_OP_BYE_REQUEST:
        if (s.answer_bye)
            orig__reply(p, f, TOFU_OP_BYE_RESPONSE);
        break;
    case TOFU_OP_BYE_RESPONSE: /* stops reading, closes */
        return ORIG_END_BYE_RESPONSE;
    case TOFU_OP_BYE_SIGNAL:
        if (s.abort_on_bye_signal)
            return ORIG_END_ABORT;
        break;
    default:
        break;
    }
    return ORIG_END_OPEN;
}

/* ---- the peer's thread ---- */

/* Closes the connection (a reset on TCP: SO_LINGER {1, 0}); what was not
 * read from the socket, or read but not decoded, is lost. Returns true. */
static bool orig__finish(orig_peer *p, orig_end end, unsigned flags) {
    size_t dropped = p->rlen;
    if (p->sock != ORIG__BAD)
        dropped += orig__pending(p->sock);
    orig__close(p->sock);
    p->sock = ORIG__BAD;
    tofui_mutex_lock(&p->mu);
    p->rep.end = end;
    p->rep.flags = flags;
    p->rep.dropped = dropped;
    p->rep.unsent = p->q.n + p->posted.n;
    p->rep.bye_sent = p->bye_sent;
    p->finished = true;
    tofui_cond_broadcast(&p->cv);
    tofui_mutex_unlock(&p->mu);
    return true;
}

/* Takes the application's posts into the write queue; true when the
 * application asked to abort. */
static bool orig__take_posts(orig_peer *p) {
    tofui_mutex_lock(&p->mu);
    bool abort = p->abort_req;
    orig__splice(&p->q, &p->posted);
    tofui_mutex_unlock(&p->mu);
    return abort;
}

/* The end of the part of `o` that byte `off` is in: header, text headers,
 * body; an empty part is never written on its own. */
static size_t orig__part_end(const orig__out *o, size_t off) {
    if (off < ORIG__HDR)
        return ORIG__HDR;
    if (off < ORIG__HDR + o->thl)
        return ORIG__HDR + o->thl;
    return o->len;
}

static void orig__frame_written(orig_peer *p) {
    orig__out *o = orig__pop(&p->q);
    p->off = 0;
    if (orig__is_bye(o->buf[2]))
        p->bye_sent = true;
    orig__free_out(o);
    tofui_mutex_lock(&p->mu);
    p->rep.sent++;
    tofui_mutex_unlock(&p->mu);
}

/* Writes queued frames, one send() per part, until the socket would block
 * or a Bye-type frame went out. Returns false on a write error. */
static bool orig__write(orig_peer *p) {
    while (p->q.head != NULL && !p->bye_sent) {
        orig__out *o = p->q.head;
        size_t want = orig__part_end(o, p->off) - p->off;
        long n = orig__send(p->sock, o->buf + p->off, want);
        if (n < 0) {
            int err = orig__error();
            if (orig__interrupted(err))
                continue;
            return orig__would_block(err);
        }
        p->off += (size_t)n;
        if (p->off == o->len)
            orig__frame_written(p);
        else if ((size_t)n < want)
            return true; /* the socket took part of it: wait for writable */
    }
    return true;
}

/* Reads what the socket has (until would-block, end of stream or error,
 * at most ORIG__PASS_READ_MAX) into the peer's buffer. */
static void orig__drain(orig_peer *p, bool *eof, bool *failed) {
    size_t budget = ORIG__PASS_READ_MAX;
    while (budget > 0) {
        if (p->rcap - p->rlen < ORIG__READ_CHUNK) {
            p->rcap = p->rlen + 2 * ORIG__READ_CHUNK;
            unsigned char *n = realloc(p->rbuf, p->rcap);
            if (n == NULL)
                tofu_t_fail(__FILE__, __LINE__, "orig peer: out of memory");
            p->rbuf = n;
        }
        long n = orig__recv(p->sock, p->rbuf + p->rlen, ORIG__READ_CHUNK);
        if (n > 0) {
            p->rlen += (size_t)n;
            budget -= (size_t)n < budget ? (size_t)n : budget;
            continue;
        }
        if (n == 0) {
            *eof = true;
            return;
        }
        int err = orig__error();
        if (orig__interrupted(err))
            continue;
        if (!orig__would_block(err))
            *failed = true;
        return;
    }
}

/* Hands every complete frame in the buffer to the application, stopping
 * after a ByeResponse or when the script ends the connection. */
static orig_end orig__decode(orig_peer *p, size_t *frames) {
    size_t off = 0;
    orig_end end = ORIG_END_OPEN;
    while (end == ORIG_END_OPEN && p->rlen - off >= ORIG__HDR) {
        const unsigned char *h = p->rbuf + off;
        size_t total = ORIG__HDR + (size_t)orig__get_be(h + 12, 2) + (size_t)orig__get_be(h + 14, 2);
        if (p->rlen - off < total)
            break;
        end = orig__deliver(p, h);
        off += total;
        (*frames)++;
    }
    memmove(p->rbuf, p->rbuf + off, p->rlen - off);
    p->rlen -= off;
    return end;
}

/* The reading part of a pass (SPEC §1.10 step 6): an end of stream is
 * posixnet's recv_failed and nothing to stdposix; a failed read is an
 * error; either is put off while the pass delivered frames (it recurs on
 * the next pass). Returns true when the connection ended. */
static bool orig__read(orig_peer *p) {
    bool eof = false, failed = false;
    orig__drain(p, &eof, &failed);
    if (eof) {
        tofui_mutex_lock(&p->mu);
        p->rep.eof_seen = true;
        tofui_mutex_unlock(&p->mu);
    }
#if ORIG__EMULATED
    /* No RDHUP from poll: what this pass read together with a reset, or
     * (stdposix) with an end of stream, is what the original never reads. */
    if (failed || (eof && p->layer == ORIG_STDPOSIX))
        return orig__finish(p, ORIG_END_ERROR_FLAG, failed ? ORIG_F_ERR : ORIG_F_RDHUP);
#endif
    size_t frames = 0;
    orig_end end = orig__decode(p, &frames);
    if (end != ORIG_END_OPEN)
        return orig__finish(p, end, 0);
    if (frames > 0)
        return false;
    if (failed)
        return orig__finish(p, ORIG_END_READ_ERROR, 0);
    if (eof && p->layer == ORIG_POSIXNET)
        return orig__finish(p, ORIG_END_EOF, 0);
    return false;
}

#if !ORIG__EMULATED
static unsigned orig__error_mask(orig_layer l) {
    return l == ORIG_STDPOSIX ? ORIG_F_ERR | ORIG_F_HUP | ORIG_F_RDHUP : ORIG_F_ERR | ORIG_F_HUP;
}
#endif

/* One pass: the application's posts, the wait, the error flags BEFORE any
 * read, then writing, then reading. Returns true when the connection
 * ended. */
static bool orig__pass(orig_peer *p) {
    if (orig__take_posts(p))
        return orig__finish(p, ORIG_END_ABORT, 0);
    bool want_write = p->q.head != NULL && !p->bye_sent;
    unsigned r = orig__poll(p->sock, p->wake_rx, want_write, p->layer == ORIG_STDPOSIX,
                            ORIG__IDLE_MS);
    unsigned flags = r & (ORIG_F_ERR | ORIG_F_HUP | ORIG_F_RDHUP);
#if ORIG__EMULATED
    /* The flags only say "look": the read finds out what happened. */
    if (flags != 0 && orig__read(p))
        return true;
#else
    if (flags & orig__error_mask(p->layer))
        return orig__finish(p, ORIG_END_ERROR_FLAG, flags);
#endif
    if ((r & ORIG__OUT) && !orig__write(p))
        return orig__finish(p, ORIG_END_WRITE_ERROR, 0);
    if (r & ORIG__IN)
        return orig__read(p);
    return false;
}

static void orig__close_listener(orig_peer *p) {
    orig__close(p->listener);
    p->listener = ORIG__BAD;
    if (p->path[0] != '\0')
        remove(p->path);
}

/* Accepts the one connection of a listening peer; false when none came
 * within the hang guard or the application aborted first. */
static bool orig__accept(orig_peer *p) {
    uint64_t deadline = tofui_clock_ns() + TOFU_T_WAIT_S * ORIG__NS_PER_S;
    while (tofui_clock_ns() < deadline) {
        tofui_mutex_lock(&p->mu);
        bool abort = p->abort_req;
        tofui_mutex_unlock(&p->mu);
        if (abort)
            break;
        if ((orig__poll(p->listener, p->wake_rx, false, false, ORIG__IDLE_MS) & ORIG__IN) == 0)
            continue;
        orig__sock s = accept(p->listener, NULL, NULL);
        if (s == ORIG__BAD)
            continue;
        atomic_fetch_add(&orig__open, 1);
        orig__connection_options(s);
        p->sock = s;
        break;
    }
    orig__close_listener(p);
    return p->sock != ORIG__BAD;
}

static void orig__main(void *arg) {
    orig_peer *p = arg;
    if (p->sock == ORIG__BAD && !orig__accept(p)) {
        orig__finish(p, ORIG_END_NO_CONNECTION, 0);
        return;
    }
    while (!orig__pass(p)) {
    }
}

/* ---- creating, waiting, destroying ---- */

static orig_peer *orig__new(orig_layer layer, const orig_script *s) {
    orig_peer *p = orig__alloc(sizeof *p);
    memset(p, 0, sizeof *p);
    p->layer = layer;
    p->listener = p->sock = ORIG__BAD;
    if (!orig__wake_pair(&p->wake_rx, &p->wake_tx))
        tofu_t_fail(__FILE__, __LINE__, "orig peer: no wake-up socket pair (%d)", orig__error());
    if (s != NULL)
        p->script = *s;
    tofui_mutex_init(&p->mu);
    tofui_cond_init(&p->cv);
    return p;
}

orig_peer *orig_peer_connect_at(orig_layer layer, const char *value, const orig_script *s,
                                const char *file, int line) {
    tofu_address a;
    orig__addr sa;
    if (tofu_address_parse(value, strlen(value), &a) != TOFU_SUCCESS || !orig__addr_from(&a, &sa))
        tofu_t_fail(file, line, "orig peer: cannot use the address %s", value);
    orig__sock sock = orig__socket(sa.ss.ss_family, SOCK_STREAM);
    if (sock == ORIG__BAD)
        tofu_t_fail(file, line, "orig peer: socket() failed (%d)", orig__error());
    if (connect(sock, (const struct sockaddr *)&sa.ss, sa.len) != 0) {
        int err = orig__error();
        orig__close(sock);
        tofu_t_fail(file, line, "orig peer: connect to %s failed (%d)", value, err);
    }
    orig__connection_options(sock);
    orig_peer *p = orig__new(layer, s);
    p->sock = sock;
    tofu_t_thread_start(&p->thread, orig__main, p);
    return p;
}

/* A listening socket on 127.0.0.1:0 or a new path; fills the value. */
static orig__sock orig__listen(bool uds, char *path, char *value, size_t cap, const char *file,
                               int line) {
    orig__addr sa;
    memset(&sa, 0, sizeof sa);
    tofu_address a;
    memset(&a, 0, sizeof a);
    if (uds) {
        a.transport = TOFU_TRANSPORT_UDS;
        tofu_t_uds_path(a.path, sizeof a.path);
        snprintf(path, TOFU_UDS_PATH_BUF, "%s", a.path);
    } else {
        a.transport = TOFU_TRANSPORT_TCP;
        snprintf(a.host, sizeof a.host, "127.0.0.1");
    }
    if (!orig__addr_from(&a, &sa))
        tofu_t_fail(file, line, "orig peer: no listening address");
    orig__sock l = orig__socket(sa.ss.ss_family, SOCK_STREAM);
    if (l == ORIG__BAD || bind(l, (const struct sockaddr *)&sa.ss, sa.len) != 0 || listen(l, 8) != 0)
        tofu_t_fail(file, line, "orig peer: cannot listen (%d)", orig__error());
    if (!uds) {
        struct sockaddr_in bound;
        socklen_t len = sizeof bound;
        if (getsockname(l, (struct sockaddr *)&bound, &len) != 0)
            tofu_t_fail(file, line, "orig peer: getsockname failed (%d)", orig__error());
        a.port = ntohs(bound.sin_port);
    }
    if (tofu_address_format(&a, value, cap, NULL) != TOFU_SUCCESS)
        tofu_t_fail(file, line, "orig peer: the address does not fit %zu bytes", cap);
    return l;
}

orig_peer *orig_peer_listen_at(orig_layer layer, bool uds, const orig_script *s, char *value,
                               size_t cap, const char *file, int line) {
    orig_peer *p = orig__new(layer, s);
    p->listener = orig__listen(uds, p->path, value, cap, file, line);
    tofu_t_thread_start(&p->thread, orig__main, p);
    return p;
}

static orig_report orig__report(orig_peer *p) {
    tofui_mutex_lock(&p->mu);
    orig_report r = p->rep;
    tofui_mutex_unlock(&p->mu);
    return r;
}

static _Noreturn void orig__fail_report(orig_peer *p, const char *what, const char *file,
                                        int line) {
    char d[256];
    orig_report r = orig__report(p);
    orig_report_describe(&r, d, sizeof d);
    tofu_t_fail(file, line, "orig peer: %s (%s)", what, d);
}

void orig_peer_wait_received_at(orig_peer *p, size_t n, const char *file, int line) {
    uint64_t deadline = tofui_clock_ns() + TOFU_T_WAIT_S * ORIG__NS_PER_S;
    tofui_mutex_lock(&p->mu);
    bool timed_out = false;
    while (p->nlog < n && !p->finished && !timed_out)
        timed_out = !tofui_cond_wait_until(&p->cv, &p->mu, deadline) && tofui_clock_ns() >= deadline;
    bool ok = p->nlog >= n;
    tofui_mutex_unlock(&p->mu);
    if (!ok) {
        char what[96];
        snprintf(what, sizeof what, "%zu frames expected, %s", n,
                 timed_out ? "not there within the hang guard" : "the connection ended first");
        orig__fail_report(p, what, file, line);
    }
}

orig_report orig_peer_wait_end_at(orig_peer *p, const char *file, int line) {
    uint64_t deadline = tofui_clock_ns() + TOFU_T_WAIT_S * ORIG__NS_PER_S;
    tofui_mutex_lock(&p->mu);
    while (!p->finished && tofui_clock_ns() < deadline)
        tofui_cond_wait_until(&p->cv, &p->mu, deadline);
    bool finished = p->finished;
    tofui_mutex_unlock(&p->mu);
    if (!finished)
        orig__fail_report(p, "the connection did not end within the hang guard", file, line);
    if (!p->joined) {
        tofu_t_thread_join(&p->thread);
        p->joined = true;
    }
    return orig__report(p);
}

const orig_frame *orig_peer_frame(const orig_peer *p, size_t i) {
    if (!p->joined)
        tofu_t_fail(__FILE__, __LINE__, "orig peer: the log is read after the end only");
    return i < p->nlog ? p->log[i] : NULL;
}

void orig_peer_destroy(orig_peer *p) {
    if (p == NULL)
        return;
    orig_peer_abort(p);
    if (!p->joined)
        tofu_t_thread_join(&p->thread);
    orig__close(p->sock);
    orig__close_listener(p);
    orig__close(p->wake_rx);
    orig__close(p->wake_tx);
    orig__drain_queue(&p->q);
    orig__drain_queue(&p->posted);
    for (size_t i = 0; i < p->nlog; i++) {
        free(p->log[i]->th);
        free(p->log[i]->body);
        free(p->log[i]);
    }
    free(p->log);
    free(p->rbuf);
    tofui_cond_fini(&p->cv);
    tofui_mutex_fini(&p->mu);
    free(p);
}
