/*
 * The poller: one small interface, one file per backend (poller_epoll.c,
 * poller_poll.c, poller_afd.c). Level-triggered. The wake-up handle is part
 * of the poller because on Windows it is a completion packet on the poller's
 * own port.
 *
 * Only the I/O thread calls these functions, except tofui_poller_wake, which
 * any thread may call.
 */
#ifndef TOFUI_POLLER_H
#define TOFUI_POLLER_H

#include "platform/platform.h"

/* Interest and event bits. ERR and HUP are always reported, never asked. */
#define TOFUI_POLL_IN 0x1u
#define TOFUI_POLL_OUT 0x2u
#define TOFUI_POLL_ERR 0x4u /* error or reset on the socket */
#define TOFUI_POLL_HUP 0x8u /* peer closed (both directions, or reset) */

typedef struct tofui_poller tofui_poller;

typedef struct tofui_event {
    void *data;      /* the pointer given at add */
    unsigned events; /* TOFUI_POLL_* bits */
} tofui_event;

/* Creates a poller and its wake-up handle. */
tofu_status tofui_poller_create(tofui_poller **out);

/* Destroys the poller; every socket must have been removed first. */
void tofui_poller_destroy(tofui_poller *p);

/* Starts watching s with `interest` (TOFUI_POLL_IN|OUT, may be 0). `data` comes
 * back in events; it must stay valid until after remove. */
tofu_status tofui_poller_add(tofui_poller *p, tofui_socket s, void *data, unsigned interest);

/* Changes the interest of a watched socket. */
tofu_status tofui_poller_modify(tofui_poller *p, tofui_socket s, void *data, unsigned interest);

/* Stops watching s; call before closing it. After it returns no later wait
 * reports s (events already returned by the current wait may still name its
 * data: free channel records only after processing the batch). */
void tofui_poller_remove(tofui_poller *p, tofui_socket s);

/* Waits up to timeout_ms (-1: forever) and stores at most max events. Returns
 * the number of events (0 on timeout), or -1 on a fatal poller error. *woken
 * is set when a wake-up arrived (it is consumed: wake-ups coalesce). */
int tofui_poller_wait(tofui_poller *p, tofui_event *events, int max, int timeout_ms, bool *woken);

/* Wakes the thread blocked in (or about to enter) tofui_poller_wait. Any
 * thread; many calls before a wait cost one wake-up, and while one is
 * pending a call is a plain load (no locked write). The pending flag is
 * cleared, sequentially consistent, before the wait that consumed the
 * wake-up returns: whatever a caller stored before its call (a queued post,
 * a refill note) is seen by the waiter's next look after that wait. */
void tofui_poller_wake(tofui_poller *p);

/* Whether add, modify and remove may be called by a thread other than the
 * one waiting, while it waits (the engine's express posts, engine.c, rely on
 * it): epoll's registrations are the kernel's; poll's array and the AFD
 * poller's records are the waiting thread's. */
bool tofui_poller_ctl_while_waiting(void);

/* "epoll", "poll" or "afd". */
const char *tofui_poller_name(void);

#endif
