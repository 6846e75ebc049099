/*
 * Socket fixtures for every test that touches the network: addresses
 * (temporary socket files, abstract names, free and held TCP ports), and
 * raw sockets of the platform layer
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

/* ---- addresses ---- */

/* A new filesystem UDS path "<temp dir>/tofu_<pid>_<n>.sock"
 * (tofu_t_temp_path), removed at process exit if still there. */
void tofu_t_uds_path(char *buf, size_t cap);

/* A new abstract name "@tofu_<pid>_<n>" (the @ is the notation of address
 * values; the name itself follows it). */
void tofu_t_abstract_name(char *buf, size_t cap);

/* A TCP port on 127.0.0.1 that nothing listens on (bound once, closed). */
uint16_t tofu_t_free_tcp_port(void);

/* A TCP port on 127.0.0.1 that refuses connections and that no one else
 * can take while it is held, even with many tests binding port 0 at once:
 * the port of a private listener that accepted one connection and closed.
 * The accepted socket keeps the port bound, so no bind to port 0 picks it,
 * and as a bound (not connected-from) port no outgoing connect reuses it
 * (which could connect a socket to itself). Release it (abortively, so
 * nothing lingers in TIME_WAIT) right before listening on it. */
typedef struct tofu_t_port_hold {
    tofui_socket client, accepted;
    uint16_t port;
} tofu_t_port_hold;

uint16_t tofu_t_port_hold_at(tofu_t_port_hold *h, const char *file, int line);
#define PORT_HOLD(h) tofu_t_port_hold_at((h), __FILE__, __LINE__)
void tofu_t_port_release(tofu_t_port_hold *h);

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
