/*
 * The readiness flag (platform.h) on Windows: select() and WSAPoll() only
 * wait on sockets, so the flag is a connected pair of loopback TCP sockets
 * (made through a listener on 127.0.0.1 port 0 that is closed at once). Set
 * sends one byte from `wr`; clear receives it on `rd`. The owner never sets
 * a set flag or clears a clear one, so exactly one byte is in flight when
 * the flag is set; loopback delivery is not synchronous, so clear waits for
 * that byte (select on rd) when it has not arrived yet instead of leaving it
 * to make the handle readable later.
 */
#include <winsock2.h>
#include <ws2tcpip.h>
#include <windows.h>
#include <string.h>

#include "platform/platform.h"

static void win_notify__close(SOCKET s) {
    if (s != INVALID_SOCKET) {
        closesocket(s);
        tofui_sock_count_closed();
    }
}

static SOCKET win_notify__socket(void) {
    SOCKET s = WSASocketW(AF_INET, SOCK_STREAM, IPPROTO_TCP, NULL, 0, WSA_FLAG_NO_HANDLE_INHERIT);
    if (s != INVALID_SOCKET)
        tofui_sock_count_opened();
    return s;
}

/* The listener's address: 127.0.0.1 and the port the system picked. */
static bool win_notify__listen(SOCKET l, struct sockaddr_in *a) {
    int len = (int)sizeof *a;
    memset(a, 0, sizeof *a);
    a->sin_family = AF_INET;
    a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a->sin_port = 0;
    return bind(l, (struct sockaddr *)a, (int)sizeof *a) == 0 && listen(l, 1) == 0 &&
           getsockname(l, (struct sockaddr *)a, &len) == 0;
}

/* Nagle would hold the byte back behind nothing. */
static void win_notify__no_delay(SOCKET s) {
    BOOL on = TRUE;
    setsockopt(s, IPPROTO_TCP, TCP_NODELAY, (const char *)&on, (int)sizeof on);
}

/* True when rd's peer is wr: nobody else got in between listen and accept. */
static bool win_notify__is_pair(SOCKET rd, SOCKET wr) {
    struct sockaddr_in peer, mine;
    int plen = (int)sizeof peer, mlen = (int)sizeof mine;
    return getpeername(rd, (struct sockaddr *)&peer, &plen) == 0 &&
           getsockname(wr, (struct sockaddr *)&mine, &mlen) == 0 &&
           peer.sin_port == mine.sin_port && peer.sin_addr.s_addr == mine.sin_addr.s_addr;
}

tofu_status tofui_notify_open(tofui_notify *n) {
    struct sockaddr_in a;
    SOCKET l = win_notify__socket(), wr = INVALID_SOCKET, rd = INVALID_SOCKET;
    n->rd = n->wr = TOFUI_INVALID_SOCKET;
    n->set = false;
    if (l != INVALID_SOCKET && win_notify__listen(l, &a)) {
        wr = win_notify__socket();
        if (wr != INVALID_SOCKET &&
            connect(wr, (struct sockaddr *)&a, (int)sizeof a) == 0) {
            rd = accept(l, NULL, NULL);
            if (rd != INVALID_SOCKET)
                tofui_sock_count_opened();
            if (rd != INVALID_SOCKET && !win_notify__is_pair(rd, wr)) {
                win_notify__close(rd); /* another local program connected first */
                rd = INVALID_SOCKET;
            }
        }
    }
    win_notify__close(l);
    if (rd == INVALID_SOCKET) {
        win_notify__close(wr);
        return TOFU_COMMUNICATION_FAILED;
    }
    win_notify__no_delay(wr);
    n->rd = (tofui_socket)rd;
    n->wr = (tofui_socket)wr;
    return TOFU_SUCCESS;
}

void tofui_notify_set(tofui_notify *n) {
    if (n->set)
        return;
    n->set = true;
    char one = 1;
    send((SOCKET)n->wr, &one, 1, 0);
}

/* Waits (up to a second per round) until rd has the byte. */
static void win_notify__await(SOCKET rd) {
    fd_set r;
    struct timeval tv = {1, 0};
    FD_ZERO(&r);
    FD_SET(rd, &r);
    select(0, &r, NULL, NULL, &tv);
}

void tofui_notify_clear(tofui_notify *n) {
    if (!n->set)
        return;
    n->set = false;
    char sink;
    /* The application's loop may have made rd non-blocking (libuv does). */
    for (int round = 0; round < 30; round++) {
        int got = recv((SOCKET)n->rd, &sink, 1, 0);
        if (got != SOCKET_ERROR || WSAGetLastError() != WSAEWOULDBLOCK)
            return;
        win_notify__await((SOCKET)n->rd);
    }
}

void tofui_notify_close(tofui_notify *n) {
    win_notify__close((SOCKET)n->wr);
    win_notify__close((SOCKET)n->rd);
    n->rd = n->wr = TOFUI_INVALID_SOCKET;
    n->set = false;
}
