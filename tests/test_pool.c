/* The message pool (SPEC §7, §10.3 Pool_tests): defaults, LIFO order,
 * POOL_ONLY vs ALWAYS, the refill signal, full and closed pools, threads. */
#include "test.h"

#include "msg/pool.h"

static void drain_and_free(tofui_pool *p) {
    tofu_msg *m;
    while ((m = tofui_pool_get(p, TOFU_POOL_ONLY, NULL)) != NULL)
        tofu_msg_destroy(m);
}

/* Gets n messages and puts them back: the pool's first messages exist
 * only once someone needed them. */
static void materialize(tofui_pool *p, size_t n) {
    tofu_msg *v[64];
    for (size_t i = 0; i < n; i++)
        v[i] = tofui_pool_get(p, TOFU_POOL_ONLY, NULL);
    for (size_t i = 0; i < n; i++)
        tofui_pool_put(p, &v[i]);
}

TEST(init_with_zeros_takes_the_defaults_1024_and_1024_made_on_first_need) {
    tofui_pool p;
    ASSERT_OK(tofui_pool_init(&p, 0, 0));
    ASSERT_EQ(tofui_pool_count(&p), 1024);
    ASSERT_EQ(p.max, 1024);
    ASSERT_EQ(tofu_live_messages(), 0); /* none made yet */
    tofu_msg *m = tofui_pool_get(&p, TOFU_POOL_ONLY, NULL);
    ASSERT_NOT_NULL(m);
    ASSERT_EQ(tofu_live_messages(), 1);
    ASSERT_EQ(tofui_pool_count(&p), 1023);
    tofui_pool_put(&p, &m);
    ASSERT_EQ(tofui_pool_count(&p), 1024);
    tofui_pool_fini(&p);
    ASSERT_EQ(tofu_live_messages(), 0);
}

/* The initial messages not made yet count against the bound: a pool of
 * 3/3 hands out exactly 3 with POOL_ONLY (made one by one), frees a fourth
 * put back, and get_many makes what the stack lacks. */
TEST(initial_messages_are_made_on_first_need_within_the_bound) {
    tofui_pool p;
    ASSERT_OK(tofui_pool_init(&p, 3, 3));
    tofu_msg *extra = NULL;
    ASSERT_OK(tofu_msg_create(&extra));
    ASSERT_FALSE(tofui_pool_put(&p, &extra)); /* full: 3 owed */
    ASSERT_EQ(tofu_live_messages(), 0);
    tofu_msg *a = tofui_pool_get(&p, TOFU_POOL_ONLY, NULL);
    ASSERT_NOT_NULL(a);
    tofui_pool_put(&p, &a); /* one made, back on the stack */
    tofu_msg *v[4];
    ASSERT_EQ(tofui_pool_get_many(&p, v, 4), 3); /* 1 from the stack, 2 made */
    ASSERT_EQ(tofu_live_messages(), 3);
    ASSERT_EQ(tofui_pool_get_many(&p, v + 3, 1), 0);
    tofui_pool_put_many(&p, v, 3);
    ASSERT_EQ(tofui_pool_count(&p), 3);
    tofui_pool_fini(&p);
    ASSERT_EQ(tofu_live_messages(), 0);
}

/* A message put back keeps small buffers and gives up big ones, so the
 * pool's bytes stay bounded; the next user can still grow it again. */
TEST(put_gives_up_buffers_beyond_16k_body_and_1k_headers) {
    tofui_pool p;
    ASSERT_OK(tofui_pool_init(&p, 2, 2));
    tofu_msg *m = tofui_pool_get(&p, TOFU_POOL_ONLY, NULL);
    tofu_msg *n = tofui_pool_get(&p, TOFU_POOL_ONLY, NULL);
    static char big[40000];
    ASSERT_OK(tofu_msg_append_body(m, big, sizeof big));
    ASSERT_OK(tofu_msg_append_body(n, big, 16384));
    tofu_msg *keep_m = m, *keep_n = n;
    tofui_pool_put(&p, &m);
    tofui_pool_put(&p, &n);
    ASSERT_TRUE(keep_m->body.cap <= TOFUI_BUF_UNIT);
    ASSERT_EQ(keep_n->body.cap, 16384);
    m = tofui_pool_get(&p, TOFU_POOL_ONLY, NULL);
    ASSERT_OK(tofu_msg_append_body(m, big, sizeof big)); /* grows again */
    tofui_pool_put(&p, &m);
    tofui_pool_fini(&p);
    ASSERT_EQ(tofu_live_messages(), 0);
}

TEST(init_counts_initial_messages_and_raises_max_to_initial) {
    tofui_pool p;
    ASSERT_OK(tofui_pool_init(&p, 3, 8));
    ASSERT_EQ(tofui_pool_count(&p), 3);
    ASSERT_EQ(p.max, 8);
    tofui_pool_fini(&p);
    ASSERT_OK(tofui_pool_init(&p, 10, 5));
    ASSERT_EQ(tofui_pool_count(&p), 10);
    ASSERT_EQ(p.max, 10);
    tofui_pool_fini(&p);
    ASSERT_OK(tofui_pool_init(&p, 2000, 0)); /* default max 1024 < 2000 */
    ASSERT_EQ(p.max, 2000);
    tofui_pool_fini(&p);
    ASSERT_EQ(tofu_live_messages(), 0);
}

/* SPEC §10.3 Pool_tests, with every step checked. */
TEST(emptied_pool_reports_empty_allocates_on_always_and_returns_puts_in_lifo_order) {
    tofui_pool p;
    ASSERT_OK(tofui_pool_init(&p, 0, 0));
    drain_and_free(&p);
    ASSERT_EQ(tofui_pool_count(&p), 0);
    ASSERT_EQ(tofu_live_messages(), 0);

    tofu_status err = TOFU_SUCCESS;
    ASSERT_NULL(tofui_pool_get(&p, TOFU_POOL_ONLY, &err));
    ASSERT_STATUS(TOFU_POOL_EMPTY, err);

    tofu_msg *a = tofui_pool_get(&p, TOFU_ALWAYS, &err);
    ASSERT_NOT_NULL(a);
    ASSERT_OK(err);
    tofu_msg *b = tofui_pool_get(&p, TOFU_ALWAYS, &err);
    ASSERT_NOT_NULL(b);
    ASSERT_TRUE(a != b);
    ASSERT_EQ(tofu_live_messages(), 2);
    tofu_msg *first = a, *second = b;
    tofui_pool_put(&p, &a);
    tofui_pool_put(&p, &b);
    ASSERT_EQ(tofui_pool_count(&p), 2);

    /* Last in, first out. */
    ASSERT_TRUE(tofui_pool_get(&p, TOFU_POOL_ONLY, &err) == second);
    ASSERT_TRUE(tofui_pool_get(&p, TOFU_POOL_ONLY, &err) == first);
    ASSERT_OK(err);
    ASSERT_NULL(tofui_pool_get(&p, TOFU_POOL_ONLY, &err));
    ASSERT_STATUS(TOFU_POOL_EMPTY, err);
    tofu_msg_destroy(first);
    tofu_msg_destroy(second);
    tofui_pool_fini(&p);
    ASSERT_EQ(tofu_live_messages(), 0);
}

TEST(get_returns_a_reset_message_even_if_it_was_changed_in_the_pool) {
    tofui_pool p;
    ASSERT_OK(tofui_pool_init(&p, 1, 1));
    tofu_msg *m = tofui_pool_get(&p, TOFU_POOL_ONLY, NULL);
    ASSERT_NOT_NULL(m);
    tofu_msg_bhdr(m)->channel = 5;
    tofu_msg_bhdr(m)->message_id = 6;
    ASSERT_OK(tofu_msg_add_header(m, "a", "b"));
    ASSERT_OK(tofu_msg_append_body(m, "xyz", 3));
    tofu_msg_set_user(m, &p);
    tofu_msg *keep = m;
    tofui_pool_put(&p, &m);
    /* Simulate a stale write into a pooled message: get must reset anyway. */
    keep->bhdr.opcode = TOFU_OP_SIGNAL;
    keep->body.len = 2;
    m = tofui_pool_get(&p, TOFU_POOL_ONLY, NULL);
    ASSERT_TRUE(m == keep);
    ASSERT_EQ(tofu_msg_channel(m), 0);
    ASSERT_EQ(tofu_msg_id(m), 0);
    ASSERT_EQ(tofu_msg_opcode(m), 0);
    ASSERT_NULL(tofu_msg_user(m));
    size_t n = 1;
    tofu_msg_headers(m, &n);
    ASSERT_EQ(n, 0);
    tofu_msg_body(m, &n);
    ASSERT_EQ(n, 0);
    ASSERT_NULL(m->next);
    tofu_msg_destroy(m);
    tofui_pool_fini(&p);
    ASSERT_EQ(tofu_live_messages(), 0);
}

TEST(put_nulls_the_callers_pointer_and_ignores_null) {
    tofui_pool p;
    ASSERT_OK(tofui_pool_init(&p, 1, 2));
    tofu_msg *m = tofui_pool_get(&p, TOFU_ALWAYS, NULL);
    ASSERT_NOT_NULL(m);
    ASSERT_FALSE(tofui_pool_put(&p, &m));
    ASSERT_NULL(m);
    ASSERT_FALSE(tofui_pool_put(&p, &m)); /* *m NULL: no-op */
    ASSERT_FALSE(tofui_pool_put(&p, NULL));
    ASSERT_EQ(tofui_pool_count(&p), 1);
    tofui_pool_fini(&p);
    ASSERT_EQ(tofu_live_messages(), 0);
}

TEST(put_frees_the_message_when_the_pool_is_full) {
    tofui_pool p;
    ASSERT_OK(tofui_pool_init(&p, 2, 2));
    materialize(&p, 2);
    tofu_msg *extra = NULL;
    ASSERT_OK(tofu_msg_create(&extra));
    ASSERT_EQ(tofu_live_messages(), 3);
    ASSERT_FALSE(tofui_pool_put(&p, &extra));
    ASSERT_NULL(extra);
    ASSERT_EQ(tofui_pool_count(&p), 2);
    ASSERT_EQ(tofu_live_messages(), 2);
    tofui_pool_fini(&p);
    ASSERT_EQ(tofu_live_messages(), 0);
}

TEST(closed_pool_refuses_gets_with_not_allowed_and_frees_puts) {
    tofui_pool p;
    ASSERT_OK(tofui_pool_init(&p, 4, 4));
    tofu_msg *out = tofui_pool_get(&p, TOFU_POOL_ONLY, NULL);
    ASSERT_NOT_NULL(out);
    tofui_pool_close(&p);
    ASSERT_EQ(tofui_pool_count(&p), 0);
    ASSERT_EQ(tofu_live_messages(), 1); /* only the one handed out */

    tofu_status err = TOFU_SUCCESS;
    ASSERT_NULL(tofui_pool_get(&p, TOFU_POOL_ONLY, &err));
    ASSERT_STATUS(TOFU_NOT_ALLOWED, err);
    err = TOFU_SUCCESS;
    ASSERT_NULL(tofui_pool_get(&p, TOFU_ALWAYS, &err));
    ASSERT_STATUS(TOFU_NOT_ALLOWED, err);
    ASSERT_FALSE(tofui_pool_put(&p, &out));
    ASSERT_NULL(out);
    ASSERT_EQ(tofui_pool_count(&p), 0);
    ASSERT_EQ(tofu_live_messages(), 0);
    tofui_pool_fini(&p); /* fini after close is fine */
    ASSERT_EQ(tofu_live_messages(), 0);
}

TEST(put_returns_true_only_when_it_refills_a_pool_found_empty_by_pool_only) {
    tofui_pool p;
    ASSERT_OK(tofui_pool_init(&p, 1, 4));
    tofu_msg *a = tofui_pool_get(&p, TOFU_POOL_ONLY, NULL);
    ASSERT_NOT_NULL(a);
    tofu_msg *b = tofui_pool_get(&p, TOFU_ALWAYS, NULL); /* empty, but ALWAYS */
    ASSERT_NOT_NULL(b);
    ASSERT_FALSE(tofui_pool_put(&p, &b)); /* nobody starved */
    ASSERT_NOT_NULL(b = tofui_pool_get(&p, TOFU_POOL_ONLY, NULL));

    ASSERT_NULL(tofui_pool_get(&p, TOFU_POOL_ONLY, NULL)); /* someone starves */
    ASSERT_NULL(tofui_pool_get(&p, TOFU_POOL_ONLY, NULL));
    ASSERT_TRUE(tofui_pool_put(&p, &a));  /* the refill */
    ASSERT_FALSE(tofui_pool_put(&p, &b)); /* already refilled */
    ASSERT_EQ(tofui_pool_count(&p), 2);
    tofui_pool_fini(&p);
    ASSERT_EQ(tofu_live_messages(), 0);
}

TEST(pool_only_get_on_a_closed_pool_does_not_arm_the_refill_signal) {
    tofui_pool p;
    ASSERT_OK(tofui_pool_init(&p, 1, 1));
    tofui_pool_close(&p);
    ASSERT_NULL(tofui_pool_get(&p, TOFU_POOL_ONLY, NULL));
    ASSERT_FALSE(p.empty_handed_out);
    tofu_msg *m = NULL;
    ASSERT_OK(tofu_msg_create(&m));
    ASSERT_FALSE(tofui_pool_put(&p, &m));
    tofui_pool_fini(&p);
    ASSERT_EQ(tofu_live_messages(), 0);
}

/* ---- threads ---- */

#define POOL_THREADS 4
#define POOL_ROUNDS 20000

static void churn(void *arg) {
    tofui_pool *p = arg;
    tofu_msg *held[3] = {NULL, NULL, NULL};
    for (int i = 0; i < POOL_ROUNDS; i++) {
        int k = i % 3;
        if (held[k] == NULL)
            held[k] = tofui_pool_get(p, (i & 4) ? TOFU_ALWAYS : TOFU_POOL_ONLY, NULL);
        else
            tofui_pool_put(p, &held[k]);
    }
    for (int k = 0; k < 3; k++)
        tofui_pool_put(p, &held[k]);
}

TEST(concurrent_gets_and_puts_keep_the_pool_consistent) {
    tofui_pool p;
    ASSERT_OK(tofui_pool_init(&p, 4, 8));
    tofui_thread t[POOL_THREADS];
    for (int i = 0; i < POOL_THREADS; i++)
        ASSERT_OK(tofui_thread_create(&t[i], churn, &p));
    for (int i = 0; i < POOL_THREADS; i++)
        tofui_thread_join(&t[i]);
    ASSERT_TRUE(tofui_pool_count(&p) <= 8); /* made and not made yet */
    size_t n = p.count;
    ASSERT_EQ(tofu_live_messages(), n); /* every message made is back or freed */
    for (size_t i = 0; i < n; i++) { /* distinct, reset messages */
        ASSERT_TRUE(p.slots[i] != NULL && p.slots[i]->next == NULL);
        for (size_t j = 0; j < i; j++)
            ASSERT_TRUE(p.slots[i] != p.slots[j]);
    }
    tofui_pool_fini(&p);
    ASSERT_EQ(tofu_live_messages(), 0);
}

/* ---- waiting for a message (tofui_pool_get_wait, tofu_get_wait) ---- */

/* An empty pool and a deadline: the wait ends with no message and success;
 * a pool with a message hands it over at once. */
TEST(get_wait_times_out_on_an_empty_pool_and_takes_what_is_there) {
    tofui_pool p;
    ASSERT_OK(tofui_pool_init(&p, 1, 1));
    tofu_msg *m = NULL, *none = NULL;
    ASSERT_OK(tofui_pool_get_wait(&p, UINT64_MAX, &m)); /* there is one */
    ASSERT_NOT_NULL(m);
    ASSERT_OK(tofui_pool_get_wait(&p, tofui_clock_ns() + 20000000u, &none));
    ASSERT_TRUE(none == NULL);
    tofui_pool_put(&p, &m);
    tofui_pool_fini(&p);
    ASSERT_EQ(tofu_live_messages(), 0);
}

#define WAITERS 4
#define WAIT_ROUNDS 500

typedef struct wait_run {
    tofui_pool *p;
    int got;
    tofu_status last;
} wait_run;

/* Takes WAIT_ROUNDS messages, each waited for, and puts each back. */
static void waiter(void *arg) {
    wait_run *w = arg;
    for (int i = 0; i < WAIT_ROUNDS; i++) {
        tofu_msg *m = NULL;
        w->last = tofui_pool_get_wait(w->p, UINT64_MAX, &m);
        if (w->last != TOFU_SUCCESS || m == NULL)
            return;
        w->got++;
        tofui_pool_put(w->p, &m);
    }
}

/* WAITERS threads share a pool of one message, each waiting for it in
 * turn: every put wakes a waiter, none is lost (each thread gets its
 * WAIT_ROUNDS messages, no wait hangs). */
TEST(get_wait_is_woken_by_every_put) {
    tofui_pool p;
    ASSERT_OK(tofui_pool_init(&p, 1, 1));
    wait_run w[WAITERS];
    tofui_thread t[WAITERS];
    for (int i = 0; i < WAITERS; i++) {
        w[i] = (wait_run){&p, 0, TOFU_SUCCESS};
        ASSERT_OK(tofui_thread_create(&t[i], waiter, &w[i]));
    }
    for (int i = 0; i < WAITERS; i++) {
        tofui_thread_join(&t[i]);
        ASSERT_EQ(w[i].got, WAIT_ROUNDS);
    }
    ASSERT_EQ(tofui_pool_count(&p), 1);
    tofui_pool_fini(&p);
    ASSERT_EQ(tofu_live_messages(), 0);
}

/* Threads waiting on an empty pool leave with shutdown_started when it
 * closes, and fini waits until they are out. */
TEST(get_wait_ends_with_shutdown_when_the_pool_closes) {
    tofui_pool p;
    ASSERT_OK(tofui_pool_init(&p, 1, 1));
    tofu_msg *only = tofui_pool_get(&p, TOFU_POOL_ONLY, NULL);
    wait_run w[WAITERS];
    tofui_thread t[WAITERS];
    for (int i = 0; i < WAITERS; i++) {
        w[i] = (wait_run){&p, 0, TOFU_SUCCESS};
        ASSERT_OK(tofui_thread_create(&t[i], waiter, &w[i]));
    }
    tofui_sleep_ms(50); /* let them wait (if not yet, they find it closed) */
    tofui_pool_close(&p);
    for (int i = 0; i < WAITERS; i++) {
        tofui_thread_join(&t[i]);
        ASSERT_EQ(w[i].got, 0);
        ASSERT_STATUS(TOFU_SHUTDOWN_STARTED, w[i].last);
    }
    tofui_pool_fini(&p);
    tofu_msg_destroy(only);
    ASSERT_EQ(tofu_live_messages(), 0);
}

/* The public call: argument checks, and a timed-out wait on an engine whose
 * pool is empty (its messages taken) returns success with no message. */
TEST(tofu_get_wait_checks_and_times_out) {
    tofu_engine *e = NULL;
    tofu_options opt;
    tofu_options_init(&opt);
    opt.initial_pool_msgs = 1;
    opt.max_pool_msgs = 1;
    ASSERT_OK(tofu_engine_create(&opt, &e));
    tofu_msg *m = NULL, *none = NULL;
    ASSERT_STATUS(TOFU_NULL_MESSAGE, tofu_get_wait(e, 0, NULL));
    ASSERT_STATUS(TOFU_NOT_ALLOWED, tofu_get_wait(NULL, 0, &m));
    ASSERT_OK(tofu_get_wait(e, TOFU_WAIT_INFINITE, &m));
    ASSERT_NOT_NULL(m);
    ASSERT_OK(tofu_get_wait(e, 10000000u, &none));
    ASSERT_TRUE(none == NULL);
    tofu_put(e, &m);
    tofu_engine_destroy(e);
    ASSERT_EQ(tofu_live_messages(), 0);
}

/* ---- the threads' magazines (tofui_pool_get_cached / put_cached) ---- */

/* Waits (bounded) until *flag is set. */
static bool wait_flag(atomic_bool *flag) {
    for (int i = 0; i < 10000 && !atomic_load(flag); i++)
        tofui_sleep_ms(1);
    return atomic_load(flag);
}

typedef struct mag_run {
    tofui_pool *p;
    unsigned take;        /* messages to take and put back (parked) */
    atomic_bool parked;   /* they are in the thread's magazine */
    atomic_bool go;       /* the thread may end */
} mag_run;

static void park_and_wait(void *arg) {
    mag_run *r = arg;
    tofu_msg *held[8];
    for (unsigned i = 0; i < r->take; i++)
        held[i] = tofui_pool_get_cached(r->p, TOFU_ALWAYS, NULL);
    for (unsigned i = 0; i < r->take; i++)
        tofui_pool_put_cached(r->p, &held[i]);
    atomic_store(&r->parked, true);
    wait_flag(&r->go);
}

static void mag_run_init(mag_run *r, tofui_pool *p, unsigned take) {
    r->p = p;
    r->take = take;
    atomic_init(&r->parked, false);
    atomic_init(&r->go, false);
}

/* What a thread parks in its magazine is not on the stack until the thread
 * ends: then its thread-exit function gives it all back. */
TEST(magazine_is_given_back_when_its_thread_ends) {
    tofui_pool p;
    ASSERT_OK(tofui_pool_init(&p, 8, 8));
    mag_run r;
    mag_run_init(&r, &p, 8);
    tofui_thread t;
    ASSERT_OK(tofui_thread_create(&t, park_and_wait, &r));
    ASSERT_TRUE(wait_flag(&r.parked));
    ASSERT_TRUE(tofui_pool_count(&p) < 8); /* some are parked */
    atomic_store(&r.go, true);
    tofui_thread_join(&t);
    ASSERT_EQ(tofui_pool_count(&p), 8);
    tofui_pool_fini(&p);
    ASSERT_EQ(tofu_live_messages(), 0);
}

/* Close frees the messages parked in a thread that is still running (its
 * magazine becomes an orphan the thread frees when it ends). */
TEST(close_frees_the_messages_parked_in_a_running_thread) {
    tofui_pool p;
    ASSERT_OK(tofui_pool_init(&p, 8, 8));
    mag_run r;
    mag_run_init(&r, &p, 8);
    tofui_thread t;
    ASSERT_OK(tofui_thread_create(&t, park_and_wait, &r));
    ASSERT_TRUE(wait_flag(&r.parked));
    tofui_pool_close(&p);
    ASSERT_EQ(tofu_live_messages(), 0);
    atomic_store(&r.go, true);
    tofui_thread_join(&t);
    tofui_pool_fini(&p);
    ASSERT_EQ(tofu_live_messages(), 0);
}

/* An empty stack takes back what another thread parked before it says
 * "empty": a POOL_ONLY get and the engine's get_many (a stalled channel's
 * take) find the parked messages. */
TEST(an_empty_stack_takes_back_what_other_threads_parked) {
    tofui_pool p;
    ASSERT_OK(tofui_pool_init(&p, 8, 8));
    mag_run r;
    mag_run_init(&r, &p, 8);
    tofui_thread t;
    ASSERT_OK(tofui_thread_create(&t, park_and_wait, &r));
    ASSERT_TRUE(wait_flag(&r.parked));
    tofu_msg *v[8];
    size_t n = 0;
    while (n < 8 && tofui_pool_count(&p) > 0)
        v[n++] = tofui_pool_get(&p, TOFU_POOL_ONLY, NULL);
    ASSERT_EQ(tofui_pool_count(&p), 0);
    size_t got = tofui_pool_get_many(&p, v + n, 8 - n); /* the stalled channel's take */
    ASSERT_EQ(n + got, 8);
    ASSERT_FALSE(p.empty_handed_out); /* it found some: no refill alert armed */
    ASSERT_NULL(tofui_pool_get(&p, TOFU_POOL_ONLY, NULL));
    ASSERT_TRUE(p.empty_handed_out);
    /* Now starving: the other thread's puts go to the stack and report the
     * refill (the engine's wake-up of its stalled channels). */
    tofu_msg *m = v[0];
    ASSERT_TRUE(tofui_pool_put_cached(&p, &m));
    ASSERT_EQ(tofui_pool_count(&p), 1);
    tofui_pool_put_many(&p, v + 1, 7);
    atomic_store(&r.go, true);
    tofui_thread_join(&t);
    ASSERT_EQ(tofui_pool_count(&p), 8);
    tofui_pool_fini(&p);
    ASSERT_EQ(tofu_live_messages(), 0);
}

typedef struct wait_one {
    tofui_pool *p;
    atomic_bool waiting;
    tofu_msg *got;
    tofu_status st;
} wait_one;

static void wait_for_one(void *arg) {
    wait_one *w = arg;
    atomic_store(&w->waiting, true);
    w->st = tofui_pool_get_wait(w->p, tofui_clock_deadline(10 * 1000000000ull), &w->got);
}

/* A thread waiting in get_wait is woken by a cached put from another
 * thread: the put goes to the stack while anyone waits. Repeated, so that
 * the put sometimes comes just before the waiter sleeps. */
TEST(get_wait_is_woken_by_a_cached_put_from_another_thread) {
    tofui_pool p;
    ASSERT_OK(tofui_pool_init(&p, 1, 1));
    for (int round = 0; round < 200; round++) {
        tofu_msg *m = tofui_pool_get_cached(&p, TOFU_POOL_ONLY, NULL);
        ASSERT_NOT_NULL(m);
        wait_one w = {&p, false, NULL, TOFU_SUCCESS};
        tofui_thread t;
        ASSERT_OK(tofui_thread_create(&t, wait_for_one, &w));
        ASSERT_TRUE(wait_flag(&w.waiting));
        if (round % 2 == 0)
            tofui_sleep_ms(1);
        tofui_pool_put_cached(&p, &m);
        tofui_thread_join(&t);
        ASSERT_OK(w.st);
        ASSERT_NOT_NULL(w.got); /* not a 10 s timeout */
        tofui_pool_put(&p, &w.got);
    }
    tofui_pool_fini(&p);
    ASSERT_EQ(tofu_live_messages(), 0);
}

/* The bound holds for stack and magazines together: puts beyond
 * max_pool_msgs are freed, cached or not. */
TEST(cached_puts_keep_the_bound_of_max_messages) {
    tofui_pool p;
    ASSERT_OK(tofui_pool_init(&p, 4, 4));
    materialize(&p, 4);
    for (int i = 0; i < 100; i++) {
        tofu_msg *m = NULL;
        ASSERT_OK(tofu_msg_create(&m));
        tofui_pool_put_cached(&p, &m);
        ASSERT_EQ(tofu_live_messages(), 4);
    }
    tofu_msg *v[4];
    for (int i = 0; i < 4; i++)
        ASSERT_NOT_NULL(v[i] = tofui_pool_get_cached(&p, TOFU_POOL_ONLY, NULL));
    ASSERT_NULL(tofui_pool_get_cached(&p, TOFU_POOL_ONLY, NULL));
    for (int i = 0; i < 4; i++)
        tofui_pool_put_cached(&p, &v[i]);
    tofui_pool_fini(&p);
    ASSERT_EQ(tofu_live_messages(), 0);
}

/* One thread uses more pools than it keeps magazines for (4): magazines
 * are given back and made again, no message is lost or counted twice. */
TEST(one_thread_uses_several_pools) {
    enum { POOLS = 6 };
    tofui_pool p[POOLS];
    for (int k = 0; k < POOLS; k++) {
        ASSERT_OK(tofui_pool_init(&p[k], 8, 8));
        materialize(&p[k], 8);
    }
    for (int i = 0; i < 300; i++) {
        tofu_msg *held[POOLS];
        for (int k = 0; k < POOLS; k++)
            held[k] = tofui_pool_get_cached(&p[(k + i) % POOLS], TOFU_POOL_ONLY, NULL);
        for (int k = 0; k < POOLS; k++) {
            ASSERT_NOT_NULL(held[k]);
            tofui_pool_put_cached(&p[(k + i) % POOLS], &held[k]);
        }
        ASSERT_EQ(tofu_live_messages(), 8 * POOLS);
    }
    for (int k = 0; k < POOLS; k++)
        tofui_pool_fini(&p[k]);
    ASSERT_EQ(tofu_live_messages(), 0);
}

/* Two engines in one process: a thread's messages of one never land in the
 * other's pool, and destroying them leaves nothing alive. */
TEST(two_engines_keep_their_messages_apart) {
    tofu_engine *e[2];
    tofu_options opt;
    tofu_options_init(&opt);
    opt.initial_pool_msgs = 4;
    opt.max_pool_msgs = 4;
    for (int k = 0; k < 2; k++)
        ASSERT_OK(tofu_engine_create(&opt, &e[k]));
    tofu_msg *m[8];
    for (int i = 0; i < 8; i++) /* 4 from each pool, 4 made */
        ASSERT_NOT_NULL(m[i] = tofu_get(e[0], TOFU_ALWAYS));
    for (int i = 0; i < 8; i++)
        tofu_put(e[1], &m[i]); /* e[1]'s pool is full: all 8 freed */
    /* e[1]'s 4 not made yet fill it; e[0]'s pool is empty */
    ASSERT_EQ(tofu_live_messages(), 0);
    tofu_engine_destroy(e[0]);
    tofu_engine_destroy(e[1]);
    ASSERT_EQ(tofu_live_messages(), 0);
}

/* A thread's cached put borrows room ahead; messages that come back to the
 * stack meanwhile (the engine's written ones) take that room back instead
 * of being freed: nothing is freed while stack and magazines have room. */
TEST(room_lent_to_a_magazine_does_not_free_messages_coming_back) {
    tofui_pool p;
    ASSERT_OK(tofui_pool_init(&p, 4, 4));
    tofu_msg *v[4];
    for (int i = 0; i < 4; i++)
        ASSERT_NOT_NULL(v[i] = tofui_pool_get(&p, TOFU_POOL_ONLY, NULL));
    tofui_pool_put_cached(&p, &v[0]); /* borrows room for more than one */
    tofui_pool_put_many(&p, v + 1, 3);
    ASSERT_EQ(tofui_pool_count(&p), 3);
    ASSERT_EQ(tofu_live_messages(), 4);
    tofui_pool_fini(&p);
    ASSERT_EQ(tofu_live_messages(), 0);
}
