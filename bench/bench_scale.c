/*
 * Scale (issue 14, goal 7): does a server engine slow down, or cost more CPU
 * per message, as it holds more idle channels? And what does an idle
 * channel cost in memory?
 *
 * For each N: a server process (forked; one engine with the default
 * options, one echo thread answering HelloRequests and Requests) and this
 * process as the client, with plain blocking sockets speaking the tofu
 * framing: N idle channels (connect, HelloRequest, HelloResponse, then
 * nothing) and one active channel doing 64 B Request/Response round trips.
 * Separate processes so that each holds only its own ends (descriptors) and
 * the server's RSS is the server's alone.
 *
 * Reported per N: the active channel's round trip (median, p99), the
 * server's CPU time (user + system, getrusage) per round trip, the server's
 * RSS once the N idle channels are up (VmRSS), and the bytes per idle
 * channel, (RSS with N - RSS with 1) / (N - 1). RSS does not include the
 * kernel's socket memory.
 *
 * RLIMIT_NOFILE is raised to its hard limit; a size that needs more
 * descriptors than that (N + 64 in each process), or more channels than an
 * engine can number (65534), is skipped and the reason printed.
 *
 *     bench_scale [--sizes 1,1000,10000,100000] [--rt 20000] [--transport tcp|uds|both]
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_common.h"
#include "posix_io.h"

#define SC_HDR 16u
#define SC_BODY 64u
#define SC_WARMUP 1000
#define SC_CHUNK 256u    /* connects in flight before their Hellos are answered */
#define SC_FD_SPARE 64u  /* descriptors each process needs besides the channels */
#define SC_MAX_CHANNELS 65534u
#define SC_MAX_SIZES 16

_Noreturn static void sc__die(const char *what) {
    fprintf(stderr, "bench_scale: %s: %s\n", what, strerror(errno));
    exit(1);
}

/* ---- framing (SPEC §1.2; bench_put_be / bench_get_be) ---- */

static void sc__header(unsigned char *p, unsigned op, uint64_t id, size_t thl, size_t bl) {
    bench_put_be(p, 1, 2);
    p[2] = (unsigned char)op;
    p[3] = 0;
    bench_put_be(p + 4, id, 8);
    bench_put_be(p + 12, thl, 2);
    bench_put_be(p + 14, bl, 2);
}

static void sc__write_all(int fd, const void *p, size_t len) {
    if (!bench_write_all(fd, p, len))
        sc__die("write");
}

static void sc__read_all(int fd, void *p, size_t len) {
    if (!bench_read_all(fd, p, len))
        sc__die("read");
}

/* Reads one frame; returns its opcode and id. */
static unsigned sc__read_frame(int fd, uint64_t *id) {
    unsigned char h[SC_HDR], rest[2 * 65535];
    sc__read_all(fd, h, SC_HDR);
    size_t more = (size_t)bench_get_be(h + 12, 2) + (size_t)bench_get_be(h + 14, 2);
    sc__read_all(fd, rest, more);
    *id = bench_get_be(h + 4, 8);
    return h[2] & 0x0Fu;
}

/* ---- the server process ---- */

typedef struct sc_server {
    bool uds;
    char path[108];
    int cmd_rd, res_wr; /* commands in, results out */
    tofu_engine *e;
    tofu_group *g;
} sc_server;

typedef struct sc_result {
    long rss_kb;
    double cpu_s; /* since the last 'S' command */
} sc_result;

/* Answers HelloRequests and Requests; puts back everything else (the
 * engine's Signals: channels that close, pool_empty). Ends on
 * receiver_update. */
static void sc__echo(void *arg) {
    sc_server *s = arg;
    for (;;) {
        tofu_msg *m = NULL;
        tofu_status st = tofu_wait_receive(s->g, TOFU_WAIT_INFINITE, &m);
        if (st != TOFU_SUCCESS)
            bench_die("wait_receive", st);
        if (m == NULL)
            continue;
        if (tofu_msg_status(m) == TOFU_RECEIVER_UPDATE) {
            tofu_put(s->e, &m);
            return;
        }
        tofu_opcode op = tofu_msg_opcode(m), reply;
        if (!tofu_msg_from_engine(m) && op == TOFU_OP_REQUEST) {
            tofu_msg_set_opcode(m, TOFU_OP_RESPONSE);
            bench_post(s->g, &m);
        } else if (!tofu_msg_from_engine(m) && op == TOFU_OP_HELLO_REQUEST &&
                   tofu_op_echo(op, &reply) == TOFU_SUCCESS) {
            tofu_msg_set_opcode(m, reply);
            bench_post(s->g, &m);
        } else {
            tofu_put(s->e, &m);
        }
    }
}

static long sc__rss_kb(void) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;
    while (f != NULL && fgets(line, sizeof line, f) != NULL)
        if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
            break;
    if (f != NULL)
        fclose(f);
    return kb;
}

static double sc__cpu_s(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

/* Listens (the address goes to the client as "port" or "path"), echoes on
 * a thread, and answers the client's commands: 'R' the RSS, 'S' start the
 * CPU clock, 'E' the RSS and the CPU time since 'S', 'Q' quit. */
static void sc__server_main(sc_server *s, int addr_wr) {
    tofu_options opt;
    tofu_options_init(&opt); /* the defaults: what an idle channel costs */
    bench_engine(&opt, "engine", &s->e, &s->g);
    tofu_address a;
    bench_listen(s->e, s->g, s->uds ? s->path : NULL, &a);
    uint32_t port = s->uds ? 0 : a.port;
    if (write(addr_wr, &port, sizeof port) != (ssize_t)sizeof port)
        sc__die("address pipe");
    tofui_thread echo;
    if (tofui_thread_create(&echo, sc__echo, s) != TOFU_SUCCESS)
        bench_die("thread", TOFU_ALLOCATION_FAILED);
    double cpu0 = sc__cpu_s();
    char c;
    while (read(s->cmd_rd, &c, 1) == 1 && c != 'Q') {
        sc_result r = {sc__rss_kb(), 0};
        if (c == 'S')
            cpu0 = sc__cpu_s();
        if (c == 'E')
            r.cpu_s = sc__cpu_s() - cpu0;
        if (c != 'S' && write(s->res_wr, &r, sizeof r) != (ssize_t)sizeof r)
            sc__die("result pipe");
    }
    tofu_update_receiver(s->g, NULL);
    tofui_thread_join(&echo);
    tofu_group_destroy(s->e, s->g);
    tofu_engine_destroy(s->e);
}

/* ---- the client (this process) ---- */

typedef struct sc_client {
    bool uds;
    struct sockaddr_storage to;
    socklen_t to_len;
    unsigned char hello[SC_HDR + 128];
    size_t hello_len;
    int cmd_wr, res_rd;
} sc_client;

static int sc__connect(sc_client *c) {
    int fd = socket(c->uds ? AF_UNIX : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        sc__die("socket");
    if (connect(fd, (struct sockaddr *)&c->to, c->to_len) != 0)
        sc__die("connect");
    int one = 1;
    if (!c->uds)
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

/* Opens n channels, SC_CHUNK at a time: connect, HelloRequest, then the
 * HelloResponses of the chunk. */
static void sc__open_channels(sc_client *c, int *fds, uint32_t n) {
    for (uint32_t i = 0; i < n; i += SC_CHUNK) {
        uint32_t end = i + SC_CHUNK < n ? i + SC_CHUNK : n;
        for (uint32_t j = i; j < end; j++) {
            fds[j] = sc__connect(c);
            sc__write_all(fds[j], c->hello, c->hello_len);
        }
        for (uint32_t j = i; j < end; j++) {
            uint64_t id;
            if (sc__read_frame(fds[j], &id) != TOFU_OP_HELLO_RESPONSE)
                sc__die("expected a HelloResponse");
        }
    }
}

static sc_result sc__command(sc_client *c, char cmd) {
    sc_result r = {0, 0};
    if (write(c->cmd_wr, &cmd, 1) != 1)
        sc__die("command pipe");
    if (cmd != 'S' && cmd != 'Q' && read(c->res_rd, &r, sizeof r) != (ssize_t)sizeof r)
        sc__die("result pipe");
    return r;
}

static uint64_t sc__round_trip(int fd, uint64_t id) {
    unsigned char f[SC_HDR + SC_BODY] = {0};
    sc__header(f, TOFU_OP_REQUEST, id, 0, SC_BODY);
    uint64_t t0 = tofui_clock_ns();
    sc__write_all(fd, f, sizeof f);
    uint64_t got;
    unsigned op = sc__read_frame(fd, &got);
    uint64_t t1 = tofui_clock_ns();
    if (op != TOFU_OP_RESPONSE || got != id)
        sc__die("expected the Response");
    return t1 - t0;
}

static int sc__cmp(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

typedef struct sc_row {
    uint32_t n;
    long rss_kb;
    double p50_us, p99_us, cpu_us_per_rt;
} sc_row;

/* One size: a fresh server process, n idle channels, rt round trips. */
static sc_row sc__run(bool uds, uint32_t n, uint64_t rt) {
    int cmd[2], res[2], addr[2];
    if (pipe(cmd) != 0 || pipe(res) != 0 || pipe(addr) != 0)
        sc__die("pipe");
    sc_server s = {.uds = uds, .cmd_rd = cmd[0], .res_wr = res[1]};
    if (uds)
        snprintf(s.path, sizeof s.path, "/tmp/tofu-scale-%ld.sock", (long)getpid());
    unlink(s.path);
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        sc__die("fork");
    if (pid == 0) {
        sc__server_main(&s, addr[1]);
        _exit(0);
    }
    sc_client c = {.uds = uds, .cmd_wr = cmd[1], .res_rd = res[0]};
    uint32_t port;
    if (read(addr[0], &port, sizeof port) != (ssize_t)sizeof port)
        sc__die("address pipe");
    char th[160];
    int thl;
    if (uds) {
        struct sockaddr_un *un = (struct sockaddr_un *)&c.to;
        un->sun_family = AF_UNIX;
        snprintf(un->sun_path, sizeof un->sun_path, "%s", s.path);
        c.to_len = sizeof *un;
        thl = snprintf(th, sizeof th, "%s:uds|%s\r\n", TOFU_HDR_CONNECT_TO, s.path);
    } else {
        struct sockaddr_in *in = (struct sockaddr_in *)&c.to;
        in->sin_family = AF_INET;
        in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        in->sin_port = htons((uint16_t)port);
        c.to_len = sizeof *in;
        thl = snprintf(th, sizeof th, "%s:tcp|127.0.0.1|%u\r\n", TOFU_HDR_CONNECT_TO, port);
    }
    sc__header(c.hello, TOFU_OP_HELLO_REQUEST, 1, (size_t)thl, 0);
    memcpy(c.hello + SC_HDR, th, (size_t)thl);
    c.hello_len = SC_HDR + (size_t)thl;

    int *fds = malloc((n + 1) * sizeof *fds);
    uint64_t *t = malloc(rt * sizeof *t);
    if (fds == NULL || t == NULL)
        sc__die("memory");
    sc__open_channels(&c, fds, n); /* the idle ones */
    sc_row row = {.n = n};
    row.rss_kb = sc__command(&c, 'R').rss_kb;
    int active;
    sc__open_channels(&c, &active, 1);
    uint64_t id = 1;
    for (int i = 0; i < SC_WARMUP; i++)
        sc__round_trip(active, id++);
    sc__command(&c, 'S');
    for (uint64_t i = 0; i < rt; i++)
        t[i] = sc__round_trip(active, id++);
    sc_result r = sc__command(&c, 'E');
    qsort(t, rt, sizeof *t, sc__cmp);
    row.p50_us = (double)t[rt / 2] / 1e3;
    row.p99_us = (double)t[(rt * 99) / 100] / 1e3;
    row.cpu_us_per_rt = r.cpu_s * 1e6 / (double)rt;
    close(active);
    for (uint32_t i = 0; i < n; i++)
        close(fds[i]);
    sc__command(&c, 'Q');
    int status;
    if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
        sc__die("server process");
    if (uds)
        unlink(s.path);
    free(fds);
    free(t);
    close(cmd[0]);
    close(cmd[1]);
    close(res[0]);
    close(res[1]);
    close(addr[0]);
    close(addr[1]);
    return row;
}

/* Raises the descriptor limit as far as allowed; returns it. */
static uint64_t sc__raise_nofile(void) {
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        sc__die("getrlimit");
    rl.rlim_cur = rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
        sc__die("setrlimit");
    return (uint64_t)rl.rlim_cur;
}

static void sc__transport(bool uds, const uint32_t *sizes, int n_sizes, uint64_t rt,
                          uint64_t nofile) {
    const char *name = uds ? "uds" : "tcp";
    sc_row base = {0};
    printf("\n%s: %llu round trips of 64 B on the active channel per size\n", name,
           (unsigned long long)rt);
    printf("| idle channels | round trip p50 us | p99 us | server CPU us / round trip | "
           "server RSS MB | bytes / idle channel |\n");
    printf("|---:|---:|---:|---:|---:|---:|\n");
    fflush(stdout);
    for (int i = 0; i < n_sizes; i++) {
        uint32_t n = sizes[i];
        if ((uint64_t)n + SC_FD_SPARE > nofile) {
            printf("| %u | skipped: needs %u descriptors per process, the hard limit is %llu |"
                   " | | | |\n",
                   n, n + SC_FD_SPARE, (unsigned long long)nofile);
            continue;
        }
        if (n > SC_MAX_CHANNELS - 2) {
            printf("| %u | skipped: an engine numbers at most %u channels | | | | |\n", n,
                   SC_MAX_CHANNELS);
            continue;
        }
        sc_row r = sc__run(uds, n, rt);
        if (base.n == 0)
            base = r;
        char per[32] = "-";
        if (r.n > base.n)
            snprintf(per, sizeof per, "%.0f",
                     (double)(r.rss_kb - base.rss_kb) * 1024.0 / (double)(r.n - base.n));
        printf("| %u | %.1f | %.1f | %.1f | %.1f | %s |\n", n, r.p50_us, r.p99_us,
               r.cpu_us_per_rt, (double)r.rss_kb / 1024.0, per);
        fflush(stdout);
    }
}

static int sc__parse_sizes(const char *s, uint32_t *out) {
    int n = 0;
    while (*s != '\0' && n < SC_MAX_SIZES) {
        char *end;
        unsigned long v = strtoul(s, &end, 10);
        if (end == s || v == 0 || v > 1000000)
            return -1;
        out[n++] = (uint32_t)v;
        s = *end == ',' ? end + 1 : end;
        if (*end != ',' && *end != '\0')
            return -1;
    }
    return n;
}

int main(int argc, char **argv) {
    uint32_t sizes[SC_MAX_SIZES] = {1, 1000, 10000, 100000};
    int n_sizes = 4;
    uint64_t rt = 20000;
    bool tcp = true, uds = true;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--sizes") == 0 && i + 1 < argc) {
            n_sizes = sc__parse_sizes(argv[++i], sizes);
            if (n_sizes <= 0)
                goto usage;
        } else if (strcmp(argv[i], "--rt") == 0 && i + 1 < argc) {
            rt = strtoull(argv[++i], NULL, 10);
            if (rt == 0)
                goto usage;
        } else if (strcmp(argv[i], "--transport") == 0 && i + 1 < argc) {
            const char *t = argv[++i];
            tcp = strcmp(t, "tcp") == 0 || strcmp(t, "both") == 0;
            uds = strcmp(t, "uds") == 0 || strcmp(t, "both") == 0;
            if (!tcp && !uds)
                goto usage;
        } else {
            goto usage;
        }
    }
    uint64_t nofile = sc__raise_nofile();
    printf("descriptor limit (raised to the hard limit): %llu\n", (unsigned long long)nofile);
    if (tcp)
        sc__transport(false, sizes, n_sizes, rt, nofile);
    if (uds && tofui_sock_uds_available())
        sc__transport(true, sizes, n_sizes, rt, nofile);
    return 0;
usage:
    fprintf(stderr,
            "usage: %s [--sizes 1,1000,10000,100000] [--rt 20000] [--transport tcp|uds|both]\n",
            argv[0]);
    return 2;
}
