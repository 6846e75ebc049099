/*
 * Waiting on a group's descriptor (tofu_group_fd) the way an application's
 * event loop would: poll(2) / WSAPoll, select, epoll. The only OS-specific
 * code of the group-descriptor tests lives behind this (fdwait.c).
 */
#ifndef TOFU_T_FDWAIT_H
#define TOFU_T_FDWAIT_H

#include "tofu.h"

typedef enum tofu_t_waiter {
    TOFU_T_WAIT_POLL,   /* poll(2); WSAPoll on Windows */
    TOFU_T_WAIT_SELECT, /* select */
    TOFU_T_WAIT_EPOLL   /* level-triggered epoll (Linux only) */
} tofu_t_waiter;

/* 1 when fd is readable within timeout_ms (0: just look), 0 when not, -1 on
 * an error of the call, -2 when this system has no such waiter. */
int tofu_t_fd_readable(tofu_fd fd, int timeout_ms, tofu_t_waiter w);

/* Waits with poll (WSAPoll) on two descriptors at once: 1 when either is
 * readable within timeout_ms, 0 when none, -1 on an error. */
int tofu_t_either_readable(tofu_fd a, tofu_fd b, int timeout_ms);

/* The waiter's name ("poll", "select", "epoll"). */
const char *tofu_t_waiter_name(tofu_t_waiter w);

#endif
