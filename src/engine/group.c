/*
 * Channel groups: post (validation on the caller's thread), wait_receive,
 * update_receiver, create and destroy.
 *
 * A group's receive queue is shared by the I/O thread (which delivers) and
 * app threads (which wait, update the receiver, destroy), under the group's
 * own lock. The group's channel list belongs to the I/O thread.
 */
#include <stdlib.h>

#include "engine/group.h"
#include "msg/msg.h"

/* ------------------------------------------------------------------------ */
/* post                                                                     */
/* ------------------------------------------------------------------------ */

static tofu_status group__fail(tofu_msg *m, tofu_status st) {
    m->bhdr.status = tofu_status_to_byte(st);
    return st;
}

/* SPEC §3.1, in its exact order. */
static tofu_status group__check(tofu_msg *m) {
    tofu_bhdr *h = &m->bhdr;
    if (!tofui_op_in(TOFUI_OPS_VALID, h->opcode))
        return TOFU_INVALID_OP_CODE; /* status byte left alone, as the original */
    h->origin = TOFU_ORIGIN_APPLICATION;
    h->status = (uint8_t)TOFU_SUCCESS;
    h->thl = 0;
    h->bl = 0;
    if (tofui_op_in(TOFUI_OPS_RESPONSE, h->opcode) && h->message_id == 0)
        return group__fail(m, TOFU_INVALID_MESSAGE_ID);
    if (tofui_op_in(TOFUI_OPS_NOT_REGULAR, h->opcode) && h->more)
        return group__fail(m, TOFU_INVALID_MORE_USAGE);
    if (h->channel == 0 && !tofui_op_opens_channel(h->opcode))
        return group__fail(m, TOFU_INVALID_CHANNEL_NUMBER);
    if (m->thdrs.len > TOFU_MAX_PART_LEN)
        return group__fail(m, TOFU_INVALID_HEADERS_LEN);
    h->thl = (uint16_t)m->thdrs.len;
    if (h->thl == 0 && tofui_op_opens_channel(h->opcode))
        return group__fail(m, TOFU_WRONG_ADDRESS);
    if (m->body.len > TOFU_MAX_PART_LEN)
        return group__fail(m, TOFU_INVALID_BODY_LEN);
    h->bl = (uint16_t)m->body.len;
    if (h->message_id == 0)
        h->message_id = tofu_next_message_id();
    return TOFU_SUCCESS;
}

/* Whether num is an open channel of g, with the status a post to it gets
 * when it is not. */
static tofu_status group__owns(const tofu_group *g, uint16_t num) {
    tofui_chantab *t = g->reg->chantab;
    tofu_group *owner = tofui_chantab_owner(t, num);
    if (owner == NULL) /* closed, or never a channel of this group */
        return tofui_chantab_closed_for(t, num, g) ? TOFU_CHANNEL_CLOSED
                                                   : TOFU_INVALID_CHANNEL_NUMBER;
    return owner == g ? TOFU_SUCCESS : TOFU_INVALID_MCHN_GROUP;
}

/* SPEC §3.2 step 4 with libtofu's rule: a Hello/WelcomeRequest always opens a
 * new channel, so it must come with channel 0. */
static tofu_status group__bind_channel(tofu_group *g, tofu_msg *m, bool *allocated) {
    tofui_chantab *t = g->reg->chantab;
    uint16_t num = m->bhdr.channel;
    *allocated = false;
    if (tofui_op_opens_channel(m->bhdr.opcode)) {
        if (num != 0)
            return TOFU_INVALID_CHANNEL_NUMBER;
        num = tofui_chantab_alloc(t, g);
        if (num == 0)
            return TOFU_INVALID_CHANNEL_NUMBER; /* all 65534 in use */
        m->bhdr.channel = num;
        *allocated = true;
        return TOFU_SUCCESS;
    }
    return group__owns(g, num);
}

/* The submission queue's guard (submit.h): a post to an open channel goes in
 * only while its number is still the group's. */
static bool group__still_bound(const tofu_msg *m) {
    const tofu_group *g = m->ctx;
    return tofui_chantab_owner(g->reg->chantab, m->bhdr.channel) == g;
}

static void group__unbind_channel(tofu_group *g, tofu_msg *m) {
    tofui_chantab_release(g->reg->chantab, m->bhdr.channel);
    m->bhdr.channel = 0;
}

/* Destroy started (or ended: a tombstone). Relaxed: a post that misses it
 * is refused under the submission lock all the same. */
static bool group__dead(const tofu_group *g) {
    return atomic_load_explicit(&g->dead, memory_order_relaxed);
}

tofu_status tofu_post(tofu_group *g, tofu_msg **mp, tofu_bhdr *out) {
    if (mp == NULL || *mp == NULL)
        return TOFU_NULL_MESSAGE;
    if (g == NULL)
        return TOFU_NOT_ALLOWED;
    tofu_msg *m = *mp;
    if (group__dead(g))
        return group__fail(m, TOFU_SHUTDOWN_STARTED);
    tofu_status st = group__check(m);
    if (st != TOFU_SUCCESS)
        return st;
    bool allocated;
    st = group__bind_channel(g, m, &allocated);
    if (st != TOFU_SUCCESS) /* a destroy racing with us took the channel away */
        return group__fail(m, group__dead(g) ? TOFU_SHUTDOWN_STARTED : st);
    if (out != NULL)
        *out = m->bhdr; /* before the I/O thread owns the message */
    m->ctx = g;
    st = tofui_submit_post(g->reg->sub, m, &g->destroying,
                           allocated ? NULL : group__still_bound);
    if (st != TOFU_SUCCESS) {
        m->ctx = NULL;
        if (allocated)
            group__unbind_channel(g, m);
        return group__fail(m, st);
    }
    *mp = NULL;
    return TOFU_SUCCESS;
}

/* The record is the channel table's (the I/O thread notes it at accept
 * and connect): read under the table's lock, so any thread may ask. */
tofu_status tofu_channel_peer(tofu_group *g, uint16_t channel, tofu_peer *out) {
    if (g == NULL || out == NULL)
        return TOFU_NOT_ALLOWED;
    if (group__dead(g))
        return TOFU_SHUTDOWN_STARTED;
    if (tofui_chantab_peer(g->reg->chantab, channel, g, out))
        return TOFU_SUCCESS;
    tofu_status st = group__owns(g, channel);
    /* Its own channel without a record: a listener, or not connected yet. */
    return st == TOFU_SUCCESS ? TOFU_NOT_ALLOWED : st;
}

/* ------------------------------------------------------------------------ */
/* receive queue                                                            */
/* ------------------------------------------------------------------------ */

/* Something for a receiver: a message, or the status that ends receiving. */
static bool group__has_news(const tofu_group *g) {
    return g->queue.head != NULL || g->closed || g->engine_failed;
}

/* Makes the pollable descriptor (when someone asked for it) readable exactly
 * while a receive would not come back empty-handed. Called under g->lock
 * after every change of the queue or of closed/engine_failed; the notify
 * calls are no-ops unless the state changes, so a burst of deliveries to a
 * non-empty queue costs no system call. */
static void group__sync_notify(tofu_group *g) {
    if (!g->notify_open)
        return;
    if (group__has_news(g))
        tofui_notify_set(&g->notify);
    else
        tofui_notify_clear(&g->notify);
}

void tofui_group_deliver(tofu_group *g, tofu_msg *m) {
    tofui_mq q = {NULL, NULL};
    tofui_mq_push(&q, m);
    tofui_group_deliver_list(g, &q);
}

void tofui_group_deliver_list(tofu_group *g, tofui_mq *q) {
    if (q->head == NULL)
        return;
    for (tofu_msg *m = q->head; m != NULL; m = m->next)
        m->ctx = NULL;
    tofui_mutex_lock(&g->lock);
    bool closed = g->closed;
    if (!closed) {
        tofui_mq_append(&g->queue, q);
        if (g->waiters > 0)
            tofui_cond_signal(&g->cond);
        group__sync_notify(g);
    }
    tofui_mutex_unlock(&g->lock);
    if (closed) { /* nobody will ever read them */
        tofu_msg *m;
        while ((m = tofui_mq_pop(q)) != NULL)
            tofui_pool_put(g->reg->pool, &m); /* on the I/O thread */
    }
}

/* One wait for something to happen until the clock reaches deadline
 * (UINT64_MAX: no limit); false when the deadline passed. */
static bool group__wait(tofu_group *g, uint64_t deadline) {
    if (deadline != UINT64_MAX && tofui_clock_ns() >= deadline)
        return false;
    g->waiters++;
    if (deadline == UINT64_MAX)
        tofui_cond_wait(&g->cond, &g->lock);
    else
        tofui_cond_wait_until(&g->cond, &g->lock, deadline);
    g->waiters--;
    return true;
}

/* Moves up to cap queued messages to out[]; the status that ends receiving
 * once the queue is empty. Under g->lock. */
static tofu_status group__take(tofu_group *g, tofu_msg **out, size_t cap, size_t *n) {
    *n = 0;
    if (g->closed) /* destroy wins over queued messages: they are freed */
        return TOFU_SHUTDOWN_STARTED;
    while (*n < cap && (out[*n] = tofui_mq_pop(&g->queue)) != NULL)
        (*n)++;
    group__sync_notify(g);
    return *n == 0 && g->engine_failed ? TOFU_SHUTDOWN_STARTED : TOFU_SUCCESS;
}

/* tofu_wait_receive and tofu_receive_many: up to cap messages, waiting
 * only for the first. */
static tofu_status group__receive(tofu_group *g, uint64_t timeout_ns, tofu_msg **out, size_t cap,
                                  size_t *n) {
    uint64_t deadline = tofui_clock_deadline(timeout_ns);
    tofu_status st;
    tofui_mutex_lock(&g->lock);
    for (;;) {
        st = group__take(g, out, cap, n);
        if (st != TOFU_SUCCESS || *n > 0 || !group__wait(g, deadline))
            break;
    }
    if (g->closed)
        tofui_cond_broadcast(&g->cond); /* the destroyer waits for us to leave */
    tofui_mutex_unlock(&g->lock);
    return st;
}

tofu_status tofu_wait_receive(tofu_group *g, uint64_t timeout_ns, tofu_msg **out) {
    if (out == NULL)
        return TOFU_NULL_MESSAGE;
    *out = NULL;
    if (g == NULL)
        return TOFU_NOT_ALLOWED;
    size_t n;
    return group__receive(g, timeout_ns, out, 1, &n);
}

tofu_status tofu_try_receive(tofu_group *g, tofu_msg **out) {
    size_t n;
    if (out == NULL)
        return TOFU_NULL_MESSAGE;
    *out = NULL;
    if (g == NULL)
        return TOFU_NOT_ALLOWED;
    tofui_mutex_lock(&g->lock);
    tofu_status st = group__take(g, out, 1, &n);
    tofui_mutex_unlock(&g->lock);
    return st;
}

tofu_status tofu_receive_many(tofu_group *g, uint64_t timeout_ns, tofu_msg **out, size_t cap,
                              size_t *n) {
    if (n != NULL)
        *n = 0;
    if (out == NULL || n == NULL || cap == 0)
        return TOFU_NULL_MESSAGE;
    if (g == NULL)
        return TOFU_NOT_ALLOWED;
    return group__receive(g, timeout_ns, out, cap, n);
}

/* Opens the descriptor outside the lock (a socket pair on Windows takes a
 * while); a racing first call that installed one already wins. */
tofu_status tofu_group_fd(tofu_group *g, tofu_fd *out) {
    if (out == NULL || g == NULL)
        return TOFU_NOT_ALLOWED;
    tofui_mutex_lock(&g->lock);
    bool have = g->notify_open, closed = g->closed;
    tofui_mutex_unlock(&g->lock);
    if (closed && !have)
        return TOFU_SHUTDOWN_STARTED;
    tofui_notify fresh;
    if (!have && tofui_notify_open(&fresh) != TOFU_SUCCESS)
        return TOFU_COMMUNICATION_FAILED;
    tofui_mutex_lock(&g->lock);
    bool spare = have || g->notify_open;
    if (!spare) {
        g->notify = fresh;
        g->notify_open = true;
        group__sync_notify(g); /* messages may be waiting already */
    }
    *out = (tofu_fd)g->notify.rd;
    tofui_mutex_unlock(&g->lock);
    if (spare && !have)
        tofui_notify_close(&fresh);
    return TOFU_SUCCESS;
}

tofu_status tofu_update_receiver(tofu_group *g, tofu_msg **mp) {
    if (g == NULL)
        return TOFU_NOT_ALLOWED;
    tofu_msg *m = mp != NULL ? *mp : NULL;
    bool own = m == NULL;
    if (own && (m = tofui_msg_engine(TOFU_OP_SIGNAL, TOFU_RECEIVER_UPDATE, 0, 0)) == NULL)
        return TOFU_ALLOCATION_FAILED;
    tofui_mutex_lock(&g->lock);
    bool closed = g->closed;
    if (!closed) {
        if (!own) {
            m->bhdr.origin = TOFU_ORIGIN_APPLICATION;
            m->bhdr.status = tofu_status_to_byte(TOFU_RECEIVER_UPDATE);
            m->ctx = NULL;
        }
        tofui_mq_push(&g->queue, m);
        if (g->waiters > 0)
            tofui_cond_signal(&g->cond);
        group__sync_notify(g);
    }
    tofui_mutex_unlock(&g->lock);
    if (closed) {
        if (own)
            tofu_msg_destroy(m);
        return TOFU_SHUTDOWN_STARTED;
    }
    if (!own)
        *mp = NULL;
    return TOFU_SUCCESS;
}

/* ------------------------------------------------------------------------ */
/* create / destroy                                                         */
/* ------------------------------------------------------------------------ */

void tofui_groups_init(tofui_groups *r, tofui_submit *sub, tofui_chantab *t, tofui_pool *p) {
    r->sub = sub;
    r->chantab = t;
    r->pool = p;
    tofui_list_init(&r->list);
    tofui_cond_init(&r->cond);
}

void tofui_groups_fini(tofui_groups *r) {
    tofui_cond_fini(&r->cond);
}

tofu_status tofui_group_create(tofui_groups *r, tofu_group **out) {
    tofu_group *g = calloc(1, sizeof *g);
    if (g == NULL)
        return TOFU_ALLOCATION_FAILED;
    g->reg = r;
    tofui_mutex_init(&g->lock);
    tofui_cond_init(&g->cond);
    tofui_list_init(&g->chans);
    atomic_init(&g->dead, false);
    g->destroy_cmd.kind = TOFUI_CMD_GROUP_DESTROY;
    tofui_mutex_lock(&r->sub->lock);
    bool refused = r->sub->stopping || r->sub->io_exited;
    if (!refused)
        tofui_list_push_back(&r->list, &g->elink);
    tofui_mutex_unlock(&r->sub->lock);
    if (refused) {
        tofui_cond_fini(&g->cond);
        tofui_mutex_fini(&g->lock);
        free(g);
        return TOFU_SHUTDOWN_STARTED;
    }
    *out = g;
    return TOFU_SUCCESS;
}

/* Refuses further deliveries and wakes a waiter with shutdown_started. */
static void group__close(tofu_group *g) {
    tofui_mutex_lock(&g->lock);
    g->closed = true;
    tofui_cond_broadcast(&g->cond);
    group__sync_notify(g); /* stays readable: a loop notices the destroy */
    tofui_mutex_unlock(&g->lock);
}

static void group__wait_io_done(tofu_group *g) {
    tofui_mutex_lock(&g->lock);
    while (!g->io_done)
        tofui_cond_wait(&g->cond, &g->lock);
    tofui_mutex_unlock(&g->lock);
}

/* Frees the queued messages and waits until no thread is inside
 * tofu_wait_receive (the rule tofu_group_destroy promises; engine destroy
 * needs it before it frees the record). */
static void group__drain(tofu_group *g) {
    tofui_mq q;
    tofui_mutex_lock(&g->lock);
    q = g->queue;
    g->queue.head = g->queue.tail = NULL;
    while (g->waiters > 0)
        tofui_cond_wait(&g->cond, &g->lock);
    tofui_mutex_unlock(&g->lock);
    tofu_msg *m;
    while ((m = tofui_mq_pop(&q)) != NULL)
        if (tofui_pool_put(g->reg->pool, &m)) /* a channel may be starving */
            tofui_submit_wake(g->reg->sub);
}

static void group__release(tofu_group *g) {
    if (g->notify_open)
        tofui_notify_close(&g->notify);
    tofui_cond_fini(&g->cond);
    tofui_mutex_fini(&g->lock);
    free(g);
}

/* Marks g as being destroyed: from now on posts are refused. False when
 * another call did that first; this one then waits until that destroy
 * ended, so that every destroy returns with the group fully destroyed.
 * *stopping: engine destroy has started. */
static bool group__claim(tofu_group *g, bool *stopping) {
    tofui_groups *r = g->reg;
    tofui_mutex_lock(&r->sub->lock);
    bool first = !g->destroying;
    if (first) {
        g->destroying = true;
        atomic_store_explicit(&g->dead, true, memory_order_relaxed);
    }
    while (!first && !g->destroyed)
        tofui_cond_wait(&r->cond, &r->sub->lock);
    *stopping = r->sub->stopping;
    tofui_mutex_unlock(&r->sub->lock);
    return first;
}

/* The destroy ended: g stays on the list as a tombstone for engine destroy
 * to free. */
static void group__bury(tofu_group *g) {
    tofui_groups *r = g->reg;
    tofui_mutex_lock(&r->sub->lock);
    g->destroyed = true;
    tofui_cond_broadcast(&r->cond); /* engine destroy or a second destroy */
    tofui_mutex_unlock(&r->sub->lock);
}

tofu_status tofui_group_destroy(tofu_group *g) {
    bool stopping;
    if (!group__claim(g, &stopping))
        return TOFU_SHUTDOWN_STARTED; /* destroyed already */
    group__close(g);
    /* Without an I/O thread nobody holds the group's channels any more. */
    if (tofui_submit_cmd(g->reg->sub, &g->destroy_cmd))
        group__wait_io_done(g);
    group__drain(g);
    group__bury(g);
    return stopping ? TOFU_SHUTDOWN_STARTED : TOFU_SUCCESS;
}

void tofui_group_io_done(tofu_group *g) {
    tofui_mutex_lock(&g->lock);
    g->io_done = true;
    tofui_cond_broadcast(&g->cond);
    tofui_mutex_unlock(&g->lock);
}

/* A group on the list that no other thread is destroying right now (alive,
 * or a tombstone), or NULL. Called under sub->lock. */
static tofu_group *group__next_to_free(tofui_groups *r) {
    for (tofui_link *l = r->list.next; l != &r->list; l = l->next) {
        tofu_group *g = TOFUI_CONTAINER(l, tofu_group, elink);
        if (!g->destroying || g->destroyed)
            return g;
    }
    return NULL;
}

/* A group that another thread is destroying right now is waited for (it
 * becomes a tombstone when done). */
void tofui_groups_free_all(tofui_groups *r) {
    tofui_mutex_lock(&r->sub->lock);
    while (!tofui_list_empty(&r->list)) {
        tofu_group *g = group__next_to_free(r);
        if (g == NULL) {
            tofui_cond_wait(&r->cond, &r->sub->lock);
            continue;
        }
        tofui_list_remove(&g->elink);
        tofui_mutex_unlock(&r->sub->lock);
        group__close(g);
        group__drain(g);
        group__release(g);
        tofui_mutex_lock(&r->sub->lock);
    }
    tofui_mutex_unlock(&r->sub->lock);
}

void tofui_groups_wake_all(tofui_groups *r) {
    tofui_mutex_lock(&r->sub->lock);
    for (tofui_link *l = r->list.next; l != &r->list; l = l->next) {
        tofu_group *g = TOFUI_CONTAINER(l, tofu_group, elink);
        tofui_mutex_lock(&g->lock);
        g->engine_failed = true;
        tofui_cond_broadcast(&g->cond);
        group__sync_notify(g);
        tofui_mutex_unlock(&g->lock);
    }
    tofui_mutex_unlock(&r->sub->lock);
}
