/*
 * The \Device\Afd handle, IOCTL_AFD_POLL requests and their cancellation
 * (win_afd.h). See win_afd.h for the facts this relies on.
 */
#include "platform/win_afd.h"

#include <mswsock.h>
#include <string.h>

#define WIN_AFD__IOCTL_POLL 0x00012024u
#define WIN_AFD__STATUS_PENDING ((NTSTATUS)0x00000103L)
#define WIN_AFD__STATUS_CANCELLED ((NTSTATUS)0xC0000120L)

/* Any name under \Device\Afd opens the driver; the suffix only labels the
 * handle in debugging tools. */
#define WIN_AFD__DEVICE_PATH L"\\Device\\Afd\\Tofu"

/* ---- ntdll entry points, resolved once ---- */

typedef NTSTATUS(NTAPI *win_afd__create_file_fn)(PHANDLE, ACCESS_MASK, POBJECT_ATTRIBUTES,
                                                 PIO_STATUS_BLOCK, PLARGE_INTEGER, ULONG, ULONG,
                                                 ULONG, ULONG, PVOID, ULONG);
typedef NTSTATUS(NTAPI *win_afd__ioctl_fn)(HANDLE, HANDLE, PIO_APC_ROUTINE, PVOID,
                                           PIO_STATUS_BLOCK, ULONG, PVOID, ULONG, PVOID, ULONG);
typedef NTSTATUS(NTAPI *win_afd__cancel_fn)(HANDLE, PIO_STATUS_BLOCK, PIO_STATUS_BLOCK);

static struct {
    win_afd__create_file_fn create_file;
    win_afd__ioctl_fn ioctl;
    win_afd__cancel_fn cancel;
} win_afd__nt;

static INIT_ONCE win_afd__nt_once = INIT_ONCE_STATIC_INIT;

/* GetProcAddress returns a generic FARPROC; going through void (*)(void), the
 * one function type every other converts to without a warning, is the
 * documented way to reach the real prototype. */
typedef void (*win_afd__any_fn)(void);

static win_afd__any_fn win_afd__lookup(HMODULE ntdll, const char *name) {
    return (win_afd__any_fn)GetProcAddress(ntdll, name);
}

static BOOL CALLBACK win_afd__load(PINIT_ONCE once, PVOID param, PVOID *ctx) {
    (void)once, (void)param, (void)ctx;
    HMODULE ntdll = GetModuleHandleW(L"ntdll.dll");
    if (ntdll == NULL)
        return FALSE;
    win_afd__nt.create_file = (win_afd__create_file_fn)win_afd__lookup(ntdll, "NtCreateFile");
    win_afd__nt.ioctl = (win_afd__ioctl_fn)win_afd__lookup(ntdll, "NtDeviceIoControlFile");
    win_afd__nt.cancel = (win_afd__cancel_fn)win_afd__lookup(ntdll, "NtCancelIoFileEx");
    return win_afd__nt.create_file != NULL && win_afd__nt.ioctl != NULL &&
           win_afd__nt.cancel != NULL;
}

static bool win_afd__loaded(void) {
    return InitOnceExecuteOnce(&win_afd__nt_once, win_afd__load, NULL, NULL) != FALSE;
}

/* ---- the AFD handle ---- */

static NTSTATUS win_afd__create(HANDLE *out) {
    static const WCHAR path[] = WIN_AFD__DEVICE_PATH;
    UNICODE_STRING name = {(USHORT)(sizeof path - sizeof(WCHAR)), (USHORT)sizeof path,
                           (PWSTR)path};
    OBJECT_ATTRIBUTES attr;
    memset(&attr, 0, sizeof attr);
    attr.Length = sizeof attr;
    attr.ObjectName = &name;
    IO_STATUS_BLOCK iosb;
    /* SYNCHRONIZE only: the handle is used for device I/O control, never to
     * read or write; sharing both ways lets every poller open its own. */
    return win_afd__nt.create_file(out, SYNCHRONIZE, &attr, &iosb, NULL, 0,
                                   FILE_SHARE_READ | FILE_SHARE_WRITE, FILE_OPEN, 0, NULL, 0);
}

tofu_status tofui_afd_open(HANDLE port, ULONG_PTR key, HANDLE *out) {
    HANDLE h;
    if (!win_afd__loaded() || win_afd__create(&h) != 0)
        return TOFU_COMMUNICATION_FAILED;
    if (CreateIoCompletionPort(h, port, key, 0) == NULL) {
        CloseHandle(h);
        return TOFU_COMMUNICATION_FAILED;
    }
    /* Completions are taken from the port only: signalling the handle as an
     * event on every completion would be wasted work. Best effort. */
    SetFileCompletionNotificationModes(h, FILE_SKIP_SET_EVENT_ON_HANDLE);
    *out = h;
    return TOFU_SUCCESS;
}

/* ---- base socket ---- */

static bool win_afd__ioctl_socket(SOCKET s, DWORD code, SOCKET *out) {
    DWORD got = 0;
    return WSAIoctl(s, code, NULL, 0, out, sizeof *out, &got, NULL, NULL) != SOCKET_ERROR &&
           got == sizeof *out;
}

tofu_status tofui_afd_base_socket(tofui_socket s, SOCKET *base) {
    /* Some layered providers refuse SIO_BASE_HANDLE but answer the
     * provider-specific poll query, which gives the same base socket. */
    if (win_afd__ioctl_socket((SOCKET)s, SIO_BASE_HANDLE, base) ||
        win_afd__ioctl_socket((SOCKET)s, SIO_BSP_HANDLE_POLL, base))
        return TOFU_SUCCESS;
    return TOFU_COMMUNICATION_FAILED;
}

/* ---- poll requests ---- */

bool tofui_afd_poll_start(HANDLE afd, SOCKET base, ULONG events, tofui_afd_poll *op) {
    /* No timeout: the request waits until an event or a cancellation. */
    op->info.timeout.QuadPart = INT64_MAX;
    op->info.number_of_handles = 1;
    op->info.exclusive = FALSE;
    op->info.handles[0].handle = (HANDLE)base;
    op->info.handles[0].events = events;
    op->info.handles[0].status = 0;
    op->iosb.Status = WIN_AFD__STATUS_PENDING;
    /* ApcContext (here the request itself) comes back as the completion
     * packet's lpOverlapped: that is how a completion finds its socket. */
    NTSTATUS st = win_afd__nt.ioctl(afd, NULL, NULL, op, &op->iosb, WIN_AFD__IOCTL_POLL,
                                    &op->info, sizeof op->info, &op->info, sizeof op->info);
    /* Success and pending both queue a completion packet (the handle does
     * not skip the port on success); an error status means the request was
     * refused and nothing will be queued. */
    return st == WIN_AFD__STATUS_PENDING || NT_SUCCESS(st);
}

void tofui_afd_poll_cancel(HANDLE afd, tofui_afd_poll *op) {
    IO_STATUS_BLOCK cancel_iosb;
    /* STATUS_NOT_FOUND means the request completed already: its packet is
     * on the port either way, so the result needs no handling. */
    (void)win_afd__nt.cancel(afd, &op->iosb, &cancel_iosb);
}

bool tofui_afd_poll_cancelled(const tofui_afd_poll *op) {
    return op->iosb.Status == WIN_AFD__STATUS_CANCELLED;
}

bool tofui_afd_poll_failed(const tofui_afd_poll *op) {
    return !NT_SUCCESS(op->iosb.Status);
}

ULONG tofui_afd_poll_events(const tofui_afd_poll *op) {
    if (op->info.number_of_handles < 1)
        return 0;
    return op->info.handles[0].events;
}
