#!/usr/bin/env bash
# The Windows build: cross-compiles libtofu and its tests with MinGW-w64 and
# runs the whole CTest suite under Wine (shared/WINDOWS-TESTING.md).
# Works on a fresh Debian 12 as root; installs what is missing.
# Usage: .ci/windows.sh [extra cmake args...]   (BUILD_DIR, default build-ci-windows)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

# ---- tools ----
want=(cmake make gcc-mingw-w64-x86-64 wine64)
missing=()
for pkg in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
# Debian's wine64 puts no `wine` on PATH: the loader and server are called
# by their full paths.
wine=/usr/lib/wine/wine64
wineserver=/usr/lib/wine/wineserver

# ---- build ----
build=${BUILD_DIR:-build-ci-windows}
case $build in /*) ;; *) build=$root/$build ;; esac
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_TOOLCHAIN_FILE="$root/cmake/mingw-w64-x86_64.cmake" "$@"
cmake --build "$build" -j2

# ---- Wine: a private prefix, headless, one persistent server ----
export WINEPREFIX=$build/wineprefix
export WINEDEBUG=-all WINEARCH=win64 WINEDLLOVERRIDES="mscoree,mshtml="
unset DISPLAY
stop_wine() { "$wineserver" -k >/dev/null 2>&1 || true; }
trap stop_wine EXIT
if [ ! -f "$WINEPREFIX/system.reg" ]; then
  echo "creating Wine prefix $WINEPREFIX"
  "$wine" wineboot --init </dev/null >/dev/null 2>&1
  "$wineserver" -w
fi
# Its own output (object dumps when it is killed) is not the tests'.
"$wineserver" -p </dev/null >/dev/null 2>&1 || true  # exit 2: one already runs for this prefix
# Wine's background services start with the first program on a new server
# and inherit its stderr: started here on /dev/null, so that no test's pipe
# stays open after the test ended (ctest would report a timeout).
"$wine" wineboot </dev/null >/dev/null 2>&1

# ---- tests ----
start=$(date +%s)
log=$(mktemp)
status=0
ctest --test-dir "$build" -j2 --output-on-failure 2>&1 | tee "$log" || status=$?
summary="windows (wine): $(grep -E 'tests passed|tests failed' "$log" | tail -n 1) in $(( $(date +%s) - start )) s"

# The engine scenarios again, REPEAT times each in a row: the original's
# Windows port lost events and hung under such loops; ours must not.
repeat=${REPEAT:-20}
if [ "$status" -eq 0 ] && [ "$repeat" -gt 1 ]; then
  rstart=$(date +%s)
  ctest --test-dir "$build" -L scenario -j2 --repeat "until-fail:$repeat" --output-on-failure 2>&1 | tee "$log" || status=$?
  summary="$summary; scenarios x$repeat: $(grep -E 'tests passed|tests failed' "$log" | tail -n 1) in $(( $(date +%s) - rstart )) s"
fi
echo "$summary"
rm -f "$log"
exit $status
