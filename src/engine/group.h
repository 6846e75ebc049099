/*
 * Channel groups (group.c): the public group API (post, wait_receive,
 * update_receiver), delivery from the I/O thread, and the engine's list of
 * groups.
 *
 * A group's receive queue is shared by the I/O thread (which delivers) and
 * app threads (which wait, update the receiver, destroy), under the group's
 * own lock. The list of groups and each group's `destroying` are ordered
 * with the posts by the submission queue's lock.
 *
 * Lifetime: tofu_group_destroy does not free the record. It stays on the
 * engine's list as a tombstone (closed, destroyed) until the engine is
 * destroyed, so that a call on the group that races with its destroy, or
 * comes after it, finds the group closed and returns shutdown_started
 * instead of touching freed memory. Nothing on the hot path pays for it.
 */
#ifndef TOFUI_GROUP_H
#define TOFUI_GROUP_H

#include <stdatomic.h>
#include <stdbool.h>

#include "engine/chantab.h"
#include "engine/submit.h"
#include "msg/pool.h"
#include "platform/platform.h"
#include "util/list.h"

/* The engine's groups and what they use of it. */
typedef struct tofui_groups {
    tofui_submit *sub;
    tofui_chantab *chantab;
    tofui_pool *pool;
    tofui_link list; /* under sub->lock */
    tofui_cond cond; /* under sub->lock: a group destroy ended (engine destroy
                        and a second destroy of the same group wait for it) */
} tofui_groups;

struct tofu_group {
    tofui_groups *reg;
    /* receive side, under lock */
    tofui_mutex lock;
    tofui_cond cond;
    tofui_mq queue;
    int waiters;        /* threads inside tofu_wait_receive */
    bool closed;        /* destroy started: waiters get shutdown_started */
    bool io_done;       /* the I/O thread let go of the group */
    bool engine_failed; /* the I/O thread died: waiters get shutdown_started */
    /* The pollable descriptor (tofu_group_fd), opened on the first call:
     * set exactly while the queue holds a message or the group is closed
     * or its engine failed (group__sync_notify). Until then delivery only
     * tests notify_open. */
    bool notify_open;
    tofui_notify notify;
    /* under reg->sub->lock */
    bool destroying;  /* destroy started: posts are refused */
    bool destroyed;   /* destroy ended: the record is a tombstone */
    tofui_link elink; /* on reg->list, tombstones too */
    /* `destroying`, written once with it and read without a lock by
     * tofu_post, so that a late post fails before it uses the channel
     * table; only a hint, the submission lock decides */
    atomic_bool dead;
    tofui_cmd destroy_cmd;
    /* I/O thread only, the channel module's (channel.c) */
    tofui_link chans; /* channels of this group */
};

void tofui_groups_init(tofui_groups *r, tofui_submit *sub, tofui_chantab *t, tofui_pool *p);
void tofui_groups_fini(tofui_groups *r);

/* tofu_group_create and tofu_group_destroy (tofu.h) without the engine
 * argument, which engine.c resolves. */
tofu_status tofui_group_create(tofui_groups *r, tofu_group **out);
tofu_status tofui_group_destroy(tofu_group *g);

/* Delivers one message (ctx cleared) to g's queue; a closed group puts it
 * back to the pool. I/O thread. */
void tofui_group_deliver(tofu_group *g, tofu_msg *m);
/* Delivers a whole list at once (one lock, one wake-up). */
void tofui_group_deliver_list(tofu_group *g, tofui_mq *q);
/* I/O thread: g's channels are closed; the destroyer goes on. */
void tofui_group_io_done(tofu_group *g);

/* Engine destroy, after the I/O thread ended: destroys the groups left,
 * waiting for those another thread is destroying right now, and frees every
 * record, tombstones included. */
void tofui_groups_free_all(tofui_groups *r);
/* The I/O thread failed: every waiter of every group wakes up. */
void tofui_groups_wake_all(tofui_groups *r);

#endif
