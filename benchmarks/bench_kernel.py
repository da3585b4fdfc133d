"""Kernel core benchmarks, each measured side by side with its baseline in the same run.

  0. per-cell latency of KernelSession.execute("1+1") as it comes (local backend, bubblewrap
     sandbox, scanner on in the client and in the kernel) vs jupyter_client's blocking client
     (KernelManager("python3") + km.client(), execute_interactive) on a plain python3 kernel,
     interleaved cell by cell in one process (target ratio <= 1.10);
  1. per-cell latency of KernelSession.execute("1+1") vs raw jupyter_client
     BlockingKernelClient.execute_interactive on the same kind of kernel (target ratio <= 1.10);
  2. time to the first result of "import pandas, sklearn; 1+1" from a warm preloaded pool vs a
     cold raw jupyter_client start (target: pool p95 <= 50 ms and >= 30x faster);
  3. throughput of 4 concurrent sessions vs 1;
  4. the namespace sandbox (bubblewrap, the default) vs the local kernel without it (Landlock
     only, the default before it): cold start to a first result (target <= 1.15x), per-cell
     round trip (<= 1.05x) and warm-pool acquire (unchanged).

Run: .venv/bin/python benchmarks/bench_kernel.py [--cells 500] [--starts 5]
     [--only python3|latency|first|throughput|sandbox]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from _stats import ms, summary
from jupyter_client import KernelManager

from deepthinker_nb import AsyncKernelSession, KernelPool, KernelSession, LocalConfig
from deepthinker_nb.kernel.specs import DeepThinkerKernelSpecManager

FIRST_RESULT = "import pandas, sklearn; 1+1"


def raw_client(kernel_name: str = "deepthinker-local"):
    km = KernelManager(kernel_name=kernel_name, kernel_spec_manager=DeepThinkerKernelSpecManager())
    km.start_kernel()
    kc = km.blocking_client()
    kc.start_channels()
    kc.wait_for_ready(timeout=60)
    return km, kc


def bench_vs_python3(cells: int) -> None:
    """The whole road of a cell against the plainest one: every cell is scanned twice (gate and
    in-kernel guard), runs in the sandbox, and crosses to the shared loop thread and back."""
    km = KernelManager(kernel_name="python3")
    km.start_kernel()
    kc = km.client()
    kc.start_channels()
    kc.wait_for_ready(timeout=60)
    session = KernelSession().start()

    def plain() -> None:
        kc.execute_interactive("1+1", output_hook=lambda m: None, timeout=60)

    def ours() -> None:
        assert session.execute("1+1").success

    times: dict[str, list[float]] = {"plain": [], "ours": []}
    try:
        for _ in range(30):  # warm both
            plain()
            ours()
        sides = (("plain", plain), ("ours", ours))
        for i in range(cells):  # interleaved, each side first every other cell
            for name, run in sides if i % 2 else sides[::-1]:
                t = time.perf_counter()
                run()
                times[name].append(time.perf_counter() - t)
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
        session.shutdown()
    p, o = summary(times["plain"]), summary(times["ours"])
    mean_p, mean_o = (sum(times[k]) / len(times[k]) for k in ("plain", "ours"))
    print(f"[vs python3] {cells} cells of 1+1, interleaved: KernelSession() as it comes (local, "
          "sandboxed, scanner on) vs the plain python3 kernel")
    print(f"  python3 + jupyter_client execute_interactive  median {ms(p['median'])}  "
          f"p95 {ms(p['p95'])}  mean {ms(mean_p)}")
    print(f"  KernelSession.execute                         median {ms(o['median'])}  "
          f"p95 {ms(o['p95'])}  mean {ms(mean_o)}")
    print(f"  ratio ours/python3  median {o['median'] / p['median']:.3f}  "
          f"p95 {o['p95'] / p['p95']:.3f}  mean {mean_o / mean_p:.3f}   (target median <= 1.10)")


def bench_latency(cells: int) -> None:
    km, kc = raw_client()
    session = KernelSession(scan=False).start()
    raw, ours = [], []
    try:
        for _ in range(20):  # warm both
            kc.execute_interactive("1+1", output_hook=lambda m: None)
            session.execute("1+1")
        for _ in range(cells):  # interleave so both see the same machine load
            t = time.perf_counter()
            kc.execute_interactive("1+1", output_hook=lambda m: None)
            raw.append(time.perf_counter() - t)
            t = time.perf_counter()
            session.execute("1+1")
            ours.append(time.perf_counter() - t)
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
        session.shutdown()
    r, o = summary(raw), summary(ours)
    print(f"[latency] {cells} cells of 1+1 on deepthinker-local (scanner off on both sides)")
    print(f"  raw jupyter_client execute_interactive  median {ms(r['median'])}  p95 {ms(r['p95'])}")
    print(f"  KernelSession.execute                   median {ms(o['median'])}  p95 {ms(o['p95'])}")
    print(f"  ratio ours/raw  median {o['median'] / r['median']:.3f}  p95 {o['p95'] / r['p95']:.3f}"
          "   (target <= 1.10)")
    scanned = KernelSession().start()
    try:
        times = []
        for _ in range(cells // 5):
            t = time.perf_counter()
            scanned.execute("1+1")
            times.append(time.perf_counter() - t)
    finally:
        scanned.shutdown()
    print(f"  with the scanner on: median {ms(summary(times)['median'])}")


def bench_first_result(starts: int) -> None:
    cold = []
    for _ in range(starts):
        t = time.perf_counter()
        km, kc = raw_client()
        kc.execute_interactive(FIRST_RESULT, output_hook=lambda m: None, timeout=120)
        cold.append(time.perf_counter() - t)
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    warm, busy = [], []
    with KernelPool(2, preload="import pandas, sklearn", scan=False) as pool:
        pool.start(wait=True)
        for i in range(starts * 8):
            steady = i % 2 == 0
            # steady: the pool is full and idle; busy: a refill is starting a kernel meanwhile
            while pool.ready_count < (pool.size if steady else 1):
                time.sleep(0.05)
            if steady:
                time.sleep(0.3)  # let the last refill's preload finish its CPU work
            t = time.perf_counter()
            session = pool.acquire()
            result = session.execute(FIRST_RESULT)
            (warm if steady else busy).append(time.perf_counter() - t)
            assert result.success, result.summary()
            pool.release(session)
    c, w, b = summary(cold), summary(warm), summary(busy)
    print(f"[first result] '{FIRST_RESULT}' in a fresh session")
    print(f"  cold raw jupyter_client start  median {ms(c['median'])}  p95 {ms(c['p95'])}")
    print(f"  warm preloaded KernelPool      median {ms(w['median'])}  p95 {ms(w['p95'])}"
          "   (target p95 <= 50 ms)")
    print(f"  same, while a refill starts    median {ms(b['median'])}  p95 {ms(b['p95'])}"
          "   (2 cores: the refill competes)")
    print(f"  speed-up cold/warm (median)    {c['median'] / w['median']:.1f}x   (target >= 30x)")


async def _throughput(n_sessions: int, cells: int) -> float:
    sessions = [AsyncKernelSession(scan=False) for _ in range(n_sessions)]
    await asyncio.gather(*(s.start() for s in sessions))
    code = "sum(i * i for i in range(20000))"
    try:
        t = time.perf_counter()
        await asyncio.gather(*(_run_cells(s, code, cells) for s in sessions))
        elapsed = time.perf_counter() - t
    finally:
        await asyncio.gather(*(s.shutdown() for s in sessions))
    return n_sessions * cells / elapsed


async def _run_cells(session: AsyncKernelSession, code: str, cells: int) -> None:
    for _ in range(cells):
        await session.execute(code)


def bench_throughput(cells: int) -> None:
    one = asyncio.run(_throughput(1, cells))
    four = asyncio.run(_throughput(4, cells))
    print(f"[throughput] cells/s of a small CPU-bound cell ({cells} per session)")
    print(f"  1 session   {one:8.1f} cells/s")
    print(f"  4 sessions  {four:8.1f} cells/s   ratio 4/1 = {four / one:.2f} "
          "(bounded by the machine's cores)")


SANDBOXES = {"namespaces": LocalConfig(isolation="namespaces"),
             "landlock": LocalConfig(isolation="landlock")}


def _acquire(starts: int, preload: str | None) -> dict[str, list[float]]:
    """Acquire from a full, idle pool of each kind and run a first cell, interleaved."""
    acquire: dict[str, list[float]] = {name: [] for name in SANDBOXES}
    pools = {name: KernelPool(1, config=c, scan=False, preload=preload)
             for name, c in SANDBOXES.items()}
    try:
        for pool in pools.values():
            pool.start(wait=True)
        for _ in range(starts * 2):
            for name, pool in pools.items():
                while pool.ready_count < 1:
                    time.sleep(0.05)
                time.sleep(0.3)
                t = time.perf_counter()
                session = pool.acquire()
                assert session.execute("1+1").success
                acquire[name].append(time.perf_counter() - t)
                pool.release(session)
    finally:
        for pool in pools.values():
            pool.close()
    return acquire


def bench_sandbox(starts: int, cells: int) -> None:
    """Every measure interleaves the two kinds of kernel, so both see the same machine load."""
    cold: dict[str, list[float]] = {name: [] for name in SANDBOXES}
    for _ in range(starts):
        for name, config in SANDBOXES.items():
            t = time.perf_counter()
            with KernelSession(scan=False, config=config) as session:
                assert session.execute("1+1").success
                cold[name].append(time.perf_counter() - t)
    sessions = {name: KernelSession(scan=False, config=c).start() for name, c in SANDBOXES.items()}
    cell: dict[str, list[float]] = {name: [] for name in SANDBOXES}
    try:
        for _ in range(20):
            for session in sessions.values():
                session.execute("1+1")
        for _ in range(cells):
            for name, session in sessions.items():
                t = time.perf_counter()
                session.execute("1+1")
                cell[name].append(time.perf_counter() - t)
    finally:
        for session in sessions.values():
            session.shutdown()
    acquire = _acquire(starts, preload="import pandas, sklearn")
    bare = _acquire(starts, preload=None)
    print("[sandbox] namespaces (bubblewrap, default) vs landlock only (the earlier default)")
    for label, data, target in (("cold start to 1+1", cold, "1.15"),
                                ("per-cell 1+1", cell, "1.05"),
                                ("warm-pool acquire + 1+1", acquire, "unchanged"),
                                ("  same, pool without preload", bare, "-")):
        ns, ll = summary(data["namespaces"]), summary(data["landlock"])
        print(f"  {label:26s} namespaces median {ms(ns['median'])}  landlock median "
              f"{ms(ll['median'])}  ratio {ns['median'] / ll['median']:.3f}  (target {target})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", type=int, default=500)
    parser.add_argument("--starts", type=int, default=5)
    parser.add_argument("--only", choices=("python3", "latency", "first", "throughput",
                                            "sandbox"))
    args = parser.parse_args()
    if args.only == "python3":
        bench_vs_python3(args.cells)
        return
    if args.only == "sandbox":
        bench_sandbox(max(args.starts, 8), args.cells)
        return
    bench_vs_python3(args.cells)
    bench_latency(args.cells)
    bench_first_result(args.starts)
    bench_throughput(max(50, args.cells // 5))
    bench_sandbox(max(args.starts, 8), args.cells)


if __name__ == "__main__":
    main()
