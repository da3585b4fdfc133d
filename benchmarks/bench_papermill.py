"""Papermill-recorded execution vs the same cells through a KernelSession, same pool, and
plain papermill (its own nbclient engine on a plain ``python3`` kernel) as the baseline a user
would otherwise have.

Our sides borrow a warm kernel from one ``KernelPool``; the clock runs from the first cell to
the last (acquire/release are outside it, and measured separately for ``execute_notebook`` as a
whole). The engine runs every cell through the session's ``execute`` (one road), so its extra
cost over the session is what recording costs: papermill's bookkeeping and notebook writes.
Plain papermill starts its kernel inside its run, so its row is measured with a kernel start;
its per-cell cost comes from a second run of twice the cells (the difference cancels the start).

    .venv/bin/python benchmarks/bench_papermill.py [--cells 40] [--repeat 5]

Target: papermill engine / session <= 1.3.
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
            nb, str(out), engine_name="deepthinker", session=session, progress_bar=False,
            execution_timeout=60,
        )
        return time.perf_counter() - start
    finally:
        pool.release(session)


def time_plain_papermill(cells: list[str], out: Path) -> float:
    """Plain papermill on a plain ``python3`` kernel: per cell, start cost cancelled."""
    def run(n: int) -> float:
        nb = build_notebook(cells * n, kernel_name="python3")
        start = time.perf_counter()
        papermill.execute_notebook(nb, str(out), kernel_name="python3", progress_bar=False,
                                   execution_timeout=60)
        return time.perf_counter() - start

    return run(2) - run(1)


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
        session_times, papermill_times, full_times, plain_times = [], [], [], []
        for _ in range(args.repeat):  # interleaved, so drift hits every side alike
            session_times.append(time_session(pool, cells))
            papermill_times.append(time_papermill(pool, cells, out))
            full_times.append(time_execute_notebook(pool, cells, out))
            plain_times.append(time_plain_papermill(cells, out))
    s, p, f, b = (statistics.median(t)
                  for t in (session_times, papermill_times, full_times, plain_times))
    print(f"{args.cells} cells, median of {args.repeat} runs, local kernel from one KernelPool")
    print(f"{'path':<44}{'total s':>10}{'ms/cell':>10}{'ratio':>8}")
    print(f"{'KernelSession.execute':<44}{s:>10.3f}{s / args.cells * 1000:>10.2f}{1.0:>8.2f}")
    print(f"{'papermill engine deepthinker (session=pooled)':<44}{p:>10.3f}"
          f"{p / args.cells * 1000:>10.2f}{p / s:>8.2f}")
    print(f"{'execute_notebook(pool=...) incl. acquire':<44}{f:>10.3f}"
          f"{f / args.cells * 1000:>10.2f}{f / s:>8.2f}")
    print(f"{'plain papermill, python3 kernel (no sandbox)':<44}{b:>10.3f}"
          f"{b / args.cells * 1000:>10.2f}{b / s:>8.2f}")
    verdict = "OK" if p / s <= 1.3 else "ABOVE TARGET"
    print(f"papermill engine / session = {p / s:.2f} (target <= 1.3): {verdict}")
    print(f"papermill engine / plain papermill = {p / b:.2f} per cell (sandbox and scanner "
          "included)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
