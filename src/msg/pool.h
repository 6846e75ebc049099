/*
 * The message pool (SPEC §7): a LIFO stack of reset messages shared by all
 * groups of an engine and its I/O thread, and a small cache of them in each
 * application thread that uses the engine (pool.c). Thread-safe.
 */
#ifndef TOFUI_POOL_H
#define TOFUI_POOL_H

#include <stdatomic.h>

#include "msg/msg.h"
#include "platform/platform.h"

/* A thread's cache of one engine's messages (pool.c). */
typedef struct tofui_mag tofui_mag;

typedef struct tofui_pool {
    tofui_mutex lock;
    tofu_msg **slots;       /* [max]: the stack, top at slots[count - 1] */
    size_t count;           /* messages in the stack */
    size_t unborn;          /* initial messages not created yet: made on first
                               need, counted as if in the stack */
    size_t max;             /* most messages the stack and the magazines keep together */
    size_t reserved;        /* room lent to magazines: at least the sum of their credits */
    uint64_t id;            /* unique in the process: names the pool in the threads' caches */
    tofui_mag *mags;        /* the threads' magazines (under the lock and the registry's) */
    tofui_mag *held;        /* the magazine whose flag the lock's holder has taken */
    atomic_bool closed;     /* after close: get fails, put frees (read by puts without the lock) */
    /* Someone starves: a POOL_ONLY get or the engine's get_many found no
     * message since the last refill (the refill alert), or a thread waits
     * in get_wait. Written under the lock; a thread's put reads them
     * without it and then gives its message to the stack, not its cache. */
    atomic_bool empty_handed_out;
    atomic_uint waiters;    /* threads in tofui_pool_get_wait */
    atomic_bool refilled;   /* a put refilled it since tofui_pool_take_refill */
    tofui_cond room;        /* a push happened, or the pool closed */
} tofui_pool;

/* A pool of `initial` messages, created on first need rather than at once
 * (an engine that never uses them costs nothing); `max` is raised to
 * `initial` if smaller; 0 for either takes the default (1024 / 1024). */
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

/* tofui_pool_get and tofui_pool_put for the application's threads: each
 * thread keeps up to TOFUI_MAG_CAP of the pool's messages in a cache of its
 * own (a magazine) and moves them to and from the shared stack
 * TOFUI_MAG_BATCH at a time, so that most calls take no lock shared with
 * other threads. The cache is part of the pool: an empty stack takes back
 * what the caches hold before anyone is told the pool is empty (POOL_ONLY
 * get, get_wait, the engine's get_many), a put goes to the stack while
 * anyone starves, a thread that ends gives its cache back, and close frees
 * every cache's messages. */
#define TOFUI_MAG_CAP 32u
#define TOFUI_MAG_BATCH 16u
tofu_msg *tofui_pool_get_cached(tofui_pool *p, tofu_alloc strategy, tofu_status *err);
bool tofui_pool_put_cached(tofui_pool *p, tofu_msg **m);

/* Messages in the pool's stack (not counting the threads' caches). */
size_t tofui_pool_count(tofui_pool *p);

#endif
