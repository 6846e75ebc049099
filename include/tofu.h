/*
 * libtofu — asynchronous, message-based, peer-to-peer communication over
 * TCP and Unix-domain sockets, wire-compatible with the original tofu.
 *
 * This is the one public header. Every name is prefixed tofu_ / TOFU_.
 *
 * Ownership of messages, stated once per direction:
 *   - A successful tofu_post() or tofu_update_receiver() moves the message to
 *     the engine and sets the caller's pointer to NULL; a failed one leaves the
 *     message with the caller.
 *   - A message returned by tofu_wait_receive() or tofu_get() belongs to the
 *     caller until it gives it back with tofu_put() (or posts it).
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef TOFU_H
#define TOFU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* TOFU_API marks every exported function. Define TOFU_STATIC when linking the
 * static library on Windows so no dllimport is used. */
#if defined(_WIN32) && !defined(TOFU_STATIC)
#if defined(TOFU_BUILDING)
#define TOFU_API __declspec(dllexport)
#else
#define TOFU_API __declspec(dllimport)
#endif
#elif defined(__GNUC__) || defined(__clang__)
#define TOFU_API __attribute__((visibility("default")))
#else
#define TOFU_API
#endif

#define TOFU_VERSION_MAJOR 0
#define TOFU_VERSION_MINOR 1
#define TOFU_VERSION_PATCH 0
#define TOFU_VERSION_STRING "0.1.0"

/* The version of the library linked at run time (the macros above are the
 * headers' version): "0.1.0", and as a number, major * 10000 + minor * 100
 * + patch (100 for 0.1.0). */
TOFU_API const char *tofu_version(void);
TOFU_API unsigned tofu_version_number(void);

/* ------------------------------------------------------------------------ */
/* Statuses                                                                 */
/* ------------------------------------------------------------------------ */

/* The status byte of the original tofu: 0 is success, 1..30 are
 * errors, any raw value >= 31 reads as TOFU_UNKNOWN_ERROR. The same values are
 * returned by API calls and carried in the status byte of messages that the
 * engine hands back to the application. */
typedef enum tofu_status {
    TOFU_SUCCESS = 0,
    TOFU_NOT_IMPLEMENTED_YET = 1,
    TOFU_WRONG_ADDRESS = 2,
    TOFU_NOT_ALLOWED = 3,
    TOFU_NULL_MESSAGE = 4,
    TOFU_INVALID_MESSAGE = 5,
    TOFU_INVALID_OP_CODE = 6,
    TOFU_INVALID_HEADERS_LEN = 7,
    TOFU_INVALID_BODY_LEN = 8,
    TOFU_INVALID_MORE_USAGE = 9,
    TOFU_INVALID_CHANNEL_NUMBER = 10,
    TOFU_INVALID_MCHN_GROUP = 11, /* name "invelid_mchn_group" (sic, as the original) */
    TOFU_INVALID_MESSAGE_ID = 12,
    TOFU_INVALID_ADDRESS = 13,
    TOFU_UDS_PATH_NOT_FOUND = 14,
    TOFU_NOTIFICATION_DISABLED = 15,
    TOFU_NOTIFICATION_FAILED = 16,
    TOFU_PEER_DISCONNECTED = 17,
    TOFU_COMMUNICATION_FAILED = 18,
    TOFU_POOL_EMPTY = 19,
    TOFU_ALLOCATION_FAILED = 20,
    TOFU_RECEIVER_UPDATE = 21,
    TOFU_CHANNEL_CLOSED = 22,
    TOFU_SHUTDOWN_STARTED = 23,
    TOFU_CONNECT_FAILED = 24,
    TOFU_LISTEN_FAILED = 25,
    TOFU_ACCEPT_FAILED = 26,
    TOFU_SEND_FAILED = 27,
    TOFU_RECV_FAILED = 28,
    TOFU_SETSOCKOPT_FAILED = 29,
    TOFU_PROCESSING_FAILED = 30,
    TOFU_UNKNOWN_ERROR = 31
} tofu_status;

/* Returns the snake_case name of a status ("success", "pool_empty", ...), the
 * same names as the original. Values outside the enum give "unknown_error". */
TOFU_API const char *tofu_status_name(tofu_status s);

/* Looks a status up by its snake_case name. Returns false (and leaves *out
 * alone) when the name is unknown. */
TOFU_API bool tofu_status_from_name(const char *name, tofu_status *out);

/* Converts a raw status byte to a status: values >= 31 read as unknown_error. */
TOFU_API tofu_status tofu_status_from_byte(uint8_t raw);

/* Converts a status to its raw byte (values outside 0..31 give 31). */
TOFU_API uint8_t tofu_status_to_byte(tofu_status s);

/* ------------------------------------------------------------------------ */
/* Opcodes                                                                  */
/* ------------------------------------------------------------------------ */

/* The ten operations (docs/protocol.md, "Opcodes"). Values 10..15 fit the 4-bit field but are
 * invalid everywhere. */
typedef enum tofu_opcode {
    TOFU_OP_REQUEST = 0,
    TOFU_OP_RESPONSE = 1,
    TOFU_OP_SIGNAL = 2,
    TOFU_OP_HELLO_REQUEST = 3,
    TOFU_OP_HELLO_RESPONSE = 4,
    TOFU_OP_BYE_REQUEST = 5,
    TOFU_OP_BYE_RESPONSE = 6,
    TOFU_OP_BYE_SIGNAL = 7,
    TOFU_OP_WELCOME_REQUEST = 8,
    TOFU_OP_WELCOME_RESPONSE = 9
} tofu_opcode;

typedef enum tofu_optype {
    TOFU_TYPE_REGULAR = 0,
    TOFU_TYPE_WELCOME = 1,
    TOFU_TYPE_HELLO = 2,
    TOFU_TYPE_BYE = 3
} tofu_optype;

typedef enum tofu_role {
    TOFU_ROLE_REQUEST = 0,
    TOFU_ROLE_RESPONSE = 1,
    TOFU_ROLE_SIGNAL = 2
} tofu_role;

/* True for opcodes 0..9. */
TOFU_API bool tofu_op_valid(unsigned op);

/* The PascalCase name of an opcode ("HelloRequest"); "Invalid" for 10..15. */
TOFU_API const char *tofu_op_name(unsigned op);

/* Looks an opcode up by its PascalCase name; false if unknown. */
TOFU_API bool tofu_op_from_name(const char *name, tofu_opcode *out);

/* The type (regular, welcome, hello, bye) of a valid opcode. */
TOFU_API tofu_optype tofu_op_type(tofu_opcode op);

/* The role (request, response, signal) of a valid opcode. */
TOFU_API tofu_role tofu_op_role(tofu_opcode op);

/* The reply opcode of a request or signal: Request→Response, Signal→Signal,
 * HelloRequest→HelloResponse, ByeRequest→ByeResponse,
 * WelcomeRequest→WelcomeResponse. Responses, ByeSignal and invalid values give
 * TOFU_INVALID_OP_CODE and leave *out alone. */
TOFU_API tofu_status tofu_op_echo(unsigned op, tofu_opcode *out);

/* ------------------------------------------------------------------------ */
/* Messages                                                                 */
/* ------------------------------------------------------------------------ */

typedef struct tofu_msg tofu_msg;

/* Largest text-header block and largest body: the u16 length fields. */
#define TOFU_MAX_PART_LEN 65535u

/* origin bit values */
#define TOFU_ORIGIN_APPLICATION 0u
#define TOFU_ORIGIN_ENGINE 1u

/* The 16-byte binary header, unpacked. Only the wire codec knows the packed
 * big-endian layout. thl and bl are filled in by tofu_post() and by the
 * receiver; the lengths of a message are always those of its buffers. */
typedef struct tofu_bhdr {
    uint16_t channel;    /* local channel number (0 = not assigned) */
    uint8_t opcode;      /* 0..9 valid, 10..15 invalid */
    uint8_t origin;      /* TOFU_ORIGIN_APPLICATION or TOFU_ORIGIN_ENGINE */
    bool more;           /* "more messages follow" (regular opcodes only) */
    bool internal_a;     /* bit 6: out-of-band; on ByeSignal means "abort" */
    bool internal_b;     /* bit 7: never interpreted, passed through */
    uint8_t status;      /* raw status byte */
    uint64_t message_id; /* correlation id; 0 = assign at post */
    uint16_t thl;        /* text-header length as last posted/received */
    uint16_t bl;         /* body length as last posted/received */
} tofu_bhdr;

/* Allocates a fresh message (header zeroed, 256-byte buffers for text headers
 * and body). Messages created here are counted by tofu_live_messages(). */
TOFU_API tofu_status tofu_msg_create(tofu_msg **out);

/* Frees a message. NULL is a no-op. */
TOFU_API void tofu_msg_destroy(tofu_msg *m);

/* Zeroes the header, empties text headers and body (keeping capacity) and
 * clears the user pointer. */
TOFU_API void tofu_msg_reset(tofu_msg *m);

/* Deep-copies header, text headers, body and user pointer into a new
 * message. */
TOFU_API tofu_status tofu_msg_clone(const tofu_msg *m, tofu_msg **out);

/* The message's binary header, unpacked and writable in place. */
TOFU_API tofu_bhdr *tofu_msg_bhdr(tofu_msg *m);
TOFU_API const tofu_bhdr *tofu_msg_bhdr_const(const tofu_msg *m);

/* Convenience accessors for the most used fields. */
TOFU_API tofu_opcode tofu_msg_opcode(const tofu_msg *m);
TOFU_API void tofu_msg_set_opcode(tofu_msg *m, tofu_opcode op);
TOFU_API uint16_t tofu_msg_channel(const tofu_msg *m);
TOFU_API void tofu_msg_set_channel(tofu_msg *m, uint16_t channel);
TOFU_API uint64_t tofu_msg_id(const tofu_msg *m);
TOFU_API void tofu_msg_set_id(tofu_msg *m, uint64_t id);
TOFU_API tofu_status tofu_msg_status(const tofu_msg *m);
TOFU_API bool tofu_msg_from_engine(const tofu_msg *m);

/* One opaque pointer for the application; never transmitted, cleared on
 * reset. */
TOFU_API void *tofu_msg_user(const tofu_msg *m);
TOFU_API void tofu_msg_set_user(tofu_msg *m, void *p);

/* Request deadlines, a local property of the message (never transmitted,
 * cleared by reset, copied by clone). A Request posted with a timeout of ms
 * milliseconds that has no answer from the peer ms after the engine took
 * it gets one from the engine: a Response with the Request's id and
 * channel, origin engine, status TOFU_PROCESSING_FAILED and the text header
 * "~reason: timed_out" (tofu_msg_timed_out). The peer's Response, if it
 * comes later, is delivered with tofu_msg_late() true. TOFU_TIMEOUT_NONE:
 * no deadline, whatever the engine's default (tofu_options
 * .request_timeout_ms); without a call, the default applies. Only
 * Requests have deadlines. */
TOFU_API void tofu_msg_set_timeout(tofu_msg *m, uint32_t ms);
/* True when a timeout was set, which *ms (may be NULL) then receives. */
TOFU_API bool tofu_msg_timeout(const tofu_msg *m, uint32_t *ms);
/* True for a received Response that answers no Request waiting on its
 * channel: its Request was already answered by the engine (its deadline
 * passed), or was never sent on this channel, or was answered before
 * (more clear). Delivered as it came, never dropped. */
TOFU_API bool tofu_msg_late(const tofu_msg *m);
/* True for the engine's answer to a Request whose deadline passed. */
TOFU_API bool tofu_msg_timed_out(const tofu_msg *m);

/* Connects that wait for the server, a local property of a HelloRequest
 * (never transmitted, cleared by reset, copied by clone). A connect that
 * fails (refused, no socket file at the path, a Unix listener's backlog
 * full for all of connect_timeout_ms, no answer within it...) is tried
 * again, with
 * capped exponential backoff and jitter (10 ms doubling to 1 s, each wait
 * between half and all of that), until ms milliseconds after the engine
 * took the HelloRequest; the channel keeps its number meanwhile, and
 * what is posted to it waits. The HelloRequest is answered once: its
 * HelloResponse when a try connects, else the last try's failure
 * (connect_failed, uds_path_not_found) at most connect_timeout_ms after
 * the deadline. 0 or TOFU_TIMEOUT_NONE: no retry, whatever the engine's
 * default (tofu_options.connect_retry_ms); without a call, the default
 * applies. An address that does not parse or resolve is not retried. */
TOFU_API void tofu_msg_set_connect_retry(tofu_msg *m, uint32_t ms);
/* True when a retry deadline was set, which *ms (may be NULL) then
 * receives. */
TOFU_API bool tofu_msg_connect_retry(const tofu_msg *m, uint32_t *ms);

/* Appends the text header "name:value\r\n". The name is trimmed of space, TAB,
 * CR and LF at both ends; the value is written as given. Errors, with the
 * message left unchanged: TOFU_INVALID_MESSAGE when the trimmed name or the
 * value is empty, or when the name contains ':' or either contains CR, LF or
 * NUL; TOFU_INVALID_HEADERS_LEN when the block would exceed 65535 bytes;
 * TOFU_ALLOCATION_FAILED when memory runs out. Strings are NUL-terminated. */
TOFU_API tofu_status tofu_msg_add_header(tofu_msg *m, const char *name, const char *value);

/* As tofu_msg_add_header with explicit lengths (no NUL needed). */
TOFU_API tofu_status tofu_msg_add_header_n(tofu_msg *m, const char *name, size_t name_len,
                                           const char *value, size_t value_len);

/* Appends raw bytes to the text-header block without any check but the 65535
 * limit (TOFU_INVALID_HEADERS_LEN). */
TOFU_API tofu_status tofu_msg_append_headers_raw(tofu_msg *m, const void *data, size_t len);

/* The raw text-header block and its length. */
TOFU_API const char *tofu_msg_headers(const tofu_msg *m, size_t *len);

/* Empties the text-header block. */
TOFU_API void tofu_msg_clear_headers(tofu_msg *m);

/* Appends bytes to the body. TOFU_INVALID_BODY_LEN if it would exceed 65535
 * bytes (body unchanged); TOFU_ALLOCATION_FAILED when memory runs out. */
TOFU_API tofu_status tofu_msg_append_body(tofu_msg *m, const void *data, size_t len);

/* The body bytes and their count. The pointer stays valid until the body is
 * changed or the message is reset, put, posted or destroyed. */
TOFU_API const void *tofu_msg_body(const tofu_msg *m, size_t *len);

/* Empties the body (capacity kept). */
TOFU_API void tofu_msg_clear_body(tofu_msg *m);

/* One parsed text header: pointers into the message's block (not
 * NUL-terminated). */
typedef struct tofu_header {
    const char *name;
    size_t name_len;
    const char *value;
    size_t value_len;
} tofu_header;

/* Iterator over a text-header block, exactly as the original reads one
 * (docs/protocol.md, "Text headers"): empty
 * lines are skipped anywhere; a line is split at its first ':'; the name is not
 * trimmed; the value is trimmed of spaces and TABs; a line without ':' has an
 * empty value; a last line without CR LF is accepted; a line with an empty name
 * ends the iteration for that call. */
typedef struct tofu_hdr_iter {
    const char *block;
    size_t len;
    size_t pos;
} tofu_hdr_iter;

/* Starts iterating over any block of bytes (NULL/0 yields nothing). */
TOFU_API void tofu_hdr_iter_init(tofu_hdr_iter *it, const void *block, size_t len);

/* Starts iterating over a message's text headers. The message must not change
 * while the iterator is in use. */
TOFU_API void tofu_msg_hdr_iter(const tofu_msg *m, tofu_hdr_iter *it);

/* Yields the next header into *out; false at the end. */
TOFU_API bool tofu_hdr_iter_next(tofu_hdr_iter *it, tofu_header *out);

/* Moves the iterator back to the start of its block. */
TOFU_API void tofu_hdr_iter_rewind(tofu_hdr_iter *it);

/* Finds the first header whose name equals `name` (case-sensitive) and stores
 * it in *out (may be NULL). Returns false when there is none. */
TOFU_API bool tofu_msg_find_header(const tofu_msg *m, const char *name, tofu_header *out);

/* Returns the next process-wide message id: an atomic counter that starts at
 * 1 and is shared by all engines, as in the original. */
TOFU_API uint64_t tofu_next_message_id(void);

/* Number of messages alive in this process (created and not yet freed), by
 * any engine or by tofu_msg_create. Tests use it to prove nothing leaked. */
TOFU_API uint64_t tofu_live_messages(void);

/* ------------------------------------------------------------------------ */
/* Addresses                                                                */
/* ------------------------------------------------------------------------ */

#define TOFU_HDR_CONNECT_TO "~connect_to"
#define TOFU_HDR_LISTEN_ON "~listen_on"
#define TOFU_HDR_REASON "~reason"
/* The ~reason of the engine's answer to a Request whose deadline passed. */
#define TOFU_REASON_TIMED_OUT "timed_out"
/* On a close Signal, next to ~reason: the option whose limit closed the
 * channel ("frame_timeout_ms", "max_partial_bytes", "idle_timeout_ms",
 * "user_timeout_ms", "keepalive_count"); absent otherwise. */
#define TOFU_HDR_LIMIT "~limit"
/* On a close Signal whose peer broke the protocol: the rule it broke
 * ("unsolicited_bye_response", "welcome_from_peer", "invalid_opcode"); the
 * ~reason status says what kind of failure it was. */
#define TOFU_HDR_VIOLATION "~violation"
/* On engine-made messages of a channel that an operating-system call
 * failed for (the close Signal; the HelloResponse of a failed connect; the
 * WelcomeResponse of a failed listen): that error as "<SYMBOL> <text>",
 * e.g. "ECONNREFUSED Connection refused" (Windows: "WSAECONNREFUSED No
 * connection could be made..."). Words for people and logs; the status
 * stays the signal to act on. Never sent on the wire. */
#define TOFU_HDR_ERROR "~error"
#define TOFU_DEFAULT_PORT 7099
#define TOFU_DEFAULT_HOST "127.0.0.1"

/* Longest host name accepted (bytes, without NUL). */
#define TOFU_MAX_HOST_LEN 255
/* Size of the path buffer: the largest sun_path of any platform. The real
 * limit is the platform's sun_path (108 on Linux and Windows, 104 on BSD and
 * macOS) minus the terminating NUL; see tofu_uds_path_max(). */
#define TOFU_UDS_PATH_BUF 108

typedef enum tofu_transport {
    TOFU_TRANSPORT_TCP = 0,
    TOFU_TRANSPORT_UDS = 1
} tofu_transport;

/* A parsed ~connect_to / ~listen_on value. */
typedef struct tofu_address {
    tofu_transport transport;
    char host[TOFU_MAX_HOST_LEN + 1]; /* TCP: NUL-terminated; "" = any (listen only) */
    uint16_t port;                    /* TCP: 0 = any free port (listen only) */
    char path[TOFU_UDS_PATH_BUF];     /* UDS: NUL-terminated path, or the abstract name */
    bool abstract;                    /* UDS: Linux abstract namespace ("uds|@name") */
} tofu_address;

/* Longest UDS path or abstract name this platform accepts (bytes). */
TOFU_API size_t tofu_uds_path_max(void);

/* True where the Linux abstract namespace exists. */
TOFU_API bool tofu_uds_abstract_supported(void);

/* Parses "tcp|host|port", "uds|path" or "uds|@name" (len bytes, no NUL
 * needed). Strict: anything else, a host longer than TOFU_MAX_HOST_LEN, a port
 * outside 0..65535, a path longer than tofu_uds_path_max(), an empty path, or
 * an abstract name where unsupported is TOFU_INVALID_ADDRESS. An empty TCP host
 * is accepted here (it means "any" when listening). */
TOFU_API tofu_status tofu_address_parse(const char *value, size_t len, tofu_address *out);

/* Formats an address as a header value into buf (NUL-terminated). Returns
 * TOFU_INVALID_ADDRESS when the address is not valid and TOFU_NOT_ALLOWED when
 * cap is too small. *len (may be NULL) receives the length without NUL. */
TOFU_API tofu_status tofu_address_format(const tofu_address *a, char *buf, size_t cap,
                                         size_t *len);

/* Turn a message into a HelloRequest (connect) or WelcomeRequest (listen): the
 * whole binary header is replaced by a fresh one with that opcode, and the
 * address header (~connect_to or ~listen_on) is appended to the existing text
 * headers. The message is unchanged on error.
 *   connect_tcp: host NULL means TOFU_DEFAULT_HOST, port 0 means
 *                TOFU_DEFAULT_PORT; an empty host is TOFU_WRONG_ADDRESS.
 *   listen_tcp:  host NULL or "" means any interface; port 0 means "pick a free
 *                port" (the WelcomeResponse shows the real one).
 *   *_uds:       path is a filesystem path, or "@name" for the abstract
 *                namespace where supported.
 * Errors: TOFU_WRONG_ADDRESS / TOFU_INVALID_ADDRESS for bad input,
 * TOFU_INVALID_HEADERS_LEN, TOFU_ALLOCATION_FAILED. */
TOFU_API tofu_status tofu_msg_connect_tcp(tofu_msg *m, const char *host, uint16_t port);
TOFU_API tofu_status tofu_msg_connect_uds(tofu_msg *m, const char *path);
TOFU_API tofu_status tofu_msg_listen_tcp(tofu_msg *m, const char *host, uint16_t port);
TOFU_API tofu_status tofu_msg_listen_uds(tofu_msg *m, const char *path);

/* As above, from a parsed address. */
TOFU_API tofu_status tofu_msg_connect(tofu_msg *m, const tofu_address *a);
TOFU_API tofu_status tofu_msg_listen(tofu_msg *m, const tofu_address *a);

/* ------------------------------------------------------------------------ */
/* Engine                                                                   */
/* ------------------------------------------------------------------------ */

typedef struct tofu_engine tofu_engine;
typedef struct tofu_group tofu_group;

#define TOFU_DEFAULT_INITIAL_POOL 1024
#define TOFU_DEFAULT_MAX_POOL 1024
#define TOFU_DEFAULT_CONNECT_TIMEOUT_MS 10000u
#define TOFU_DEFAULT_HANDSHAKE_TIMEOUT_MS 10000u
#define TOFU_DEFAULT_BYE_LINGER_MS 30000u
#define TOFU_DEFAULT_MAX_SEND_QUEUE 1024u
#define TOFU_DEFAULT_FRAME_TIMEOUT_MS 30000u
#define TOFU_DEFAULT_MAX_PARTIAL_BYTES (32u * 1024u * 1024u)
#define TOFU_DEFAULT_KEEPALIVE_IDLE_MS 30000u
#define TOFU_DEFAULT_KEEPALIVE_INTERVAL_MS 10000u
#define TOFU_DEFAULT_KEEPALIVE_COUNT 3u
/* A timeout option with this value turns that timeout off. */
#define TOFU_TIMEOUT_NONE UINT32_MAX
/* max_send_queue with this value: no limit (trusted peers only). */
#define TOFU_SEND_QUEUE_UNLIMITED UINT32_MAX

/* wait_receive timeouts, in nanoseconds */
#define TOFU_WAIT_INFINITE UINT64_MAX
#define TOFU_WAIT_SECOND 1000000000ull

/* Engine options. Zero-initialise (or call tofu_options_init) and set what
 * you need: a zero field takes its default. */
typedef struct tofu_options {
    uint16_t initial_pool_msgs; /* messages the pool can hand out from the
                                   start (default 1024). Each is created on
                                   first need, not at engine create, so an
                                   engine that never uses them costs nothing. */
    uint16_t max_pool_msgs;     /* most messages the pool keeps (default 1024;
                                   raised to initial_pool_msgs if smaller).
                                   A message put back keeps buffers of at
                                   most 16 KiB (body) and 1 KiB (text
                                   headers): the pool holds at most about
                                   max_pool_msgs × 17.5 KiB. */
    uint32_t max_send_queue;    /* most messages waiting to be written on one
                                   channel (default 1024). A message posted
                                   to a channel that has that many comes
                                   back with TOFU_NOT_ALLOWED and the
                                   channel stays open; Bye frames are never
                                   refused. Bounds what a peer that stops
                                   reading can pin (it would otherwise take
                                   an echo server's whole pool).
                                   TOFU_SEND_QUEUE_UNLIMITED: no limit. */
    uint32_t connect_timeout_ms; /* longest connect attempt per address
                                   (default 10 s): then the next address,
                                   or the HelloRequest comes back with
                                   TOFU_CONNECT_FAILED. A Unix listener
                                   whose backlog is full (Linux: EAGAIN) is
                                   tried again meanwhile, every few ms.
                                   TOFU_TIMEOUT_NONE: the OS decides. */
    uint32_t handshake_timeout_ms; /* an accepted connection that sends no
                                   complete frame for this long (default
                                   10 s) is closed; the application never
                                   saw it, so it hears nothing.
                                   TOFU_TIMEOUT_NONE: wait forever. */
    uint32_t bye_linger_ms;     /* after sending a ByeResponse (or a ByeSignal
                                   without bit 6) a channel sends nothing more
                                   and waits for the peer to close, so that a
                                   peer still reading loses nothing; after
                                   this long (default 30 s) it closes anyway.
                                   TOFU_TIMEOUT_NONE: wait for the peer. */
    uint32_t request_timeout_ms; /* the deadline of a Request posted without
                                   one of its own (tofu_msg_set_timeout):
                                   default 0, none. */
    uint32_t frame_timeout_ms;  /* a frame must arrive whole within this long
                                   of its first byte (default 30 s), however
                                   it trickles in; a channel whose frame does
                                   not is closed: close Signal ~reason
                                   recv_failed, ~limit frame_timeout_ms.
                                   TOFU_TIMEOUT_NONE: no deadline. */
    uint32_t max_partial_bytes; /* most bytes the engine holds for frames
                                   that are still coming in, all channels
                                   together (default 32 MiB; at least one
                                   largest frame, 131070). Past it the
                                   channels whose frames started first are
                                   closed: ~reason allocation_failed,
                                   ~limit max_partial_bytes. */
    /* Dead peers on TCP. A peer behind a partition (no FIN, no reset)
     * would otherwise keep its channel open forever: idle, nothing ever
     * tells; with data unacknowledged, only when the OS gives up (about
     * 15 min on Linux). Everything here is local: the peer sees no frame
     * it does not expect (keepalive probes are TCP's own, answered by the
     * peer's kernel). A channel whose connection the OS declares dead
     * closes: close Signal ~reason communication_failed, ~limit
     * user_timeout_ms (or keepalive_count when user_timeout_ms is off).
     * UDS connections are not concerned: their peer cannot vanish. */
    uint32_t keepalive_idle_ms; /* TCP keepalive: quiet time before the
                                   first probe (default 30 s).
                                   TOFU_TIMEOUT_NONE: no keepalive. */
    uint32_t keepalive_interval_ms; /* between probes (default 10 s) */
    uint32_t keepalive_count;   /* unanswered probes that end the
                                   connection (default 3) where
                                   user_timeout_ms is off */
    uint32_t user_timeout_ms;   /* TCP_USER_TIMEOUT: the longest data may
                                   stay unacknowledged, and on Linux the
                                   longest a keepalive may go unanswered
                                   (it then decides instead of
                                   keepalive_count). Default: keepalive
                                   idle + interval x count (60 s with the
                                   defaults), so that a silent peer and
                                   one that stops acknowledging are given
                                   up on alike. TOFU_TIMEOUT_NONE: the
                                   OS's own retransmission limit. */
    uint32_t idle_timeout_ms;   /* a connected channel that receives no
                                   frame for this long is closed: close
                                   Signal ~reason communication_failed,
                                   ~limit idle_timeout_ms. Our own sends
                                   do not count (a write says nothing of
                                   the peer). Default 0: none. UDS too. */
    /* Connects that wait for the server. */
    uint32_t connect_retry_ms;  /* the default retry deadline of a
                                   HelloRequest (tofu_msg_set_connect_retry):
                                   default 0, none (one round of tries, as
                                   the original). */
    uint32_t listen_backlog;    /* the backlog of a listener (default 0:
                                   the largest the system allows,
                                   SOMAXCONN; Linux caps it at
                                   net.core.somaxconn, 4096 by default) */
} tofu_options;

/* Fills *opt with the defaults. */
TOFU_API void tofu_options_init(tofu_options *opt);

/* Pool strategies for tofu_get. */
typedef enum tofu_alloc {
    TOFU_POOL_ONLY = 0, /* NULL when the pool is empty */
    TOFU_ALWAYS = 1     /* allocate when the pool is empty */
} tofu_alloc;

/* Creates an engine: its message pool and its I/O thread. opt may be NULL for
 * the defaults. Errors: TOFU_ALLOCATION_FAILED, TOFU_COMMUNICATION_FAILED
 * (the poller or wake-up could not be created). */
TOFU_API tofu_status tofu_engine_create(const tofu_options *opt, tofu_engine **out);

/* Destroys an engine: destroys the groups still alive (waking their waiters
 * with TOFU_SHUTDOWN_STARTED), closes every channel, stops the thread and
 * frees the pool and every group record. Always returns. NULL is a no-op.
 * Threads blocked in tofu_wait_receive return TOFU_SHUTDOWN_STARTED before
 * it returns; no other call on the engine or its groups may run at the same
 * time or come after (the memory is gone). */
TOFU_API void tofu_engine_destroy(tofu_engine *e);

/* Takes a message from the pool (reset). With TOFU_POOL_ONLY returns NULL when
 * the pool is empty; with TOFU_ALWAYS allocates then (NULL only if memory
 * runs out). */
TOFU_API tofu_msg *tofu_get(tofu_engine *e, tofu_alloc strategy);

/* Takes a message from the pool, waiting up to timeout_ns
 * (TOFU_WAIT_INFINITE: forever) for one to come back when it is empty: the
 * sender's way to wait for room, as a full queue makes a ZeroMQ send wait.
 * The engine puts a message back as soon as it has written it, so a sender
 * that takes every message this way is paced by what its peers read.
 * Returns TOFU_SUCCESS with *out set, TOFU_SUCCESS with *out NULL when the
 * time is up, TOFU_SHUTDOWN_STARTED when the engine is being destroyed
 * (the call returns before the engine is gone), TOFU_NOT_ALLOWED for a
 * NULL engine, TOFU_NULL_MESSAGE for a NULL out. Any thread. */
TOFU_API tofu_status tofu_get_wait(tofu_engine *e, uint64_t timeout_ns, tofu_msg **out);

/* Resets a message and returns it to the pool, or frees it when the pool is
 * full; sets *m to NULL. NULL or *m NULL is a no-op. Putting a message may let
 * channels stalled by an empty pool resume reading. */
TOFU_API void tofu_put(tofu_engine *e, tofu_msg **m);

/* Creates a channel group: a receive queue plus the channels opened through
 * it. Errors: TOFU_SHUTDOWN_STARTED, TOFU_ALLOCATION_FAILED. */
TOFU_API tofu_status tofu_group_create(tofu_engine *e, tofu_group **out);

/* Destroys a group: closes its channels (peers see them go), wakes a thread
 * blocked in tofu_wait_receive with TOFU_SHUTDOWN_STARTED, frees every message
 * still queued for it. Blocks until the I/O thread has let go of the group
 * and no thread is inside tofu_wait_receive on it. Returns TOFU_SUCCESS,
 * TOFU_SHUTDOWN_STARTED when the engine is being destroyed (the group is
 * destroyed all the same) or when the group was destroyed already (a second
 * destroy, even a concurrent one, returns once the first is done), or
 * TOFU_INVALID_ADDRESS for a NULL engine or group (as the original).
 *
 * Other threads may go on calling tofu_post, tofu_wait_receive and
 * tofu_update_receiver on the group during and after its destroy: those calls
 * return TOFU_SHUTDOWN_STARTED (or succeed if they came first). The group's
 * record (a few hundred bytes) stays allocated for that until the engine is
 * destroyed; after tofu_engine_destroy the group must not be used at all. */
TOFU_API tofu_status tofu_group_destroy(tofu_engine *e, tofu_group *g);

/* Posts a message: validates it (docs/semantics.md, "Post"), assigns a channel number to a
 * Hello/WelcomeRequest with channel 0 and a message id when it is 0, and hands
 * it to the I/O thread. On success the engine owns the message, *m becomes
 * NULL and *out (may be NULL) receives the final header. On error the caller
 * keeps the message; its status byte tells what was wrong. Synchronous
 * errors: TOFU_NULL_MESSAGE, TOFU_INVALID_OP_CODE, TOFU_INVALID_MESSAGE_ID,
 * TOFU_INVALID_MORE_USAGE, TOFU_INVALID_CHANNEL_NUMBER, TOFU_INVALID_MCHN_GROUP,
 * TOFU_INVALID_HEADERS_LEN, TOFU_WRONG_ADDRESS, TOFU_INVALID_BODY_LEN,
 * TOFU_NOTIFICATION_DISABLED (engine shutting down), TOFU_NOTIFICATION_FAILED
 * (the engine's I/O thread died), TOFU_SHUTDOWN_STARTED (the group is being or
 * was destroyed; checked before the message is validated),
 * TOFU_NOT_ALLOWED (NULL group), TOFU_CHANNEL_CLOSED (the channel closed
 * while the post was under way). Everything after that comes back
 * asynchronously through tofu_wait_receive. */
TOFU_API tofu_status tofu_post(tofu_group *g, tofu_msg **m, tofu_bhdr *out);

/* Waits up to timeout_ns (TOFU_WAIT_INFINITE: forever) for the next message
 * of the group. Returns TOFU_SUCCESS with *out set, TOFU_SUCCESS with *out NULL
 * on timeout, or TOFU_SHUTDOWN_STARTED when the group or engine is being
 * destroyed (queued messages are then dropped), or when the engine's I/O
 * thread died and nothing is queued any more. A receiver thread may still be
 * inside this call, or call it again, while another thread destroys the
 * group: it gets TOFU_SHUTDOWN_STARTED (every time, until the engine is
 * destroyed), so stop looping on that status. Only one thread at a time may
 * wait on a group. */
TOFU_API tofu_status tofu_wait_receive(tofu_group *g, uint64_t timeout_ns, tofu_msg **out);

/* ---- Who is on the other end ---- */

/* What the system tells about a channel's peer. Nothing of it travels on the
 * wire: it comes from the connected socket (getpeername, and on a Unix
 * socket the kernel's record of the peer process). */
typedef struct tofu_peer {
    /* TCP: the peer's IP address (numeric) and port. UDS: transport UDS and
     * the name the peer's socket is bound to, which is empty for an
     * accepted channel (clients do not bind) and the listener's path for a
     * connected one. Empty (host "", port 0) where the system could not
     * tell (the peer already gone). */
    tofu_address address;
    /* UDS only: true when at least one of uid, gid, pid below is known.
     * Each is -1 where this platform does not tell (docs/platforms.md):
     * Linux and OpenBSD give all three (SO_PEERCRED), macOS too
     * (getpeereid, LOCAL_PEERPID), the other BSDs uid and gid
     * (getpeereid), Windows only the pid (SIO_AF_UNIX_GETPEERPID). For a connected
     * channel they are the listening process's. Read when the channel was
     * accepted or connected: the process's credentials at that moment. */
    bool has_credentials;
    int64_t uid;
    int64_t gid;
    int64_t pid;
} tofu_peer;

/* Fills *out with the peer of one of the group's channels: an accepted
 * channel (known before its first message is delivered, so a server can
 * decide on the HelloRequest) or a connected one (known once connected,
 * when its HelloRequest went out). One small record per open channel,
 * freed when the channel closes. Any thread.
 * Errors, as tofu_post for the number: TOFU_INVALID_CHANNEL_NUMBER (0, or
 * never a channel of this group), TOFU_INVALID_MCHN_GROUP (another group's
 * channel), TOFU_CHANNEL_CLOSED (it closed), TOFU_SHUTDOWN_STARTED (the
 * group was destroyed); TOFU_NOT_ALLOWED for a NULL group or out, a
 * listener, or a Hello channel not connected yet. */
TOFU_API tofu_status tofu_channel_peer(tofu_group *g, uint16_t channel, tofu_peer *out);

/* ---- Event-loop integration ---- */

/* What an event loop waits on: a file descriptor on POSIX, a SOCKET on
 * Windows. */
#if defined(_WIN32)
typedef uintptr_t tofu_fd;
#else
typedef int tofu_fd;
#endif

/* Gives a descriptor that polls readable (level-triggered) exactly while a
 * receive on the group would not come back empty-handed: while messages are
 * queued, and for good once the group is destroyed or the engine's I/O
 * thread died (tofu_try_receive then says TOFU_SHUTDOWN_STARTED). Register it
 * for reading with epoll, poll, select, kqueue, libuv (uv_poll_t), GLib,
 * asyncio (loop.add_reader) or WSAPoll; when it is readable, call
 * tofu_try_receive or tofu_receive_many until they return nothing, or
 * just once: it stays readable while anything is left (no lost wake-up,
 * and no readiness without a message: it is cleared under the group's lock
 * when a receive empties the queue).
 *
 * Never read, write or close the descriptor: it is the group's. It is
 * created on the first call (later calls return the same one) and closed by
 * tofu_engine_destroy, so it stays valid (and readable) after
 * tofu_group_destroy; take it out of your loop before destroying the
 * engine. Until the first call, delivery pays nothing for it. Counted by
 * tofu_open_sockets() (two handles where it is a pipe or a socket pair).
 * POSIX: an eventfd on Linux, a pipe elsewhere; Windows: one socket of a
 * loopback TCP pair, which select, WSAPoll and libuv accept.
 * Errors: TOFU_NOT_ALLOWED (NULL group or out), TOFU_SHUTDOWN_STARTED (the
 * group was destroyed before any descriptor was asked for),
 * TOFU_COMMUNICATION_FAILED (the system refused the handles). Any thread. */
TOFU_API tofu_status tofu_group_fd(tofu_group *g, tofu_fd *out);

/* Takes the next queued message without waiting: TOFU_SUCCESS with *out set,
 * TOFU_SUCCESS with *out NULL when nothing is queued, TOFU_SHUTDOWN_STARTED as
 * tofu_wait_receive. Any thread, any time until the engine is destroyed
 * (also while another thread waits in tofu_wait_receive). */
TOFU_API tofu_status tofu_try_receive(tofu_group *g, tofu_msg **out);

/* Takes up to cap queued messages at once into out[0..*n), in order, under
 * one lock. Waits up to timeout_ns (0: not at all, TOFU_WAIT_INFINITE:
 * forever) for the first one; never waits for more. TOFU_SUCCESS with *n 0
 * on timeout; TOFU_SHUTDOWN_STARTED as tofu_wait_receive (with *n 0);
 * TOFU_NULL_MESSAGE for NULL out or n or cap 0; TOFU_NOT_ALLOWED for a NULL
 * group. A call that waits (timeout_ns > 0) counts as the group's one
 * waiting thread, as tofu_wait_receive. */
TOFU_API tofu_status tofu_receive_many(tofu_group *g, uint64_t timeout_ns, tofu_msg **out,
                                       size_t cap, size_t *n);

/* Puts a message into the group's receive queue from any thread. With m or *m
 * NULL the engine allocates a Signal (origin engine, channel 0, id 0); else the
 * caller's message is queued with origin application (status becomes
 * receiver_update in both cases) and *m is set to NULL. Error:
 * TOFU_SHUTDOWN_STARTED (the group is being or was destroyed; the caller keeps
 * the message), TOFU_ALLOCATION_FAILED. */
TOFU_API tofu_status tofu_update_receiver(tofu_group *g, tofu_msg **m);

/* Number of sockets currently open by libtofu in this process (listeners,
 * connections and the engines' internal wake-up handles). Tests use it to
 * prove nothing leaked. */
TOFU_API uint64_t tofu_open_sockets(void);

#ifdef __cplusplus
}
#endif

#endif /* TOFU_H */
