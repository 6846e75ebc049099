/*
 * Replays fuzz inputs without libFuzzer: runs LLVMFuzzerTestOneInput on the
 * contents of every file named on the command line. Each input is copied into
 * a heap block of exactly its size, so sanitizers catch reads past its end as
 * they would under libFuzzer. Exit 0 when every input ran (a violated
 * invariant aborts).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Reads a whole file; *size receives its length. NULL on error. */
static uint8_t *replay__read_file(const char *path, size_t *size) {
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    uint8_t *buf = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len == cap) {
            cap = cap ? cap * 2 : 4096;
            uint8_t *grown = realloc(buf, cap);
            if (grown == NULL)
                break;
            buf = grown;
        }
        size_t got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (got == 0)
            break;
    }
    bool ok = !ferror(f);
    fclose(f);
    if (!ok || buf == NULL) {
        free(buf);
        return NULL;
    }
    *size = len;
    return buf;
}

/* An exact-size copy (at least one byte allocated, for empty inputs). */
static uint8_t *replay__exact_copy(const uint8_t *src, size_t size) {
    uint8_t *p = malloc(size ? size : 1);
    if (p != NULL && size > 0)
        memcpy(p, src, size);
    return p;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s FILE...\n", argv[0]);
        return 2;
    }
    for (int i = 1; i < argc; i++) {
        size_t size = 0;
        uint8_t *buf = replay__read_file(argv[i], &size);
        uint8_t *exact = buf ? replay__exact_copy(buf, size) : NULL;
        free(buf);
        if (exact == NULL) {
            fprintf(stderr, "cannot read %s\n", argv[i]);
            return 2;
        }
        LLVMFuzzerTestOneInput(exact, size);
        free(exact);
        printf("ok %s (%zu bytes)\n", argv[i], size);
    }
    return 0;
}
