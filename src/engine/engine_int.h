/*
 * Engine internals shared by engine.c, submit.c, group.c, chantab.c,
 * channel.c, dial.c, send.c, recv.c, stall.c and resolve.c.
 *
 * Threads and ownership, in one place:
 *   - The I/O thread owns every channel record (tofui_chan), the per-number
 *     channel array, the ready/stalled/linger lists and the read buffer.
 *     Nothing else touches them.
 *   - App threads and the I/O thread share: the submission queues (sub_lock),
 *     the channel table (its own lock), the pool (its own lock), each group's
 *     receive queue (the group's lock), and a few atomics.
 * A message moves between threads only through one of those locked queues.
 */
#ifndef TOFUI_ENGINE_INT_H
#define TOFUI_ENGINE_INT_H

#include <stdatomic.h>
#include <stddef.h>

#include "msg/msg.h"
#include "platform/platform.h"
#include "platform/poller.h"
#include "msg/pool.h"
#include "msg/wire.h"
#include "util/list.h"

/* Channel numbers 1..65534; 0 = unassigned, 65535 never used. */
#define TOFUI_CHAN_SLOTS 65536u
#define TOFUI_CHAN_MAX 65534u

/* Bytes read from a socket at once; also the most a stalled channel keeps. */
#define TOFUI_READ_CHUNK 65536u

/* Most pool messages taken at once for the frames of one read. */
#define TOFUI_RECV_BATCH 32u

/* Resolved addresses tried for one Hello/WelcomeRequest. */
#define TOFUI_MAX_ADDRS 16u

/* How long a channel stays stalled before its group hears of it: an
 * application that is putting messages back ends such a stall itself. */
#define TOFUI_POOL_EMPTY_GRACE_NS (5ull * 1000000ull)

/* How long a listener stops accepting after the process ran out of
 * descriptors or memory: the refused connection stays queued and the
 * listener readable, so retrying at once would spin. */
#define TOFUI_ACCEPT_PAUSE_NS (100ull * 1000000ull)

/* Timers a channel can wait for (one at a time). */
typedef enum tofui_timer_kind {
    TOFUI_TIMER_LINGER = 0,   /* after our last Bye frame: the peer's close (bye_linger_ms) */
    TOFUI_TIMER_ACCEPT_PAUSE, /* a listener out of descriptors */
    TOFUI_TIMER_CONNECT,      /* one connect attempt (connect_timeout_ms) */
    TOFUI_TIMER_HANDSHAKE,    /* an accepted channel's first frame (handshake_timeout_ms) */
    TOFUI_TIMER_KINDS
} tofui_timer_kind;

/* ---- timers.c: deadlines only ---- */

/* One deadline, embedded in what waits for it. */
typedef struct tofui_timer {
    tofui_link link; /* on its kind's list while it runs */
    uint64_t deadline;
} tofui_timer;

typedef struct tofui_timers {
    /* One list per kind: all timers of a kind are equally long, so each
     * list is in deadline order. */
    tofui_link lists[TOFUI_TIMER_KINDS];
    uint64_t len_ns[TOFUI_TIMER_KINDS]; /* 0: that kind is off */
} tofui_timers;

/* Sets the length of each kind from the options (0 turns a kind off). */
void tofui_timers_init(tofui_timers *t, const tofu_options *opt);
/* Starts tm as a timer of that kind (replacing whatever it ran); a kind
 * that is off starts nothing. */
void tofui_timer_start(tofui_timers *t, tofui_timer *tm, tofui_timer_kind kind);
/* Stops tm, if it runs. */
void tofui_timer_stop(tofui_timer *tm);
/* Wait timeout for the next deadline, in ms: -1 when none. */
int tofui_timers_timeout(const tofui_timers *t);
/* A timer whose deadline passed, taken off its list, and its kind; NULL
 * when there is none. *now is 0 on the first call of a round (the clock
 * is then read once, and only if some timer runs). */
tofui_timer *tofui_timers_pop_expired(tofui_timers *t, uint64_t *now, tofui_timer_kind *kind);

/* ---- channel table (chantab.c): numbers, shared with app threads ---- */

typedef struct tofui_chantab {
    tofui_mutex lock;
    /* [TOFUI_CHAN_SLOTS]; NULL = number free. Written under lock, read
     * without it: post validation is one atomic load, not a lock round. */
    _Atomic(tofu_group *) *owner;
    uint16_t *ring;     /* freed numbers, FIFO: reused only after all others */
    size_t ring_head;
    size_t ring_count;
    uint32_t fresh; /* next never-used number (numbers start in order) */
} tofui_chantab;

tofu_status tofui_chantab_init(tofui_chantab *t);
void tofui_chantab_fini(tofui_chantab *t);
/* A free number now owned by g, or 0 when all 65534 are in use. */
uint16_t tofui_chantab_alloc(tofui_chantab *t, tofu_group *g);
/* Gives a number back; it goes to the back of the free FIFO. */
void tofui_chantab_release(tofui_chantab *t, uint16_t num);
/* The group owning num, or NULL. */
tofu_group *tofui_chantab_owner(tofui_chantab *t, uint16_t num);

/* ---- the submission queue (submit.c): a locked queue only ---- */

typedef enum tofui_cmd_kind {
    TOFUI_CMD_GROUP_DESTROY = 0 /* embedded in the group */
} tofui_cmd_kind;

typedef struct tofui_cmd {
    struct tofui_cmd *next;
    tofui_cmd_kind kind;
} tofui_cmd;

typedef struct tofui_submit {
    /* Also orders the engine's group list and each group's `destroying`
     * with the posts (group.c, engine.c). */
    tofui_mutex lock;
    tofui_poller *poller; /* woken after each submission */
    tofui_mq posts;
    tofui_cmd *cmd_head;
    tofui_cmd *cmd_tail;
    bool stopping;  /* engine destroy started */
    bool failed;    /* the I/O thread hit a fatal poller error */
    bool io_exited; /* the I/O thread let go of every group */
} tofui_submit;

void tofui_submit_init(tofui_submit *q, tofui_poller *p);
void tofui_submit_fini(tofui_submit *q);
/* Queues a validated post. Refused (the caller keeps the message) with
 * notification_failed once the I/O thread failed, notification_disabled
 * once the engine stops, shutdown_started when *sender_closed (a group being
 * destroyed; the flag is written under q->lock). */
tofu_status tofui_submit_post(tofui_submit *q, tofu_msg *m, const bool *sender_closed);
/* Queues a command; false when the I/O thread is gone. */
bool tofui_submit_cmd(tofui_submit *q, tofui_cmd *c);
/* Wakes the I/O thread (coalesced by the poller). */
void tofui_submit_wake(tofui_submit *q);
/* I/O thread: takes every pending post and command, in order; false, with
 * nothing taken, once the engine is stopping. */
bool tofui_submit_take(tofui_submit *q, tofui_mq *posts, tofui_cmd **cmds);
/* Engine destroy: the queue refuses posts, the I/O thread is woken. */
void tofui_submit_stop(tofui_submit *q);
/* I/O thread: a fatal error; posts fail with notification_failed. */
void tofui_submit_fail(tofui_submit *q);
/* I/O thread on exit: refuses everything from now on and takes what is
 * left. Returns whether the thread failed. */
bool tofui_submit_close(tofui_submit *q, tofui_mq *posts, tofui_cmd **cmds);

/* ---- resolver (resolve.c) ---- */

typedef struct tofui_resolve_req {
    struct tofui_resolve_req *next;
    tofu_address addr;
    bool passive;
    uint16_t num;    /* the channel waiting for it... */
    uint64_t serial; /* ...if it is still that channel */
    tofu_status status;
    size_t n;
    tofui_sockaddr addrs[TOFUI_MAX_ADDRS];
} tofui_resolve_req;

typedef struct tofui_resolver {
    tofui_mutex lock;
    tofui_cond cond;
    tofui_resolve_req *head; /* to look up */
    tofui_resolve_req *tail;
    tofui_resolve_req *answers; /* looked up, for the I/O thread */
    tofui_resolve_req *answers_tail;
    atomic_bool answered; /* answers is not empty */
    tofui_poller *poller; /* woken with each answer */
    bool started;
    bool stop;
    tofui_thread thread;
} tofui_resolver;

/* ---- groups (group.c) ---- */

struct tofu_group {
    tofu_engine *eng;
    /* receive side, under lock */
    tofui_mutex lock;
    tofui_cond cond;
    tofui_mq queue;
    int waiters;  /* threads inside tofu_wait_receive */
    bool closed;  /* destroy started: waiters get shutdown_started */
    bool io_done; /* the I/O thread let go of the group */
    bool engine_failed; /* the I/O thread died: waiters get shutdown_started */
    /* under eng->sub_lock */
    bool destroying;
    tofui_link elink; /* engine's list of groups */
    tofui_cmd destroy_cmd;
    /* I/O thread only */
    tofui_link chans; /* channels of this group */
};

/* ---- channels (channel.c, dial.c, send.c, recv.c, stall.c): I/O thread only ---- */

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

typedef struct tofui_chan {
    tofu_engine *eng;
    tofu_group *group;
    uint64_t serial; /* tells a recycled number's new channel from the old */
    uint16_t num;
    uint8_t state;
    bool listen;      /* created by a WelcomeRequest */
    bool accepted;    /* created by accept: learns its id from the first message */
    bool id_learned;
    bool announced;   /* its number reached the application in a Signal */
    uint64_t remembered_id;
    tofui_socket sock;
    /* poller registration */
    bool registered;
    unsigned interest;
    /* ready list: interest to recompute, writes to try */
    bool in_ready;
    struct tofui_chan *ready_next;
    struct tofui_chan *dead_next;
    /* sending */
    tofui_mq sendq;    /* head may be partly written */
    uint32_t queued;   /* messages in sendq (for tofu_options.max_send_queue) */
    size_t sent_off;   /* bytes of the head already written */
    bool write_blocked; /* last write stopped short: wait for writable */
    bool send_dead;    /* a write failed: nothing more is written, reading ends it */
    tofui_mq held;     /* posted after a Bye: returned when the channel closes */
    bool bye_req_queued;  /* after it only a ByeResponse goes out */
    bool bye_last_queued; /* a ByeResponse or ByeSignal: nothing goes out after it */
    tofu_msg *hello;   /* the HelloRequest until it is written */
    bool hello_unanswered; /* it is written; the peer's HelloResponse not in */
    tofu_msg *welcome; /* the WelcomeRequest until it is answered */
    /* receiving */
    tofui_dec dec;
    tofu_msg *rmsg;      /* pool message taken for a complete frame */
    bool peer_bye_req;   /* the peer sent a ByeRequest */
    bool read_done;      /* got the ByeResponse; our own answer still to go out */
    bool stalled;        /* waits for a pool message */
    bool parked;         /* stalled and hung up: out of the poller until resumed */
    bool pool_signalled; /* pool_empty sent for this episode */
    bool signal_due;     /* pool_empty to send if still stalled at signal_at */
    uint64_t signal_at;  /* end of this stall's grace period */
    unsigned char *stash; /* unconsumed bytes while stalled */
    size_t stash_len;
    unsigned char *part;  /* a frame's text headers and body while they come in */
    size_t part_len;      /* thl + bl of that frame */
    size_t part_got;
    /* connecting / listening */
    tofui_sockaddr *addrs;
    size_t naddrs;
    size_t next_addr;
    tofui_sockaddr bound;
    bool accept_paused; /* listener out of descriptors: waits for timer */
    tofui_timer timer;  /* its one deadline at a time */
    /* memberships */
    tofui_link all;     /* engine's channel list */
    tofui_link glink;   /* group's channel list */
    tofui_link stall_link;
} tofui_chan;

/* An accepted channel the application has not heard of: no frame delivered
 * yet, no pool_empty Signal naming it. It runs the handshake timer, and it
 * closes silently. */
static inline bool tofui_chan_unseen(const tofui_chan *ch) {
    return ch->accepted && !ch->id_learned && !ch->announced;
}

/* ---- the engine ---- */

struct tofu_engine {
    tofui_pool pool;
    uint32_t max_send_queue; /* tofu_options.max_send_queue; 0: no limit */
    tofui_poller *poller;
    tofui_thread thread;
    tofui_chantab chantab;
    tofui_resolver resolver;

    tofui_submit sub;
    /* under sub.lock */
    tofui_cond sub_cond; /* engine destroy waits here for group destroys */
    tofui_link groups;

    atomic_bool fault;         /* tests: act as if the poller failed */
    _Atomic uint64_t passes;   /* tests: loop passes, to prove the thread sleeps */

    /* I/O thread only */
    tofui_chan **chans; /* [TOFUI_CHAN_SLOTS] by number */
    tofui_link all_chans;
    tofui_link stalled;
    tofui_timers timers; /* the channels' deadlines */
    tofui_chan *ready_head;
    tofui_chan *ready_tail;
    tofui_chan *dead; /* closed, freed before the next wait */
    uint64_t next_serial;
    bool signals_due;  /* some stalled channel has signal_due */
    /* pool messages taken ahead for one read's frames: rstock[rstock_next..rstock_n) */
    tofu_msg *rstock[TOFUI_RECV_BATCH];
    size_t rstock_next;
    size_t rstock_n;
    unsigned char *rbuf;
    unsigned char *wbuf; /* the stage of a write's batch (TOFUI_BATCH_STAGE) */
};

/* ---- engine.c ---- */

/* Tests only: the I/O thread behaves as after a fatal poller error. */
void tofui_engine_inject_fault(tofu_engine *e);

/* Tests only: how many loop passes (waits) the I/O thread has made. A busy
 * loop shows as a count that races ahead while nothing happens. */
uint64_t tofui_engine_passes(tofu_engine *e);

/* ---- group.c ---- */

/* Delivers one message (ctx cleared) to g's queue; a closed group frees it. */
void tofui_group_deliver(tofu_group *g, tofu_msg *m);
/* Delivers a whole list at once (one lock, one wake-up). */
void tofui_group_deliver_list(tofu_group *g, tofui_mq *q);
/* I/O thread: g's channels are closed; the destroyer goes on. */
void tofui_group_io_done(tofu_group *g);
/* Engine destroy: wakes waiters, frees the queue, frees the group. */
void tofui_group_free(tofu_group *g);
/* Wakes every waiter of every group (the I/O thread failed). */
void tofui_group_wake_all(tofu_engine *e);

/* ---- channel.c ---- */

tofui_chan *tofui_chan_create(tofu_engine *e, tofu_group *g, uint16_t num, tofui_chan_state st);
/* The open channel num of group g, or NULL. */
tofui_chan *tofui_chan_find(tofu_engine *e, uint16_t num, tofu_group *g);
/* Handles one posted message on the I/O thread. */
void tofui_chan_on_post(tofu_engine *e, tofu_msg *m);
/* A post the I/O thread will never handle goes back to its group with st;
 * a Hello/WelcomeRequest as an open that failed: its Response, its number
 * given back, the close Signal. */
void tofui_chan_post_unhandled(tofu_engine *e, tofu_msg *m, tofu_status st);
/* Closes every channel of g silently (group destroy). */
void tofui_chan_close_group(tofu_group *g);
/* Closes every channel: silently at engine destroy; after a fatal error
 * with everything handed back (notification_failed). */
void tofui_chan_close_all(tofu_engine *e, bool failed);
/* Hands a message back to the channel's group with origin engine. */
void tofui_chan_return(tofui_chan *ch, tofu_msg *m, tofu_status st);
/* A new close Signal (status channel_closed, ~reason); NULL without memory. */
tofu_msg *tofui_close_signal(uint16_t num, uint64_t id, tofu_status reason);
/* An unseen accepted channel's first frame came: its id is kept for the
 * close Signal, the handshake timer stops. */
void tofui_chan_learn_id(tofui_chan *ch, uint64_t id);
/* A pool_empty Signal named the channel: the application knows it now. */
void tofui_chan_announce(tofui_chan *ch);
/* Returns m to group g with origin engine and status st. */
void tofui_chan_return_to(tofu_group *g, tofu_msg *m, tofu_status st);
/* Closes a channel (see tofui_close_mode). Safe to call twice. */
void tofui_chan_close(tofui_chan *ch, tofu_status reason, tofui_close_mode mode);
/* Registers the channel's socket with the poller. */
tofu_status tofui_chan_register(tofui_chan *ch);
/* Queues the channel for interest recomputation before the next wait. */
void tofui_chan_touch(tofui_chan *ch);
/* Before each wait: tries pending writes, applies interest changes. */
void tofui_chan_flush_ready(tofu_engine *e);
/* Frees channel records closed since the last call. */
void tofui_chan_free_dead(tofu_engine *e);
/* Dispatches one poller event. */
void tofui_chan_on_event(tofui_chan *ch, unsigned events);
/* After the channel's last frame (ByeResponse, ByeSignal): sends nothing
 * more, keeps the connection open and waits for the peer to close, at most
 * bye_linger_ms. */
void tofui_chan_start_linger(tofui_chan *ch);
/* Stops accepting on a listener for TOFUI_ACCEPT_PAUSE_NS. */
void tofui_chan_pause_accepts(tofui_chan *l);
/* Acts on every deadline that passed (timers.c hands them back). */
void tofui_chan_expire_timers(tofu_engine *e);


/* ---- dial.c ---- */

void tofui_conn_hello(tofu_engine *e, tofu_msg *m);
void tofui_conn_welcome(tofu_engine *e, tofu_msg *m);
void tofui_conn_resolved(tofu_engine *e, tofui_resolve_req *r);
/* Completes a connect after the socket became writable or failed. */
void tofui_conn_on_connect_event(tofui_chan *ch);
/* A connect attempt took longer than connect_timeout_ms: the next address,
 * or the channel fails with connect_failed. */
void tofui_conn_attempt_timed_out(tofui_chan *ch);
/* Accepts pending connections on a listener. */
void tofui_conn_accept(tofui_chan *ch);

/* ---- send.c ---- */

/* Queues a post for sending, under the Bye rules (nothing after a
 * ByeResponse or ByeSignal, only a ByeResponse after a ByeRequest: the rest
 * is held back) and tofu_options.max_send_queue (data beyond it comes back
 * with not_allowed). */
void tofui_send_post(tofui_chan *ch, tofu_msg *m);
/* The send queue itself, counted for max_send_queue. */
void tofui_send_push(tofui_chan *ch, tofu_msg *m);
tofu_msg *tofui_send_pop(tofui_chan *ch);
/* Writes as much of the send queue as the socket takes. */
void tofui_send_write(tofui_chan *ch);
/* The poller reported writable after a write stopped short. */
void tofui_send_on_writable(tofui_chan *ch);

/* ---- recv.c ---- */

/* Reads and decodes; err_event tells that the poller reported ERR/HUP. */
void tofui_recv_read(tofui_chan *ch, bool err_event);
/* Decodes data[0..n) and delivers the frames. True when everything was
 * consumed and the channel still reads; false when it closed or stalled. */
bool tofui_recv_decode(tofui_chan *ch, const unsigned char *data, size_t n);
/* Takes the pool message for a complete frame, `want` at once into the
 * read's stock; false when the pool has none. */
bool tofui_recv_take_msg(tofui_chan *ch, size_t want);
/* Frees the receive state (message in progress, partial frame). */
void tofui_recv_release(tofui_chan *ch);

/* ---- stall.c ---- */

/* The pool is empty: keeps data[0..n) (at most one read), stops reading
 * until a put refills the pool, arms one pool_empty Signal per episode.
 * Returns false: the caller stops decoding. */
bool tofui_stall_begin(tofui_chan *ch, const unsigned char *data, size_t n);
/* Just before a wait with no refill pending: once the grace period is over,
 * tells the groups of channels that are still stalled (one pool_empty
 * Signal per episode). Returns the wait timeout it needs (-1: none). */
int tofui_stall_signal_due(tofu_engine *e);
/* A stalled channel whose socket reports an error or hang-up leaves the
 * poller until it resumes. */
void tofui_stall_park(tofui_chan *ch);
/* A pool message came back: resumes stalled channels in stall order. */
void tofui_stall_resume(tofu_engine *e);
/* Frees the stall state (kept bytes, stall list). */
void tofui_stall_release(tofui_chan *ch);

/* ---- resolve.c ---- */

void tofui_resolver_init(tofui_resolver *r, tofui_poller *p);
/* Stops and joins the resolver thread; frees the requests and answers
 * nobody took. */
void tofui_resolver_fini(tofui_resolver *r);
/* Queues a lookup (starting the thread on first use); the answer comes
 * back through tofui_resolver_take_answers after a wake-up. */
tofu_status tofui_resolver_submit(tofui_resolver *r, tofui_resolve_req *q);
/* I/O thread: the answers so far, oldest first, linked through next; the
 * caller owns them. */
tofui_resolve_req *tofui_resolver_take_answers(tofui_resolver *r);

#endif
