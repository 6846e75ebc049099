/*
 * The engine (engine.c): lifecycle, the reactor loop of its I/O thread, and
 * the dispatch of what the loop takes from the submission queue and the
 * resolver.
 *
 * Threads and ownership:
 *   - The holder of the I/O token (io) owns the channel module's state
 *     (chans: every channel record, the per-number index, the
 *     ready/stalled/dead lists, the buffers, the deadlines). The I/O
 *     thread holds it except while it waits in the poller; meanwhile a
 *     tofu_post may take it to write its message itself (engine.c, express
 *     posts). Only the I/O thread frees channel records, makes sockets and
 *     runs commands.
 *   - App threads and the I/O thread share: the submission queue (its lock,
 *     which also orders the group list), the channel table (its own lock),
 *     the pool (its own lock), each group's receive queue (the group's
 *     lock), the resolver's queues (its lock) and a few atomics.
 * A message moves between threads only through one of those locked queues.
 */
#ifndef TOFUI_ENGINE_H
#define TOFUI_ENGINE_H

#include <stdatomic.h>
#include <stdint.h>

#include "engine/channel.h"
#include "engine/chantab.h"
#include "engine/group.h"
#include "engine/resolve.h"
#include "engine/submit.h"
#include "msg/pool.h"
#include "platform/platform.h"
#include "platform/poller.h"

struct tofu_engine {
    tofui_pool pool;
    tofui_poller *poller;
    tofui_thread thread;
    tofui_chantab chantab;
    tofui_resolver resolver;
    tofui_submit sub;
    tofui_groups groups;
    tofui_chanset chans;       /* under io */
    /* The I/O token: held by the I/O thread except while it waits, or by a
     * post that dispatches the submission queue itself (engine.c, express
     * posts). Whoever holds it owns chans. */
    tofui_mutex io;
    bool io_running; /* under io: false once the loop ended */
    bool io_expressed; /* under io: an express post ran since the I/O
                          thread went to wait (one per wait, engine.c) */
    atomic_bool io_waiting; /* the I/O thread is inside the poller's wait */
    atomic_bool fault;         /* tests: act as if the poller failed */
    _Atomic uint64_t passes;   /* tests: loop passes, to prove the thread sleeps */
};

/* Tests only: the I/O thread behaves as after a fatal poller error. */
void tofui_engine_inject_fault(tofu_engine *e);

/* Tests only: how many loop passes (waits) the I/O thread has made. A busy
 * loop shows as a count that races ahead while nothing happens. */
uint64_t tofui_engine_passes(tofu_engine *e);

#endif
