/*
 * Helpers for engine tests (scenarios, transport suite, hardening, orig
 * interop): engines and groups, waiting for messages with a hang guard,
 * listeners and handshakes, an echo server thread. The socket fixtures
 * (transports, addresses, raw "hostile peer" sockets) are in sockets.h.
 *
 * Every wait has a generous limit whose only purpose is to turn a hang into
 * a failure with a message; no helper asserts how fast anything happens.
 * Helpers that assert take the caller's file and line (the upper-case macros
 * pass them), so a failure names the line of the test, not of this file.
 */
#ifndef TOFU_ENGINE_UTIL_H
#define TOFU_ENGINE_UTIL_H

#include <stdatomic.h>

#include "platform/platform.h"
#include "sockets.h"
#include "test.h"

/* ---- engines and groups ---- */

/* Creates an engine with that pool (0 = default); fails the test otherwise. */
tofu_engine *tofu_t_engine(uint16_t pool_initial, uint16_t pool_max);
/* The same with every option given. */
tofu_engine *tofu_t_engine_with(const tofu_options *opt);
tofu_group *tofu_t_group(tofu_engine *e);

/* ---- messages ---- */

/* A message from the engine's pool (allocated when empty), never NULL. */
tofu_msg *tofu_t_get(tofu_engine *e);

/* A one-line description for failure output:
 * "HelloResponse ch=3 id=7 engine status=connect_failed reason=connect_failed". */
void tofu_t_describe(const tofu_msg *m, char *buf, size_t cap);

/* True for the last message of every channel: a Signal from the engine with
 * status channel_closed. */
bool tofu_t_is_close_signal(const tofu_msg *m);

/* True for an engine pool_empty Signal. */
bool tofu_t_is_pool_empty(const tofu_msg *m);

/* The status named by the message's ~reason header; TOFU_UNKNOWN_ERROR when
 * the header is missing or names no status. */
tofu_status tofu_t_reason(const tofu_msg *m);

/* True when the message carries a ~violation header with value `rule`
 * (the protocol rule a peer broke, on a close Signal). */
bool tofu_t_has_violation(const tofu_msg *m, const char *rule);

/* Deterministic pattern bytes: byte i of stream `seed`. */
void tofu_t_fill(void *buf, size_t n, uint32_t seed);

/* Waits for the next message of g; fails the test after timeout_s. */
tofu_msg *tofu_t_wait_msg_at(tofu_group *g, unsigned timeout_s, const char *file, int line);
#define WAIT_MSG(g) tofu_t_wait_msg_at((g), TOFU_T_WAIT_S, __FILE__, __LINE__)

/* The next message or NULL when none came within timeout_ms. */
tofu_msg *tofu_t_poll_msg(tofu_group *g, unsigned timeout_ms);

/* The next message of g that is not a pool_empty Signal (those are put
 * back to e's pool: they only say the pool ran dry for a moment). */
tofu_msg *tofu_t_next_msg_at(tofu_engine *e, tofu_group *g, const char *file, int line);
#define NEXT_MSG(e, g) tofu_t_next_msg_at((e), (g), __FILE__, __LINE__)

/* Waits for the next message and checks its opcode and status (any
 * origin). Returns it: the caller puts it. */
tofu_msg *tofu_t_expect_msg_at(tofu_group *g, tofu_opcode op, tofu_status st, const char *file,
                               int line);
#define EXPECT_MSG(g, op, st) tofu_t_expect_msg_at((g), (op), (st), __FILE__, __LINE__)

/* Checks that m is the close Signal of `channel` with ~reason `reason` (and
 * the channel's remembered id when id != 0). Does not put it. */
void tofu_t_check_close_at(const tofu_msg *m, uint16_t channel, uint64_t id, tofu_status reason,
                           const char *file, int line);
#define CHECK_CLOSE(m, ch, reason) tofu_t_check_close_at((m), (ch), 0, (reason), __FILE__, __LINE__)

/* Waits for the next message of g, checks that it is the close Signal of
 * `channel` with that reason, and puts it back to e's pool. */
void tofu_t_expect_close_at(tofu_engine *e, tofu_group *g, uint16_t channel, tofu_status reason,
                            const char *file, int line);
#define EXPECT_CLOSE(e, g, ch, reason) tofu_t_expect_close_at((e), (g), (ch), (reason), __FILE__, __LINE__)

/* Fails when any message arrives within ms: a check that something did NOT
 * happen (it can miss a late message, never fail a correct engine). */
void tofu_t_expect_nothing_at(tofu_group *g, unsigned ms, const char *file, int line);
#define EXPECT_NOTHING(g, ms) tofu_t_expect_nothing_at((g), (ms), __FILE__, __LINE__)

/* Checks that m is the close Signal of `channel` after its peer aborted
 * (reset the connection): communication_failed on TCP. A UDS "reset" is an
 * ordinary end of stream unless data was still unread, so there either
 * peer_disconnected or communication_failed. */
void tofu_t_check_abort_close_at(const tofu_msg *m, uint16_t channel, bool uds, const char *file,
                                 int line);
#define CHECK_ABORT_CLOSE(m, ch, uds) tofu_t_check_abort_close_at((m), (ch), (uds), __FILE__, __LINE__)

/* Fails with the message's description. */
_Noreturn void tofu_t_fail_msg_at(const char *what, const tofu_msg *m, const char *file, int line);
#define FAIL_MSG(what, m) tofu_t_fail_msg_at((what), (m), __FILE__, __LINE__)

/* ---- posting ---- */

/* Posts and asserts success; returns the header post produced. */
tofu_bhdr tofu_t_post_at(tofu_group *g, tofu_msg **m, const char *file, int line);
#define POST(g, m) tofu_t_post_at((g), (m), __FILE__, __LINE__)

/* Posts a bit-6 ByeSignal (abort) on channel ch; returns the header post
 * produced. */
tofu_bhdr tofu_t_post_abort_at(tofu_engine *e, tofu_group *g, uint16_t ch, const char *file,
                               int line);
#define POST_ABORT(e, g, ch) tofu_t_post_abort_at((e), (g), (ch), __FILE__, __LINE__)

/* Closes a channel with a ByeSignal, with bit 6 (abort) or without, and
 * checks what comes back: the ByeSignal itself from the engine with
 * channel_closed and its id, then the close Signal (channel_closed). Only
 * for channels with nothing queued whose peer does not answer (listeners;
 * an abort also for idle connections). */
void tofu_t_bye_signal_idle_at(tofu_engine *e, tofu_group *g, uint16_t ch, bool abort,
                               const char *file, int line);
#define ABORT_IDLE(e, g, ch) tofu_t_bye_signal_idle_at((e), (g), (ch), true, __FILE__, __LINE__)
#define BYE_SIGNAL_IDLE(e, g, ch) \
    tofu_t_bye_signal_idle_at((e), (g), (ch), false, __FILE__, __LINE__)

/* ---- listeners and connections ---- */

/* What a HelloRequest to an address where nothing listens is answered with
 * over transport t: uds_path_not_found for a socket file that is not there,
 * connect_failed for a TCP port or an abstract name nobody bound. */
tofu_status tofu_t_refused_status(tofu_t_transport t);

/* Posts a WelcomeRequest for `value` (a ~listen_on value), checks the
 * WelcomeResponse (same channel and id, origin engine, status 0) and returns
 * the listener channel; *bound (may be NULL) receives the address actually
 * bound, parsed from the response's ~listen_on. */
uint16_t tofu_t_listen_at(tofu_engine *e, tofu_group *g, const char *value, tofu_address *bound,
                          const char *file, int line);
#define LISTEN(e, g, value, bound) tofu_t_listen_at((e), (g), (value), (bound), __FILE__, __LINE__)

/* Listens on TCP host:0 and returns the port the system chose. */
uint16_t tofu_t_listen_tcp_at(tofu_engine *e, tofu_group *g, const char *host, uint16_t *channel,
                              const char *file, int line);
#define LISTEN_TCP(e, g, host, ch) tofu_t_listen_tcp_at((e), (g), (host), (ch), __FILE__, __LINE__)

/* Posts a WelcomeRequest expected to fail: checks the WelcomeResponse
 * (origin engine, an error status, same channel and id) and the close Signal
 * whose reason is that status; returns the status. */
tofu_status tofu_t_listen_failure_at(tofu_engine *e, tofu_group *g, const char *value,
                                     const char *file, int line);
#define LISTEN_FAILURE(e, g, value) tofu_t_listen_failure_at((e), (g), (value), __FILE__, __LINE__)

/* As LISTEN_FAILURE, and the status must be `want`. */
void tofu_t_listen_fails_at(tofu_engine *e, tofu_group *g, const char *value, tofu_status want,
                            const char *file, int line);
#define LISTEN_FAILS(e, g, value, want) tofu_t_listen_fails_at((e), (g), (value), (want), __FILE__, __LINE__)

/* Posts a HelloRequest to `value`; returns the header from post (channel,
 * id). */
tofu_bhdr tofu_t_post_hello_at(tofu_engine *e, tofu_group *g, const char *value, const char *file,
                               int line);
#define POST_HELLO(e, g, value) tofu_t_post_hello_at((e), (g), (value), __FILE__, __LINE__)

/* Posts a HelloRequest expected to fail: checks the HelloResponse (origin
 * engine, an error status, same channel and id) and the close Signal whose
 * reason is that status; returns the status. */
tofu_status tofu_t_connect_failure_at(tofu_engine *e, tofu_group *g, const char *value,
                                      const char *file, int line);
#define CONNECT_FAILURE(e, g, value) tofu_t_connect_failure_at((e), (g), (value), __FILE__, __LINE__)

/* As CONNECT_FAILURE, and the status must be `want`. */
void tofu_t_connect_fails_at(tofu_engine *e, tofu_group *g, const char *value, tofu_status want,
                             const char *file, int line);
#define CONNECT_FAILS(e, g, value, want) tofu_t_connect_fails_at((e), (g), (value), (want), __FILE__, __LINE__)

/* A complete handshake where this thread plays both applications: the
 * client posts a HelloRequest; the server group receives it (checked) and
 * answers with a HelloResponse of the same id; the client receives it.
 * Returns the client channel; *server_ch receives the server's. */
uint16_t tofu_t_handshake_at(tofu_engine *ce, tofu_group *cg, const char *value, tofu_engine *se,
                             tofu_group *sg, uint16_t *server_ch, const char *file, int line);
#define HANDSHAKE(ce, cg, value, se, sg, sch) \
    tofu_t_handshake_at((ce), (cg), (value), (se), (sg), (sch), __FILE__, __LINE__)

/* Client side of a handshake answered by someone else (an echo thread):
 * posts the HelloRequest and waits for the HelloResponse, putting pool_empty
 * Signals back; any other message fails. Returns the client channel. */
uint16_t tofu_t_connect_at(tofu_engine *e, tofu_group *g, const char *value, const char *file,
                           int line);
#define CONNECT(e, g, value) tofu_t_connect_at((e), (g), (value), __FILE__, __LINE__)

/* A graceful close with nothing else in flight, both applications played by
 * this thread: the client posts a ByeRequest, the server answers with a
 * ByeResponse, the client receives it and both get the close Signal with
 * ~reason channel_closed. */
void tofu_t_bye_at(tofu_engine *ce, tofu_group *cg, uint16_t cch, tofu_engine *se,
                   tofu_group *sg, uint16_t sch, const char *file, int line);
#define BYE(ce, cg, cch, se, sg, sch) tofu_t_bye_at((ce), (cg), (cch), (se), (sg), (sch), __FILE__, __LINE__)

/* ---- one group serving several channels ---- */

/* Keeps messages of other channels aside while a test waits for a message
 * of one channel: per-channel order is checked, interleaving between
 * channels is not. */
#define TOFU_T_INBOX_CAP 1024
typedef struct tofu_t_inbox {
    tofu_engine *e;
    tofu_group *g;
    tofu_msg *held[TOFU_T_INBOX_CAP];
    size_t n;
} tofu_t_inbox;

void tofu_t_inbox_init(tofu_t_inbox *in, tofu_engine *e, tofu_group *g);
/* The next message of `channel` (first any held one, else the next that
 * arrives); fails after the hang guard. */
tofu_msg *tofu_t_inbox_take_at(tofu_t_inbox *in, uint16_t channel, const char *file, int line);
#define INBOX_TAKE(in, ch) tofu_t_inbox_take_at((in), (ch), __FILE__, __LINE__)
/* The next message whose channel is not one of `known` (n of them). */
tofu_msg *tofu_t_inbox_take_other_at(tofu_t_inbox *in, const uint16_t *known, size_t n,
                                     const char *file, int line);
#define INBOX_TAKE_OTHER(in, known, n) tofu_t_inbox_take_other_at((in), (known), (n), __FILE__, __LINE__)
/* Puts back every held message. */
void tofu_t_inbox_fini(tofu_t_inbox *in);

/* ---- threads ---- */

typedef struct tofu_t_thread {
    tofui_thread t;
    bool started;
} tofu_t_thread;

void tofu_t_thread_start(tofu_t_thread *t, void (*fn)(void *), void *arg);
void tofu_t_thread_join(tofu_t_thread *t);

/* ---- echo server ---- */

/* A thread that serves one group like the original's EchoService: it
 * answers HelloRequest, Request and ByeRequest with their reply opcode (same
 * message, same id, headers and body), sends application Signals back, puts
 * pool_empty Signals back, counts close Signals and returned messages, and
 * stops on receiver_update (tofu_t_echo_stop). */
typedef struct tofu_t_echo {
    tofu_engine *e;
    tofu_group *g;
    tofu_t_thread thread;
    /* written by the echo thread; read them with atomic_load */
    _Atomic uint64_t hellos;   /* HelloResponses posted */
    _Atomic uint64_t echoes;   /* Responses and Signals posted back */
    _Atomic uint64_t byes;     /* ByeResponses posted */
    _Atomic uint64_t closes;   /* close Signals seen */
    _Atomic uint64_t returned; /* other engine messages (returned posts, pool_empty) */
} tofu_t_echo;

void tofu_t_echo_start(tofu_t_echo *s, tofu_engine *e, tofu_group *g);
void tofu_t_echo_stop(tofu_t_echo *s);

/* Waits until the echo thread saw n close Signals (a responder's channel
 * closes a little after the initiator's); fails at the hang guard. */
void tofu_t_echo_wait_closes_at(tofu_t_echo *s, uint64_t n, const char *file, int line);
#define ECHO_WAIT_CLOSES(s, n) tofu_t_echo_wait_closes_at((s), (n), __FILE__, __LINE__)

#endif
