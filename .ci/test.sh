#!/usr/bin/env bash
# Runs the whole libtofu test suite: installs what is missing (Debian 12),
# builds with gcc in ./build and runs every CTest entry.
# Extra arguments go to cmake (e.g. -DTOFU_POLLER=poll).
set -euo pipefail
cd "$(dirname "$0")/.."
.ci/deps.sh
BUILD_DIR=${BUILD_DIR:-build}
cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@"
cmake --build "$BUILD_DIR" -j"$(nproc)"
ctest --test-dir "$BUILD_DIR" -j"$(( $(nproc) * 2 ))" --output-on-failure --timeout 600
