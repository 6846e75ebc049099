"""Python against the C tools: a Python client against `tofucat listen
--echo`, and a Python server against `tofucat connect`."""
import re
import subprocess
import threading

import tofu
from client import ask
from server import serve


def test_python_client_against_c_tofucat(tofucat):
    proc = subprocess.Popen([tofucat, "listen", "tcp://127.0.0.1:0", "--echo", "--quiet"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        line = proc.stdout.readline()
        m = re.search(r"tcp://127\.0\.0\.1:(\d+)", line)
        assert m, line
        answers = ask(tofu.tcp("127.0.0.1", int(m.group(1))), [b"ping", b"x" * 60000])
        assert answers == [b"ping", b"x" * 60000]
    finally:
        proc.terminate()
        proc.wait(10)


def test_python_server_against_c_client(tofucat):
    with tofu.Engine() as engine, engine.group() as group:
        listener = group.listen(tofu.tcp("127.0.0.1", 0))
        port = listener.address.rsplit("|", 1)[1]
        result = {}
        thread = threading.Thread(target=lambda: result.setdefault("n", serve(group)))
        thread.start()
        try:
            out = subprocess.run(
                [tofucat, "connect", f"tcp://127.0.0.1:{port}", "--data", "hello",
                 "--data", "world", "--timeout", "10000"],
                capture_output=True, text=True, timeout=30)
        finally:
            group.wake()
            thread.join(10)
        assert out.returncode == 0, out.stderr
        assert "HELLO" in out.stdout and "WORLD" in out.stdout, out.stdout
        assert result["n"] == 2
