/*
 * The Windows "Ancillary Function Driver" (\Device\Afd) poll request, the
 * kernel-level primitive under select() and WSAPoll, used here directly so
 * that readiness of any number of sockets arrives on one I/O completion port
 * (poller_afd.c). Written from the publicly documented facts:
 *
 *   - a handle opened on a path under \Device\Afd with NtCreateFile accepts
 *     IOCTL_AFD_POLL (0x00012024) through NtDeviceIoControlFile; the input and
 *     output buffer is an AFD_POLL_INFO naming base socket handles and event
 *     bits; the request completes when one of those events is (or becomes)
 *     true, and, as the handle is associated with a completion port, a packet
 *     whose lpOverlapped is the ApcContext of the request is queued there;
 *   - the kernel keeps the addresses of the IO_STATUS_BLOCK and of the output
 *     buffer until that completion: both must stay put until it is dequeued;
 *   - NtCancelIoFileEx cancels one pending request (it then completes with
 *     STATUS_CANCELLED, still through the port);
 *   - the socket to name is the base provider's one (WSAIoctl
 *     SIO_BASE_HANDLE), not a layered service provider's.
 *
 * The ntdll entry points are looked up at run time: NtCancelIoFileEx is not
 * in MinGW's import declarations, and a lookup keeps one code path for all.
 */
#ifndef TOFUI_WIN_AFD_H
#define TOFUI_WIN_AFD_H

#include <winsock2.h>
#include <windows.h>
#include <winternl.h>

#include "platform/platform.h"

/* AFD poll event bits. */
#define TOFUI_AFD_POLL_RECEIVE 0x0001u
#define TOFUI_AFD_POLL_RECEIVE_EXPEDITED 0x0002u
#define TOFUI_AFD_POLL_SEND 0x0004u
#define TOFUI_AFD_POLL_DISCONNECT 0x0008u   /* peer sent FIN */
#define TOFUI_AFD_POLL_ABORT 0x0010u        /* connection reset */
#define TOFUI_AFD_POLL_LOCAL_CLOSE 0x0020u  /* the socket was closed here */
#define TOFUI_AFD_POLL_CONNECT 0x0040u
#define TOFUI_AFD_POLL_ACCEPT 0x0080u
#define TOFUI_AFD_POLL_CONNECT_FAIL 0x0100u

typedef struct tofui_afd_poll_handle_info {
    HANDLE handle;
    ULONG events;
    NTSTATUS status;
} tofui_afd_poll_handle_info;

typedef struct tofui_afd_poll_info {
    LARGE_INTEGER timeout;
    ULONG number_of_handles;
    ULONG exclusive;
    tofui_afd_poll_handle_info handles[1];
} tofui_afd_poll_info;

/* One socket's poll request: the status block and buffer the kernel writes
 * into. Lives inside a heap object that is freed only after the request's
 * completion was dequeued. */
typedef struct tofui_afd_poll {
    IO_STATUS_BLOCK iosb;
    tofui_afd_poll_info info;
} tofui_afd_poll;

/* Opens a new AFD handle and associates it with `port` under `key`.
 * Errors: TOFU_COMMUNICATION_FAILED. */
tofu_status tofui_afd_open(HANDLE port, ULONG_PTR key, HANDLE *out);

/* The base provider's socket under s (s itself without layered providers). */
tofu_status tofui_afd_base_socket(tofui_socket s, SOCKET *base);

/* Starts a poll of `base` for `events` on `afd`. True when a completion will
 * arrive on the port (even if the request already completed); false when it
 * failed at once (no completion will come: the socket is unusable). */
bool tofui_afd_poll_start(HANDLE afd, SOCKET base, ULONG events, tofui_afd_poll *op);

/* Asks the kernel to cancel a pending poll. Its completion still arrives (as
 * STATUS_CANCELLED, or with events if it had completed already). */
void tofui_afd_poll_cancel(HANDLE afd, tofui_afd_poll *op);

/* The completion status of a request. */
bool tofui_afd_poll_cancelled(const tofui_afd_poll *op);
bool tofui_afd_poll_failed(const tofui_afd_poll *op);

/* The event bits a completed poll reported (0 if none). */
ULONG tofui_afd_poll_events(const tofui_afd_poll *op);

#endif
