/*
 * Hostile peers against one engine (issue 12): many raw connections attack
 * an echo server that runs with the default options, while a well-behaved
 * client of another engine measures its round trips to that server before
 * and during the attack. Reports what the attack cost the process (peak
 * RSS growth, messages alive, descriptors) and the well-behaved client's
 * median and 99th percentile.
 *
 *     bench_hostile [--mode M[,M...]|all] [--conns N] [--seconds S]
 *                   [--before S] [--body B] [--pool N] [--rss-limit MB]
 *                   [--check]
 *
 * --conns attackers (default 1000) for --seconds (10) per mode, after
 * --before (1) seconds of the client alone; --pool sets the server's
 * initial and largest pool (default: the defaults); --rss-limit (4096)
 * stops an attack whose RSS growth passes it.
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
 * other systems they read 0 (descriptors -1).
 *
 * --check turns the run into a test (the hostile.short.* CTest entries):
 * the exit status is 1 when a bound is broken (docs/semantics.md, "Memory
 * bounds"): RSS growth and messages alive under what the options allow,
 * descriptors at most attackers + their server ends + a constant during
 * the attack and back to where they were after it, the well-behaved client
 * served during the attack, and nothing leaked. Never a bound on time.
 */
#define _POSIX_C_SOURCE 200809L /* fork, getrlimit, strtok_r, sysconf */

#include <dirent.h>
#include <inttypes.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#if defined(__GLIBC__)
#include <malloc.h> /* mallinfo2 */
#endif

#include "bench_common.h"
#include "engine/channel.h" /* TOFUI_READ_CHUNK, TOFUI_RECV_BATCH */
#include "hostile_attack.h"

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

typedef struct config {
    bool modes[HM_COUNT];
    uint32_t conns;
    double seconds; /* of attack */
    double before;  /* of the well-behaved client alone */
    uint32_t body;  /* noread's Request body */
    uint64_t rss_limit; /* bytes of growth that stop an attack (a guard) */
    uint16_t pool;      /* the server's initial and max pool (0: the defaults) */
    bool check;
} config;

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
    bench_engine(&opt, "server engine", &s->e, &s->g);
    tofu_msg *m = tofu_get(s->e, TOFU_ALWAYS);
    tofu_status st;
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
    bench_engine(NULL, "client engine", &c->e, &c->g);
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

static void run_attack(const config *cfg, hostile_mode mode, server *s, client *c, result *r) {
    attack *k = attack_create(mode, cfg->conns, s->port, cfg->body);

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
    attack_counts n = *attack_counts_of(k);
    attack_destroy(k);
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
           n.opened, n.server_closed, n.self_reset, n.connect_failed, n.bytes / 1e6);
    r->opened = n.opened;
    r->server_closed = n.server_closed;
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
    uint64_t held;    /* connections the server held at most (measured) */
    uint64_t live;    /* messages alive */
    uint64_t rss;     /* bytes of RSS growth */
    uint64_t sockets; /* engine sockets above the baseline; 0: not bounded */
} bounds;

/* Per connection the server holds: its channel record and the allocator's
 * slack, and the read a channel keeps while it waits for the pool
 * (TOFUI_READ_CHUNK), which max_partial_bytes does not count. */
#define PER_CONN_BYTES (16u * 1024u + TOFUI_READ_CHUNK)
/* Independent of the attack: the engine's read and write buffers, the
 * pools of both engines, the allocator's arenas for four threads. */
#define CONST_BYTES (48u * 1024u * 1024u)
/* One message besides its body: its record and text-header buffer. */
#define MSG_OVERHEAD 1024u
/* Engine sockets besides the attackers' server ends. */
#define CONST_SOCKETS 16u

/* The bounds follow from the options and from the number of connections
 * the server held. That is the number of attackers, plus, when attackers
 * reset and reconnect at once, the connections that ended but that the
 * server has not seen end yet: a channel waiting for the pool reads
 * nothing, so it learns of the reset only when its turn comes (stall.c),
 * and under the reset attack the engine accepts faster than its pool lets
 * those channels go. That number depends on speed, not on the options: it
 * is measured and reported, and bounded only by the descriptor limit
 * (accepts pause at EMFILE). */
static bounds bounds_for(const config *cfg, hostile_mode mode, const result *r) {
    bounds b;
    uint64_t held = r->during.sockets_max - r->sockets_base;
    b.held = held > cfg->conns ? held : cfg->conns;
    uint64_t pools = 2u * TOFU_DEFAULT_MAX_POOL + TOFUI_RECV_BATCH + 16u;
    uint64_t frame = MAX_FRAME_REST + MSG_OVERHEAD;
    /* and the engine's own messages: a close Signal or a pool_empty Signal
     * per channel on its way to the application, two per attacker when it
     * reconnects before the old channel's Signal was taken */
    b.live = pools + 2u * b.held;
    b.rss = TOFU_DEFAULT_MAX_PARTIAL_BYTES + b.held * PER_CONN_BYTES + CONST_BYTES + pools * frame;
    if (mode == HM_NOREAD) {
        /* every non-reading peer may fill its channel's send queue */
        uint64_t queued = (uint64_t)cfg->conns * TOFU_DEFAULT_MAX_SEND_QUEUE;
        b.live += queued;
        b.rss += queued * (cfg->body + MSG_OVERHEAD);
    }
    b.sockets = mode == HM_RESET ? 0 : cfg->conns + CONST_SOCKETS;
    return b;
}

static int check_fail(const char *what, double got, double bound) {
    printf("  CHECK FAILED: %s: %.1f, bound %.1f\n", what, got, bound);
    return 1;
}

static int check_result(const config *cfg, hostile_mode mode, const result *r, const client *c,
                        const server *s) {
    bounds b = bounds_for(cfg, mode, r);
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
    uint64_t socks = r->during.sockets_max - r->sockets_base;
    if (b.sockets != 0 && socks > b.sockets)
        bad |= check_fail("engine sockets above the baseline", (double)socks, (double)b.sockets);
    /* The attackers' ends and the server's, and a few. The descriptors and
     * the engine's sockets are sampled at different moments, and storm
     * attackers reconnect at once: in the short storm (200 attackers) a
     * CI run saw 498 above the baseline against 200 + 200 + 64, with the
     * engine's sockets within their own bound and every descriptor back
     * at the end. The slack is the attackers' count once more; a leak
     * still shows at the end (descriptors back to the baseline). */
    int fds_bound = (int)(2u * cfg->conns + b.held + 64u);
    if (r->fds_base >= 0 && r->during.fds_max - r->fds_base > fds_bound)
        bad |= check_fail("descriptors above the baseline", r->during.fds_max - r->fds_base,
                          fds_bound);
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

static void print_result(const config *cfg, hostile_mode mode, const result *r, client *c,
                         const server *s) {
    uint64_t grown = r->rss_peak > r->rss_base ? r->rss_peak - r->rss_base : 0;
    uint64_t sampled = r->during.rss_max > r->rss_base ? r->during.rss_max - r->rss_base : 0;
    uint64_t live = atomic_load(&s->live_max);
    live = live > r->during.live_max ? live : r->during.live_max;
    bounds b = bounds_for(cfg, mode, r);
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
           " before, at most %" PRIu64 " (bound %s), %" PRIu64 " after%s\n",
           r->fds_base, r->during.fds_max, r->fds_after, r->sockets_base, r->during.sockets_max,
           b.sockets != 0 ? "attackers + 16 above" : "none: the reset attack",
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
static void print_row(hostile_mode mode, const result *r, client *c, const server *s) {
    uint64_t grown = r->rss_peak > r->rss_base ? r->rss_peak - r->rss_base : 0;
    uint64_t live = atomic_load(&s->live_max);
    live = live > r->during.live_max ? live : r->during.live_max;
    printf("row: | %s | %.1f MB | %" PRIu64 " | %d / %d / %d | %.0f / %.0f us | %.0f / %.0f us | "
           "%" PRIu64 " / %" PRIu64 " |\n",
           hostile_mode_names[mode], grown / MIB, live, r->fds_base, r->during.fds_max, r->fds_after,
           lat_percentile(&c->lat[PHASE_BEFORE], 50), lat_percentile(&c->lat[PHASE_BEFORE], 99),
           lat_percentile(&c->lat[PHASE_DURING], 50), lat_percentile(&c->lat[PHASE_DURING], 99),
           r->server_closed, c->lat[PHASE_DURING].n);
}

static int run_mode(const config *cfg, hostile_mode mode) {
    printf("mode %s: %u attackers for %.1f s (%s)\n", hostile_mode_names[mode], cfg->conns, cfg->seconds,
           hostile_mode_what[mode]);
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
        for (int m = 0; m < HM_COUNT; m++)
            cfg->modes[m] = true;
        return true;
    }
    char buf[256];
    snprintf(buf, sizeof buf, "%s", arg);
    for (char *save = NULL, *t = strtok_r(buf, ",", &save); t != NULL;
         t = strtok_r(NULL, ",", &save)) {
        int m = 0;
        while (m < HM_COUNT && strcmp(t, hostile_mode_names[m]) != 0)
            m++;
        if (m == HM_COUNT)
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
    for (int m = 0; m < HM_COUNT; m++)
        if (cfg.modes[m])
            modes++, last = m;
    if (modes == 1)
        return run_mode(&cfg, (hostile_mode)last);

    /* Several modes: each in a child process of its own (forked before any
     * thread exists here). */
    int bad = 0;
    for (int m = 0; m < HM_COUNT; m++) {
        if (!cfg.modes[m])
            continue;
        fflush(stdout);
        pid_t pid = fork();
        if (pid < 0)
            bench_die("fork", TOFU_ALLOCATION_FAILED);
        if (pid == 0) {
            int st = run_mode(&cfg, (hostile_mode)m);
            fflush(stdout);
            _exit(st);
        }
        int st = 0;
        if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
            bad = 1;
    }
    return bad;
}
