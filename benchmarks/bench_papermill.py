"""Papermill-recorded execution vs the same cells through a KernelSession, same pool.

Both sides borrow a warm kernel from one ``KernelPool``; the clock runs from the first cell to
the last (acquire/release are outside it on both sides, and measured separately for
``execute_notebook`` as a whole). Papermill's side includes what recording costs: the scan gate,
nbclient's message handling, and papermill writing the notebook after every cell.

    .venv/bin/python benchmarks/bench_papermill.py [--cells 40] [--repeat 5]

Target: papermill / session <= 1.5.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import papermill

from deepthinker_nb.kernel import KernelPool
from deepthinker_nb.notebook import build_notebook, execute_notebook


def make_cells(n: int) -> list[str]:
    """Small data-science-like cells: arithmetic, a print, a displayed value."""
    cells = ["import math\ntotal = 0"]
    for i in range(1, n):
        if i % 3 == 0:
            cells.append(f"values = [math.sqrt(k) for k in range({200 * i})]\n"
                         "round(sum(values), 3)")
        elif i % 3 == 1:
            cells.append(f"total += {i}\nprint('step {i}', total)")
        else:
            cells.append(f"data = {{k: k * k for k in range(100)}}\nlen(data) + {i}")
    return cells


def time_session(pool: KernelPool, cells: list[str]) -> float:
    session = pool.acquire()
    try:
        start = time.perf_counter()
        for code in cells:
            result = session.execute(code, timeout=60)
            assert result.status == "ok", result.summary()
        return time.perf_counter() - start
    finally:
        pool.release(session)


def time_papermill(pool: KernelPool, cells: list[str], out: Path) -> float:
    session = pool.acquire()
    try:
        nb = build_notebook(cells, kernel_name=session.kernel_name)
        start = time.perf_counter()
        papermill.execute_notebook(
            nb, str(out), engine_name="deepthinker", km=session.kernel_manager,
            gate=session.gate, progress_bar=False, execution_timeout=60,
        )
        return time.perf_counter() - start
    finally:
        pool.release(session)


def time_execute_notebook(pool: KernelPool, cells: list[str], out: Path) -> float:
    start = time.perf_counter()
    run = execute_notebook(build_notebook(cells), out, pool=pool, timeout=60)
    assert run.status == "ok", run.summary()
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", type=int, default=40)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    cells = make_cells(args.cells)
    with KernelPool(size=2, backend="local") as pool, tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "bench.ipynb"
        time_session(pool, cells[:3])  # warm both paths (imports, scanner tables)
        time_papermill(pool, cells[:3], out)
        session_times, papermill_times, full_times = [], [], []
        for _ in range(args.repeat):  # interleaved, so drift hits both sides alike
            session_times.append(time_session(pool, cells))
            papermill_times.append(time_papermill(pool, cells, out))
            full_times.append(time_execute_notebook(pool, cells, out))
    s, p, f = (statistics.median(t) for t in (session_times, papermill_times, full_times))
    print(f"{args.cells} cells, median of {args.repeat} runs, local kernel from one KernelPool")
    print(f"{'path':<44}{'total s':>10}{'ms/cell':>10}{'ratio':>8}")
    print(f"{'KernelSession.execute':<44}{s:>10.3f}{s / args.cells * 1000:>10.2f}{1.0:>8.2f}")
    print(f"{'papermill engine deepthinker (km=pooled)':<44}{p:>10.3f}"
          f"{p / args.cells * 1000:>10.2f}{p / s:>8.2f}")
    print(f"{'execute_notebook(pool=...) incl. acquire':<44}{f:>10.3f}"
          f"{f / args.cells * 1000:>10.2f}{f / s:>8.2f}")
    verdict = "OK" if p / s <= 1.5 else "ABOVE TARGET"
    print(f"papermill / session = {p / s:.2f} (target <= 1.5): {verdict}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
