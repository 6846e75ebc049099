/* Shared helpers of the comparison programs (compare_common.h). */
#include "compare_common.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

static int cmp__u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

const size_t cmp_lat_bodies[2] = {CMP_LAT_BODY, CMP_LAT_BODY_BIG};

void cmp_lat_report(const char *name, size_t body, uint64_t *t, uint64_t n) {
    qsort(t, n, sizeof *t, cmp__u64);
    printf("%-4s %3zu B  round trip: median %7.2f us  p99 %7.2f us  min %7.2f us  (%llu)\n", name,
           body, t[n / 2] / 1e3, t[(n * 99) / 100] / 1e3, t[0] / 1e3,
           (unsigned long long)n);
    fflush(stdout);
}

void cmp_thr_report(const char *name, size_t len, uint64_t n, uint64_t ns) {
    double s = (double)ns / 1e9;
    printf("%-4s %5zu B  %10.0f msgs/s  %8.1f MB/s  (%llu messages, %.2f s)\n", name, len,
           (double)n / s, (double)n * (double)len / s / 1e6, (unsigned long long)n, s);
    fflush(stdout);
}

/* The paths handed out, removed at exit (the libraries leave them). */
#define CMP__MAX_PATHS 16
static char cmp__paths[CMP__MAX_PATHS][108];
static unsigned cmp__n_paths;

static void cmp__unlink_paths(void) {
    for (unsigned i = 0; i < cmp__n_paths; i++)
        unlink(cmp__paths[i]);
}

void cmp_uds_path(char *buf, size_t cap, const char *tag) {
    if (cmp__n_paths == 0)
        atexit(cmp__unlink_paths);
    if (cmp__n_paths == CMP__MAX_PATHS)
        cmp_die(tag, "uds path", "too many paths");
    char *p = cmp__paths[cmp__n_paths];
    snprintf(p, sizeof cmp__paths[0], "/tmp/%s-bench-%ld-%u.sock", tag, (long)getpid(),
             cmp__n_paths);
    cmp__n_paths++;
    unlink(p);
    snprintf(buf, cap, "%s", p);
}

uint64_t cmp_thr_count(uint64_t n, size_t len) {
    return len >= 16384 ? (n + 7) / 8 : n;
}

_Noreturn void cmp_die(const char *lib, const char *what, const char *err) {
    fprintf(stderr, "compare_%s: %s: %s\n", lib, what, err);
    exit(1);
}

/* ---- command line ---- */

_Noreturn static void cmp__usage(const char *prog, unsigned allow) {
    fprintf(stderr, "usage: %s latency|throughput [count] [--procs 1|2]%s%s%s\n", prog,
            (allow & CMP_ALLOW_WRITER) ? " [--writer batch|each]" : "",
            (allow & CMP_ALLOW_DEFAULTS) ? " [--defaults]" : "",
            (allow & CMP_ALLOW_SELECT) ? " [--size BYTES] [--transport tcp|uds]" : "");
    exit(2);
}

void cmp_parse(int argc, char **argv, unsigned allow, uint64_t lat_def, uint64_t thr_def,
               cmp_opts *o) {
    memset(o, 0, sizeof *o);
    o->procs = 1;
    if (argc < 2)
        cmp__usage(argv[0], allow);
    o->latency = strcmp(argv[1], "latency") == 0;
    if (!o->latency && strcmp(argv[1], "throughput") != 0)
        cmp__usage(argv[0], allow);
    o->n = o->latency ? lat_def : thr_def;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--procs") == 0 && i + 1 < argc) {
            o->procs = atoi(argv[++i]);
            if (o->procs != 1 && o->procs != 2)
                cmp__usage(argv[0], allow);
        } else if (strcmp(a, "--writer") == 0 && i + 1 < argc && (allow & CMP_ALLOW_WRITER)) {
            const char *w = argv[++i];
            if (strcmp(w, "each") != 0 && strcmp(w, "batch") != 0)
                cmp__usage(argv[0], allow);
            o->writer_each = strcmp(w, "each") == 0;
        } else if (strcmp(a, "--defaults") == 0 && (allow & CMP_ALLOW_DEFAULTS)) {
            o->defaults = true;
        } else if (strcmp(a, "--size") == 0 && i + 1 < argc && (allow & CMP_ALLOW_SELECT)) {
            o->only_size = (size_t)strtoull(argv[++i], NULL, 10);
        } else if (strcmp(a, "--transport") == 0 && i + 1 < argc && (allow & CMP_ALLOW_SELECT)) {
            o->only_transport = argv[++i];
            if (strcmp(o->only_transport, "tcp") != 0 && strcmp(o->only_transport, "uds") != 0)
                cmp__usage(argv[0], allow);
        } else {
            char *end = NULL;
            unsigned long long n = strtoull(a, &end, 10);
            if (end == a || *end != '\0' || n == 0)
                cmp__usage(argv[0], allow);
            o->n = n;
        }
    }
}

/* ---- the server: a thread or a child process ---- */

typedef struct cmp__start {
    void (*fn)(void *);
    void *arg;
} cmp__start;

void cmp_server_start(cmp_server *s, int procs, void (*fn)(void *), void *arg) {
    s->procs = procs;
    if (procs == 1) {
        if (tofui_thread_create(&s->thread, fn, arg) != TOFU_SUCCESS)
            cmp_die("server", "thread", "create failed");
        return;
    }
    fflush(NULL); /* or the child would print what the parent buffered */
    pid_t pid = fork();
    if (pid < 0)
        cmp_die("server", "fork", strerror(errno));
    if (pid == 0) {
        fn(arg);
        fflush(NULL);
        _exit(0); /* not exit: the parent's atexit handlers are not ours */
    }
    s->pid = (long)pid;
}

void cmp_server_join(cmp_server *s, const char *lib) {
    if (s->procs == 1) {
        tofui_thread_join(&s->thread);
        return;
    }
    int status = 0;
    if (waitpid((pid_t)s->pid, &status, 0) < 0)
        cmp_die(lib, "waitpid", strerror(errno));
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        cmp_die(lib, "server process", "failed");
}

/* ---- the endpoint pipe ---- */

void cmp_pipe_open(cmp_pipe *p) {
    int fd[2];
    if (pipe(fd) != 0)
        cmp_die("server", "pipe", strerror(errno));
    p->rd = fd[0];
    p->wr = fd[1];
}

void cmp_pipe_send(cmp_pipe *p, const char *text) {
    size_t len = strlen(text) + 1; /* with the NUL: the end of the message */
    if (write(p->wr, text, len) != (ssize_t)len)
        cmp_die("server", "pipe write", strerror(errno));
}

void cmp_pipe_recv(cmp_pipe *p, char *buf, size_t cap) {
    size_t got = 0;
    while (got == 0 || buf[got - 1] != '\0') {
        if (got == cap)
            cmp_die("client", "pipe read", "endpoint too long");
        ssize_t r = read(p->rd, buf + got, 1); /* never past this message */
        if (r <= 0)
            cmp_die("client", "pipe read", r == 0 ? "server ended" : strerror(errno));
        got += (size_t)r;
    }
}

void cmp_pipe_close(cmp_pipe *p) {
    close(p->rd);
    close(p->wr);
}
