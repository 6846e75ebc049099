/* The poller contract (src/platform/poller.h), the same for every backend:
 * epoll, poll and AFD. Real sockets on the loopback interface; every case
 * checks at its end that it left no socket or wake-up handle open. */
#include <stdatomic.h>

#include "test.h"

#include "platform/platform.h"
#include "platform/poller.h"

#define T_PATIENCE_MS 5000
#define T_MAX_EVENTS 16

#define T_BEGIN() const uint64_t t_sockets_at_start = tofu_open_sockets()
#define T_END() ASSERT_EQ(tofu_open_sockets(), t_sockets_at_start)

/* ------------------------------------------------------------------------ */
/* helpers                                                                  */
/* ------------------------------------------------------------------------ */

typedef struct t_pair {
    tofui_sockaddr bound;
    tofui_socket listener, client, server;
} t_pair;

static tofui_sockaddr t_loopback(uint16_t port) {
    tofu_address a;
    tofui_sockaddr sa;
    size_t n = 0;
    memset(&a, 0, sizeof a);
    a.transport = TOFU_TRANSPORT_TCP;
    snprintf(a.host, sizeof a.host, "127.0.0.1");
    a.port = port;
    ASSERT_OK(tofui_sock_resolve(&a, true, &sa, 1, &n));
    return sa;
}

static tofui_socket t_accept(tofui_socket l) {
    tofui_socket s = TOFUI_INVALID_SOCKET;
    for (int i = 0; i < T_PATIENCE_MS && s == TOFUI_INVALID_SOCKET; i++) {
        ASSERT_OK(tofui_sock_accept(l, &s));
        if (s == TOFUI_INVALID_SOCKET)
            tofui_sleep_ms(1);
    }
    ASSERT_TRUE(s != TOFUI_INVALID_SOCKET);
    return s;
}

/* A connected TCP pair over 127.0.0.1, listener kept for accept tests. */
static void t_open_pair(t_pair *c) {
    tofu_address here;
    bool in_progress = false;
    c->bound = t_loopback(0);
    ASSERT_OK(tofui_sock_listen(&c->bound, &c->listener));
    ASSERT_OK(tofui_sock_local_address(c->listener, &c->bound, &here));
    tofui_sockaddr target = t_loopback(here.port);
    ASSERT_OK(tofui_sock_connect(&target, &c->client, &in_progress));
    c->server = t_accept(c->listener);
    ASSERT_OK(tofui_sock_connect_result(c->client));
}

static void t_close_pair(t_pair *c) {
    tofui_sock_close(c->client);
    tofui_sock_close(c->server);
    tofui_sock_close_listener(c->listener, &c->bound);
}

static void t_send(tofui_socket s, const char *text) {
    tofui_iov iov = {text, strlen(text)};
    size_t w = 0;
    ASSERT_OK(tofui_sock_writev(s, &iov, 1, &w));
    ASSERT_EQ(w, strlen(text));
}

/* Waits until `data` shows up in an event (or the patience runs out) and
 * returns its bits; 0 if it never did. */
static unsigned t_wait_for(tofui_poller *p, void *data, int timeout_ms) {
    tofui_event ev[T_MAX_EVENTS];
    uint64_t deadline = tofui_clock_ns() + (uint64_t)timeout_ms * 1000000u;
    while (tofui_clock_ns() < deadline) {
        bool woken = false;
        int n = tofui_poller_wait(p, ev, T_MAX_EVENTS, 50, &woken);
        ASSERT_TRUE(n >= 0);
        for (int i = 0; i < n; i++)
            if (ev[i].data == data)
                return ev[i].events;
    }
    return 0;
}

static uint64_t t_ms_since(uint64_t start_ns) {
    return (tofui_clock_ns() - start_ns) / 1000000u;
}

/* ------------------------------------------------------------------------ */
/* cases                                                                    */
/* ------------------------------------------------------------------------ */

/* The backend is the one the build chose (TOFU_POLLER_USED, passed in by
 * tests/CMakeLists.txt): a build that asked for poll and silently got epoll
 * fails here. */
TEST(poller_is_the_configured_backend) {
    const char *name = tofui_poller_name();
    ASSERT_TRUE(strcmp(name, "epoll") == 0 || strcmp(name, "poll") == 0 ||
                strcmp(name, "afd") == 0);
    ASSERT_STR_EQ(name, TOFU_T_POLLER_EXPECTED);
    printf("backend: %s\n", name);
}

TEST(create_and_destroy_release_every_handle) {
    T_BEGIN();
    for (int i = 0; i < 100; i++) {
        tofui_poller *p = NULL;
        ASSERT_OK(tofui_poller_create(&p));
        ASSERT_NOT_NULL(p);
        tofui_poller_destroy(p);
    }
    T_END();
}

TEST(wait_with_nothing_to_report_times_out) {
    T_BEGIN();
    tofui_poller *p = NULL;
    tofui_event ev[T_MAX_EVENTS];
    bool woken = true;
    ASSERT_OK(tofui_poller_create(&p));
    uint64_t start = tofui_clock_ns();
    ASSERT_EQ_I(tofui_poller_wait(p, ev, T_MAX_EVENTS, 50, &woken), 0);
    ASSERT_FALSE(woken);
    ASSERT_TRUE(t_ms_since(start) >= 45);
    ASSERT_EQ_I(tofui_poller_wait(p, ev, T_MAX_EVENTS, 0, &woken), 0);
    tofui_poller_destroy(p);
    T_END();
}

TEST(readable_after_peer_write_with_its_data_pointer) {
    T_BEGIN();
    t_pair c;
    tofui_poller *p = NULL;
    tofui_event ev[T_MAX_EVENTS];
    bool woken = true;
    int tag;
    t_open_pair(&c);
    ASSERT_OK(tofui_poller_create(&p));
    ASSERT_OK(tofui_poller_add(p, c.server, &tag, TOFUI_POLL_IN));
    ASSERT_EQ_I(tofui_poller_wait(p, ev, T_MAX_EVENTS, 0, &woken), 0);
    t_send(c.client, "ping");
    ASSERT_EQ_I(tofui_poller_wait(p, ev, T_MAX_EVENTS, T_PATIENCE_MS, &woken), 1);
    ASSERT_FALSE(woken);
    ASSERT_TRUE(ev[0].data == &tag);
    ASSERT_TRUE(ev[0].events & TOFUI_POLL_IN);
    ASSERT_FALSE(ev[0].events & (TOFUI_POLL_OUT | TOFUI_POLL_ERR | TOFUI_POLL_HUP));
    /* Level-triggered: still readable until read. */
    ASSERT_EQ_I(tofui_poller_wait(p, ev, T_MAX_EVENTS, 0, &woken), 1);
    char buf[8];
    size_t got = 0;
    ASSERT_OK(tofui_sock_read(c.server, buf, sizeof buf, &got));
    ASSERT_MEM_EQ(buf, got, "ping", 4);
    ASSERT_EQ_I(tofui_poller_wait(p, ev, T_MAX_EVENTS, 0, &woken), 0);
    tofui_poller_remove(p, c.server);
    tofui_poller_destroy(p);
    t_close_pair(&c);
    T_END();
}

TEST(writable_immediately) {
    T_BEGIN();
    t_pair c;
    tofui_poller *p = NULL;
    tofui_event ev[T_MAX_EVENTS];
    bool woken = false;
    int tag;
    t_open_pair(&c);
    ASSERT_OK(tofui_poller_create(&p));
    ASSERT_OK(tofui_poller_add(p, c.client, &tag, TOFUI_POLL_OUT));
    ASSERT_EQ_I(tofui_poller_wait(p, ev, T_MAX_EVENTS, T_PATIENCE_MS, &woken), 1);
    ASSERT_TRUE(ev[0].data == &tag);
    ASSERT_EQ(ev[0].events, TOFUI_POLL_OUT);
    tofui_poller_remove(p, c.client);
    tofui_poller_destroy(p);
    t_close_pair(&c);
    T_END();
}

TEST(modify_switches_interest_from_in_to_out) {
    T_BEGIN();
    t_pair c;
    tofui_poller *p = NULL;
    tofui_event ev[T_MAX_EVENTS];
    bool woken = false;
    int tag, tag2;
    t_open_pair(&c);
    ASSERT_OK(tofui_poller_create(&p));
    ASSERT_OK(tofui_poller_add(p, c.server, &tag, TOFUI_POLL_IN));
    ASSERT_EQ_I(tofui_poller_wait(p, ev, T_MAX_EVENTS, 20, &woken), 0);
    ASSERT_OK(tofui_poller_modify(p, c.server, &tag2, TOFUI_POLL_OUT));
    ASSERT_EQ_I(tofui_poller_wait(p, ev, T_MAX_EVENTS, T_PATIENCE_MS, &woken), 1);
    ASSERT_TRUE(ev[0].data == &tag2); /* modify also replaces the pointer */
    ASSERT_EQ(ev[0].events, TOFUI_POLL_OUT);
    /* Interest 0: readable data is not reported any more. */
    t_send(c.client, "x");
    ASSERT_OK(tofui_poller_modify(p, c.server, &tag, 0));
    ASSERT_EQ_I(tofui_poller_wait(p, ev, T_MAX_EVENTS, 50, &woken), 0);
    ASSERT_OK(tofui_poller_modify(p, c.server, &tag, TOFUI_POLL_IN | TOFUI_POLL_OUT));
    ASSERT_EQ_I(tofui_poller_wait(p, ev, T_MAX_EVENTS, T_PATIENCE_MS, &woken), 1);
    ASSERT_EQ(ev[0].events, TOFUI_POLL_IN | TOFUI_POLL_OUT);
    tofui_poller_remove(p, c.server);
    tofui_poller_destroy(p);
    t_close_pair(&c);
    T_END();
}

TEST(add_twice_updates_and_modify_of_unknown_adds) {
    T_BEGIN();
    t_pair c;
    tofui_poller *p = NULL;
    tofui_event ev[T_MAX_EVENTS];
    bool woken = false;
    int tag, tag2;
    t_open_pair(&c);
    ASSERT_OK(tofui_poller_create(&p));
    ASSERT_OK(tofui_poller_add(p, c.client, &tag, TOFUI_POLL_IN));
    ASSERT_OK(tofui_poller_add(p, c.client, &tag2, TOFUI_POLL_OUT));
    ASSERT_EQ_I(tofui_poller_wait(p, ev, T_MAX_EVENTS, T_PATIENCE_MS, &woken), 1);
    ASSERT_TRUE(ev[0].data == &tag2);
    ASSERT_OK(tofui_poller_modify(p, c.server, &tag, TOFUI_POLL_OUT));
    ASSERT_EQ_I(tofui_poller_wait(p, ev, T_MAX_EVENTS, T_PATIENCE_MS, &woken), 2);
    tofui_poller_remove(p, c.client);
    tofui_poller_remove(p, c.server);
    tofui_poller_remove(p, c.server); /* idempotent */
    tofui_poller_destroy(p);
    t_close_pair(&c);
    T_END();
}

TEST(remove_prevents_further_events) {
    T_BEGIN();
    t_pair c;
    tofui_poller *p = NULL;
    tofui_event ev[T_MAX_EVENTS];
    bool woken = false;
    int tag;
    t_open_pair(&c);
    ASSERT_OK(tofui_poller_create(&p));
    ASSERT_OK(tofui_poller_add(p, c.server, &tag, TOFUI_POLL_IN | TOFUI_POLL_OUT));
    ASSERT_EQ_I(tofui_poller_wait(p, ev, T_MAX_EVENTS, T_PATIENCE_MS, &woken), 1);
    tofui_poller_remove(p, c.server);
    t_send(c.client, "data");
    ASSERT_EQ_I(tofui_poller_wait(p, ev, T_MAX_EVENTS, 50, &woken), 0);
    tofui_poller_destroy(p);
    t_close_pair(&c);
    T_END();
}

TEST(two_sockets_are_both_readable) {
    T_BEGIN();
    t_pair a, b;
    tofui_poller *p = NULL;
    tofui_event ev[T_MAX_EVENTS];
    bool woken = false;
    int tag_a, tag_b;
    unsigned seen_a = 0, seen_b = 0;
    t_open_pair(&a);
    t_open_pair(&b);
    ASSERT_OK(tofui_poller_create(&p));
    ASSERT_OK(tofui_poller_add(p, a.server, &tag_a, TOFUI_POLL_IN));
    ASSERT_OK(tofui_poller_add(p, b.server, &tag_b, TOFUI_POLL_IN));
    t_send(a.client, "a");
    t_send(b.client, "b");
    for (int i = 0; i < 100 && !(seen_a && seen_b); i++) {
        int n = tofui_poller_wait(p, ev, T_MAX_EVENTS, 50, &woken);
        ASSERT_TRUE(n >= 0 && n <= 2);
        for (int k = 0; k < n; k++) {
            ASSERT_TRUE(ev[k].data == &tag_a || ev[k].data == &tag_b);
            if (ev[k].data == &tag_a)
                seen_a = ev[k].events;
            else
                seen_b = ev[k].events;
        }
    }
    ASSERT_EQ(seen_a, TOFUI_POLL_IN);
    ASSERT_EQ(seen_b, TOFUI_POLL_IN);
    tofui_poller_remove(p, a.server);
    tofui_poller_remove(p, b.server);
    tofui_poller_destroy(p);
    t_close_pair(&a);
    t_close_pair(&b);
    T_END();
}

TEST(only_the_socket_that_got_data_is_reported) {
    T_BEGIN();
    t_pair a, b;
    tofui_poller *p = NULL;
    tofui_event ev[T_MAX_EVENTS];
    bool woken = false;
    int tag_a, tag_b;
    t_open_pair(&a);
    t_open_pair(&b);
    ASSERT_OK(tofui_poller_create(&p));
    ASSERT_OK(tofui_poller_add(p, a.server, &tag_a, TOFUI_POLL_IN));
    ASSERT_OK(tofui_poller_add(p, b.server, &tag_b, TOFUI_POLL_IN));
    t_send(b.client, "b");
    ASSERT_EQ_I(tofui_poller_wait(p, ev, T_MAX_EVENTS, T_PATIENCE_MS, &woken), 1);
    ASSERT_TRUE(ev[0].data == &tag_b);
    tofui_poller_remove(p, a.server);
    tofui_poller_remove(p, b.server);
    tofui_poller_destroy(p);
    t_close_pair(&a);
    t_close_pair(&b);
    T_END();
}

TEST(more_ready_sockets_than_max_are_all_served_over_successive_waits) {
    T_BEGIN();
    enum { N = 5 };
    t_pair c[N];
    int tags[N];
    bool seen[N] = {false};
    tofui_poller *p = NULL;
    tofui_event ev[2];
    bool woken = false;
    ASSERT_OK(tofui_poller_create(&p));
    for (int i = 0; i < N; i++) {
        t_open_pair(&c[i]);
        ASSERT_OK(tofui_poller_add(p, c[i].server, &tags[i], TOFUI_POLL_IN));
        t_send(c[i].client, "z");
    }
    tofui_sleep_ms(20); /* all five readable before the first wait */
    /* Level-triggered and never read: a fair poller still reaches all five
     * within a few waits of two events each. */
    for (int round = 0; round < 3 * N; round++) {
        int n = tofui_poller_wait(p, ev, 2, T_PATIENCE_MS, &woken);
        ASSERT_TRUE(n >= 1 && n <= 2);
        for (int k = 0; k < n; k++)
            seen[(int *)ev[k].data - tags] = true;
    }
    for (int i = 0; i < N; i++)
        ASSERT_TRUE(seen[i]);
    for (int i = 0; i < N; i++) {
        tofui_poller_remove(p, c[i].server);
        t_close_pair(&c[i]);
    }
    tofui_poller_destroy(p);
    T_END();
}

TEST(listener_is_readable_when_a_connection_is_pending) {
    T_BEGIN();
    tofui_poller *p = NULL;
    tofui_sockaddr bound = t_loopback(0);
    tofui_socket l = TOFUI_INVALID_SOCKET, s = TOFUI_INVALID_SOCKET, srv = TOFUI_INVALID_SOCKET;
    tofu_address here;
    bool in_progress = false;
    int tag;
    ASSERT_OK(tofui_sock_listen(&bound, &l));
    ASSERT_OK(tofui_sock_local_address(l, &bound, &here));
    ASSERT_OK(tofui_poller_create(&p));
    ASSERT_OK(tofui_poller_add(p, l, &tag, TOFUI_POLL_IN));
    tofui_sockaddr target = t_loopback(here.port);
    ASSERT_OK(tofui_sock_connect(&target, &s, &in_progress));
    ASSERT_TRUE(t_wait_for(p, &tag, T_PATIENCE_MS) & TOFUI_POLL_IN);
    ASSERT_OK(tofui_sock_accept(l, &srv));
    ASSERT_TRUE(srv != TOFUI_INVALID_SOCKET);
    tofui_poller_remove(p, l);
    tofui_poller_destroy(p);
    tofui_sock_close(srv);
    tofui_sock_close(s);
    tofui_sock_close_listener(l, &bound);
    T_END();
}

TEST(connecting_socket_becomes_writable_and_connected) {
    T_BEGIN();
    tofui_poller *p = NULL;
    tofui_sockaddr bound = t_loopback(0);
    tofui_socket l = TOFUI_INVALID_SOCKET, s = TOFUI_INVALID_SOCKET;
    tofu_address here;
    bool in_progress = false;
    int tag;
    ASSERT_OK(tofui_sock_listen(&bound, &l));
    ASSERT_OK(tofui_sock_local_address(l, &bound, &here));
    tofui_sockaddr target = t_loopback(here.port);
    ASSERT_OK(tofui_sock_connect(&target, &s, &in_progress));
    ASSERT_OK(tofui_poller_create(&p));
    ASSERT_OK(tofui_poller_add(p, s, &tag, TOFUI_POLL_OUT));
    ASSERT_EQ(t_wait_for(p, &tag, T_PATIENCE_MS), TOFUI_POLL_OUT);
    ASSERT_OK(tofui_sock_connect_result(s));
    tofui_poller_remove(p, s);
    tofui_poller_destroy(p);
    tofui_sock_close(t_accept(l));
    tofui_sock_close(s);
    tofui_sock_close_listener(l, &bound);
    T_END();
}

TEST(end_of_stream_is_reported_as_readable) {
    T_BEGIN();
    t_pair c;
    tofui_poller *p = NULL;
    int tag;
    t_open_pair(&c);
    ASSERT_OK(tofui_poller_create(&p));
    ASSERT_OK(tofui_poller_add(p, c.server, &tag, TOFUI_POLL_IN));
    tofui_sock_shutdown_write(c.client);
    ASSERT_TRUE(t_wait_for(p, &tag, T_PATIENCE_MS) & TOFUI_POLL_IN);
    char buf[4];
    size_t got = 0;
    ASSERT_STATUS(TOFU_PEER_DISCONNECTED, tofui_sock_read(c.server, buf, sizeof buf, &got));
    tofui_poller_remove(p, c.server);
    tofui_poller_destroy(p);
    t_close_pair(&c);
    T_END();
}

TEST(hup_or_err_is_reported_after_peer_reset) {
    T_BEGIN();
    t_pair c;
    tofui_poller *p = NULL;
    int tag;
    t_open_pair(&c);
    ASSERT_OK(tofui_poller_create(&p));
    ASSERT_OK(tofui_poller_add(p, c.server, &tag, TOFUI_POLL_IN));
    tofui_sock_abort(c.client);
    c.client = TOFUI_INVALID_SOCKET;
    ASSERT_TRUE(t_wait_for(p, &tag, T_PATIENCE_MS) & (TOFUI_POLL_HUP | TOFUI_POLL_ERR));
    char buf[4];
    size_t got = 0;
    ASSERT_STATUS(TOFU_RECV_FAILED, tofui_sock_read(c.server, buf, sizeof buf, &got));
    tofui_poller_remove(p, c.server);
    tofui_poller_destroy(p);
    t_close_pair(&c);
    T_END();
}

typedef struct t_waker {
    tofui_poller *p;
    unsigned delay_ms;
    atomic_bool called; /* set just before the wake: the wait must not return before */
} t_waker;

static void t_wake_later(void *arg) {
    t_waker *w = arg;
    tofui_sleep_ms(w->delay_ms);
    atomic_store(&w->called, true);
    tofui_poller_wake(w->p);
}

TEST(wake_from_another_thread_interrupts_an_infinite_wait) {
    T_BEGIN();
    tofui_poller *p = NULL;
    tofui_event ev[T_MAX_EVENTS];
    tofui_thread t;
    bool woken = false;
    ASSERT_OK(tofui_poller_create(&p));
    t_waker w = {p, 30, false};
    ASSERT_OK(tofui_thread_create(&t, t_wake_later, &w));
    int n = tofui_poller_wait(p, ev, T_MAX_EVENTS, -1, &woken);
    ASSERT_EQ_I(n, 0);
    ASSERT_TRUE(woken);
    /* Woken by that wake, not spuriously (a flag, not a clock: no timing). */
    ASSERT_TRUE(atomic_load(&w.called));
    tofui_thread_join(&t);
    /* Consumed: the next wait times out. */
    ASSERT_EQ_I(tofui_poller_wait(p, ev, T_MAX_EVENTS, 20, &woken), 0);
    ASSERT_FALSE(woken);
    tofui_poller_destroy(p);
    T_END();
}

TEST(a_thousand_wakes_before_a_wait_give_one_wake_up) {
    T_BEGIN();
    tofui_poller *p = NULL;
    tofui_event ev[T_MAX_EVENTS];
    bool woken = false;
    ASSERT_OK(tofui_poller_create(&p));
    for (int i = 0; i < 1000; i++)
        tofui_poller_wake(p);
    ASSERT_EQ_I(tofui_poller_wait(p, ev, T_MAX_EVENTS, T_PATIENCE_MS, &woken), 0);
    ASSERT_TRUE(woken);
    ASSERT_EQ_I(tofui_poller_wait(p, ev, T_MAX_EVENTS, 30, &woken), 0);
    ASSERT_FALSE(woken);
    /* And the next wake works again. */
    tofui_poller_wake(p);
    ASSERT_EQ_I(tofui_poller_wait(p, ev, T_MAX_EVENTS, T_PATIENCE_MS, &woken), 0);
    ASSERT_TRUE(woken);
    tofui_poller_destroy(p);
    T_END();
}

TEST(wake_and_socket_event_arrive_in_one_wait) {
    T_BEGIN();
    t_pair c;
    tofui_poller *p = NULL;
    tofui_event ev[T_MAX_EVENTS];
    bool woken = false;
    int tag;
    t_open_pair(&c);
    ASSERT_OK(tofui_poller_create(&p));
    ASSERT_OK(tofui_poller_add(p, c.client, &tag, TOFUI_POLL_OUT));
    tofui_poller_wake(p);
    ASSERT_EQ_I(tofui_poller_wait(p, ev, 1, T_PATIENCE_MS, &woken), 1);
    ASSERT_TRUE(woken);
    ASSERT_TRUE(ev[0].data == &tag);
    tofui_poller_remove(p, c.client);
    tofui_poller_destroy(p);
    t_close_pair(&c);
    T_END();
}

typedef struct t_storm {
    tofui_poller *p;
    int wakes;
} t_storm;

static void t_wake_storm(void *arg) {
    t_storm *s = arg;
    for (int i = 0; i < s->wakes; i++)
        tofui_poller_wake(s->p);
}

/* Many threads waking while the owner waits: no wake-up is ever lost (the
 * last wake of each storm is seen by a wait that follows it). */
TEST(wakes_racing_with_waits_are_never_lost) {
    T_BEGIN();
    tofui_poller *p = NULL;
    tofui_event ev[T_MAX_EVENTS];
    tofui_thread t[4];
    bool woken = false;
    ASSERT_OK(tofui_poller_create(&p));
    for (int round = 0; round < 50; round++) {
        t_storm s = {p, 2000};
        for (int i = 0; i < 4; i++)
            ASSERT_OK(tofui_thread_create(&t[i], t_wake_storm, &s));
        for (int i = 0; i < 2000; i++)
            tofui_poller_wait(p, ev, T_MAX_EVENTS, 0, &woken);
        for (int i = 0; i < 4; i++)
            tofui_thread_join(&t[i]);
        /* Every storm has ended; a wake made after the last consumed one
         * must still be pending, or none was. Either way, one more wake is
         * seen at once. */
        tofui_poller_wait(p, ev, T_MAX_EVENTS, 0, &woken);
        tofui_poller_wake(p);
        ASSERT_EQ_I(tofui_poller_wait(p, ev, T_MAX_EVENTS, T_PATIENCE_MS, &woken), 0);
        ASSERT_TRUE(woken);
    }
    tofui_poller_destroy(p);
    T_END();
}
