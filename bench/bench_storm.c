/*
 * Many channels at once against one server engine with the default options
 * (issue 14, goals 5 and 6; docs/benchmarks.md, "Connect storms and memory
 * per channel"). The server runs in a child process of its own, so that
 * each side has its own descriptor limit (raised to the hard limit) and
 * the server's memory is measured alone. Modes:
 *
 *   connect  one client engine posts N HelloRequests at once; the server's
 *            application answers each; reports the time until the last
 *            HelloResponse came and how many failed (and why)
 *   idle     N raw connections each send a HelloRequest, then nothing;
 *            reports the server's RSS growth per channel
 *   stall    N raw connections each send a HelloRequest and about 64 KiB of
 *            1 KiB Signals while the server's application takes nothing:
 *            the pool runs dry and every channel stalls; reports the
 *            server's RSS growth, then drains: every frame must arrive, in
 *            order per connection, with one pool_empty Signal per stall
 *
 *   bench_storm [--mode connect|idle|stall] [--conns N] [--transport tcp|uds|both]
 *               [--backlog B]      (the server's listen_backlog; default: the largest)
 *
 * POSIX only (fork, raw sockets).
 */
#include "bench_common.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

typedef enum storm_mode { SM_CONNECT, SM_IDLE, SM_STALL } storm_mode;

typedef struct storm_cfg {
    storm_mode mode;
    uint32_t conns;
    bool uds;
    uint32_t backlog; /* the server's listen_backlog (0: the default, the largest) */
} storm_cfg;

/* stall mode: each connection's Signals and their body. */
#define STORM_SIGNALS 64u
#define STORM_BODY 1000u

static double storm_ms(uint64_t from, uint64_t to) {
    return (double)(to - from) / 1e6;
}

static void storm_raise_nofile(void) {
    struct rlimit r;
    if (getrlimit(RLIMIT_NOFILE, &r) == 0 && r.rlim_cur < r.rlim_max) {
        r.rlim_cur = r.rlim_max;
        setrlimit(RLIMIT_NOFILE, &r);
    }
}

/* A line of /proc/self/status, in KiB; 0 when missing. */
static long storm_status_kb(const char *key) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long v = 0;
    size_t n = strlen(key);
    while (f != NULL && fgets(line, sizeof line, f) != NULL)
        if (strncmp(line, key, n) == 0 && line[n] == ':')
            v = strtol(line + n + 1, NULL, 10);
    if (f != NULL)
        fclose(f);
    return v;
}

static void storm_write_all(int fd, const void *p, size_t n) {
    if (write(fd, p, n) != (ssize_t)n)
        bench_die("pipe write", TOFU_COMMUNICATION_FAILED);
}

static void storm_read_all(int fd, void *p, size_t n) {
    unsigned char *b = p;
    while (n > 0) {
        ssize_t r = read(fd, b, n);
        if (r <= 0)
            bench_die("pipe read", TOFU_COMMUNICATION_FAILED);
        b += r;
        n -= (size_t)r;
    }
}

/* ------------------------------------------------------------------------ */
/* the server (child process)                                               */
/* ------------------------------------------------------------------------ */

typedef struct storm_server {
    tofu_engine *e;
    tofu_group *g;
    int to_parent, from_parent;
} storm_server;

static void storm_listen(storm_server *s, const storm_cfg *c, tofu_address *bound) {
    char path[TOFU_UDS_PATH_BUF];
    if (c->uds)
        snprintf(path, sizeof path, "/tmp/tofu-storm-%ld.sock", (long)getpid());
    bench_listen(s->e, s->g, c->uds ? path : NULL, bound);
}

/* connect mode: answers every HelloRequest until the parent says stop,
 * then tells it how many pool_empty Signals came. */
static void storm_serve_hellos(storm_server *s) {
    long pool_empty = 0;
    for (;;) {
        struct pollfd p = {s->from_parent, POLLIN, 0};
        if (poll(&p, 1, 0) > 0)
            break;
        tofu_msg *ms[64];
        size_t n = 0;
        if (tofu_receive_many(s->g, TOFU_WAIT_SECOND / 20, ms, 64, &n) != TOFU_SUCCESS)
            continue;
        for (size_t i = 0; i < n; i++) {
            tofu_msg *m = ms[i];
            if (!tofu_msg_from_engine(m) && tofu_msg_opcode(m) == TOFU_OP_HELLO_REQUEST) {
                tofu_msg_set_opcode(m, TOFU_OP_HELLO_RESPONSE);
                if (tofu_post(s->g, &m, NULL) == TOFU_SUCCESS)
                    continue;
            }
            pool_empty += tofu_msg_from_engine(m) && tofu_msg_status(m) == TOFU_POOL_EMPTY;
            tofu_put(s->e, &m);
        }
    }
    storm_write_all(s->to_parent, &pool_empty, sizeof pool_empty);
}

typedef struct storm_drain {
    uint64_t hellos, signals, pool_empty, out_of_order, other;
} storm_drain;

/* stall and idle: receives until every connection's frames came (or 10 s
 * of silence), checking that each connection's Signals come in order. */
static void storm_drain_all(storm_server *s, uint32_t conns, uint64_t expect, storm_drain *d) {
    uint32_t *next = calloc(65536, sizeof *next);
    if (next == NULL)
        bench_die("memory", TOFU_ALLOCATION_FAILED);
    memset(d, 0, sizeof *d);
    (void)conns;
    while (d->hellos + d->signals < expect) {
        tofu_msg *m = NULL;
        if (tofu_wait_receive(s->g, 10 * TOFU_WAIT_SECOND, &m) != TOFU_SUCCESS || m == NULL)
            break;
        if (tofu_msg_from_engine(m)) {
            if (tofu_msg_status(m) == TOFU_POOL_EMPTY)
                d->pool_empty++;
            else
                d->other++;
        } else if (tofu_msg_opcode(m) == TOFU_OP_HELLO_REQUEST) {
            d->hellos++;
        } else if (tofu_msg_opcode(m) == TOFU_OP_SIGNAL) {
            uint16_t ch = tofu_msg_channel(m);
            if (tofu_msg_id(m) != next[ch])
                d->out_of_order++;
            next[ch] = (uint32_t)tofu_msg_id(m) + 1;
            d->signals++;
        } else {
            d->other++;
        }
        tofu_put(s->e, &m);
    }
    free(next);
}

/* idle and stall: the RSS once the parent's connections are all in (and,
 * for stall, every channel stalled), then everything drained. */
static void storm_serve_memory(storm_server *s, const storm_cfg *c, long base_kb) {
    char go;
    storm_read_all(s->from_parent, &go, 1); /* every connection sent */
    uint64_t per = c->mode == SM_STALL ? 1 + STORM_SIGNALS : 1;
    uint64_t expect = (uint64_t)c->conns * per;
    storm_drain d;
    if (c->mode == SM_IDLE) { /* the Hellos first: then the channels are idle */
        storm_drain_all(s, c->conns, expect, &d);
        tofui_sleep_ms(200);
    } else {
        tofui_sleep_ms(1000); /* the engine reads what it can and stalls */
    }
    long rss = storm_status_kb("VmRSS"), hwm = storm_status_kb("VmHWM");
    if (c->mode == SM_STALL)
        storm_drain_all(s, c->conns, expect, &d);
    long out[8] = {base_kb, rss, hwm, (long)d.hellos, (long)d.signals, (long)d.pool_empty,
                   (long)d.out_of_order, (long)d.other};
    storm_write_all(s->to_parent, out, sizeof out);
    storm_read_all(s->from_parent, &go, 1); /* the parent closed its ends */
}

static _Noreturn void storm_server_main(const storm_cfg *c, int to_parent, int from_parent) {
    storm_server s = {NULL, NULL, to_parent, from_parent};
    storm_raise_nofile();
    tofu_options opt;
    tofu_options_init(&opt);
    opt.listen_backlog = c->backlog;
    bench_engine(&opt, "server engine", &s.e, &s.g);
    tofu_address bound;
    storm_listen(&s, c, &bound);
    long base_kb = storm_status_kb("VmRSS");
    storm_write_all(to_parent, &bound, sizeof bound);
    if (c->mode == SM_CONNECT)
        storm_serve_hellos(&s);
    else
        storm_serve_memory(&s, c, base_kb);
    tofu_group_destroy(s.e, s.g);
    tofu_engine_destroy(s.e);
    if (bound.transport == TOFU_TRANSPORT_UDS)
        unlink(bound.path);
    _exit(0);
}

/* ------------------------------------------------------------------------ */
/* the clients (parent process)                                             */
/* ------------------------------------------------------------------------ */

typedef struct storm_result {
    double ms, posted_ms; /* the last answer; the last post */
    uint32_t ok, failed;
    tofu_status first_failure;
} storm_result;

/* One engine posts every HelloRequest at once and waits for the answers. */
static void storm_connect(const storm_cfg *c, const tofu_address *a, storm_result *r) {
    tofu_engine *e = NULL;
    tofu_group *g = NULL;
    bench_engine(NULL, "client engine", &e, &g);
    tofu_status st = TOFU_SUCCESS;
    memset(r, 0, sizeof *r);
    uint64_t t0 = tofui_clock_ns();
    for (uint32_t i = 0; i < c->conns; i++) {
        tofu_msg *m = tofu_get(e, TOFU_ALWAYS);
        if (m == NULL || (st = tofu_msg_connect(m, a)) != TOFU_SUCCESS)
            bench_die("hello", st);
        bench_post(g, &m);
    }
    r->posted_ms = storm_ms(t0, tofui_clock_ns());
    while (r->ok + r->failed < c->conns) {
        tofu_msg *ms[64];
        size_t n = 0;
        st = tofu_receive_many(g, 30 * TOFU_WAIT_SECOND, ms, 64, &n);
        if (st != TOFU_SUCCESS || n == 0)
            bench_die("no answer within 30 s", st);
        for (size_t i = 0; i < n; i++) {
            tofu_msg *m = ms[i];
            if (tofu_msg_opcode(m) == TOFU_OP_HELLO_RESPONSE) {
                if (tofu_msg_status(m) == TOFU_SUCCESS)
                    r->ok++;
                else if (r->failed++ == 0)
                    r->first_failure = tofu_msg_status(m);
            }
            tofu_put(e, &m);
        }
    }
    r->ms = storm_ms(t0, tofui_clock_ns());
    tofu_group_destroy(e, g);
    tofu_engine_destroy(e);
}

static void storm_put_be(unsigned char *p, uint64_t v, int n) {
    for (int i = n - 1; i >= 0; i--, v >>= 8)
        p[i] = (unsigned char)v;
}

static size_t storm_frame(unsigned char *p, uint8_t op, uint64_t id, const char *th, size_t bl) {
    size_t thl = strlen(th);
    storm_put_be(p, 1, 2);
    p[2] = op;
    p[3] = 0;
    storm_put_be(p + 4, id, 8);
    storm_put_be(p + 12, thl, 2);
    storm_put_be(p + 14, bl, 2);
    memcpy(p + 16, th, thl);
    memset(p + 16 + thl, 0x5a, bl);
    return 16 + thl + bl;
}

/* A HelloRequest, and in stall mode Signals 0..STORM_SIGNALS-1. */
static size_t storm_script(const storm_cfg *c, unsigned char *p) {
    size_t n = storm_frame(p, TOFU_OP_HELLO_REQUEST, 777, "~connect_to:storm\r\n", 0);
    for (uint32_t i = 0; c->mode == SM_STALL && i < STORM_SIGNALS; i++)
        n += storm_frame(p + n, TOFU_OP_SIGNAL, i, "", STORM_BODY);
    return n;
}

static int storm_raw_connect(const tofu_address *a) {
    int fd = socket(a->transport == TOFU_TRANSPORT_UDS ? AF_UNIX : AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        bench_die("socket", TOFU_ALLOCATION_FAILED);
    int rc;
    if (a->transport == TOFU_TRANSPORT_UDS) {
        struct sockaddr_un un;
        memset(&un, 0, sizeof un);
        un.sun_family = AF_UNIX;
        snprintf(un.sun_path, sizeof un.sun_path, "%s", a->path);
        rc = connect(fd, (struct sockaddr *)&un, sizeof un);
    } else {
        struct sockaddr_in in;
        memset(&in, 0, sizeof in);
        in.sin_family = AF_INET;
        in.sin_port = htons(a->port);
        in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        rc = connect(fd, (struct sockaddr *)&in, sizeof in);
    }
    if (rc != 0)
        bench_die("raw connect", TOFU_CONNECT_FAILED);
    return fd;
}

/* Raw connections that each send their script (blocking connects: the
 * server accepts meanwhile); they stay open until the server has drained. */
static int *storm_raw_clients(const storm_cfg *c, const tofu_address *a) {
    static unsigned char script[(16 + 32) + STORM_SIGNALS * (16 + STORM_BODY)];
    size_t len = storm_script(c, script);
    int *fds = malloc(c->conns * sizeof *fds);
    if (fds == NULL)
        bench_die("memory", TOFU_ALLOCATION_FAILED);
    for (uint32_t i = 0; i < c->conns; i++) {
        fds[i] = storm_raw_connect(a);
        if (send(fds[i], script, len, MSG_NOSIGNAL) != (ssize_t)len)
            bench_die("raw send (socket buffer too small?)", TOFU_SEND_FAILED);
    }
    return fds;
}

static void storm_run(const storm_cfg *c) {
    int up[2], down[2];
    if (pipe(up) != 0 || pipe(down) != 0)
        bench_die("pipe", TOFU_ALLOCATION_FAILED);
    pid_t pid = fork();
    if (pid < 0)
        bench_die("fork", TOFU_ALLOCATION_FAILED);
    if (pid == 0) {
        close(up[0]);
        close(down[1]);
        storm_server_main(c, up[1], down[0]);
    }
    close(up[1]);
    close(down[0]);
    tofu_address a;
    storm_read_all(up[0], &a, sizeof a);
    const char *tr = c->uds ? "uds" : "tcp";
    if (c->mode == SM_CONNECT) {
        storm_result r;
        storm_connect(c, &a, &r);
        printf("connect %s conns=%u backlog=%u ms=%.1f posted_ms=%.1f ok=%u failed=%u%s%s\n", tr,
               c->conns, c->backlog, r.ms, r.posted_ms, r.ok,
               r.failed, r.failed ? " first_failure=" : "",
               r.failed ? tofu_status_name(r.first_failure) : "");
        storm_write_all(down[1], "x", 1);
        long pool_empty = 0;
        storm_read_all(up[0], &pool_empty, sizeof pool_empty);
        printf("  server pool_empty Signals: %ld\n", pool_empty);
    } else {
        int *fds = storm_raw_clients(c, &a);
        storm_write_all(down[1], "x", 1);
        long out[8];
        storm_read_all(up[0], out, sizeof out);
        for (uint32_t i = 0; i < c->conns; i++)
            close(fds[i]);
        free(fds);
        storm_write_all(down[1], "x", 1);
        long grow = out[2] - out[0];
        printf("%s %s conns=%u rss_base_kb=%ld rss_kb=%ld hwm_growth_kb=%ld bytes_per_channel=%ld "
               "hellos=%ld signals=%ld pool_empty=%ld out_of_order=%ld other=%ld\n",
               c->mode == SM_IDLE ? "idle" : "stall", tr, c->conns, out[0], out[1], grow,
               grow * 1024 / (long)c->conns, out[3], out[4], out[5], out[6], out[7]);
    }
    fflush(stdout);
    int status = 0;
    waitpid(pid, &status, 0);
    close(up[0]);
    close(down[1]);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        bench_die("server process", TOFU_UNKNOWN_ERROR);
}

int main(int argc, char **argv) {
    storm_cfg c = {SM_CONNECT, 10000, false, 0};
    int transports = 3; /* bit 0 tcp, bit 1 uds */
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--conns") == 0)
            c.conns = (uint32_t)strtoul(argv[i + 1], NULL, 10);
        else if (strcmp(argv[i], "--mode") == 0)
            c.mode = strcmp(argv[i + 1], "idle") == 0    ? SM_IDLE
                     : strcmp(argv[i + 1], "stall") == 0 ? SM_STALL
                                                         : SM_CONNECT;
        else if (strcmp(argv[i], "--backlog") == 0)
            c.backlog = (uint32_t)strtoul(argv[i + 1], NULL, 10);
        else if (strcmp(argv[i], "--transport") == 0)
            transports = strcmp(argv[i + 1], "tcp") == 0 ? 1 : strcmp(argv[i + 1], "uds") == 0 ? 2 : 3;
    }
    if (c.conns == 0 || c.conns > 60000) {
        fprintf(stderr, "usage: %s [--mode connect|idle|stall] [--conns N] "
                        "[--transport tcp|uds|both] [--backlog B]\n", argv[0]);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    storm_raise_nofile();
    for (int t = 0; t < 2; t++) {
        if (!(transports & (1 << t)))
            continue;
        c.uds = t == 1;
        storm_run(&c);
    }
    return 0;
}
