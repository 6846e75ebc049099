/*
 * Fuzz target: address parsing and formatting (SPEC §5.8, DESIGN "Addresses").
 *
 * Whatever parses must be well formed, format to a value that parses back to
 * the same address and formats to the same bytes again, and survive the trip
 * through a message's ~connect_to / ~listen_on header. A refused value leaves
 * the output alone. The input as a C string also goes through the
 * tofu_msg_*_tcp/uds helpers. Violations abort().
 */
#include <stdlib.h>
#include <string.h>

#include "msg/msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c)                                                                    \
    do {                                                                            \
        if (!(c))                                                                   \
            abort();                                                                \
    } while (0)

/* Large enough for any formatted value ("tcp|" + 255 + "|65535"). */
#define VALUE_CAP 512

static bool address__same(const tofu_address *a, const tofu_address *b) {
    if (a->transport != b->transport)
        return false;
    if (a->transport == TOFU_TRANSPORT_TCP)
        return strcmp(a->host, b->host) == 0 && a->port == b->port;
    return a->abstract == b->abstract && strcmp(a->path, b->path) == 0;
}

/* Length of the NUL-terminated string in a fixed array; cap if none. */
static size_t address__field_len(const char *s, size_t cap) {
    const char *nul = memchr(s, '\0', cap);
    return nul == NULL ? cap : (size_t)(nul - s);
}

static void address__check_shape(const tofu_address *a) {
    if (a->transport == TOFU_TRANSPORT_TCP) {
        size_t n = address__field_len(a->host, sizeof a->host);
        CHECK(n <= TOFU_MAX_HOST_LEN && memchr(a->host, '|', n) == NULL);
        return;
    }
    CHECK(a->transport == TOFU_TRANSPORT_UDS);
    size_t n = address__field_len(a->path, sizeof a->path);
    CHECK(n > 0 && n < sizeof a->path && n <= tofu_uds_path_max());
}

/* format → parse → format gives the same address and the same bytes; a
 * buffer one byte short is refused. */
static void address__check_format(const tofu_address *a) {
    char v[VALUE_CAP], w[VALUE_CAP];
    size_t vn = 0, wn = 0;
    CHECK(tofu_address_format(a, v, sizeof v, &vn) == TOFU_SUCCESS);
    CHECK(vn == strlen(v));
    CHECK(tofu_address_format(a, w, vn, NULL) == TOFU_NOT_ALLOWED);
    tofu_address b;
    CHECK(tofu_address_parse(v, vn, &b) == TOFU_SUCCESS);
    CHECK(address__same(a, &b));
    CHECK(tofu_address_format(&b, w, sizeof w, &wn) == TOFU_SUCCESS);
    CHECK(wn == vn && memcmp(v, w, vn) == 0);
}

/* The address written into a message by connect/listen reads back equal. */
static void address__check_message(const tofu_address *a, bool listen) {
    tofu_msg *m = NULL;
    if (tofu_msg_create(&m) != TOFU_SUCCESS)
        return;
    tofu_status st = listen ? tofu_msg_listen(m, a) : tofu_msg_connect(m, a);
    if (st == TOFU_SUCCESS) {
        tofu_header h;
        CHECK(tofu_msg_find_header(m, listen ? TOFU_HDR_LISTEN_ON : TOFU_HDR_CONNECT_TO, &h));
        tofu_address b;
        CHECK(tofu_address_parse(h.value, h.value_len, &b) == TOFU_SUCCESS);
        CHECK(address__same(a, &b));
        CHECK(m->bhdr.opcode == (listen ? TOFU_OP_WELCOME_REQUEST : TOFU_OP_HELLO_REQUEST));
    } else {
        CHECK(m->thdrs.len == 0); /* unchanged on error */
    }
    tofu_msg_destroy(m);
}

static void address__fuzz_parse(const uint8_t *data, size_t size) {
    tofu_address a, untouched;
    memset(&a, 0xA5, sizeof a);
    memcpy(&untouched, &a, sizeof a);
    if (tofu_address_parse((const char *)data, size, &a) != TOFU_SUCCESS) {
        CHECK(memcmp(&a, &untouched, sizeof a) == 0);
        return;
    }
    address__check_shape(&a);
    address__check_format(&a);
    address__check_message(&a, false);
    address__check_message(&a, true);
}

/* The input as one C string (up to its first NUL) for the string helpers. */
static void address__fuzz_helpers(const uint8_t *data, size_t size) {
    char *s = malloc(size + 1);
    tofu_msg *m = NULL;
    CHECK(s != NULL);
    memcpy(s, data, size);
    s[size] = '\0';
    if (tofu_msg_create(&m) == TOFU_SUCCESS) {
        uint16_t port = size >= 2 ? (uint16_t)(data[0] << 8 | data[1]) : 0;
        tofu_msg_connect_tcp(m, s, port);
        tofu_msg_listen_tcp(m, s, port);
        tofu_msg_connect_uds(m, s);
        tofu_msg_listen_uds(m, s);
        /* Whatever was added must read as addresses again. */
        tofu_hdr_iter it;
        tofu_header h;
        tofu_msg_hdr_iter(m, &it);
        while (tofu_hdr_iter_next(&it, &h)) {
            tofu_address a;
            CHECK(tofu_address_parse(h.value, h.value_len, &a) == TOFU_SUCCESS);
        }
        tofu_msg_destroy(m);
    }
    free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    address__fuzz_parse(data, size);
    address__fuzz_helpers(data, size);
    return 0;
}
