/*
 * Every Request gets exactly one answer (docs/semantics.md, "Answers"):
 * from the peer (its Response with the Request's id and `more` clear), or
 * from the engine when the Request's deadline passes or its channel closes
 * first; the close Signal comes last. Run once per transport, this thread
 * playing both applications (pair.h), so every message is checked.
 */
#include "pair.h"

/* A deadline option for post_request: none of the message's own. */
#define NO_OWN_TIMEOUT 0xFFFFFFFEu
#define HOURS_MS (3u * 3600u * 1000u)

/* Posts a Request with that id (0: assigned) and deadline; returns its id. */
static uint64_t post_request(tofu_engine *e, tofu_group *g, uint16_t ch, uint64_t id,
                             uint32_t timeout_ms) {
    tofu_msg *m = tofu_t_get(e);
    tofu_msg_set_opcode(m, TOFU_OP_REQUEST);
    tofu_msg_set_channel(m, ch);
    tofu_msg_set_id(m, id);
    if (timeout_ms != NO_OWN_TIMEOUT)
        tofu_msg_set_timeout(m, timeout_ms);
    ASSERT_OK(tofu_msg_append_body(m, "q", 1));
    return POST(g, &m).message_id;
}

/* Sends a Response with that id and `more` on channel ch. */
static void post_response(tofu_engine *e, tofu_group *g, uint16_t ch, uint64_t id, bool more) {
    tofu_msg *m = tofu_t_get(e);
    tofu_msg_set_opcode(m, TOFU_OP_RESPONSE);
    tofu_msg_set_channel(m, ch);
    tofu_msg_set_id(m, id);
    tofu_msg_bhdr(m)->more = more;
    POST(g, &m);
}

/* Posts a ByeRequest on channel ch; returns its id. */
static uint64_t post_bye_request(tofu_engine *e, tofu_group *g, uint16_t ch) {
    tofu_msg *bye = tofu_t_get(e);
    tofu_msg_set_opcode(bye, TOFU_OP_BYE_REQUEST);
    tofu_msg_set_channel(bye, ch);
    return POST(g, &bye).message_id;
}

/* The server application takes the next message: a Request of the client.
 * Returns its id. */
static uint64_t server_takes_request_at(pair *p, const char *file, int line) {
    tofu_msg *m = tofu_t_next_msg_at(p->se, p->sg, file, line);
    if (tofu_msg_opcode(m) != TOFU_OP_REQUEST || tofu_msg_from_engine(m) ||
        tofu_msg_channel(m) != p->sch)
        tofu_t_fail_msg_at("expected the client's Request", m, file, line);
    uint64_t id = tofu_msg_id(m);
    tofu_put(p->se, &m);
    return id;
}
#define SERVER_TAKES_REQUEST(p) server_takes_request_at((p), __FILE__, __LINE__)

/* Checks that m is the peer's answer to Request id (not late). */
static void check_peer_answer_at(const pair *p, const tofu_msg *m, uint64_t id, bool more,
                                 const char *file, int line) {
    if (tofu_msg_opcode(m) != TOFU_OP_RESPONSE || tofu_msg_from_engine(m) ||
        tofu_msg_id(m) != id || tofu_msg_channel(m) != p->cch || tofu_msg_late(m) ||
        tofu_msg_bhdr_const(m)->more != more)
        tofu_t_fail_msg_at("expected the peer's answer, not late", m, file, line);
}

/* Checks that m is the engine's answer to Request id: its deadline passed. */
static void check_timed_out_at(const pair *p, const tofu_msg *m, uint64_t id, const char *file,
                               int line) {
    tofu_header h;
    if (tofu_msg_opcode(m) != TOFU_OP_RESPONSE || !tofu_msg_from_engine(m) ||
        tofu_msg_id(m) != id || tofu_msg_channel(m) != p->cch ||
        tofu_msg_status(m) != TOFU_PROCESSING_FAILED || !tofu_msg_timed_out(m) ||
        !tofu_msg_find_header(m, TOFU_HDR_REASON, &h) || h.value_len != 9 ||
        memcmp(h.value, "timed_out", 9) != 0 || tofu_msg_late(m))
        tofu_t_fail_msg_at("expected the engine's timed_out answer", m, file, line);
}
#define CHECK_TIMED_OUT(p, m, id) check_timed_out_at((p), (m), (id), __FILE__, __LINE__)

/* Checks that m is the engine's answer to Request id for a channel that
 * closed with `reason` before the peer answered. */
static void check_closed_answer_at(uint16_t ch, const tofu_msg *m, uint64_t id,
                                   tofu_status reason, const char *file, int line) {
    if (tofu_msg_opcode(m) != TOFU_OP_RESPONSE || !tofu_msg_from_engine(m) ||
        tofu_msg_id(m) != id || tofu_msg_channel(m) != ch || tofu_msg_status(m) != reason ||
        tofu_t_reason(m) != reason || tofu_msg_timed_out(m))
        tofu_t_fail_msg_at("expected the engine's answer with the close reason", m, file, line);
}

/* ---- answered by the peer ---- */

/* 100 Requests, every third answered by a stream (two parts with `more`,
 * then the last): each gets its answer from the peer, none is late, and
 * the Bye that follows brings nothing from the engine. A part sent after
 * the last one answers nothing: it is delivered, marked late. */
TRANSPORT_TEST(every_request_answered_once_by_the_peer) {
    pair p;
    pair_open(&p);
    pair_connect(&p);
    uint64_t ids[100];
    for (int i = 0; i < 100; i++)
        ids[i] = post_request(p.ce, p.cg, p.cch, 0, NO_OWN_TIMEOUT);
    for (int i = 0; i < 100; i++) {
        ASSERT_EQ(SERVER_TAKES_REQUEST(&p), ids[i]);
        int parts = i % 3 == 0 ? 3 : 1;
        for (int k = 0; k < parts; k++)
            post_response(p.se, p.sg, p.sch, ids[i], k + 1 < parts);
        for (int k = 0; k < parts; k++) {
            tofu_msg *m = NEXT_MSG(p.ce, p.cg);
            check_peer_answer_at(&p, m, ids[i], k + 1 < parts, __FILE__, __LINE__);
            tofu_put(p.ce, &m);
        }
    }
    post_response(p.se, p.sg, p.sch, ids[0], false); /* answered already */
    tofu_msg *m = NEXT_MSG(p.ce, p.cg);
    if (tofu_msg_id(m) != ids[0] || tofu_msg_from_engine(m) || !tofu_msg_late(m))
        FAIL_MSG("expected a second answer to be delivered marked late", m);
    tofu_put(p.ce, &m);
    pair_bye(&p); /* checks that the close Signal follows the ByeResponse */
    EXPECT_NOTHING(p.cg, 50);
    pair_close(&p);
}

/* ---- answered by the engine when the channel closes ---- */

/* The server answers the even Requests of 50, then closes gracefully (its
 * ByeRequest, which the client answers): the client gets the odd ones
 * answered by its engine, in posting order, with channel_closed, before
 * the close Signal: 50 answers for 50 Requests. */
TRANSPORT_TEST(unanswered_requests_answered_when_the_peer_says_bye) {
    pair p;
    pair_open(&p);
    pair_connect(&p);
    uint64_t ids[50];
    for (int i = 0; i < 50; i++)
        ids[i] = post_request(p.ce, p.cg, p.cch, 0, NO_OWN_TIMEOUT);
    for (int i = 0; i < 50; i++) {
        ASSERT_EQ(SERVER_TAKES_REQUEST(&p), ids[i]);
        if (i % 2 == 0)
            post_response(p.se, p.sg, p.sch, ids[i], false);
    }
    uint64_t bye_id = post_bye_request(p.se, p.sg, p.sch);
    for (int i = 0; i < 50; i += 2) {
        tofu_msg *m = NEXT_MSG(p.ce, p.cg);
        check_peer_answer_at(&p, m, ids[i], false, __FILE__, __LINE__);
        tofu_put(p.ce, &m);
    }
    tofu_msg *m = NEXT_MSG(p.ce, p.cg);
    if (tofu_msg_opcode(m) != TOFU_OP_BYE_REQUEST || tofu_msg_id(m) != bye_id)
        FAIL_MSG("expected the server's ByeRequest", m);
    tofu_msg_set_opcode(m, TOFU_OP_BYE_RESPONSE);
    POST(p.cg, &m);
    for (int i = 1; i < 50; i += 2) {
        m = NEXT_MSG(p.ce, p.cg);
        check_closed_answer_at(p.cch, m, ids[i], TOFU_CHANNEL_CLOSED, __FILE__, __LINE__);
        tofu_put(p.ce, &m);
    }
    EXPECT_CLOSE(p.ce, p.cg, p.cch, TOFU_CHANNEL_CLOSED);
    m = EXPECT_MSG(p.sg, TOFU_OP_BYE_RESPONSE, TOFU_SUCCESS);
    tofu_put(p.se, &m);
    EXPECT_CLOSE(p.se, p.sg, p.sch, TOFU_CHANNEL_CLOSED);
    EXPECT_NOTHING(p.cg, 50);
    pair_close(&p);
}

/* The server engine dies with 20 Requests unanswered: the client's engine
 * answers each with the reason the connection ended, then the close
 * Signal with the same reason. */
TRANSPORT_TEST(unanswered_requests_answered_when_the_peer_dies) {
    pair p;
    pair_open(&p);
    pair_connect(&p);
    uint64_t ids[20];
    for (int i = 0; i < 20; i++)
        ids[i] = post_request(p.ce, p.cg, p.cch, 0, NO_OWN_TIMEOUT);
    for (int i = 0; i < 20; i++)
        ASSERT_EQ(SERVER_TAKES_REQUEST(&p), ids[i]);
    pair_kill_server(&p);
    tofu_msg *m = NEXT_MSG(p.ce, p.cg);
    tofu_status reason = tofu_msg_status(m);
    ASSERT_TRUE(reason == TOFU_PEER_DISCONNECTED || reason == TOFU_COMMUNICATION_FAILED);
    for (int i = 0; i < 20; i++) {
        if (i > 0)
            m = NEXT_MSG(p.ce, p.cg);
        check_closed_answer_at(p.cch, m, ids[i], reason, __FILE__, __LINE__);
        tofu_put(p.ce, &m);
    }
    EXPECT_CLOSE(p.ce, p.cg, p.cch, reason);
    EXPECT_NOTHING(p.cg, 50);
    pair_close(&p);
}

/* Our ByeRequest that the peer never answers is answered by the engine
 * when the channel closes: a ByeResponse with the close reason, then the
 * close Signal. */
TRANSPORT_TEST(unanswered_bye_request_answered_by_the_engine) {
    pair p;
    pair_open(&p);
    pair_connect(&p);
    uint64_t bye_id = post_bye_request(p.ce, p.cg, p.cch);
    tofu_msg *m = EXPECT_MSG(p.sg, TOFU_OP_BYE_REQUEST, TOFU_SUCCESS);
    tofu_put(p.se, &m); /* the server application never answers */
    pair_kill_server(&p);
    m = NEXT_MSG(p.ce, p.cg);
    tofu_status reason = tofu_msg_status(m);
    if (tofu_msg_opcode(m) != TOFU_OP_BYE_RESPONSE || !tofu_msg_from_engine(m) ||
        tofu_msg_id(m) != bye_id || tofu_t_reason(m) != reason ||
        (reason != TOFU_PEER_DISCONNECTED && reason != TOFU_COMMUNICATION_FAILED))
        FAIL_MSG("expected the engine's ByeResponse with the close reason", m);
    tofu_put(p.ce, &m);
    EXPECT_CLOSE(p.ce, p.cg, p.cch, reason);
    pair_close(&p);
}

/* ---- deadlines ---- */

/* A Request whose deadline passes is answered by the engine (timed_out);
 * the peer's answer, coming later, is delivered marked late; the Bye then
 * brings no second answer from the engine. */
TRANSPORT_TEST(deadline_passes_then_the_late_answer) {
    pair p;
    pair_open(&p);
    pair_connect(&p);
    uint64_t id = post_request(p.ce, p.cg, p.cch, 0, 50);
    ASSERT_EQ(SERVER_TAKES_REQUEST(&p), id);
    tofu_msg *m = NEXT_MSG(p.ce, p.cg);
    CHECK_TIMED_OUT(&p, m, id);
    tofu_put(p.ce, &m);
    post_response(p.se, p.sg, p.sch, id, false);
    m = NEXT_MSG(p.ce, p.cg);
    if (tofu_msg_opcode(m) != TOFU_OP_RESPONSE || tofu_msg_from_engine(m) ||
        tofu_msg_id(m) != id || !tofu_msg_late(m))
        FAIL_MSG("expected the peer's answer marked late", m);
    tofu_put(p.ce, &m);
    pair_bye(&p);
    EXPECT_NOTHING(p.cg, 50);
    pair_close(&p);
}

/* Deadlines of 0 ms, of hours, and none: the 0 ms one is answered by the
 * engine (whatever the peer does, its answer is then late); the others by
 * the peer, not late, and nothing more comes. */
TRANSPORT_TEST(deadlines_of_zero_and_of_hours) {
    pair p;
    pair_open(&p);
    pair_connect(&p);
    uint64_t zero = post_request(p.ce, p.cg, p.cch, 0, 0);
    uint64_t hours = post_request(p.ce, p.cg, p.cch, 0, HOURS_MS);
    uint64_t none = post_request(p.ce, p.cg, p.cch, 0, TOFU_TIMEOUT_NONE);
    tofu_msg *m = NEXT_MSG(p.ce, p.cg);
    CHECK_TIMED_OUT(&p, m, zero);
    tofu_put(p.ce, &m);
    uint64_t got[3];
    for (int i = 0; i < 3; i++)
        got[i] = SERVER_TAKES_REQUEST(&p);
    ASSERT_EQ(got[0], zero);
    ASSERT_EQ(got[1], hours);
    ASSERT_EQ(got[2], none);
    for (int i = 0; i < 3; i++)
        post_response(p.se, p.sg, p.sch, got[i], false);
    m = NEXT_MSG(p.ce, p.cg);
    if (tofu_msg_id(m) != zero || !tofu_msg_late(m) || tofu_msg_from_engine(m))
        FAIL_MSG("expected the 0 ms Request's answer marked late", m);
    tofu_put(p.ce, &m);
    m = NEXT_MSG(p.ce, p.cg);
    check_peer_answer_at(&p, m, hours, false, __FILE__, __LINE__);
    tofu_put(p.ce, &m);
    m = NEXT_MSG(p.ce, p.cg);
    check_peer_answer_at(&p, m, none, false, __FILE__, __LINE__);
    tofu_put(p.ce, &m);
    EXPECT_NOTHING(p.cg, 100);
    pair_bye(&p);
    pair_close(&p);
}

/* The engine's default deadline (request_timeout_ms) applies to a Request
 * without its own; TOFU_TIMEOUT_NONE turns it off for one Request, which
 * the engine then answers when our own Bye closes the channel. The
 * timeout is a local property: the peer's copy has none. */
TRANSPORT_TEST(engine_default_deadline) {
    tofu_options client;
    tofu_options_init(&client);
    client.request_timeout_ms = 30;
    pair p;
    pair_open_with(&p, NULL, &client);
    pair_connect(&p);
    uint64_t dflt = post_request(p.ce, p.cg, p.cch, 0, NO_OWN_TIMEOUT);
    uint64_t never = post_request(p.ce, p.cg, p.cch, 0, TOFU_TIMEOUT_NONE);
    tofu_msg *m = NEXT_MSG(p.se, p.sg);
    ASSERT_EQ(tofu_msg_id(m), dflt);
    ASSERT_FALSE(tofu_msg_timeout(m, NULL));
    tofu_put(p.se, &m);
    ASSERT_EQ(SERVER_TAKES_REQUEST(&p), never);
    m = NEXT_MSG(p.ce, p.cg);
    CHECK_TIMED_OUT(&p, m, dflt);
    tofu_put(p.ce, &m);
    EXPECT_NOTHING(p.cg, 100); /* the other one waits */
    uint64_t bye_id = post_bye_request(p.ce, p.cg, p.cch);
    m = EXPECT_MSG(p.sg, TOFU_OP_BYE_REQUEST, TOFU_SUCCESS);
    tofu_msg_set_opcode(m, TOFU_OP_BYE_RESPONSE);
    POST(p.sg, &m);
    m = EXPECT_MSG(p.cg, TOFU_OP_BYE_RESPONSE, TOFU_SUCCESS);
    ASSERT_EQ(tofu_msg_id(m), bye_id);
    tofu_put(p.ce, &m);
    m = NEXT_MSG(p.ce, p.cg);
    check_closed_answer_at(p.cch, m, never, TOFU_CHANNEL_CLOSED, __FILE__, __LINE__);
    tofu_put(p.ce, &m);
    EXPECT_CLOSE(p.ce, p.cg, p.cch, TOFU_CHANNEL_CLOSED);
    EXPECT_CLOSE(p.se, p.sg, p.sch, TOFU_CHANNEL_CLOSED);
    pair_close(&p);
}

/* The message property itself: set, read, copied by clone, cleared by
 * reset. */
TEST(timeout_is_a_local_property) {
    tofu_msg *m = NULL, *c = NULL;
    ASSERT_OK(tofu_msg_create(&m));
    uint32_t ms = 7;
    ASSERT_FALSE(tofu_msg_timeout(m, &ms));
    ASSERT_EQ(ms, 7);
    tofu_msg_set_timeout(m, 0);
    ASSERT_TRUE(tofu_msg_timeout(m, &ms));
    ASSERT_EQ(ms, 0);
    tofu_msg_set_timeout(m, 1234);
    ASSERT_OK(tofu_msg_clone(m, &c));
    ASSERT_TRUE(tofu_msg_timeout(c, &ms));
    ASSERT_EQ(ms, 1234);
    tofu_msg_reset(m);
    ASSERT_FALSE(tofu_msg_timeout(m, NULL));
    ASSERT_FALSE(tofu_msg_late(m));
    ASSERT_FALSE(tofu_msg_timed_out(m));
    tofu_msg_destroy(m);
    tofu_msg_destroy(c);
    ASSERT_EQ(tofu_live_messages(), 0);
}

/* ---- many at once ---- */

#define MANY 5000

/* 5,000 Requests outstanding on one channel, every third with a deadline
 * of 20 ms: the server answers the first half in reverse order, then its
 * engine dies. Every Request gets exactly one answer that is not late
 * (the peer's, timed_out, or the close reason); the only late ones are
 * peer answers to Requests that had timed out; the close Signal is last. */
TRANSPORT_TEST(thousands_outstanding_each_answered_once) {
    static uint8_t answers[MANY + 1], lates[MANY + 1];
    static uint64_t ids[MANY + 1];
    memset(answers, 0, sizeof answers);
    memset(lates, 0, sizeof lates);
    pair p;
    pair_open_unbounded(&p, 0, 0); /* 5,000 queued at once */
    pair_connect(&p);
    uint64_t base = tofu_next_message_id() + 1000000u;
    for (uint64_t i = 1; i <= MANY; i++) {
        ids[i] = base + i;
        post_request(p.ce, p.cg, p.cch, ids[i], i % 3 == 0 ? 20 : NO_OWN_TIMEOUT);
    }
    for (uint64_t i = 1; i <= MANY; i++)
        ASSERT_EQ(SERVER_TAKES_REQUEST(&p), ids[i]);
    for (uint64_t i = MANY / 2; i >= 1; i--)
        post_response(p.se, p.sg, p.sch, ids[i], false);
    /* the answers are on their way before the engine goes */
    tofui_sleep_ms(100);
    pair_kill_server(&p);
    size_t total = 0, timed_out = 0;
    for (;;) {
        tofu_msg *m = NEXT_MSG(p.ce, p.cg);
        if (tofu_t_is_close_signal(m)) {
            tofu_put(p.ce, &m);
            break;
        }
        uint64_t id = tofu_msg_id(m);
        if (tofu_msg_opcode(m) != TOFU_OP_RESPONSE || id <= base || id > base + MANY ||
            tofu_msg_channel(m) != p.cch)
            FAIL_MSG("expected an answer to one of the Requests", m);
        uint64_t i = id - base;
        if (tofu_msg_late(m)) {
            if (tofu_msg_from_engine(m) || answers[i] == 0 || i % 3 != 0 || lates[i]++ > 0)
                FAIL_MSG("a late answer to a Request that had not timed out", m);
        } else {
            if (answers[i]++ > 0)
                FAIL_MSG("a second answer to a Request", m);
            timed_out += tofu_msg_timed_out(m);
            total++;
        }
        tofu_put(p.ce, &m);
    }
    printf("%zu answers, %zu timed out\n", total, timed_out);
    ASSERT_EQ(total, MANY);
    ASSERT_TRUE(timed_out >= 1);
    EXPECT_NOTHING(p.cg, 50);
    pair_close(&p);
}

/* ---- deadlines of Requests that never left ---- */

#define QUEUED 300
#define QUEUED_LEN 65000u

/* The server's application holds its whole pool, so its engine stops
 * reading and the client's Requests pile up unsent. Each has a deadline of
 * 100 ms: the engine answers every one of them (timed_out), sent or not.
 * When the client then aborts, the unsent ones do not come back a second
 * time: only the ByeSignal and the close Signal do. */
TRANSPORT_TEST(deadline_of_a_request_still_queued) {
    pair p;
    pair_open_unbounded(&p, 4, 4); /* more than the default queue bound */
    pair_connect(&p);
    tofu_msg *held[4];
    size_t nheld = 0;
    while (nheld < 4 && (held[nheld] = tofu_get(p.se, TOFU_POOL_ONLY)) != NULL)
        nheld++;
    static unsigned char body[QUEUED_LEN];
    uint64_t first = 0;
    for (int i = 0; i < QUEUED; i++) {
        tofu_msg *m = tofu_t_get(p.ce);
        tofu_msg_set_channel(m, p.cch);
        tofu_msg_set_timeout(m, 100);
        ASSERT_OK(tofu_msg_append_body(m, body, sizeof body));
        uint64_t id = POST(p.cg, &m).message_id;
        if (i == 0)
            first = id;
        ASSERT_EQ(id, first + (uint64_t)i); /* nothing else takes ids here */
    }
    for (int i = 0; i < QUEUED; i++) {
        tofu_msg *m = NEXT_MSG(p.ce, p.cg);
        CHECK_TIMED_OUT(&p, m, first + (uint64_t)i);
        tofu_put(p.ce, &m);
    }
    tofu_bhdr abort = POST_ABORT(p.ce, p.cg, p.cch);
    tofu_msg *m = NEXT_MSG(p.ce, p.cg);
    if (tofu_msg_opcode(m) != TOFU_OP_BYE_SIGNAL || tofu_msg_id(m) != abort.message_id)
        FAIL_MSG("expected the ByeSignal back, and no Request a second time", m);
    tofu_put(p.ce, &m);
    EXPECT_CLOSE(p.ce, p.cg, p.cch, TOFU_CHANNEL_CLOSED);
    while (nheld > 0)
        tofu_put(p.se, &held[--nheld]);
    for (;;) { /* the server: some Requests, then the close Signal */
        m = NEXT_MSG(p.se, p.sg);
        bool closed = tofu_t_is_close_signal(m);
        tofu_put(p.se, &m);
        if (closed)
            break;
    }
    pair_close(&p);
}

/* ---- the close Signal is last, whatever the timing ---- */

#define RACE_ROUNDS 60
#define RACE_POSTS 20

/* The server aborts a fresh channel while the client posts Requests as
 * fast as it can: every post that succeeded gets exactly one answer (the
 * engine's, or the Request itself back) before the close Signal, nothing
 * of the channel comes after it, and a post that failed did so at once
 * with channel_closed. Run RACE_ROUNDS times: the timing differs each
 * time. */
TRANSPORT_TEST(post_close_race) {
    pair p;
    pair_open(&p);
    for (int round = 0; round < RACE_ROUNDS; round++) {
        pair_connect(&p);
        POST_ABORT(p.se, p.sg, p.sch);
        uint64_t posted[RACE_POSTS];
        int nposted = 0;
        for (int i = 0; i < RACE_POSTS; i++) {
            tofu_msg *m = tofu_t_get(p.ce);
            tofu_msg_set_channel(m, p.cch);
            tofu_bhdr h;
            tofu_status st = tofu_post(p.cg, &m, &h);
            if (st == TOFU_SUCCESS) {
                posted[nposted++] = h.message_id;
                continue;
            }
            ASSERT_STATUS(TOFU_CHANNEL_CLOSED, st);
            tofu_put(p.ce, &m);
        }
        int answered = 0;
        for (;;) {
            tofu_msg *m = NEXT_MSG(p.ce, p.cg);
            if (tofu_msg_channel(m) != p.cch)
                FAIL_MSG("a message of an earlier channel, after its close Signal", m);
            if (tofu_t_is_close_signal(m)) {
                tofu_put(p.ce, &m);
                break;
            }
            if (!tofu_msg_from_engine(m) || answered >= nposted ||
                tofu_msg_id(m) != posted[answered] ||
                (tofu_msg_opcode(m) != TOFU_OP_RESPONSE && tofu_msg_opcode(m) != TOFU_OP_REQUEST))
                FAIL_MSG("expected the next posted Request answered or returned", m);
            answered++;
            tofu_put(p.ce, &m);
        }
        ASSERT_EQ(answered, nposted);
        /* the server: the ByeSignal back, maybe Requests, the close Signal */
        for (;;) {
            tofu_msg *m = NEXT_MSG(p.se, p.sg);
            bool closed = tofu_t_is_close_signal(m);
            tofu_put(p.se, &m);
            if (closed)
                break;
        }
    }
    EXPECT_NOTHING(p.cg, 50);
    pair_close(&p);
}
