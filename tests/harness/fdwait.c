/* Waiting on a descriptor with poll, select or epoll (fdwait.h). */
#if defined(_WIN32)
#include <winsock2.h>
#else
#define _GNU_SOURCE /* poll, select, epoll under -std=c11 */
#include <poll.h>
#include <sys/select.h>
#include <unistd.h>
#if defined(__linux__)
#include <sys/epoll.h>
#endif
#endif

#include "fdwait.h"

const char *tofu_t_waiter_name(tofu_t_waiter w) {
    return w == TOFU_T_WAIT_POLL ? "poll" : w == TOFU_T_WAIT_SELECT ? "select" : "epoll";
}

#if defined(_WIN32)

static int fdwait__poll(tofu_fd fd, int timeout_ms) {
    WSAPOLLFD p = {(SOCKET)fd, POLLRDNORM, 0};
    int r = WSAPoll(&p, 1, timeout_ms);
    return r < 0 ? -1 : r > 0 && (p.revents & POLLRDNORM) ? 1 : 0;
}

#else

static int fdwait__poll(tofu_fd fd, int timeout_ms) {
    struct pollfd p = {fd, POLLIN, 0};
    int r = poll(&p, 1, timeout_ms);
    return r < 0 ? -1 : r > 0 && (p.revents & POLLIN) ? 1 : 0;
}

#endif

int tofu_t_either_readable(tofu_fd a, tofu_fd b, int timeout_ms) {
#if defined(_WIN32)
    WSAPOLLFD p[2] = {{(SOCKET)a, POLLRDNORM, 0}, {(SOCKET)b, POLLRDNORM, 0}};
    int r = WSAPoll(p, 2, timeout_ms);
#else
    struct pollfd p[2] = {{a, POLLIN, 0}, {b, POLLIN, 0}};
    int r = poll(p, 2, timeout_ms);
#endif
    return r < 0 ? -1 : r > 0 ? 1 : 0;
}

static int fdwait__select(tofu_fd fd, int timeout_ms) {
    fd_set r;
    struct timeval tv;
    tv.tv_sec = timeout_ms / 1000;
    tv.tv_usec = (timeout_ms % 1000) * 1000;
    FD_ZERO(&r);
    FD_SET(fd, &r);
#if defined(_WIN32)
    int n = select(0, &r, NULL, NULL, &tv);
#else
    int n = select(fd + 1, &r, NULL, NULL, &tv);
#endif
    return n < 0 ? -1 : n > 0 && FD_ISSET(fd, &r) ? 1 : 0;
}

static int fdwait__epoll(tofu_fd fd, int timeout_ms) {
#if defined(__linux__)
    int ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0)
        return -1;
    struct epoll_event ev = {0}, out;
    ev.events = EPOLLIN; /* level-triggered */
    int r = epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
    if (r == 0)
        r = epoll_wait(ep, &out, 1, timeout_ms);
    close(ep);
    return r < 0 ? -1 : r > 0 ? 1 : 0;
#else
    (void)fd;
    (void)timeout_ms;
    return -2;
#endif
}

int tofu_t_fd_readable(tofu_fd fd, int timeout_ms, tofu_t_waiter w) {
    switch (w) {
    case TOFU_T_WAIT_POLL:
        return fdwait__poll(fd, timeout_ms);
    case TOFU_T_WAIT_SELECT:
        return fdwait__select(fd, timeout_ms);
    default:
        return fdwait__epoll(fd, timeout_ms);
    }
}
