/*
 * tofucat: a command-line peer for libtofu (see tofucat(1)).
 *
 *   tofucat listen ADDRESS [--echo] [--max-messages N] [--format text|json|raw] [--quiet]
 *   tofucat connect ADDRESS [--data STR]... [--file PATH] [--signal] [--count N]
 *                   [--header NAME:VALUE]... [--format text|json|raw] [--timeout MS] [--retry MS]
 *                   [--abort | --bye-signal]
 */
#include <stdlib.h>

#if defined(_WIN32)
#include <windows.h>
#endif

#include "tofucat.h"

static int tc_main(int argc, char **argv) {
    tc_options opt;
    int rc = tc_parse_args(argc, argv, &opt);
    if (rc == TC_EXIT_OK) {
        switch (opt.command) {
        case TC_CMD_HELP:
            tc_print_help(stdout);
            break;
        case TC_CMD_VERSION:
            tc_print_version(stdout);
            break;
        case TC_CMD_LISTEN:
            if (opt.format == TC_FORMAT_RAW)
                tc_stdout_binary();
            rc = tc_listen(&opt);
            break;
        case TC_CMD_CONNECT:
            if (opt.format == TC_FORMAT_RAW)
                tc_stdout_binary();
            rc = tc_connect(&opt);
            break;
        }
    }
    tc_options_fini(&opt);
    return rc;
}

#if defined(_WIN32)
/* Windows gives main() its arguments in the ANSI code page, so "é" would be
 * sent as one byte (0xE9 in code page 1252) where POSIX sends its UTF-8. The
 * wide arguments, converted to UTF-8, make tofucat send the same bytes on
 * every platform. (MinGW-w64 links wmain with -municode.) */
int wmain(int argc, wchar_t **wargv);
int wmain(int argc, wchar_t **wargv) {
    char **argv = calloc((size_t)argc + 1, sizeof *argv);
    int rc = 1;
    int i = 0;
    for (; argv != NULL && i < argc; i++) {
        int n = WideCharToMultiByte(CP_UTF8, 0, wargv[i], -1, NULL, 0, NULL, NULL);
        argv[i] = n > 0 ? malloc((size_t)n) : NULL;
        if (argv[i] == NULL ||
            WideCharToMultiByte(CP_UTF8, 0, wargv[i], -1, argv[i], n, NULL, NULL) != n)
            break;
    }
    if (argv != NULL && i == argc)
        rc = tc_main(argc, argv);
    else
        fputs("tofucat: cannot convert the command line to UTF-8\n", stderr);
    for (int j = 0; argv != NULL && j < argc; j++)
        free(argv[j]);
    free(argv);
    return rc;
}
#else
int main(int argc, char **argv) {
    return tc_main(argc, argv);
}
#endif
