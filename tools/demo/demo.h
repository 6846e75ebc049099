/*
 * tofu-demo: one engine runs an echo server listening on TCP and on a
 * Unix-domain socket; client threads connect over each transport and do
 * request/response round trips through it; a summary shows messages,
 * errors, round-trip percentiles and throughput.
 *
 * demo.c (options, phases, summary), demo_server.c (the echo server
 * thread), demo_client.c (one client thread), demo_sys.c (threads and a
 * clock, which are not tofu's business).
 *
 * It uses only the public API, <tofu.h>, and builds against an installed
 * libtofu as well as in the source tree: copy it as a starting point.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef TOFU_DEMO_H
#define TOFU_DEMO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <tofu.h>

#if defined(_WIN32)
#include <windows.h>
#else
#include <pthread.h>
#endif

/* Longest wait for any answer: only turns a hang into an error. */
#define DEMO_WAIT_NS (30ull * TOFU_WAIT_SECOND)

/* ---- threads and a monotonic clock (demo_sys.c) ---- */

typedef struct demo_thread {
#if defined(_WIN32)
    HANDLE handle;
#else
    pthread_t id;
#endif
    void (*fn)(void *);
    void *arg;
} demo_thread;

/* Starts fn(arg) on a new thread; false when it cannot. */
bool demo_thread_start(demo_thread *t, void (*fn)(void *), void *arg);
void demo_thread_join(demo_thread *t);
/* Nanoseconds from an arbitrary origin, never going back. */
uint64_t demo_clock_ns(void);

/* ---- the echo server ---- */

typedef struct demo_server {
    tofu_engine *e;
    tofu_group *g;
    demo_thread thread;
    char tcp[TOFU_MAX_HOST_LEN + 16]; /* ~connect_to value of the TCP listener */
    char uds[TOFU_UDS_PATH_BUF + 8];  /* ... of the UDS listener, "" if none */
    char uds_note[96];                /* why there is no UDS listener */
} demo_server;

/* Listens on 127.0.0.1:0 and on a fresh socket file, then starts the echo
 * thread. */
tofu_status demo_server_start(demo_server *s, tofu_engine *e);
/* Stops the echo thread and destroys the server's group. */
void demo_server_stop(demo_server *s);

/* ---- one client ---- */

typedef struct demo_client {
    /* input */
    tofu_engine *e;
    const char *address; /* a ~connect_to value */
    uint32_t round_trips;
    size_t body_len;
    uint32_t seed;
    /* output */
    uint64_t *rtt_ns; /* round_trips entries; the first `done` are valid */
    uint32_t done;
    uint32_t errors;
    tofu_status first_error;
    demo_thread thread;
} demo_client;

/* The client thread's body: connect, round trips, graceful close. */
void demo_client_run(void *arg);

#endif
