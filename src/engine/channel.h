/*
 * The channel module (I/O thread only): channel records and their state
 * machine (channel.c), opening them (dial.c: connect, listen, accept), the
 * send side (send.c), the receive side (recv.c), pool stalls (stall.c) and
 * the answers to our requests (track.c).
 * One module with one header: its files call each other (the state machine
 * drives the parts, the parts report back to it), and nothing outside the
 * module changes a channel.
 */
#ifndef TOFUI_CHANNEL_H
#define TOFUI_CHANNEL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/chantab.h"
#include "engine/group.h"
#include "engine/requests.h"
#include "engine/resolve.h"
#include "engine/submit.h"
#include "engine/timers.h"
#include "msg/msg.h"
#include "msg/pool.h"
#include "msg/wire.h"
#include "platform/platform.h"
#include "platform/poller.h"
#include "util/list.h"

/* Bytes read from a socket at once (one buffer per engine); also the most
 * the stalled channels of one engine keep together (stall.c). 256 KiB, as
 * the raw-socket baseline reads: with 64 KiB a read held three 16 KiB frames
 * and every fourth frame straddled two reads (a partial buffer, two more
 * copies); 16 KiB one-way carried 9-33 % more with 256 KiB, 64 B and 1 KiB
 * the same (docs/benchmarks.md, "Larger reads"). */
#define TOFUI_READ_CHUNK 262144u

/* Most pool messages taken at once for the frames of one read. */
#define TOFUI_RECV_BATCH 32u

/* How long a channel stays stalled before its group hears of it: an
 * application that is putting messages back ends such a stall itself. */
#define TOFUI_POOL_EMPTY_GRACE_NS (5ull * 1000000ull)

typedef struct tofui_chan tofui_chan;

/* Every channel of one engine, and what the channels use of the engine. */
typedef struct tofui_chanset {
    /* the engine's */
    tofui_pool *pool;
    tofui_poller *poller;
    tofui_chantab *chantab;
    tofui_resolver *resolver;
    tofui_submit *sub;       /* posts a closing channel takes back */
    uint32_t max_send_queue; /* tofu_options.max_send_queue, never 0 */
    size_t max_partial_bytes; /* tofu_options.max_partial_bytes, at least one frame */
    tofui_timers timers;     /* the channels' deadlines */
    tofui_liveness live;     /* keepalive and user timeout of TCP connections */
    const char *live_limit;  /* the ~limit of a connection the system gave up on */
    uint32_t retry_ms;       /* tofu_options.connect_retry_ms; 0: none */
    uint32_t listen_backlog; /* tofu_options.listen_backlog; 0: the largest */
    uint64_t jitter;         /* dial.c: the state of the backoff's jitter */
    tofui_reqs reqs;         /* the Requests waiting for an answer (track.c) */
    /* channel.c */
    tofui_chan **by_num; /* [TOFUI_CHAN_SLOTS] */
    tofui_link all;
    tofui_chan *ready_head; /* interest to recompute, writes to try */
    tofui_chan *ready_tail;
    tofui_chan *dead; /* closed, freed before the next wait */
    uint64_t next_serial;
    /* recv.c: the read buffer, and pool messages taken ahead for one
     * read's frames: rstock[rstock_next..rstock_n) */
    unsigned char *rbuf;
    tofu_msg *rstock[TOFUI_RECV_BATCH];
    size_t rstock_next;
    size_t rstock_n;
    /* recv.c: the channels with a partial frame buffer, oldest frame first,
     * and the bytes those buffers hold together (max_partial_bytes) */
    tofui_link partial;
    size_t partial_bytes;
    /* send.c: the stage of a write's batch (TOFUI_BATCH_STAGE) */
    unsigned char *wbuf;
    /* stall.c: the stalled channels in stall order; those whose pool_empty
     * Signal waits for its grace period, in the same order; the bytes the
     * stalled channels keep (one read at most, see stall.c) */
    tofui_link stalled;
    tofui_link signals_due;
    size_t stash_bytes;
    atomic_size_t stash_peak; /* tests: the most stash_bytes ever were */
    /* recv.c -> stall.c: the bytes being decoded were peeked (they are
     * still in the socket: a stall leaves them there), and how many of them
     * a stall left */
    bool peeking;
    size_t peek_left;
} tofui_chanset;

/* Allocates the number index and the buffers; fini is safe after a failed
 * init and on zeroed memory. */
tofu_status tofui_chanset_init(tofui_chanset *set, tofui_pool *pool, tofui_poller *poller,
                               tofui_chantab *chantab, tofui_resolver *resolver,
                               tofui_submit *sub, const tofu_options *opt);
void tofui_chanset_fini(tofui_chanset *set);

/* The state machine (channel.c):
 *
 *   RESOLVING -> CONNECTING -> OPEN -> LINGER -> CLOSED   (HelloRequest)
 *                CONNECTING -> CONNECTING                (an attempt failed or
 *                                                         timed out: the next
 *                                                         address, no socket
 *                                                         in between; after the
 *                                                         last one, with a retry
 *                                                         deadline, a backoff
 *                                                         wait and all again)
 *   RESOLVING -> OPEN                                    (connected at once)
 *   RESOLVING -> LISTENER -> CLOSED                      (WelcomeRequest)
 *   RESOLVING -> OPEN -> LINGER -> CLOSED                (accepted: its socket
 *                                                         comes with it)
 *
 * and from any state to CLOSED. RESOLVING is where every record starts: no
 * socket yet, waiting for addresses (the resolver's, or the literal's at
 * once). Only channel.c writes the state. */
typedef enum tofui_chan_state {
    TOFUI_CH_RESOLVING = 0, /* waiting for the resolver (no socket) */
    TOFUI_CH_CONNECTING,    /* non-blocking connect under way */
    TOFUI_CH_OPEN,          /* connected: sends and receives */
    TOFUI_CH_LINGER,        /* ByeResponse / ByeSignal sent: reads, sends nothing,
                               waits for the peer to close */
    TOFUI_CH_LISTENER,      /* listening */
    TOFUI_CH_CLOSED         /* gone; the record is freed after the event batch */
} tofui_chan_state;

typedef enum tofui_close_mode {
    TOFUI_CLOSE_GRACEFUL = 0, /* FIN; unsent messages and the close Signal go to the group */
    TOFUI_CLOSE_ABORT,        /* reset; same deliveries */
    TOFUI_CLOSE_SILENT        /* FIN; nothing delivered (group or engine destroyed):
                                 what was written still reaches a peer that reads */
} tofui_close_mode;

/* How a channel came to be. */
typedef enum tofui_chan_open {
    TOFUI_OPEN_HELLO = 0, /* a HelloRequest: connects */
    TOFUI_OPEN_WELCOME,   /* a WelcomeRequest: listens */
    TOFUI_OPEN_ACCEPT     /* accepted by a listener: learns its id from the first frame */
} tofui_chan_open;

/* The send side; send.c writes it. */
typedef struct tofui_chan_send {
    tofui_mq q;           /* head may be partly written */
    uint32_t queued;      /* messages in q (for tofu_options.max_send_queue) */
    size_t sent_off;      /* bytes of the head already written */
    tofui_mq held;        /* posted after a Bye: returned when the channel closes */
    bool blocked;         /* the last write stopped short: wait for writable */
    bool dead;            /* a write failed: nothing more is written, reading ends it */
    bool reset;           /* and it failed because the peer reset the connection */
    bool timed_out;       /* or because the system gave up on the peer */
    bool bye_req_queued;  /* after it only a ByeResponse goes out */
    bool bye_req_sent;    /* our ByeRequest is on the wire: a ByeResponse may come */
    bool bye_last_queued; /* a ByeResponse or ByeSignal: nothing goes out after it */
} tofui_chan_send;

/* The receive side; recv.c writes it. */
typedef struct tofui_chan_recv {
    tofui_dec dec;
    tofu_msg *msg;       /* pool message taken for a complete frame */
    unsigned char *part; /* a frame's text headers and body while they come in */
    size_t part_len;     /* thl + bl of that frame; not 0 while it comes in */
    size_t part_got;
    size_t part_cap;     /* bytes allocated for it: grows with what came */
    tofui_link part_link; /* on the set's partial list while part_len != 0 */
    tofui_timer frame_timer; /* a frame under way: frame_timeout_ms; between
                                frames of a connected channel, the next one:
                                idle_timeout_ms */
    bool peer_bye_req;   /* the peer sent a ByeRequest */
    const char *violation; /* the protocol rule the peer broke (the close
                              Signal's ~violation), NULL when none */
    bool done;           /* got the ByeResponse; our own answer still to go out
                            (closes at once when the peer is gone: a write
                            failed, or a hang-up or error was seen) */
} tofui_chan_recv;

/* A pool stall of the receive side; stall.c writes it. */
typedef struct tofui_chan_stall {
    bool on;              /* waits for a pool message */
    bool parked;          /* and hung up: out of the poller until it resumes */
    bool signalled;       /* pool_empty sent for this episode */
    uint64_t signal_at;   /* end of this stall's grace period */
    unsigned char *stash; /* what was read and could not be decoded yet */
    size_t stash_len;
    size_t stash_cap;     /* bytes allocated for it */
    size_t left;          /* or what was peeked and left in the socket */
    tofui_link link;      /* on the set's stalled list */
    tofui_link due_link;  /* on the set's signals_due list: pool_empty to send
                             if still stalled at signal_at */
} tofui_chan_stall;

/* Our requests waiting for their answers; track.c writes it. */
typedef struct tofui_chan_track {
    tofui_link waiting; /* the channel's Requests in the engine's table */
    uint64_t bye_id;    /* our ByeRequest's, once written (send.bye_req_sent) */
    bool bye_answered;  /* the peer's ByeResponse came */
} tofui_chan_track;

/* Connecting (a HelloRequest); dial.c writes it. */
typedef struct tofui_chan_dial {
    tofui_sockaddr *addrs; /* resolved, tried in order */
    size_t naddrs;
    size_t next;
    tofu_msg *hello;       /* the HelloRequest until it is written */
    bool hello_unanswered; /* it is written; the peer's HelloResponse not in */
    /* Connects that wait for the server (tofu_msg_set_connect_retry): */
    uint64_t retry_until;  /* clock (ns) after which no round starts; 0: no retry */
    uint32_t backoff_ms;   /* the longest next wait (doubles up to a cap) */
    tofu_status last;      /* the last round's failure */
    tofui_wheel_timer wait; /* the wait before the next round, or before the
                               next try of a busy address */
    /* A Unix listener whose backlog is full (TOFUI_SOCK_BUSY): */
    uint64_t busy_until;   /* clock (ns) until which the same address is tried
                              again; 0: not busy */
    uint32_t busy_ms;      /* the longest next wait (doubles up to a cap) */
} tofui_chan_dial;

/* Listening (a WelcomeRequest); dial.c writes it. */
typedef struct tofui_chan_listen {
    tofu_msg *welcome;    /* the WelcomeRequest until it is answered */
    tofui_sockaddr bound; /* the address listened on */
    bool paused;          /* out of descriptors: waits for its timer */
} tofui_chan_listen;

/* A channel record. channel.c writes the common part (state, socket, poller
 * registration, lists, identity); each part has the one file that writes
 * it, the others only read. */
struct tofui_chan {
    tofui_chanset *set;
    tofu_group *group;
    uint64_t serial; /* tells a recycled number's new channel from the old */
    uint16_t num;
    uint8_t state;   /* tofui_chan_state */
    uint8_t opened;  /* tofui_chan_open */
    bool id_learned; /* accepted: its first frame came */
    bool announced;  /* its number reached the application in a Signal */
    const char *close_limit; /* the option whose limit closed it (~limit), or NULL */
    int os_error;    /* the OS error behind its failure (~error), 0: none
                        (tofui_chan_os_error) */
    uint64_t remembered_id; /* for the close Signal */
    tofui_socket sock;
    bool registered; /* with the poller, for `interest` */
    unsigned interest;
    bool in_ready;   /* on the ready list: interest to recompute, writes to try */
    struct tofui_chan *ready_next;
    struct tofui_chan *dead_next;
    tofui_timer timer; /* its one deadline at a time */
    tofui_link all;    /* the set's channel list */
    tofui_link glink;  /* the group's channel list */
    tofui_chan_send send;
    tofui_chan_recv recv;
    tofui_chan_stall stall;
    tofui_chan_track track;
    tofui_chan_dial dial;
    tofui_chan_listen listen;
};

/* An accepted channel the application has not heard of: no frame delivered
 * yet, no pool_empty Signal naming it. It runs the handshake timer, and it
 * closes silently. */
static inline bool tofui_chan_unseen(const tofui_chan *ch) {
    return ch->opened == TOFUI_OPEN_ACCEPT && !ch->id_learned && !ch->announced;
}

/* ---- channel.c ---- */

/* A new record in RESOLVING, without a socket, for channel num of g; id is
 * the message id its close Signal carries (0 for an accepted channel, which
 * learns it from its first frame). NULL without memory. */
tofui_chan *tofui_chan_create(tofui_chanset *set, tofu_group *g, uint16_t num,
                              tofui_chan_open opened, uint64_t id);
/* Handles one posted message on the I/O thread. */
void tofui_chan_on_post(tofui_chanset *set, tofu_msg *m);
/* A post the I/O thread will never handle goes back to its group with st;
 * a Hello/WelcomeRequest as an open that failed: its Response, its number
 * given back, the close Signal. */
void tofui_chan_post_unhandled(tofui_chanset *set, tofu_msg *m, tofu_status st);
/* Closes every channel of g silently (group destroy). */
void tofui_chan_close_group(tofu_group *g);
/* Closes every channel: silently at engine destroy; after a fatal error
 * with everything handed back (notification_failed). */
void tofui_chan_close_all(tofui_chanset *set, bool failed);
/* Hands a message back to the channel's group with origin engine. */
void tofui_chan_return(tofui_chan *ch, tofu_msg *m, tofu_status st);
/* An unseen accepted channel's first frame came: its id is kept for the
 * close Signal, the handshake timer stops. */
void tofui_chan_learn_id(tofui_chan *ch, uint64_t id);
/* A pool_empty Signal named the channel: the application knows it now. */
void tofui_chan_announce(tofui_chan *ch);
/* Returns m to group g with origin engine and status st. */
void tofui_chan_return_to(tofu_group *g, tofu_msg *m, tofu_status st);
/* Closes a channel (see tofui_close_mode). Safe to call twice. */
void tofui_chan_close(tofui_chan *ch, tofu_status reason, tofui_close_mode mode);
/* Aborts a channel that went past a limit of the options: its close Signal
 * names the option (`limit`, a static string) in ~limit next to ~reason. */
void tofui_chan_close_limit(tofui_chan *ch, tofu_status reason, const char *limit);
/* The channel takes socket s and enters st (CONNECTING, OPEN or LISTENER),
 * watched by the poller. When the poller refuses it, s is closed as the
 * state requires and the channel is left without a socket; the caller
 * decides what follows. */
tofu_status tofui_chan_attach(tofui_chan *ch, tofui_socket s, tofui_chan_state st);
/* A connect attempt failed or timed out: its socket goes (reset); the
 * channel stays CONNECTING without one until the next attempt. */
void tofui_chan_detach(tofui_chan *ch);
/* The connect completed: CONNECTING -> OPEN. */
void tofui_chan_connected(tofui_chan *ch);
/* Registers the channel's socket with the poller. */
tofu_status tofui_chan_register(tofui_chan *ch);
/* Takes the socket out of the poller (it stays open); nothing when it is
 * not in. */
void tofui_chan_unregister(tofui_chan *ch);
/* Queues the channel for interest recomputation before the next wait. */
void tofui_chan_touch(tofui_chan *ch);
/* Before each wait: tries pending writes, applies interest changes. */
void tofui_chan_flush_ready(tofui_chanset *set);
/* Frees channel records closed since the last call. */
void tofui_chan_free_dead(tofui_chanset *set);
/* Before each wait: the timeout the channels need (-1: none), from their
 * deadlines and pending pool_empty Signals; 0 when a pool refill is
 * already noted for stalled channels (the I/O thread's own put has no
 * wake-up behind it). */
int tofui_chan_wait_timeout(tofui_chanset *set);
/* Dispatches one poller event. */
void tofui_chan_on_event(tofui_chan *ch, unsigned events);
/* After the channel's last frame (ByeResponse, ByeSignal): sends nothing
 * more, keeps the connection open and waits for the peer to close, at most
 * bye_linger_ms. */
void tofui_chan_start_linger(tofui_chan *ch);
/* Acts on every deadline that passed (timers.c hands them back). */
void tofui_chan_expire_timers(tofui_chanset *set);
/* The system gave up on the connection (keepalive, user timeout): the
 * channel closes, communication_failed with the ~limit that bounded it. */
void tofui_chan_dead_peer(tofui_chan *ch);
/* A socket call for the channel failed with OS error err
 * (tofui_sock_last_error, read right after the call): its close Signal and
 * the engine's Hello/WelcomeResponse will say it in ~error. A connected
 * channel keeps the first (what began its end: the rest follows from it);
 * a channel not yet connected keeps the latest (its last connect attempt),
 * and forgets it once connected. */
void tofui_chan_os_error(tofui_chan *ch, int err);
/* Adds the channel's ~error to m, an engine-made message, when it has one. */
void tofui_chan_add_error(const tofui_chan *ch, tofu_msg *m);

/* ---- dial.c ---- */

void tofui_dial_hello(tofui_chanset *set, tofu_msg *m);
void tofui_dial_welcome(tofui_chanset *set, tofu_msg *m);
void tofui_dial_resolved(tofui_chanset *set, tofui_resolve_req *r);
/* Completes a connect after the socket became writable or failed. */
void tofui_dial_on_connect_event(tofui_chan *ch);
/* A connect attempt took longer than connect_timeout_ms: the next address,
 * or the channel fails with connect_failed. */
void tofui_dial_attempt_timed_out(tofui_chan *ch);
/* The backoff wait before the next round of tries is over. */
void tofui_dial_wait_over(tofui_wheel_timer *w);
/* Accepts pending connections on a listener; out of descriptors, it stops
 * accepting for TOFUI_ACCEPT_PAUSE_NS. */
void tofui_dial_accept(tofui_chan *ch);
/* The accept pause is over. */
void tofui_dial_resume_accepts(tofui_chan *l);
/* send.c: the HelloRequest is on the wire. */
void tofui_dial_hello_sent(tofui_chan *ch);
/* recv.c: a HelloResponse with message id `id` came; it answers the
 * HelloRequest only when it carries the request's id. */
void tofui_dial_hello_response(tofui_chan *ch, uint64_t id);
/* The channel closes: the pending WelcomeRequest goes to out as its
 * WelcomeResponse; a HelloRequest still in the send queue becomes the
 * HelloResponse there; one that went out unanswered gets a HelloResponse
 * made by the engine, with the close reason. */
void tofui_dial_answers(tofui_chan *ch, tofui_mq *out, tofu_status reason);
/* The same when nothing is delivered: the WelcomeRequest goes back to the
 * pool. */
void tofui_dial_drop(tofui_chan *ch);
/* Frees the addresses of a connect. */
void tofui_dial_release(tofui_chan *ch);

/* ---- send.c ---- */

/* Queues a post for sending, under the Bye rules (nothing after a
 * ByeResponse or ByeSignal, only a ByeResponse after a ByeRequest: the rest
 * is held back) and tofu_options.max_send_queue (data beyond it comes back
 * with not_allowed). */
void tofui_send_post(tofui_chan *ch, tofu_msg *m);
/* Appends to the send queue itself, counted for max_send_queue (the
 * HelloRequest goes first, before any rule applies); a Request starts
 * waiting for its answer (track.c). */
void tofui_send_push(tofui_chan *ch, tofu_msg *m);
/* Writes as much of the send queue as the socket takes. */
void tofui_send_write(tofui_chan *ch);
/* The poller reported writable after a write stopped short. */
void tofui_send_on_writable(tofui_chan *ch);
/* Moves every unsent message to out: the queue, then what a Bye held back. */
void tofui_send_take_all(tofui_chan *ch, tofui_mq *out);

/* ---- recv.c ---- */

/* The rules a peer can break, as the close Signal's ~violation names them
 * (docs/semantics.md). */
#define TOFUI_VIOLATION_OPCODE "invalid_opcode"           /* 10..15 */
#define TOFUI_VIOLATION_WELCOME "welcome_from_peer"       /* a local command */
#define TOFUI_VIOLATION_BYE_RESPONSE "unsolicited_bye_response" /* answers no Bye */

/* Reads and decodes; err_event tells that the poller reported ERR/HUP. */
void tofui_recv_read(tofui_chan *ch, bool err_event);
/* Reads and decodes the n bytes a stall left in the socket (stall.c), known
 * to be there: no error or end of stream comes before them. */
void tofui_recv_read_left(tofui_chan *ch, size_t n);
/* Decodes data[0..n) and delivers the frames. True when everything was
 * consumed and the channel still reads; false when it closed or stalled. */
bool tofui_recv_decode(tofui_chan *ch, const unsigned char *data, size_t n);
/* Takes the pool message for a complete frame, `want` at once into the
 * read's stock; false when the pool has none. */
bool tofui_recv_take_msg(tofui_chan *ch, size_t want);
/* A frame took longer than frame_timeout_ms: the channel closes. */
void tofui_recv_frame_timed_out(tofui_chan *ch);
/* A connected channel begins to read: the idle deadline starts. */
void tofui_recv_start(tofui_chan *ch);
/* No frame came for idle_timeout_ms: an open channel closes. */
void tofui_recv_idle_timed_out(tofui_chan *ch);
/* A new record's receive side. */
void tofui_recv_init(tofui_chan *ch);
/* Frees the receive state (message in progress, partial frame, frame
 * deadline). */
void tofui_recv_release(tofui_chan *ch);

/* ---- track.c ---- */

/* A Request went into the send queue: it waits for its answer. */
void tofui_track_queued(tofui_chan *ch, tofu_msg *m);
/* A queued Request left the queue unwritten and stays with the caller (a
 * post refused after all): as if it had never been queued. */
void tofui_track_unqueued(tofui_chan *ch, tofu_msg *m);
/* A frame is on the wire (a Request no longer waits to be sent; our
 * ByeRequest now waits for its answer). */
void tofui_track_sent(tofui_chan *ch, tofu_msg *m);
/* The channel closed with m unsent: true when m comes back to the
 * application, false when it goes to the pool (a Request the engine or
 * the peer answered already). */
bool tofui_track_hand_back(tofui_chan *ch, tofu_msg *m);
/* A Response or ByeResponse came: it answers its Request, or, answering
 * none, is marked late. */
void tofui_track_received(tofui_chan *ch, tofu_msg *m);
/* The channel closes: the engine answers, into out, every written request
 * still waiting (status and ~reason: the close reason); the records go,
 * but for those with parts still queued (tofui_track_hand_back). */
void tofui_track_answer_all(tofui_chan *ch, tofui_mq *out, tofu_status reason);
/* The same without answers (a silent close). */
void tofui_track_forget_all(tofui_chan *ch);
/* Answers the Requests whose deadline passed. */
void tofui_track_expire(tofui_chanset *set);

/* ---- stall.c ---- */

/* The pool is empty: keeps data[0..n) (unless they were peeked: then they
 * stay in the socket), stops reading until a put refills the pool, arms one
 * pool_empty Signal per episode. Returns false: the caller stops decoding. */
bool tofui_stall_begin(tofui_chan *ch, const unsigned char *data, size_t n);
/* Just before a wait with no refill pending: once the grace period is over,
 * tells the groups of channels that are still stalled (one pool_empty
 * Signal per episode). Returns the wait timeout it needs (-1: none). */
int tofui_stall_signal_due(tofui_chanset *set);
/* A stalled channel whose socket reports an error or hang-up leaves the
 * poller until it resumes. */
void tofui_stall_park(tofui_chan *ch);
/* A pool message came back: resumes stalled channels in stall order. */
void tofui_stall_resume(tofui_chanset *set);
/* Frees the stall state (kept bytes, stall list). */
void tofui_stall_release(tofui_chan *ch);
/* Before a read: true when what cannot be decoded now must stay in the
 * socket (peek, then read back what was used), because channels are
 * stalled already and a stall now would keep its bytes for long. */
bool tofui_stall_pressure(const tofui_chanset *set);

#endif
