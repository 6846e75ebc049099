#!/bin/sh
# Instructions and lock acquisitions per message (issue 14, goal 4;
# docs/benchmarks.md, "Instructions per message"): the 64 B one-way
# throughput of compare_tofu (tuned pools, one process: both ends and both
# I/O threads are counted) under callgrind at two counts, N1 and N2, and
# the difference divided by N2 - N1, so that start-up and the Hello
# exchange drop out. Callgrind runs the threads one at a time, so how many
# messages a read or a write batches varies between runs by a little:
# REPS runs per transport, the median is printed.
#
#     bench/instructions.sh            build into ./build-bench and measure
#
# Environment: BUILD_DIR (<repo>/build-bench), N1 (20000), N2 (100000),
# REPS (3), SIZE (64), TRANSPORTS ("tcp uds"), NO_BUILD=1. Needs valgrind.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
BUILD_DIR=${BUILD_DIR:-$repo/build-bench}
N1=${N1:-20000}
N2=${N2:-100000}
REPS=${REPS:-3}
SIZE=${SIZE:-64}
TRANSPORTS=${TRANSPORTS:-"tcp uds"}

if ! command -v valgrind >/dev/null 2>&1; then
    echo "instructions.sh: valgrind is not installed" >&2
    exit 2
fi
if [ "${NO_BUILD:-0}" != 1 ]; then
    cmake -S "$repo" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
        -DTOFU_BUILD_TESTS=OFF -DTOFU_BUILD_TOOLS=OFF -DTOFU_BUILD_EXAMPLES=OFF \
        -DTOFU_BUILD_BENCH=ON >/dev/null
    cmake --build "$BUILD_DIR" -j2 --target compare_tofu >/dev/null
fi
prog=$BUILD_DIR/bench/compare_tofu
out=$BUILD_DIR/instructions-results
rm -rf "$out"
mkdir -p "$out"

# run T N R: one callgrind run; prints its total instructions
run() {
    f=$out/$1.$2.$3
    valgrind --tool=callgrind --callgrind-out-file="$f.out" \
        "$prog" throughput "$2" --size "$SIZE" --transport "$1" >"$f.log" 2>&1
    sed -n 's/.*Collected : *\([0-9]*\).*/\1/p' "$f.log"
}

# locks F: calls of tofui_mutex_lock in a callgrind output (its callers'
# counts). Run from / : inside the source tree callgrind_annotate adds a
# second, path-only line per function that would hide the callers.
locks() {
    (cd / && callgrind_annotate --tree=caller --inclusive=yes --auto=no --threshold=100 "$1" 2>/dev/null) |
        awk '/\* .*tofui_mutex_lock / { n += pending; pending = 0; next }
             /<.*\(([0-9,]+)x\)/ { match($0, /\(([0-9,]+)x\)/); c = substr($0, RSTART + 1, RLENGTH - 3); gsub(",", "", c); pending += c; next }
             { pending = 0 }
             END { print n + 0 }'
}

median() { tr ' ' '\n' | grep . | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

echo "| transport | Ir per message (runs) | median | mutex locks per message |"
echo "|---|---|---:|---:|"
for t in $TRANSPORTS; do
    runs=""
    lk=""
    r=1
    while [ "$r" -le "$REPS" ]; do
        a=$(run "$t" "$N1" "$r")
        b=$(run "$t" "$N2" "$r")
        runs="$runs $(((b - a) / (N2 - N1)))"
        la=$(locks "$out/$t.$N1.$r.out")
        lb=$(locks "$out/$t.$N2.$r.out")
        lk="$lk $(awk -v a="$la" -v b="$lb" -v n=$((N2 - N1)) 'BEGIN { printf "%.2f", (b - a) / n }')"
        r=$((r + 1))
    done
    echo "| $t | $runs | $(echo "$runs" | median) | $(echo "$lk" | median) |"
done
