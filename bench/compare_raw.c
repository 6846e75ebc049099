/*
 * The raw-socket baseline of the side-by-side comparison: what plain
 * blocking sockets carry with tofu's framing (a 16-byte binary header, SPEC
 * §1.2, then the body; no text headers), with no library in between. It is
 * the limit the other programs are measured against.
 *
 * The measurements of bench_latency.c and bench_throughput.c, with the same
 * constants and output lines (compare_common.h), over TCP loopback
 * (TCP_NODELAY on both ends) and a Unix-domain socket:
 *
 *  - latency: the client writes a 64-byte (then 1 KiB) Request frame (one write), the
 *    server reads it whole and writes it back (one write), the client reads
 *    the answer whole. Median, p99 and min after 1000 warm-up round trips.
 *  - throughput: the client sends Signal frames; the server reads in large
 *    chunks, decodes every frame header and acknowledges every 256th frame
 *    (and the last) with a 16-byte frame carrying the count in its id; the
 *    client keeps at most 4096 frames unacknowledged. Two writers:
 *      --writer batch  (default) the physical limit: frames are encoded
 *                      into a 256 KiB buffer, as many as the window and the
 *                      buffer allow, and the buffer goes out in one write;
 *      --writer each   one writev (header, body) per frame, as a sender
 *                      that hands every message to the kernel at once.
 *
 *     compare_raw latency [iterations] [--procs 1|2]          (default 100000)
 *     compare_raw throughput [messages] [--writer batch|each] [--procs 1|2]
 *                                          (default 1000000; 16 KiB runs use 1/8)
 *
 * --procs 2: the server is a child process instead of a thread.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include "compare_common.h"
#include "posix_io.h"

#define RAW_HDR 16u
#define RAW_OP_REQUEST 0u
#define RAW_OP_SIGNAL 2u
#define RAW_BATCH_BYTES (256u * 1024u)
#define RAW_READ_BYTES (256u * 1024u)

_Noreturn static void raw__die(const char *what) {
    cmp_die("raw", what, strerror(errno));
}

/* ---- framing (SPEC §1.2; bench_put_be / bench_get_be) ---- */

/* A binary header: channel 1, opcode, status 0, id, thl 0, bl. */
static void raw__header(unsigned char *p, unsigned opcode, uint64_t id, size_t bl) {
    bench_put_be(p, 1, 2);
    p[2] = (unsigned char)opcode;
    p[3] = 0;
    bench_put_be(p + 4, id, 8);
    bench_put_be(p + 12, 0, 2);
    bench_put_be(p + 14, bl, 2);
}

/* The whole frame's length, from its header. */
static size_t raw__frame_len(const unsigned char *h) {
    return RAW_HDR + (size_t)bench_get_be(h + 12, 2) + (size_t)bench_get_be(h + 14, 2);
}

static uint64_t raw__frame_id(const unsigned char *h) {
    return bench_get_be(h + 4, 8);
}

/* ---- blocking I/O ---- */

static void raw__write_all(int fd, const void *p, size_t len) {
    if (!bench_write_all(fd, p, len))
        raw__die("write");
}

/* Writes a header and a body with one writev (more only if it is short). */
static void raw__writev2(int fd, const unsigned char *hdr, const void *body, size_t len) {
    struct iovec iov[2] = {{(void *)hdr, RAW_HDR}, {(void *)body, len}};
    ssize_t w = writev(fd, iov, len > 0 ? 2 : 1);
    if (w < 0)
        raw__die("writev");
    size_t done = (size_t)w;
    if (done < RAW_HDR) {
        raw__write_all(fd, hdr + done, RAW_HDR - done);
        done = RAW_HDR;
    }
    raw__write_all(fd, (const unsigned char *)body + (done - RAW_HDR), len - (done - RAW_HDR));
}

/* A reader of whole frames: reads as much as the kernel has, hands out the
 * complete frames in place. */
typedef struct raw_reader {
    int fd;
    unsigned char *buf;
    size_t cap, start, end;
} raw_reader;

static void raw__reader_init(raw_reader *r, int fd, size_t cap) {
    r->fd = fd;
    r->cap = cap;
    r->start = r->end = 0;
    r->buf = malloc(cap);
    if (r->buf == NULL)
        cmp_die("raw", "memory", "out of memory");
}

/* Reads more; false at the end of the stream. */
static bool raw__fill(raw_reader *r) {
    if (r->start > 0) { /* keep the partial frame, at the front */
        memmove(r->buf, r->buf + r->start, r->end - r->start);
        r->end -= r->start;
        r->start = 0;
    }
    for (;;) {
        ssize_t got = read(r->fd, r->buf + r->end, r->cap - r->end);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            raw__die("read");
        r->end += (size_t)got;
        return got > 0;
    }
}

/* The next complete frame if the buffer holds one, else NULL. */
static const unsigned char *raw__next_buffered(raw_reader *r) {
    size_t have = r->end - r->start;
    if (have < RAW_HDR)
        return NULL;
    const unsigned char *f = r->buf + r->start;
    size_t len = raw__frame_len(f);
    if (have < len)
        return NULL;
    r->start += len;
    return f;
}

/* The next frame, reading until it is whole; NULL at the end of the stream. */
static const unsigned char *raw__next(raw_reader *r) {
    const unsigned char *f;
    while ((f = raw__next_buffered(r)) == NULL)
        if (!raw__fill(r))
            return NULL;
    return f;
}

/* ---- connection set-up ---- */

typedef struct raw_ep {
    bool uds;
    struct sockaddr_storage addr;
    socklen_t addr_len;
    int lfd; /* the listener */
} raw_ep;

static void raw__nodelay(int fd, bool uds) {
    int one = 1;
    if (!uds && setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0)
        raw__die("TCP_NODELAY");
}

/* Listens on 127.0.0.1, port 0, or a fresh UDS path; keeps the address. */
static void raw__listen(raw_ep *ep, bool uds) {
    memset(ep, 0, sizeof *ep);
    ep->uds = uds;
    if (uds) {
        struct sockaddr_un *un = (struct sockaddr_un *)&ep->addr;
        un->sun_family = AF_UNIX;
        cmp_uds_path(un->sun_path, sizeof un->sun_path, "raw");
        ep->addr_len = sizeof *un;
    } else {
        struct sockaddr_in *in = (struct sockaddr_in *)&ep->addr;
        in->sin_family = AF_INET;
        in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        ep->addr_len = sizeof *in;
    }
    ep->lfd = socket(uds ? AF_UNIX : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (ep->lfd < 0 || bind(ep->lfd, (struct sockaddr *)&ep->addr, ep->addr_len) != 0 ||
        listen(ep->lfd, 16) != 0 ||
        getsockname(ep->lfd, (struct sockaddr *)&ep->addr, &ep->addr_len) != 0)
        raw__die("listen");
}

static int raw__accept(raw_ep *ep) {
    int fd = accept(ep->lfd, NULL, NULL);
    if (fd < 0)
        raw__die("accept");
    raw__nodelay(fd, ep->uds);
    return fd;
}

static int raw__connect(raw_ep *ep) {
    int fd = socket(ep->uds ? AF_UNIX : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&ep->addr, ep->addr_len) != 0)
        raw__die("connect");
    raw__nodelay(fd, ep->uds);
    return fd;
}

/* ---- latency ---- */

/* Echoes every frame until an empty one, which it echoes and stops. */
static void lat__server(void *arg) {
    raw_ep *ep = arg;
    int fd = raw__accept(ep);
    raw_reader r;
    raw__reader_init(&r, fd, 4096);
    const unsigned char *f;
    while ((f = raw__next(&r)) != NULL) {
        size_t len = raw__frame_len(f);
        raw__write_all(fd, f, len);
        if (len == RAW_HDR)
            break;
    }
    free(r.buf);
    close(fd);
}

static uint64_t lat__one(int fd, raw_reader *r, unsigned char *frame, size_t len, uint64_t id) {
    bench_put_be(frame + 4, id, 8);
    uint64_t t0 = tofui_clock_ns();
    raw__write_all(fd, frame, RAW_HDR + len);
    const unsigned char *f = raw__next(r);
    uint64_t t1 = tofui_clock_ns();
    if (f == NULL || raw__frame_len(f) != RAW_HDR + len || raw__frame_id(f) != id)
        cmp_die("raw", "reply", "wrong or missing frame");
    return t1 - t0;
}

static void lat__run(const char *name, bool uds, size_t len, uint64_t n, int procs) {
    raw_ep ep;
    raw__listen(&ep, uds);
    cmp_server server;
    cmp_server_start(&server, procs, lat__server, &ep);
    int fd = raw__connect(&ep);
    raw_reader r;
    raw__reader_init(&r, fd, 4096);
    uint64_t *t = malloc(n * sizeof *t);
    if (t == NULL)
        cmp_die("raw", "memory", "out of memory");
    unsigned char frame[RAW_HDR + CMP_LAT_BODY_BIG] = {0};
    raw__header(frame, RAW_OP_REQUEST, 1, len);
    uint64_t id = 1;
    for (int i = 0; i < CMP_LAT_WARMUP; i++)
        lat__one(fd, &r, frame, len, id++);
    for (uint64_t i = 0; i < n; i++)
        t[i] = lat__one(fd, &r, frame, len, id++);
    unsigned char stop[RAW_HDR];
    raw__header(stop, RAW_OP_REQUEST, id, 0);
    raw__write_all(fd, stop, sizeof stop);
    if (raw__next(&r) == NULL)
        cmp_die("raw", "stop", "no answer");
    cmp_server_join(&server, "raw");
    cmp_lat_report(name, len, t, n);
    free(t);
    free(r.buf);
    close(fd);
    close(ep.lfd);
}

/* ---- throughput ---- */

typedef struct thr__run {
    raw_ep ep;
    uint64_t n;
} thr__run;

static void thr__send_ack(int fd, uint64_t count) {
    unsigned char ack[RAW_HDR];
    raw__header(ack, RAW_OP_SIGNAL, count, 0);
    raw__write_all(fd, ack, sizeof ack);
}

/* Takes the hello frame and acknowledges it with 0, then counts the data
 * frames and acknowledges every CMP_ACK of them (and the last). Each read
 * takes what the kernel has (up to 256 KiB); every frame's header is decoded
 * to find the next. */
static void thr__server(void *arg) {
    thr__run *run = arg;
    int fd = raw__accept(&run->ep);
    raw_reader r;
    raw__reader_init(&r, fd, RAW_READ_BYTES);
    if (raw__next(&r) == NULL)
        cmp_die("raw", "hello", "no frame");
    thr__send_ack(fd, 0);
    uint64_t got = 0;
    while (got < run->n) {
        if (raw__next_buffered(&r) == NULL) {
            if (!raw__fill(&r))
                cmp_die("raw", "data", "stream ended early");
            continue;
        }
        got++;
        if (got % CMP_ACK == 0 || got == run->n)
            thr__send_ack(fd, got);
    }
    /* Wait for the client to close: nothing it sent is left unread. */
    while (raw__fill(&r))
        ;
    free(r.buf);
    close(fd);
}

/* Reads acks until at least one is complete; returns the highest count. */
static uint64_t thr__ack(raw_reader *r, uint64_t acked) {
    const unsigned char *f = raw__next(r);
    if (f == NULL)
        cmp_die("raw", "ack", "stream ended");
    do {
        uint64_t c = raw__frame_id(f);
        acked = c > acked ? c : acked;
    } while ((f = raw__next_buffered(r)) != NULL);
    return acked;
}

/* Encodes up to `room` frames of len bytes into buf (at least one, which
 * must fit); returns how many. */
static uint64_t thr__encode(unsigned char *buf, size_t *used, const unsigned char *body, size_t len,
                            uint64_t room, uint64_t first_id) {
    size_t frame = RAW_HDR + len, off = 0;
    uint64_t k = 0;
    while (k < room && off + frame <= RAW_BATCH_BYTES) {
        raw__header(buf + off, RAW_OP_SIGNAL, first_id + k, len);
        memcpy(buf + off + RAW_HDR, body, len);
        off += frame;
        k++;
    }
    *used = off;
    return k;
}

static void thr__run_one(const char *name, bool uds, size_t len, uint64_t n, bool each,
                         int procs) {
    static const unsigned char body[CMP_MAX_BODY];
    thr__run run;
    run.n = n;
    raw__listen(&run.ep, uds);
    cmp_server server;
    cmp_server_start(&server, procs, thr__server, &run);
    int fd = raw__connect(&run.ep);
    raw_reader r;
    raw__reader_init(&r, fd, 4096);
    unsigned char *batch = malloc(RAW_BATCH_BYTES);
    if (batch == NULL)
        cmp_die("raw", "memory", "out of memory");
    unsigned char hdr[RAW_HDR];
    raw__header(hdr, RAW_OP_SIGNAL, 1, 1);
    raw__writev2(fd, hdr, body, 1); /* hello */
    if (thr__ack(&r, 0) != 0)
        cmp_die("raw", "hello", "wrong ack");

    uint64_t acked = 0, sent = 0;
    uint64_t t0 = tofui_clock_ns();
    while (sent < n) {
        while (sent - acked >= CMP_WINDOW)
            acked = thr__ack(&r, acked);
        uint64_t room = CMP_WINDOW - (sent - acked);
        if (room > n - sent)
            room = n - sent;
        if (each) {
            for (uint64_t k = 0; k < room; k++) {
                raw__header(hdr, RAW_OP_SIGNAL, sent + k + 1, len);
                raw__writev2(fd, hdr, body, len);
            }
            sent += room;
        } else {
            size_t used;
            sent += thr__encode(batch, &used, body, len, room, sent + 1);
            raw__write_all(fd, batch, used);
        }
    }
    while (acked < n)
        acked = thr__ack(&r, acked);
    uint64_t ns = tofui_clock_ns() - t0;
    close(fd); /* the server's last read sees the end */
    cmp_server_join(&server, "raw");
    cmp_thr_report(name, len, n, ns);
    free(batch);
    free(r.buf);
    close(run.ep.lfd);
}

int main(int argc, char **argv) {
    cmp_opts o;
    cmp_parse(argc, argv, CMP_ALLOW_WRITER, 100000, 1000000, &o);
    const size_t sizes[] = {64, 1024, 16384};
    for (int t = 0; t < 2; t++) {
        bool uds = t == 1;
        const char *name = uds ? "uds" : "tcp";
        if (o.latency) {
            for (int b = 0; b < 2; b++)
                lat__run(name, uds, cmp_lat_bodies[b], o.n, o.procs);
            continue;
        }
        for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
            thr__run_one(name, uds, sizes[i], cmp_thr_count(o.n, sizes[i]), o.writer_each,
                         o.procs);
    }
    return 0;
}
