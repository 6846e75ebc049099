/*
 * The library's version at run time (tofu.h): what the program was linked
 * with, which may differ from the TOFU_VERSION_* macros it was compiled
 * against (a shared library upgraded underneath it).
 */
#include "tofu.h"

const char *tofu_version(void) {
    return TOFU_VERSION_STRING;
}

unsigned tofu_version_number(void) {
    return TOFU_VERSION_MAJOR * 10000u + TOFU_VERSION_MINOR * 100u + TOFU_VERSION_PATCH;
}
