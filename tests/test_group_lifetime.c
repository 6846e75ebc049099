/*
 * A group's lifetime against the threads that use it: a call on a group
 * that is being destroyed, or was destroyed, returns shutdown_started and
 * touches no freed memory (the record stays until the engine is destroyed,
 * src/engine/group.h). Run under ASan and TSan, these cases are what shows
 * that; in a plain build they check the statuses.
 */
#include "engine_util.h"

/* A regular Signal for channel ch (a listener: the engine hands it back
 * with not_allowed, which is all these cases need of a post). */
static tofu_msg *signal_for(tofu_engine *e, uint16_t ch) {
    tofu_msg *m = tofu_t_get(e);
    tofu_bhdr *h = tofu_msg_bhdr(m);
    h->opcode = TOFU_OP_SIGNAL;
    h->channel = ch;
    return m;
}

static tofu_msg *hello_request(tofu_engine *e) {
    tofu_msg *m = tofu_t_get(e);
    ASSERT_OK(tofu_msg_connect_tcp(m, "127.0.0.1", 1));
    return m;
}

/* ======================================================================== */
/* after destroy                                                            */
/* ======================================================================== */

/* Every group call after tofu_group_destroy returned: shutdown_started, the
 * caller keeps its message (with that status), nothing is queued, and the
 * engine's other groups go on. */
TEST(every_call_on_a_destroyed_group_returns_shutdown_started) {
    tofu_engine *e = tofu_t_engine(0, 0);
    tofu_group *g = tofu_t_group(e);
    uint16_t lch = 0;
    LISTEN_TCP(e, g, "127.0.0.1", &lch);
    ASSERT_OK(tofu_group_destroy(e, g));

    tofu_msg *m = signal_for(e, lch);
    ASSERT_STATUS(TOFU_SHUTDOWN_STARTED, tofu_post(g, &m, NULL));
    ASSERT_NOT_NULL(m);
    ASSERT_STATUS(TOFU_SHUTDOWN_STARTED, tofu_msg_status(m));
    tofu_put(e, &m);

    m = hello_request(e); /* would take a channel number */
    ASSERT_STATUS(TOFU_SHUTDOWN_STARTED, tofu_post(g, &m, NULL));
    ASSERT_NOT_NULL(m);
    ASSERT_EQ(tofu_msg_channel(m), 0);
    tofu_put(e, &m);

    tofu_msg *got = NULL;
    ASSERT_STATUS(TOFU_SHUTDOWN_STARTED, tofu_wait_receive(g, 0, &got));
    ASSERT_NULL(got);
    ASSERT_STATUS(TOFU_SHUTDOWN_STARTED, tofu_wait_receive(g, TOFU_WAIT_INFINITE, &got));
    ASSERT_NULL(got);

    ASSERT_STATUS(TOFU_SHUTDOWN_STARTED, tofu_update_receiver(g, NULL));
    m = tofu_t_get(e);
    ASSERT_STATUS(TOFU_SHUTDOWN_STARTED, tofu_update_receiver(g, &m));
    ASSERT_NOT_NULL(m);
    tofu_put(e, &m);

    ASSERT_STATUS(TOFU_SHUTDOWN_STARTED, tofu_group_destroy(e, g)); /* a second destroy */

    tofu_group *other = tofu_t_group(e);
    ASSERT_OK(tofu_update_receiver(other, NULL));
    got = WAIT_MSG(other);
    ASSERT_STATUS(TOFU_RECEIVER_UPDATE, tofu_msg_status(got));
    tofu_put(e, &got);
    ASSERT_OK(tofu_group_destroy(e, other));
    tofu_engine_destroy(e); /* frees the destroyed groups' records too */
    ASSERT_NO_LEAKS();
}

/* Creating and destroying many groups: each destroyed record is kept until
 * engine destroy, which frees them all (ASan would report the rest). */
TEST(engine_destroy_frees_destroyed_groups) {
    tofu_engine *e = tofu_t_engine(0, 0);
    for (int i = 0; i < 200; i++) {
        tofu_group *g = tofu_t_group(e);
        ASSERT_OK(tofu_update_receiver(g, NULL)); /* a queued message destroy frees */
        ASSERT_OK(tofu_group_destroy(e, g));
    }
    tofu_engine_destroy(e);
    ASSERT_NO_LEAKS();
}

/* ======================================================================== */
/* racing with destroy                                                      */
/* ======================================================================== */

#define RACE_ROUNDS 3
#define RACE_WORKERS 7         /* plus one receiver: 8 threads on the group */
#define RACE_CALLS_BEFORE 700  /* calls made by all threads before the destroy */
#define RACE_CALLS_AFTER 60    /* calls each thread makes after the destroy returned */

typedef struct race {
    tofu_engine *e;
    tofu_group *g;
    uint16_t lch;         /* a listener of g: a channel to post to */
    atomic_bool destroyed; /* set once tofu_group_destroy returned */
    atomic_int calls;      /* made by all threads so far */
} race;

typedef struct racer {
    race *r;
    uint64_t seed;
    tofu_t_thread t;
} racer;

/* Each call returns success or shutdown_started; one that begins after
 * the destroy returned returns shutdown_started. True when this was a call
 * after the destroy. */
static bool race_check(race *r, bool after, tofu_status st) {
    atomic_fetch_add(&r->calls, 1);
    if (after)
        ASSERT_STATUS(TOFU_SHUTDOWN_STARTED, st);
    else if (st != TOFU_SUCCESS)
        ASSERT_STATUS(TOFU_SHUTDOWN_STARTED, st);
    return after;
}

/* The thread the documented rule is about: it loops on an unbounded
 * tofu_wait_receive and keeps calling after shutdown_started. */
static void race_receiver(void *arg) {
    racer *me = arg;
    race *r = me->r;
    int after = 0;
    while (after < RACE_CALLS_AFTER) {
        bool was = atomic_load(&r->destroyed);
        tofu_msg *m = NULL;
        tofu_status st = tofu_wait_receive(r->g, TOFU_WAIT_INFINITE, &m);
        if (st == TOFU_SUCCESS)
            ASSERT_NOT_NULL(m);
        else
            ASSERT_NULL(m);
        tofu_put(r->e, &m);
        after += race_check(r, was, st);
    }
}

/* One call of a random kind: post, update_receiver (engine Signal or the
 * caller's message), or a look at the queue. */
static tofu_status race_call(race *r, tofu_t_rng *rng) {
    tofu_msg *m = NULL;
    tofu_status st;
    switch (tofu_t_rng_below(rng, 5)) {
    case 0:
        m = signal_for(r->e, r->lch);
        st = tofu_post(r->g, &m, NULL);
        break;
    case 1:
        m = hello_request(r->e);
        st = tofu_post(r->g, &m, NULL);
        break;
    case 2:
        st = tofu_update_receiver(r->g, NULL);
        break;
    case 3:
        m = tofu_t_get(r->e);
        st = tofu_update_receiver(r->g, &m);
        break;
    default:
        st = tofu_wait_receive(r->g, 0, &m);
        break;
    }
    tofu_put(r->e, &m); /* what a failed call left us, or what we received */
    return st;
}

static void race_worker(void *arg) {
    racer *me = arg;
    race *r = me->r;
    tofu_t_rng rng;
    tofu_t_rng_seed(&rng, me->seed);
    int after = 0;
    while (after < RACE_CALLS_AFTER) {
        bool was = atomic_load(&r->destroyed);
        after += race_check(r, was, race_call(r, &rng));
    }
}

static void race_wait_calls(race *r, int n) {
    uint64_t deadline = tofui_clock_ns() + TOFU_T_WAIT_S * 1000000000ull;
    while (atomic_load(&r->calls) < n) {
        ASSERT_TRUE(tofui_clock_ns() < deadline);
        tofui_sleep_ms(1);
    }
}

/* What issue 12 describes: a thread still looping on tofu_wait_receive (and
 * seven others posting, updating the receiver and polling) while the group
 * is destroyed. Every call returns success or shutdown_started, every call
 * after the destroy returned shutdown_started, no message is lost track of,
 * and under the sanitizers no freed memory is touched. A HelloRequest that
 * got in before the destroy opens a channel that the destroy closes. */
TEST(destroy_races_with_calls_from_many_threads) {
    tofu_engine *e = tofu_t_engine(0, 0);
    for (int round = 0; round < RACE_ROUNDS; round++) {
        race r = {.e = e, .g = tofu_t_group(e)};
        atomic_init(&r.destroyed, false);
        atomic_init(&r.calls, 0);
        LISTEN_TCP(e, r.g, "127.0.0.1", &r.lch);
        racer th[RACE_WORKERS + 1];
        for (int i = 0; i <= RACE_WORKERS; i++) {
            th[i] = (racer){.r = &r, .seed = (uint64_t)(round * 100 + i + 1)};
            tofu_t_thread_start(&th[i].t, i == 0 ? race_receiver : race_worker, &th[i]);
        }
        race_wait_calls(&r, RACE_CALLS_BEFORE);
        ASSERT_OK(tofu_group_destroy(e, r.g));
        atomic_store(&r.destroyed, true);
        for (int i = 0; i <= RACE_WORKERS; i++)
            tofu_t_thread_join(&th[i].t);
    }
    tofu_engine_destroy(e);
    ASSERT_NO_LEAKS();
}

typedef struct destroyer {
    tofu_engine *e;
    tofu_group *g;
    tofu_status got;
    tofu_t_thread t;
} destroyer;

static void destroyer_main(void *arg) {
    destroyer *d = arg;
    d->got = tofu_group_destroy(d->e, d->g);
    /* Whichever destroy this was, the group is destroyed when it returns. */
    ASSERT_STATUS(TOFU_SHUTDOWN_STARTED, tofu_update_receiver(d->g, NULL));
}

/* Two threads destroy the same group (with a listener) at once: one gets
 * success, the other shutdown_started, and neither returns before the group
 * is destroyed. */
TEST(two_threads_destroy_the_same_group) {
    tofu_engine *e = tofu_t_engine(0, 0);
    for (int round = 0; round < 20; round++) {
        tofu_group *g = tofu_t_group(e);
        uint16_t lch = 0;
        LISTEN_TCP(e, g, "127.0.0.1", &lch);
        destroyer d[2];
        for (int i = 0; i < 2; i++) {
            d[i] = (destroyer){.e = e, .g = g, .got = TOFU_UNKNOWN_ERROR};
            tofu_t_thread_start(&d[i].t, destroyer_main, &d[i]);
        }
        for (int i = 0; i < 2; i++)
            tofu_t_thread_join(&d[i].t);
        bool one_each = (d[0].got == TOFU_SUCCESS && d[1].got == TOFU_SHUTDOWN_STARTED) ||
                        (d[1].got == TOFU_SUCCESS && d[0].got == TOFU_SHUTDOWN_STARTED);
        if (!one_each)
            tofu_t_fail(__FILE__, __LINE__, "round %d: destroys returned %s and %s", round,
                        tofu_status_name(d[0].got), tofu_status_name(d[1].got));
    }
    tofu_engine_destroy(e);
    ASSERT_NO_LEAKS();
}
