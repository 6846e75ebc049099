/*
 * The engine: lifecycle, the pool API, and the reactor loop of its I/O
 * thread.
 *
 * One loop pass:
 *   1. work off the ready list (direct writes, interest changes), free the
 *      records of channels closed since the last pass;
 *   2. wait: forever when idle, or until the next deadline (timers.c);
 *   3. if woken: run every pending post and command, in posting order;
 *   4. handle the events (records closed meanwhile are skipped);
 *   5. if a message came back to a starved pool: resume stalled channels;
 *   6. act on the deadlines that passed (linger, accept pause, connect and
 *      handshake timeouts).
 * The cost of a pass follows the channels with activity, not their number.
 */
#include <stdlib.h>

#include "engine/engine_int.h"

#define ENGINE__EVENTS 256

/* ------------------------------------------------------------------------ */
/* pool API                                                                 */
/* ------------------------------------------------------------------------ */

void tofu_options_init(tofu_options *opt) {
    if (opt == NULL)
        return;
    opt->initial_pool_msgs = TOFU_DEFAULT_INITIAL_POOL;
    opt->max_pool_msgs = TOFU_DEFAULT_MAX_POOL;
    opt->max_send_queue = 0;
    opt->connect_timeout_ms = TOFU_DEFAULT_CONNECT_TIMEOUT_MS;
    opt->handshake_timeout_ms = TOFU_DEFAULT_HANDSHAKE_TIMEOUT_MS;
    opt->bye_linger_ms = TOFU_DEFAULT_BYE_LINGER_MS;
}

tofu_msg *tofu_get(tofu_engine *e, tofu_alloc strategy) {
    if (e == NULL)
        return NULL;
    return tofui_pool_get(&e->pool, strategy, NULL);
}

void tofu_put(tofu_engine *e, tofu_msg **m) {
    if (m == NULL || *m == NULL)
        return;
    if (e == NULL) {
        tofu_msg_destroy(*m);
        *m = NULL;
        return;
    }
    if (tofui_pool_put(&e->pool, m)) /* a channel may be starving */
        tofui_submit_wake(&e->sub);
}

/* ------------------------------------------------------------------------ */
/* the I/O thread                                                           */
/* ------------------------------------------------------------------------ */

static void engine__resume_if_refilled(tofu_engine *e) {
    if (tofui_pool_take_refill(&e->pool))
        tofui_stall_resume(e);
}

static int engine__min_timeout(int a, int b) {
    if (a < 0)
        return b;
    if (b < 0)
        return a;
    return a < b ? a : b;
}

/* The wait timeout. With stalled channels and a refill already noted (the
 * thread's own put has no wake-up behind it) the wait only polls; pending
 * pool_empty Signals may shorten it to their grace deadline. */
static int engine__prepare_wait(tofu_engine *e) {
    int timeout = tofui_timers_timeout(&e->timers);
    if (!tofui_list_empty(&e->stalled)) {
        if (tofui_pool_refill_noted(&e->pool))
            return 0;
        timeout = engine__min_timeout(timeout, tofui_stall_signal_due(e));
    }
    return timeout;
}

/* The only command: a group destroy. Its channels close silently, then
 * the destroyer, waiting on its own thread, goes on. */
static void engine__run_cmd(tofui_cmd *c) {
    tofu_group *g = TOFUI_CONTAINER(c, tofu_group, destroy_cmd);
    tofui_chan_close_group(g);
    tofui_group_io_done(g);
}

static void engine__run_cmds(tofui_cmd *c) {
    while (c != NULL) {
        tofui_cmd *next = c->next;
        engine__run_cmd(c);
        c = next;
    }
}

/* Step 3: the posts first, then the commands taken with them (a group
 * destroy always comes after the posts made before it; later posts to that
 * group are refused), then the resolver's answers. False when the engine is
 * stopping. */
static bool engine__dispatch(tofu_engine *e) {
    tofui_mq posts;
    tofui_cmd *cmds;
    if (!tofui_submit_take(&e->sub, &posts, &cmds))
        return false;
    tofu_msg *m;
    while ((m = tofui_mq_pop(&posts)) != NULL)
        tofui_chan_on_post(e, m);
    engine__run_cmds(cmds);
    tofui_resolve_req *r = tofui_resolver_take_answers(&e->resolver);
    while (r != NULL) {
        tofui_resolve_req *next = r->next;
        tofui_conn_resolved(e, r);
        r = next;
    }
    return true;
}

/* On exit, what is still queued: after a fatal error the posts go back to
 * their groups (no silent loss); at engine destroy they are simply freed. */
static void engine__drop_queued(tofu_engine *e) {
    tofui_mq posts;
    tofui_cmd *cmds;
    bool failed = tofui_submit_close(&e->sub, &posts, &cmds);
    tofu_msg *m;
    while ((m = tofui_mq_pop(&posts)) != NULL) {
        if (failed && m->ctx != NULL)
            tofui_chan_post_unhandled(e, m, TOFU_NOTIFICATION_FAILED);
        else
            tofu_msg_destroy(m);
    }
    engine__run_cmds(cmds);
}

static void engine__run(void *arg) {
    tofu_engine *e = arg;
    tofui_event ev[ENGINE__EVENTS];
    bool failed = false;
    for (;;) {
        tofui_chan_flush_ready(e);
        tofui_chan_free_dead(e);
        bool woken = false;
        atomic_fetch_add_explicit(&e->passes, 1, memory_order_relaxed);
        int n = tofui_poller_wait(e->poller, ev, ENGINE__EVENTS, engine__prepare_wait(e), &woken);
        if (n < 0 || atomic_load_explicit(&e->fault, memory_order_relaxed)) {
            failed = true;
            break;
        }
        /* Posts first: one made before the peer's answer arrived (the Bye
         * posted after a ByeRequest, say) must be handled before it. */
        if (woken && !engine__dispatch(e))
            break;
        for (int i = 0; i < n; i++)
            tofui_chan_on_event(ev[i].data, ev[i].events);
        engine__resume_if_refilled(e);
        tofui_chan_expire_timers(e);
    }
    if (failed) /* a poller error is fatal: posts fail from now on */
        tofui_submit_fail(&e->sub);
    tofui_chan_close_all(e, failed);
    engine__drop_queued(e);
    tofui_chan_free_dead(e);
    /* Only now, with everything delivered: waiters that find their queue
     * empty get shutdown_started instead of waiting forever. */
    if (failed)
        tofui_group_wake_all(e);
}

uint64_t tofui_engine_passes(tofu_engine *e) {
    return atomic_load_explicit(&e->passes, memory_order_relaxed);
}

void tofui_engine_inject_fault(tofu_engine *e) {
    atomic_store(&e->fault, true);
    tofui_submit_wake(&e->sub);
}

/* ------------------------------------------------------------------------ */
/* create / destroy                                                         */
/* ------------------------------------------------------------------------ */

/* What engine__build got done, so a failed create undoes exactly that. */
typedef struct engine__built {
    bool plat, pool, chantab, sync, resolver;
} engine__built;

static void engine__free(tofu_engine *e, const engine__built *b) {
    if (b->resolver)
        tofui_resolver_fini(&e->resolver);
    if (b->sync) {
        tofui_cond_fini(&e->sub_cond);
        tofui_submit_fini(&e->sub);
    }
    tofui_poller_destroy(e->poller);
    if (b->chantab)
        tofui_chantab_fini(&e->chantab);
    if (b->pool)
        tofui_pool_fini(&e->pool);
    free(e->chans);
    free(e->rbuf);
    free(e->wbuf);
    if (b->plat)
        tofui_plat_fini();
    free(e);
}

static void engine__init_state(tofu_engine *e, const tofu_options *opt) {
    tofui_submit_init(&e->sub, e->poller);
    tofui_cond_init(&e->sub_cond);
    tofui_resolver_init(&e->resolver, e->poller);
    tofui_list_init(&e->groups);
    tofui_list_init(&e->all_chans);
    tofui_list_init(&e->stalled);
    tofui_timers_init(&e->timers, opt);
    e->max_send_queue = opt->max_send_queue;
    atomic_init(&e->fault, false);
    atomic_init(&e->passes, 0);
}

static tofu_status engine__build(tofu_engine *e, const tofu_options *opt, engine__built *b) {
    tofu_status st = tofui_plat_init();
    if (st != TOFU_SUCCESS)
        return st;
    b->plat = true;
    if (tofui_pool_init(&e->pool, opt->initial_pool_msgs, opt->max_pool_msgs) != TOFU_SUCCESS)
        return TOFU_ALLOCATION_FAILED;
    b->pool = true;
    if (tofui_chantab_init(&e->chantab) != TOFU_SUCCESS)
        return TOFU_ALLOCATION_FAILED;
    b->chantab = true;
    e->chans = calloc(TOFUI_CHAN_SLOTS, sizeof *e->chans);
    e->rbuf = malloc(TOFUI_READ_CHUNK);
    e->wbuf = malloc(TOFUI_BATCH_STAGE);
    if (e->chans == NULL || e->rbuf == NULL || e->wbuf == NULL)
        return TOFU_ALLOCATION_FAILED;
    if (tofui_poller_create(&e->poller) != TOFU_SUCCESS)
        return TOFU_COMMUNICATION_FAILED;
    engine__init_state(e, opt);
    b->sync = true;
    b->resolver = true;
    return TOFU_SUCCESS;
}

tofu_status tofu_engine_create(const tofu_options *opt, tofu_engine **out) {
    if (out == NULL)
        return TOFU_NULL_MESSAGE;
    *out = NULL;
    tofu_options defaults;
    tofu_options_init(&defaults);
    tofu_engine *e = calloc(1, sizeof *e);
    if (e == NULL)
        return TOFU_ALLOCATION_FAILED;
    engine__built b = {false, false, false, false, false};
    tofu_status st = engine__build(e, opt != NULL ? opt : &defaults, &b);
    if (st == TOFU_SUCCESS && tofui_thread_create(&e->thread, engine__run, e) != TOFU_SUCCESS)
        st = TOFU_ALLOCATION_FAILED;
    if (st != TOFU_SUCCESS) {
        engine__free(e, &b);
        return st;
    }
    *out = e;
    return TOFU_SUCCESS;
}

/* Groups still alive are destroyed here; a group that another thread is
 * destroying right now is waited for (it unlinks itself when done). */
static void engine__free_groups(tofu_engine *e) {
    tofui_mutex_lock(&e->sub.lock);
    while (!tofui_list_empty(&e->groups)) {
        tofu_group *g = NULL;
        for (tofui_link *l = e->groups.next; l != &e->groups && g == NULL; l = l->next) {
            tofu_group *c = TOFUI_CONTAINER(l, tofu_group, elink);
            if (!c->destroying)
                g = c;
        }
        if (g == NULL) {
            tofui_cond_wait(&e->sub_cond, &e->sub.lock);
            continue;
        }
        tofui_list_remove(&g->elink);
        tofui_mutex_unlock(&e->sub.lock);
        tofui_group_free(g);
        tofui_mutex_lock(&e->sub.lock);
    }
    tofui_mutex_unlock(&e->sub.lock);
}

void tofu_engine_destroy(tofu_engine *e) {
    if (e == NULL)
        return;
    tofui_submit_stop(&e->sub);
    tofui_thread_join(&e->thread);
    tofui_resolver_fini(&e->resolver); /* frees the answers nobody took */
    engine__free_groups(e);
    engine__built b = {true, true, true, true, false};
    engine__free(e, &b);
}
