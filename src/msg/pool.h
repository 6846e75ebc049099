/*
 * The message pool (SPEC §7): a LIFO stack of reset messages shared by all
 * groups of an engine and its I/O thread. Thread-safe.
 */
#ifndef TOFUI_POOL_H
#define TOFUI_POOL_H

#include <stdatomic.h>

#include "msg/msg.h"
#include "platform/platform.h"

typedef struct tofui_pool {
    tofui_mutex lock;
    tofu_msg **slots;       /* [max]: the stack, top at slots[count - 1] */
    size_t count;           /* messages in the stack */
    size_t max;             /* most messages kept */
    bool closed;            /* after close: get fails, put frees */
    bool empty_handed_out;  /* a POOL_ONLY get found it empty since the last refill */
    atomic_bool refilled;   /* a put refilled it since tofui_pool_take_refill */
    tofui_cond room;        /* a push happened, or the pool closed */
    unsigned waiters;       /* threads in tofui_pool_get_wait */
} tofui_pool;

/* Creates `initial` messages eagerly; `max` is raised to `initial` if
 * smaller; 0 for either takes the default (16 / 64). */
tofu_status tofui_pool_init(tofui_pool *p, uint16_t initial, uint16_t max);

/* Closes the pool, waits for the threads in tofui_pool_get_wait to leave
 * and frees every pooled message. Safe on zeroed memory only after a
 * successful init. */
void tofui_pool_fini(tofui_pool *p);

/* Marks the pool closed and frees its messages: later gets fail with
 * TOFU_NOT_ALLOWED, later puts free. */
void tofui_pool_close(tofui_pool *p);

/* Pops a reset message. POOL_ONLY: NULL (status TOFU_POOL_EMPTY) when empty;
 * ALWAYS: allocates when empty (NULL with TOFU_ALLOCATION_FAILED when that
 * fails). Closed pool: NULL with TOFU_NOT_ALLOWED. err may be NULL. */
tofu_msg *tofui_pool_get(tofui_pool *p, tofu_alloc strategy, tofu_status *err);

/* Pops a reset message, waiting for one until the monotonic clock reaches
 * deadline_ns (UINT64_MAX: no limit): TOFU_SUCCESS with *out, TOFU_SUCCESS
 * with *out NULL when the time is up, TOFU_SHUTDOWN_STARTED when the pool
 * closes. Woken by the puts that push. */
tofu_status tofui_pool_get_wait(tofui_pool *p, uint64_t deadline_ns, tofu_msg **out);

/* Pops up to `want` reset messages into out[] under one lock acquisition
 * and returns how many; 0 when the pool is empty (which raises the refill
 * alert like a failed POOL_ONLY get) or closed. */
size_t tofui_pool_get_many(tofui_pool *p, tofu_msg **out, size_t want);

/* Resets *m and pushes it (or frees it when the pool is full or closed); sets
 * *m to NULL; NULL is a no-op. Returns true when this put refilled a pool that
 * had been found empty by a POOL_ONLY get (the engine's "freed memory"
 * alert): the pool notes it for tofui_pool_take_refill, and a caller on
 * another thread than the one that takes the note wakes that thread. */
bool tofui_pool_put(tofui_pool *p, tofu_msg **m);

/* tofui_pool_put for v[0..n) under one lock acquisition: the I/O thread
 * returns the messages of a write together instead of contending with app
 * threads once per message. */
bool tofui_pool_put_many(tofui_pool *p, tofu_msg **v, size_t n);

/* True when a put refilled the pool since the last call; clears the note.
 * The engine's I/O thread resumes its stalled channels on it. */
bool tofui_pool_take_refill(tofui_pool *p);

/* The same note, left in place. */
bool tofui_pool_refill_noted(tofui_pool *p);

/* Messages currently in the pool. */
size_t tofui_pool_count(tofui_pool *p);

#endif
