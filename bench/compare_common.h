/*
 * Shared helpers of the side-by-side comparison programs (compare_raw.c,
 * compare_tofu.c, compare_zmq.c, compare_nng.c). They measure what
 * bench_latency.c and bench_throughput.c measure, with the same constants
 * and the same output lines, so that compare.sh can put the figures in one
 * table. POSIX only (fork, pipes).
 */
#ifndef TOFU_COMPARE_COMMON_H
#define TOFU_COMPARE_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include "bench_common.h"

/* The same parameters as bench_latency.c and bench_throughput.c. */
#define CMP_LAT_BODY 64
#define CMP_LAT_BODY_BIG 1024 /* raw, libtofu, ZeroMQ: round trips of 1 KiB too */
#define CMP_LAT_WARMUP 1000
#define CMP_ACK 256u
#define CMP_WINDOW 4096u
#define CMP_MAX_BODY 16384u

/* Sorts the n round-trip times t (of `body`-byte messages) and prints the
 * bench_latency line. */
void cmp_lat_report(const char *name, size_t body, uint64_t *t, uint64_t n);

/* The body sizes of the round trips: 64 B and 1 KiB. */
extern const size_t cmp_lat_bodies[2];

/* Prints the bench_throughput line for n messages of len bytes in ns. */
void cmp_thr_report(const char *name, size_t len, uint64_t n, uint64_t ns);

/* A fresh Unix-domain socket path under /tmp (tag names the library). */
void cmp_uds_path(char *buf, size_t cap, const char *tag);

/* Message count for a body size, as bench_throughput.c chooses it. */
uint64_t cmp_thr_count(uint64_t n, size_t len);

_Noreturn void cmp_die(const char *lib, const char *what, const char *err);

/* The command line every comparison program takes:
 *     PROG latency|throughput [count] [--procs 1|2] [--writer batch|each]
 *          [--defaults]
 * --procs 2 runs the server in a child process (fork) instead of a thread
 * of the same process; --writer is compare_raw's, --defaults
 * compare_tofu's (a program that has no use for one refuses it). */
typedef struct cmp_opts {
    bool latency; /* else throughput */
    uint64_t n;
    int procs;           /* 1: server thread; 2: server process */
    bool writer_each;    /* compare_raw: one write per message */
    bool defaults;       /* compare_tofu: default engine options */
    size_t only_size;    /* compare_tofu --size: this body size only (0: all) */
    const char *only_transport; /* compare_tofu --transport tcp|uds (NULL: both) */
} cmp_opts;

/* Which of the optional flags the program accepts. */
#define CMP_ALLOW_WRITER 1u
#define CMP_ALLOW_DEFAULTS 2u
#define CMP_ALLOW_SELECT 4u /* --size and --transport (bench/instructions.sh) */

/* Parses the command line; prints the usage and exits 2 when it is wrong.
 * lat_def / thr_def are the default counts. */
void cmp_parse(int argc, char **argv, unsigned allow, uint64_t lat_def, uint64_t thr_def,
               cmp_opts *o);

/* Starts the server: fn(arg) on a new thread (procs 1) or in a forked child
 * process that exits when fn returns (procs 2; a child that fails exits
 * non-zero). With procs 2, fork before the library has started threads of
 * its own in this process (a child gets only the forking thread). */
typedef struct cmp_server {
    int procs;
    tofui_thread thread;
    long pid;
} cmp_server;
void cmp_server_start(cmp_server *s, int procs, void (*fn)(void *), void *arg);

/* Waits for the server to end; exits the program when the child failed. */
void cmp_server_join(cmp_server *s, const char *lib);

/* A pipe for the child to tell the parent its endpoint: one line of text. */
typedef struct cmp_pipe {
    int rd, wr;
} cmp_pipe;
void cmp_pipe_open(cmp_pipe *p);
void cmp_pipe_send(cmp_pipe *p, const char *text); /* server side */
void cmp_pipe_recv(cmp_pipe *p, char *buf, size_t cap); /* client side */
void cmp_pipe_close(cmp_pipe *p);

#endif
