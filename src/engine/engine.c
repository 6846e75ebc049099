/*
 * The engine: lifecycle, the public calls that take the engine (options,
 * pool, group create/destroy), and the reactor loop of its I/O thread,
 * which dispatches what it takes from the submission queue and the
 * resolver.
 *
 * One loop pass:
 *   1. work off the ready list (direct writes, interest changes), free the
 *      records of channels closed since the last pass;
 *   2. wait: forever when idle, or until the next deadline (timers.c);
 *   3. if woken: run every pending post and command, in posting order;
 *   4. handle the events (records closed meanwhile are skipped);
 *   5. if a message came back to a starved pool: resume stalled channels;
 *   6. act on the deadlines that passed (linger, accept pause, connect,
 *      handshake and frame timeouts).
 * The cost of a pass follows the channels with activity, not their number.
 */
#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"

#define ENGINE__EVENTS 256

/* ------------------------------------------------------------------------ */
/* public calls that take the engine                                        */
/* ------------------------------------------------------------------------ */

void tofu_options_init(tofu_options *opt) {
    if (opt == NULL)
        return;
    /* Every field: those without a default value of their own (0: none,
     * or derived) must not keep what the caller's stack held. */
    memset(opt, 0, sizeof *opt);
    opt->initial_pool_msgs = TOFU_DEFAULT_INITIAL_POOL;
    opt->max_pool_msgs = TOFU_DEFAULT_MAX_POOL;
    opt->max_send_queue = TOFU_DEFAULT_MAX_SEND_QUEUE;
    opt->connect_timeout_ms = TOFU_DEFAULT_CONNECT_TIMEOUT_MS;
    opt->handshake_timeout_ms = TOFU_DEFAULT_HANDSHAKE_TIMEOUT_MS;
    opt->bye_linger_ms = TOFU_DEFAULT_BYE_LINGER_MS;
    opt->frame_timeout_ms = TOFU_DEFAULT_FRAME_TIMEOUT_MS;
    opt->max_partial_bytes = TOFU_DEFAULT_MAX_PARTIAL_BYTES;
    opt->keepalive_idle_ms = TOFU_DEFAULT_KEEPALIVE_IDLE_MS;
    opt->keepalive_interval_ms = TOFU_DEFAULT_KEEPALIVE_INTERVAL_MS;
    opt->keepalive_count = TOFU_DEFAULT_KEEPALIVE_COUNT;
}

tofu_msg *tofu_get(tofu_engine *e, tofu_alloc strategy) {
    if (e == NULL)
        return NULL;
    return tofui_pool_get_cached(&e->pool, strategy, NULL);
}

tofu_status tofu_get_wait(tofu_engine *e, uint64_t timeout_ns, tofu_msg **out) {
    if (out == NULL)
        return TOFU_NULL_MESSAGE;
    *out = NULL;
    if (e == NULL)
        return TOFU_NOT_ALLOWED;
    return tofui_pool_get_wait(&e->pool, tofui_clock_deadline(timeout_ns), out);
}

void tofu_put(tofu_engine *e, tofu_msg **m) {
    if (m == NULL || *m == NULL)
        return;
    if (e == NULL) {
        tofu_msg_destroy(*m);
        *m = NULL;
        return;
    }
    if (tofui_pool_put_cached(&e->pool, m)) /* a channel may be starving */
        tofui_submit_wake(&e->sub);
}

tofu_status tofu_group_create(tofu_engine *e, tofu_group **out) {
    if (out == NULL)
        return TOFU_NULL_MESSAGE;
    *out = NULL;
    if (e == NULL)
        return TOFU_NOT_ALLOWED;
    return tofui_group_create(&e->groups, out);
}

tofu_status tofu_group_destroy(tofu_engine *e, tofu_group *g) {
    if (e == NULL || g == NULL || g->reg != &e->groups)
        return TOFU_INVALID_ADDRESS; /* the original's answer to a null group */
    return tofui_group_destroy(g);
}

/* ------------------------------------------------------------------------ */
/* the I/O thread                                                           */
/* ------------------------------------------------------------------------ */

/* The only command: a group destroy. Its channels close silently, then
 * the destroyer, waiting on its own thread, goes on. */
static void engine__run_cmd(tofu_engine *e, tofui_cmd *c) {
    tofu_group *g = TOFUI_CONTAINER(c, tofu_group, destroy_cmd);
    tofui_chan_close_group(g);
    tofui_group_io_done(g);
}

static void engine__run_cmds(tofu_engine *e, tofui_cmd *c) {
    while (c != NULL) {
        tofui_cmd *next = c->next;
        engine__run_cmd(e, c);
        c = next;
    }
}

/* Step 3: the posts first, then the commands taken with them (a group
 * destroy always comes after the posts made before it; later posts to that
 * group are refused), then the resolver's answers. False when the engine is
 * stopping. */
static bool engine__dispatch(tofu_engine *e) {
    tofui_cmd *cmds;
    if (!tofui_submit_take(&e->sub, &cmds))
        return false;
    tofu_msg *m;
    while ((m = tofui_submit_next(&e->sub)) != NULL)
        tofui_chan_on_post(&e->chans, m);
    engine__run_cmds(e, cmds);
    tofui_resolve_req *r = tofui_resolver_take_answers(&e->resolver);
    while (r != NULL) {
        tofui_resolve_req *next = r->next;
        tofui_dial_resolved(&e->chans, r);
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
            tofui_chan_post_unhandled(&e->chans, m, TOFU_NOTIFICATION_FAILED);
        else
            tofu_msg_destroy(m);
    }
    engine__run_cmds(e, cmds);
}

/* The loop ended: the channels close (silently at engine destroy; after a
 * fatal error with everything handed back), what is still queued goes. */
static void engine__exit(tofu_engine *e, bool failed) {
    if (failed) /* a poller error is fatal: posts fail from now on */
        tofui_submit_fail(&e->sub);
    tofui_chan_close_all(&e->chans, failed);
    engine__drop_queued(e);
    tofui_chan_free_dead(&e->chans);
    /* Only now, with everything delivered: waiters that find their queue
     * empty get shutdown_started instead of waiting forever. */
    if (failed)
        tofui_groups_wake_all(&e->groups);
}

/* ------------------------------------------------------------------------ */
/* express posts                                                            */
/* ------------------------------------------------------------------------ */

/* Whether the I/O thread must make a pass after an express dispatch: a
 * deadline came nearer than the one it sleeps until (before: the wait
 * timeout when the dispatch started), records wait to be freed or
 * channels to be flushed, or a channel is stalled: the messages the
 * writes gave back may be what it waits for, and the pool's refill note,
 * which any thread's put sets without the token, says nothing reliable
 * about what the sleeping I/O thread saw. */
static bool engine__needs_pass(tofu_engine *e, int before) {
    tofui_chanset *set = &e->chans;
    if (set->dead != NULL || set->ready_head != NULL || !tofui_list_empty(&set->stalled))
        return true;
    int after = tofui_chan_wait_timeout(set);
    return after >= 0 && (before < 0 || after < before);
}

/* The posts (not the commands, nor the resolver's answers), in order, up to
 * the first that opens a channel: a new socket is made on the I/O thread,
 * which the application may have started in a network namespace of its
 * own, never on the poster's. What is left stays taken for the I/O thread
 * (false: it must be woken). */
static bool engine__dispatch_express(tofu_engine *e) {
    if (!tofui_submit_take(&e->sub, NULL))
        return false; /* stopping */
    tofu_msg *m;
    while ((m = tofui_submit_peek(&e->sub)) != NULL) {
        if (tofui_op_opens_channel(m->bhdr.opcode))
            return false;
        tofui_chan_on_post(&e->chans, tofui_submit_next(&e->sub));
    }
    return true;
}

/* Tried by tofu_post after it queued its message (submit.h): when the I/O
 * thread is waiting, the poster takes the I/O token and does on its own
 * thread what the I/O thread would do on waking (dispatch the queue, write
 * the ready channels), saving two thread hand-offs per round trip: the
 * I/O thread's wake-up and, on the poster's side, nothing to wait for.
 * The I/O thread holds the token through every pass, so whoever holds it
 * owns the channels. True when the I/O thread need not be woken.
 * One express per wait of the I/O thread: a sender posting back to back
 * would otherwise write each message with a syscall of its own (64 B
 * one-way throughput fell 2-7 times); the posts after the first wake the
 * I/O thread, which writes what gathered meanwhile in one go, while a
 * round trip (one post per wait) keeps its saving. */
static bool engine__express(void *arg) {
    tofu_engine *e = arg;
    if (!tofui_mutex_trylock(&e->io))
        return false; /* the I/O thread is awake: it takes the post */
    /* Not while it holds events from a wait that returned: it reads them
     * after taking the token, and a readiness report that grows old while
     * posts are written tells less (a reset met by that read, reported
     * with no error event, would name recv_failed instead of the
     * connection's end). */
    bool done = e->io_running && atomic_load(&e->io_waiting) && !e->io_expressed;
    if (done) {
        e->io_expressed = true;
        int before = tofui_chan_wait_timeout(&e->chans);
        done = engine__dispatch_express(e);
        tofui_chan_flush_ready(&e->chans);
        done = done && !engine__needs_pass(e, before);
    }
    tofui_mutex_unlock(&e->io);
    return done;
}

static void engine__run(void *arg) {
    tofu_engine *e = arg;
    tofui_chanset *set = &e->chans;
    tofui_event ev[ENGINE__EVENTS];
    bool failed = false;
    tofui_mutex_lock(&e->io);
    for (;;) {
        tofui_chan_flush_ready(set);
        tofui_chan_free_dead(set);
        bool woken = false;
        atomic_fetch_add_explicit(&e->passes, 1, memory_order_relaxed);
        int timeout = tofui_chan_wait_timeout(set);
        e->io_expressed = false;
        atomic_store(&e->io_waiting, true);
        tofui_mutex_unlock(&e->io); /* an express post may run meanwhile */
        int n = tofui_poller_wait(e->poller, ev, ENGINE__EVENTS, timeout, &woken);
        atomic_store(&e->io_waiting, false);
        tofui_mutex_lock(&e->io);
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
        if (tofui_pool_take_refill(&e->pool))
            tofui_stall_resume(set);
        tofui_chan_expire_timers(set);
    }
    engine__exit(e, failed);
    e->io_running = false;
    tofui_mutex_unlock(&e->io);
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
        tofui_mutex_fini(&e->io);
        tofui_groups_fini(&e->groups);
        tofui_submit_fini(&e->sub);
    }
    tofui_chanset_fini(&e->chans);
    tofui_poller_destroy(e->poller);
    if (b->chantab)
        tofui_chantab_fini(&e->chantab);
    if (b->pool)
        tofui_pool_fini(&e->pool);
    if (b->plat)
        tofui_plat_fini();
    free(e);
}

static void engine__init_state(tofu_engine *e) {
    tofui_submit_init(&e->sub, e->poller);
    tofui_mutex_init(&e->io);
    e->io_running = true;
    atomic_init(&e->io_waiting, false);
    if (tofui_poller_ctl_while_waiting()) {
        e->sub.express = engine__express;
        e->sub.express_arg = e;
    }
    tofui_resolver_init(&e->resolver, e->poller);
    tofui_groups_init(&e->groups, &e->sub, &e->chantab, &e->pool);
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
    if (tofui_poller_create(&e->poller) != TOFU_SUCCESS)
        return TOFU_COMMUNICATION_FAILED;
    engine__init_state(e);
    b->sync = true;
    b->resolver = true;
    return tofui_chanset_init(&e->chans, &e->pool, e->poller, &e->chantab, &e->resolver, &e->sub,
                              opt);
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

void tofu_engine_destroy(tofu_engine *e) {
    if (e == NULL)
        return;
    tofui_submit_stop(&e->sub);
    tofui_thread_join(&e->thread);
    /* Threads waiting in tofu_get_wait leave now with shutdown_started;
     * pool_fini below waits for the last of them to be out. */
    tofui_pool_close(&e->pool);
    tofui_resolver_fini(&e->resolver); /* frees the answers nobody took */
    tofui_groups_free_all(&e->groups);
    engine__built b = {true, true, true, true, false};
    engine__free(e, &b);
}
