/*
 * Poller backend for Linux: level-triggered epoll, woken through an eventfd.
 *
 * Wake-ups coalesce: an atomic "pending" flag lets only the first of a burst
 * of tofui_poller_wake calls write to the eventfd; the waiter drains the
 * eventfd and only then clears the flag, so a wake that races with the drain
 * either finds the flag still set (and its work is seen by the pass that is
 * about to run) or writes again (and wakes the next wait).
 */
#define _GNU_SOURCE /* eventfd, epoll_create1 under -std=c11 */

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "platform/poller.h"

struct tofui_poller {
    int ep;
    int wake_fd;
    atomic_bool wake_pending;
    /* Its address is the epoll data of the eventfd: never a caller's pointer,
     * so it cannot be mistaken for a socket's event. */
    char wake_token;
    struct epoll_event *buf; /* kernel events of one wait */
    int buf_cap;
};

/* ---- bit translation ---- */

static uint32_t poller_epoll__interest(unsigned interest) {
    uint32_t ev = 0;
    if (interest & TOFUI_POLL_IN)
        ev |= EPOLLIN;
    if (interest & TOFUI_POLL_OUT)
        ev |= EPOLLOUT;
    return ev;
}

/* EPOLLRDHUP and EPOLLPRI read as "readable": the read that follows returns
 * the end of stream (or the data). Only EPOLLHUP (both directions closed or
 * reset) is HUP. */
static unsigned poller_epoll__events(uint32_t ev) {
    unsigned out = 0;
    if (ev & (EPOLLIN | EPOLLRDHUP | EPOLLPRI))
        out |= TOFUI_POLL_IN;
    if (ev & EPOLLOUT)
        out |= TOFUI_POLL_OUT;
    if (ev & EPOLLERR)
        out |= TOFUI_POLL_ERR;
    if (ev & EPOLLHUP)
        out |= TOFUI_POLL_HUP;
    return out;
}

/* ---- lifecycle ---- */

/* The wake-up handle is counted by tofu_open_sockets() (so engine tests see
 * it released); the epoll descriptor is not a socket-like handle. */
static void poller_epoll__close_wake(int fd) {
    if (fd >= 0) {
        close(fd);
        tofui_sock_count_closed();
    }
}

static int poller_epoll__open_wake(tofui_poller *p) {
    struct epoll_event ev;
    p->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (p->wake_fd < 0)
        return -1;
    tofui_sock_count_opened();
    memset(&ev, 0, sizeof ev);
    ev.events = EPOLLIN;
    ev.data.ptr = &p->wake_token;
    return epoll_ctl(p->ep, EPOLL_CTL_ADD, p->wake_fd, &ev);
}

tofu_status tofui_poller_create(tofui_poller **out) {
    tofui_poller *p = calloc(1, sizeof *p);
    *out = NULL;
    if (p == NULL)
        return TOFU_ALLOCATION_FAILED;
    p->wake_fd = -1;
    atomic_init(&p->wake_pending, false);
    p->ep = epoll_create1(EPOLL_CLOEXEC);
    if (p->ep < 0 || poller_epoll__open_wake(p) != 0) {
        tofui_poller_destroy(p);
        return TOFU_COMMUNICATION_FAILED;
    }
    *out = p;
    return TOFU_SUCCESS;
}

void tofui_poller_destroy(tofui_poller *p) {
    if (p == NULL)
        return;
    poller_epoll__close_wake(p->wake_fd);
    if (p->ep >= 0)
        close(p->ep);
    free(p->buf);
    free(p);
}

/* ---- registrations ---- */

static int poller_epoll__ctl(tofui_poller *p, int op, tofui_socket s, void *data, unsigned interest) {
    struct epoll_event ev;
    memset(&ev, 0, sizeof ev);
    ev.events = poller_epoll__interest(interest);
    ev.data.ptr = data;
    return epoll_ctl(p->ep, op, (int)s, &ev);
}

/* add on a watched socket and modify on an unknown one both do what was
 * meant instead of failing (SPEC §9.1). */
tofu_status tofui_poller_add(tofui_poller *p, tofui_socket s, void *data, unsigned interest) {
    if (poller_epoll__ctl(p, EPOLL_CTL_ADD, s, data, interest) == 0)
        return TOFU_SUCCESS;
    if (errno == EEXIST && poller_epoll__ctl(p, EPOLL_CTL_MOD, s, data, interest) == 0)
        return TOFU_SUCCESS;
    return TOFU_COMMUNICATION_FAILED;
}

tofu_status tofui_poller_modify(tofui_poller *p, tofui_socket s, void *data, unsigned interest) {
    if (poller_epoll__ctl(p, EPOLL_CTL_MOD, s, data, interest) == 0)
        return TOFU_SUCCESS;
    if (errno == ENOENT && poller_epoll__ctl(p, EPOLL_CTL_ADD, s, data, interest) == 0)
        return TOFU_SUCCESS;
    return TOFU_COMMUNICATION_FAILED;
}

void tofui_poller_remove(tofui_poller *p, tofui_socket s) {
    struct epoll_event ev; /* kernels before 2.6.9 wanted non-NULL */
    memset(&ev, 0, sizeof ev);
    epoll_ctl(p->ep, EPOLL_CTL_DEL, (int)s, &ev);
}

/* ---- waiting ---- */

static int poller_epoll__reserve(tofui_poller *p, int n) {
    if (n <= p->buf_cap)
        return 0;
    struct epoll_event *b = realloc(p->buf, (size_t)n * sizeof *b);
    if (b == NULL)
        return -1;
    p->buf = b;
    p->buf_cap = n;
    return 0;
}

static void poller_epoll__consume_wake(tofui_poller *p) {
    uint64_t v;
    while (read(p->wake_fd, &v, sizeof v) < 0 && errno == EINTR) {
    }
    atomic_store(&p->wake_pending, false);
}

/* epoll_wait, restarted after a signal with the time that is left. */
static int poller_epoll__wait_kernel(tofui_poller *p, int n, int timeout_ms) {
    uint64_t deadline = tofui_clock_ns() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0) * 1000000u;
    for (;;) {
        int r = epoll_wait(p->ep, p->buf, n, timeout_ms);
        if (r >= 0 || errno != EINTR)
            return r;
        if (timeout_ms > 0) {
            uint64_t now = tofui_clock_ns();
            timeout_ms = now >= deadline ? 0 : (int)((deadline - now + 999999u) / 1000000u);
        }
    }
}

int tofui_poller_wait(tofui_poller *p, tofui_event *events, int max, int timeout_ms, bool *woken) {
    bool w = false;
    int out = 0;
    /* One slot more than asked: the wake-up must never crowd out a socket. */
    if (max < 0 || poller_epoll__reserve(p, max + 1) != 0)
        return -1;
    int r = poller_epoll__wait_kernel(p, max + 1, timeout_ms);
    for (int i = 0; i < r; i++) {
        if (p->buf[i].data.ptr == &p->wake_token) {
            poller_epoll__consume_wake(p);
            w = true;
        } else if (out < max) {
            events[out].data = p->buf[i].data.ptr;
            events[out].events = poller_epoll__events(p->buf[i].events);
            out++;
        }
    }
    if (woken != NULL)
        *woken = w;
    return r < 0 ? -1 : out;
}

void tofui_poller_wake(tofui_poller *p) {
    uint64_t one = 1;
    /* The plain load first: while a wake-up is pending, callers only read
     * the flag's cache line instead of writing it with a locked exchange. */
    if (atomic_load(&p->wake_pending) || atomic_exchange(&p->wake_pending, true))
        return;
    /* EAGAIN would mean the counter is full, i.e. already readable. */
    while (write(p->wake_fd, &one, sizeof one) < 0 && errno == EINTR) {
    }
}

bool tofui_poller_ctl_while_waiting(void) {
    return true;
}

const char *tofui_poller_name(void) {
    return "epoll";
}
