#!/bin/sh
# What request tracking costs (issue 11; docs/benchmarks.md, "Request
# tracking"): the same benchmarks linked with the library (tracked) and with
# its copy built without tracking (untracked, TOFUI_BENCH_NO_TRACKING, see
# bench/CMakeLists.txt), in one run.
#
#   * wall clock: bench_latency (64 B Request/Response round trips) and
#     bench_throughput in its "requests" mode (64 B Requests, each answered;
#     Signals never touch tracking), ROUNDS rounds, the two variants
#     interleaved and their order swapped every round (A B, B A, A B, ...)
#     so that drift and load from other processes fall on both alike.
#     Prints the median over the rounds of each variant and the median of
#     the per-round ratios tracked/untracked;
#   * callgrind: the instructions each variant executes for the same work
#     (one run each, smaller counts), which no other process disturbs, and
#     how many of them are in the tracking functions (track.c).
#
#     bench/tracking.sh             build into ./build-bench and run
#
# Environment: BUILD_DIR (default <repo>/build-bench), ROUNDS (9), LAT_N
# (round trips per run, 20000), THR_N (Requests per run, 300000),
# CG_LAT_N (5000) and CG_THR_N (100000) for callgrind, CALLGRIND=0 to skip
# callgrind (it needs valgrind), NO_BUILD=1 to skip the build. The raw
# output of every run is kept in $BUILD_DIR/tracking-results/.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
BUILD_DIR=${BUILD_DIR:-$repo/build-bench}
ROUNDS=${ROUNDS:-9}
LAT_N=${LAT_N:-20000}
THR_N=${THR_N:-300000}
CG_LAT_N=${CG_LAT_N:-5000}
CG_THR_N=${CG_THR_N:-100000}
CALLGRIND=${CALLGRIND:-1}

if [ "${NO_BUILD:-0}" != 1 ]; then
    cmake -S "$repo" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
        -DTOFU_BUILD_TESTS=OFF -DTOFU_BUILD_TOOLS=OFF -DTOFU_BUILD_EXAMPLES=OFF \
        -DTOFU_BUILD_BENCH=ON >/dev/null
    cmake --build "$BUILD_DIR" -j2 --target bench_latency bench_latency_untracked \
        bench_throughput bench_throughput_untracked >/dev/null
fi

bin=$BUILD_DIR/bench
out=$BUILD_DIR/tracking-results
rm -rf "$out"
mkdir -p "$out"

# prog KIND VARIANT: the program; args KIND N: its arguments
prog() {
    if [ "$2" = tracked ]; then echo "$bin/bench_$1"; else echo "$bin/bench_$1_untracked"; fi
}
args() {
    if [ "$1" = latency ]; then echo "$2"; else echo "$2 requests"; fi
}

# GNU time, when installed, gives each run's CPU time (user + system): less
# disturbed by other processes than the wall clock, as it does not count the
# time spent waiting for a CPU.
timer=
[ -x /usr/bin/time ] && timer=/usr/bin/time

# run KIND VARIANT ROUND: one run, output to $out/KIND.VARIANT.ROUND, its
# CPU seconds to $out/KIND.VARIANT.ROUND.cpu
run() {
    n=$LAT_N
    [ "$1" = throughput ] && n=$THR_N
    f=$out/$1.$2.$3
    # shellcheck disable=SC2046 # the arguments are words on purpose
    if [ -n "$timer" ]; then
        $timer -f "%U %S" -o "$f.cpu" "$(prog "$1" "$2")" $(args "$1" "$n") >"$f"
    else
        "$(prog "$1" "$2")" $(args "$1" "$n") >"$f"
    fi
}

echo "request tracking, tracked vs untracked: $ROUNDS rounds, $LAT_N round trips, $THR_N Requests" >&2
echo "machine: $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo '?')" >&2
for kind in latency throughput; do
    i=1
    while [ "$i" -le "$ROUNDS" ]; do
        if [ $((i % 2)) = 1 ]; then order="tracked untracked"; else order="untracked tracked"; fi
        for v in $order; do
            printf '  %s %s round %d\n' "$kind" "$v" "$i" >&2
            run "$kind" "$v" "$i"
        done
        i=$((i + 1))
    done
done
echo "load average at the end $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo '?')" >&2

# One line per (variant, key, round): "variant key round value"; keys are
# <transport>|lat (median round trip, us) and <transport>|thr (Requests/s).
for v in tracked untracked; do
    i=1
    while [ "$i" -le "$ROUNDS" ]; do
        awk -v v="$v" -v r="$i" '/round trip/ { print v, $1 "|lat", r, $7 }' "$out/latency.$v.$i"
        awk -v v="$v" -v r="$i" '/msgs\/s/ { print v, $1 "|thr", r, $4 }' "$out/throughput.$v.$i"
        for kind in latency throughput; do
            f=$out/$kind.$v.$i.cpu
            [ -e "$f" ] && awk -v v="$v" -v k="$kind|cpu" -v r="$i" '{ print v, k, r, $1 + $2 }' "$f"
        done
        i=$((i + 1))
    done
done | awk '
    { val[$1, $2, $3] = $4; keys[$2] = 1; rounds[$3] = 1 }
    function median(a, n,   i, j, t) {
        for (i = 2; i <= n; i++)
            for (j = i; j > 1 && a[j - 1] > a[j]; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
        return (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
    }
    function fmt(x, key) {
        return key ~ /cpu/ ? sprintf("%.2f", x) : x >= 1000 ? sprintf("%.0f", x) : sprintf("%.1f", x)
    }
    function row(label, key, higher_better,   r, n, na, nb, nr, A, B, R, ma, mb, mr, cost) {
        na = nb = nr = 0
        for (r in rounds) {
            if ((("tracked", key, r) in val)) A[++na] = val["tracked", key, r]
            if ((("untracked", key, r) in val)) B[++nb] = val["untracked", key, r]
            if ((("tracked", key, r) in val) && (("untracked", key, r) in val))
                R[++nr] = val["tracked", key, r] / val["untracked", key, r]
        }
        if (na == 0 || nb == 0) return
        ma = median(A, na); mb = median(B, nb); mr = median(R, nr)
        # cost of tracking in %: more time per round trip, fewer Requests/s
        cost = higher_better ? (1 / mr - 1) * 100 : (mr - 1) * 100
        printf "| %-32s | %10s | %10s | %+9.1f %% | %+9.1f %% |\n", label, fmt(ma, key), fmt(mb, key),
               (higher_better ? (mb / ma - 1) : (ma / mb - 1)) * 100, cost
    }
    END {
        printf "| %-32s | %10s | %10s | %11s | %11s |\n", "median of rounds", "tracked", "untracked",
               "cost (meds)", "cost (pairs)"
        printf "|----------------------------------|-----------:|-----------:|------------:|------------:|\n"
        split("tcp uds", T, " ")
        for (t = 1; t <= 2; t++) row(T[t] " 64 B round trip, median us", T[t] "|lat", 0)
        for (t = 1; t <= 2; t++) row(T[t] " 64 B Requests answered /s", T[t] "|thr", 1)
        row("latency run, CPU s (tcp+uds)", "latency|cpu", 0)
        row("throughput run, CPU s (tcp+uds)", "throughput|cpu", 0)
    }'
echo "cost (meds): from the medians of the two columns; cost (pairs): the median over the"
echo "rounds of each round's tracked/untracked ratio. Positive: tracking costs. CPU s: user +"
echo "system time of one whole run (both transports and engines, set-up included), GNU time."

[ "$CALLGRIND" = 1 ] || exit 0
if ! command -v valgrind >/dev/null 2>&1; then
    echo "callgrind: valgrind is not installed (CALLGRIND=0 to skip)" >&2
    exit 0
fi

# cg KIND VARIANT: total instructions of one run under callgrind; the
# tracked run also gets the inclusive count of the tracking entry points.
cg() {
    n=$CG_LAT_N
    [ "$1" = throughput ] && n=$CG_THR_N
    f=$out/cg.$1.$2
    # shellcheck disable=SC2046
    valgrind --tool=callgrind --callgrind-out-file="$f.out" \
        "$(prog "$1" "$2")" $(args "$1" "$n") >"$f.txt" 2>"$f.log"
    sed -n 's/.*Collected : *\([0-9]*\).*/\1/p' "$f.log"
}
# track_ir FILE: instructions inside tofui_track_{queued,sent,received,expire}
track_ir() {
    callgrind_annotate --inclusive=yes --auto=no "$1" 2>/dev/null | awk '
        /track\.c:tofui_track_(queued|sent|received|expire) / { gsub(",", "", $1); s += $1 }
        END { print s + 0 }'
}

echo
echo "| callgrind, instructions (Ir)     |     tracked |   untracked |  difference | in track.c |"
echo "|----------------------------------|------------:|------------:|------------:|-----------:|"
for kind in latency throughput; do
    a=$(cg "$kind" tracked)
    b=$(cg "$kind" untracked)
    t=$(track_ir "$out/cg.$kind.tracked.out")
    if [ "$kind" = latency ]; then
        label="latency, 2x$CG_LAT_N round trips"
    else
        label="throughput, 2x$CG_THR_N Requests"
    fi
    awk -v l="$label" -v a="$a" -v b="$b" -v t="$t" 'BEGIN {
        printf "| %-32s | %11d | %11d | %+9.2f %% | %8.2f %% |\n", l, a, b, (a / b - 1) * 100, t / a * 100 }'
done
echo "Both transports (tcp and uds), warm-up included, both engines of the process;"
echo "'in track.c': share of the tracked run spent inside the tracking entry points."
