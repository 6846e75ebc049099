#!/bin/sh
# Side-by-side benchmark of libtofu, ZeroMQ and NNG (docs/benchmarks.md).
#
# Builds the project (RelWithDebInfo, benchmarks only) and runs
# bench_latency/bench_throughput and compare_zmq/compare_nng with the same
# parameters, RUNS times each, interleaved (tofu, zmq, nng, tofu, ...) so that
# load from other processes falls on all three alike. Prints one table of the
# medians over the runs. The raw output of every run is kept in
# $BUILD_DIR/compare-results/.
#
#     bench/compare.sh              build into ./build-bench and run
#
# Environment: BUILD_DIR (default <repo>/build-bench), RUNS (5),
# LAT_N (round trips per run, 50000), THR_N (messages per run for 64 B and
# 1 KiB, 16 KiB uses 1/8; 1000000, the default of bench_throughput),
# THR_N_NNG (the same for NNG, which is 20-50 times slower here; THR_N/5 so
# that a run takes seconds, not minutes: the rate is what is compared),
# NO_BUILD=1 to skip the build, REPORT_ONLY=1 to print the table of the
# results already in $BUILD_DIR/compare-results without running anything.
# ZeroMQ and NNG need libzmq3-dev and libnng-dev (Debian) or equivalents;
# a library that is not installed is left out of the table.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
BUILD_DIR=${BUILD_DIR:-$repo/build-bench}
RUNS=${RUNS:-5}
LAT_N=${LAT_N:-50000}
THR_N=${THR_N:-1000000}
THR_N_NNG=${THR_N_NNG:-$((THR_N / 5))}

REPORT_ONLY=${REPORT_ONLY:-0}
if [ "${NO_BUILD:-0}" != 1 ] && [ "$REPORT_ONLY" != 1 ]; then
    cmake -S "$repo" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
        -DTOFU_BUILD_TESTS=OFF -DTOFU_BUILD_TOOLS=OFF -DTOFU_BUILD_EXAMPLES=OFF \
        -DTOFU_BUILD_BENCH=ON >/dev/null
    cmake --build "$BUILD_DIR" -j2 >/dev/null
fi

bin=$BUILD_DIR/bench
out=$BUILD_DIR/compare-results
[ "$REPORT_ONLY" = 1 ] || { rm -rf "$out"; mkdir -p "$out"; }

libs=tofu
if [ "$REPORT_ONLY" = 1 ]; then
    [ -e "$out/zmq.latency.1" ] && libs="$libs zmq"
    [ -e "$out/nng.latency.1" ] && libs="$libs nng"
else
    [ -x "$bin/compare_zmq" ] && libs="$libs zmq"
    [ -x "$bin/compare_nng" ] && libs="$libs nng"
fi

# run LIB KIND RUN: one benchmark program; output to $out/LIB.KIND.RUN
run() {
    f=$out/$1.$2.$3
    n=$LAT_N
    [ "$2" = throughput ] && n=$THR_N
    [ "$2" = throughput ] && [ "$1" = nng ] && n=$THR_N_NNG
    case $1 in
    tofu) "$bin/bench_$2" "$n" >"$f" ;;
    *) "$bin/compare_$1" "$2" "$n" >"$f" ;;
    esac
}

if [ "$REPORT_ONLY" != 1 ]; then
    echo "libtofu vs ZeroMQ vs NNG: $RUNS runs each, $LAT_N round trips, $THR_N messages (NNG $THR_N_NNG)" >&2
    echo "machine: $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo '?')" >&2
    for kind in latency throughput; do
        i=1
        while [ "$i" -le "$RUNS" ]; do
            for lib in $libs; do
                printf '  %s %s run %d\n' "$lib" "$kind" "$i" >&2
                run "$lib" "$kind" "$i"
            done
            i=$((i + 1))
        done
    done
fi

# One line per (library, measurement, run): "lib key value", then the median
# of each (library, key) over the runs, laid out as rows = keys, columns =
# libraries.
for lib in $libs; do
    for f in "$out/$lib".latency.*; do
        awk -v lib="$lib" '/round trip/ {
            print lib, $1 "|lat|median_us", $7; print lib, $1 "|lat|p99_us", $10 }' "$f"
    done
    for f in "$out/$lib".throughput.*; do
        awk -v lib="$lib" '/msgs\/s/ {
            print lib, $1 "|" $2 "|msgs_s", $4; print lib, $1 "|" $2 "|MB_s", $6 }' "$f"
    done
done | awk -v libs="$libs" '
    { k = $1 SUBSEP $2; v[k, ++c[k]] = $3 }
    # The median of the runs, or with best = 1 the lowest value.
    function median(k, best,   n, i, j, t, a) {
        n = c[k]
        if (n == 0) return "-"
        for (i = 1; i <= n; i++) a[i] = v[k, i] + 0
        for (i = 2; i <= n; i++)        # insertion sort, n is small
            for (j = i; j > 1 && a[j - 1] > a[j]; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
        if (best) return a[1]
        return (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
    }
    function fmt(x) { return x == "-" ? x : (x >= 1000 ? sprintf("%.0f", x) : sprintf("%.1f", x)) }
    function row(label, key, best,   i) {
        printf "| %-30s |", label
        for (i = 1; i <= nl; i++) printf " %10s |", fmt(median(L[i] SUBSEP key, best))
        printf "\n"
    }
    END {
        nl = split(libs, L, " ")
        name["tofu"] = "libtofu"; name["zmq"] = "ZeroMQ"; name["nng"] = "NNG"
        printf "| %-30s |", "median of runs"
        for (i = 1; i <= nl; i++) printf " %10s |", name[L[i]]
        printf "\n|%s|", "--------------------------------"
        for (i = 1; i <= nl; i++) printf "%s|", "-----------:"
        printf "\n"
        split("tcp uds", T, " "); split("64 1024 16384", S, " ")
        for (t = 1; t <= 2; t++) {
            row(T[t] " 64 B round trip, median us", T[t] "|lat|median_us")
            row(T[t] " 64 B round trip, p99 us", T[t] "|lat|p99_us")
            row(T[t] " 64 B rt median, best run", T[t] "|lat|median_us", 1)
        }
        for (t = 1; t <= 2; t++)
            for (s = 1; s <= 3; s++) {
                row(sprintf("%s %5d B one-way, msgs/s", T[t], S[s]), T[t] "|" S[s] "|msgs_s")
                row(sprintf("%s %5d B one-way, MB/s", T[t], S[s]), T[t] "|" S[s] "|MB_s")
            }
    }'
