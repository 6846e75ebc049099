#!/usr/bin/env python3
"""The tables of bench/compare.sh, from the outputs in one results directory.

    python3 bench/compare_report.py build-bench/compare-results

Files are named VAR.KIND.pPROCS.RUN (compare.sh writes them); each holds
the lines of compare_raw / compare_tofu / compare_zmq / compare_nng:

    tcp   64 B  round trip: median   13.77 us  p99   67.76 us  min ...
    tcp     64 B    36013074 msgs/s    2304.8 MB/s  (300000 messages, ...)

Prints, per process layout, one table (rows: measurements; columns:
variants; cells: median of the runs / worst run) and then the ratios the
goals of issue 14 are stated in. "worst" is the slowest run: the highest
round trip, the lowest rate. A ratio's "median" column divides the medians,
its "worst" column the two worst runs.
"""
import os
import re
import statistics
import sys

NAMES = {"raw": "raw (batched)", "raw1": "raw (1 write/msg)", "tofu": "libtofu tuned",
         "tofud": "libtofu defaults", "zmq": "ZeroMQ", "nng": "NNG"}
ORDER = ["raw", "raw1", "tofu", "tofud", "zmq", "nng"]
SIZES = {64: "64 B", 1024: "1 KiB", 16384: "16 KiB"}

LAT = re.compile(r"^(\w+)\s+(\d+) B\s+round trip: median\s+([\d.]+) us\s+p99\s+([\d.]+) us")
THR = re.compile(r"^(\w+)\s+(\d+) B\s+([\d.]+) msgs/s")


def load(d):
    """{(var, procs, key): [values]}; key is ('p50'|'p99', tr, size) or
    ('thr', tr, size)."""
    data = {}
    for f in sorted(os.listdir(d)):
        parts = f.split(".")
        if len(parts) != 4 or not parts[2].startswith("p"):
            continue
        var, kind, procs = parts[0], parts[1], int(parts[2][1:])
        with open(os.path.join(d, f)) as fh:
            for line in fh:
                m = LAT.match(line)
                if m and kind == "latency":
                    tr, size = m.group(1), int(m.group(2))
                    data.setdefault((var, procs, ("p50", tr, size)), []).append(float(m.group(3)))
                    data.setdefault((var, procs, ("p99", tr, size)), []).append(float(m.group(4)))
                    continue
                m = THR.match(line)
                if m and kind == "throughput":
                    tr, size = m.group(1), int(m.group(2))
                    data.setdefault((var, procs, ("thr", tr, size)), []).append(float(m.group(3)))
    return data


def higher_better(key):
    return key[0] == "thr"


def med(v):
    return statistics.median(v) if v else None


def worst(v, key):
    if not v:
        return None
    return min(v) if higher_better(key) else max(v)


def fmt(x):
    if x is None:
        return "-"
    if x >= 100000:
        return "%.2fM" % (x / 1e6)
    if x >= 1000:
        return "%.0f" % x
    return "%.1f" % x


def label(key):
    what, tr, size = key
    if what == "thr":
        return "%s %s one-way, msgs/s" % (tr, SIZES.get(size, size))
    return "%s %s round trip %s, us" % (tr, SIZES.get(size, size), what)


def keys_of(data):
    ks = {k for (_, _, k) in data}
    order = {"p50": 0, "p99": 1, "thr": 2}
    return sorted(ks, key=lambda k: (order[k[0]] if k[0] == "thr" else 0, k[1], k[2],
                                     order[k[0]]))


def table(data, procs, variants):
    runs = max((len(v) for (var, p, _), v in data.items() if p == procs), default=0)
    head = "in one process (server thread)" if procs == 1 else "two processes (server forked)"
    print("\n#### %s: median / worst of %d runs\n" % (head, runs))
    print("| %s | %s |" % ("measurement", " | ".join(NAMES[v] for v in variants)))
    print("|---|%s" % ("---:|" * len(variants)))
    for k in keys_of(data):
        cells = []
        for v in variants:
            vals = data.get((v, procs, k), [])
            cells.append("-" if not vals else "%s / %s" % (fmt(med(vals)), fmt(worst(vals, k))))
        if all(c == "-" for c in cells):
            continue
        print("| %s | %s |" % (label(k), " | ".join(cells)))


# (label, numerator variant, denominator variant, key template, goal, sense)
# sense ">=": the ratio must reach goal; "<=": must not pass it.
RATIOS = [
    ("goal 2: 64 B msgs/s, libtofu / ZeroMQ", "tofu", "zmq", ("thr", 64), 2.0, ">="),
    ("goal 2: 1 KiB msgs/s, libtofu / ZeroMQ", "tofu", "zmq", ("thr", 1024), 2.5, ">="),
    ("goal 2: 16 KiB msgs/s, libtofu / raw batched", "tofu", "raw", ("thr", 16384), 0.8, ">="),
    ("goal 3: 64 B round trip p50, libtofu / raw", "tofu", "raw", ("p50", 64), 2.0, "<="),
    ("goal 3: 1 KiB round trip p50, libtofu / raw", "tofu", "raw", ("p50", 1024), 2.0, "<="),
    ("goal 3: 64 B round trip p99, libtofu / ZeroMQ", "tofu", "zmq", ("p99", 64), 1.0, "<="),
    ("goal 3: 1 KiB round trip p99, libtofu / ZeroMQ", "tofu", "zmq", ("p99", 1024), 1.0, "<="),
    ("goal 1: 64 B msgs/s, defaults / tuned", "tofud", "tofu", ("thr", 64), 0.9, ">="),
    ("goal 1: 1 KiB msgs/s, defaults / tuned", "tofud", "tofu", ("thr", 1024), 0.9, ">="),
    ("goal 1: 16 KiB msgs/s, defaults / tuned", "tofud", "tofu", ("thr", 16384), 0.9, ">="),
    ("goal 1: 64 B round trip p50, defaults / tuned", "tofud", "tofu", ("p50", 64), 1.1, "<="),
    ("goal 1: 1 KiB round trip p50, defaults / tuned", "tofud", "tofu", ("p50", 1024), 1.1, "<="),
    ("64 B msgs/s, libtofu / raw batched", "tofu", "raw", ("thr", 64), None, ">="),
    ("64 B msgs/s, libtofu / raw 1 write per msg", "tofu", "raw1", ("thr", 64), None, ">="),
    ("64 B msgs/s, ZeroMQ / raw batched", "zmq", "raw", ("thr", 64), None, ">="),
    ("64 B round trip p50, ZeroMQ / raw", "zmq", "raw", ("p50", 64), None, "<="),
]


def ratio_cell(data, procs, num, den, key, goal, sense):
    a, b = data.get((num, procs, key)), data.get((den, procs, key))
    if not a or not b:
        return "-", "-"
    out = []
    for x, y in ((med(a), med(b)), (worst(a, key), worst(b, key))):
        r = x / y if y else float("inf")
        ok = goal is None or (r >= goal if sense == ">=" else r <= goal)
        out.append("%.2f%s" % (r, "" if ok else " ✗"))
    return out


def ratios(data, layouts):
    cols = [(p, tr) for p in layouts for tr in ("tcp", "uds")]
    print("\n#### Ratios (median: medians divided; worst: worst runs divided; "
          "✗ = goal not met)\n")
    head = " | ".join("%s %s med | worst" % ("1 proc" if p == 1 else "2 procs", tr)
                      for p, tr in cols)
    print("| ratio | goal | %s |" % head)
    print("|---|---|%s" % ("---:|---:|" * len(cols)))
    for name, num, den, (what, size), goal, sense in RATIOS:
        cells = []
        for p, tr in cols:
            cells.extend(ratio_cell(data, p, num, den, (what, tr, size), goal, sense))
        if all(c == "-" for c in cells):
            continue
        g = "-" if goal is None else "%s %.2g" % (sense.replace(">=", "≥").replace("<=", "≤"),
                                                  goal)
        print("| %s | %s | %s |" % (name, g, " | ".join(cells)))


def main():
    d = sys.argv[1] if len(sys.argv) > 1 else "build-bench/compare-results"
    data = load(d)
    info = os.path.join(d, "info")
    if os.path.exists(info):
        with open(info) as fh:
            for line in fh:
                print("    " + line.rstrip())
    layouts = sorted({p for (_, p, _) in data})
    for p in layouts:
        variants = [v for v in ORDER if any(var == v and pp == p for (var, pp, _) in data)]
        table(data, p, variants)
    ratios(data, layouts)


if __name__ == "__main__":
    main()
