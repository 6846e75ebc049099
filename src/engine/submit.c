/*
 * The submission queue from app threads to the I/O thread: posts and
 * commands under one lock, nothing else. What a post or a command means is
 * the loop's business (engine.c dispatches what it takes from here).
 *
 * A post pushes its message onto the list and wakes the poller, whose own
 * pending flag makes a burst of posts cost one wake-up. The poller clears
 * that flag before its wait returns; the I/O thread then takes both lists
 * under the lock and handles them in order.
 *
 * Before it wakes the poller, a post offers the queue to the engine's
 * express hook (engine.c): when the I/O thread is waiting, the poster
 * dispatches the queue itself and no wake-up is needed.
 *
 * Why the flag is enough: a post that finds it set pushed its message before
 * reading the flag, and the flag is cleared before the list is taken, so the
 * pass that the earlier wake-up triggers sees that message.
 */
#include "engine/submit.h"

void tofui_submit_init(tofui_submit *q, tofui_poller *p) {
    tofui_mutex_init(&q->lock);
    q->poller = p;
    q->posts.head = q->posts.tail = NULL;
    q->taken.head = q->taken.tail = NULL;
    q->cmd_head = q->cmd_tail = NULL;
    q->stopping = false;
    q->failed = false;
    q->io_exited = false;
    q->express = NULL;
    q->express_arg = NULL;
}

void tofui_submit_fini(tofui_submit *q) {
    tofui_mutex_fini(&q->lock);
}

/* The poller's wake-up is the only one: its pending flag coalesces a burst
 * of posts (poller.h). */
void tofui_submit_wake(tofui_submit *q) {
    tofui_poller_wake(q->poller);
}

/* Why the queue takes no more posts, or success. Called under the lock. */
static tofu_status submit__refusal(const tofui_submit *q, const bool *sender_closed) {
    if (q->failed)
        return TOFU_NOTIFICATION_FAILED;
    if (q->stopping || q->io_exited)
        return TOFU_NOTIFICATION_DISABLED;
    if (*sender_closed)
        return TOFU_SHUTDOWN_STARTED;
    return TOFU_SUCCESS;
}

tofu_status tofui_submit_post(tofui_submit *q, tofu_msg *m, const bool *sender_closed,
                              tofui_submit_guard guard) {
    tofui_mutex_lock(&q->lock);
    tofu_status st = submit__refusal(q, sender_closed);
    if (st == TOFU_SUCCESS && guard != NULL && !guard(m))
        st = TOFU_CHANNEL_CLOSED;
    if (st == TOFU_SUCCESS)
        tofui_mq_push(&q->posts, m);
    tofui_mutex_unlock(&q->lock);
    if (st == TOFU_SUCCESS && (q->express == NULL || !q->express(q->express_arg)))
        tofui_submit_wake(q);
    return st;
}

bool tofui_submit_cmd(tofui_submit *q, tofui_cmd *c) {
    tofui_mutex_lock(&q->lock);
    bool ok = !q->io_exited;
    if (ok) {
        c->next = NULL;
        if (q->cmd_tail != NULL)
            q->cmd_tail->next = c;
        else
            q->cmd_head = c;
        q->cmd_tail = c;
    }
    tofui_mutex_unlock(&q->lock);
    if (ok)
        tofui_submit_wake(q);
    return ok;
}

/* Called under the lock: the posts join what was taken before. */
static void submit__take_all(tofui_submit *q, tofui_cmd **cmds) {
    tofui_mq_append(&q->taken, &q->posts);
    if (cmds == NULL) /* the posts only: an express dispatch (engine.c) */
        return;
    *cmds = q->cmd_head;
    q->cmd_head = q->cmd_tail = NULL;
}

/* Once the engine is stopping, the queues stay for tofui_submit_close,
 * which runs after the channels are closed. */
bool tofui_submit_take(tofui_submit *q, tofui_cmd **cmds) {
    tofui_mutex_lock(&q->lock);
    bool stopping = q->stopping;
    if (!stopping)
        submit__take_all(q, cmds);
    tofui_mutex_unlock(&q->lock);
    return !stopping;
}

tofu_msg *tofui_submit_next(tofui_submit *q) {
    return tofui_mq_pop(&q->taken);
}

tofu_msg *tofui_submit_peek(const tofui_submit *q) {
    return q->taken.head;
}

/* Moves the posts of (sender, num) from `from` to `out`, keeping the order
 * of the rest; *reopened is set at a request that opens num again, and
 * nothing after it moves. */
static void submit__take_from(tofui_mq *from, const void *sender, uint16_t num, tofui_mq *out,
                              bool *reopened) {
    tofui_mq keep = {NULL, NULL};
    tofu_msg *m;
    while ((m = tofui_mq_pop(from)) != NULL) {
        bool ours = m->ctx == sender && m->bhdr.channel == num;
        if (ours && tofui_op_opens_channel(m->bhdr.opcode))
            *reopened = true;
        tofui_mq_push(ours && !*reopened ? out : &keep, m);
    }
    *from = keep;
}

void tofui_submit_take_back(tofui_submit *q, const void *sender, uint16_t num, tofui_mq *out) {
    bool reopened = false;
    submit__take_from(&q->taken, sender, num, out, &reopened);
    tofui_mutex_lock(&q->lock);
    submit__take_from(&q->posts, sender, num, out, &reopened);
    tofui_mutex_unlock(&q->lock);
}

void tofui_submit_stop(tofui_submit *q) {
    tofui_mutex_lock(&q->lock);
    q->stopping = true;
    tofui_mutex_unlock(&q->lock);
    tofui_submit_wake(q);
}

void tofui_submit_fail(tofui_submit *q) {
    tofui_mutex_lock(&q->lock);
    q->failed = true;
    tofui_mutex_unlock(&q->lock);
}

bool tofui_submit_close(tofui_submit *q, tofui_mq *posts, tofui_cmd **cmds) {
    tofui_mutex_lock(&q->lock);
    q->io_exited = true;
    submit__take_all(q, cmds);
    *posts = q->taken;
    q->taken.head = q->taken.tail = NULL;
    bool failed = q->failed;
    tofui_mutex_unlock(&q->lock);
    return failed;
}
