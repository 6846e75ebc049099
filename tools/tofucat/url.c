/*
 * ADDRESS URLs <-> tofu addresses. Users type URLs (tcp://host:port,
 * uds:///path); the engine speaks tofu address values (tcp|host|port,
 * uds|path). The URL is only taken apart here; the library's strict parser
 * checks the result, so tofucat accepts exactly what the engine accepts.
 */
#include <string.h>

#include "tofucat.h"

/* "tcp|" + host + "|" + port, or "uds|@" + path, plus NUL. */
#define URL_VALUE_MAX (4 + TOFU_MAX_HOST_LEN + 1 + 5 + 1)

static bool url__digits(const char *s) {
    if (*s == '\0' || strlen(s) > 5)
        return false;
    for (; *s != '\0'; s++)
        if (*s < '0' || *s > '9')
            return false;
    return true;
}

/* Splits "HOST:PORT" or "[V6]:PORT" into host (without brackets) and port
 * text. */
static bool url__split_host_port(const char *s, const char **host, size_t *host_len,
                                 const char **port, const char **why) {
    const char *colon;
    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (close == NULL || close[1] != ':') {
            *why = "expected [IPV6]:PORT";
            return false;
        }
        *host = s + 1;
        *host_len = (size_t)(close - s - 1);
        colon = close + 1;
        if (memchr(*host, ':', *host_len) == NULL) {
            *why = "brackets are for IPv6 addresses";
            return false;
        }
    } else {
        colon = strchr(s, ':');
        if (colon == NULL) {
            *why = "expected HOST:PORT";
            return false;
        }
        if (strchr(colon + 1, ':') != NULL) {
            *why = "an IPv6 address goes in brackets: tcp://[::1]:PORT";
            return false;
        }
        *host = s;
        *host_len = (size_t)(colon - s);
    }
    *port = colon + 1;
    if (!url__digits(*port)) {
        *why = "PORT must be a number 0..65535";
        return false;
    }
    return true;
}

/* Builds the tofu value "tcp|host|port" from what follows "tcp://". */
static bool url__tcp_value(const char *rest, char *value, const char **why) {
    const char *host, *port;
    size_t host_len;
    if (!url__split_host_port(rest, &host, &host_len, &port, why))
        return false;
    if (host_len > TOFU_MAX_HOST_LEN) {
        *why = "host name too long";
        return false;
    }
    memcpy(value, "tcp|", 4);
    memcpy(value + 4, host, host_len);
    value[4 + host_len] = '|';
    strcpy(value + 5 + host_len, port);
    return true;
}

/* Builds "uds|/path" or "uds|@name" from what follows "uds://". */
static bool url__uds_value(const char *rest, char *value, const char **why) {
    if (rest[0] != '/' && rest[0] != '@') {
        *why = "expected uds:///absolute/path or uds://@name";
        return false;
    }
    if (rest[0] == '@' && !tofu_uds_abstract_supported()) {
        *why = "abstract socket names exist on Linux only";
        return false;
    }
    if (strlen(rest) > tofu_uds_path_max() + (rest[0] == '@' ? 1u : 0u)) {
        /* The limit is the system's (sun_path): say it. Parsing happens
         * once, before any thread starts. */
        static char too_long[64];
        snprintf(too_long, sizeof too_long, "the path is too long: at most %llu bytes",
                 (unsigned long long)tofu_uds_path_max());
        *why = too_long;
        return false;
    }
    memcpy(value, "uds|", 4);
    strcpy(value + 4, rest);
    return true;
}

/* Checks what only matters for one direction. */
static bool url__check_use(const tofu_address *a, bool for_listen, const char **why) {
    if (for_listen || a->transport != TOFU_TRANSPORT_TCP)
        return true;
    if (a->host[0] == '\0') {
        *why = "connect needs a HOST";
        return false;
    }
    if (a->port == 0) {
        *why = "connect needs a PORT other than 0";
        return false;
    }
    return true;
}

bool tc_url_parse(const char *url, bool for_listen, tofu_address *out, const char **why) {
    char value[URL_VALUE_MAX + 8];
    const char *src = value;
    *why = "expected tcp://HOST:PORT, tcp://[IPV6]:PORT, uds:///path or uds://@name";
    if (strlen(url) >= sizeof value) {
        *why = "address too long";
        return false;
    }
    if (strncmp(url, "tcp://", 6) == 0) {
        if (!url__tcp_value(url + 6, value, why))
            return false;
    } else if (strncmp(url, "uds://", 6) == 0) {
        if (!url__uds_value(url + 6, value, why))
            return false;
    } else if (strncmp(url, "tcp|", 4) == 0 || strncmp(url, "uds|", 4) == 0) {
        src = url; /* the original tofu's notation, as written in headers */
    } else {
        return false;
    }
    if (tofu_address_parse(src, strlen(src), out) != TOFU_SUCCESS) {
        *why = "not a valid tofu address";
        return false;
    }
    return url__check_use(out, for_listen, why);
}

bool tc_url_format(const tofu_address *a, char *buf, size_t cap) {
    int n;
    if (a->transport == TOFU_TRANSPORT_TCP) {
        bool v6 = strchr(a->host, ':') != NULL;
        n = snprintf(buf, cap, v6 ? "tcp://[%s]:%u" : "tcp://%s:%u", a->host, (unsigned)a->port);
    } else {
        /* A relative path (possible in the tofu notation) has no URL form. */
        const char *fmt = a->abstract ? "uds://@%s" : a->path[0] == '/' ? "uds://%s" : "uds|%s";
        n = snprintf(buf, cap, fmt, a->path);
    }
    return n > 0 && (size_t)n < cap;
}
