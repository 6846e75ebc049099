#!/bin/sh
# Side-by-side benchmark: raw sockets, libtofu (tuned and default options),
# ZeroMQ and, optionally, NNG (docs/benchmarks.md).
#
# Builds the project (RelWithDebInfo, benchmarks only) and runs the
# comparison programs RUNS times, interleaved: every round runs every
# variant once, in-process and as two processes, starting with a different
# variant each round, so that load from other processes falls on all alike.
# Then prints one Markdown table per process layout (median and worst run
# of every cell) and a table of the ratios the goals of issue 14 are stated
# in (bench/compare_report.py). The raw output of every run is kept in
# $BUILD_DIR/compare-results/.
#
#     bench/compare.sh                      RUNS=10: the final table (~8-10 min here)
#     RUNS=3 bench/compare.sh               a quick one
#
# The variants (columns):
#   raw    compare_raw, the batched writer: the physical limit
#   raw1   compare_raw --writer each: one writev per message (throughput only)
#   tofu   compare_tofu, tuned pools (as bench_latency / bench_throughput)
#   tofud  compare_tofu --defaults: default options, the guide's sender
#   zmq    compare_zmq (if libzmq is installed)
#   nng    compare_nng, in-process only (NNG=1 and libnng installed; slow)
#
# Environment: BUILD_DIR (default <repo>/build-bench), RUNS (10), PROCS
# ("1 2": in-process and two processes), LAT_N (round trips per run and
# size, 10000), THR_N (messages per throughput run of 64 B and 1 KiB, 16 KiB
# uses 1/8; 200000), RAW_THR_N (the batched raw writer's count, THR_N x 10:
# at 200000 a 64 B run would last 5 ms), DEF_THR_N (the default-options
# libtofu count, THR_N: since the pools of 256 made on first need it runs
# as fast as the tuned one), THR_N_NNG
# (THR_N / 10), NNG=1 to add NNG, NO_BUILD=1 to skip the build,
# REPORT_ONLY=1 to print the tables of the results already there.
# Each rate is what is compared, so the counts differ where a variant is
# much faster or slower; each run lasts 0.05-2 s per cell.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
BUILD_DIR=${BUILD_DIR:-$repo/build-bench}
RUNS=${RUNS:-10}
PROCS=${PROCS:-1 2}
LAT_N=${LAT_N:-10000}
THR_N=${THR_N:-200000}
RAW_THR_N=${RAW_THR_N:-$((THR_N * 10))}
DEF_THR_N=${DEF_THR_N:-$THR_N}
THR_N_NNG=${THR_N_NNG:-$((THR_N / 10))}
NNG=${NNG:-0}
REPORT_ONLY=${REPORT_ONLY:-0}

if [ "${NO_BUILD:-0}" != 1 ] && [ "$REPORT_ONLY" != 1 ]; then
    cmake -S "$repo" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
        -DTOFU_BUILD_TESTS=OFF -DTOFU_BUILD_TOOLS=OFF -DTOFU_BUILD_EXAMPLES=OFF \
        -DTOFU_BUILD_BENCH=ON >/dev/null
    cmake --build "$BUILD_DIR" -j2 >/dev/null
fi

bin=$BUILD_DIR/bench
out=$BUILD_DIR/compare-results

if [ "$REPORT_ONLY" != 1 ]; then
    rm -rf "$out"
    mkdir -p "$out"
    vars="raw raw1 tofu tofud"
    [ -x "$bin/compare_zmq" ] && vars="$vars zmq"
    nvars=$(echo "$vars" | wc -w)

    # run VAR KIND PROCS RUN: one program; its output goes to
    # $out/VAR.KIND.pPROCS.RUN
    run() {
        f=$out/$1.$2.p$3.$4
        case $1.$2 in
        raw.latency) "$bin/compare_raw" latency "$LAT_N" --procs "$3" ;;
        raw.throughput) "$bin/compare_raw" throughput "$RAW_THR_N" --procs "$3" ;;
        raw1.latency) return 0 ;; # the same as raw's
        raw1.throughput) "$bin/compare_raw" throughput "$THR_N" --writer each --procs "$3" ;;
        tofu.latency) "$bin/compare_tofu" latency "$LAT_N" --procs "$3" ;;
        tofu.throughput) "$bin/compare_tofu" throughput "$THR_N" --procs "$3" ;;
        tofud.latency) "$bin/compare_tofu" latency "$LAT_N" --procs "$3" --defaults ;;
        tofud.throughput) "$bin/compare_tofu" throughput "$DEF_THR_N" --procs "$3" --defaults ;;
        zmq.*) "$bin/compare_zmq" "$2" "$([ "$2" = latency ] && echo "$LAT_N" || echo "$THR_N")" \
            --procs "$3" ;;
        nng.latency) "$bin/compare_nng" latency "$LAT_N" ;;
        nng.throughput) "$bin/compare_nng" throughput "$THR_N_NNG" ;;
        esac >"$f"
    }

    {
        echo "variants: $vars; runs: $RUNS; procs: $PROCS"
        echo "counts: LAT_N=$LAT_N THR_N=$THR_N RAW_THR_N=$RAW_THR_N DEF_THR_N=$DEF_THR_N"
        echo "machine: $(nproc) CPUs, $(uname -sr)"
        echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo '?')"
        echo "started: $(date -u '+%Y-%m-%d %H:%M UTC')"
    } >"$out/info"
    cat "$out/info" >&2
    i=1
    while [ "$i" -le "$RUNS" ]; do
        # Each round starts with another variant (rotate the list by i).
        k=$(( (i - 1) % nvars ))
        order=$(echo "$vars" | awk -v k="$k" '{ for (j = 0; j < NF; j++) printf "%s ", $(1 + (j + k) % NF) }')
        for p in $PROCS; do
            for v in $order; do
                for kind in latency throughput; do
                    printf '  round %d: %s %s, %s process(es)\n' "$i" "$v" "$kind" "$p" >&2
                    run "$v" "$kind" "$p" "$i"
                done
            done
        done
        i=$((i + 1))
    done
    if [ "$NNG" = 1 ] && [ -x "$bin/compare_nng" ]; then
        i=1
        while [ "$i" -le "$RUNS" ]; do
            printf '  round %d: nng, 1 process\n' "$i" >&2
            run nng latency 1 "$i"
            run nng throughput 1 "$i"
            i=$((i + 1))
        done
    fi
    echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo '?')" >>"$out/info"
    echo "ended: $(date -u '+%Y-%m-%d %H:%M UTC')" >>"$out/info"
fi

python3 "$here/compare_report.py" "$out"
