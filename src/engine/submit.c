/*
 * The submission path from app threads (and the resolver) to the I/O thread.
 *
 * A post pushes its message onto a mutex-protected list and wakes the
 * poller, whose own pending flag makes a burst of posts cost one wake-up.
 * The poller clears that flag before its wait returns; the I/O thread then
 * takes the whole list under the lock and handles every message in posting
 * order.
 *
 * Why the flag is enough: a post that finds it set pushed its message before
 * reading the flag, and the flag is cleared before the list is taken, so the
 * pass that the earlier wake-up triggers sees that message.
 */
#include <stdlib.h>

#include "engine/engine_int.h"

/* The poller's wake-up is the only one: its pending flag coalesces a burst
 * of posts (poller.h). */
void tofui_submit_wake(tofu_engine *e) {
    tofui_poller_wake(e->poller);
}

/* Why the engine takes no more work, or success. Called under sub_lock. */
static tofu_status submit__engine_state(const tofu_engine *e) {
    if (e->failed)
        return TOFU_NOTIFICATION_FAILED;
    if (e->stopping || e->io_exited)
        return TOFU_NOTIFICATION_DISABLED;
    return TOFU_SUCCESS;
}

tofu_status tofui_submit_post(tofu_engine *e, tofu_group *g, tofu_msg *m) {
    tofui_mutex_lock(&e->sub_lock);
    tofu_status st = submit__engine_state(e);
    if (st == TOFU_SUCCESS && g->destroying)
        st = TOFU_SHUTDOWN_STARTED;
    if (st == TOFU_SUCCESS)
        tofui_mq_push(&e->posts, m);
    tofui_mutex_unlock(&e->sub_lock);
    if (st == TOFU_SUCCESS)
        tofui_submit_wake(e);
    return st;
}

bool tofui_submit_cmd(tofu_engine *e, tofui_cmd *c) {
    tofui_mutex_lock(&e->sub_lock);
    bool ok = !e->io_exited;
    if (ok) {
        c->next = NULL;
        if (e->cmd_tail != NULL)
            e->cmd_tail->next = c;
        else
            e->cmd_head = c;
        e->cmd_tail = c;
    }
    tofui_mutex_unlock(&e->sub_lock);
    if (ok)
        tofui_submit_wake(e);
    return ok;
}

/* Takes both queues, unless the engine is stopping: then they stay for
 * tofui_submit_shutdown, which runs after the channels are closed. */
static bool submit__take(tofu_engine *e, tofui_mq *posts, tofui_cmd **cmds) {
    tofui_mutex_lock(&e->sub_lock);
    bool stopping = e->stopping;
    if (!stopping) {
        *posts = e->posts;
        e->posts.head = e->posts.tail = NULL;
        *cmds = e->cmd_head;
        e->cmd_head = e->cmd_tail = NULL;
    }
    tofui_mutex_unlock(&e->sub_lock);
    return !stopping;
}

static void submit__run_cmd(tofu_engine *e, tofui_cmd *c) {
    if (c->kind == TOFUI_CMD_GROUP_DESTROY) {
        tofui_group_io_release(TOFUI_CONTAINER(c, tofu_group, destroy_cmd));
    } else {
        tofui_conn_resolved(e, (tofui_resolve_req *)(void *)c);
    }
}

/* Commands run after the posts taken with them: a group destroy always comes
 * after the posts made before it (later posts to that group are refused). */
static void submit__run(tofu_engine *e, tofui_mq *posts, tofui_cmd *cmds) {
    tofu_msg *m;
    while ((m = tofui_mq_pop(posts)) != NULL)
        tofui_chan_on_post(e, m);
    while (cmds != NULL) {
        tofui_cmd *next = cmds->next;
        submit__run_cmd(e, cmds);
        cmds = next;
    }
}

bool tofui_submit_drain(tofu_engine *e) {
    tofui_mq posts;
    tofui_cmd *cmds;
    if (!submit__take(e, &posts, &cmds))
        return false;
    submit__run(e, &posts, cmds);
    return true;
}

/* A Hello/WelcomeRequest the I/O thread never saw is answered as a failed
 * connect or listen is: the Response, its number given back, the close
 * Signal. */
static void submit__fail_open(tofu_engine *e, tofu_group *g, tofu_msg *m) {
    bool hello = m->bhdr.opcode == TOFU_OP_HELLO_REQUEST;
    uint16_t num = m->bhdr.channel;
    uint64_t id = m->bhdr.message_id;
    m->bhdr.opcode = hello ? TOFU_OP_HELLO_RESPONSE : TOFU_OP_WELCOME_RESPONSE;
    tofui_chantab_release(&e->chantab, num);
    tofui_chan_return_to(g, m, TOFU_NOTIFICATION_FAILED);
    tofu_msg *closed = tofui_close_signal(num, id, TOFU_NOTIFICATION_FAILED);
    if (closed != NULL)
        tofui_group_deliver(g, closed);
}

/* A post nobody will process: after a fatal error it goes back to its
 * group (no silent loss); at engine destroy it is simply freed. */
static void submit__drop_post(tofu_engine *e, tofu_msg *m, bool failed) {
    tofu_group *g = m->ctx;
    uint8_t op = m->bhdr.opcode;
    if (!failed || g == NULL)
        tofu_msg_destroy(m);
    else if (op == TOFU_OP_HELLO_REQUEST || op == TOFU_OP_WELCOME_REQUEST)
        submit__fail_open(e, g, m);
    else
        tofui_chan_return_to(g, m, TOFU_NOTIFICATION_FAILED);
}

static void submit__drop_cmd(tofui_cmd *c) {
    if (c->kind == TOFUI_CMD_GROUP_DESTROY)
        tofui_group_io_release(TOFUI_CONTAINER(c, tofu_group, destroy_cmd));
    else
        free(c);
}

void tofui_submit_shutdown(tofu_engine *e) {
    tofui_mutex_lock(&e->sub_lock);
    e->io_exited = true;
    tofui_mq posts = e->posts;
    e->posts.head = e->posts.tail = NULL;
    tofui_cmd *cmds = e->cmd_head;
    e->cmd_head = e->cmd_tail = NULL;
    bool failed = e->failed;
    tofui_mutex_unlock(&e->sub_lock);

    tofu_msg *m;
    while ((m = tofui_mq_pop(&posts)) != NULL)
        submit__drop_post(e, m, failed);
    while (cmds != NULL) {
        tofui_cmd *next = cmds->next;
        submit__drop_cmd(cmds);
        cmds = next;
    }
}

void tofui_submit_free_leftovers(tofu_engine *e) {
    tofui_mutex_lock(&e->sub_lock);
    tofui_cmd *cmds = e->cmd_head;
    e->cmd_head = e->cmd_tail = NULL;
    tofui_mutex_unlock(&e->sub_lock);
    while (cmds != NULL) {
        tofui_cmd *next = cmds->next;
        submit__drop_cmd(cmds);
        cmds = next;
    }
}
