/*
 * Errors that say what happened: an engine-made message of a channel that
 * an operating-system call failed for carries that error in ~error
 * ("ECONNREFUSED Connection refused"; Windows: "WSAECONNREFUSED No
 * connection could be made..."), next to the status, which stays the
 * signal (docs/semantics.md). A close without a failing call carries none.
 * The symbolic names differ between POSIX and Windows (docs/platforms.md),
 * so the cases look for the part both share ("REFUSED", "ADDRINUSE").
 */
#include "pair.h"

#define ERR_CAP 300

/* The ~error of m, NUL-terminated, or false when it has none. */
static bool error_of(const tofu_msg *m, char *buf, size_t cap) {
    tofu_header h;
    if (!tofu_msg_find_header(m, TOFU_HDR_ERROR, &h))
        return false;
    size_t n = h.value_len < cap - 1 ? h.value_len : cap - 1;
    memcpy(buf, h.value, n);
    buf[n] = '\0';
    return true;
}

/* m has an ~error: a symbol, a space, words; the symbol contains one of
 * the `want` parts (NULL-terminated list). */
static void check_error_at(const tofu_msg *m, const char *const *want, const char *file,
                           int line) {
    char e[ERR_CAP];
    if (!error_of(m, e, sizeof e))
        tofu_t_fail_msg_at("expected an ~error header", m, file, line);
    const char *space = strchr(e, ' ');
#if defined(_WIN32)
    /* Windows without words for an error (Wine has none for some Winsock
     * errors) gives the name alone (docs/platforms.md). */
    if (space == NULL)
        space = e + strlen(e);
    if (space == e || (space[0] == ' ' && space[1] == '\0'))
#else
    if (space == NULL || space == e || space[1] == '\0')
#endif
        tofu_t_fail(file, line, "~error \"%s\": expected \"<SYMBOL> <text>\"", e);
    for (const char *p = e; *p != '\0'; p++)
        if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e)
            tofu_t_fail(file, line, "~error \"%s\": not one line of ASCII", e);
    for (const char *const *w = want; *w != NULL; w++) {
        const char *at = strstr(e, *w);
        if (at != NULL && at < space) {
            printf("%s: ~error: %s\n", tofu_op_name(tofu_msg_opcode(m)), e);
            return;
        }
    }
    tofu_t_fail(file, line, "~error \"%s\": not the error expected (%s...)", e, want[0]);
}
#define CHECK_ERROR(m, ...)                                                     \
    do {                                                                        \
        const char *const want_[] = {__VA_ARGS__, NULL};                        \
        check_error_at((m), want_, __FILE__, __LINE__);                         \
    } while (0)

static void check_no_error_at(const tofu_msg *m, const char *file, int line) {
    char e[ERR_CAP];
    if (error_of(m, e, sizeof e))
        tofu_t_fail(file, line, "expected no ~error, got \"%s\"", e);
}
#define CHECK_NO_ERROR(m) check_no_error_at((m), __FILE__, __LINE__)

/* Nobody listens there: the HelloResponse and the close Signal both say
 * what the system said (TCP: refused; a Unix socket path: not there). */
TRANSPORT_TEST(connect_refused_says_why, tcp4, uds) {
    tofu_t_transport t = tofu_t_transport_arg();
    tofu_engine *e = tofu_t_engine(0, 0);
    tofu_group *g = tofu_t_group(e);
    tofu_t_port_hold hold;
    char value[TOFU_T_ADDR_CAP];
    CLOSED_VALUE(t, &hold, value, sizeof value);
    tofu_bhdr posted = tofu_t_post_hello_at(e, g, value, __FILE__, __LINE__);
    tofu_msg *m = NEXT_MSG(e, g);
    if (tofu_msg_opcode(m) != TOFU_OP_HELLO_RESPONSE || !tofu_msg_from_engine(m) ||
        tofu_msg_status(m) == TOFU_SUCCESS || tofu_msg_channel(m) != posted.channel)
        FAIL_MSG("expected the engine's HelloResponse of a failed connect", m);
    if (tofu_t_transport_is_uds(t))
        CHECK_ERROR(m, "ENOENT", "NOT_FOUND");
    else
        CHECK_ERROR(m, "REFUSED");
    tofu_status st = tofu_msg_status(m);
    tofu_put(e, &m);
    m = NEXT_MSG(e, g);
    tofu_t_check_close_at(m, posted.channel, posted.message_id, st, __FILE__, __LINE__);
    if (tofu_t_transport_is_uds(t))
        CHECK_ERROR(m, "ENOENT", "NOT_FOUND");
    else
        CHECK_ERROR(m, "REFUSED");
    tofu_put(e, &m);
    tofu_t_port_release(&hold);
    tofu_engine_destroy(e);
    ASSERT_NO_LEAKS();
}

/* The harness's held port (CLOSED_VALUE), which the refused connects here
 * and in the scenarios rely on: while it is held no listener can take it,
 * so no test running beside can answer a connect meant to be refused; once
 * released, a listener can. Below the ephemeral ranges (sockets.c). */
TEST(held_port_keeps_listeners_off_until_released) {
    tofu_engine *e = tofu_t_engine(0, 0);
    tofu_group *g = tofu_t_group(e);
    tofu_t_port_hold hold;
    char value[TOFU_T_ADDR_CAP];
    CLOSED_VALUE(TOFU_T_TCP4, &hold, value, sizeof value);
    ASSERT_TRUE(hold.port >= 20000 && hold.port < 32000);
    LISTEN_FAILS(e, g, value, TOFU_LISTEN_FAILED);
    tofu_t_port_release(&hold);
    uint16_t lch = LISTEN(e, g, value, NULL);
    ABORT_IDLE(e, g, lch);
    ASSERT_OK(tofu_group_destroy(e, g));
    tofu_engine_destroy(e);
    ASSERT_NO_LEAKS();
}

/* A second listener on a live one's address: the WelcomeResponse and the
 * close Signal say the address is in use (Windows' exclusive use may say
 * access denied instead). */
TRANSPORT_TEST(listen_in_use_says_why, tcp4, uds) {
    pair p;
    pair_open(&p);
    tofu_msg *m = tofu_t_get(p.ce);
    tofu_msg_set_opcode(m, TOFU_OP_WELCOME_REQUEST);
    ASSERT_OK(tofu_msg_add_header(m, TOFU_HDR_LISTEN_ON, p.same));
    tofu_bhdr posted = POST(p.cg, &m);
    m = NEXT_MSG(p.ce, p.cg);
    if (tofu_msg_opcode(m) != TOFU_OP_WELCOME_RESPONSE || !tofu_msg_from_engine(m) ||
        tofu_msg_status(m) != TOFU_LISTEN_FAILED)
        FAIL_MSG("expected the WelcomeResponse of a failed listen", m);
    CHECK_ERROR(m, "ADDRINUSE", "EACCES");
    tofu_put(p.ce, &m);
    m = NEXT_MSG(p.ce, p.cg);
    tofu_t_check_close_at(m, posted.channel, posted.message_id, TOFU_LISTEN_FAILED, __FILE__,
                          __LINE__);
    CHECK_ERROR(m, "ADDRINUSE", "EACCES");
    tofu_put(p.ce, &m);
    pair_close(&p);
}

/* A raw peer on the server: connects, sends a HelloRequest (the server
 * application sees the channel), then leaves by reset or by FIN. Returns
 * the server's close Signal of that channel. */
#define RAW_ID 4242u
static tofu_msg *raw_peer_leaves(pair *p, bool reset) {
    tofu_address a;
    ASSERT_OK(tofu_address_parse(p->reach, strlen(p->reach), &a));
    tofui_socket s = RAW_CONNECT(&a);
    char th[TOFU_T_ADDR_CAP + 32];
    int thl = snprintf(th, sizeof th, "%s:%s\r\n", TOFU_HDR_CONNECT_TO, p->reach);
    uint8_t frame[16 + sizeof th];
    size_t n = tofu_t_raw_frame(frame, 9, TOFU_OP_HELLO_REQUEST, RAW_ID, th, (uint16_t)thl,
                                NULL, 0);
    RAW_SEND(s, frame, n);
    tofu_msg *m = NEXT_MSG(p->se, p->sg);
    if (tofu_msg_opcode(m) != TOFU_OP_HELLO_REQUEST || tofu_msg_from_engine(m))
        FAIL_MSG("expected the raw peer's HelloRequest", m);
    uint16_t sch = tofu_msg_channel(m);
    tofu_put(p->se, &m);
    if (reset)
        tofui_sock_abort(s);
    else
        tofui_sock_close(s);
    m = NEXT_MSG(p->se, p->sg);
    if (!tofu_t_is_close_signal(m) || tofu_msg_channel(m) != sch)
        FAIL_MSG("expected the close Signal of the raw peer's channel", m);
    return m;
}

/* A peer that resets: the close Signal names the reset (TCP; a Unix
 * socket's abortive close is a plain end of stream: no error). */
TRANSPORT_TEST(peer_reset_says_why, tcp4, uds) {
    pair p;
    pair_open(&p);
    tofu_msg *m = raw_peer_leaves(&p, true);
    if (tofu_t_transport_is_uds(p.t) && tofu_t_reason(m) == TOFU_PEER_DISCONNECTED) {
        CHECK_NO_ERROR(m);
    } else {
        CHECK_ABORT_CLOSE(m, tofu_msg_channel(m), tofu_t_transport_is_uds(p.t));
        CHECK_ERROR(m, "CONNRESET", "CONNABORTED");
    }
    tofu_put(p.se, &m);
    pair_close(&p);
}

/* A peer that leaves in order (FIN), and a graceful close by Bye: nothing
 * failed, no ~error. */
TRANSPORT_TEST(orderly_ends_say_nothing, tcp4, uds) {
    pair p;
    pair_open(&p);
    tofu_msg *m = raw_peer_leaves(&p, false);
    CHECK_CLOSE(m, tofu_msg_channel(m), TOFU_PEER_DISCONNECTED);
    CHECK_NO_ERROR(m);
    tofu_put(p.se, &m);
    pair_connect(&p);
    m = tofu_t_get(p.ce);
    tofu_msg_set_opcode(m, TOFU_OP_BYE_REQUEST);
    tofu_msg_set_channel(m, p.cch);
    tofu_msg_set_id(m, 77);
    POST(p.cg, &m);
    m = NEXT_MSG(p.se, p.sg); /* the ByeRequest: answered */
    ASSERT_EQ(tofu_msg_opcode(m), TOFU_OP_BYE_REQUEST);
    tofu_msg_set_opcode(m, TOFU_OP_BYE_RESPONSE);
    POST(p.sg, &m);
    m = NEXT_MSG(p.ce, p.cg); /* its ByeResponse */
    ASSERT_EQ(tofu_msg_opcode(m), TOFU_OP_BYE_RESPONSE);
    tofu_put(p.ce, &m);
    m = NEXT_MSG(p.ce, p.cg);
    CHECK_CLOSE(m, p.cch, TOFU_CHANNEL_CLOSED);
    CHECK_NO_ERROR(m);
    tofu_put(p.ce, &m);
    m = NEXT_MSG(p.se, p.sg);
    CHECK_CLOSE(m, p.sch, TOFU_CHANNEL_CLOSED);
    CHECK_NO_ERROR(m);
    tofu_put(p.se, &m);
    pair_close(&p);
}
