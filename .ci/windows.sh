#!/usr/bin/env bash
# The Windows build: cross-compiles libtofu and its tests with MinGW-w64 and
# runs the whole CTest suite under Wine (shared/WINDOWS-TESTING.md).
# Works on a fresh Debian 12 as root; installs what is missing.
# Usage: .ci/windows.sh [extra cmake args...]   (BUILD_DIR, default build-ci-windows;
#                                                REPEAT, default 20)
#        .ci/windows.sh --self-test             (the relaunch logic below on a
#                                                fake CTest project; no Wine)
#
# Two stages: the whole suite, then the engine scenarios REPEAT times each.
# Both always run, so that flakiness is measured even after a failure; the
# script exits non-zero when either had a real failure.
#
# Launches that never started. Under Wine a test process sometimes fails at
# once (0.00-0.01 s) without any output: the program never ran. The harness
# (tests/harness/test.c) prints "RUN  <case>" before anything else a case
# does, so a failed harness test (a tests/test_*.exe) whose output lacks that
# line never started; such a test is relaunched on its own, up to 3 times,
# and every such launch is printed and counted in the summary (the flake
# rate). A test that printed its RUN line and failed is a real failure and
# is never relaunched, nor is a failed test that is not a harness program
# (tofucat, install: they cannot tell). docs/platforms.md, "Under Wine".
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

# ---- the stages and the relaunch of launches that never started ----
max_relaunch=3
launches=0      # test processes launched, every stage and relaunch
never_started=0 # of them, how many never started
relaunched=()   # "name: outcome", one per test that was relaunched

# classify_runs LOG: one line per test run in CTest's LastTest.log, in log
# order: "passed NAME", "failed NAME" or "never_started NAME" (a failed
# harness program whose output has no RUN line). Other outcomes (skipped,
# not run) give "other NAME".
classify_runs() {
  awk '
    /^[0-9]+\/[0-9]+ Test: / { name = substr($0, index($0, " Test: ") + 7); harness = 0; ran = 0; out = 0; next }
    /^Command: / { harness = ($0 ~ /[\/\\]test_[A-Za-z0-9_]+\.exe"/); next }
    /^Output:/ { out = 1; next }
    /^<end of output>/ { out = 0; next }
    out && /^RUN / { ran = 1; next }
    /^Test Passed\./ { print "passed", name; name = ""; next }
    /^Test Failed\./ { print (harness && !ran ? "never_started" : "failed"), name; name = ""; next }
    /^"[^"]*" end time: / && name != "" { print "other", name; name = "" }
  ' "$1"
}

# failed_tests CONSOLE: the names in ctest's "The following tests FAILED:".
failed_tests() {
  awk '
    /^The following tests FAILED:/ { f = 1; next }
    f && /^[ \t]+[0-9]+ - / { sub(/^[ \t]+[0-9]+ - /, ""); sub(/ \([^()]*\)[ \t\r]*$/, ""); print; next }
    f { f = 0 }
  ' "$1"
}

# run_ctest ARGS...: runs ctest on the build, output to the terminal and to
# $console; rc = its status; $runs = classify_runs of its LastTest.log,
# whose runs are added to the counts.
run_ctest() {
  rc=0
  rm -f "$build/Testing/Temporary/LastTest.log"
  ctest --test-dir "$build" "$@" 2>&1 | tee "$console" || rc=$?
  if [ -f "$build/Testing/Temporary/LastTest.log" ]; then
    classify_runs "$build/Testing/Temporary/LastTest.log" >"$runs"
  else
    : >"$runs"
  fi
  launches=$(( launches + $(wc -l <"$runs") ))
  [ "$rc" -eq 0 ] || "$root/.ci/digest.sh" "$build/Testing/Temporary/LastTest.log" >>"$digest"
  never_started=$(( never_started + $(grep -c '^never_started ' "$runs" || true) ))
}

# last_outcome NAME [RUNS]: the outcome of NAME's last run in RUNS ($runs).
last_outcome() { awk -v n="$1" '$2 == n { k = $1 } END { print k }' "${2:-$runs}"; }
# passes NAME [RUNS]: how many runs of NAME passed in RUNS ($runs).
passes() { awk -v n="$1" '$2 == n && $1 == "passed" { c++ } END { print c + 0 }' "${2:-$runs}"; }

# relaunch NAME LEFT: NAME's last launch never started; runs it alone again
# (LEFT more times in a row, as its stage would have) until it ran. Returns
# 0 when it then passed, 1 when it failed or never started in
# 1 + $max_relaunch launches.
relaunch() {
  local name=$1 left=$2 re attempt
  re=$(printf '%s' "$name" | sed 's/[][\.*^$+?(){}|]/\\&/g')
  for (( attempt = 1; attempt <= max_relaunch; attempt++ )); do
    echo "*** $name never started (no output, no RUN line): relaunch $attempt of $max_relaunch"
    local rep=()
    [ "$left" -gt 1 ] && rep=(--repeat "until-fail:$left")
    run_ctest --output-on-failure -R "^$re\$" "${rep[@]}"
    if [ "$rc" -eq 0 ] && [ "$(last_outcome "$name")" = passed ]; then
      relaunched+=("$name: passed on relaunch $attempt")
      return 0
    fi
    if [ "$(last_outcome "$name")" != never_started ]; then
      relaunched+=("$name: FAILED on relaunch $attempt")
      return 1
    fi
    left=$(( left - $(passes "$name") ))
  done
  relaunched+=("$name: never started in $(( max_relaunch + 1 )) launches")
  return 1
}

# run_stage REPS ARGS...: one ctest run (each selected test REPS times in a
# row), then the relaunches. Sets stage_line (ctest's own summary line) and
# stage_failed (real failures, or tests that never started at all).
run_stage() {
  local reps=$1 name kind
  shift
  run_ctest -j2 --output-on-failure "$@"
  stage_line=$(grep -E 'tests passed|tests failed' "$console" | tail -n 1 || true)
  stage_failed=0
  [ "$rc" -eq 0 ] && return 0
  local failed first_runs
  failed=$(failed_tests "$console")
  if [ -z "$failed" ]; then # ctest failed before or around the tests
    stage_failed=1
    return 0
  fi
  first_runs=$(mktemp)
  cp "$runs" "$first_runs"
  for name in $failed; do
    kind=$(last_outcome "$name" "$first_runs")
    if [ "$kind" = never_started ]; then
      relaunch "$name" $(( reps - $(passes "$name" "$first_runs") )) ||
        stage_failed=$(( stage_failed + 1 ))
    else
      stage_failed=$(( stage_failed + 1 ))
    fi
  done
  rm -f "$first_runs"
}

# The flake count for the summary line.
launch_summary() {
  local s="launches that never started: $never_started of $launches"
  if [ ${#relaunched[@]} -gt 0 ]; then
    s="$s ($(IFS=';'; echo "${relaunched[*]}" | sed 's/;/; /g'))"
  fi
  echo "$s"
}

# ---- self-test: the relaunch logic on a fake CTest project (no Wine) ----
# Shell scripts named like the harness programs play each case: a launch
# that never starts (once, or always), a real failure after the RUN line
# that would pass if run again, a silent failure of a program that is not a
# harness program, and, in a repeat stage, a launch that never starts after
# two good runs. Checks what is relaunched, what counts as failed, and the
# counts.
self_test() {
  local dir st checks=0 bad=0
  dir=$(mktemp -d)
  st=$dir/state
  build=$dir/build
  console=$dir/console
  runs=$dir/runs
  digest=$dir/digest
  trap "rm -rf '$dir'" EXIT
  mkdir -p "$dir/src/tests" "$st"
  fake() { printf '#!/bin/sh\n%s\n' "$2" >"$dir/src/tests/$1"; chmod +x "$dir/src/tests/$1"; }
  fake test_ok.exe "printf 'RUN  ok\r\nPASS ok\r\n'"
  fake test_once.exe "[ -e $st/once ] || { touch $st/once; exit 1; }; printf 'RUN  once\r\nPASS once\r\n'"
  fake test_never.exe 'exit 1'
  fake test_flaky.exe "echo x >>$st/flaky; echo 'RUN  flaky'; [ \$(wc -l <$st/flaky) -gt 1 ] || { echo 'FAIL flaky (x.c:1): real'; exit 1; }; echo 'PASS flaky'"
  fake driver.sh "echo x >>$st/driver; [ \$(wc -l <$st/driver) -gt 1 ]"
  fake test_rep.exe "n=\$(cat $st/rep 2>/dev/null || echo 0); echo \$((n + 1)) >$st/rep; [ \$n -eq 2 ] && exit 1; echo 'RUN  rep'; echo 'PASS rep'"
  {
    echo 'cmake_minimum_required(VERSION 3.16)'
    echo 'project(fake NONE)'
    echo 'enable_testing()'
    for t in ok once never flaky rep; do
      echo "add_test(NAME fake.$t COMMAND \${CMAKE_CURRENT_SOURCE_DIR}/tests/test_$t.exe $t)"
    done
    echo 'add_test(NAME fake.driver COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/tests/driver.sh)'
    echo 'set_tests_properties(fake.rep PROPERTIES LABELS rep)'
  } >"$dir/src/CMakeLists.txt"
  cmake -S "$dir/src" -B "$build" >/dev/null
  check() {
    checks=$(( checks + 1 ))
    if [ "$2" != "$3" ]; then
      echo "SELF-TEST FAIL: $1: got '$2', want '$3'"
      bad=$(( bad + 1 ))
    fi
  }
  run_stage 1 -LE rep >"$dir/stage1.out"
  check "stage 1 real failures (never, flaky, driver)" "$stage_failed" 3
  check "relaunches of stage 1" "${relaunched[*]}" \
    "fake.once: passed on relaunch 1 fake.never: never started in 4 launches"
  check "launches of fake.flaky (a real failure: not relaunched)" "$(wc -l <"$st/flaky")" 1
  check "launches of fake.driver (not a harness program: not relaunched)" "$(wc -l <"$st/driver")" 1
  check "stage 1 launches" "$launches" 9
  check "stage 1 never started" "$never_started" 5
  check "the digest shows the real failure's reason" \
    "$(grep -c -x '    FAIL flaky (x.c:1): real' "$digest")" 1
  relaunched=()
  run_stage 5 -L rep --repeat until-fail:5 >"$dir/stage2.out"
  check "stage 2 real failures" "$stage_failed" 0
  check "relaunches of stage 2" "${relaunched[*]}" "fake.rep: passed on relaunch 1"
  check "runs of fake.rep (2 good, 1 never started, 3 good)" "$(cat "$st/rep")" 6
  check "all launches" "$launches" 15
  check "all never started" "$never_started" 6
  check "summary" "$(launch_summary)" \
    "launches that never started: 6 of 15 (fake.rep: passed on relaunch 1)"
  if [ "$bad" -ne 0 ]; then
    echo "--- stage 1 ---"; cat "$dir/stage1.out"; echo "--- stage 2 ---"; cat "$dir/stage2.out"
    echo "windows.sh self-test: $bad of $checks checks FAILED"
    return 1
  fi
  echo "windows.sh self-test: $checks checks passed"
}

if [ "${1:-}" = --self-test ]; then
  self_test
  exit
fi

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
console=$(mktemp)
runs=$(mktemp)
digest=$(mktemp) # what failed runs printed last (.ci/digest.sh), shown at the end
trap 'stop_wine; rm -f "$console" "$runs" "$digest"' EXIT
status=0
start=$(date +%s)
run_stage 1
summary="windows (wine): $stage_line in $(( $(date +%s) - start )) s"
[ "$stage_failed" -eq 0 ] || { status=1; summary="$summary ($stage_failed failed after relaunches)"; }

# The engine scenarios again, REPEAT times each in a row: the original's
# Windows port lost events and hung under such loops; ours must not. Run
# even after a failure above: this is where flakiness shows.
repeat=${REPEAT:-20}
if [ "$repeat" -gt 1 ]; then
  rstart=$(date +%s)
  run_stage "$repeat" -L scenario --repeat "until-fail:$repeat"
  summary="$summary; scenarios x$repeat: $stage_line in $(( $(date +%s) - rstart )) s"
  [ "$stage_failed" -eq 0 ] || { status=1; summary="$summary ($stage_failed failed after relaunches)"; }
fi
# A launch that never started has no output worth showing; a real failure
# is shown last, where a CI report's tail keeps it.
if [ "$status" -ne 0 ]; then
  echo "=== failure digest (launches that never started included) ==="
  cat "$digest"
fi
echo "$summary; $(launch_summary)"
exit $status
