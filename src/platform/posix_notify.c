/*
 * The readiness flag (platform.h) on POSIX: an eventfd on Linux (one
 * descriptor), a non-blocking pipe elsewhere. Set writes once, clear reads
 * once: the owner never sets a set flag or clears a clear one, so the
 * counter (or the pipe) holds at most one token and a read never blocks.
 * Both calls are a system call each, and only on a transition.
 */
#if defined(__linux__)
#define _GNU_SOURCE /* eventfd, pipe2 under -std=c11 */
#define POSIX_NOTIFY__EVENTFD 1
#define POSIX_NOTIFY__HAVE_PIPE2 1
#elif defined(__FreeBSD__) || defined(__NetBSD__) || defined(__OpenBSD__) || defined(__DragonFly__)
#define POSIX_NOTIFY__HAVE_PIPE2 1
#endif

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <unistd.h>
#if defined(POSIX_NOTIFY__EVENTFD)
#include <sys/eventfd.h>
#endif

#include "platform/platform.h"

static void posix_notify__close_fd(tofui_socket fd) {
    if (fd != TOFUI_INVALID_SOCKET) {
        close((int)fd);
        tofui_sock_count_closed();
    }
}

int tofui_posix_pipe(int fds[2]) {
#if defined(POSIX_NOTIFY__HAVE_PIPE2)
    return pipe2(fds, O_NONBLOCK | O_CLOEXEC);
#else
    if (pipe(fds) != 0)
        return -1;
    for (int i = 0; i < 2; i++) {
        int fl = fcntl(fds[i], F_GETFL);
        if (fl < 0 || fcntl(fds[i], F_SETFL, fl | O_NONBLOCK) != 0 ||
            fcntl(fds[i], F_SETFD, FD_CLOEXEC) != 0) {
            close(fds[0]);
            close(fds[1]);
            return -1;
        }
    }
    return 0;
#endif
}

#if defined(POSIX_NOTIFY__EVENTFD)

static int posix_notify__open(int fds[2]) {
    fds[0] = fds[1] = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    return fds[0] < 0 ? -1 : 1;
}

static void posix_notify__write(int fd) {
    uint64_t one = 1;
    while (write(fd, &one, sizeof one) < 0 && errno == EINTR) {
    }
}

static void posix_notify__read(int fd) {
    uint64_t v;
    while (read(fd, &v, sizeof v) < 0 && errno == EINTR) {
    }
}

#else

static int posix_notify__open(int fds[2]) {
    return tofui_posix_pipe(fds) != 0 ? -1 : 2;
}

static void posix_notify__write(int fd) {
    char one = 1;
    while (write(fd, &one, 1) < 0 && errno == EINTR) {
    }
}

static void posix_notify__read(int fd) {
    char sink;
    while (read(fd, &sink, 1) < 0 && errno == EINTR) {
    }
}

#endif

tofu_status tofui_notify_open(tofui_notify *n) {
    int fds[2];
    n->rd = n->wr = TOFUI_INVALID_SOCKET;
    n->set = false;
    int opened = posix_notify__open(fds);
    if (opened < 0)
        return TOFU_COMMUNICATION_FAILED;
    for (int i = 0; i < opened; i++)
        tofui_sock_count_opened();
    n->rd = fds[0];
    n->wr = fds[1];
    return TOFU_SUCCESS;
}

void tofui_notify_set(tofui_notify *n) {
    if (n->set)
        return;
    n->set = true;
    posix_notify__write((int)n->wr);
}

void tofui_notify_clear(tofui_notify *n) {
    if (!n->set)
        return;
    n->set = false;
    posix_notify__read((int)n->rd);
}

void tofui_notify_close(tofui_notify *n) {
    if (n->wr != n->rd)
        posix_notify__close_fd(n->wr);
    posix_notify__close_fd(n->rd);
    n->rd = n->wr = TOFUI_INVALID_SOCKET;
    n->set = false;
}
