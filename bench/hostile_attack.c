/*
 * The attackers of bench_hostile (hostile.c): raw non-blocking TCP sockets
 * of the system (not the platform layer's, so that tofu_open_sockets()
 * counts only the engines' sockets), all on one poll loop, so that a
 * thousand of them cost one thread. Each connection plays its mode's
 * script; when the server closes it, it connects again at once.
 */
#if defined(__linux__)
#define _GNU_SOURCE /* MSG_NOSIGNAL */
#else
#define _POSIX_C_SOURCE 200809L
#endif

#include "hostile_attack.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench_common.h"
#include "engine/channel.h" /* TOFUI_READ_CHUNK */

#ifndef MSG_NOSIGNAL
#define MSG_NOSIGNAL 0 /* SIGPIPE is ignored instead (main) */
#endif

#define NS_PER_MS 1000000ull
#define NS_PER_S 1000000000ull

const char *const hostile_mode_names[HM_COUNT] = {"trickle", "stall", "garbage", "reset",
                                                   "storm",   "idle",  "noread"};

const char *const hostile_mode_what[HM_COUNT] = {
    "max-frame header, then 1 byte every 100 ms",
    "max-frame header and 100,000 bytes of the frame, then nothing",
    "random bytes as fast as the server reads",
    "max-frame header and 64 KiB, then a reset, and again",
    "connect, reset once connected, and again",
    "connect and send nothing",
    "Requests as fast as the server reads, never reading an answer",
};

#define TRICKLE_EVERY_MS 100u
#define STALL_BYTES 100000u
#define RESET_BYTES 65536u
#define GARBAGE_BYTES 65536u

typedef enum att_state { A_WAIT, A_CONNECTING, A_OPEN } att_state;

typedef struct att {
    int fd;
    uint8_t state;
    bool script_done;
    uint64_t at;  /* A_WAIT: connect then; A_OPEN: trickle then; A_CONNECTING: give up then */
    size_t off;   /* bytes of the script, then of the loop, written */
} att;

/* What one mode does, as bytes: `script` right after connecting, then
 * `loop` over and over (if any); then `after`. */
typedef enum att_after { AFTER_NOTHING, AFTER_TRICKLE, AFTER_RESET } att_after;

struct attack {
    hostile_mode mode;
    uint32_t n;
    struct sockaddr_in to;
    att *a;
    struct pollfd *pfd;
    uint32_t *slot; /* pfd[i] belongs to a[slot[i]] */
    uint8_t *script;
    size_t script_len;
    uint8_t *loop;
    size_t loop_len;
    att_after after;
    bool reads; /* reads (and discards) what the server sends */
    attack_counts c;
    uint8_t scratch[TOFUI_READ_CHUNK];
};

static void put_be(uint8_t *p, uint64_t v, int n) {
    for (int i = n - 1; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

/* A 16-byte binary header, encoded by hand. */
static void put_header(uint8_t *p, uint8_t opcode, uint64_t id, uint16_t thl, uint16_t bl) {
    put_be(p, 1, 2); /* the attacker's channel number */
    p[2] = opcode;
    p[3] = 0;
    put_be(p + 4, id, 8);
    put_be(p + 12, thl, 2);
    put_be(p + 14, bl, 2);
}

/* A HelloRequest as a client sends it: ~connect_to the server. */
static size_t put_hello(uint8_t *p, uint16_t port) {
    char th[64];
    int thl = snprintf(th, sizeof th, "%s:tcp|127.0.0.1|%u\r\n", TOFU_HDR_CONNECT_TO, port);
    put_header(p, TOFU_OP_HELLO_REQUEST, 777, (uint16_t)thl, 0);
    memcpy(p + 16, th, (size_t)thl);
    return 16u + (size_t)thl;
}

static uint8_t *xmalloc0(size_t n) {
    uint8_t *p = calloc(1, n > 0 ? n : 1);
    if (p == NULL)
        bench_die("memory", TOFU_ALLOCATION_FAILED);
    return p;
}

/* Hello, then the header of the largest frame and `rest` bytes of it. */
static size_t put_hello_big_frame(attack *k, size_t rest) {
    k->script = xmalloc0(128 + 16 + rest);
    size_t n = put_hello(k->script, ntohs(k->to.sin_port));
    put_header(k->script + n, TOFU_OP_REQUEST, 778, TOFU_MAX_PART_LEN, TOFU_MAX_PART_LEN);
    return n + 16 + rest; /* the frame's bytes are zeros */
}

static void attack_script(attack *k, uint32_t body) {
    k->reads = true;
    k->after = AFTER_NOTHING;
    switch (k->mode) {
    case HM_TRICKLE:
        k->script_len = put_hello_big_frame(k, 0);
        k->after = AFTER_TRICKLE;
        break;
    case HM_STALL:
        k->script_len = put_hello_big_frame(k, STALL_BYTES);
        break;
    case HM_RESET:
        k->script_len = put_hello_big_frame(k, RESET_BYTES);
        k->after = AFTER_RESET;
        break;
    case HM_GARBAGE: {
        k->loop = xmalloc0(GARBAGE_BYTES);
        uint64_t x = 0x9e3779b97f4a7c15ull;
        for (size_t i = 0; i < GARBAGE_BYTES; i++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            k->loop[i] = (uint8_t)x;
        }
        k->loop_len = GARBAGE_BYTES;
        break;
    }
    case HM_STORM:
        k->after = AFTER_RESET;
        break;
    case HM_IDLE:
        break;
    case HM_NOREAD:
        k->script = xmalloc0(128);
        k->script_len = put_hello(k->script, ntohs(k->to.sin_port));
        k->loop = xmalloc0(16u + body);
        put_header(k->loop, TOFU_OP_REQUEST, 779, 0, (uint16_t)body);
        k->loop_len = 16u + body;
        k->reads = false;
        break;
    case HM_COUNT:
        break;
    }
}

static void att_close(att *a, bool reset, uint64_t now) {
    if (reset) {
        struct linger lg = {1, 0};
        setsockopt(a->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    }
    close(a->fd);
    a->fd = -1;
    a->state = A_WAIT;
    a->at = now; /* and again at once */
}

/* The server closed (or reset) this connection. */
static void att_lost(attack *k, att *a, uint64_t now) {
    k->c.server_closed++;
    att_close(a, true, now);
}

static void att_connect(attack *k, att *a, uint64_t now) {
    a->fd = socket(AF_INET, SOCK_STREAM, 0);
    if (a->fd < 0 || fcntl(a->fd, F_SETFL, O_NONBLOCK) != 0) {
        if (a->fd >= 0)
            close(a->fd);
        a->fd = -1;
        k->c.connect_failed++;
        a->at = now + 10 * NS_PER_MS;
        return;
    }
    a->off = 0;
    a->script_done = k->script_len == 0;
    if (connect(a->fd, (struct sockaddr *)&k->to, sizeof k->to) == 0) {
        a->state = A_OPEN;
        k->c.opened++;
    } else if (errno == EINPROGRESS) {
        a->state = A_CONNECTING;
        a->at = now + 3 * NS_PER_S;
    } else {
        k->c.connect_failed++;
        att_close(a, true, now + 10 * NS_PER_MS);
    }
}

/* Writes what the mode has to write now; false when the connection was
 * lost or reset. */
static bool att_write(attack *k, att *a, uint64_t now) {
    for (;;) {
        const uint8_t *p;
        size_t n;
        if (!a->script_done) {
            p = k->script + a->off, n = k->script_len - a->off;
        } else if (k->loop != NULL) {
            p = k->loop + a->off, n = k->loop_len - a->off;
        } else {
            break;
        }
        ssize_t w = send(a->fd, p, n, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
                return true;
            att_lost(k, a, now);
            return false;
        }
        k->c.bytes += (uint64_t)w;
        a->off += (size_t)w;
        if ((size_t)w < n)
            return true;
        a->off = 0;
        if (!a->script_done) {
            a->script_done = true;
            a->at = now + TRICKLE_EVERY_MS * NS_PER_MS;
        }
    }
    if (k->after == AFTER_RESET) {
        k->c.self_reset++;
        att_close(a, true, now);
        return false;
    }
    return true;
}

/* One byte of the big frame, every TRICKLE_EVERY_MS. */
static void att_trickle(attack *k, att *a, uint64_t now) {
    static const uint8_t zero;
    ssize_t w = send(a->fd, &zero, 1, MSG_NOSIGNAL);
    if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        att_lost(k, a, now);
        return;
    }
    if (w > 0)
        k->c.bytes++;
    a->at = now + TRICKLE_EVERY_MS * NS_PER_MS;
}

static void att_connected(attack *k, att *a, uint64_t now) {
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(a->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) {
        k->c.connect_failed++;
        att_close(a, true, now + 10 * NS_PER_MS);
        return;
    }
    a->state = A_OPEN;
    k->c.opened++;
    att_write(k, a, now);
}

/* Reads and discards; false when the server closed the connection. */
static bool att_read(attack *k, att *a, uint64_t now) {
    ssize_t r = recv(a->fd, k->scratch, sizeof k->scratch, 0);
    if (r > 0 || (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)))
        return true;
    att_lost(k, a, now);
    return false;
}

static void att_event(attack *k, att *a, short ev, uint64_t now) {
    if (a->state == A_CONNECTING) {
        if (ev & (POLLOUT | POLLERR | POLLHUP))
            att_connected(k, a, now);
        return;
    }
    if (k->reads && (ev & (POLLIN | POLLERR | POLLHUP)) && !att_read(k, a, now))
        return;
    if (!k->reads && (ev & (POLLERR | POLLHUP))) {
        att_lost(k, a, now);
        return;
    }
    if (ev & POLLOUT)
        att_write(k, a, now);
}

/* Timers: connects due, connects that take too long, trickles. */
static void att_timer(attack *k, att *a, uint64_t now) {
    if (a->at > now)
        return;
    if (a->state == A_WAIT) {
        att_connect(k, a, now);
        if (a->state == A_OPEN)
            att_write(k, a, now);
    } else if (a->state == A_CONNECTING) {
        k->c.connect_failed++;
        att_close(a, true, now);
    } else if (k->after == AFTER_TRICKLE && a->script_done) {
        att_trickle(k, a, now);
    }
}

/* The poll set: what each connection waits for. */
static nfds_t attack_poll_set(attack *k) {
    nfds_t n = 0;
    for (uint32_t i = 0; i < k->n; i++) {
        att *a = &k->a[i];
        if (a->fd < 0)
            continue;
        short ev = 0;
        if (a->state == A_CONNECTING)
            ev = POLLOUT;
        else {
            if (k->reads)
                ev |= POLLIN;
            if (!a->script_done || k->loop != NULL)
                ev |= POLLOUT;
        }
        k->pfd[n].fd = a->fd;
        k->pfd[n].events = ev;
        k->pfd[n].revents = 0;
        k->slot[n++] = i;
    }
    return n;
}

/* One round of the loop: waits up to 10 ms, handles what happened. */
void attack_step(attack *k) {
    nfds_t n = attack_poll_set(k);
    int r = poll(k->pfd, n, 10);
    uint64_t now = tofui_clock_ns();
    for (nfds_t i = 0; r > 0 && i < n; i++)
        if (k->pfd[i].revents != 0)
            att_event(k, &k->a[k->slot[i]], k->pfd[i].revents, now);
    for (uint32_t i = 0; i < k->n; i++)
        att_timer(k, &k->a[i], now);
}

attack *attack_create(hostile_mode mode, uint32_t n, uint16_t port, uint32_t body) {
    attack *k = calloc(1, sizeof *k);
    if (k == NULL)
        bench_die("memory", TOFU_ALLOCATION_FAILED);
    k->mode = mode;
    k->n = n;
    k->to.sin_family = AF_INET;
    k->to.sin_port = htons(port);
    k->to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    k->a = calloc(n, sizeof *k->a);
    k->pfd = calloc(n, sizeof *k->pfd);
    k->slot = calloc(n, sizeof *k->slot);
    if (k->a == NULL || k->pfd == NULL || k->slot == NULL)
        bench_die("memory", TOFU_ALLOCATION_FAILED);
    for (uint32_t i = 0; i < n; i++)
        k->a[i].fd = -1; /* A_WAIT, due now */
    attack_script(k, body);
    return k;
}

const attack_counts *attack_counts_of(const attack *k) {
    return &k->c;
}

void attack_destroy(attack *k) {
    for (uint32_t i = 0; i < k->n; i++)
        if (k->a[i].fd >= 0)
            att_close(&k->a[i], true, 0);
    free(k->a);
    free(k->pfd);
    free(k->slot);
    free(k->script);
    free(k->loop);
    free(k);
}

