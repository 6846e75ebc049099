/*
 * The "orig peer": a test peer that behaves on the wire and on its socket as
 * the original (Zig) tofu does (SPEC.md §13), with either of its two network
 * layers, so that libtofu can be tested against that behaviour without any
 * Zig code. It is written from the specification only and speaks the wire
 * format with its own small encoder and decoder (not the library's codec).
 *
 * Socket behaviour:
 *   - SO_LINGER {1, 0} on every connection socket: every close is a reset
 *     on TCP (a plain close on a Unix socket); shutdown() is never called;
 *     TCP_NODELAY is never set;
 *   - each frame is written with up to three send() calls (binary header,
 *     text headers, body; an empty part is skipped);
 *   - reading happens in passes: a pass polls the socket and checks the
 *     error flags BEFORE reading. `stdposix` treats ERR|HUP|RDHUP as an
 *     error, `posixnet` ERR|HUP. On an error flag the peer closes WITHOUT
 *     reading what is pending: those bytes are what the original loses, and
 *     the report counts them (`dropped`). A pass then writes what is queued
 *     and reads until the socket would block. A read of 0 bytes is the end
 *     of stream for posixnet (`ORIG_END_EOF`, its recv_failed) and nothing
 *     for stdposix (the error flag follows on the next pass). Where poll()
 *     has no POLLRDHUP (Windows, macOS) the pass is emulated: it reads what
 *     is readable into a private buffer first and throws it away (counted as
 *     dropped) when the same pass ended in a reset, or, for stdposix, in an
 *     end of stream (docs/platforms.md).
 *
 * Protocol behaviour:
 *   - after it has written a Bye-type frame (ByeRequest, ByeResponse,
 *     ByeSignal without bit 6) it writes nothing more: later frames stay
 *     queued and are counted as `unsent` at the end;
 *   - after it has received a ByeResponse it stops reading and closes;
 *   - it never closes on its own otherwise: the application (the script, or
 *     the test through orig_peer_abort) decides.
 *
 * The peer runs its own thread. Its "application" is a script (what it
 * answers automatically) plus whatever the test posts with orig_peer_send.
 * Both go through one queue, in the order they were posted, like the
 * original's posts. Every frame it receives is kept in a log that the test
 * reads once the connection has ended.
 */
#ifndef TOFU_ORIG_PEER_H
#define TOFU_ORIG_PEER_H

#include "engine_util.h"

/* The original's two network layers (SPEC §13). */
typedef enum orig_layer {
    ORIG_STDPOSIX = 0, /* epoll; ERR | HUP | RDHUP is an error */
    ORIG_POSIXNET      /* uSockets; ERR | HUP is an error, a FIN is read as EOF */
} orig_layer;

/* How the peer's connection ended. */
typedef enum orig_end {
    ORIG_END_OPEN = 0,     /* not ended yet */
    ORIG_END_ERROR_FLAG,   /* a pass saw an error flag: closed without reading */
    ORIG_END_EOF,          /* posixnet: a read returned 0 (recv_failed) */
    ORIG_END_READ_ERROR,   /* a read failed without an error flag (recv_failed) */
    ORIG_END_WRITE_ERROR,  /* a write failed (send_failed) */
    ORIG_END_BYE_RESPONSE, /* it received a ByeResponse: stopped reading, closed */
    ORIG_END_ABORT,        /* its application aborted (bit-6 ByeSignal) or died */
    ORIG_END_NO_CONNECTION /* the listening peer never got a connection */
} orig_end;

/* Bits of orig_report.flags: the error flags the ending pass saw. */
#define ORIG_F_ERR 0x1u
#define ORIG_F_HUP 0x2u
#define ORIG_F_RDHUP 0x4u /* emulated: the pass read an end of stream */

/* One received frame; th and body are NUL-terminated copies. */
typedef struct orig_frame {
    uint16_t channel; /* the sender's channel number */
    uint8_t proto;    /* the raw ProtoFields byte */
    uint8_t status;
    uint64_t id;
    uint16_t thl, bl;
    unsigned char *th, *body;
} orig_frame;

/* Opcode, `more` and bit 6 of a proto byte. */
#define ORIG_OP(proto) ((uint8_t)((proto) & 0x0Fu))
#define ORIG_MORE 0x20u
#define ORIG_BIT6 0x40u

/* What the peer's application answers by itself. */
typedef struct orig_script {
    bool answer_hello;        /* HelloRequest -> HelloResponse (the same frame) */
    bool echo;                /* Request -> Response, Signal -> Signal (same frame) */
    uint64_t echo_below_id;   /* echo only ids below this (0: every id), so that
                                 its own Signals echoed back are not echoed again */
    bool answer_bye;          /* ByeRequest -> ByeResponse (held after its own Bye) */
    bool abort_on_bye_signal; /* a received ByeSignal -> abort (reset) */
    size_t die_after;         /* reset right after receiving this many frames
                                 (0: never), before the script sees the last */
} orig_script;

/* The peer's side of the story, complete once the connection ended. */
typedef struct orig_report {
    orig_end end;
    unsigned flags;  /* ORIG_F_* the ending pass saw (ORIG_END_ERROR_FLAG) */
    bool eof_seen;   /* some read returned 0 */
    size_t dropped;  /* bytes it never read or never decoded when it closed */
    size_t received; /* complete frames received */
    size_t sent;     /* frames completely written */
    size_t unsent;   /* frames still queued when it closed (held after a Bye) */
    bool bye_sent;   /* it wrote a Bye-type frame */
} orig_report;

typedef struct orig_peer orig_peer;

const char *orig_layer_name(orig_layer l);
const char *orig_end_name(orig_end e);
/* "end=error_flag flags=HUP|RDHUP eof=0 dropped=0 received=3 sent=2 unsent=0". */
void orig_report_describe(const orig_report *r, char *buf, size_t cap);

/* Connects to a ~connect_to value (tcp|host|port or uds|path) and starts the
 * peer's thread. Fails the test when the connect fails. */
orig_peer *orig_peer_connect_at(orig_layer layer, const char *value, const orig_script *s,
                                const char *file, int line);
#define ORIG_CONNECT(layer, value, s) orig_peer_connect_at((layer), (value), (s), __FILE__, __LINE__)

/* Listens on 127.0.0.1 port 0 (TCP) or a new temporary path (UDS), writes
 * the ~connect_to value that reaches it into value, and starts the thread,
 * which accepts one connection (and closes the listener). */
orig_peer *orig_peer_listen_at(orig_layer layer, bool uds, const orig_script *s, char *value,
                               size_t cap, const char *file, int line);
#define ORIG_LISTEN(layer, uds, s, value, cap) \
    orig_peer_listen_at((layer), (uds), (s), (value), (cap), __FILE__, __LINE__)

/* Replaces the script (from the next received frame on). */
void orig_peer_set_script(orig_peer *p, const orig_script *s);

/* The application posts a frame (copied): queued behind everything posted
 * before, written when the socket takes it, held forever after a Bye-type
 * frame went out. A proto with opcode ByeSignal and bit 6 is not a frame
 * but an abort, as in the original: use orig_peer_abort. */
void orig_peer_send(orig_peer *p, uint8_t proto, uint64_t id, const void *th, size_t thl,
                    const void *body, size_t bl);

/* The application posts a bit-6 ByeSignal, or dies: the peer closes its
 * socket (a reset on TCP) at its next pass, reading nothing more. */
void orig_peer_abort(orig_peer *p);

/* Waits until the peer has received n frames; fails (printing the report)
 * when its connection ends first or after the hang guard. */
void orig_peer_wait_received_at(orig_peer *p, size_t n, const char *file, int line);
#define ORIG_WAIT_RECEIVED(p, n) orig_peer_wait_received_at((p), (n), __FILE__, __LINE__)

/* Waits until the connection ended and the peer's thread is gone (fails
 * after the hang guard); returns the report. */
orig_report orig_peer_wait_end_at(orig_peer *p, const char *file, int line);
#define ORIG_WAIT_END(p) orig_peer_wait_end_at((p), __FILE__, __LINE__)

/* The i-th received frame (0 first), NULL past the end. Only after
 * orig_peer_wait_end. */
const orig_frame *orig_peer_frame(const orig_peer *p, size_t i);

/* Aborts the connection if it is still open, joins the thread and frees
 * the peer. NULL is allowed. */
void orig_peer_destroy(orig_peer *p);

/* Sockets the orig peers opened and did not close yet, process-wide. */
uint64_t orig_peer_open_sockets(void);

#endif
