/*
 * Socket addresses, shared by posix_sock.c and win_sock.c (sock_addr.c):
 * the BSD-socket address code is the same on both, only the UDS details
 * differ. sock_addr.c implements tofui_sock_is_literal of platform.h and
 * the helpers below; each OS file implements tofui_sock_resolve and
 * tofui_sock_local_address with them and handles UDS itself, so the
 * dependency runs one way (OS file -> sock_addr.c).
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

/* A TCP address into at most `max` socket addresses, in the resolver's
 * order: a literal without a lookup, the IPv4 wildcard for an empty host
 * with passive=true, getaddrinfo (which blocks) for a host name. Errors:
 * TOFU_INVALID_ADDRESS. */
tofu_status tofui_sockaddr_resolve_tcp(const tofu_address *a, bool passive, tofui_sockaddr *out,
                                       size_t max, size_t *n);

/* What getsockname returned for an AF_INET/AF_INET6 socket as a TCP
 * tofu_address. Errors: TOFU_COMMUNICATION_FAILED for any other family. */
tofu_status tofui_sockaddr_inet_to_address(const struct sockaddr_storage *ss, tofu_address *out);

#endif
