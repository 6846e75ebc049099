/*
 * libtofu against the original tofu's socket behaviour (SPEC §13), played by
 * the orig peer (harness/orig_peer.h): for each case, libtofu as server and
 * as client, over TCP and UDS, against either network layer of the
 * original. CTest runs `test_interop_orig <case> <transport> <layer>` as the
 * entry "orig.<transport>.<layer>.<case>" (transport tcp4 or uds, layer
 * stdposix or posixnet); case names start with the role libtofu plays.
 *
 * Every case runs ITERATIONS times in a row (the losses it looks for depend
 * on timing and must not be able to hide) on one engine and one group.
 * Each iteration connects, says hello, exchanges ITEMS data messages each
 * way (Requests echoed as Responses, Signals echoed, `more` streams), then
 * ends the connection the case's way, with TAIL more messages in flight
 * from the side that ends it. Both sides are then checked: libtofu's
 * application got every echo, every item, the ByeResponse when there is a
 * Bye, and the close Signal with the expected `~reason` last; the peer got
 * every frame in order, dropped no unread byte, and ended the way the
 * original would (error flag, end of stream, reset after a ByeResponse...).
 * What "correct" means is docs/semantics.md and DESIGN.md "Graceful close".
 *
 * TOFU_T_ORIG_ITERATIONS=<n> in the environment changes the count (for
 * stress runs by hand).
 */
#include "orig_peer.h"

#define ITERATIONS 30
#define LINGER_ITERATIONS 4 /* the linger case waits LINGER_MS each time */
#define LINGER_MS 500u
#define ITEMS 64            /* exchanged each way after the hello */
#define TAIL 64             /* sent by the side that ends, right before it ends */
#define MAX_BODY 3000u
#define ADDR_CAP TOFU_T_ADDR_CAP

/* Message ids: the libtofu application's items from LIB_BASE, the peer's
 * from PEER_BASE; an item's echo has the item's id. */
#define LIB_BASE 1u
#define PEER_BASE 1000000000u
#define LIB_BYE_ID (LIB_BASE + 500000u)
#define LATE_ID (LIB_BASE + 600000u)
#define PEER_BYE_ID (PEER_BASE + 500000u)
#define PEER_HELLO_ID (PEER_BASE + 700000u)

/* ======================================================================== */
/* configuration                                                            */
/* ======================================================================== */

typedef enum role { LIB_SERVER, LIB_CLIENT } role;

typedef struct ctx {
    role r;
    tofu_t_transport t;
    bool uds;
    orig_layer layer;
    tofu_engine *e;
    tofu_group *g;
    char reach[ADDR_CAP]; /* LIB_SERVER: the ~connect_to of libtofu's listener */
    tofu_t_rng rng;
} ctx;

/* The transport (tofu_t_transport_arg: skipped where the system lacks it)
 * and the original's network layer. */
static void ctx_args(ctx *x) {
    const char *l = tofu_t_arg(1);
    x->t = tofu_t_transport_arg();
    if ((x->t != TOFU_T_TCP4 && x->t != TOFU_T_UDS) || l == NULL ||
        (strcmp(l, "stdposix") != 0 && strcmp(l, "posixnet") != 0))
        tofu_t_fail(__FILE__, __LINE__, "usage: <case> tcp4|uds stdposix|posixnet");
    x->uds = x->t == TOFU_T_UDS;
    x->layer = strcmp(l, "stdposix") == 0 ? ORIG_STDPOSIX : ORIG_POSIXNET;
}

static int iterations(int usual) {
    const char *v = getenv("TOFU_T_ORIG_ITERATIONS");
    int n = v != NULL ? atoi(v) : 0;
    return n > 0 ? n : usual;
}

/* A group, and for LIB_SERVER its listener. */
static void ctx_group_open(ctx *x) {
    x->g = tofu_t_group(x->e);
    if (x->r != LIB_SERVER)
        return;
    char value[ADDR_CAP];
    tofu_t_listen_value(x->t, value, sizeof value);
    tofu_address bound;
    LISTEN(x->e, x->g, value, &bound);
    tofu_t_connect_value(&bound, x->reach, sizeof x->reach);
}

static void ctx_group_close(ctx *x) {
    ASSERT_OK(tofu_group_destroy(x->e, x->g));
    x->g = NULL;
}

static void ctx_open(ctx *x, role r, const tofu_options *opt) {
    memset(x, 0, sizeof *x);
    x->r = r;
    ctx_args(x);
    tofu_t_rng_seed(&x->rng, 0x0123456789ABCDEFull ^ (uint64_t)r);
    tofu_options o;
    tofu_options_init(&o);
    x->e = tofu_t_engine_with(opt != NULL ? opt : &o);
    ctx_group_open(x);
}

/* Nothing more arrives, then everything is destroyed and nothing leaked. */
static void ctx_close(ctx *x) {
    if (x->g != NULL) {
        EXPECT_NOTHING(x->g, 100);
        ctx_group_close(x);
    }
    tofu_engine_destroy(x->e);
    ASSERT_NO_LEAKS();
    ASSERT_EQ(orig_peer_open_sockets(), 0);
}

/* ======================================================================== */
/* items                                                                    */
/* ======================================================================== */

/* Item k of a side: in blocks of 8, four Requests, a Signal and a stream of
 * three Request parts (one id, `more` on all but the last); each with a
 * text header naming k and a body of its own length (sometimes empty). */
typedef struct item {
    uint8_t op;
    bool more;
    uint64_t id;
    char th[32]; /* "i:" and up to 20 digits, CR LF */
    size_t thl, len;
    uint32_t seed;
} item;

static item item_of(uint64_t base, size_t k) {
    item it;
    memset(&it, 0, sizeof it);
    size_t b = k % 8;
    it.op = b == 4 ? TOFU_OP_SIGNAL : TOFU_OP_REQUEST;
    it.more = b == 5 || b == 6;
    it.id = base + (b >= 5 ? k - (b - 5) : k);
    it.thl = (size_t)snprintf(it.th, sizeof it.th, "i:%zu\r\n", k);
    it.len = k % 11 == 3 ? 0 : (size_t)(k * 7919u % MAX_BODY) + 1;
    it.seed = (uint32_t)(base + k);
    return it;
}

static uint8_t reply_of(uint8_t op) {
    return op == TOFU_OP_REQUEST ? TOFU_OP_RESPONSE : TOFU_OP_SIGNAL;
}

/* A message or frame as seen by a receiver, for one check of both. */
typedef struct seen {
    uint8_t op;
    bool more;
    uint64_t id;
    const void *th, *body;
    size_t thl, bl;
} seen;

static seen seen_msg(const tofu_msg *m) {
    const tofu_bhdr *h = tofu_msg_bhdr_const(m);
    seen s;
    s.op = (uint8_t)h->opcode;
    s.more = h->more;
    s.id = h->message_id;
    s.th = tofu_msg_headers(m, &s.thl);
    s.body = tofu_msg_body(m, &s.bl);
    return s;
}

static seen seen_frame(const orig_frame *f) {
    seen s = {ORIG_OP(f->proto), (f->proto & ORIG_MORE) != 0, f->id, f->th, f->body, f->thl,
              f->bl};
    return s;
}

/* True when s is item k of `base` (its echo when `echoed`). */
static bool is_item(const seen *s, uint64_t base, size_t k, bool echoed) {
    static unsigned char want[MAX_BODY];
    item it = item_of(base, k);
    if (s->op != (echoed ? reply_of(it.op) : it.op) || s->more != it.more || s->id != it.id ||
        s->thl != it.thl || memcmp(s->th, it.th, it.thl) != 0 || s->bl != it.len)
        return false;
    tofu_t_fill(want, it.len, it.seed);
    return it.len == 0 || memcmp(s->body, want, it.len) == 0;
}

/* The k of an item from its text header "i:<k>", or SIZE_MAX. */
static size_t item_index(const seen *s) {
    char buf[24];
    if (s->thl < 5 || s->thl >= sizeof buf)
        return SIZE_MAX;
    memcpy(buf, s->th, s->thl);
    buf[s->thl] = '\0';
    return buf[0] == 'i' && buf[1] == ':' ? (size_t)strtoul(buf + 2, NULL, 10) : SIZE_MAX;
}

/* Data from the point of view of a side whose items have ids in its own
 * range: an echo of one of its items, or an item of the other side. */
typedef enum kind { K_ECHO, K_ITEM, K_OTHER } kind;

static kind kind_of(uint8_t op, uint64_t id, bool mine_are_lib) {
    bool in_lib_range = id < PEER_BASE;
    if (op == TOFU_OP_RESPONSE)
        return K_ECHO;
    if (op == TOFU_OP_REQUEST)
        return K_ITEM;
    if (op == TOFU_OP_SIGNAL)
        return in_lib_range == mine_are_lib ? K_ECHO : K_ITEM;
    return K_OTHER;
}

/* ======================================================================== */
/* one connection                                                           */
/* ======================================================================== */

typedef struct conn {
    ctx *x;
    orig_peer *peer;
    uint16_t ch;                   /* libtofu's channel */
    uint64_t hello_id;             /* LIB_CLIENT: libtofu's HelloRequest */
    size_t lib_posted, echoes;     /* libtofu's items posted; their echoes received */
    size_t peer_posted, peer_items; /* the peer's items posted; received by libtofu */
    size_t answered;               /* items up to here answered by libtofu's engine */
    uint32_t timeout_ms;           /* the deadline of the items posted now; 0: none */
    bool echo_peer;                /* libtofu's application echoes the peer's items */
} conn;

static orig_script script_default(void) {
    orig_script s;
    memset(&s, 0, sizeof s);
    s.answer_hello = true;
    s.echo = true;
    s.echo_below_id = PEER_BASE; /* its own Signals coming back are not echoed */
    s.answer_bye = true;
    return s;
}

/* Posts n more items; with `may_close`, the channel may close meanwhile
 * (the peer dies): posting stops at the first post refused for that. */
static void lib_post_items_at(conn *k, size_t n, bool may_close, const char *file, int line) {
    static unsigned char body[MAX_BODY];
    for (size_t i = 0; i < n; i++, k->lib_posted++) {
        item it = item_of(LIB_BASE, k->lib_posted);
        tofu_msg *m = tofu_t_get(k->x->e);
        tofu_bhdr *h = tofu_msg_bhdr(m);
        h->opcode = it.op;
        h->more = it.more;
        h->channel = k->ch;
        h->message_id = it.id;
        ASSERT_OK(tofu_msg_append_headers_raw(m, it.th, it.thl));
        tofu_t_fill(body, it.len, it.seed);
        ASSERT_OK(tofu_msg_append_body(m, body, it.len));
        if (k->timeout_ms != 0)
            tofu_msg_set_timeout(m, k->timeout_ms);
        tofu_status st = tofu_post(k->x->g, &m, NULL);
        /* A channel that closed meanwhile refuses the post at once with
         * channel_closed (while the engine was closing it, or once its
         * number was given back). */
        if (st == TOFU_CHANNEL_CLOSED && may_close) {
            tofu_put(k->x->e, &m);
            return;
        }
        if (st != TOFU_SUCCESS)
            tofu_t_fail(file, line, "tofu_post failed with %s", tofu_status_name(st));
    }
}
#define lib_post_items(k, n) lib_post_items_at((k), (n), false, __FILE__, __LINE__)

static void peer_post_items(conn *k, size_t n) {
    static unsigned char body[MAX_BODY];
    for (size_t i = 0; i < n; i++, k->peer_posted++) {
        item it = item_of(PEER_BASE, k->peer_posted);
        tofu_t_fill(body, it.len, it.seed);
        orig_peer_send(k->peer, (uint8_t)(it.op | (it.more ? ORIG_MORE : 0)), it.id, it.th, it.thl,
                       body, it.len);
    }
}

/* Posts a Bye-type message with no content (bit 6 stays clear). */
static void lib_post_bye(conn *k, tofu_opcode op, uint64_t id) {
    tofu_msg *m = tofu_t_get(k->x->e);
    tofu_msg_set_opcode(m, op);
    tofu_msg_set_channel(m, k->ch);
    tofu_msg_set_id(m, id);
    POST(k->x->g, &m);
}

/* The next message of the group that is not a pool_empty Signal; it must
 * be about this connection's channel. */
static tofu_msg *lib_next_at(conn *k, const char *file, int line) {
    for (;;) {
        tofu_msg *m = tofu_t_wait_msg_at(k->x->g, TOFU_T_WAIT_S, file, line);
        if (tofu_t_is_pool_empty(m)) {
            tofu_put(k->x->e, &m);
            continue;
        }
        if (tofu_msg_channel(m) != k->ch)
            tofu_t_fail_msg_at("a message of another channel (of an earlier connection, after "
                               "its close Signal?)", m, file, line);
        return m;
    }
}

/* libtofu's application: takes data messages (checked in order; the
 * peer's items echoed back when echo_peer) until `echoes` echoes and
 * `items` peer items are in, then returns NULL; or returns the first
 * message that is not data (the caller's). */
static tofu_msg *lib_pump_at(conn *k, size_t echoes, size_t items, const char *file, int line) {
    while (k->echoes < echoes || k->peer_items < items) {
        tofu_msg *m = lib_next_at(k, file, line);
        seen s = seen_msg(m);
        kind kd = tofu_msg_from_engine(m) ? K_OTHER : kind_of(s.op, s.id, true);
        if (kd == K_OTHER)
            return m;
        if (tofu_msg_status(m) != TOFU_SUCCESS)
            tofu_t_fail_msg_at("data with a status", m, file, line);
        if (kd == K_ECHO) {
            if (k->echoes >= k->lib_posted || !is_item(&s, LIB_BASE, k->echoes, true))
                tofu_t_fail_msg_at("not the next echo", m, file, line);
            k->echoes++;
            tofu_put(k->x->e, &m);
            continue;
        }
        if (k->peer_items >= k->peer_posted || !is_item(&s, PEER_BASE, k->peer_items, false))
            tofu_t_fail_msg_at("not the peer's next item", m, file, line);
        k->peer_items++;
        if (k->echo_peer) {
            tofu_msg_set_opcode(m, reply_of(s.op));
            tofu_t_post_at(k->x->g, &m, file, line);
        } else {
            tofu_put(k->x->e, &m);
        }
    }
    return NULL;
}
#define LIB_PUMP(k, echoes, items) lib_pump_at((k), (echoes), (items), __FILE__, __LINE__)

/* Takes data until the first other message, checks that exactly `echoes`
 * echoes and `items` peer items came before it, and returns it. */
static tofu_msg *lib_after_data_at(conn *k, size_t echoes, size_t items, const char *file,
                                   int line) {
    tofu_msg *m = lib_pump_at(k, SIZE_MAX, SIZE_MAX, file, line);
    if (k->echoes != echoes || k->peer_items != items) {
        char what[160];
        snprintf(what, sizeof what,
                 "%zu echoes and %zu peer items expected before it, got %zu and %zu (lost)",
                 echoes, items, k->echoes, k->peer_items);
        tofu_t_fail_msg_at(what, m, file, line);
    }
    return m;
}
#define LIB_AFTER_DATA(k, echoes, items) lib_after_data_at((k), (echoes), (items), __FILE__, __LINE__)

/* Checks that m is an application message `op` with `id` on the channel. */
static void check_app_at(const conn *k, const tofu_msg *m, tofu_opcode op, uint64_t id,
                         const char *file, int line) {
    char what[96];
    snprintf(what, sizeof what, "expected the peer's %s id %" PRIu64, tofu_op_name(op), id);
    if (tofu_msg_opcode(m) != op || tofu_msg_from_engine(m) || tofu_msg_id(m) != id ||
        tofu_msg_status(m) != TOFU_SUCCESS || tofu_msg_channel(m) != k->ch)
        tofu_t_fail_msg_at(what, m, file, line);
}
#define CHECK_APP(k, m, op, id) check_app_at((k), (m), (op), (id), __FILE__, __LINE__)

/* Checks that m is the engine's return of a posted `op` with that status. */
static void check_returned_at(const tofu_msg *m, tofu_opcode op, tofu_status st, const char *file,
                              int line) {
    char what[96];
    snprintf(what, sizeof what, "expected the %s back with %s", tofu_op_name(op),
             tofu_status_name(st));
    if (tofu_msg_opcode(m) != op || !tofu_msg_from_engine(m) || tofu_msg_status(m) != st)
        tofu_t_fail_msg_at(what, m, file, line);
}
#define CHECK_RETURNED(m, op, st) check_returned_at((m), (op), (st), __FILE__, __LINE__)

/* The close Signal, told from a returned Signal item by its ~reason. */
static bool is_close(const tofu_msg *m) {
    return tofu_t_is_close_signal(m) && tofu_msg_find_header(m, TOFU_HDR_REASON, NULL);
}

/* True when item j is the last part posted of a Request (its `more`
 * clear, or the parts after it never posted): the Request whose answer the
 * engine waits for. */
static bool item_ends_request(size_t j, size_t posted) {
    item it = item_of(LIB_BASE, j);
    return it.op == TOFU_OP_REQUEST && (!it.more || j + 1 == posted);
}

/* The first item at or after j, before `end`, that ends a Request of the
 * `posted` items; `end` when none does. */
static size_t next_request_end(size_t j, size_t end, size_t posted) {
    while (j < end && !item_ends_request(j, posted))
        j++;
    return j;
}

/* Every Request gets exactly one answer: when libtofu's channel closes,
 * each of its Requests that went out and got no echo (the final one, more
 * clear) is answered by the engine, in posting order, before anything
 * else comes back: a Response with its id, origin engine, the close reason
 * as status and ~reason. m is the first message after the data; returns
 * the first that is not such an answer, having checked that no Request
 * before the first item returned unsent (or before the end, when it is the
 * close Signal) went unanswered. *reason is the close reason, or
 * TOFU_SUCCESS to learn it from the first answer. */
static tofu_msg *lib_engine_answers_at(conn *k, tofu_msg *m, tofu_status *reason,
                                       const char *file, int line) {
    /* the first item with neither its echo nor an answer of the engine */
    size_t j = k->echoes > k->answered ? k->echoes : k->answered;
    while (tofu_msg_opcode(m) == TOFU_OP_RESPONSE && tofu_msg_from_engine(m)) {
        j = next_request_end(j, k->lib_posted, k->lib_posted);
        if (*reason == TOFU_SUCCESS)
            *reason = tofu_msg_status(m);
        if (j >= k->lib_posted || tofu_msg_id(m) != item_of(LIB_BASE, j).id ||
            tofu_msg_status(m) != *reason || tofu_t_reason(m) != *reason ||
            tofu_msg_channel(m) != k->ch)
        {
            char what[160];
            snprintf(what, sizeof what,
                     "expected the engine's answer to item %zu (echoes %zu, posted %zu)", j,
                     k->echoes, k->lib_posted);
            tofu_t_fail_msg_at(what, m, file, line);
        }
        k->answered = ++j;
        tofu_put(k->x->e, &m);
        m = lib_next_at(k, file, line);
    }
    seen s = seen_msg(m);
    size_t first_back = is_close(m) || !tofu_msg_from_engine(m) ? k->lib_posted : item_index(&s);
    if (first_back > k->lib_posted)
        first_back = k->lib_posted;
    if (next_request_end(j, first_back, k->lib_posted) < first_back) {
        char what[120];
        snprintf(what, sizeof what, "item %zu, a Request that went out, got no answer",
                 next_request_end(j, first_back, k->lib_posted));
        tofu_t_fail_msg_at(what, m, file, line);
    }
    return m;
}

/* Takes the next messages: the engine's answers to Requests that went
 * unanswered, then the close Signal with that reason. */
static void lib_expect_close_at(conn *k, tofu_status reason, const char *file, int line) {
    tofu_status why = reason;
    tofu_msg *m = lib_engine_answers_at(k, lib_next_at(k, file, line), &why, file, line);
    tofu_t_check_close_at(m, k->ch, 0, reason, file, line);
    tofu_put(k->x->e, &m);
}
#define LIB_EXPECT_CLOSE(k, reason) lib_expect_close_at((k), (reason), __FILE__, __LINE__)

/* What libtofu sees when the original resets (or dies): a reset on TCP; an
 * end of stream on a Unix socket, or a reset there too when the peer left
 * unread data behind (docs/platforms.md). */
static bool is_peer_abort_reason(const ctx *x, tofu_status r, bool unread) {
    if (!x->uds)
        return r == TOFU_COMMUNICATION_FAILED;
    return r == TOFU_PEER_DISCONNECTED || (unread && r == TOFU_COMMUNICATION_FAILED);
}

/* Fails when anything about the channel arrives within 300 ms: called
 * when returned items are missing, to say whether they came after the
 * close Signal (which must be the last message of a channel). */
static void lib_no_stragglers_at(conn *k, const char *what, const char *file, int line) {
    size_t late = 0;
    tofu_msg *m;
    while ((m = tofu_t_poll_msg(k->x->g, 300)) != NULL) {
        char d[200];
        tofu_t_describe(m, d, sizeof d);
        fprintf(stderr, "after the close Signal: %s\n", d);
        late++;
        tofu_put(k->x->e, &m);
    }
    if (late > 0)
        tofu_t_fail(file, line, "%s: %zu messages came after the close Signal", what, late);
    tofu_t_fail(file, line, "%s", what);
}

/* Collects libtofu's items that come back after the channel died: an
 * unbroken run ending with the last item posted, each with the close
 * reason or channel_closed (a post that reached the engine after the
 * close) as status, then the close Signal; m is the first message after
 * the data. *reason receives the close Signal's reason. Returns how many
 * came back. */
static size_t lib_collect_returned_at(conn *k, tofu_msg *m, tofu_status *reason, const char *file,
                                      int line) {
    size_t back = 0, next = SIZE_MAX;
    m = lib_engine_answers_at(k, m, reason, file, line);
    for (; !is_close(m); m = lib_next_at(k, file, line)) {
        seen s = seen_msg(m);
        size_t i = item_index(&s);
        tofu_status st = tofu_msg_status(m);
        if (!tofu_msg_from_engine(m) || st == TOFU_SUCCESS || i >= k->lib_posted ||
            (next != SIZE_MAX && i != next) || !is_item(&s, LIB_BASE, i, false))
            tofu_t_fail_msg_at("expected an unsent item returned in order", m, file, line);
        if (*reason == TOFU_SUCCESS)
            *reason = st;
        else if (st != *reason && st != TOFU_CHANNEL_CLOSED)
            tofu_t_fail_msg_at("returned items with different statuses", m, file, line);
        next = i + 1;
        back++;
        tofu_put(k->x->e, &m);
    }
    tofu_status first = *reason;
    *reason = tofu_t_reason(m);
    tofu_t_check_close_at(m, k->ch, 0, *reason, file, line);
    tofu_put(k->x->e, &m);
    if (first != TOFU_SUCCESS && first != *reason && first != TOFU_CHANNEL_CLOSED)
        tofu_t_fail(file, line, "items returned with %s, the close reason is %s",
                    tofu_status_name(first), tofu_status_name(*reason));
    if (back > 0 && next != k->lib_posted) {
        char what[96];
        snprintf(what, sizeof what, "the returned items end at %zu, not %zu", next - 1,
                 k->lib_posted - 1);
        lib_no_stragglers_at(k, what, file, line);
    }
    return back;
}

/* ---- the hello ---- */

/* The peer connects to libtofu's listener and says hello; libtofu's
 * application answers. */
static void open_to_lib(ctx *x, conn *k, const orig_script *s) {
    k->peer = ORIG_CONNECT(x->layer, x->reach, s);
    char th[ADDR_CAP + 32];
    int thl = snprintf(th, sizeof th, "%s:%s\r\n", TOFU_HDR_CONNECT_TO, x->reach);
    orig_peer_send(k->peer, TOFU_OP_HELLO_REQUEST, PEER_HELLO_ID, th, (size_t)thl, NULL, 0);
    tofu_msg *m = WAIT_MSG(x->g);
    while (tofu_t_is_pool_empty(m)) {
        tofu_put(x->e, &m);
        m = WAIT_MSG(x->g);
    }
    tofu_header h;
    if (tofu_msg_from_engine(m))
        FAIL_MSG("a message of an earlier connection after its close Signal (it must be last)", m);
    if (tofu_msg_opcode(m) != TOFU_OP_HELLO_REQUEST || tofu_msg_from_engine(m) ||
        tofu_msg_id(m) != PEER_HELLO_ID || !tofu_msg_find_header(m, TOFU_HDR_CONNECT_TO, &h) ||
        h.value_len != strlen(x->reach) || memcmp(h.value, x->reach, h.value_len) != 0)
        FAIL_MSG("expected the peer's HelloRequest", m);
    k->ch = tofu_msg_channel(m);
    tofu_msg_set_opcode(m, TOFU_OP_HELLO_RESPONSE);
    POST(x->g, &m);
}

/* libtofu connects to the peer's listener; the peer's script answers. */
static void open_to_peer(ctx *x, conn *k, const orig_script *s) {
    char value[ADDR_CAP];
    k->peer = ORIG_LISTEN(x->layer, x->uds, s, value, sizeof value);
    tofu_bhdr h = POST_HELLO(x->e, x->g, value);
    k->ch = h.channel;
    k->hello_id = h.message_id;
    tofu_msg *m = lib_next_at(k, __FILE__, __LINE__);
    CHECK_APP(k, m, TOFU_OP_HELLO_RESPONSE, h.message_id);
    tofu_put(x->e, &m);
}

static void open_conn(ctx *x, conn *k, const orig_script *s) {
    memset(k, 0, sizeof *k);
    k->x = x;
    k->echo_peer = true;
    if (x->r == LIB_SERVER)
        open_to_lib(x, k, s);
    else
        open_to_peer(x, k, s);
}

/* ITEMS each way at once, every one echoed by the other side; ends when
 * both sides have everything. */
static void exchange(conn *k) {
    peer_post_items(k, ITEMS);
    lib_post_items(k, ITEMS);
    tofu_msg *m = LIB_PUMP(k, ITEMS, ITEMS);
    if (m != NULL)
        FAIL_MSG("expected only data during the exchange", m);
    ORIG_WAIT_RECEIVED(k->peer, 1 + 2 * (size_t)ITEMS);
}

/* ======================================================================== */
/* the peer's side                                                          */
/* ======================================================================== */

#define END_BIT(e) (1u << (e))
/* libtofu closed its socket: a FIN on TCP, a hang-up on a Unix socket. */
#define ENDS_LIB_CLOSED (END_BIT(ORIG_END_ERROR_FLAG) | END_BIT(ORIG_END_EOF))
/* libtofu reset or closed the connection while the peer may be writing. */
#define ENDS_LIB_GONE (ENDS_LIB_CLOSED | END_BIT(ORIG_END_READ_ERROR) | END_BIT(ORIG_END_WRITE_ERROR))

/* How the original sees libtofu's plain close exactly: stdposix an error
 * flag (RDHUP); posixnet an end of stream on TCP, and on a Unix socket a
 * hang-up (an error flag) or, when the close came between its poll and its
 * read, an end of stream. */
static unsigned ends_plain_close(const ctx *x) {
    if (x->layer == ORIG_STDPOSIX)
        return END_BIT(ORIG_END_ERROR_FLAG);
    return x->uds ? ENDS_LIB_CLOSED : END_BIT(ORIG_END_EOF);
}

static _Noreturn void peer_fail_at(const orig_report *r, const char *what, const char *file,
                                   int line) {
    char d[256];
    orig_report_describe(r, d, sizeof d);
    tofu_t_fail(file, line, "orig peer: %s (%s)", what, d);
}

static void peer_check_end_at(const orig_report *r, unsigned ends, bool no_loss, const char *file,
                              int line) {
    if ((ends & END_BIT(r->end)) == 0)
        peer_fail_at(r, "it did not end as expected", file, line);
    if (no_loss && r->dropped != 0)
        peer_fail_at(r, "it dropped unread bytes (lost)", file, line);
}

/* Checks the peer's first frame, the hello; returns the index after it. */
static size_t peer_check_hello_at(const conn *k, const orig_report *r, const char *file,
                                  int line) {
    const orig_frame *f = orig_peer_frame(k->peer, 0);
    bool client = k->x->r == LIB_CLIENT;
    if (f == NULL || ORIG_OP(f->proto) != (client ? TOFU_OP_HELLO_REQUEST : TOFU_OP_HELLO_RESPONSE) ||
        f->id != (client ? k->hello_id : PEER_HELLO_ID) ||
        (client && strstr((const char *)f->th, TOFU_HDR_CONNECT_TO ":") == NULL))
        peer_fail_at(r, "its first frame is not the hello", file, line);
    return 1;
}

/* Walks the peer's log from frame *i over the data frames (checked in
 * order) and returns the first other frame (NULL at the end of the log). */
static const orig_frame *peer_walk_at(const conn *k, const orig_report *r, size_t *i,
                                      size_t *echoes, size_t *items, const char *file, int line) {
    for (;; (*i)++) {
        const orig_frame *f = orig_peer_frame(k->peer, *i);
        if (f == NULL)
            return NULL;
        seen s = seen_frame(f);
        kind kd = kind_of(s.op, s.id, false);
        if (kd == K_OTHER)
            return f;
        char what[96];
        snprintf(what, sizeof what, "frame %zu (op %u id %" PRIu64 ") is not the next %s", *i,
                 (unsigned)s.op, s.id, kd == K_ECHO ? "echo" : "libtofu item");
        if (kd == K_ECHO) {
            if (*echoes >= k->peer_posted || !is_item(&s, PEER_BASE, *echoes, true))
                peer_fail_at(r, what, file, line);
            (*echoes)++;
        } else {
            if (*items >= k->lib_posted || !is_item(&s, LIB_BASE, *items, false))
                peer_fail_at(r, what, file, line);
            (*items)++;
        }
    }
}

/* A frame the peer must have received after the data. */
typedef struct tail_frame {
    uint8_t proto;
    uint64_t id;
} tail_frame;

/* The peer's whole log: the hello, exactly `echoes` echoes and `items`
 * libtofu items, then exactly the tail frames. */
static void peer_check_log_at(const conn *k, const orig_report *r, size_t echoes, size_t items,
                              const tail_frame *tail, size_t ntail, const char *file, int line) {
    size_t i = peer_check_hello_at(k, r, file, line), got_echoes = 0, got_items = 0;
    const orig_frame *f = peer_walk_at(k, r, &i, &got_echoes, &got_items, file, line);
    if (got_echoes != echoes || got_items != items) {
        char what[128];
        snprintf(what, sizeof what, "%zu echoes and %zu libtofu items expected, got %zu and %zu",
                 echoes, items, got_echoes, got_items);
        peer_fail_at(r, what, file, line);
    }
    for (size_t t = 0; t < ntail; t++, f = orig_peer_frame(k->peer, ++i)) {
        if (f == NULL || f->proto != tail[t].proto || f->id != tail[t].id) {
            char what[128];
            snprintf(what, sizeof what, "frame %zu: expected proto 0x%02x id %" PRIu64 "%s", i,
                     (unsigned)tail[t].proto, tail[t].id, f == NULL ? ", the log ended" : "");
            peer_fail_at(r, what, file, line);
        }
    }
    if (f != NULL)
        peer_fail_at(r, "it received more than expected", file, line);
}

/* The end of an iteration on the peer's side when nothing may be lost:
 * how it ended, no byte dropped, its log, and how many of its frames it
 * held back. */
static void peer_check_at(const conn *k, const orig_report *r, unsigned ends, size_t echoes,
                          size_t items, const tail_frame *tail, size_t ntail, size_t unsent,
                          const char *file, int line) {
    peer_check_end_at(r, ends, true, file, line);
    peer_check_log_at(k, r, echoes, items, tail, ntail, file, line);
    if (r->unsent != unsent)
        peer_fail_at(r, "unexpected number of frames held back", file, line);
}
#define PEER_CHECK(k, r, ends, echoes, items, tail, ntail, unsent) \
    peer_check_at((k), (r), (ends), (echoes), (items), (tail), (ntail), (unsent), __FILE__, __LINE__)

/* ======================================================================== */
/* the cases, one iteration each                                            */
/* ======================================================================== */

/* libtofu starts the graceful close with TAIL items in flight; the peer
 * echoes them and answers; libtofu gets every echo and the ByeResponse,
 * closes, and the peer sees that close with nothing unread. */
static void bye_from_lib(ctx *x, conn *k) {
    orig_script s = script_default();
    open_conn(x, k, &s);
    exchange(k);
    lib_post_items(k, TAIL);
    lib_post_bye(k, TOFU_OP_BYE_REQUEST, LIB_BYE_ID);
    tofu_msg *m = LIB_AFTER_DATA(k, ITEMS + TAIL, ITEMS);
    CHECK_APP(k, m, TOFU_OP_BYE_RESPONSE, LIB_BYE_ID);
    tofu_put(x->e, &m);
    LIB_EXPECT_CLOSE(k, TOFU_CHANNEL_CLOSED);
    orig_report r = ORIG_WAIT_END(k->peer);
    const tail_frame tail[] = {{TOFU_OP_BYE_REQUEST, LIB_BYE_ID}};
    PEER_CHECK(k, &r, ends_plain_close(x), ITEMS, ITEMS + TAIL, tail, 1, 0);
}

/* Opens the connection with script s, exchanges the items, then the peer
 * echoes nothing more (s is its script from then on). */
static void open_then_stop_echoing(ctx *x, conn *k, orig_script *s) {
    open_conn(x, k, s);
    exchange(k);
    s->echo = false;
    orig_peer_set_script(k->peer, s);
}

/* libtofu's Requests to an original that stops echoing, each with a
 * deadline of 20 ms: every Request (its last part) gets the engine's
 * timed_out answer, in posting order; the graceful close that follows
 * brings no second answer, and the original got every item. */
static void deadlines(ctx *x, conn *k) {
    orig_script s = script_default();
    open_then_stop_echoing(x, k, &s);
    k->timeout_ms = 20;
    lib_post_items(k, TAIL);
    k->timeout_ms = 0;
    size_t j = k->echoes;
    while ((j = next_request_end(j, k->lib_posted, k->lib_posted)) < k->lib_posted) {
        tofu_msg *m = lib_next_at(k, __FILE__, __LINE__);
        if (tofu_msg_opcode(m) != TOFU_OP_RESPONSE || !tofu_msg_from_engine(m) ||
            !tofu_msg_timed_out(m) || tofu_msg_id(m) != item_of(LIB_BASE, j).id)
            FAIL_MSG("expected the engine's timed_out answer to the next Request", m);
        tofu_put(x->e, &m);
        j++;
    }
    k->answered = k->lib_posted;
    lib_post_bye(k, TOFU_OP_BYE_REQUEST, LIB_BYE_ID);
    tofu_msg *m = LIB_AFTER_DATA(k, ITEMS, ITEMS);
    CHECK_APP(k, m, TOFU_OP_BYE_RESPONSE, LIB_BYE_ID);
    tofu_put(x->e, &m);
    LIB_EXPECT_CLOSE(k, TOFU_CHANNEL_CLOSED);
    orig_report r = ORIG_WAIT_END(k->peer);
    const tail_frame tail[] = {{TOFU_OP_BYE_REQUEST, LIB_BYE_ID}};
    PEER_CHECK(k, &r, ends_plain_close(x), ITEMS, ITEMS + TAIL, tail, 1, 0);
}

/* The original starts the graceful close with TAIL items in flight;
 * libtofu's application echoes them and answers. The original must read
 * every echo and the ByeResponse (then it resets): libtofu may not close
 * or half-close before. libtofu's channel ends with channel_closed. */
static void bye_from_orig(ctx *x, conn *k) {
    orig_script s = script_default();
    open_conn(x, k, &s);
    exchange(k);
    peer_post_items(k, TAIL);
    orig_peer_send(k->peer, TOFU_OP_BYE_REQUEST, PEER_BYE_ID, NULL, 0, NULL, 0);
    tofu_msg *m = LIB_AFTER_DATA(k, ITEMS, ITEMS + TAIL);
    CHECK_APP(k, m, TOFU_OP_BYE_REQUEST, PEER_BYE_ID);
    tofu_msg_set_opcode(m, TOFU_OP_BYE_RESPONSE);
    POST(x->g, &m);
    LIB_EXPECT_CLOSE(k, TOFU_CHANNEL_CLOSED);
    orig_report r = ORIG_WAIT_END(k->peer);
    const tail_frame tail[] = {{TOFU_OP_BYE_RESPONSE, PEER_BYE_ID}};
    PEER_CHECK(k, &r, END_BIT(ORIG_END_BYE_RESPONSE), ITEMS + TAIL, ITEMS, tail, 1, 0);
}

/* Both send TAIL items and a ByeRequest at once, nobody echoes. libtofu's
 * application answers the original's ByeRequest; the original's answer to
 * libtofu's is held (it never sends after its own Bye). The original reads
 * libtofu's ByeResponse and resets; libtofu closes with channel_closed. */
static void bye_both(ctx *x, conn *k) {
    orig_script s = script_default();
    open_then_stop_echoing(x, k, &s);
    k->echo_peer = false;
    peer_post_items(k, TAIL);
    orig_peer_send(k->peer, TOFU_OP_BYE_REQUEST, PEER_BYE_ID, NULL, 0, NULL, 0);
    lib_post_items(k, TAIL);
    lib_post_bye(k, TOFU_OP_BYE_REQUEST, LIB_BYE_ID);
    tofu_msg *m = LIB_AFTER_DATA(k, ITEMS, ITEMS + TAIL);
    CHECK_APP(k, m, TOFU_OP_BYE_REQUEST, PEER_BYE_ID);
    tofu_msg_set_opcode(m, TOFU_OP_BYE_RESPONSE);
    POST(x->g, &m);
    /* the original never answers our ByeRequest: the engine does, after
     * the answers to the Requests it never echoed */
    tofu_status why = TOFU_CHANNEL_CLOSED;
    m = lib_engine_answers_at(k, lib_next_at(k, __FILE__, __LINE__), &why, __FILE__, __LINE__);
    CHECK_RETURNED(m, TOFU_OP_BYE_RESPONSE, TOFU_CHANNEL_CLOSED);
    ASSERT_EQ(tofu_msg_id(m), LIB_BYE_ID);
    tofu_put(x->e, &m);
    LIB_EXPECT_CLOSE(k, TOFU_CHANNEL_CLOSED);
    orig_report r = ORIG_WAIT_END(k->peer);
    const tail_frame tail[] = {{TOFU_OP_BYE_REQUEST, LIB_BYE_ID},
                               {TOFU_OP_BYE_RESPONSE, PEER_BYE_ID}};
    PEER_CHECK(k, &r, END_BIT(ORIG_END_BYE_RESPONSE), ITEMS, ITEMS + TAIL, tail, 2, 1);
}

/* libtofu sends TAIL items and a ByeSignal without bit 6, then posts one
 * more Request: that one is held and comes back with channel_closed before
 * the close Signal. With `may_close` the peer may have closed the channel
 * before that post (which is then refused at once). */
static void lib_byesignal_then_late(conn *k, bool may_close) {
    lib_post_items(k, TAIL);
    lib_post_bye(k, TOFU_OP_BYE_SIGNAL, LIB_BYE_ID);
    tofu_msg *late = tofu_t_get(k->x->e);
    tofu_msg_set_channel(late, k->ch);
    tofu_msg_set_id(late, LATE_ID);
    tofu_status st = tofu_post(k->x->g, &late, NULL);
    if (st == TOFU_CHANNEL_CLOSED && may_close) { /* the channel is gone: refused at once */
        tofu_put(k->x->e, &late);
    } else {
        ASSERT_OK(st);
        tofu_msg *m = LIB_AFTER_DATA(k, ITEMS, ITEMS);
        tofu_status why = TOFU_CHANNEL_CLOSED;
        m = lib_engine_answers_at(k, m, &why, __FILE__, __LINE__);
        CHECK_RETURNED(m, TOFU_OP_REQUEST, TOFU_CHANNEL_CLOSED);
        ASSERT_EQ(tofu_msg_id(m), LATE_ID);
        tofu_put(k->x->e, &m);
    }
    LIB_EXPECT_CLOSE(k, TOFU_CHANNEL_CLOSED);
}

/* The original gets every item and the ByeSignal; its application answers
 * with its own bit-6 ByeSignal (a reset). */

static void byesignal_from_lib(ctx *x, conn *k) {
    orig_script s = script_default();
    open_conn(x, k, &s);
    exchange(k);
    s.echo = false;
    s.abort_on_bye_signal = true;
    orig_peer_set_script(k->peer, &s);
    lib_byesignal_then_late(k, true);
    orig_report r = ORIG_WAIT_END(k->peer);
    const tail_frame tail[] = {{TOFU_OP_BYE_SIGNAL, LIB_BYE_ID}};
    PEER_CHECK(k, &r, END_BIT(ORIG_END_ABORT), ITEMS, ITEMS + TAIL, tail, 1, 0);
}

/* The same, but the original's application ignores the ByeSignal (the
 * original never closes on its own): libtofu closes when bye_linger_ms
 * expires, and the original sees that close with nothing unread. */
static void byesignal_linger(ctx *x, conn *k) {
    orig_script s = script_default();
    open_then_stop_echoing(x, k, &s);
    uint64_t t0 = tofui_clock_ns();
    lib_byesignal_then_late(k, false);
    ASSERT_TRUE(tofui_clock_ns() - t0 >= (uint64_t)LINGER_MS * 1000000u);
    orig_report r = ORIG_WAIT_END(k->peer);
    const tail_frame tail[] = {{TOFU_OP_BYE_SIGNAL, LIB_BYE_ID}};
    PEER_CHECK(k, &r, ENDS_LIB_CLOSED | END_BIT(ORIG_END_READ_ERROR), ITEMS, ITEMS + TAIL, tail,
               1, 0);
}

/* libtofu aborts (bit-6 ByeSignal) with TAIL items in flight: the ByeSignal
 * comes back (echoes delivered before it are fine), then the unsent items,
 * then the close Signal. The original got an unbroken prefix of the items
 * and never the ByeSignal, and sees the reset. Nothing can be both
 * delivered and returned. */
static void abort_from_lib(ctx *x, conn *k) {
    orig_script s = script_default();
    open_conn(x, k, &s);
    exchange(k);
    lib_post_items(k, TAIL);
    POST_ABORT(x->e, x->g, k->ch);
    tofu_msg *m = lib_pump_at(k, SIZE_MAX, SIZE_MAX, __FILE__, __LINE__);
    CHECK_RETURNED(m, TOFU_OP_BYE_SIGNAL, TOFU_CHANNEL_CLOSED);
    tofu_put(x->e, &m);
    tofu_status reason = TOFU_SUCCESS;
    size_t back = lib_collect_returned_at(k, lib_next_at(k, __FILE__, __LINE__), &reason,
                                          __FILE__, __LINE__);
    ASSERT_STATUS(TOFU_CHANNEL_CLOSED, reason);
    orig_report r = ORIG_WAIT_END(k->peer);
    peer_check_end_at(&r, ENDS_LIB_GONE, false, __FILE__, __LINE__);
    size_t i = peer_check_hello_at(k, &r, __FILE__, __LINE__), echoes = 0, items = 0;
    if (peer_walk_at(k, &r, &i, &echoes, &items, __FILE__, __LINE__) != NULL)
        peer_fail_at(&r, "it received something else than items", __FILE__, __LINE__);
    ASSERT_EQ(echoes, ITEMS);
    ASSERT_TRUE(items >= ITEMS && k->echoes <= items);
    ASSERT_TRUE(items - ITEMS + back <= TAIL);
}

/* The original sends TAIL items and a ByeSignal without bit 6: libtofu
 * delivers all of them (the ByeSignal as an ordinary message); its
 * application aborts (bit-6 ByeSignal). The original sees the reset with
 * nothing unread. */
static void byesignal_from_orig(ctx *x, conn *k) {
    orig_script s = script_default();
    open_conn(x, k, &s);
    exchange(k);
    k->echo_peer = false;
    peer_post_items(k, TAIL);
    orig_peer_send(k->peer, TOFU_OP_BYE_SIGNAL, PEER_BYE_ID, NULL, 0, NULL, 0);
    tofu_msg *m = LIB_AFTER_DATA(k, ITEMS, ITEMS + TAIL);
    CHECK_APP(k, m, TOFU_OP_BYE_SIGNAL, PEER_BYE_ID);
    ASSERT_FALSE(tofu_msg_bhdr_const(m)->internal_a);
    tofu_put(x->e, &m);
    POST_ABORT(x->e, x->g, k->ch);
    m = lib_next_at(k, __FILE__, __LINE__);
    CHECK_RETURNED(m, TOFU_OP_BYE_SIGNAL, TOFU_CHANNEL_CLOSED);
    tofu_put(x->e, &m);
    LIB_EXPECT_CLOSE(k, TOFU_CHANNEL_CLOSED);
    orig_report r = ORIG_WAIT_END(k->peer);
    PEER_CHECK(k, &r, ENDS_LIB_CLOSED | END_BIT(ORIG_END_READ_ERROR), ITEMS, ITEMS, NULL, 0, 0);
}

/* The original's application posts a bit-6 ByeSignal after the exchange:
 * the original resets. libtofu: communication_failed on TCP,
 * peer_disconnected on a Unix socket (no reset there). */
static void abort_from_orig(ctx *x, conn *k) {
    orig_script s = script_default();
    open_conn(x, k, &s);
    exchange(k);
    orig_peer_abort(k->peer);
    tofu_msg *m = lib_next_at(k, __FILE__, __LINE__);
    if (!tofu_t_is_close_signal(m) || !is_peer_abort_reason(x, tofu_t_reason(m), false))
        FAIL_MSG("expected the close Signal of a reset (UDS: an end of stream)", m);
    tofu_t_check_close_at(m, k->ch, 0, tofu_t_reason(m), __FILE__, __LINE__);
    tofu_put(x->e, &m);
    orig_report r = ORIG_WAIT_END(k->peer);
    PEER_CHECK(k, &r, END_BIT(ORIG_END_ABORT), ITEMS, ITEMS, NULL, 0, 0);
}

/* The original dies (resets, no Bye) after receiving a random number of
 * libtofu's TAIL items: libtofu gets an unbroken prefix of the echoes,
 * then its unsent items back with the close reason, then the close Signal
 * (communication_failed on TCP; UDS: peer_disconnected, or
 * communication_failed when the peer left unread data). */
static void orig_dies(ctx *x, conn *k) {
    size_t n = 1 + (size_t)tofu_t_rng_below(&x->rng, TAIL);
    orig_script s = script_default();
    s.die_after = 1 + n; /* the hello, then n items */
    open_conn(x, k, &s);
    lib_post_items_at(k, TAIL, true, __FILE__, __LINE__);
    tofu_msg *m = lib_pump_at(k, SIZE_MAX, SIZE_MAX, __FILE__, __LINE__);
    tofu_status reason = TOFU_SUCCESS;
    size_t back = lib_collect_returned_at(k, m, &reason, __FILE__, __LINE__);
    if (!is_peer_abort_reason(x, reason, true))
        tofu_t_fail(__FILE__, __LINE__, "the close reason after the peer died: %s",
                    tofu_status_name(reason));
    ASSERT_TRUE(k->echoes < n);
    ASSERT_TRUE(n + back <= k->lib_posted);
    orig_report r = ORIG_WAIT_END(k->peer);
    peer_check_end_at(&r, END_BIT(ORIG_END_ABORT), false, __FILE__, __LINE__);
    peer_check_log_at(k, &r, 0, n, NULL, 0, __FILE__, __LINE__);
}

/* libtofu's side dies (its group is destroyed) while the original echoes a
 * stream of items: the original sees the reset or end of stream, after an
 * unbroken prefix of the items. */
static void lib_dies(ctx *x, conn *k) {
    orig_script s = script_default();
    open_conn(x, k, &s);
    lib_post_items(k, TAIL);
    size_t j = (size_t)tofu_t_rng_below(&x->rng, TAIL / 2);
    tofu_msg *m = LIB_PUMP(k, j, 0);
    if (m != NULL)
        FAIL_MSG("expected only echoes", m);
    ctx_group_close(x);
    orig_report r = ORIG_WAIT_END(k->peer);
    peer_check_end_at(&r, ENDS_LIB_GONE, false, __FILE__, __LINE__);
    size_t items = 0;
    if (r.received > 0) { /* (a server may die before its HelloResponse went out) */
        size_t i = peer_check_hello_at(k, &r, __FILE__, __LINE__), echoes = 0;
        if (peer_walk_at(k, &r, &i, &echoes, &items, __FILE__, __LINE__) != NULL)
            peer_fail_at(&r, "it received something else than items", __FILE__, __LINE__);
    }
    ASSERT_TRUE(items >= j);
    ctx_group_open(x);
}

/* ======================================================================== */
/* running a case                                                           */
/* ======================================================================== */

typedef void (*iteration_fn)(ctx *x, conn *k);

static void run_with(role r, iteration_fn fn, int n, const tofu_options *opt) {
    ctx x;
    ctx_open(&x, r, opt);
    int count = iterations(n);
    for (int i = 0; i < count; i++) {
        conn k;
        memset(&k, 0, sizeof k);
        fn(&x, &k);
        orig_peer_destroy(k.peer);
    }
    printf("%s %s %s: %d iterations\n", r == LIB_SERVER ? "libtofu server" : "libtofu client",
           tofu_t_transport_name(x.t), orig_layer_name(x.layer), count);
    ctx_close(&x);
}

static void run(role r, iteration_fn fn) {
    run_with(r, fn, ITERATIONS, NULL);
}

static void run_linger(role r) {
    tofu_options o;
    tofu_options_init(&o);
    o.bye_linger_ms = LINGER_MS;
    run_with(r, byesignal_linger, LINGER_ITERATIONS, &o);
}

TRANSPORT_TEST(server_bye_from_lib) { run(LIB_SERVER, bye_from_lib); }
TRANSPORT_TEST(client_bye_from_lib) { run(LIB_CLIENT, bye_from_lib); }
TRANSPORT_TEST(server_deadlines) { run(LIB_SERVER, deadlines); }
TRANSPORT_TEST(client_deadlines) { run(LIB_CLIENT, deadlines); }
TRANSPORT_TEST(server_bye_from_orig) { run(LIB_SERVER, bye_from_orig); }
TRANSPORT_TEST(client_bye_from_orig) { run(LIB_CLIENT, bye_from_orig); }
TRANSPORT_TEST(server_bye_both) { run(LIB_SERVER, bye_both); }
TRANSPORT_TEST(client_bye_both) { run(LIB_CLIENT, bye_both); }
TRANSPORT_TEST(server_byesignal_from_lib) { run(LIB_SERVER, byesignal_from_lib); }
TRANSPORT_TEST(client_byesignal_from_lib) { run(LIB_CLIENT, byesignal_from_lib); }
TRANSPORT_TEST(server_byesignal_linger) { run_linger(LIB_SERVER); }
TRANSPORT_TEST(client_byesignal_linger) { run_linger(LIB_CLIENT); }
TRANSPORT_TEST(server_abort_from_lib) { run(LIB_SERVER, abort_from_lib); }
TRANSPORT_TEST(client_abort_from_lib) { run(LIB_CLIENT, abort_from_lib); }
TRANSPORT_TEST(server_byesignal_from_orig) { run(LIB_SERVER, byesignal_from_orig); }
TRANSPORT_TEST(client_byesignal_from_orig) { run(LIB_CLIENT, byesignal_from_orig); }
TRANSPORT_TEST(server_abort_from_orig) { run(LIB_SERVER, abort_from_orig); }
TRANSPORT_TEST(client_abort_from_orig) { run(LIB_CLIENT, abort_from_orig); }
TRANSPORT_TEST(server_orig_dies) { run(LIB_SERVER, orig_dies); }
TRANSPORT_TEST(client_orig_dies) { run(LIB_CLIENT, orig_dies); }
TRANSPORT_TEST(server_lib_dies) { run(LIB_SERVER, lib_dies); }
TRANSPORT_TEST(client_lib_dies) { run(LIB_CLIENT, lib_dies); }
