"""Docker kernel vs local kernel, measured side by side in one run.

    python benchmarks/bench_docker.py [--starts 5] [--cells 100] [--acquires 30]

Prints cold start (docker / local, target <= 1.3), per-cell round trip (docker / local,
target <= 1.1) and the warm-pool acquire time for Docker (target p95 <= 50 ms).
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import time

from deepthinker_nb.config.docker import DockerConfig
from deepthinker_nb.kernel import KernelSession
from deepthinker_nb.kernel.pool import KernelPool

SCAN = False
"""The scan gate costs the same on both backends; off by default to compare the kernel paths."""


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def cold_start(backend: str, config, n: int) -> list[float]:
    times = []
    for _ in range(n):
        t = time.perf_counter()
        session = KernelSession(backend=backend, config=config, scan=SCAN).start()
        times.append(time.perf_counter() - t)
        session.shutdown()
    return times


def round_trip(backend: str, config, n: int) -> list[float]:
    session = KernelSession(backend=backend, config=config, scan=SCAN).start()
    try:
        for _ in range(5):
            session.execute("x = 1")  # warm up
        times = []
        for i in range(n):
            t = time.perf_counter()
            result = session.execute(f"x = {i}\nx")
            times.append(time.perf_counter() - t)
            assert result.status == "ok", result
        return times
    finally:
        session.shutdown()


def pool_acquire(config, n: int) -> list[float]:
    pool = KernelPool(size=2, backend="docker", config=config, scan=SCAN)
    pool.start(wait=True)
    times = []
    try:
        for _ in range(n):
            deadline = time.monotonic() + 60
            while pool.ready_count < pool.size and time.monotonic() < deadline:
                time.sleep(0.02)  # a warm pool: the refill after the last release is done
            t = time.perf_counter()
            session = pool.acquire(timeout=60)
            times.append(time.perf_counter() - t)
            pool.release(session)
    finally:
        pool.close()
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--starts", type=int, default=5)
    parser.add_argument("--cells", type=int, default=100)
    parser.add_argument("--acquires", type=int, default=30)
    parser.add_argument("--scan", action="store_true", help="scan every cell, as in production")
    args = parser.parse_args(argv)
    global SCAN
    SCAN = args.scan
    logging.getLogger("deepthinker_nb").setLevel(logging.ERROR)
    docker_cfg = DockerConfig()

    # interleave the two backends so that machine noise hits both alike
    cold_docker, cold_local = [], []
    cold_start("docker", docker_cfg, 1)  # first start of the process also gc's orphans
    cold_start("local", None, 1)
    for _ in range(args.starts):
        cold_docker += cold_start("docker", docker_cfg, 1)
        cold_local += cold_start("local", None, 1)
    rt_local = round_trip("local", None, args.cells)
    rt_docker = round_trip("docker", docker_cfg, args.cells)
    acquire = pool_acquire(docker_cfg, args.acquires)

    med = statistics.median
    rows = [
        ("cold start (median s)", med(cold_docker), med(cold_local), "<= 1.3"),
        ("per-cell round trip (median ms)", med(rt_docker) * 1e3, med(rt_local) * 1e3, "<= 1.1"),
    ]
    print(f"{'':34}{'docker':>10}{'local':>10}{'ratio':>8}  target")
    ok = True
    for name, d, loc, target in rows:
        ratio = d / loc
        ok &= ratio <= float(target.split()[-1])
        print(f"{name:34}{d:10.3f}{loc:10.3f}{ratio:8.2f}  {target}")
    acq_p95 = p95(acquire) * 1e3
    ok &= acq_p95 <= 50
    p50_text, p95_text = f"p50 {med(acquire) * 1e3:.1f}", f"p95 {acq_p95:.1f}"
    print(f"{'docker warm-pool acquire (ms)':34}{p50_text:>10}{p95_text:>10}{'':8}  p95 <= 50")
    print("all targets met" if ok else "some targets missed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
