/*
 * The timing wheel (src/util/wheel.c): each timer is handed back exactly
 * once, in the tick it is due when the wheel is advanced tick by tick to
 * its next event, never before its expiry however the wheel is advanced,
 * and a removed timer never; checked against a plain list over random runs
 * that cover all four levels, the far end and jumps of any length.
 */
#include "test.h"
#include "util/wheel.h"

#define WHEEL_T_TIMERS 2000

typedef struct wt {
    tofui_wheel_timer t;
    uint64_t expiry;
    bool active;  /* added, not removed, not popped */
    bool popped;
} wt;

static wt *wt_of(tofui_wheel_timer *t) {
    return TOFUI_CONTAINER(t, wt, t);
}

static tofui_wheel w; /* big: 4 x 256 list heads */

/* Takes every due timer: each must be active and due. */
static size_t take_due(uint64_t now) {
    size_t n = 0;
    tofui_wheel_timer *t;
    while ((t = tofui_wheel_pop_due(&w)) != NULL) {
        wt *x = wt_of(t);
        ASSERT_TRUE(x->active);
        ASSERT_TRUE(x->expiry <= now);
        x->active = false;
        x->popped = true;
        n++;
    }
    return n;
}

/* The earliest expiry of the active timers, UINT64_MAX when none. */
static uint64_t earliest(const wt *v, size_t n) {
    uint64_t e = UINT64_MAX;
    for (size_t i = 0; i < n; i++)
        if (v[i].active && v[i].expiry < e)
            e = v[i].expiry;
    return e;
}

/* A span of ticks that lands on every level and beyond. */
static uint64_t random_span(tofu_t_rng *r) {
    switch (tofu_t_rng_below(r, 6)) {
    case 0:
        return tofu_t_rng_below(r, 4);
    case 1:
        return tofu_t_rng_below(r, 256);
    case 2:
        return tofu_t_rng_below(r, 65536);
    case 3:
        return tofu_t_rng_below(r, 1ull << 24);
    case 4:
        return tofu_t_rng_below(r, 1ull << 32);
    default:
        return (1ull << 32) + tofu_t_rng_below(r, 1ull << 33); /* past the far end */
    }
}

/* Advanced only to the tick it names as next, the wheel hands each timer
 * over exactly in its expiry tick: the next event is never later than the
 * earliest expiry, and the jumps in between lose nothing. */
TEST(timers_fire_exactly_in_their_tick) {
    static wt v[WHEEL_T_TIMERS];
    tofu_t_rng r;
    tofu_t_rng_seed(&r, 42);
    uint64_t start = tofu_t_rng_below(&r, 1ull << 40);
    tofui_wheel_init(&w, start);
    for (size_t i = 0; i < WHEEL_T_TIMERS; i++) {
        v[i] = (wt){.expiry = start + random_span(&r), .active = true};
        tofui_wheel_add(&w, &v[i].t, v[i].expiry);
    }
    for (size_t i = 0; i < WHEEL_T_TIMERS; i += 7) { /* some go before they fire */
        tofui_wheel_remove(&w, &v[i].t);
        v[i].active = false;
    }
    uint64_t now = start;
    size_t fired = take_due(now), steps = 0;
    while (earliest(v, WHEEL_T_TIMERS) != UINT64_MAX) {
        uint64_t next = tofui_wheel_next(&w);
        uint64_t want = earliest(v, WHEEL_T_TIMERS);
        ASSERT_TRUE(next <= want);
        ASSERT_TRUE(next > now);
        tofui_wheel_advance(&w, next);
        now = next;
        size_t got = take_due(now);
        /* everything due now is out, nothing later */
        ASSERT_TRUE(earliest(v, WHEEL_T_TIMERS) > now);
        ASSERT_EQ(got > 0, want == now);
        fired += got;
        ASSERT_TRUE(++steps < 100000); /* no tick-by-tick crawl */
    }
    ASSERT_EQ(tofui_wheel_next(&w), UINT64_MAX);
    for (size_t i = 0; i < WHEEL_T_TIMERS; i++)
        ASSERT_EQ(v[i].popped, i % 7 != 0);
    ASSERT_EQ(fired, WHEEL_T_TIMERS - (WHEEL_T_TIMERS + 6) / 7);
    printf("%zu timers, %zu wake-ups\n", fired, steps);
}

/* Advanced by random jumps, with timers added and removed as it goes: a
 * timer is never handed over before its expiry, always by the first
 * advance that reaches it, and exactly once. */
TEST(random_jumps_adds_and_removes) {
    static wt v[WHEEL_T_TIMERS];
    tofu_t_rng r;
    tofu_t_rng_seed(&r, 7);
    uint64_t now = 1000;
    tofui_wheel_init(&w, now);
    size_t added = 0;
    for (int round = 0; round < 20000; round++) {
        uint64_t op = tofu_t_rng_below(&r, 10);
        if (op < 4 && added < WHEEL_T_TIMERS) {
            wt *x = &v[added++];
            *x = (wt){.expiry = now + random_span(&r), .active = true};
            tofui_wheel_add(&w, &x->t, x->expiry);
            take_due(now); /* a timer due at once is due now */
        } else if (op < 6 && added > 0) {
            wt *x = &v[tofu_t_rng_below(&r, added)];
            tofui_wheel_remove(&w, &x->t);
            tofui_wheel_remove(&w, &x->t); /* twice is harmless */
            x->active = false;
        } else {
            now += random_span(&r) / (1 + tofu_t_rng_below(&r, 1000));
            tofui_wheel_advance(&w, now);
            take_due(now);
            ASSERT_TRUE(earliest(v, added) > now);
        }
    }
    now = UINT64_MAX / 2;
    tofui_wheel_advance(&w, now);
    take_due(now);
    ASSERT_EQ(earliest(v, added), UINT64_MAX);
    ASSERT_EQ(tofui_wheel_next(&w), UINT64_MAX);
}

/* A timer due now or in the past is due at once; advancing backwards or to
 * the present changes nothing. */
TEST(past_and_present) {
    static wt a, b;
    tofui_wheel_init(&w, 500);
    a = (wt){.expiry = 10, .active = true};
    b = (wt){.expiry = 500, .active = true};
    tofui_wheel_add(&w, &a.t, a.expiry);
    tofui_wheel_add(&w, &b.t, b.expiry);
    ASSERT_EQ(tofui_wheel_next(&w), 500);
    tofui_wheel_advance(&w, 400);
    ASSERT_EQ(take_due(500), 2);
    ASSERT_EQ(tofui_wheel_next(&w), UINT64_MAX);
}
