/* Addresses (SPEC §5.8 with DESIGN.md "Addresses"): strict parsing and
 * formatting of "tcp|host|port", "uds|path" and "uds|@name", and the helpers
 * that turn a message into a HelloRequest or WelcomeRequest. Nothing is ever
 * truncated: a value that does not fit is invalid. */
#include <string.h>

#include "msg/msg.h"

/* "tcp|" + host + "|" + 5 digits, or "uds|@" + path, plus NUL. */
#define ADDRESS_VALUE_MAX (4 + TOFU_MAX_HOST_LEN + 1 + 5 + 1)

/* ---- validation shared by parse, format and the helpers ---- */

/* Host names and literals never contain spaces or control bytes; '|' would
 * split the value. An empty host is allowed here (listen on any interface). */
static bool address__host_ok(const char *host, size_t n) {
    if (n > TOFU_MAX_HOST_LEN)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)host[i];
        if (c <= 0x20 || c == 0x7F || c == '|')
            return false;
    }
    return true;
}

/* A UDS path or abstract name travels as a header value: CR, LF or NUL would
 * break the header, and the reader trims trailing spaces and TABs off values,
 * so such a path would silently become another one. */
static bool address__path_ok(const char *path, size_t n) {
    if (n == 0 || n > tofu_uds_path_max() || n >= TOFU_UDS_PATH_BUF)
        return false;
    if (memchr(path, '\0', n) != NULL || memchr(path, '\r', n) != NULL ||
        memchr(path, '\n', n) != NULL)
        return false;
    return path[n - 1] != ' ' && path[n - 1] != '\t';
}

/* Decimal digits only (no sign, no spaces), 0..65535, at least one digit.
 * Leading zeros are accepted as the original's integer parser does. */
static bool address__parse_port(const char *s, size_t n, uint16_t *out) {
    if (n == 0)
        return false;
    uint32_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (uint32_t)(s[i] - '0');
        if (v > 65535)
            return false;
    }
    *out = (uint16_t)v;
    return true;
}

/* ---- parsing ---- */

/* `s` is everything after "uds|": a path, or "@name" for the abstract
 * namespace. A further '|' makes it a three-part value, which is not UDS. */
static tofu_status address__parse_uds(const char *s, size_t n, tofu_address *a) {
    bool abstract = n > 0 && s[0] == '@';
    if (abstract) {
        if (!tofu_uds_abstract_supported())
            return TOFU_INVALID_ADDRESS;
        s++;
        n--;
    }
    if (!address__path_ok(s, n) || memchr(s, '|', n) != NULL)
        return TOFU_INVALID_ADDRESS;
    a->transport = TOFU_TRANSPORT_UDS;
    a->abstract = abstract;
    memcpy(a->path, s, n);
    a->path[n] = '\0';
    return TOFU_SUCCESS;
}

/* `s` is everything after "tcp|": host '|' port. */
static tofu_status address__parse_tcp(const char *s, size_t n, tofu_address *a) {
    const char *bar = memchr(s, '|', n);
    if (bar == NULL)
        return TOFU_INVALID_ADDRESS;
    size_t host_len = (size_t)(bar - s);
    if (!address__host_ok(s, host_len))
        return TOFU_INVALID_ADDRESS;
    /* A fourth part would leave a '|' in the port, which is not a digit. */
    if (!address__parse_port(bar + 1, n - host_len - 1, &a->port))
        return TOFU_INVALID_ADDRESS;
    a->transport = TOFU_TRANSPORT_TCP;
    memcpy(a->host, s, host_len);
    a->host[host_len] = '\0';
    return TOFU_SUCCESS;
}

static bool address__has_prefix(const char *s, size_t n, const char *prefix) {
    size_t p = strlen(prefix);
    return n >= p && memcmp(s, prefix, p) == 0;
}

tofu_status tofu_address_parse(const char *value, size_t len, tofu_address *out) {
    if (value == NULL || out == NULL)
        return TOFU_INVALID_ADDRESS;
    tofu_address a;
    memset(&a, 0, sizeof a);
    tofu_status st = TOFU_INVALID_ADDRESS;
    if (address__has_prefix(value, len, "tcp|"))
        st = address__parse_tcp(value + 4, len - 4, &a);
    else if (address__has_prefix(value, len, "uds|"))
        st = address__parse_uds(value + 4, len - 4, &a);
    if (st == TOFU_SUCCESS)
        *out = a; /* *out is left alone on error */
    return st;
}

/* ---- formatting ---- */

/* Length of a NUL-terminated string stored in a fixed array, or `cap` when
 * the array holds no NUL (then the address is invalid). */
static size_t address__field_len(const char *s, size_t cap) {
    const char *nul = memchr(s, '\0', cap);
    return nul == NULL ? cap : (size_t)(nul - s);
}

static bool address__valid(const tofu_address *a) {
    if (a->transport == TOFU_TRANSPORT_TCP) {
        size_t n = address__field_len(a->host, sizeof a->host);
        return n < sizeof a->host && address__host_ok(a->host, n);
    }
    if (a->transport != TOFU_TRANSPORT_UDS)
        return false;
    if (a->abstract && !tofu_uds_abstract_supported())
        return false;
    size_t n = address__field_len(a->path, sizeof a->path);
    return n < sizeof a->path && address__path_ok(a->path, n) &&
           memchr(a->path, '|', n) == NULL;
}

/* Writes the value of a valid address into v (ADDRESS_VALUE_MAX bytes);
 * returns its length. */
static size_t address__render(const tofu_address *a, char *v) {
    size_t n = 0;
    if (a->transport == TOFU_TRANSPORT_TCP) {
        memcpy(v, "tcp|", 4);
        n = 4 + address__field_len(a->host, sizeof a->host);
        memcpy(v + 4, a->host, n - 4);
        char digits[6];
        size_t d = 0;
        unsigned port = a->port;
        do {
            digits[d++] = (char)('0' + port % 10);
            port /= 10;
        } while (port != 0);
        v[n++] = '|';
        while (d > 0)
            v[n++] = digits[--d];
    } else {
        memcpy(v, a->abstract ? "uds|@" : "uds|", a->abstract ? 5 : 4);
        n = a->abstract ? 5 : 4;
        size_t p = address__field_len(a->path, sizeof a->path);
        memcpy(v + n, a->path, p);
        n += p;
    }
    v[n] = '\0';
    return n;
}

tofu_status tofu_address_format(const tofu_address *a, char *buf, size_t cap, size_t *len) {
    if (a == NULL || !address__valid(a))
        return TOFU_INVALID_ADDRESS;
    char v[ADDRESS_VALUE_MAX];
    size_t n = address__render(a, v);
    if (buf == NULL || cap <= n)
        return TOFU_NOT_ALLOWED;
    memcpy(buf, v, n + 1);
    if (len != NULL)
        *len = n;
    return TOFU_SUCCESS;
}

/* ---- message helpers ---- */

/* Appends the address header first, then replaces the binary header: if the
 * append fails, the message has not changed at all. */
static tofu_status address__apply(tofu_msg *m, const tofu_address *a, const char *hdr_name,
                                  tofu_opcode op) {
    if (!address__valid(a))
        return TOFU_INVALID_ADDRESS;
    char v[ADDRESS_VALUE_MAX];
    size_t n = address__render(a, v);
    tofu_status st = tofu_msg_add_header_n(m, hdr_name, strlen(hdr_name), v, n);
    if (st != TOFU_SUCCESS)
        return st;
    memset(&m->bhdr, 0, sizeof m->bhdr);
    m->bhdr.opcode = (uint8_t)op;
    return TOFU_SUCCESS;
}

tofu_status tofu_msg_connect(tofu_msg *m, const tofu_address *a) {
    if (a == NULL)
        return TOFU_WRONG_ADDRESS;
    /* "Any interface" and "any port" only make sense for a listener. */
    if (a->transport == TOFU_TRANSPORT_TCP && (a->host[0] == '\0' || a->port == 0))
        return TOFU_WRONG_ADDRESS;
    return address__apply(m, a, TOFU_HDR_CONNECT_TO, TOFU_OP_HELLO_REQUEST);
}

tofu_status tofu_msg_listen(tofu_msg *m, const tofu_address *a) {
    if (a == NULL)
        return TOFU_WRONG_ADDRESS;
    return address__apply(m, a, TOFU_HDR_LISTEN_ON, TOFU_OP_WELCOME_REQUEST);
}

static tofu_status address__tcp(tofu_address *a, const char *host, uint16_t port) {
    size_t n = strlen(host);
    if (!address__host_ok(host, n))
        return TOFU_INVALID_ADDRESS;
    memset(a, 0, sizeof *a);
    a->transport = TOFU_TRANSPORT_TCP;
    memcpy(a->host, host, n + 1);
    a->port = port;
    return TOFU_SUCCESS;
}

static tofu_status address__uds(tofu_address *a, const char *path) {
    if (path == NULL || path[0] == '\0')
        return TOFU_WRONG_ADDRESS;
    memset(a, 0, sizeof *a);
    return address__parse_uds(path, strlen(path), a);
}

tofu_status tofu_msg_connect_tcp(tofu_msg *m, const char *host, uint16_t port) {
    if (host != NULL && host[0] == '\0')
        return TOFU_WRONG_ADDRESS;
    tofu_address a;
    tofu_status st = address__tcp(&a, host == NULL ? TOFU_DEFAULT_HOST : host,
                                  port == 0 ? TOFU_DEFAULT_PORT : port);
    return st != TOFU_SUCCESS ? st : tofu_msg_connect(m, &a);
}

tofu_status tofu_msg_listen_tcp(tofu_msg *m, const char *host, uint16_t port) {
    tofu_address a;
    tofu_status st = address__tcp(&a, host == NULL ? "" : host, port);
    return st != TOFU_SUCCESS ? st : tofu_msg_listen(m, &a);
}

tofu_status tofu_msg_connect_uds(tofu_msg *m, const char *path) {
    tofu_address a;
    tofu_status st = address__uds(&a, path);
    return st != TOFU_SUCCESS ? st : tofu_msg_connect(m, &a);
}

tofu_status tofu_msg_listen_uds(tofu_msg *m, const char *path) {
    tofu_address a;
    tofu_status st = address__uds(&a, path);
    return st != TOFU_SUCCESS ? st : tofu_msg_listen(m, &a);
}
