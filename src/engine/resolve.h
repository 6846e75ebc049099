/*
 * Host-name resolution off the I/O thread (resolve.c): a thread of its own,
 * started on first use, looks names up and hands the answers back through
 * a list of its own, waking the I/O thread's poller.
 */
#ifndef TOFUI_RESOLVE_H
#define TOFUI_RESOLVE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "platform/platform.h"
#include "platform/poller.h"

/* Resolved addresses tried for one Hello/WelcomeRequest. */
#define TOFUI_MAX_ADDRS 16u

typedef struct tofui_resolve_req {
    struct tofui_resolve_req *next;
    tofu_address addr;
    bool passive;
    uint16_t num;    /* who asked: opaque to the resolver (a channel number... */
    uint64_t serial; /* ...and the serial that tells it from a later one) */
    tofu_status status;
    size_t n;
    tofui_sockaddr addrs[TOFUI_MAX_ADDRS];
} tofui_resolve_req;

typedef struct tofui_resolver {
    tofui_mutex lock;
    tofui_cond cond;
    tofui_resolve_req *head; /* to look up */
    tofui_resolve_req *tail;
    tofui_resolve_req *answers; /* looked up, for the I/O thread */
    tofui_resolve_req *answers_tail;
    atomic_bool answered; /* answers is not empty */
    tofui_poller *poller; /* woken with each answer */
    bool started;
    bool stop;
    tofui_thread thread;
} tofui_resolver;

void tofui_resolver_init(tofui_resolver *r, tofui_poller *p);
/* Stops and joins the resolver thread; frees the requests and answers
 * nobody took. */
void tofui_resolver_fini(tofui_resolver *r);
/* Queues a lookup (starting the thread on first use); the answer comes
 * back through tofui_resolver_take_answers after a wake-up. Errors:
 * TOFU_ALLOCATION_FAILED (no thread). */
tofu_status tofui_resolver_submit(tofui_resolver *r, tofui_resolve_req *q);
/* I/O thread: the answers so far, oldest first, linked through next; the
 * caller owns them. */
tofui_resolve_req *tofui_resolver_take_answers(tofui_resolver *r);

#endif
