/*
 * Poller backend for any POSIX system: poll(2) over an array of pollfd,
 * woken through a non-blocking pipe. The default on macOS and the BSDs;
 * selectable on Linux (-DTOFU_POLLER=poll) so CI runs it too.
 *
 * The pollfd array is what poll(2) takes, so it is kept dense: slot 0 is the
 * wake-up pipe, sockets follow. An index from fd to slot makes add, modify
 * and remove O(1) (remove moves the last slot into the hole).
 *
 * Wake-ups coalesce as in poller_epoll.c: the first wake of a burst writes
 * one byte; the waiter drains the pipe and only then clears the flag.
 */

#include <errno.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "platform/poller.h"

#define POLLER_POLL__WAKE_SLOT 0

struct tofui_poller {
    struct pollfd *fds; /* slot 0: wake-up pipe; then the sockets */
    void **data;        /* per slot: the caller's pointer */
    int n, cap;         /* slots used / allocated */
    int *slot_of;       /* fd -> slot, -1 when not watched */
    int slot_of_cap;
    int cursor;         /* where the next scan starts, so no socket starves */
    int wake_rd, wake_wr;
    atomic_bool wake_pending;
};

/* ---- bit translation ---- */

static short poller_poll__interest(unsigned interest) {
    short ev = 0;
    if (interest & TOFUI_POLL_IN)
        ev |= POLLIN;
    if (interest & TOFUI_POLL_OUT)
        ev |= POLLOUT;
    return ev;
}

static unsigned poller_poll__events(short rev) {
    unsigned out = 0;
    if (rev & (POLLIN | POLLPRI))
        out |= TOFUI_POLL_IN;
    if (rev & POLLOUT)
        out |= TOFUI_POLL_OUT;
    if (rev & (POLLERR | POLLNVAL))
        out |= TOFUI_POLL_ERR;
    if (rev & POLLHUP)
        out |= TOFUI_POLL_HUP;
    return out;
}

/* ---- wake-up pipe ---- */

/* Both pipe ends are counted by tofu_open_sockets(). */
static void poller_poll__close_wake(int fd) {
    if (fd >= 0) {
        close(fd);
        tofui_sock_count_closed();
    }
}

static void poller_poll__consume_wake(tofui_poller *p) {
    char sink[64];
    for (;;) {
        ssize_t r = read(p->wake_rd, sink, sizeof sink);
        if (r > 0 || (r < 0 && errno == EINTR))
            continue;
        break; /* empty (EAGAIN) */
    }
    atomic_store(&p->wake_pending, false);
}

/* ---- slots ---- */

static int poller_poll__grow_slots(tofui_poller *p, int need) {
    if (need <= p->cap)
        return 0;
    int cap = p->cap ? p->cap * 2 : 64;
    while (cap < need)
        cap *= 2;
    struct pollfd *fds = realloc(p->fds, (size_t)cap * sizeof *fds);
    if (fds == NULL)
        return -1;
    p->fds = fds;
    void **data = realloc(p->data, (size_t)cap * sizeof *data);
    if (data == NULL)
        return -1;
    p->data = data;
    p->cap = cap;
    return 0;
}

static int poller_poll__grow_index(tofui_poller *p, int fd) {
    if (fd < p->slot_of_cap)
        return 0;
    int cap = p->slot_of_cap ? p->slot_of_cap : 64;
    while (cap <= fd)
        cap *= 2;
    int *idx = realloc(p->slot_of, (size_t)cap * sizeof *idx);
    if (idx == NULL)
        return -1;
    for (int i = p->slot_of_cap; i < cap; i++)
        idx[i] = -1;
    p->slot_of = idx;
    p->slot_of_cap = cap;
    return 0;
}

static int poller_poll__slot(const tofui_poller *p, int fd) {
    return fd >= 0 && fd < p->slot_of_cap ? p->slot_of[fd] : -1;
}

static int poller_poll__append(tofui_poller *p, int fd, void *data, unsigned interest) {
    if (poller_poll__grow_index(p, fd) != 0 || poller_poll__grow_slots(p, p->n + 1) != 0)
        return -1;
    p->fds[p->n].fd = fd;
    p->fds[p->n].events = poller_poll__interest(interest);
    p->fds[p->n].revents = 0;
    p->data[p->n] = data;
    p->slot_of[fd] = p->n;
    p->n++;
    return 0;
}

/* ---- lifecycle ---- */

tofu_status tofui_poller_create(tofui_poller **out) {
    tofui_poller *p = calloc(1, sizeof *p);
    int fds[2];
    *out = NULL;
    if (p == NULL)
        return TOFU_ALLOCATION_FAILED;
    atomic_init(&p->wake_pending, false);
    p->wake_rd = p->wake_wr = -1;
    if (tofui_posix_pipe(fds) != 0) {
        free(p);
        return TOFU_COMMUNICATION_FAILED;
    }
    p->wake_rd = fds[0];
    p->wake_wr = fds[1];
    tofui_sock_count_opened();
    tofui_sock_count_opened();
    if (poller_poll__append(p, p->wake_rd, NULL, TOFUI_POLL_IN) != 0) {
        tofui_poller_destroy(p);
        return TOFU_ALLOCATION_FAILED;
    }
    *out = p;
    return TOFU_SUCCESS;
}

void tofui_poller_destroy(tofui_poller *p) {
    if (p == NULL)
        return;
    poller_poll__close_wake(p->wake_rd);
    poller_poll__close_wake(p->wake_wr);
    free(p->fds);
    free(p->data);
    free(p->slot_of);
    free(p);
}

/* ---- registrations ---- */

/* add on a watched socket and modify on an unknown one both do what was
 * meant instead of failing (SPEC §9.1). */
tofu_status tofui_poller_add(tofui_poller *p, tofui_socket s, void *data, unsigned interest) {
    int fd = (int)s;
    if (fd < 0 || fd == p->wake_rd)
        return TOFU_COMMUNICATION_FAILED;
    int slot = poller_poll__slot(p, fd);
    if (slot >= 0) {
        p->fds[slot].events = poller_poll__interest(interest);
        p->data[slot] = data;
        return TOFU_SUCCESS;
    }
    return poller_poll__append(p, fd, data, interest) == 0 ? TOFU_SUCCESS : TOFU_ALLOCATION_FAILED;
}

tofu_status tofui_poller_modify(tofui_poller *p, tofui_socket s, void *data, unsigned interest) {
    return tofui_poller_add(p, s, data, interest);
}

void tofui_poller_remove(tofui_poller *p, tofui_socket s) {
    int fd = (int)s;
    int slot = poller_poll__slot(p, fd);
    if (slot <= POLLER_POLL__WAKE_SLOT)
        return;
    int last = p->n - 1;
    p->fds[slot] = p->fds[last];
    p->data[slot] = p->data[last];
    p->slot_of[p->fds[slot].fd] = slot;
    p->slot_of[fd] = -1;
    p->n--;
}

/* ---- waiting ---- */

/* poll, restarted after a signal with the time that is left. */
static int poller_poll__wait_kernel(tofui_poller *p, int timeout_ms) {
    uint64_t deadline = tofui_clock_ns() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0) * 1000000u;
    for (;;) {
        int r = poll(p->fds, (nfds_t)p->n, timeout_ms);
        if (r >= 0 || errno != EINTR)
            return r;
        if (timeout_ms > 0) {
            uint64_t now = tofui_clock_ns();
            timeout_ms = now >= deadline ? 0 : (int)((deadline - now + 999999u) / 1000000u);
        }
    }
}

/* Collects socket events, starting at the cursor and wrapping around, so
 * that when more sockets are ready than `max` the next wait serves the rest
 * first. */
static int poller_poll__collect(tofui_poller *p, tofui_event *events, int max) {
    int sockets = p->n - 1, out = 0;
    if (sockets <= 0)
        return 0;
    if (p->cursor >= sockets)
        p->cursor = 0;
    for (int k = 0; k < sockets; k++) {
        int slot = 1 + (p->cursor + k) % sockets;
        if (p->fds[slot].revents == 0)
            continue;
        if (out == max) {
            p->cursor = slot - 1;
            return out;
        }
        events[out].data = p->data[slot];
        events[out].events = poller_poll__events(p->fds[slot].revents);
        out++;
    }
    return out;
}

int tofui_poller_wait(tofui_poller *p, tofui_event *events, int max, int timeout_ms, bool *woken) {
    bool w = false;
    if (max < 0)
        return -1;
    int r = poller_poll__wait_kernel(p, timeout_ms);
    if (r < 0)
        return -1;
    if (p->fds[POLLER_POLL__WAKE_SLOT].revents != 0) {
        poller_poll__consume_wake(p);
        w = true;
    }
    if (woken != NULL)
        *woken = w;
    return r > (w ? 1 : 0) ? poller_poll__collect(p, events, max) : 0;
}

void tofui_poller_wake(tofui_poller *p) {
    char one = 1;
    /* The plain load first, as in poller_epoll.c. */
    if (atomic_load(&p->wake_pending) || atomic_exchange(&p->wake_pending, true))
        return;
    /* EAGAIN would mean the pipe is full, i.e. already readable. */
    while (write(p->wake_wr, &one, 1) < 0 && errno == EINTR) {
    }
}

bool tofui_poller_ctl_while_waiting(void) {
    return false;
}

const char *tofui_poller_name(void) {
    return "poll";
}
