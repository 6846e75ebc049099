/*
 * Socket addresses, shared by posix_sock.c and win_sock.c (sock_addr.c):
 * the BSD-socket address code is the same on both, only the UDS details
 * differ. sock_addr.c implements tofui_sock_resolve and
 * tofui_sock_is_literal of platform.h with the helpers below; each OS file
 * supplies the two UDS hooks at the end.
 */
#ifndef TOFU_PLATFORM_SOCK_ADDR_H
#define TOFU_PLATFORM_SOCK_ADDR_H

#include <stdbool.h>
#include <stddef.h>

#include "platform/platform.h"

struct sockaddr;
struct sockaddr_storage;

/* The stored address as the socket calls take it. */
static inline const struct sockaddr *tofui_sockaddr_sa(const tofui_sockaddr *sa) {
    return (const struct sockaddr *)(const void *)sa->storage;
}

/* Its address family (AF_INET, AF_INET6, AF_UNIX). */
int tofui_sockaddr_family(const tofui_sockaddr *sa);

/* Copies len bytes of a sockaddr into out, which is cleared first. */
void tofui_sockaddr_store(tofui_sockaddr *out, const void *addr, size_t len, bool uds,
                          bool filesystem);

/* What getsockname returned (len bytes in ss) as a tofu_address: TCP for
 * AF_INET/AF_INET6, the UDS hook below for AF_UNIX. `out` must be cleared.
 * Errors: TOFU_COMMUNICATION_FAILED for any other family. */
tofu_status tofui_sockaddr_to_address(const struct sockaddr_storage *ss, size_t len,
                                      const tofui_sockaddr *requested, tofu_address *out);

/* ---- per OS (posix_sock.c, win_sock.c) ---- */

/* A UDS address into a socket address. Errors: TOFU_INVALID_ADDRESS. */
tofu_status tofui_sock_resolve_uds(const tofu_address *a, tofui_sockaddr *out);

/* The name of an AF_UNIX socket (len bytes in ss) into out; when the system
 * reports none, the address the socket was bound with (`requested`). */
void tofui_sock_uds_name(const struct sockaddr_storage *ss, size_t len,
                         const tofui_sockaddr *requested, tofu_address *out);

#endif
