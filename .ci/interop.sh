#!/usr/bin/env bash
# Cross-platform interop: a native Linux tofucat and the Windows tofucat.exe
# (MinGW-w64 build, run under Wine) exchange echoes over TCP loopback, each
# way round, with Requests and with Signals.
#
# Usage: .ci/interop.sh [NATIVE_BUILD_DIR [WINDOWS_BUILD_DIR]]
#   defaults: build-ci-gcc and build-ci-windows (both made earlier by .ci/run);
#   a missing tofucat is built (only that target). Wine is set up as
#   .ci/windows.sh does: prefix in the Windows build dir, one persistent
#   server, stopped on exit.
# Output: one PASS/FAIL line per case, then "interop: N passed, M failed".
# Exit status 0 only when every case passed.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
started=$(date +%s)

abs() { case $1 in /*) echo "$1" ;; *) echo "$root/$1" ;; esac; }
native_dir=$(abs "${1:-build-ci-gcc}")
windows_dir=$(abs "${2:-build-ci-windows}")

# ---- tools (as .ci/windows.sh: a fresh Debian 12, as root) ----
want=(cmake make gcc python3 gcc-mingw-w64-x86-64 wine64)
missing=()
for pkg in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
wine=/usr/lib/wine/wine64
wineserver=/usr/lib/wine/wineserver

# ---- the two programs ----
native=$native_dir/tools/tofucat/tofucat
windows=$windows_dir/tools/tofucat/tofucat.exe
if [ ! -x "$native" ]; then
  echo "building $native"
  [ -f "$native_dir/CMakeCache.txt" ] ||
    cmake -S . -B "$native_dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build "$native_dir" -j2 --target tofucat >/dev/null
fi
if [ ! -f "$windows" ]; then
  echo "building $windows"
  [ -f "$windows_dir/CMakeCache.txt" ] ||
    cmake -S . -B "$windows_dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DCMAKE_TOOLCHAIN_FILE="$root/cmake/mingw-w64-x86_64.cmake" >/dev/null
  cmake --build "$windows_dir" -j2 --target tofucat >/dev/null
fi

# ---- Wine: the prefix of the Windows build, headless, one persistent server ----
export WINEPREFIX=$windows_dir/wineprefix
export WINEDEBUG=-all WINEARCH=win64 WINEDLLOVERRIDES="mscoree,mshtml="
unset DISPLAY
work=$(mktemp -d)
cleanup() {
  "$wineserver" -k >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
if [ ! -f "$WINEPREFIX/system.reg" ]; then
  echo "creating Wine prefix $WINEPREFIX"
  "$wine" wineboot --init </dev/null >/dev/null 2>&1
  "$wineserver" -w
fi
# Fails (status 2) when a server of this prefix already runs: that one serves.
"$wineserver" -p </dev/null >/dev/null 2>&1 || true
# Wine's background services start with the first program on a new server
# and inherit its output: started here on /dev/null (WINDOWS-TESTING.md).
"$wine" wineboot </dev/null >/dev/null 2>&1

# ---- payloads ----
# A binary file of 70000 bytes (every byte value, NUL, CR, LF, invalid
# UTF-8): two parts on the wire, the first with the `more` flag.
bin=$work/payload.bin
python3 - "$bin" <<'EOF'
import random, sys
r = random.Random(20251125)
data = bytes(range(256)) + b"\r\n\n\r\x00" + bytes(r.randrange(256) for _ in range(70000 - 261))
open(sys.argv[1], "wb").write(data)
EOF
# Command-line strings: spaces, quotes, backslashes, UTF-8.
data=("hello" "two  words " 'quote " and \ backslash' "héllo wörld €" "")
count=3
header="x-trace:7"

# The program for a side: "linux" or "windows" (the .exe under Wine). A file
# path for the Windows program is its Z: drive path.
prog() { if [ "$1" = linux ]; then echo "$native"; else echo "$wine $windows"; fi; }
file_arg() { if [ "$1" = linux ]; then echo "$bin"; else echo "Z:${bin//\//\\}"; fi; }

passed=0
failed=0

# run_case NAME SERVER CLIENT MODE (request|signal)
run_case() {
  local name=$1 server=$2 client=$3 mode=$4
  local d=$work/$name t0 port="" srv_pid srv_rc=0 cli_rc=0 why=""
  mkdir -p "$d"
  t0=$(date +%s%N)
  local n=$(( (${#data[@]} + 2) * count )) # data strings + two file parts, count times
  local extra=()
  [ "$mode" = signal ] && extra=(--signal)
  # shellcheck disable=SC2046
  timeout 60 $(prog "$server") listen tcp://127.0.0.1:0 --echo --max-messages "$n" \
    --format json >"$d/server.out" 2>"$d/server.err" &
  srv_pid=$!
  # The real port, from the first line: {"listening":"tcp://127.0.0.1:PORT"}
  # with --format json (CR LF on Windows).
  for _ in $(seq 400); do
    port=$(head -n 1 "$d/server.out" 2>/dev/null | tr -d '\r' |
      sed -n 's|^{"listening":"tcp://127\.0\.0\.1:\([0-9][0-9]*\)"}$|\1|p')
    [ -n "$port" ] && break
    kill -0 "$srv_pid" 2>/dev/null || break
    sleep 0.05
  done
  if [ -z "$port" ]; then
    why="no 'listening' line from the $server listener"
    kill "$srv_pid" 2>/dev/null || true
    wait "$srv_pid" || true
  else
    # shellcheck disable=SC2046
    timeout 60 $(prog "$client") connect "tcp://127.0.0.1:$port" "${data[@]/#/--data=}" \
      --file "$(file_arg "$client")" --count "$count" --data-header "$header" \
      --format json --timeout 20000 "${extra[@]}" >"$d/client.out" 2>"$d/client.err" || cli_rc=$?
    wait "$srv_pid" || srv_rc=$?
    if [ "$cli_rc" -ne 0 ]; then
      why="$client client exited with $cli_rc"
    elif [ "$srv_rc" -ne 0 ]; then
      why="$server server exited with $srv_rc"
    else
      why=$(python3 - "$mode" "$count" "$bin" "$header" "$d/client.out" "$d/server.out" "${data[@]}" <<'EOF'
import base64, json, sys
mode, count, binpath, header, cli, srv = sys.argv[1:7]
strings = sys.argv[7:]
op = "Request" if mode == "request" else "Signal"
reply = "Response" if mode == "request" else "Signal"
blob = open(binpath, "rb").read()
parts = [blob[i:i + 65535] for i in range(0, len(blob), 65535)]
one = [(s.encode("utf-8"), False) for s in strings]
one += [(p, i < len(parts) - 1) for i, p in enumerate(parts)]
want = one * int(count)
name, value = header.split(":", 1)

def load(path, skip_listening):
    out = []
    with open(path, "rb") as f:
        for i, raw in enumerate(f):
            line = raw.rstrip(b"\r\n").decode("utf-8")
            if skip_listening and i == 0 and line.startswith('{"listening":'):
                continue
            out.append(json.loads(line))
    return out

def body(m):
    if "body_base64" in m:
        return base64.b64decode(m["body_base64"])
    return m["body"].encode("utf-8")

def check(side, msgs, opname):
    got = [m for m in msgs if m["op"] == opname and m["origin"] == "application"]
    if len(got) != len(want):
        return None, f"{side}: {len(got)} {opname}s, expected {len(want)}"
    for i, (m, (b, more)) in enumerate(zip(got, want)):
        if body(m) != b:
            return None, f"{side}: {opname} #{i + 1} (id {m['id']}): body differs ({len(body(m))} bytes, expected {len(b)})"
        if m["more"] != more or m["status"] != "success" or m["headers"] != [[name, value]]:
            return None, f"{side}: {opname} #{i + 1} (id {m['id']}): more/status/headers wrong: {m['more']} {m['status']} {m['headers']}"
    return got, None

try:
    c = load(cli, False)
    s = load(srv, True)
    sent, err = check("server", s, op)
    if err is None:
        back, err = check("client", c, reply)
    if err is None:
        ids = [m["id"] for m in sent]
        # One id per Request: the parts of a file (more set on all but the
        # last) share theirs; nothing else may repeat one.
        firsts = [m["id"] for i, m in enumerate(sent) if i == 0 or not sent[i - 1]["more"]]
        if len(set(firsts)) != len(firsts):
            err = "message ids repeat"
        elif [m["id"] for m in back] != ids:
            err = f"ids differ: sent {ids}, echoed {[m['id'] for m in back]}"
    if err is None:
        last = c[-1] if c else {}
        if not (last.get("op") == "Signal" and last.get("origin") == "engine"
                and ["~reason", "channel_closed"] in last.get("headers", [])):
            err = "client: the session did not end gracefully"
        elif not any(m["op"] == "HelloResponse" for m in c):
            err = "client: no HelloResponse"
except Exception as e:  # malformed JSON, a missing key
    err = f"bad output: {type(e).__name__}: {e}"
print(err or "")
EOF
      ) || why="the check itself failed"
    fi
  fi
  local ms=$(( ($(date +%s%N) - t0) / 1000000 ))
  if [ -z "$why" ]; then
    echo "PASS $name ($ms ms)"
    passed=$((passed + 1))
  else
    echo "FAIL $name: $why ($ms ms)"
    failed=$((failed + 1))
    for f in "$d"/*; do
      echo "--- $(basename "$f") (last lines)"
      tail -n 5 "$f" | cut -c1-200
    done
  fi
}

run_case linux-listen.windows-connect.request linux windows request
run_case windows-listen.linux-connect.request windows linux request
run_case linux-listen.windows-connect.signal linux windows signal
run_case windows-listen.linux-connect.signal windows linux signal

echo "interop: $passed passed, $failed failed in $(( $(date +%s) - started )) s"
[ "$failed" -eq 0 ]
