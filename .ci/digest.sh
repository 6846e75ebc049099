#!/usr/bin/env bash
# Usage: .ci/digest.sh LASTTEST_LOG [LINES]
#
# The failure digest: for every failed run in a CTest LastTest.log, its name
# and the last LINES (default 12) lines of its output. CI prints it at the
# very end of a failed configuration, because what a CI report keeps of a
# run is its tail, and ctest's --output-on-failure puts a failed test's
# output (the harness's "FAIL <case> (file:line): why") in the middle of
# hundreds of lines of progress, where it is cut off.
# Prints nothing when no run failed or the log is missing.
set -euo pipefail
log=$1
lines=${2:-12}
[ -f "$log" ] || exit 0
awk -v keep="$lines" '
  /^[0-9]+\/[0-9]+ Test: / { name = substr($0, index($0, " Test: ") + 7); n = 0; out = 0; next }
  /^Output:/ { out = 1; getline; next } # the dashed line under it
  /^<end of output>/ { out = 0; next }
  out { buf[n++ % keep] = $0; next }
  /^Test Failed\./ {
    printf "--- failed: %s (last %d lines of its output)\n", name, (n < keep ? n : keep)
    for (i = (n < keep ? 0 : n - keep); i < n; i++) print "    " buf[i % keep]
  }
' "$log"
