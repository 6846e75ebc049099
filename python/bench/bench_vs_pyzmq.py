"""tofu (Python) against pyzmq, side by side, same machine, same run.

    python bench/bench_vs_pyzmq.py [--quick] [--runs N] [--only WORD]

--runs N repeats the whole table N times, tofu and pyzmq interleaved in
every run (the order swaps from run to run), then prints the median of the
runs with their range [min-max]; the ratio column is the median of the
per-run ratios. --only keeps the tests whose name has all these words
(e.g. "sync", "latency", "asyncio 64").

For each library, message size (64 B, 1 KiB) and flavour (sync, asyncio):
  latency     round trips of one message, client and server in two
              processes over TCP loopback: tofu Request/Response, zmq
              REQ/REP. Mean and median microseconds per round trip.
  throughput  one-way messages from one process to another over TCP
              loopback: tofu Signals, zmq PUSH/PULL; the clock runs until
              the receiver has counted them all (it answers one last
              message). Messages per second.
Both sides of every pair are Python; each run starts fresh processes.
The tofu sender posts without a send-queue bound (max_send_queue
unlimited), as PUSH queues up to its high-water mark.
"""
import argparse
import asyncio
import multiprocessing as mp
import statistics
import sys
import time

import tofu
import tofu.asyncio
import zmq
import zmq.asyncio

# ---------------------------------------------------------------------------
# tofu


def _tofu_engine(aio=False):
    cls = tofu.asyncio.Engine if aio else tofu.Engine
    return cls(initial_pool_msgs=256, max_pool_msgs=4096, max_send_queue=0xFFFFFFFF)


def tofu_server(kind, aio, ready, n):
    """Latency: echo Requests. Throughput: count Signals, answer the last
    Request."""
    if aio:
        return asyncio.run(_tofu_server_aio(kind, ready, n))
    with _tofu_engine() as e, e.group() as g:
        ready.put(g.listen(tofu.tcp("127.0.0.1", 0)).address)
        got = 0
        while True:
            m = g.receive()
            op = m.opcode
            if op == tofu.Opcode.SIGNAL and not m.from_engine:
                got += 1
                m.close()
            elif op in (tofu.Opcode.REQUEST, tofu.Opcode.HELLO_REQUEST):
                g.reply(m)
            elif op == tofu.Opcode.BYE_REQUEST:
                g.reply(m)
                break


async def _tofu_server_aio(kind, ready, n):
    async with _tofu_engine(True) as e:
        async with e.group() as g:
            ready.put((await g.listen(tofu.tcp("127.0.0.1", 0))).address)
            while True:
                m = await g.receive()
                op = m.opcode
                if op == tofu.Opcode.SIGNAL and not m.from_engine:
                    m.close()
                elif op in (tofu.Opcode.REQUEST, tofu.Opcode.HELLO_REQUEST):
                    g.reply(m)
                elif op == tofu.Opcode.BYE_REQUEST:
                    g.reply(m)
                    break


def _next_reply(g):
    while True:
        m = g.receive(30)
        if m.opcode == tofu.Opcode.RESPONSE:
            return m
        m.close()


async def _next_reply_aio(g):
    while True:
        m = await g.receive(30)
        if m.opcode == tofu.Opcode.RESPONSE:
            return m
        m.close()


def tofu_client(kind, aio, address, n, size):
    if aio:
        return asyncio.run(_tofu_client_aio(kind, address, n, size))
    payload = b"x" * size
    with _tofu_engine() as e, e.group() as g:
        ch = g.connect(address)
        times = []
        if kind == "latency":
            for _ in range(n):
                t0 = time.perf_counter()
                g.send(ch, payload)
                _next_reply(g).close()
                times.append(time.perf_counter() - t0)
            result = times
        else:
            t0 = time.perf_counter()
            for _ in range(n):
                g.signal(ch, payload)
            g.send(ch, b"done")  # answered after every Signal before it
            _next_reply(g).close()
            result = n / (time.perf_counter() - t0)
        g.bye(ch)
        time.sleep(0.05)
        return result


async def _tofu_client_aio(kind, address, n, size):
    payload = b"x" * size
    async with _tofu_engine(True) as e:
        async with e.group() as g:
            ch = await g.connect(address)
            times = []
            if kind == "latency":
                for _ in range(n):
                    t0 = time.perf_counter()
                    g.send(ch, payload)
                    (await _next_reply_aio(g)).close()
                    times.append(time.perf_counter() - t0)
                result = times
            else:
                t0 = time.perf_counter()
                for _ in range(n):
                    g.signal(ch, payload)
                g.send(ch, b"done")
                (await _next_reply_aio(g)).close()
                result = n / (time.perf_counter() - t0)
            g.bye(ch)
            await asyncio.sleep(0.05)
            return result


# ---------------------------------------------------------------------------
# pyzmq


def zmq_server(kind, aio, ready, n):
    if aio:
        return asyncio.run(_zmq_server_aio(kind, ready, n))
    ctx = zmq.Context()
    if kind == "latency":
        s = ctx.socket(zmq.REP)
        port = s.bind_to_random_port("tcp://127.0.0.1")
        ready.put(port)
        for _ in range(n):
            s.send(s.recv(copy=True))
    else:
        s = ctx.socket(zmq.PULL)
        port = s.bind_to_random_port("tcp://127.0.0.1")
        done = ctx.socket(zmq.PUSH)
        dport = done.bind_to_random_port("tcp://127.0.0.1")
        ready.put((port, dport))
        for _ in range(n):
            s.recv(copy=True)
        done.send(b"done")
        done.close(linger=1000)
    s.close(linger=1000)
    ctx.term()


async def _zmq_server_aio(kind, ready, n):
    ctx = zmq.asyncio.Context()
    if kind == "latency":
        s = ctx.socket(zmq.REP)
        ready.put(s.bind_to_random_port("tcp://127.0.0.1"))
        for _ in range(n):
            await s.send(await s.recv())
    else:
        s = ctx.socket(zmq.PULL)
        port = s.bind_to_random_port("tcp://127.0.0.1")
        done = ctx.socket(zmq.PUSH)
        ready.put((port, done.bind_to_random_port("tcp://127.0.0.1")))
        for _ in range(n):
            await s.recv()
        await done.send(b"done")
        done.close(linger=1000)
    s.close(linger=1000)
    ctx.term()


def zmq_client(kind, aio, address, n, size):
    if aio:
        return asyncio.run(_zmq_client_aio(kind, address, n, size))
    payload = b"x" * size
    ctx = zmq.Context()
    if kind == "latency":
        s = ctx.socket(zmq.REQ)
        s.connect(f"tcp://127.0.0.1:{address}")
        times = []
        for _ in range(n):
            t0 = time.perf_counter()
            s.send(payload)
            s.recv()
            times.append(time.perf_counter() - t0)
        result = times
    else:
        port, dport = address
        s = ctx.socket(zmq.PUSH)
        s.connect(f"tcp://127.0.0.1:{port}")
        done = ctx.socket(zmq.PULL)
        done.connect(f"tcp://127.0.0.1:{dport}")
        t0 = time.perf_counter()
        for _ in range(n):
            s.send(payload)
        done.recv()
        result = n / (time.perf_counter() - t0)
        done.close()
    s.close()
    ctx.term()
    return result


async def _zmq_client_aio(kind, address, n, size):
    payload = b"x" * size
    ctx = zmq.asyncio.Context()
    if kind == "latency":
        s = ctx.socket(zmq.REQ)
        s.connect(f"tcp://127.0.0.1:{address}")
        times = []
        for _ in range(n):
            t0 = time.perf_counter()
            await s.send(payload)
            await s.recv()
            times.append(time.perf_counter() - t0)
        result = times
    else:
        port, dport = address
        s = ctx.socket(zmq.PUSH)
        s.connect(f"tcp://127.0.0.1:{port}")
        done = ctx.socket(zmq.PULL)
        done.connect(f"tcp://127.0.0.1:{dport}")
        t0 = time.perf_counter()
        for _ in range(n):
            await s.send(payload)
        await done.recv()
        result = n / (time.perf_counter() - t0)
        done.close()
    s.close()
    ctx.term()
    return result


# ---------------------------------------------------------------------------

LIBS = {"tofu": (tofu_server, tofu_client), "pyzmq": (zmq_server, zmq_client)}


def run_one(lib, kind, aio, n, size, warmup):
    server_fn, client_fn = LIBS[lib]
    ready = mp.Queue()
    total = n + warmup if kind == "latency" else n
    srv = mp.Process(target=server_fn, args=(kind, aio, ready, total))
    srv.start()
    address = ready.get(timeout=30)
    if kind == "latency":
        times = client_fn(kind, aio, address, total, size)[warmup:]
        result = (statistics.mean(times) * 1e6, statistics.median(times) * 1e6)
    else:
        result = client_fn(kind, aio, address, n, size)
    srv.join(30)
    if srv.is_alive():
        srv.terminate()
    return result


def _tests():
    for aio in (False, True):
        flavour = "asyncio" if aio else "sync"
        for size in (64, 1024):
            yield f"latency {flavour} {size} B (us)", "latency", aio, size
        for size in (64, 1024):
            yield f"throughput {flavour} {size} B (msg/s)", "throughput", aio, size


def _measure(kind, aio, size, n, warm, first):
    """One tofu and one pyzmq figure (latency: mean and median us;
    throughput: msg/s) and the ratio (>1: tofu better)."""
    order = ("tofu", "pyzmq") if first == "tofu" else ("pyzmq", "tofu")
    got = {}
    for lib in order:
        got[lib] = run_one(lib, kind, aio, n, size, warm if kind == "latency" else 0)
    t, z = got["tofu"], got["pyzmq"]
    if kind == "latency":  # lower is better: pyzmq/tofu
        return t, z, z[0] / t[0], z[1] / t[1]
    return t, z, t / z, None


def _span(values, fmt):
    values = sorted(values)
    med = statistics.median(values)
    if len(values) == 1:
        return format(med, fmt)
    return f"{format(med, fmt)} [{format(values[0], fmt)}-{format(values[-1], fmt)}]"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="fewer messages (a smoke run)")
    ap.add_argument("--runs", type=int, default=1, help="repeat the table, report medians")
    ap.add_argument("--only", default="", help="tests whose name has all these words")
    args = ap.parse_args()
    lat_n, thr_n, warm = (2000, 20000, 200) if args.quick else (10000, 100000, 1000)
    print(f"python {sys.version.split()[0]}, tofu {tofu.__version__}, pyzmq {zmq.__version__} "
          f"(libzmq {zmq.zmq_version()}); latency {lat_n} round trips, throughput {thr_n} "
          f"messages; {args.runs} run(s)")
    want = args.only.split()
    tests = [t for t in _tests() if all(w in t[0].split() for w in want)]
    results = {name: [] for name, *_ in tests}
    for run in range(args.runs):
        first = "tofu" if run % 2 == 0 else "pyzmq"
        if args.runs > 1:
            print(f"-- run {run + 1} ({first} first)")
        print(f"{'test':<34}{'tofu':>14}{'pyzmq':>14}{'tofu/pyzmq':>12}")
        for name, kind, aio, size in tests:
            n = lat_n if kind == "latency" else thr_n
            t, z, ratio, ratio_med = _measure(kind, aio, size, n, warm, first)
            results[name].append((t, z, ratio, ratio_med))
            if kind == "latency":
                print(f"{name:<34}{t[0]:>10.1f}/{t[1]:<3.0f}{z[0]:>10.1f}/{z[1]:<3.0f}"
                      f"{ratio:>11.2f}x  (medians: {ratio_med:.2f}x)", flush=True)
            else:
                print(f"{name:<34}{t:>14,.0f}{z:>14,.0f}{ratio:>11.2f}x", flush=True)
    if args.runs == 1:
        return
    print(f"-- median [min-max] of {args.runs} runs (Markdown rows); latency: mean / median "
          f"round trip of each run, ratios mean-based / median-based")
    for name, *_ in tests:
        rs = results[name]
        if name.startswith("latency"):
            print(f"| {name} | {_span([r[0][0] for r in rs], '.1f')} / "
                  f"{_span([r[0][1] for r in rs], '.0f')} | {_span([r[1][0] for r in rs], '.1f')} / "
                  f"{_span([r[1][1] for r in rs], '.0f')} | {_span([r[2] for r in rs], '.2f')} / "
                  f"{_span([r[3] for r in rs], '.2f')} |")
        else:
            print(f"| {name} | {_span([r[0] for r in rs], ',.0f')} | "
                  f"{_span([r[1] for r in rs], ',.0f')} | {_span([r[2] for r in rs], '.2f')} |")


if __name__ == "__main__":
    mp.set_start_method("spawn")
    main()
