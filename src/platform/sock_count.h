/*
 * The count of open OS handles (sock_count.c), one implementation for every
 * platform: the socket layers (posix_sock.c, win_sock.c) count their
 * sockets here, the poller backends their own handles through
 * tofui_sock_count_opened/closed (platform.h), and tofu_open_sockets() is
 * the sum, so that a test can prove nothing leaked.
 */
#ifndef TOFUI_SOCK_COUNT_H
#define TOFUI_SOCK_COUNT_H

/* A socket of the socket layer was opened / closed. */
void tofui_sock_socket_opened(void);
void tofui_sock_socket_closed(void);

#endif
