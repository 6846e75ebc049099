/* The message pool (SPEC §7, §10.3 Pool_tests): defaults, LIFO order,
 * POOL_ONLY vs ALWAYS, the refill signal, full and closed pools, threads. */
#include "test.h"

#include "msg/pool.h"

static void drain_and_free(tofui_pool *p) {
    tofu_msg *m;
    while ((m = tofui_pool_get(p, TOFU_POOL_ONLY, NULL)) != NULL)
        tofu_msg_destroy(m);
}

TEST(init_with_zeros_takes_the_defaults_16_and_64) {
    tofui_pool p;
    ASSERT_OK(tofui_pool_init(&p, 0, 0));
    ASSERT_EQ(tofui_pool_count(&p), 16);
    ASSERT_EQ(p.max, 64);
    ASSERT_EQ(tofu_live_messages(), 16);
    tofui_pool_fini(&p);
    ASSERT_EQ(tofu_live_messages(), 0);
}

TEST(init_creates_initial_messages_and_raises_max_to_initial) {
    tofui_pool p;
    ASSERT_OK(tofui_pool_init(&p, 3, 8));
    ASSERT_EQ(tofui_pool_count(&p), 3);
    ASSERT_EQ(p.max, 8);
    tofui_pool_fini(&p);
    ASSERT_OK(tofui_pool_init(&p, 10, 5));
    ASSERT_EQ(tofui_pool_count(&p), 10);
    ASSERT_EQ(p.max, 10);
    tofui_pool_fini(&p);
    ASSERT_OK(tofui_pool_init(&p, 100, 0)); /* default max 64 < 100 */
    ASSERT_EQ(p.max, 100);
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
    size_t n = tofui_pool_count(&p);
    ASSERT_TRUE(n <= 8);
    ASSERT_EQ(tofu_live_messages(), n); /* every message is back or freed */
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
