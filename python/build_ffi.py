"""CFFI builder (API mode, out of line) for tofu._tofu.

The library is not linked from a system install: its sources are compiled
into the extension module, from this repository's src/ (the folder next to
this one), so that `pip install ./python` needs nothing but a C compiler and
the Python headers. The source list follows src/CMakeLists.txt: the message
layer, the engine, and the platform layer with this system's poller.
"""
import glob
import os
import sys

from cffi import FFI

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.environ.get("TOFU_SOURCE_DIR", os.path.dirname(HERE))
SRC = os.path.join(ROOT, "src")
INCLUDE = os.path.join(ROOT, "include")

if not os.path.isfile(os.path.join(INCLUDE, "tofu.h")):
    raise SystemExit(
        "tofu: the C sources were not found at %s; build from the libtofu "
        "repository (pip install ./python) or set TOFU_SOURCE_DIR" % ROOT)


def _sources():
    files = []
    for part in ("msg", "engine", "util"):
        files += sorted(glob.glob(os.path.join(SRC, part, "*.c")))
    # The platform layer as src/CMakeLists.txt picks it: every file of this
    # system's family (posix_*.c or win_*.c, so that a new one is never
    # missed), the shared ones, and the poller backend.
    plat = os.path.join(SRC, "platform")
    if sys.platform == "win32":
        family, poller = "win_*.c", "poller_afd.c"
    else:
        family = "posix_*.c"
        poller = "poller_epoll.c" if sys.platform.startswith("linux") else "poller_poll.c"
    files += sorted(glob.glob(os.path.join(plat, family)))
    files += [os.path.join(plat, n) for n in ("sock_addr.c", "sock_count.c", poller)]
    # setuptools wants paths relative to the setup script's folder.
    return [os.path.relpath(f, HERE) for f in files]


CDEF = r"""
typedef enum tofu_status {
    TOFU_SUCCESS = 0, TOFU_NOT_IMPLEMENTED_YET = 1, TOFU_WRONG_ADDRESS = 2,
    TOFU_NOT_ALLOWED = 3, TOFU_NULL_MESSAGE = 4, TOFU_INVALID_MESSAGE = 5,
    TOFU_INVALID_OP_CODE = 6, TOFU_INVALID_HEADERS_LEN = 7, TOFU_INVALID_BODY_LEN = 8,
    TOFU_INVALID_MORE_USAGE = 9, TOFU_INVALID_CHANNEL_NUMBER = 10,
    TOFU_INVALID_MCHN_GROUP = 11, TOFU_INVALID_MESSAGE_ID = 12, TOFU_INVALID_ADDRESS = 13,
    TOFU_UDS_PATH_NOT_FOUND = 14, TOFU_NOTIFICATION_DISABLED = 15,
    TOFU_NOTIFICATION_FAILED = 16, TOFU_PEER_DISCONNECTED = 17,
    TOFU_COMMUNICATION_FAILED = 18, TOFU_POOL_EMPTY = 19, TOFU_ALLOCATION_FAILED = 20,
    TOFU_RECEIVER_UPDATE = 21, TOFU_CHANNEL_CLOSED = 22, TOFU_SHUTDOWN_STARTED = 23,
    TOFU_CONNECT_FAILED = 24, TOFU_LISTEN_FAILED = 25, TOFU_ACCEPT_FAILED = 26,
    TOFU_SEND_FAILED = 27, TOFU_RECV_FAILED = 28, TOFU_SETSOCKOPT_FAILED = 29,
    TOFU_PROCESSING_FAILED = 30, TOFU_UNKNOWN_ERROR = 31
} tofu_status;

typedef struct tofu_msg tofu_msg;
typedef struct tofu_engine tofu_engine;
typedef struct tofu_group tofu_group;
typedef int... tofu_fd;

typedef struct tofu_bhdr {
    uint16_t channel;
    uint8_t opcode;
    uint8_t origin;
    bool more;
    bool internal_a;
    bool internal_b;
    uint8_t status;
    uint64_t message_id;
    uint16_t thl;
    uint16_t bl;
} tofu_bhdr;

typedef struct tofu_header {
    const char *name;
    size_t name_len;
    const char *value;
    size_t value_len;
} tofu_header;

typedef struct tofu_hdr_iter { ...; } tofu_hdr_iter;

typedef struct tofu_options {
    uint16_t initial_pool_msgs;
    uint16_t max_pool_msgs;
    uint32_t max_send_queue;
    uint32_t connect_timeout_ms;
    uint32_t handshake_timeout_ms;
    uint32_t bye_linger_ms;
    uint32_t request_timeout_ms;
    uint32_t frame_timeout_ms;
    uint32_t max_partial_bytes;
    ...;
} tofu_options;

typedef struct tofu_address { ...; } tofu_address;

#define TOFU_MAX_PART_LEN ...
#define TOFU_TIMEOUT_NONE ...
#define TOFU_ALWAYS ...

const char *tofu_status_name(tofu_status s);
const char *tofu_op_name(unsigned op);
tofu_status tofu_op_echo(unsigned op, uint8_t *out);

tofu_status tofu_msg_create(tofu_msg **out);
void tofu_msg_destroy(tofu_msg *m);
void tofu_msg_reset(tofu_msg *m);
tofu_status tofu_msg_clone(const tofu_msg *m, tofu_msg **out);
tofu_bhdr *tofu_msg_bhdr(tofu_msg *m);
void tofu_msg_set_timeout(tofu_msg *m, uint32_t ms);
bool tofu_msg_timeout(const tofu_msg *m, uint32_t *ms);
bool tofu_msg_late(const tofu_msg *m);
bool tofu_msg_timed_out(const tofu_msg *m);
tofu_status tofu_msg_add_header_n(tofu_msg *m, const char *name, size_t name_len,
                                  const char *value, size_t value_len);
tofu_status tofu_msg_append_headers_raw(tofu_msg *m, const void *data, size_t len);
const char *tofu_msg_headers(const tofu_msg *m, size_t *len);
void tofu_msg_clear_headers(tofu_msg *m);
tofu_status tofu_msg_append_body(tofu_msg *m, const void *data, size_t len);
const void *tofu_msg_body(const tofu_msg *m, size_t *len);
void tofu_msg_clear_body(tofu_msg *m);
void tofu_msg_hdr_iter(const tofu_msg *m, tofu_hdr_iter *it);
bool tofu_hdr_iter_next(tofu_hdr_iter *it, tofu_header *out);
bool tofu_msg_find_header(const tofu_msg *m, const char *name, tofu_header *out);
uint64_t tofu_live_messages(void);
uint64_t tofu_open_sockets(void);

tofu_status tofu_address_parse(const char *value, size_t len, tofu_address *out);
tofu_status tofu_msg_connect(tofu_msg *m, const tofu_address *a);
tofu_status tofu_msg_listen(tofu_msg *m, const tofu_address *a);

void tofu_options_init(tofu_options *opt);
tofu_status tofu_engine_create(const tofu_options *opt, tofu_engine **out);
void tofu_engine_destroy(tofu_engine *e);
tofu_msg *tofu_get(tofu_engine *e, int strategy);
void tofu_put(tofu_engine *e, tofu_msg **m);
tofu_status tofu_group_create(tofu_engine *e, tofu_group **out);
tofu_status tofu_group_destroy(tofu_engine *e, tofu_group *g);
tofu_status tofu_post(tofu_group *g, tofu_msg **m, tofu_bhdr *out);
tofu_status tofu_wait_receive(tofu_group *g, uint64_t timeout_ns, tofu_msg **out);
tofu_status tofu_update_receiver(tofu_group *g, tofu_msg **m);
tofu_status tofu_group_fd(tofu_group *g, tofu_fd *out);
tofu_status tofu_try_receive(tofu_group *g, tofu_msg **out);
tofu_status tofu_receive_many(tofu_group *g, uint64_t timeout_ns, tofu_msg **out,
                              size_t cap, size_t *n);

uintptr_t tofu_py_api_address(void);
"""

# tofu_op_echo and tofu_get take enums in C; the wrappers give them plain
# integer types so that the cdef above needs no enum for them.
PRELUDE = r"""
#include "tofu.h"
#include "tofu_py_api.h"
static tofu_status tofu_op_echo_u8(unsigned op, uint8_t *out) {
    tofu_opcode r;
    tofu_status st = tofu_op_echo(op, &r);
    if (st == TOFU_SUCCESS) *out = (uint8_t)r;
    return st;
}
static tofu_msg *tofu_get_i(tofu_engine *e, int strategy) {
    return tofu_get(e, (tofu_alloc)strategy);
}
/* The calls the hand-written extension tofu._speed makes (csrc/speed.c),
 * into this module's one copy of the library (csrc/tofu_py_api.h). */
static const tofu_py_api tofu_py_api_table = {
    TOFU_PY_API_VERSION, tofu_get, tofu_put, tofu_msg_destroy, tofu_msg_bhdr,
    tofu_msg_append_body, tofu_msg_body, tofu_msg_clear_body, tofu_post, tofu_receive_many,
};
static uintptr_t tofu_py_api_address(void) {
    return (uintptr_t)&tofu_py_api_table;
}
#define tofu_op_echo tofu_op_echo_u8
#define tofu_get tofu_get_i
"""

ffibuilder = FFI()
ffibuilder.cdef(CDEF)

_macros = []
_libs = []
_args = []
if sys.platform == "win32":
    _macros += [("TOFU_STATIC", None), ("_WIN32_WINNT", "0x0A00"), ("NTDDI_VERSION", "0x0A000005")]
    _libs += ["ws2_32", "ntdll", "mswsock"]
else:
    _args += ["-std=gnu11", "-O2", "-fvisibility=hidden", "-pthread"]
    _libs += ["pthread"]

ffibuilder.set_source(
    "tofu._tofu",
    PRELUDE,
    sources=_sources(),
    include_dirs=[INCLUDE, SRC, os.path.join(HERE, "csrc")],
    define_macros=_macros,
    libraries=_libs,
    extra_compile_args=_args,
    extra_link_args=["-pthread"] if sys.platform != "win32" else [],
)

if __name__ == "__main__":
    ffibuilder.compile(verbose=True)
