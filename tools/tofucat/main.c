/*
 * tofucat: a command-line peer for libtofu (see tofucat(1)).
 *
 *   tofucat listen ADDRESS [--echo] [--max-messages N] [--format text|json] [--quiet]
 *   tofucat connect ADDRESS [--data STR]... [--file PATH] [--signal] [--count N]
 *                   [--header NAME:VALUE]... [--format text|json] [--timeout MS] [--abort]
 */
#include "tofucat.h"

int main(int argc, char **argv) {
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
            rc = tc_listen(&opt);
            break;
        case TC_CMD_CONNECT:
            rc = tc_connect(&opt);
            break;
        }
    }
    tc_options_fini(&opt);
    return rc;
}
