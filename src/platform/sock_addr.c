/*
 * Socket addresses on both platforms (sock_addr.h): resolution of TCP
 * addresses (literals without a lookup, the IPv4 wildcard, getaddrinfo for
 * host names) and the conversion of a bound TCP address back into a
 * tofu_address. Winsock and POSIX sockets share this API to the letter;
 * what differs (UDS) stays in posix_sock.c and win_sock.c, which call this
 * file and are never called by it.
 */
#if defined(_WIN32)
#include <winsock2.h>
#include <ws2tcpip.h>
#else
#if defined(__linux__)
#define _GNU_SOURCE /* getaddrinfo under -std=c11 */
#endif
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/types.h>
#endif

#include <stdio.h>
#include <string.h>

#include "platform/sock_addr.h"

_Static_assert(sizeof(struct sockaddr_storage) <= sizeof(((tofui_sockaddr *)0)->storage),
               "tofui_sockaddr.storage too small");

int tofui_sockaddr_family(const tofui_sockaddr *sa) {
    struct sockaddr head;
    memcpy(&head.sa_family, sa->storage + offsetof(struct sockaddr, sa_family),
           sizeof head.sa_family);
    return head.sa_family;
}

void tofui_sockaddr_store(tofui_sockaddr *out, const void *addr, size_t len, bool uds,
                          bool filesystem) {
    memset(out, 0, sizeof *out);
    memcpy(out->storage, addr, len);
    out->len = (uint32_t)len;
    out->uds = uds;
    out->uds_filesystem = filesystem;
}

/* ------------------------------------------------------------------------ */
/* resolution                                                               */
/* ------------------------------------------------------------------------ */

/* IPv4 or IPv6 literal, parsed without any lookup. */
static bool sock_addr__parse_literal(const char *host, uint16_t port, tofui_sockaddr *out) {
    struct sockaddr_in v4;
    struct sockaddr_in6 v6;
    memset(&v4, 0, sizeof v4);
    memset(&v6, 0, sizeof v6);
    if (inet_pton(AF_INET, host, &v4.sin_addr) == 1) {
        v4.sin_family = AF_INET;
        v4.sin_port = htons(port);
        tofui_sockaddr_store(out, &v4, sizeof v4, false, false);
        return true;
    }
    if (inet_pton(AF_INET6, host, &v6.sin6_addr) == 1) {
        v6.sin6_family = AF_INET6;
        v6.sin6_port = htons(port);
        tofui_sockaddr_store(out, &v6, sizeof v6, false, false);
        return true;
    }
    return false;
}

static void sock_addr__any_ipv4(uint16_t port, tofui_sockaddr *out) {
    struct sockaddr_in v4;
    memset(&v4, 0, sizeof v4);
    v4.sin_family = AF_INET;
    v4.sin_port = htons(port);
    v4.sin_addr.s_addr = htonl(INADDR_ANY);
    tofui_sockaddr_store(out, &v4, sizeof v4, false, false);
}

/* Host names: getaddrinfo (blocks), results kept in the resolver's order. */
static tofu_status sock_addr__lookup(const tofu_address *a, bool passive, tofui_sockaddr *out,
                                     size_t max, size_t *n) {
    struct addrinfo hints, *res = NULL;
    char service[8];
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV | (passive ? AI_PASSIVE : 0);
    snprintf(service, sizeof service, "%u", (unsigned)a->port);
    if (getaddrinfo(a->host, service, &hints, &res) != 0)
        return TOFU_INVALID_ADDRESS;
    for (const struct addrinfo *ai = res; ai != NULL && *n < max; ai = ai->ai_next) {
        bool inet = ai->ai_family == AF_INET || ai->ai_family == AF_INET6;
        if (inet && ai->ai_addrlen <= sizeof out->storage)
            tofui_sockaddr_store(&out[(*n)++], ai->ai_addr, ai->ai_addrlen, false, false);
    }
    freeaddrinfo(res);
    return *n > 0 ? TOFU_SUCCESS : TOFU_INVALID_ADDRESS;
}

tofu_status tofui_sockaddr_resolve_tcp(const tofu_address *a, bool passive, tofui_sockaddr *out,
                                       size_t max, size_t *n) {
    *n = 0;
    if (max == 0)
        return TOFU_INVALID_ADDRESS;
    if (a->transport != TOFU_TRANSPORT_TCP)
        return TOFU_INVALID_ADDRESS;
    if (a->host[0] == '\0') {
        if (!passive)
            return TOFU_INVALID_ADDRESS;
        sock_addr__any_ipv4(a->port, out);
        *n = 1;
        return TOFU_SUCCESS;
    }
    if (sock_addr__parse_literal(a->host, a->port, out)) {
        *n = 1;
        return TOFU_SUCCESS;
    }
    return sock_addr__lookup(a, passive, out, max, n);
}

/* UDS addresses and the empty "any" host never block either. */
bool tofui_sock_is_literal(const tofu_address *a) {
    unsigned char scratch[sizeof(struct in6_addr)];
    if (a->transport == TOFU_TRANSPORT_UDS || a->host[0] == '\0')
        return true;
    return inet_pton(AF_INET, a->host, scratch) == 1 ||
           inet_pton(AF_INET6, a->host, scratch) == 1;
}

/* ------------------------------------------------------------------------ */
/* bound address                                                            */
/* ------------------------------------------------------------------------ */

static void sock_addr__inet_name(const struct sockaddr_storage *ss, tofu_address *out) {
    out->transport = TOFU_TRANSPORT_TCP;
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *v4 = (const struct sockaddr_in *)(const void *)ss;
        inet_ntop(AF_INET, &v4->sin_addr, out->host, sizeof out->host);
        out->port = ntohs(v4->sin_port);
    } else {
        const struct sockaddr_in6 *v6 = (const struct sockaddr_in6 *)(const void *)ss;
        inet_ntop(AF_INET6, &v6->sin6_addr, out->host, sizeof out->host);
        out->port = ntohs(v6->sin6_port);
    }
}

tofu_status tofui_sockaddr_inet_to_address(const struct sockaddr_storage *ss, tofu_address *out) {
    if (ss->ss_family != AF_INET && ss->ss_family != AF_INET6)
        return TOFU_COMMUNICATION_FAILED;
    sock_addr__inet_name(ss, out);
    return TOFU_SUCCESS;
}
