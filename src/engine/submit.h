/*
 * The submission queue from app threads to the I/O thread (submit.c): posts
 * and commands under one lock, nothing else. What they mean is the loop's
 * business (engine.c dispatches what it takes).
 */
#ifndef TOFUI_SUBMIT_H
#define TOFUI_SUBMIT_H

#include <stdbool.h>

#include "platform/platform.h"
#include "platform/poller.h"
#include "util/list.h"

typedef enum tofui_cmd_kind {
    TOFUI_CMD_GROUP_DESTROY = 0 /* embedded in the group */
} tofui_cmd_kind;

/* A command, embedded in what it concerns. */
typedef struct tofui_cmd {
    struct tofui_cmd *next;
    tofui_cmd_kind kind;
} tofui_cmd;

typedef struct tofui_submit {
    /* Also orders the engine's group list and each group's `destroying`
     * with the posts (group.c). */
    tofui_mutex lock;
    tofui_poller *poller; /* woken after each submission */
    tofui_mq posts;
    tofui_mq taken; /* I/O thread only: taken, not dispatched yet */
    tofui_cmd *cmd_head;
    tofui_cmd *cmd_tail;
    /* written by submit.c only, under lock; group.c reads the first and
     * the last under lock */
    bool stopping;  /* engine destroy started */
    bool failed;    /* the I/O thread hit a fatal poller error */
    bool io_exited; /* the I/O thread let go of every group */
    /* Set once by the engine before any post, or NULL: tried after a post
     * is queued; true when it dispatched the queue on the caller's thread
     * (engine.c), so that the I/O thread need not be woken. */
    bool (*express)(void *arg);
    void *express_arg;
} tofui_submit;

void tofui_submit_init(tofui_submit *q, tofui_poller *p);
void tofui_submit_fini(tofui_submit *q);
/* Whether a post may still go in, asked under the queue's lock (NULL:
 * always). A post to an open channel passes only while the channel's number
 * is still bound, and the I/O thread gives a closing channel's number back
 * before it takes its posts back under the same lock
 * (tofui_submit_take_back): so every post either comes back before the
 * channel's close Signal or is refused here, never after the Signal. */
typedef bool (*tofui_submit_guard)(const tofu_msg *m);

/* Queues a validated post. Refused (the caller keeps the message) with
 * notification_failed once the I/O thread failed, notification_disabled
 * once the engine stops, shutdown_started when *sender_closed (a group being
 * destroyed; the flag is written under q->lock), channel_closed when the
 * guard says no. */
tofu_status tofui_submit_post(tofui_submit *q, tofu_msg *m, const bool *sender_closed,
                              tofui_submit_guard guard);
/* Queues a command; false when the I/O thread is gone. */
bool tofui_submit_cmd(tofui_submit *q, tofui_cmd *c);
/* Wakes the I/O thread (coalesced by the poller). */
void tofui_submit_wake(tofui_submit *q);
/* I/O thread: takes every pending post (into q->taken, handed out one by
 * one by tofui_submit_next) and command, in order; false, with nothing
 * taken, once the engine is stopping. cmds NULL: the posts only, the
 * commands stay queued. ("I/O thread": whoever holds the engine's I/O
 * token, engine.h.) */
bool tofui_submit_take(tofui_submit *q, tofui_cmd **cmds);
/* I/O thread: the next taken post, or NULL. */
tofu_msg *tofui_submit_next(tofui_submit *q);
/* I/O thread: the taken post tofui_submit_next would return, left taken. */
tofu_msg *tofui_submit_peek(const tofui_submit *q);
/* I/O thread, when channel num of `sender` (a post's ctx) closes, after its
 * number was given back: moves to out, in posting order, every post for it
 * that is taken but not dispatched yet or still queued. It stops at a
 * Hello/WelcomeRequest that opens the number again: what follows is the new
 * channel's. */
void tofui_submit_take_back(tofui_submit *q, const void *sender, uint16_t num, tofui_mq *out);
/* Engine destroy: the queue refuses posts, the I/O thread is woken. */
void tofui_submit_stop(tofui_submit *q);
/* I/O thread: a fatal error; posts fail with notification_failed. */
void tofui_submit_fail(tofui_submit *q);
/* I/O thread on exit: refuses everything from now on and takes what is
 * left. Returns whether the thread failed. */
bool tofui_submit_close(tofui_submit *q, tofui_mq *posts, tofui_cmd **cmds);

#endif
