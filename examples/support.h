/*
 * What the examples share and that is not about tofu: a thread (POSIX or
 * Windows), a sleep, a way to give up, and a ready-made echo server for the
 * examples that are about the client side. Every example is a complete
 * program: the tofu part is in its own file.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef TOFU_EXAMPLE_SUPPORT_H
#define TOFU_EXAMPLE_SUPPORT_H

#include <stdbool.h>
#include <stddef.h>

#include "tofu.h"

#if defined(_WIN32)
#include <windows.h>
#else
#include <pthread.h>
#endif

/* ---- threads ---- */

typedef struct ex_thread {
#if defined(_WIN32)
    HANDLE handle;
#else
    pthread_t id;
#endif
    void (*fn)(void *);
    void *arg;
} ex_thread;

/* Starts fn(arg) on a new thread; exits the program if it cannot. */
void ex_thread_start(ex_thread *t, void (*fn)(void *), void *arg);
void ex_thread_join(ex_thread *t);
void ex_sleep_ms(unsigned ms);

/* ---- giving up ---- */

/* Prints "example: <what>: <status name>" and exits with 1. */
_Noreturn void ex_fail(const char *what, tofu_status st);

/* ex_fail unless st is TOFU_SUCCESS. */
void ex_check(tofu_status st, const char *what);

/* Waits up to 10 s for the next message of g: a long wait means a bug, and
 * an example must end rather than hang. */
tofu_msg *ex_wait(tofu_group *g);

/* ---- a listener ---- */

/* Posts a WelcomeRequest for `address` (e.g. "tcp|127.0.0.1|0") and waits
 * for its WelcomeResponse. Returns the listener's channel and writes the
 * address actually bound (with the real port) into bound, which a client
 * can use as its ~connect_to. */
uint16_t ex_listen(tofu_engine *e, tofu_group *g, const char *address, char *bound,
                   size_t cap);

/* ---- an echo server on its own engine and thread ---- */

typedef struct ex_echo {
    tofu_engine *e;
    tofu_group *g;
    ex_thread thread;
    char address[300]; /* where to connect */
} ex_echo;

/* Listens on 127.0.0.1 (a free port) and answers every HelloRequest,
 * Request and ByeRequest with its reply, and every Signal with itself. */
void ex_echo_start(ex_echo *s);
void ex_echo_stop(ex_echo *s);

/* ---- a client for the server examples ---- */

/* On its own engine and thread: connects to address, sends one Request
 * "ping", expects "ping" back, closes gracefully. */
typedef struct ex_client {
    char address[300];
    bool ok;
    ex_thread thread;
} ex_client;

void ex_client_start(ex_client *c, const char *address);
/* Waits for the client to finish; true when everything went as expected. */
bool ex_client_finish(ex_client *c);

#endif
