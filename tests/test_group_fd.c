/*
 * The group's pollable descriptor (tofu_group_fd), tofu_try_receive and
 * tofu_receive_many: the descriptor is readable exactly while a receive
 * would get something, with poll, select and epoll alike; no wake-up is
 * lost against a delivering thread; a destroyed group's descriptor stays
 * readable and receives say shutdown_started; the handles are counted and
 * released by engine destroy.
 */
#include "engine_util.h"
#include "fdwait.h"

#define HANG_MS 10000 /* only turns a lost wake-up into a failure */

/* A receiver_update of the caller's own message, carrying `id`. */
static void queue_one(tofu_engine *e, tofu_group *g, uint64_t id) {
    tofu_msg *m = tofu_t_get(e);
    tofu_msg_set_id(m, id);
    ASSERT_OK(tofu_update_receiver(g, &m));
    ASSERT_NULL(m);
}

static int readable_now(tofu_fd fd, tofu_t_waiter w) {
    int r = tofu_t_fd_readable(fd, 0, w);
    if (r == -2)
        tofu_t_skip("this system has no such waiter");
    ASSERT_TRUE(r >= 0);
    return r;
}

/* The level-triggered contract, step by step, with one waiter. */
static void readable_exactly_while_queued(tofu_t_waiter w) {
    tofu_engine *e = tofu_t_engine(0, 0);
    tofu_group *g = tofu_t_group(e);
    tofu_fd fd;
    ASSERT_OK(tofu_group_fd(g, &fd));
    ASSERT_EQ(readable_now(fd, w), 0); /* empty: never readable */
    for (uint64_t id = 1; id <= 3; id++)
        queue_one(e, g, id);
    ASSERT_EQ(readable_now(fd, w), 1);
    ASSERT_EQ(readable_now(fd, w), 1); /* looking does not consume it */

    tofu_msg *m = NULL;
    ASSERT_OK(tofu_try_receive(g, &m));
    ASSERT_NOT_NULL(m);
    ASSERT_EQ(tofu_msg_id(m), 1);
    ASSERT_STATUS(TOFU_RECEIVER_UPDATE, tofu_msg_status(m));
    tofu_put(e, &m);
    ASSERT_EQ(readable_now(fd, w), 1); /* two left */

    tofu_msg *batch[8];
    size_t n = 0;
    ASSERT_OK(tofu_receive_many(g, 0, batch, 8, &n));
    ASSERT_EQ(n, 2);
    ASSERT_EQ(tofu_msg_id(batch[0]), 2);
    ASSERT_EQ(tofu_msg_id(batch[1]), 3);
    tofu_put(e, &batch[0]);
    tofu_put(e, &batch[1]);
    ASSERT_EQ(readable_now(fd, w), 0); /* drained by the receive */

    ASSERT_OK(tofu_try_receive(g, &m));
    ASSERT_NULL(m);
    queue_one(e, g, 4); /* and again */
    ASSERT_EQ(tofu_t_fd_readable(fd, HANG_MS, w), 1);
    ASSERT_OK(tofu_try_receive(g, &m));
    ASSERT_EQ(tofu_msg_id(m), 4);
    tofu_put(e, &m);
    ASSERT_EQ(readable_now(fd, w), 0);
    tofu_engine_destroy(e);
    ASSERT_NO_LEAKS();
}

TEST(readable_exactly_while_queued_poll) {
    readable_exactly_while_queued(TOFU_T_WAIT_POLL);
}

TEST(readable_exactly_while_queued_select) {
    readable_exactly_while_queued(TOFU_T_WAIT_SELECT);
}

TEST(readable_exactly_while_queued_epoll) {
    readable_exactly_while_queued(TOFU_T_WAIT_EPOLL);
}

/* Messages that were queued before anybody asked for the descriptor make it
 * readable from the start; the second call gives the same descriptor; its
 * handles are counted and engine destroy closes them. */
TEST(first_call_sees_what_is_queued_and_handles_are_counted) {
    uint64_t before = tofu_open_sockets();
    tofu_engine *e = tofu_t_engine(0, 0);
    tofu_group *g = tofu_t_group(e);
    queue_one(e, g, 7);
    uint64_t engine_only = tofu_open_sockets();
    ASSERT_TRUE(engine_only >= before);
    tofu_fd fd, again;
    ASSERT_OK(tofu_group_fd(g, &fd));
    ASSERT_TRUE(tofu_open_sockets() > engine_only);
    uint64_t with_fd = tofu_open_sockets();
    ASSERT_OK(tofu_group_fd(g, &again));
    ASSERT_EQ_I(fd, again);
    ASSERT_EQ(tofu_open_sockets(), with_fd);
    ASSERT_EQ(readable_now(fd, TOFU_T_WAIT_POLL), 1);
    tofu_msg *m = NULL;
    ASSERT_OK(tofu_try_receive(g, &m));
    ASSERT_EQ(tofu_msg_id(m), 7);
    tofu_put(e, &m);
    ASSERT_EQ(readable_now(fd, TOFU_T_WAIT_POLL), 0);
    tofu_engine_destroy(e);
    ASSERT_NO_LEAKS();
}

/* Destroy leaves the descriptor readable for good (a loop notices), receives
 * say shutdown_started, and the queued messages are freed. */
TEST(destroyed_group_stays_readable_and_receive_says_shutdown) {
    tofu_engine *e = tofu_t_engine(0, 0);
    tofu_group *g = tofu_t_group(e);
    tofu_fd fd;
    ASSERT_OK(tofu_group_fd(g, &fd));
    queue_one(e, g, 1);
    ASSERT_OK(tofu_group_destroy(e, g));
    for (int i = 0; i < 3; i++) {
        ASSERT_EQ(readable_now(fd, TOFU_T_WAIT_POLL), 1);
        tofu_msg *m = NULL;
        ASSERT_STATUS(TOFU_SHUTDOWN_STARTED, tofu_try_receive(g, &m));
        ASSERT_NULL(m);
        tofu_msg *batch[4];
        size_t n = 9;
        ASSERT_STATUS(TOFU_SHUTDOWN_STARTED, tofu_receive_many(g, 0, batch, 4, &n));
        ASSERT_EQ(n, 0);
    }
    tofu_fd again;
    ASSERT_OK(tofu_group_fd(g, &again)); /* the same one, still valid */
    ASSERT_EQ_I(fd, again);
    tofu_engine_destroy(e);
    ASSERT_NO_LEAKS();
}

/* A group destroyed before anybody asked: no descriptor is made for it. */
TEST(group_fd_after_destroy_is_shutdown_started) {
    tofu_engine *e = tofu_t_engine(0, 0);
    tofu_group *g = tofu_t_group(e);
    uint64_t sockets = tofu_open_sockets();
    ASSERT_OK(tofu_group_destroy(e, g));
    tofu_fd fd;
    ASSERT_STATUS(TOFU_SHUTDOWN_STARTED, tofu_group_fd(g, &fd));
    ASSERT_EQ(tofu_open_sockets(), sockets);
    tofu_engine_destroy(e);
    ASSERT_NO_LEAKS();
}

/* Argument errors and the wait of tofu_receive_many. */
TEST(argument_errors_and_receive_many_timeout) {
    tofu_engine *e = tofu_t_engine(0, 0);
    tofu_group *g = tofu_t_group(e);
    tofu_fd fd;
    tofu_msg *m = NULL, *batch[2];
    size_t n = 5;
    ASSERT_STATUS(TOFU_NOT_ALLOWED, tofu_group_fd(NULL, &fd));
    ASSERT_STATUS(TOFU_NOT_ALLOWED, tofu_group_fd(g, NULL));
    ASSERT_STATUS(TOFU_NULL_MESSAGE, tofu_try_receive(g, NULL));
    ASSERT_STATUS(TOFU_NOT_ALLOWED, tofu_try_receive(NULL, &m));
    ASSERT_STATUS(TOFU_NULL_MESSAGE, tofu_receive_many(g, 0, batch, 0, &n));
    ASSERT_EQ(n, 0);
    ASSERT_STATUS(TOFU_NULL_MESSAGE, tofu_receive_many(g, 0, NULL, 2, &n));
    ASSERT_STATUS(TOFU_NULL_MESSAGE, tofu_receive_many(g, 0, batch, 2, NULL));
    ASSERT_STATUS(TOFU_NOT_ALLOWED, tofu_receive_many(NULL, 0, batch, 2, &n));
    /* nothing within the timeout: success, none */
    n = 5;
    ASSERT_OK(tofu_receive_many(g, 20 * 1000000ull, batch, 2, &n));
    ASSERT_EQ(n, 0);
    tofu_engine_destroy(e);
    ASSERT_NO_LEAKS();
}

/* ---- no lost wake-up against a delivering thread ---- */

#define RACE_MSGS 20000

typedef struct producer {
    tofu_engine *e;
    tofu_group *g;
} producer;

static void produce(void *arg) {
    producer *p = arg;
    for (uint64_t id = 1; id <= RACE_MSGS; id++)
        queue_one(p->e, p->g, id);
}

/* The consumer only receives after the descriptor said readable. A lost
 * wake-up hangs the wait (failure at HANG_MS); a readiness without a
 * message shows as an empty receive (only this thread takes messages, so
 * "readable" must always mean at least one). Order is the posting order. */
static void no_lost_wakeup(tofu_t_waiter w, size_t cap) {
    tofu_engine *e = tofu_t_engine(0, 0);
    tofu_group *g = tofu_t_group(e);
    tofu_fd fd;
    ASSERT_OK(tofu_group_fd(g, &fd));
    producer p = {e, g};
    tofu_t_thread t;
    tofu_t_thread_start(&t, produce, &p);
    uint64_t next = 1;
    tofu_msg *batch[64];
    while (next <= RACE_MSGS) {
        int r = tofu_t_fd_readable(fd, HANG_MS, w);
        if (r == -2)
            tofu_t_skip("this system has no such waiter");
        ASSERT_EQ_I(r, 1);
        size_t n = 0;
        ASSERT_OK(tofu_receive_many(g, 0, batch, cap, &n));
        ASSERT_TRUE(n >= 1);
        for (size_t i = 0; i < n; i++) {
            ASSERT_EQ(tofu_msg_id(batch[i]), next);
            next++;
            tofu_put(e, &batch[i]);
        }
    }
    tofu_t_thread_join(&t);
    ASSERT_EQ(readable_now(fd, w), 0);
    tofu_engine_destroy(e);
    ASSERT_NO_LEAKS();
}

TEST(no_lost_wakeup_one_at_a_time_poll) {
    no_lost_wakeup(TOFU_T_WAIT_POLL, 1);
}

TEST(no_lost_wakeup_batches_epoll) {
    no_lost_wakeup(TOFU_T_WAIT_EPOLL, 64);
}

TEST(no_lost_wakeup_batches_select) {
    no_lost_wakeup(TOFU_T_WAIT_SELECT, 16);
}

/* ---- a real connection served from one poll loop ---- */

#define ROUNDS 200

/* One thread, two groups (server and client) of one engine, both served
 * from poll on their descriptors: the client sends ROUNDS Requests one after
 * the other, the server echoes each; every Response comes back in order. */
TEST(request_response_from_one_poll_loop) {
    tofu_engine *e = tofu_t_engine(0, 0);
    tofu_group *sg = tofu_t_group(e), *cg = tofu_t_group(e);
    uint16_t lch = 0;
    uint16_t port = LISTEN_TCP(e, sg, "127.0.0.1", &lch);
    tofu_fd sfd, cfd;
    ASSERT_OK(tofu_group_fd(sg, &sfd));
    ASSERT_OK(tofu_group_fd(cg, &cfd));
    tofu_msg *m = tofu_t_get(e);
    ASSERT_OK(tofu_msg_connect_tcp(m, "127.0.0.1", port));
    tofu_bhdr h;
    ASSERT_OK(tofu_post(cg, &m, &h));
    uint16_t cch = h.channel;
    bool connected = false;
    int answered = 0;
    uint64_t want_id = 0;
    while (answered < ROUNDS) {
        bool any = false;
        if (readable_now(sfd, TOFU_T_WAIT_POLL)) { /* the server: echo */
            any = true;
            ASSERT_OK(tofu_try_receive(sg, &m));
            ASSERT_NOT_NULL(m);
            tofu_opcode reply;
            if (!tofu_msg_from_engine(m) &&
                tofu_op_echo(tofu_msg_opcode(m), &reply) == TOFU_SUCCESS) {
                tofu_msg_set_opcode(m, reply);
                ASSERT_OK(tofu_post(sg, &m, NULL));
            } else {
                tofu_put(e, &m);
            }
        }
        if (readable_now(cfd, TOFU_T_WAIT_POLL)) { /* the client */
            any = true;
            ASSERT_OK(tofu_try_receive(cg, &m));
            ASSERT_NOT_NULL(m);
            ASSERT_STATUS(TOFU_SUCCESS, tofu_msg_status(m));
            if (connected) {
                ASSERT_EQ(tofu_msg_opcode(m), TOFU_OP_RESPONSE);
                ASSERT_EQ(tofu_msg_id(m), want_id);
                answered++;
            } else {
                ASSERT_EQ(tofu_msg_opcode(m), TOFU_OP_HELLO_RESPONSE);
                connected = true;
            }
            tofu_put(e, &m);
            if (answered < ROUNDS) {
                m = tofu_t_get(e);
                tofu_msg_set_opcode(m, TOFU_OP_REQUEST);
                tofu_msg_set_channel(m, cch);
                ASSERT_OK(tofu_msg_append_body(m, "ping", 4));
                ASSERT_OK(tofu_post(cg, &m, &h));
                want_id = h.message_id;
            }
        }
        if (!any) { /* both idle: block on both, as a loop would */
            ASSERT_EQ_I(tofu_t_either_readable(sfd, cfd, HANG_MS), 1);
        }
    }
    tofu_engine_destroy(e);
    ASSERT_NO_LEAKS();
}
