#!/usr/bin/env python3
"""tofucat against tofucat: end-to-end tests of the command-line tool.

Usage: test_tofucat.py --tofucat PATH [--runner PROG]... [--windows] CASE [TRANSPORT]

Cases named transport_case_<name> run once per transport (tcp4, tcp6, uds,
abstract); cases named case_<name> run once. CTest registers one entry per
case and transport (tests/tofucat/CMakeLists.txt reads the names from this
file). Exit 0: passed; 77: skipped (the transport is missing here); other:
failed, with the reason on stderr.

Every process gets a hard time limit, so a hang is a failure, never a stuck
test run.

A Windows tofucat.exe (cross-build) is started through --runner (CMake's
CMAKE_CROSSCOMPILING_EMULATOR, Wine) while this script runs on the Linux
host; --windows says the tool is a Windows program. Then: its output lines end
in CR LF (accepted everywhere here); Unix-socket cases first ask the tool
itself whether it can listen on a socket file and are skipped (77) when it
answers listen_failed (no AF_UNIX, as under Wine); a listener is stopped with
Ctrl-C (Wine turns SIGINT into a CTRL_C_EVENT), because a Windows process gets
no SIGTERM from another process (docs/platforms.md).
"""
import argparse
import base64
import json
import os
import queue
import re
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

SKIP = 77
TOFUCAT = None  # the command that starts tofucat: [runner..., path]
WINDOWS = False  # tofucat is a Windows program (stop with Ctrl-C, CR LF)
LIMIT_S = 20  # hard limit for any single tofucat run


class Failure(Exception):
    pass


def check(cond, what, *context):
    if not cond:
        detail = "\n".join(str(c) for c in context)
        raise Failure(what + ("\n" + detail if detail else ""))


def skip(why):
    print("SKIPPED: " + why)
    sys.exit(SKIP)


# ---------------------------------------------------------------- addresses

_counter = [0]


def _unique():
    _counter[0] += 1
    return "%d_%d" % (os.getpid(), _counter[0])


def ipv6_available():
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


_uds_checked = []


def require_uds():
    """Skips unless tofucat can listen on a socket file here. Only a Windows
    tofucat may lack AF_UNIX (Wine, Windows before 1803): it is asked at run
    time; on POSIX Unix-domain sockets always exist."""
    if not hasattr(socket, "AF_UNIX"):
        skip("no Unix-domain sockets on this host")
    if not WINDOWS or _uds_checked:
        return
    path = "/tmp/tofucat_probe_%s.sock" % _unique()
    p = subprocess.Popen(TOFUCAT + ["listen", "uds://" + path], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    try:
        first = p.stdout.readline()
        if first.startswith(b"listening on "):
            _uds_checked.append(True)
            return
        p.wait(LIMIT_S)
        err = p.stderr.read().decode("utf-8", "replace")
        if p.returncode == 1 and err.startswith("tofucat: listen_failed"):
            skip("AF_UNIX unavailable to tofucat here (%s)" % err.strip())
        raise Failure("uds probe: exit %s, stdout %r" % (p.returncode, first), err)
    finally:
        if p.poll() is None:
            p.kill()
        p.wait()
        p.stdout.close()
        p.stderr.close()
        if os.path.exists(path):
            os.unlink(path)


def listen_url(transport):
    """The ADDRESS to listen on for a transport (port 0: any free port)."""
    if transport == "tcp4":
        return "tcp://127.0.0.1:0"
    if transport == "tcp6":
        if not ipv6_available():
            skip("no IPv6 loopback")
        return "tcp://[::1]:0"
    if transport == "uds":
        require_uds()
        directory = os.environ.get("TMPDIR", "/tmp")
        if len(directory) > 60:
            directory = "/tmp"  # sun_path is short
        return "uds://" + os.path.join(directory, "tofucat_%s.sock" % _unique())
    if transport == "abstract":
        if WINDOWS or not sys.platform.startswith("linux"):
            skip("abstract socket names exist on Linux only")
        return "uds://@tofucat_%s" % _unique()
    raise Failure("unknown transport " + transport)


def refusing_tcp_port(family):
    """A socket bound to a free loopback port without listening: connects to
    it are refused, and while it is open no other test can take the port
    (it has no SO_REUSEADDR). Close it after use."""
    host = "127.0.0.1" if family == socket.AF_INET else "::1"
    s = socket.socket(family, socket.SOCK_STREAM)
    s.bind((host, 0))
    return s


# ---------------------------------------------------------------- processes


def run(args, stdin=b"", limit=LIMIT_S):
    """Runs tofucat to completion; returns (rc, stdout bytes, stderr text)."""
    try:
        p = subprocess.run(TOFUCAT + args, input=stdin, capture_output=True, timeout=limit)
    except subprocess.TimeoutExpired:
        raise Failure("tofucat %s hung for %d s" % (" ".join(args), limit))
    return p.returncode, p.stdout, p.stderr.decode("utf-8", "replace")


def connect(url, *args, stdin=b"", expect_rc=0, limit=LIMIT_S):
    rc, out, err = run(["connect", url] + list(args), stdin=stdin, limit=limit)
    check(rc == expect_rc, "connect %s: exit %d, expected %d" % (list(args), rc, expect_rc),
          "stdout:", out.decode("utf-8", "replace"), "stderr:", err)
    return out, err


def listening_url(line):
    """The address of listen's first line: 'listening on URL', or, with
    --format json, {"listening": URL}; None for anything else."""
    if line is None:
        return None
    if line.startswith(b"listening on "):
        return line[len(b"listening on "):].decode()
    try:
        return json.loads(line)["listening"]
    except (ValueError, KeyError, TypeError):
        return None


class Listener:
    """A `tofucat listen` process; its stdout lines are collected by a thread."""

    def __init__(self, transport, *args, address=None):
        self.args = ["listen", address or listen_url(transport)] + list(args)
        self.proc = subprocess.Popen(TOFUCAT + self.args, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE)
        self.lines = queue.Queue()
        self.all_lines = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        first = self.next_line(10)
        self.url = listening_url(first)
        check(self.url is not None,
              "expected 'listening on ADDRESS' (JSON: {\"listening\": ADDRESS}), got %r" % (first,),
              self._stderr_now())
        check(not self.url.endswith(":0"), "the real port must be shown: " + self.url)

    def _read(self):
        for line in self.proc.stdout:
            self.lines.put(line.rstrip(b"\r\n"))  # LF, or CR LF on Windows
        self.lines.put(None)

    def _stderr_now(self):
        if self.proc.poll() is None:
            return ""
        return self.proc.stderr.read().decode("utf-8", "replace")

    def next_line(self, timeout_s):
        try:
            line = self.lines.get(timeout=timeout_s)
        except queue.Empty:
            return None
        if line is not None:
            self.all_lines.append(line)
        return line

    def wait_lines(self, pred, timeout_s=10):
        """Reads lines until pred(all lines so far) holds."""
        deadline = time.monotonic() + timeout_s
        while not pred(self.all_lines):
            left = deadline - time.monotonic()
            check(left > 0 and self.next_line(left) is not None,
                  "listener output never matched", self.all_lines)

    def wait_exit(self, timeout_s=10):
        try:
            rc = self.proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise Failure("tofucat listen did not exit within %d s" % timeout_s)
        self.reader.join(5)
        while self.next_line(0) is not None:
            pass
        return rc

    def stop(self, sig=None):
        """Sends sig (default: SIGTERM, on Windows Ctrl-C), expects a clean
        exit 0; returns the stdout lines."""
        if sig is None:
            sig = stop_signal()
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        rc = self.wait_exit()
        check(rc == 0, "listen exited %d after %s" % (rc, sig), self.proc.stderr.read())
        return self.all_lines

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()

    def __enter__(self):
        return self

    def socket_file(self):
        """The listener's socket file, or None (TCP, abstract names)."""
        return self.url[len("uds://"):] if self.url.startswith("uds:///") else None

    def __exit__(self, *exc):
        self.kill()
        self.proc.stdout.close()
        self.proc.stderr.close()
        # A killed listener cannot remove its socket file.
        path = self.socket_file()
        if path is not None and os.path.exists(path):
            os.unlink(path)


def stop_signal():
    """How the tests stop a listener: SIGTERM; for a Windows tofucat SIGINT,
    which Wine delivers as a console CTRL_C_EVENT (Windows has no SIGTERM
    from another process)."""
    return signal.SIGINT if WINDOWS else signal.SIGTERM


# ---------------------------------------------------------------- output


def json_lines(out):
    """Parses connect/listen output as JSON Lines, checking every field."""
    msgs = []
    for raw in out.splitlines() if isinstance(out, bytes) else out:
        try:
            m = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as e:
            raise Failure("not a JSON line: %r (%s)" % (raw, e))
        if len(m) == 1 and ("listening" in m or "peer" in m):  # listen's own lines
            continue
        check_json_message(m, raw)
        msgs.append(m)
    return msgs


def check_json_message(m, raw):
    keys = {"op", "channel", "id", "status", "origin", "more", "headers", "body"}
    check(keys <= set(m), "missing keys in %r" % raw)
    check(set(m) - keys <= {"body_base64"}, "unexpected keys in %r" % raw)
    check(isinstance(m["op"], str) and isinstance(m["status"], str), "op/status: %r" % raw)
    check(isinstance(m["channel"], int) and isinstance(m["id"], int), "channel/id: %r" % raw)
    check(m["origin"] in ("application", "engine"), "origin: %r" % raw)
    check(isinstance(m["more"], bool), "more: %r" % raw)
    check(isinstance(m["body"], str), "body: %r" % raw)
    check(isinstance(m["headers"], list) and
          all(isinstance(h, list) and len(h) == 2 and all(isinstance(x, str) for x in h)
              for h in m["headers"]), "headers: %r" % raw)


def body_bytes(m):
    """The exact body bytes of a JSON message."""
    if "body_base64" in m:
        return base64.b64decode(m["body_base64"])
    return m["body"].encode("utf-8")


def ops(msgs):
    return [m["op"] for m in msgs]


def app(msgs, op=None):
    return [m for m in msgs if m["origin"] == "application" and (op is None or m["op"] == op)]


def expect_session_ops(msgs, data_op, n):
    """HelloResponse, n replies, ByeResponse, then the close Signal."""
    want = ["HelloResponse"] + [data_op] * n + ["ByeResponse", "Signal"]
    check(ops(msgs) == want, "ops %s, expected %s" % (ops(msgs), want))
    close = msgs[-1]
    check(close["origin"] == "engine" and close["status"] == "channel_closed",
          "last must be the close Signal", close)
    check(["~reason", "channel_closed"] in close["headers"], "graceful close reason", close)


# ---------------------------------------------------------------- per-transport cases


def transport_case_echo_text(transport):
    with Listener(transport, "--echo") as ls:
        out, _ = connect(ls.url, "--data", "hello", "--data", "w\u00f6rld \"quoted\"")
        text = out.decode("utf-8")
        lines = text.splitlines()
        check(len(lines) == 5, "5 lines expected", text)
        check(lines[0].startswith("HelloResponse channel="), "hello line", text)
        check('body="hello"' in lines[1] and lines[1].startswith("Response "), "first echo", text)
        check('body="w\u00f6rld \\"quoted\\""' in lines[2], "second echo (UTF-8 kept)", text)
        check(lines[3].startswith("ByeResponse "), "bye line", text)
        check("status=channel_closed" in lines[4] and "origin=engine" in lines[4], "close", text)
        ls.stop()
        got = b"\n".join(ls.all_lines).decode("utf-8")
        check("HelloRequest" in got and 'body="hello"' in got and "ByeRequest" in got,
              "the listener prints what it receives", got)


def transport_case_echo_binary(transport):
    small = bytes(range(256)) * 3
    big = bytes((i * 7 + 3) & 0xFF for i in range(70000))  # two parts: 65535 + 4465
    with tempfile.TemporaryDirectory() as d, Listener(transport, "--echo") as ls:
        paths = []
        for name, data in (("small", small), ("big", big)):
            p = os.path.join(d, name)
            with open(p, "wb") as f:
                f.write(data)
            paths.append(p)
        out, _ = connect(ls.url, "--file", paths[0], "--format", "json")
        msgs = json_lines(out)
        expect_session_ops(msgs, "Response", 1)
        check(body_bytes(msgs[1]) == small, "binary body echoed byte for byte")
        check("body_base64" in msgs[1], "non-UTF-8 body has body_base64")
        out, _ = connect(ls.url, "--file", paths[1], "--format", "json")
        msgs = json_lines(out)
        expect_session_ops(msgs, "Response", 2)
        check(body_bytes(msgs[1]) + body_bytes(msgs[2]) == big, "large file in two parts")
        check(len(body_bytes(msgs[1])) == 65535, "first part is a full body")
        check(msgs[1]["more"] is True and msgs[2]["more"] is False, "more on all but the last")


def transport_case_json_output(transport):
    with Listener(transport, "--echo", "--format", "json") as ls:
        out, _ = connect(ls.url, "--data", "a\tb\n", "--data", "", "--header", "client:tofucat",
                         "--data-header", "kind:test", "--format", "json")
        msgs = json_lines(out)
        expect_session_ops(msgs, "Response", 2)
        hello = msgs[0]
        check(hello["origin"] == "application" and hello["status"] == "success", "hello", hello)
        check(["client", "tofucat"] in hello["headers"], "--header on the HelloRequest", hello)
        check(any(h[0] == "~connect_to" for h in hello["headers"]), "~connect_to", hello)
        check(msgs[1]["body"] == "a\tb\n" and msgs[2]["body"] == "", "bodies", msgs)
        check(all(["kind", "test"] in m["headers"] for m in msgs[1:3]), "--data-header", msgs)
        ids = [m["id"] for m in msgs[1:3]]
        check(len(set(ids)) == 2 and all(i > 0 for i in ids), "distinct message ids", ids)
        channel = hello["channel"]
        check(all(m["channel"] == channel for m in msgs), "one channel", msgs)
        ls.stop()
        seen = json_lines(ls.all_lines)
        check(ops(app(seen)) == ["HelloRequest", "Request", "Request", "ByeRequest"],
              "listener JSON ops", ops(seen))
        reqs = app(seen, "Request")
        check([m["id"] for m in reqs] == ids, "the Responses carry the Requests' ids", seen)
        check(seen[-1]["op"] == "Signal" and seen[-1]["origin"] == "engine", "server close")


def transport_case_signal(transport):
    with Listener(transport, "--echo", "--max-messages", "6", "--format", "json") as ls:
        out, _ = connect(ls.url, "--signal", "--data", "s1", "--data", "s2", "--count", "3",
                         "--format", "json")
        msgs = json_lines(out)
        echoed = app(msgs, "Signal")
        check([m["body"] for m in echoed] == ["s1", "s2"] * 3, "six Signals echoed in order",
              ops(msgs))
        check(msgs[-1]["op"] == "Signal" and msgs[-1]["origin"] == "engine" and
              ["~reason", "channel_closed"] in msgs[-1]["headers"], "graceful end", msgs[-1])
        check(ls.wait_exit() == 0, "listen --max-messages 6 exits 0")
        check(len(app(json_lines(ls.all_lines), "Signal")) == 6, "listener got 6 Signals")


def transport_case_count(transport):
    with Listener(transport, "--echo") as ls:
        out, _ = connect(ls.url, "--data", "x", "--data", "y", "--count", "5", "--format", "json")
        msgs = json_lines(out)
        expect_session_ops(msgs, "Response", 10)
        check([m["body"] for m in msgs[1:11]] == ["x", "y"] * 5, "payload list 5 times")
        out, _ = connect(ls.url, "--count", "0", "--data", "never", "--format", "json")
        expect_session_ops(json_lines(out), "Response", 0)


def transport_case_stdin_lines(transport):
    with Listener(transport, "--echo") as ls:
        out, _ = connect(ls.url, "--format", "json", stdin=b"first\nsecond\r\n\nlast")
        msgs = json_lines(out)
        expect_session_ops(msgs, "Response", 4)
        check([m["body"] for m in msgs[1:5]] == ["first", "second", "", "last"], "lines", msgs)


def transport_case_no_echo(transport):
    with Listener(transport, "--format", "json") as ls:
        out, _ = connect(ls.url, "--data", "to be printed", "--format", "json")
        msgs = json_lines(out)
        expect_session_ops(msgs, "Response", 1)
        check(msgs[1]["body"] == "" and msgs[1]["headers"] == [], "empty Response", msgs[1])
        ls.wait_lines(lambda ls_: any(b"to be printed" in x for x in ls_))
        ls.stop()


def transport_case_abort(transport):
    with Listener(transport, "--echo", "--format", "json") as ls:
        out, _ = connect(ls.url, "--data", "x", "--abort", "--format", "json")
        msgs = json_lines(out)
        check(ops(msgs)[:2] == ["HelloResponse", "Response"], "data before the abort", ops(msgs))
        check("ByeResponse" not in ops(msgs), "no ByeResponse after an abort", ops(msgs))
        bye = [m for m in msgs if m["op"] == "ByeSignal"]
        check(len(bye) == 1 and bye[0]["origin"] == "engine" and
              bye[0]["status"] == "channel_closed", "the ByeSignal comes back", msgs)
        check(msgs[-1]["op"] == "Signal" and msgs[-1]["status"] == "channel_closed", "closed")
        # The server sees its channel end without a ByeRequest.
        ls.wait_lines(lambda ls_: any(b'"origin":"engine"' in x and b'"op":"Signal"' in x
                                      for x in ls_))
        seen = json_lines(ls.all_lines)
        check("ByeRequest" not in ops(seen), "no ByeRequest reached the server", ops(seen))
        reason = [h[1] for h in seen[-1]["headers"] if h[0] == "~reason"]
        check(reason and reason[0] in ("communication_failed", "peer_disconnected"),
              "the server's channel closed by the reset", seen[-1])
        ls.stop()


def transport_case_bye_signal(transport):
    """--bye-signal: a ByeSignal without bit 6 goes out after the data; the
    listener answers with its own; the client then resets; both channels end
    as a completed close (channel_closed)."""
    with Listener(transport, "--echo", "--format", "json") as ls:
        out, _ = connect(ls.url, "--data", "x", "--bye-signal", "--format", "json")
        msgs = json_lines(out)
        check(ops(msgs)[:3] == ["HelloResponse", "Response", "ByeSignal"],
              "data, then the server's ByeSignal", ops(msgs))
        check(msgs[2]["origin"] == "application", "the server's ByeSignal came by wire", msgs[2])
        check(msgs[-1]["op"] == "Signal" and msgs[-1]["status"] == "channel_closed", "closed")
        reason = [h[1] for h in msgs[-1]["headers"] if h[0] == "~reason"]
        check(reason == ["channel_closed"], "client ends with channel_closed", msgs[-1])
        ls.wait_lines(lambda ls_: any(b'"origin":"engine"' in x and b'"op":"Signal"' in x
                                      for x in ls_))
        seen = json_lines(ls.all_lines)
        check("ByeSignal" in ops(seen), "the client's ByeSignal reached the server", ops(seen))
        reason = [h[1] for h in seen[-1]["headers"] if h[0] == "~reason"]
        check(reason == ["channel_closed"], "server ends with channel_closed", seen[-1])


def transport_case_max_messages(transport):
    with Listener(transport, "--echo", "--max-messages", "3", "--format", "json") as ls:
        out, _ = connect(ls.url, "--data", "1", "--data", "2", "--data", "3", "--format", "json")
        msgs = json_lines(out)
        check([m["body"] for m in app(msgs, "Response")] == ["1", "2", "3"],
              "every reply arrived before the listener exited", msgs)
        check(msgs[-1]["op"] == "Signal" and ["~reason", "channel_closed"] in msgs[-1]["headers"],
              "graceful end", msgs[-1])
        check(ls.wait_exit() == 0, "listen exits 0 after 3 messages")


def transport_case_server_vanishes(transport):
    ls = Listener(transport, "--echo")
    with ls:
        client = subprocess.Popen(TOFUCAT + ["connect", ls.url, "--timeout", "5000"],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE)
        try:
            client.stdin.write(b"before\n")
            client.stdin.flush()
            first = [client.stdout.readline(), client.stdout.readline()]
            check(b'body="before"' in first[1], "the first Response arrived", first)
            ls.kill()  # SIGKILL: no goodbye
            time.sleep(0.2)
            # communicate() ignores a broken pipe: the client may have
            # noticed first and ended, which is fine.
            out, err = client.communicate(input=b"after\n", timeout=LIMIT_S)
        except subprocess.TimeoutExpired:
            raise Failure("connect hung after the server vanished")
        finally:
            if client.poll() is None:
                client.kill()
                client.wait()
        err = err.decode("utf-8", "replace")
        check(client.returncode == 1, "exit 1 when the server vanished", client.returncode, err)
        check(err.startswith("tofucat: ") and err.count("\n") == 1, "one error line", err)
        named = err.split(":")[1].strip()
        check(named in ("peer_disconnected", "communication_failed", "recv_failed",
                        "send_failed"), "the status is named", err)
        check(b"status=channel_closed origin=engine" in out, "the close Signal is printed", out)


def stop_cleanly(transport, how):
    """A listener that served a client, stopped by `how`: exit 0 (checked by
    Listener.stop), socket file removed; then an idle one stopped the same way."""
    with Listener(transport, "--echo") as ls:
        connect(ls.url, "--data", "x")
        ls.stop(how)
        path = ls.socket_file()
        check(path is None or not os.path.exists(path),
              "the socket file is removed at exit: %s" % path)
    with Listener(transport) as ls2:
        ls2.stop(how)


def transport_case_sigint_cleanup(transport):
    # Ctrl-C: SIGINT on POSIX, a CTRL_C_EVENT on Windows (Wine turns the
    # host's SIGINT into one).
    stop_cleanly(transport, signal.SIGINT)


def transport_case_sigterm_cleanup(transport):
    if WINDOWS:
        skip("SIGTERM: a Windows process gets no SIGTERM from another process "
             "(Wine kills it); sigint_cleanup covers the clean stop there")
    stop_cleanly(transport, signal.SIGTERM)


def transport_case_connect_refused(transport):
    held = None
    if transport == "tcp4":
        held = refusing_tcp_port(socket.AF_INET)
        url, want = "tcp://127.0.0.1:%d" % held.getsockname()[1], "connect_failed"
    elif transport == "tcp6":
        if not ipv6_available():
            skip("no IPv6 loopback")
        held = refusing_tcp_port(socket.AF_INET6)
        url, want = "tcp://[::1]:%d" % held.getsockname()[1], "connect_failed"
    else:
        url = listen_url(transport)  # nothing listens there
        want = "uds_path_not_found" if transport == "uds" else "connect_failed"
    try:
        started = time.monotonic()
        out, err = connect(url, "--data", "x", "--timeout", "5000", expect_rc=1)
    finally:
        if held is not None:
            held.close()
    check(time.monotonic() - started < 6, "refused quickly")
    check(err.startswith("tofucat: " + want), "stderr names " + want, err)
    check(err.count("\n") == 1, "one line", err)
    check(b"status=" + want.encode() in out, "the engine's HelloResponse is printed", out)
    # What the system said (~error), then the hint, on that one line:
    # "tofucat: connect_failed: URL: ECONNREFUSED Connection refused (is a
    # server listening on URL?)"; Windows names it WSAECONNREFUSED.
    said = {"uds": ("ENOENT", "NOT_FOUND")}.get(transport, ("REFUSED",))
    check(any(": " + url + ": " in err and s in err.split(url + ": ", 1)[1] for s in said),
          "stderr says what the system said", err)
    check(err.rstrip().endswith("(is a server listening on %s?)" % url), "stderr hints", err)
    check(b"~error: " in out, "the HelloResponse shows its ~error", out)


def _nobody_there(transport):
    """An ADDRESS where nothing listens yet, and the status a connect to it
    fails with."""
    if transport in ("tcp4", "tcp6"):
        family = socket.AF_INET if transport == "tcp4" else socket.AF_INET6
        if transport == "tcp6" and not ipv6_available():
            skip("no IPv6 loopback")
        held = refusing_tcp_port(family)
        port = held.getsockname()[1]
        held.close()  # refused from now on, free for the listener
        host = "127.0.0.1" if transport == "tcp4" else "[::1]"
        return "tcp://%s:%d" % (host, port), "connect_failed"
    url = listen_url(transport)
    return url, "uds_path_not_found" if transport == "uds" else "connect_failed"


def transport_case_connect_retry(transport):
    """--retry: a connect made before the server listens succeeds once it
    does (0.5 s later); with nothing there until the deadline, the connect
    fails once, after it, naming the last try's status."""
    url, want = _nobody_there(transport)
    client = subprocess.Popen(TOFUCAT + ["connect", url, "--data", "x", "--retry", "20000",
                                         "--format", "json"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        time.sleep(0.5)
        check(client.poll() is None, "connect waits for the server", client.poll())
        with Listener(transport, "--echo", address=url):
            out, err = client.communicate(timeout=LIMIT_S)
    finally:
        if client.poll() is None:
            client.kill()
            client.wait()
    check(client.returncode == 0, "connected once the server listened", client.returncode, err)
    msgs = json_lines(out)
    check(ops(msgs)[:2] == ["HelloResponse", "Response"], "hello answered by the server",
          ops(msgs))
    url, want = _nobody_there(transport)
    started = time.monotonic()
    out, err = connect(url, "--data", "x", "--retry", "500", expect_rc=1)
    check(time.monotonic() - started >= 0.5, "tried until the deadline")
    check(err.startswith("tofucat: " + want), "stderr names " + want, err)
    check(out.count(b"HelloResponse") == 1, "the HelloRequest is answered once", out)


def transport_case_address_in_use(transport):
    with Listener(transport) as first:
        rc, out, err = run(["listen", first.url], limit=10)
        check(rc == 1, "a second listener on a live address fails", rc, err)
        check(err.startswith("tofucat: listen_failed"), "named listen_failed", err)
        check(err.count("\n") == 1, "one line", err)
        check(("ADDRINUSE" in err or "WSAEACCES" in err) and
              err.rstrip().endswith("(another process listens there)"),
              "says the address is in use, with the hint", err)
        first.stop()


# ---------------------------------------------------------------- single cases


def case_bad_arguments(_):
    bad = [
        [],
        ["frobnicate"],
        ["listen"],
        ["connect"],
        ["connect", "tcp://127.0.0.1"],
        ["connect", "tcp://127.0.0.1:0"],
        ["connect", "tcp://127.0.0.1:99999"],
        ["connect", "tcp://:7099"],
        ["connect", "tcp://::1:7099"],
        ["connect", "tcp://[127.0.0.1]:7099"],
        ["connect", "http://127.0.0.1:7099"],
        ["connect", "uds://relative.sock"],
        ["connect", "uds://"],
        ["connect", "uds:///" + "x" * 200],
        ["connect", "127.0.0.1:7099"],
        ["connect", "tcp://127.0.0.1:7099", "extra"],
        ["connect", "tcp://127.0.0.1:7099", "--count"],
        ["connect", "tcp://127.0.0.1:7099", "--count", "-1"],
        ["connect", "tcp://127.0.0.1:7099", "--count", "x"],
        ["connect", "tcp://127.0.0.1:7099", "--timeout", "0"],
        ["connect", "tcp://127.0.0.1:7099", "--header", "novalue"],
        ["connect", "tcp://127.0.0.1:7099", "--header", ":v"],
        ["connect", "tcp://127.0.0.1:7099", "--format", "xml"],
        ["connect", "tcp://127.0.0.1:7099", "--echo"],
        ["connect", "tcp://127.0.0.1:7099", "--abort", "--bye-signal"],
        ["connect", "tcp://127.0.0.1:7099", "--signal=yes"],
        ["connect", "tcp://127.0.0.1:7099", "--file", "a", "--file", "b"],
        ["connect", "tcp://127.0.0.1:7099", "--nope"],
        ["listen", "tcp://127.0.0.1:0", "--data", "x"],
        ["listen", "tcp://127.0.0.1:0", "--max-messages", "0"],
        ["listen", "tcp://127.0.0.1:0", "--abort"],
        ["connect", "tcp://127.0.0.1:7099", "--retry", "0"],
        ["connect", "tcp://127.0.0.1:7099", "--retry", "4294967295"],
        ["listen", "tcp://127.0.0.1:0", "--retry", "100"],
    ]
    for args in bad:
        rc, out, err = run(args, limit=5)
        check(rc == 2, "%r: exit %d, expected 2 (usage)" % (args, rc), err)
        check(err.startswith("tofucat: "), "%r: complaint on stderr" % (args,), err)
        check(out == b"", "%r: nothing on stdout" % (args,), out)
    # A path longer than sun_path says the limit (107 bytes on Linux and
    # Windows, 103 on BSD and macOS).
    rc, out, err = run(["connect", "uds:///" + "x" * 200], limit=5)
    check(re.search("the path is too long: at most [0-9]+ bytes", err) is not None,
          "a path too long names the limit", err)


def case_help_version(_):
    for flag in ("--help", "-h"):
        rc, out, _ = run([flag])
        check(rc == 0 and b"tofucat listen ADDRESS" in out and b"--max-messages" in out,
              flag, out)
    rc, out, _ = run(["connect", "tcp://127.0.0.1:1", "--help"])
    check(rc == 0 and b"Usage" in out, "--help after a command", out)
    for flag in ("--version", "-V"):
        rc, out, _ = run([flag])
        check(rc == 0 and out.startswith(b"tofucat ") and b"libtofu" in out, flag, out)


def case_timeout(_):
    """A peer that accepts but never answers: connect gives up at --timeout."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as srv:
        srv.bind(("127.0.0.1", 0))
        srv.listen(4)
        url = "tcp://127.0.0.1:%d" % srv.getsockname()[1]
        started = time.monotonic()
        rc, out, err = run(["connect", url, "--data", "x", "--timeout", "500"], limit=10)
        took = time.monotonic() - started
        check(rc == 3, "exit 3 on timeout", rc, err)
        check("timeout" in err and "HelloResponse" in err, "names what it waited for", err)
        check(took < 5, "gave up after about 0.5 s, took %.1f s" % took)


def _silent_tofu_peer(srv, stop):
    """Accepts one connection, answers its HelloRequest, then reads and
    answers nothing more until the client leaves (or `stop` is set)."""
    conn, _ = srv.accept()
    with conn:
        conn.settimeout(0.2)
        buf = b""
        answered_hello = False
        while not stop.is_set():
            try:
                chunk = conn.recv(65536)
            except socket.timeout:
                continue
            if not chunk:
                return
            buf += chunk
            if not answered_hello and len(buf) >= 16:
                _, proto, _, mid, thl, bl = struct.unpack(">HBBQHH", buf[:16])
                if len(buf) >= 16 + thl + bl:
                    check(proto & 0x0F == 3, "the first frame is a HelloRequest", proto)
                    conn.sendall(struct.pack(">HBBQHH", 0, 4, 0, mid, 0, 0))
                    answered_hello = True


def case_request_deadline(_):
    """A peer that takes the Request and never answers: --timeout is the
    Request's deadline, the engine answers it (timed_out) and connect exits
    3 naming the Request's id."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as srv:
        srv.bind(("127.0.0.1", 0))
        srv.listen(4)
        stop = threading.Event()
        peer = threading.Thread(target=_silent_tofu_peer, args=(srv, stop))
        peer.start()
        try:
            url = "tcp://127.0.0.1:%d" % srv.getsockname()[1]
            rc, out, err = run(["connect", url, "--data", "x", "--timeout", "300",
                                "--format", "json"], limit=10)
        finally:
            stop.set()
            peer.join()
        check(rc == 3, "exit 3 when the Request timed out", rc, err)
        msgs = json_lines(out)
        req_answer = [m for m in msgs if m["op"] == "Response"]
        check(len(req_answer) == 1 and req_answer[0]["origin"] == "engine"
              and ["~reason", "timed_out"] in req_answer[0]["headers"],
              "the engine's timed_out answer is printed", msgs)
        want = "Request %d got no answer within 300 ms" % req_answer[0]["id"]
        check(err.startswith("tofucat: timeout: ") and want in err, "names the Request", err)


def transport_case_unanswered_request(transport):
    """A listener that stops answering after one Request closes the session:
    the second Request gets the engine's answer (the close reason) before the
    close Signal, and connect exits 1 naming its id."""
    with Listener(transport, "--echo", "--max-messages", "1", "--format", "json") as ls:
        out, err = connect(ls.url, "--data", "1", "--data", "2", "--format", "json",
                           expect_rc=1)
        msgs = json_lines(out)
        answers = app(msgs, "Response")
        check([m["body"] for m in answers] == ["1"], "the first Request answered", msgs)
        engine = [m for m in msgs if m["op"] == "Response" and m["origin"] == "engine"]
        check(len(engine) == 1 and engine[0]["status"] == "channel_closed",
              "the second answered by the engine", msgs)
        check(msgs[-1]["op"] == "Signal" and msgs[-1]["origin"] == "engine",
              "the close Signal comes last", msgs[-1])
        want = "Request %d got no answer" % engine[0]["id"]
        check(err.startswith("tofucat: channel_closed: ") and want in err, "names the Request",
              err)
        ls.wait_exit()


def transport_case_json_every_line(transport):
    """--format json: every line listen prints is JSON, the first included."""
    with Listener(transport, "--echo", "--format", "json") as ls:
        check(ls.all_lines[0].startswith(b"{"), "the first line is JSON", ls.all_lines[0])
        connect(ls.url, "--data", "x")
        lines = ls.stop()
        check(len(lines) > 3, "listen printed the session", lines)
        for line in lines:
            json.loads(line)


def transport_case_raw_saves_bodies(transport):
    """--format raw: listen writes the bodies it receives byte for byte (a
    binary file sent with connect --file arrives whole in its stdout), and
    says where it listens on stderr."""
    data = bytes((i * 13 + 7) & 0xFF for i in range(70000))  # two parts
    with tempfile.TemporaryDirectory() as d:
        src = os.path.join(d, "in.bin")
        with open(src, "wb") as f:
            f.write(data)
        out_path = os.path.join(d, "out.bin")
        with open(out_path, "wb") as out:
            proc = subprocess.Popen(TOFUCAT + ["listen", listen_url(transport), "--echo",
                                               "--format", "raw"],
                                    stdout=out, stderr=subprocess.PIPE)
            try:
                url = listening_url(proc.stderr.readline().rstrip(b"\r\n"))
                check(url is not None, "listen says where it listens, on stderr")
                connect(url, "--file", src, "--quiet")
            finally:
                proc.send_signal(stop_signal())
                proc.wait(timeout=LIMIT_S)
        with open(out_path, "rb") as f:
            got = f.read()
        check(got == data, "stdout holds exactly the bodies received (%d of %d bytes)"
              % (len(got), len(data)))


def transport_case_stdin_sees_server_close(transport):
    """connect reading standard input notices the server's end at once,
    while it waits for the next line (stdin stays open, nothing more comes):
    the session ends without another input line."""
    ls = Listener(transport, "--echo")
    with ls:
        client = subprocess.Popen(TOFUCAT + ["connect", ls.url], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            client.stdin.write(b"first\n")
            client.stdin.flush()
            first = [client.stdout.readline(), client.stdout.readline()]
            check(b'body="first"' in first[1], "the first Response arrived", first)
            ls.stop()  # the listener ends the session: its ByeRequest, then it exits
            rc = client.wait(timeout=LIMIT_S)  # stdin still open: no line will come
        except subprocess.TimeoutExpired:
            raise Failure("connect waited for input after the server ended the session")
        finally:
            if client.poll() is None:
                client.kill()
                client.wait()
            client.stdin.close()
        err = client.stderr.read().decode("utf-8", "replace")
        check(rc in (0, 1), "ended on its own", rc, err)


def transport_case_show_peers(transport):
    """listen --show-peers: a line per new client before its first message,
    with its address; over a Unix socket also its uid (ours: same user)."""
    with Listener(transport, "--echo", "--show-peers", "--format", "json") as ls:
        connect(ls.url, "--data", "x")
        lines = ls.stop()
    peers = [json.loads(l)["peer"] for l in lines if l.startswith(b'{"peer"')]
    check(len(peers) == 1, "one peer line for one client", lines)
    p = peers[0]
    if transport in ("tcp4", "tcp6"):
        check(p["address"].startswith("tcp://"), "a TCP peer's address", p)
    elif not WINDOWS and hasattr(os, "getuid"):
        check(p["uid"] == os.getuid(), "a Unix-socket peer's uid is ours", p)


def case_missing_file_before_connecting(_):
    """connect --file with a file that cannot be read fails before it
    connects: no server is needed to find out."""
    rc, out, err = run(["connect", "tcp://127.0.0.1:1", "--file", "/nonexistent/tofucat-file"])
    check(rc == 1 and "cannot read /nonexistent/tofucat-file" in err, "told at once", rc, err)
    check(b"HelloResponse" not in out, "no connection was tried", out)


def case_tofu_notation(_):
    """The tofu notation is accepted too (uds|path, tcp|host|port)."""
    require_uds()
    with tempfile.TemporaryDirectory(dir="/tmp") as d:
        path = os.path.join(d, "n.sock")
        p = subprocess.Popen(TOFUCAT + ["listen", "uds|" + path, "--echo"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            line = p.stdout.readline()
            check(line.rstrip(b"\r\n") == ("listening on uds://%s" % path).encode(),
                  "announce", line)
            out, _ = connect("uds|" + path, "--data", "n")
            check(b'body="n"' in out, "echo over tofu notation", out)
        finally:
            p.send_signal(stop_signal())
            rc = p.wait(10)
            p.stdout.close()
            p.stderr.close()
        check(rc == 0, "clean exit", rc)


# ---------------------------------------------------------------- main


def main():
    global TOFUCAT
    ap = argparse.ArgumentParser()
    ap.add_argument("--tofucat", required=True)
    ap.add_argument("--runner", action="append", default=[],
                    help="program (and arguments, one per --runner) that starts tofucat, "
                         "e.g. Wine for a cross-built tofucat.exe")
    ap.add_argument("--windows", action="store_true", help="tofucat is a Windows program")
    ap.add_argument("case")
    ap.add_argument("transport", nargs="?")
    a = ap.parse_args()
    global WINDOWS
    TOFUCAT = a.runner + [a.tofucat]
    WINDOWS = a.windows
    fn = globals().get(("transport_case_" if a.transport else "case_") + a.case)
    if fn is None:
        print("unknown case " + a.case, file=sys.stderr)
        return 2
    try:
        fn(a.transport)
    except Failure as e:
        print("FAILED: %s" % e, file=sys.stderr)
        return 1
    print("passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
