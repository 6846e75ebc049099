/*
 * Hostile peers against one engine (issue 12): many raw connections attack
 * an echo server that runs with the default options, while a well-behaved
 * client of another engine measures its round trips to that server before
 * and during the attack. Reports what the attack cost the process (peak
 * RSS growth, messages alive, descriptors) and the well-behaved client's
 * median and 99th percentile.
 *
 *     bench_hostile [--mode M[,M...]|all] [--conns N] [--seconds S]
 *                   [--before S] [--body B] [--rss-limit MB] [--check]
 *
 * Modes (each attacker connection does this, and reconnects when the
 * server closes it, so that N attackers stay connected all along):
 *
 *   trickle  HelloRequest, a header announcing the largest frame (65535 +
 *            65535 bytes), then one byte every 100 ms
 *   stall    HelloRequest, that header and 100,000 bytes of the frame,
 *            then nothing
 *   garbage  random bytes, as fast as the server reads them
 *   reset    HelloRequest, that header and 64 KiB of the frame, then a reset
 *            (SO_LINGER 0), and again
 *   storm    connects and resets as soon as the connection is up, and again
 *   idle     connects and sends nothing (the handshake timeout's case)
 *   noread   HelloRequest, then Requests of --body bytes (default 60000) as
 *            fast as the server reads them, never reading an answer
 *
 * The server is what docs/semantics.md recommends for untrusted peers: it
 * echoes Requests (and answers Hello and Bye) on one thread, puts back every
 * message it does not post, and aborts a channel whose answer came back
 * with not_allowed (its peer does not read: max_send_queue is full).
 *
 * Several modes run one after the other, each in a child process of its
 * own, so that one mode's peak and the memory it left to the allocator do
 * not count for the next. The attack runs in the same process as the
 * server, so memory is measured as growth: VmRSS before the attack, and
 * VmHWM after it (the peak, reset at the start with /proc/self/clear_refs).
 * Descriptors are counted in /proc/self/fd: the attackers' own and the
 * server's ends of the same connections. These measures are Linux's; on
 * other systems they read "n/a".
 *
 * --check turns the run into a test (the hostile.short.* CTest entries):
 * the exit status is 1 when a bound is broken (docs/semantics.md, "Memory
 * bounds"): RSS growth and messages alive under what the options allow,
 * descriptors at most attackers + their server ends + a constant during
 * the attack and back to where they were after it, the well-behaved client
 * served during the attack, and nothing leaked. Never a bound on time.
 */
#if defined(__linux__)
#define _GNU_SOURCE /* MSG_NOSIGNAL */
#else
#define _POSIX_C_SOURCE 200809L
#endif

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_common.h"
#include "engine/channel.h" /* TOFUI_READ_CHUNK, TOFUI_RECV_BATCH */

#ifndef MSG_NOSIGNAL
#define MSG_NOSIGNAL 0 /* SIGPIPE is ignored instead */
#endif

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define HOSTILE_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define HOSTILE_SANITIZED 1
#endif
#endif
#ifndef HOSTILE_SANITIZED
#define HOSTILE_SANITIZED 0
#endif

#define MIB (1024.0 * 1024.0)
#define NS_PER_MS 1000000ull
#define NS_PER_S 1000000000ull

/* ======================================================================== */
/* what to run                                                              */
/* ======================================================================== */

typedef enum hmode { M_TRICKLE, M_STALL, M_GARBAGE, M_RESET, M_STORM, M_IDLE, M_NOREAD, M_COUNT } hmode;

static const char *const mode_names[M_COUNT] = {"trickle", "stall", "garbage", "reset",
                                                "storm",   "idle",  "noread"};

static const char *const mode_what[M_COUNT] = {
    "max-frame header, then 1 byte every 100 ms",
    "max-frame header and 100,000 bytes of the frame, then nothing",
    "random bytes as fast as the server reads",
    "max-frame header and 64 KiB, then a reset, and again",
    "connect, reset once connected, and again",
    "connect and send nothing",
    "Requests as fast as the server reads, never reading an answer",
};

typedef struct config {
    bool modes[M_COUNT];
    uint32_t conns;
    double seconds; /* of attack */
    double before;  /* of the well-behaved client alone */
    uint32_t body;  /* noread's Request body */
    uint64_t rss_limit; /* bytes of growth that stop an attack (a guard) */
    uint16_t pool;      /* the server's initial and max pool (0: the defaults) */
    bool check;
} config;

#define TRICKLE_EVERY_MS 100u
#define STALL_BYTES 100000u
#define RESET_BYTES 65536u
#define GARBAGE_BYTES 65536u
#define MAX_FRAME_REST (2u * TOFU_MAX_PART_LEN)

/* ======================================================================== */
/* the process, as Linux counts it                                          */
/* ======================================================================== */

/* A "Vm...:  123 kB" line of /proc/self/status, in bytes; 0 when absent. */
static uint64_t proc_status_bytes(const char *field) {
#if defined(__linux__)
    FILE *f = fopen("/proc/self/status", "r");
    if (f == NULL)
        return 0;
    char line[256];
    size_t flen = strlen(field);
    uint64_t kb = 0;
    while (fgets(line, sizeof line, f) != NULL) {
        if (strncmp(line, field, flen) == 0 && line[flen] == ':') {
            kb = strtoull(line + flen + 1, NULL, 10);
            break;
        }
    }
    fclose(f);
    return kb * 1024u;
#else
    (void)field;
    return 0;
#endif
}

/* Open descriptors of the process; -1 where /proc/self/fd is missing. */
static int proc_fd_count(void) {
    DIR *d = opendir("/proc/self/fd");
    if (d == NULL)
        return -1;
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL)
        if (de->d_name[0] != '.')
            n++;
    closedir(d);
    return n - 1; /* the directory's own descriptor */
}

/* Bytes allocated with malloc and not freed (glibc 2.33+; 0 elsewhere):
 * tells what the program holds from what the allocator keeps besides. */
static uint64_t heap_in_use(void) {
#if defined(__GLIBC__) && (__GLIBC__ > 2 || __GLIBC_MINOR__ >= 33)
    struct mallinfo2 mi = mallinfo2();
    return (uint64_t)mi.uordblks + mi.hblkhd;
#else
    return 0;
#endif
}

/* The memory of every TCP socket of the system, in bytes (the "mem" of
 * /proc/net/sockstat, in pages): what the kernel holds for the peers that
 * do not read, which no RSS shows. 0 where unknown. */
static uint64_t proc_tcp_mem_bytes(void) {
#if defined(__linux__)
    FILE *f = fopen("/proc/net/sockstat", "r");
    if (f == NULL)
        return 0;
    char line[256];
    uint64_t pages = 0;
    while (fgets(line, sizeof line, f) != NULL) {
        const char *p = strstr(line, " mem ");
        if (strncmp(line, "TCP:", 4) == 0 && p != NULL) {
            pages = strtoull(p + 5, NULL, 10);
            break;
        }
    }
    fclose(f);
    return pages * (uint64_t)sysconf(_SC_PAGESIZE);
#else
    return 0;
#endif
}

/* Starts a new peak: VmHWM becomes the current RSS (Linux 4.0+). */
static bool proc_reset_peak(void) {
    FILE *f = fopen("/proc/self/clear_refs", "w");
    if (f == NULL)
        return false;
    bool ok = fputs("5", f) >= 0;
    return fclose(f) == 0 && ok;
}

/* Raises the descriptor limit to `want`; returns what it is now. */
static uint64_t raise_nofile(uint64_t want) {
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return 256;
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < want) {
        rlim_t to = want;
        if (rl.rlim_max != RLIM_INFINITY && to > rl.rlim_max)
            to = rl.rlim_max;
        rl.rlim_cur = to;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
    }
    return rl.rlim_cur == RLIM_INFINITY ? want : (uint64_t)rl.rlim_cur;
}

/* ======================================================================== */
/* the server: an echo service on one thread                                */
/* ======================================================================== */

typedef struct server {
    tofu_engine *e;
    tofu_group *g;
    tofui_thread thread;
    uint16_t port;
    _Atomic uint64_t echoed;      /* answers posted */
    _Atomic uint64_t closes;      /* close Signals */
    _Atomic uint64_t by_timeout;  /* ... with ~limit:frame_timeout_ms */
    _Atomic uint64_t by_partial;  /* ... with ~limit:max_partial_bytes */
    _Atomic uint64_t refused;     /* answers back with not_allowed */
    _Atomic uint64_t aborted;     /* channels aborted for that */
    _Atomic uint64_t pool_empty;  /* pool_empty Signals */
    _Atomic uint64_t live_max;    /* tofu_live_messages(), the most seen */
    uint8_t aborting[65536];      /* echo thread only: abort posted, no close yet */
} server;

static void note_max(_Atomic uint64_t *max, uint64_t v) {
    uint64_t m = atomic_load(max);
    while (v > m && !atomic_compare_exchange_weak(max, &m, v))
        ;
}

static bool is_close_signal(const tofu_msg *m) {
    const tofu_bhdr *h = tofu_msg_bhdr_const(m);
    return h->opcode == TOFU_OP_SIGNAL && h->origin == TOFU_ORIGIN_ENGINE &&
           h->status == TOFU_CHANNEL_CLOSED;
}

static bool limit_is(const tofu_msg *m, const char *name) {
    tofu_header h;
    return tofu_msg_find_header(m, TOFU_HDR_LIMIT, &h) && h.value_len == strlen(name) &&
           memcmp(h.value, name, h.value_len) == 0;
}

/* A channel whose peer does not read its answers is reset (a bit-6
 * ByeSignal), once: what docs/semantics.md recommends to a server with
 * untrusted peers. The message becomes the ByeSignal. */
static void server_abort(server *s, tofu_msg **m) {
    uint16_t ch = tofu_msg_channel(*m);
    if (s->aborting[ch]) {
        tofu_put(s->e, m);
        return;
    }
    tofu_msg_reset(*m);
    tofu_msg_set_opcode(*m, TOFU_OP_BYE_SIGNAL);
    tofu_msg_set_channel(*m, ch);
    tofu_msg_bhdr(*m)->internal_a = true;
    if (tofu_post(s->g, m, NULL) == TOFU_SUCCESS) {
        s->aborting[ch] = 1;
        atomic_fetch_add(&s->aborted, 1);
    } else {
        tofu_put(s->e, m);
    }
}

/* An engine message: true for the stop request. */
static bool server_engine_msg(server *s, tofu_msg **m) {
    tofu_status st = tofu_msg_status(*m);
    if (st == TOFU_RECEIVER_UPDATE) {
        tofu_put(s->e, m);
        return true;
    }
    if (is_close_signal(*m)) {
        atomic_fetch_add(&s->closes, 1);
        if (limit_is(*m, "frame_timeout_ms"))
            atomic_fetch_add(&s->by_timeout, 1);
        else if (limit_is(*m, "max_partial_bytes"))
            atomic_fetch_add(&s->by_partial, 1);
        s->aborting[tofu_msg_channel(*m)] = 0;
    } else if (st == TOFU_POOL_EMPTY) {
        atomic_fetch_add(&s->pool_empty, 1);
    } else if (st == TOFU_NOT_ALLOWED && tofu_msg_opcode(*m) != TOFU_OP_BYE_SIGNAL) {
        atomic_fetch_add(&s->refused, 1);
        server_abort(s, m);
        return false;
    }
    tofu_put(s->e, m); /* pool_empty Signals too: they refill the pool */
    return false;
}

static void server_main(void *arg) {
    server *s = arg;
    for (;;) {
        tofu_msg *m = NULL;
        if (tofu_wait_receive(s->g, TOFU_WAIT_INFINITE, &m) != TOFU_SUCCESS || m == NULL)
            return;
        note_max(&s->live_max, tofu_live_messages());
        if (tofu_msg_from_engine(m)) {
            if (server_engine_msg(s, &m))
                return;
            continue;
        }
        tofu_opcode reply;
        if (tofu_op_echo(tofu_msg_opcode(m), &reply) == TOFU_SUCCESS &&
            tofu_msg_opcode(m) != TOFU_OP_SIGNAL) {
            tofu_msg_set_opcode(m, reply);
            if (tofu_post(s->g, &m, NULL) == TOFU_SUCCESS) {
                atomic_fetch_add(&s->echoed, 1);
                continue;
            }
        }
        tofu_put(s->e, &m);
    }
}

/* The next message of g within a few seconds; the program ends otherwise
 * (only for the set-up, where nothing else goes on). */
static tofu_msg *setup_wait(tofu_engine *e, tofu_group *g) {
    for (int i = 0; i < 100; i++) {
        tofu_msg *m = NULL;
        tofu_status st = tofu_wait_receive(g, TOFU_WAIT_SECOND / 10, &m);
        if (st != TOFU_SUCCESS)
            bench_die("wait_receive", st);
        if (m != NULL && tofu_msg_from_engine(m) && tofu_msg_status(m) == TOFU_POOL_EMPTY) {
            tofu_put(e, &m);
            continue;
        }
        if (m != NULL)
            return m;
    }
    bench_die("set-up: no answer", TOFU_PROCESSING_FAILED);
}

static void server_open(server *s, uint16_t pool) {
    memset(s, 0, sizeof *s);
    tofu_options opt;
    tofu_options_init(&opt); /* the defaults */
    if (pool != 0)
        opt.initial_pool_msgs = opt.max_pool_msgs = pool;
    tofu_status st = tofu_engine_create(&opt, &s->e);
    if (st == TOFU_SUCCESS)
        st = tofu_group_create(s->e, &s->g);
    if (st != TOFU_SUCCESS)
        bench_die("server engine", st);
    tofu_msg *m = tofu_get(s->e, TOFU_ALWAYS);
    if ((st = tofu_msg_listen_tcp(m, "127.0.0.1", 0)) != TOFU_SUCCESS)
        bench_die("listen address", st);
    bench_post(s->g, &m);
    m = setup_wait(s->e, s->g);
    tofu_header h;
    tofu_address a;
    if (tofu_msg_status(m) != TOFU_SUCCESS || !tofu_msg_find_header(m, TOFU_HDR_LISTEN_ON, &h) ||
        tofu_address_parse(h.value, h.value_len, &a) != TOFU_SUCCESS)
        bench_die("listen", tofu_msg_status(m));
    tofu_put(s->e, &m);
    s->port = a.port;
    if (tofui_thread_create(&s->thread, server_main, s) != TOFU_SUCCESS)
        bench_die("thread", TOFU_ALLOCATION_FAILED);
}

static void server_close(server *s) {
    if (tofu_update_receiver(s->g, NULL) != TOFU_SUCCESS)
        bench_die("stop the server", TOFU_SHUTDOWN_STARTED);
    tofui_thread_join(&s->thread);
    tofu_group_destroy(s->e, s->g);
    tofu_engine_destroy(s->e);
}

/* ======================================================================== */
/* the well-behaved client                                                  */
/* ======================================================================== */

#define CLIENT_BODY 64u
#define CLIENT_TIMEOUT_MS 5000u /* a Request's deadline: the client never hangs */
#define CLIENT_KEEP (1u << 20)  /* round trips kept per phase */

enum { PHASE_BEFORE, PHASE_DURING, PHASE_AFTER };

typedef struct lat_set {
    uint32_t *ns; /* round trips in ns, the first CLIENT_KEEP */
    uint64_t n;   /* round trips completed */
} lat_set;

typedef struct client {
    tofu_engine *e;
    tofu_group *g;
    uint16_t ch;
    uint16_t port;
    tofui_thread thread;
    _Atomic int phase;
    _Atomic bool stop;
    lat_set lat[PHASE_AFTER + 1];
    _Atomic uint64_t timeouts; /* the engine answered at the deadline */
    _Atomic uint64_t failed;   /* the engine answered for a closed channel */
    _Atomic uint64_t lost;     /* the client's channel closed */
} client;

static void client_connect(client *c) {
    tofu_msg *m = tofu_get(c->e, TOFU_ALWAYS);
    tofu_status st = tofu_msg_connect_tcp(m, "127.0.0.1", c->port);
    tofu_bhdr h;
    if (st != TOFU_SUCCESS || (st = tofu_post(c->g, &m, &h)) != TOFU_SUCCESS)
        bench_die("connect", st);
    c->ch = h.channel;
    m = setup_wait(c->e, c->g);
    if (tofu_msg_opcode(m) != TOFU_OP_HELLO_RESPONSE || tofu_msg_status(m) != TOFU_SUCCESS)
        bench_die("hello", tofu_msg_status(m));
    tofu_put(c->e, &m);
}

static void client_record(client *c, uint64_t ns) {
    lat_set *l = &c->lat[atomic_load(&c->phase)];
    if (l->n < CLIENT_KEEP)
        l->ns[l->n] = ns > UINT32_MAX ? UINT32_MAX : (uint32_t)ns;
    l->n++;
}

/* What came for the Request `id` posted at t0: true when the round is over
 * (answered, or the channel closed). */
static bool client_answer(client *c, tofu_msg *m, uint64_t id, uint64_t t0) {
    if (is_close_signal(m)) {
        atomic_fetch_add(&c->lost, 1);
        client_connect(c);
        return true;
    }
    if (tofu_msg_opcode(m) != TOFU_OP_RESPONSE || tofu_msg_id(m) != id)
        return false; /* pool_empty and the like */
    if (!tofu_msg_from_engine(m))
        client_record(c, tofui_clock_ns() - t0);
    else if (tofu_msg_timed_out(m))
        atomic_fetch_add(&c->timeouts, 1);
    else
        atomic_fetch_add(&c->failed, 1);
    return true;
}

/* One Request and its answer; every Request gets one (its deadline). */
static void client_round(client *c) {
    tofu_msg *m = bench_msg(c->e, TOFU_OP_REQUEST, c->ch, CLIENT_BODY);
    tofu_msg_set_timeout(m, CLIENT_TIMEOUT_MS);
    uint64_t t0 = tofui_clock_ns();
    tofu_bhdr h;
    tofu_status st = tofu_post(c->g, &m, &h);
    if (st != TOFU_SUCCESS) {
        tofu_put(c->e, &m); /* the channel closed: its close Signal is coming */
        h.message_id = 0;
    }
    for (;;) {
        tofu_msg *a = NULL;
        if ((st = tofu_wait_receive(c->g, TOFU_WAIT_INFINITE, &a)) != TOFU_SUCCESS)
            bench_die("client wait", st);
        bool done = client_answer(c, a, h.message_id, t0);
        tofu_put(c->e, &a);
        if (done)
            return;
    }
}

static void client_main(void *arg) {
    client *c = arg;
    while (!atomic_load(&c->stop))
        client_round(c);
}

static void client_open(client *c, uint16_t port) {
    memset(c, 0, sizeof *c);
    c->port = port;
    for (int p = PHASE_BEFORE; p <= PHASE_AFTER; p++) {
        c->lat[p].ns = malloc(CLIENT_KEEP * sizeof(uint32_t));
        if (c->lat[p].ns == NULL)
            bench_die("memory", TOFU_ALLOCATION_FAILED);
        /* resident before the baseline (not zeros: malloc + memset 0 may
         * become a calloc that touches nothing) */
        memset(c->lat[p].ns, 0xff, CLIENT_KEEP * sizeof(uint32_t));
    }
    tofu_status st = tofu_engine_create(NULL, &c->e);
    if (st == TOFU_SUCCESS)
        st = tofu_group_create(c->e, &c->g);
    if (st != TOFU_SUCCESS)
        bench_die("client engine", st);
    client_connect(c);
    atomic_store(&c->phase, PHASE_BEFORE);
    if (tofui_thread_create(&c->thread, client_main, c) != TOFU_SUCCESS)
        bench_die("thread", TOFU_ALLOCATION_FAILED);
}

/* Stops the client and destroys its engine; its round trips stay. */
static void client_close(client *c) {
    atomic_store(&c->stop, true);
    tofui_thread_join(&c->thread);
    tofu_group_destroy(c->e, c->g);
    tofu_engine_destroy(c->e);
}

static void client_free(client *c) {
    for (int p = PHASE_BEFORE; p <= PHASE_AFTER; p++)
        free(c->lat[p].ns);
}

static int cmp_u32(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* The q-th percentile of a phase's round trips, in microseconds. */
static double lat_percentile(lat_set *l, unsigned q) {
    size_t n = l->n < CLIENT_KEEP ? (size_t)l->n : CLIENT_KEEP;
    if (n == 0)
        return 0;
    return l->ns[(n * q) / 100] / 1e3;
}

static void lat_sort(lat_set *l) {
    size_t n = l->n < CLIENT_KEEP ? (size_t)l->n : CLIENT_KEEP;
    qsort(l->ns, n, sizeof *l->ns, cmp_u32);
}

/* ======================================================================== */
/* the attackers: raw non-blocking sockets on one poll loop                 */
/* ======================================================================== */

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

typedef struct attack {
    hmode mode;
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
    /* counts */
    uint64_t opened, server_closed, self_reset, connect_failed, bytes;
    uint8_t scratch[TOFUI_READ_CHUNK];
} attack;

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
    case M_TRICKLE:
        k->script_len = put_hello_big_frame(k, 0);
        k->after = AFTER_TRICKLE;
        break;
    case M_STALL:
        k->script_len = put_hello_big_frame(k, STALL_BYTES);
        break;
    case M_RESET:
        k->script_len = put_hello_big_frame(k, RESET_BYTES);
        k->after = AFTER_RESET;
        break;
    case M_GARBAGE: {
        k->loop = xmalloc0(GARBAGE_BYTES);
        uint64_t x = 0x9e3779b97f4a7c15ull;
        for (size_t i = 0; i < GARBAGE_BYTES; i++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            k->loop[i] = (uint8_t)x;
        }
        k->loop_len = GARBAGE_BYTES;
        break;
    }
    case M_STORM:
        k->after = AFTER_RESET;
        break;
    case M_IDLE:
        break;
    case M_NOREAD:
        k->script = xmalloc0(128);
        k->script_len = put_hello(k->script, ntohs(k->to.sin_port));
        k->loop = xmalloc0(16u + body);
        put_header(k->loop, TOFU_OP_REQUEST, 779, 0, (uint16_t)body);
        k->loop_len = 16u + body;
        k->reads = false;
        break;
    case M_COUNT:
        break;
    }
}

static void att_close(attack *k, att *a, bool reset, uint64_t now) {
    if (reset) {
        struct linger lg = {1, 0};
        setsockopt(a->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    }
    close(a->fd);
    a->fd = -1;
    a->state = A_WAIT;
    a->at = now; /* and again at once */
    (void)k;
}

/* The server closed (or reset) this connection. */
static void att_lost(attack *k, att *a, uint64_t now) {
    k->server_closed++;
    att_close(k, a, true, now);
}

static void att_connect(attack *k, att *a, uint64_t now) {
    a->fd = socket(AF_INET, SOCK_STREAM, 0);
    if (a->fd < 0 || fcntl(a->fd, F_SETFL, O_NONBLOCK) != 0) {
        if (a->fd >= 0)
            close(a->fd);
        a->fd = -1;
        k->connect_failed++;
        a->at = now + 10 * NS_PER_MS;
        return;
    }
    a->off = 0;
    a->script_done = k->script_len == 0;
    if (connect(a->fd, (struct sockaddr *)&k->to, sizeof k->to) == 0) {
        a->state = A_OPEN;
        k->opened++;
    } else if (errno == EINPROGRESS) {
        a->state = A_CONNECTING;
        a->at = now + 3 * NS_PER_S;
    } else {
        k->connect_failed++;
        att_close(k, a, true, now + 10 * NS_PER_MS);
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
        k->bytes += (uint64_t)w;
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
        k->self_reset++;
        att_close(k, a, true, now);
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
        k->bytes++;
    a->at = now + TRICKLE_EVERY_MS * NS_PER_MS;
}

static void att_connected(attack *k, att *a, uint64_t now) {
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(a->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) {
        k->connect_failed++;
        att_close(k, a, true, now + 10 * NS_PER_MS);
        return;
    }
    a->state = A_OPEN;
    k->opened++;
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
        k->connect_failed++;
        att_close(k, a, true, now);
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
static void attack_step(attack *k) {
    nfds_t n = attack_poll_set(k);
    int r = poll(k->pfd, n, 10);
    uint64_t now = tofui_clock_ns();
    for (nfds_t i = 0; r > 0 && i < n; i++)
        if (k->pfd[i].revents != 0)
            att_event(k, &k->a[k->slot[i]], k->pfd[i].revents, now);
    for (uint32_t i = 0; i < k->n; i++)
        att_timer(k, &k->a[i], now);
}

static void attack_init(attack *k, hmode mode, uint32_t n, uint16_t port, uint32_t body) {
    memset(k, 0, sizeof *k);
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
}

/* Resets every connection and frees the attack. */
static void attack_fini(attack *k) {
    for (uint32_t i = 0; i < k->n; i++)
        if (k->a[i].fd >= 0)
            att_close(k, &k->a[i], true, 0);
    free(k->a);
    free(k->pfd);
    free(k->slot);
    free(k->script);
    free(k->loop);
}

/* ======================================================================== */
/* one mode: measure, attack, measure, check                                */
/* ======================================================================== */

typedef struct sample {
    uint64_t rss_max;     /* VmRSS, the most sampled */
    uint64_t live_max;    /* tofu_live_messages() */
    uint64_t sockets_max; /* tofu_open_sockets() */
    int fds_max;          /* /proc/self/fd */
    uint64_t tcp_mem_max; /* the kernel's TCP buffers, system-wide */
    uint64_t heap_max;    /* malloc'ed and not freed */
} sample;

static void sample_take(sample *s) {
    uint64_t rss = proc_status_bytes("VmRSS");
    uint64_t live = tofu_live_messages(), socks = tofu_open_sockets();
    int fds = proc_fd_count();
    uint64_t tcp = proc_tcp_mem_bytes();
    s->tcp_mem_max = tcp > s->tcp_mem_max ? tcp : s->tcp_mem_max;
    uint64_t heap = heap_in_use();
    s->heap_max = heap > s->heap_max ? heap : s->heap_max;
    s->rss_max = rss > s->rss_max ? rss : s->rss_max;
    s->live_max = live > s->live_max ? live : s->live_max;
    s->sockets_max = socks > s->sockets_max ? socks : s->sockets_max;
    s->fds_max = fds > s->fds_max ? fds : s->fds_max;
}

typedef struct result {
    uint64_t rss_base, rss_peak; /* peak: VmHWM, 0 when unknown */
    uint64_t live_base, sockets_base;
    int fds_base, fds_after;
    uint64_t tcp_mem_base, heap_base;
    uint64_t sockets_after, live_after;
    sample during;
    bool rss_limit_hit, settled;
    double attack_s;
    uint64_t opened, server_closed; /* attacker connections, and those the server closed */
} result;

/* Waits until the engine's sockets are back to `base` (the server noticed
 * every attacker's reset); false after the hang guard. */
static bool settle(uint64_t sockets_base) {
    uint64_t deadline = tofui_clock_ns() + 60 * NS_PER_S;
    while (tofu_open_sockets() > sockets_base) {
        if (tofui_clock_ns() > deadline)
            return false;
        tofui_sleep_ms(10);
    }
    return true;
}

static void sleep_s(double s) {
    tofui_sleep_ms((unsigned)(s * 1000));
}

static void run_attack(const config *cfg, hmode mode, server *s, client *c, result *r) {
    attack *k = malloc(sizeof *k);
    if (k == NULL)
        bench_die("memory", TOFU_ALLOCATION_FAILED);
    attack_init(k, mode, cfg->conns, s->port, cfg->body);

    r->fds_base = proc_fd_count();
    r->sockets_base = tofu_open_sockets();
    r->live_base = tofu_live_messages();
    r->rss_base = proc_status_bytes("VmRSS");
    r->tcp_mem_base = proc_tcp_mem_bytes();
    r->heap_base = heap_in_use();
    bool peak_ok = proc_reset_peak();
    atomic_store(&c->phase, PHASE_DURING);

    uint64_t t0 = tofui_clock_ns(), end = t0 + (uint64_t)(cfg->seconds * 1e9), next_sample = t0;
    uint64_t now;
    while ((now = tofui_clock_ns()) < end) {
        attack_step(k);
        if (now >= next_sample) {
            sample_take(&r->during);
            next_sample = now + 50 * NS_PER_MS;
            if (r->during.rss_max > r->rss_base + cfg->rss_limit) {
                r->rss_limit_hit = true;
                break;
            }
        }
    }
    r->attack_s = (tofui_clock_ns() - t0) / 1e9;
    sample_take(&r->during);
    atomic_store(&c->phase, PHASE_AFTER);
    attack_fini(k);
    r->settled = settle(r->sockets_base);
    /* VmHWM, or the most sampled: VmRSS lags a little behind (the
     * kernel's per-thread counters) */
    r->rss_peak = peak_ok ? proc_status_bytes("VmHWM") : 0;
    r->rss_peak = r->during.rss_max > r->rss_peak ? r->during.rss_max : r->rss_peak;
    r->fds_after = proc_fd_count();
    r->sockets_after = tofu_open_sockets();
    r->live_after = tofu_live_messages();

    printf("  attackers: %" PRIu64 " connections, %" PRIu64 " closed by the server, %" PRIu64
           " reset by themselves, %" PRIu64 " failed connects, %.1f MB sent\n",
           k->opened, k->server_closed, k->self_reset, k->connect_failed, k->bytes / 1e6);
    r->opened = k->opened;
    r->server_closed = k->server_closed;
    free(k);
}

/* The well-behaved client's line for one phase. */
static void print_phase(const char *name, client *c, int phase) {
    lat_set *l = &c->lat[phase];
    lat_sort(l);
    printf("  client %-6s: %8" PRIu64 " round trips, p50 %8.1f us, p99 %8.1f us\n", name, l->n,
           lat_percentile(l, 50), lat_percentile(l, 99));
}

/* What the options let the attack pin (docs/semantics.md, "Memory
 * bounds"), and what the run shows against it. */
typedef struct bounds {
    uint64_t live; /* messages alive */
    uint64_t rss;  /* bytes of RSS growth */
    int fds;       /* descriptors above the baseline during the attack */
} bounds;

/* Per attacker: its channel record and the allocator's slack, and the
 * read a channel keeps while it waits for the pool (TOFUI_READ_CHUNK),
 * which max_partial_bytes does not count. */
#define PER_CONN_BYTES (16u * 1024u + TOFUI_READ_CHUNK)
/* Independent of the attack: the engine's read and write buffers, the
 * pools of both engines, the allocator's arenas for four threads. */
#define CONST_BYTES (48u * 1024u * 1024u)
/* One message besides its body: its record and text-header buffer. */
#define MSG_OVERHEAD 1024u

static bounds bounds_for(const config *cfg, hmode mode) {
    bounds b;
    uint64_t pools = 2u * TOFU_DEFAULT_MAX_POOL + TOFUI_RECV_BATCH + 16u;
    uint64_t frame = MAX_FRAME_REST + MSG_OVERHEAD;
    /* and the engine's own messages: a close Signal or a pool_empty Signal
     * per channel on its way to the application, two per attacker when it
     * reconnects before the old channel's Signal was taken */
    b.live = pools + 2ull * cfg->conns;
    b.rss = TOFU_DEFAULT_MAX_PARTIAL_BYTES + (uint64_t)cfg->conns * PER_CONN_BYTES + CONST_BYTES +
            pools * frame;
    if (mode == M_NOREAD) {
        /* every non-reading peer may fill its channel's send queue */
        uint64_t queued = (uint64_t)cfg->conns * TOFU_DEFAULT_MAX_SEND_QUEUE;
        b.live += queued;
        b.rss += queued * (cfg->body + MSG_OVERHEAD);
    }
    /* the attackers' ends, the server's ends (one more per attacker that
     * reconnected before the server saw its reset), a constant */
    b.fds = (int)(3u * cfg->conns + 64u);
    return b;
}

static int check_fail(const char *what, double got, double bound) {
    printf("  CHECK FAILED: %s: %.1f, bound %.1f\n", what, got, bound);
    return 1;
}

static int check_result(const config *cfg, hmode mode, const result *r, const client *c,
                        const server *s) {
    bounds b = bounds_for(cfg, mode);
    int bad = 0;
    uint64_t grown = r->rss_peak > r->rss_base ? r->rss_peak - r->rss_base : 0;
    if (r->rss_limit_hit)
        bad |= check_fail("RSS growth reached --rss-limit (MB)", grown / MIB, cfg->rss_limit / MIB);
    if (!HOSTILE_SANITIZED && grown > b.rss)
        bad |= check_fail("peak RSS growth (MB)", grown / MIB, b.rss / MIB);
    uint64_t live = atomic_load(&s->live_max);
    live = live > r->during.live_max ? live : r->during.live_max;
    if (live > b.live)
        bad |= check_fail("messages alive", (double)live, (double)b.live);
    if (r->fds_base >= 0 && r->during.fds_max - r->fds_base > b.fds)
        bad |= check_fail("descriptors above the baseline", r->during.fds_max - r->fds_base, b.fds);
    if (r->during.sockets_max - r->sockets_base > 2u * cfg->conns + 16u)
        bad |= check_fail("engine sockets above the baseline",
                          (double)(r->during.sockets_max - r->sockets_base), 2.0 * cfg->conns + 16);
    if (!r->settled || r->sockets_after != r->sockets_base)
        bad |= check_fail("engine sockets after the attack", (double)r->sockets_after,
                          (double)r->sockets_base);
    if (r->fds_base >= 0 && r->fds_after != r->fds_base)
        bad |= check_fail("descriptors after the attack", r->fds_after, r->fds_base);
    if (c->lat[PHASE_DURING].n == 0)
        bad |= check_fail("the client's round trips during the attack", 0, 1);
    if (atomic_load(&c->lost) != 0)
        bad |= check_fail("the client's channel closed (times)", (double)atomic_load(&c->lost), 0);
    return bad;
}

static void print_result(const config *cfg, hmode mode, const result *r, client *c,
                         const server *s) {
    uint64_t grown = r->rss_peak > r->rss_base ? r->rss_peak - r->rss_base : 0;
    uint64_t sampled = r->during.rss_max > r->rss_base ? r->during.rss_max - r->rss_base : 0;
    uint64_t live = atomic_load(&s->live_max);
    live = live > r->during.live_max ? live : r->during.live_max;
    bounds b = bounds_for(cfg, mode);
    printf("  memory: RSS %.1f MB before, peak growth %.1f MB (sampled %.1f MB, bound %.0f MB)%s\n",
           r->rss_base / MIB, grown / MIB, sampled / MIB, b.rss / MIB,
           r->rss_limit_hit ? ", STOPPED at --rss-limit" : "");
    printf("  heap in use (malloc): %.1f MB before, at most %.1f MB\n", r->heap_base / MIB,
           r->during.heap_max / MIB);
    printf("  kernel TCP buffers (system-wide): %.1f MB before, at most %.1f MB\n",
           r->tcp_mem_base / MIB, r->during.tcp_mem_max / MIB);
    printf("  messages alive: %" PRIu64 " before, at most %" PRIu64 " (bound %" PRIu64
           "), %" PRIu64 " after\n",
           r->live_base, live, b.live, r->live_after);
    printf("  descriptors: %d before, at most %d, %d after; engine sockets %" PRIu64
           " before, at most %" PRIu64 ", %" PRIu64 " after%s\n",
           r->fds_base, r->during.fds_max, r->fds_after, r->sockets_base, r->during.sockets_max,
           r->sockets_after, r->settled ? "" : " (NOT SETTLED after 60 s)");
    printf("  server: %" PRIu64 " answers, %" PRIu64 " close Signals (%" PRIu64
           " frame_timeout_ms, %" PRIu64 " max_partial_bytes), %" PRIu64 " refused, %" PRIu64
           " channels aborted, %" PRIu64 " pool_empty Signals\n",
           atomic_load(&s->echoed), atomic_load(&s->closes), atomic_load(&s->by_timeout),
           atomic_load(&s->by_partial), atomic_load(&s->refused), atomic_load(&s->aborted),
           atomic_load(&s->pool_empty));
    print_phase("before", c, PHASE_BEFORE);
    print_phase("during", c, PHASE_DURING);
    printf("  client: %" PRIu64 " timed out (%u ms), %" PRIu64 " failed, channel lost %" PRIu64
           " times\n",
           atomic_load(&c->timeouts), CLIENT_TIMEOUT_MS, atomic_load(&c->failed),
           atomic_load(&c->lost));
}

/* The Markdown row of docs/benchmarks.md. */
static void print_row(hmode mode, const result *r, client *c, const server *s) {
    uint64_t grown = r->rss_peak > r->rss_base ? r->rss_peak - r->rss_base : 0;
    uint64_t live = atomic_load(&s->live_max);
    live = live > r->during.live_max ? live : r->during.live_max;
    printf("row: | %s | %.1f MB | %" PRIu64 " | %d / %d / %d | %.0f / %.0f us | %.0f / %.0f us | "
           "%" PRIu64 " / %" PRIu64 " |\n",
           mode_names[mode], grown / MIB, live, r->fds_base, r->during.fds_max, r->fds_after,
           lat_percentile(&c->lat[PHASE_BEFORE], 50), lat_percentile(&c->lat[PHASE_BEFORE], 99),
           lat_percentile(&c->lat[PHASE_DURING], 50), lat_percentile(&c->lat[PHASE_DURING], 99),
           r->server_closed, c->lat[PHASE_DURING].n);
}

static int run_mode(const config *cfg, hmode mode) {
    printf("mode %s: %u attackers for %.1f s (%s)\n", mode_names[mode], cfg->conns, cfg->seconds,
           mode_what[mode]);
    fflush(stdout);
    server *s = malloc(sizeof *s);
    client *c = malloc(sizeof *c);
    result *r = calloc(1, sizeof *r);
    if (s == NULL || c == NULL || r == NULL)
        bench_die("memory", TOFU_ALLOCATION_FAILED);
    server_open(s, cfg->pool);
    client_open(c, s->port);
    sleep_s(cfg->before);

    run_attack(cfg, mode, s, c, r);
    client_close(c);
    server_close(s);
    print_result(cfg, mode, r, c, s);
    int bad = cfg->check ? check_result(cfg, mode, r, c, s) : 0;
    if (cfg->check && (tofu_live_messages() != 0 || tofu_open_sockets() != 0))
        bad |= check_fail("messages and sockets left after destroy",
                          (double)(tofu_live_messages() + tofu_open_sockets()), 0);
    print_row(mode, r, c, s);
    if (cfg->check)
        printf("  check: %s\n", bad ? "FAILED" : "ok");
    fflush(stdout);
    client_free(c);
    free(r);
    free(c);
    free(s);
    return bad;
}

/* ======================================================================== */
/* command line                                                             */
/* ======================================================================== */

static _Noreturn void usage(const char *prog) {
    fprintf(stderr,
            "usage: %s [--mode M[,M...]|all] [--conns N] [--seconds S] [--before S]\n"
            "          [--body B] [--pool N] [--rss-limit MB] [--check]\n"
            "modes: trickle stall garbage reset storm idle noread (default all)\n",
            prog);
    exit(2);
}

static bool parse_modes(config *cfg, const char *arg) {
    if (strcmp(arg, "all") == 0) {
        for (int m = 0; m < M_COUNT; m++)
            cfg->modes[m] = true;
        return true;
    }
    char buf[256];
    snprintf(buf, sizeof buf, "%s", arg);
    for (char *save = NULL, *t = strtok_r(buf, ",", &save); t != NULL;
         t = strtok_r(NULL, ",", &save)) {
        int m = 0;
        while (m < M_COUNT && strcmp(t, mode_names[m]) != 0)
            m++;
        if (m == M_COUNT)
            return false;
        cfg->modes[m] = true;
    }
    return true;
}

static double parse_num(const char *prog, const char *s, double lo, double hi) {
    char *end = NULL;
    double v = strtod(s, &end);
    if (end == s || *end != '\0' || v < lo || v > hi)
        usage(prog);
    return v;
}

static void parse_args(config *cfg, int argc, char **argv) {
    memset(cfg, 0, sizeof *cfg);
    cfg->conns = 1000;
    cfg->seconds = 10;
    cfg->before = 1;
    cfg->body = 60000;
    cfg->rss_limit = 4096ull << 20;
    bool any = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--check") == 0) {
            cfg->check = true;
            continue;
        }
        if (v == NULL)
            usage(argv[0]);
        i++;
        if (strcmp(a, "--mode") == 0) {
            if (!parse_modes(cfg, v))
                usage(argv[0]);
            any = true;
        } else if (strcmp(a, "--conns") == 0) {
            cfg->conns = (uint32_t)parse_num(argv[0], v, 1, 30000);
        } else if (strcmp(a, "--seconds") == 0) {
            cfg->seconds = parse_num(argv[0], v, 0.1, 3600);
        } else if (strcmp(a, "--before") == 0) {
            cfg->before = parse_num(argv[0], v, 0.1, 3600);
        } else if (strcmp(a, "--body") == 0) {
            cfg->body = (uint32_t)parse_num(argv[0], v, 0, TOFU_MAX_PART_LEN);
        } else if (strcmp(a, "--pool") == 0) {
            cfg->pool = (uint16_t)parse_num(argv[0], v, 1, 65535);
        } else if (strcmp(a, "--rss-limit") == 0) {
            cfg->rss_limit = (uint64_t)parse_num(argv[0], v, 1, 1 << 20) << 20;
        } else {
            usage(argv[0]);
        }
    }
    if (!any)
        parse_modes(cfg, "all");
}

/* Room for the attackers' ends, the server's ends and some: scales the
 * attack down to what the descriptor limit allows, 0 when too little. */
static uint32_t fit_conns(uint32_t want) {
    uint64_t need = 3ull * want + 256u;
    uint64_t have = raise_nofile(need);
    if (have >= need)
        return want;
    uint64_t fit = have > 256u ? (have - 256u) / 3u : 0;
    fprintf(stderr, "bench_hostile: descriptor limit %" PRIu64 ": %" PRIu64
                    " attackers instead of %u\n",
            have, fit, want);
    return fit < 10 ? 0 : (uint32_t)fit;
}

int main(int argc, char **argv) {
    config cfg;
    parse_args(&cfg, argc, argv);
    signal(SIGPIPE, SIG_IGN);
    if ((cfg.conns = fit_conns(cfg.conns)) == 0) {
        printf("skipped: the descriptor limit cannot be raised\n");
        return 77;
    }
    if (cfg.check && HOSTILE_SANITIZED)
        printf("(sanitizer build: the RSS bound is not checked)\n");
    int modes = 0, last = 0;
    for (int m = 0; m < M_COUNT; m++)
        if (cfg.modes[m])
            modes++, last = m;
    if (modes == 1)
        return run_mode(&cfg, (hmode)last);

    /* Several modes: each in a child process of its own (forked before any
     * thread exists here). */
    int bad = 0;
    for (int m = 0; m < M_COUNT; m++) {
        if (!cfg.modes[m])
            continue;
        fflush(stdout);
        pid_t pid = fork();
        if (pid < 0)
            bench_die("fork", TOFU_ALLOCATION_FAILED);
        if (pid == 0) {
            int st = run_mode(&cfg, (hmode)m);
            fflush(stdout);
            _exit(st);
        }
        int st = 0;
        if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
            bad = 1;
    }
    return bad;
}
