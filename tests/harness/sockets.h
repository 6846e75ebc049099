/*
 * Socket fixtures for every test that touches the network: the transport a
 * parameterised case runs over, addresses (temporary socket files, abstract
 * names, free and held TCP ports), and raw sockets of the platform layer
 * that play "hostile peers" byte by byte. No engine here: the platform and
 * poller tests use these too.
 *
 * Helpers that assert take the caller's file and line (the upper-case
 * macros pass them), so a failure names the line of the test.
 */
#ifndef TOFU_SOCKETS_H
#define TOFU_SOCKETS_H

#include "platform/platform.h"
#include "test.h"

/* The hang guard of every wait, in seconds. */
#define TOFU_T_WAIT_S 30u

/* Room for any address value a fixture writes ("uds|" + a path, ...). */
#define TOFU_T_ADDR_CAP 160

/* ---- the transport of a TRANSPORT_TEST case ---- */

typedef enum tofu_t_transport {
    TOFU_T_TCP4,     /* TCP over 127.0.0.1 */
    TOFU_T_TCP6,     /* TCP over ::1 */
    TOFU_T_UDS,      /* a Unix socket on a file */
    TOFU_T_ABSTRACT, /* a Unix socket with an abstract name (Linux) */
} tofu_t_transport;

/* The transport this run of the case is for: the first argument after the
 * case name, as CTest passes it ("tcp4", "tcp6", "uds", "abstract"; tcp4
 * when absent, for runs by hand). Ends the case skipped (exit 77) when this
 * system lacks the transport, fails it on an unknown name. */
tofu_t_transport tofu_t_transport_arg(void);

/* Ends the case skipped (exit 77) when this system lacks transport t: for
 * the cases that use a transport of their own choice. */
void tofu_t_transport_require(tofu_t_transport t);

/* "tcp4", "tcp6", "uds" or "abstract". */
const char *tofu_t_transport_name(tofu_t_transport t);

/* True for the two Unix-socket transports. */
bool tofu_t_transport_is_uds(tofu_t_transport t);

/* A fresh ~listen_on value for t: port 0 on the loopback address of its
 * family, a new socket file, or a new abstract name. */
void tofu_t_listen_value(tofu_t_transport t, char *buf, size_t cap);

/* ---- addresses ---- */

/* A new filesystem UDS path "<temp dir>/tofu_<pid>_<n>.sock"
 * (tofu_t_temp_path), removed at process exit if still there. */
void tofu_t_uds_path(char *buf, size_t cap);

/* A new abstract name "@tofu_<pid>_<n>" (the @ is the notation of address
 * values; the name itself follows it). */
void tofu_t_abstract_name(char *buf, size_t cap);

/* A TCP port on 127.0.0.1 that nothing listens on (bound once, closed). */
uint16_t tofu_t_free_tcp_port(void);

/* A TCP port on the loopback that refuses connections and that no one else
 * can take while it is held, even with many tests binding and connecting
 * at once: a socket bound to it exclusively, not listening, on a port
 * below the ephemeral ranges (so no bind to port 0 and no outgoing connect
 * picks it; sockets.c says why). Release it right before listening on it;
 * closing a socket that never connected leaves nothing in TIME_WAIT. */
typedef struct tofu_t_port_hold {
    tofui_socket bound;
    uint16_t port;
} tofu_t_port_hold;

/* Releases a held port; nothing to do for a hold that holds nothing (port
 * 0, as tofu_t_closed_value leaves it for the Unix-socket transports). */
void tofu_t_port_release(tofu_t_port_hold *h);

/* A ~connect_to value of transport t (tcp4 or uds; abstract names too)
 * where nothing listens and no other test can start listening: a held
 * port (*hold, released with tofu_t_port_release right before listening
 * there) or a new socket file or abstract name (*hold holds nothing). A
 * listener may be started on the value later. */
void tofu_t_closed_value_at(tofu_t_transport t, tofu_t_port_hold *hold, char *buf, size_t cap,
                            const char *file, int line);
#define CLOSED_VALUE(t, hold, buf, cap) \
    tofu_t_closed_value_at((t), (hold), (buf), (cap), __FILE__, __LINE__)

/* True when a socket can listen on ::1. */
bool tofu_t_ipv6_available(void);

/* A TCP listener on 127.0.0.1 that never accepts and whose accept queue is
 * full, so that the next connect to it gets no answer at all (its SYNs are
 * dropped): *listener and *fillers (up to 4 sockets, *nfill of them) are to
 * be closed by the caller. Linux only (listen() may shrink the backlog of a
 * listening socket, and a full queue drops SYNs); elsewhere false. */
bool tofu_t_silent_listener(tofui_socket *listener, tofui_socket fillers[4], int *nfill,
                            tofu_address *bound);

/* The value of a ~connect_to header reaching a bound listener address: the
 * TCP wildcard becomes the loopback of its family. */
void tofu_t_connect_value(const tofu_address *bound, char *buf, size_t cap);

/* ---- raw sockets: hostile peers ---- */

/* Connects a raw socket of the platform layer to a parsed address and waits
 * until the connection is established. */
tofui_socket tofu_t_raw_connect_at(const tofu_address *a, const char *file, int line);
#define RAW_CONNECT(a) tofu_t_raw_connect_at((a), __FILE__, __LINE__)

/* Writes all n bytes (waiting while the socket buffer is full). */
void tofu_t_raw_send_at(tofui_socket s, const void *p, size_t n, const char *file, int line);
#define RAW_SEND(s, p, n) tofu_t_raw_send_at((s), (p), (n), __FILE__, __LINE__)

/* Reads exactly n bytes (waiting while none are there); fails when the
 * connection ends first or after the hang guard. */
void tofu_t_raw_recv_at(tofui_socket s, void *p, size_t n, const char *file, int line);
#define RAW_RECV(s, p, n) tofu_t_raw_recv_at((s), (p), (n), __FILE__, __LINE__)

/* Reads and discards until the peer closed the connection (EOF or reset);
 * fails after the hang guard. */
void tofu_t_raw_wait_closed_at(tofui_socket s, const char *file, int line);
#define RAW_WAIT_CLOSED(s) tofu_t_raw_wait_closed_at((s), __FILE__, __LINE__)

/* Encodes a frame by hand (independently of the library's wire code):
 * 16-byte big-endian header with a raw proto byte, then th and body. Returns
 * the frame length; out must hold 16 + thl + bl bytes. */
size_t tofu_t_raw_frame(uint8_t *out, uint16_t channel, uint8_t proto, uint64_t id,
                        const void *th, uint16_t thl, const void *body, uint16_t bl);

/* Encodes only a 16-byte header announcing thl and bl bytes. */
void tofu_t_raw_header(uint8_t out[16], uint16_t channel, uint8_t proto, uint64_t id,
                       uint16_t thl, uint16_t bl);

#endif
