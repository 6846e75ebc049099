/*
 * The process-wide count of open sockets and other OS handles
 * (sock_count.h): the same on every platform, so it is written once.
 */
#include <stdatomic.h>
#include <stdint.h>

#include "platform/sock_count.h"
#include "platform/platform.h"

static _Atomic uint64_t sock_count__sockets;
static _Atomic uint64_t sock_count__other_handles;

void tofui_sock_socket_opened(void) {
    atomic_fetch_add(&sock_count__sockets, 1);
}

void tofui_sock_socket_closed(void) {
    atomic_fetch_sub(&sock_count__sockets, 1);
}

uint64_t tofui_sock_open_count(void) {
    return atomic_load(&sock_count__sockets);
}

void tofui_sock_count_opened(void) {
    atomic_fetch_add(&sock_count__other_handles, 1);
}

void tofui_sock_count_closed(void) {
    atomic_fetch_sub(&sock_count__other_handles, 1);
}

uint64_t tofu_open_sockets(void) {
    return atomic_load(&sock_count__sockets) + atomic_load(&sock_count__other_handles);
}
