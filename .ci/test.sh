#!/usr/bin/env bash
# Runs the whole libtofu test suite: installs what is missing (Debian 12),
# builds with gcc in ./build and runs every CTest entry, then installs the
# Python package (pip install ./python into a venv under the build dir) and
# runs its tests.
# Extra arguments go to cmake (e.g. -DTOFU_POLLER=poll).
set -euo pipefail
cd "$(dirname "$0")/.."
.ci/deps.sh
BUILD_DIR=${BUILD_DIR:-build}
cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@"
cmake --build "$BUILD_DIR" -j"$(nproc)"
if ! ctest --test-dir "$BUILD_DIR" -j"$(( $(nproc) * 2 ))" --output-on-failure --timeout 600; then
  .ci/digest.sh "$BUILD_DIR/Testing/Temporary/LastTest.log"
  exit 1
fi
# The Python package (python/README.md): pip builds it (the C library from
# this tree) into a venv under the build dir; then its pytest suite, which
# also drives this build's tofucat.
PYVENV="$BUILD_DIR/pyvenv"
python3 -m venv "$PYVENV"
"$PYVENV/bin/pip" install -q "./python[test]"
TOFUCAT="$(cd "$BUILD_DIR" && pwd)/tools/tofucat/tofucat" "$PYVENV/bin/python" -m pytest -q python/tests
