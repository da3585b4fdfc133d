"""Benchmark: our scanner vs bandit on the labelled corpus (detection, false positives, speed).

Run: ``.venv/bin/python benchmarks/bench_scanner.py [--rounds N] [--walk]``. Both tools scan
the same cells in the same process and run; bandit gets the cells after IPython's transform (it
cannot parse IPython syntax itself), we get the raw cells (our time includes the transform).
The scanner's environment index is loaded (or built) before the timed passes; ``--walk`` also
times a fresh walk of the installed packages (what the first scan in a new environment pays).
"""

from __future__ import annotations

import argparse
import io
import logging
import statistics
import sys
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "scanner"))

from corpus_loader import load  # noqa: E402

from deepthinker_nb.scanner import SecurityScanner  # noqa: E402
from deepthinker_nb.scanner.envindex import default_index  # noqa: E402
from deepthinker_nb.scanner.environment import walk  # noqa: E402
from deepthinker_nb.scanner.ipython import transform  # noqa: E402


class Bandit:
    """bandit's Python API, in process: one manager, one cell at a time."""

    def __init__(self) -> None:
        from bandit.core import config, manager

        logging.getLogger("bandit").setLevel(logging.CRITICAL)
        self.manager = manager.BanditManager(config.BanditConfig(), "file", quiet=True)

    def issues(self, code: str) -> list:
        mgr = self.manager
        mgr.results = []
        name = "cell.py"
        mgr._parse_file(name, io.BytesIO(code.encode("utf-8")), [name])
        return list(mgr.results)


def _rank(severity: str) -> int:
    return {"UNDEFINED": 0, "LOW": 1, "MEDIUM": 2, "HIGH": 3}.get(str(severity).upper(), 0)


def _rate(flags: list[bool]) -> float:
    return sum(flags) / len(flags) if flags else 0.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7, help="timing rounds (default 7)")
    parser.add_argument("--walk", action="store_true",
                        help="also time a fresh walk of the environment (a few seconds)")
    args = parser.parse_args()
    warnings.simplefilter("ignore")

    t0 = time.perf_counter()
    index = default_index()
    index_ms = (time.perf_counter() - t0) * 1000
    walk_line = ""
    if args.walk:
        result = walk()
        walk_line = (f"; a fresh walk: {result.stats['seconds']:.1f} s, "
                     f"{result.stats['parsed']:.0f} of {result.stats['modules']:.0f} modules "
                     f"parsed, {'complete' if result.complete else 'INCOMPLETE'}")

    dangerous, harmless = load("dangerous"), load("harmless")
    cells = [c.code for c in dangerous + harmless]
    scanner = SecurityScanner()
    bandit = Bandit()

    def transformed(code: str) -> str:
        try:
            return transform(code)
        except Exception:
            return code

    bandit_input = [transformed(c) for c in cells]

    # -- detection -------------------------------------------------------------------------
    ours = [scanner.scan(c).blocked for c in cells]
    bandit_ranks = [max((_rank(i.severity) for i in bandit.issues(c)), default=0)
                    for c in bandit_input]
    n_d = len(dangerous)

    def rates(flags: list[bool]) -> tuple[float, float]:
        return _rate(flags[:n_d]), _rate(flags[n_d:])

    ours_det, ours_fp = rates(ours)
    b_med_det, b_med_fp = rates([r >= 2 for r in bandit_ranks])
    b_low_det, b_low_fp = rates([r >= 1 for r in bandit_ranks])

    # -- throughput (same cells, same run) ---------------------------------------------------
    # Whole passes, interleaved, best of N: includes allocation and GC.
    ours_times, bandit_times = [], []
    for _ in range(args.rounds):
        t0 = time.perf_counter()
        for c in cells:
            scanner.scan(c)
        ours_times.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        for c in bandit_input:
            bandit.issues(c)
        bandit_times.append(time.perf_counter() - t0)
    ours_cps = len(cells) / min(ours_times)
    bandit_cps = len(cells) / min(bandit_times)
    # Per cell, best of N for each tool, interleaved: robust against a busy machine.
    ours_best, bandit_best, pipeline_best = [], [], []
    for raw, tr in zip(cells, bandit_input, strict=True):
        o, b, p = [], [], []
        for _ in range(args.rounds):
            t0 = time.perf_counter()
            scanner.scan(raw)
            o.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            bandit.issues(tr)
            b.append(time.perf_counter() - t0)
            t0 = time.perf_counter()  # what a bandit-based notebook scanner has to do
            bandit.issues(transformed(raw))
            p.append(time.perf_counter() - t0)
        ours_best.append(min(o))
        bandit_best.append(min(b))
        pipeline_best.append(min(p))
    ours_cell_cps = len(cells) / sum(ours_best)
    bandit_cell_cps = len(cells) / sum(bandit_best)
    pipeline_cell_cps = len(cells) / sum(pipeline_best)

    # -- median scan time of a typical (harmless data-science) cell ------------------------
    n_h = len(harmless)
    median_ms = statistics.median(ours_best[-n_h:]) * 1000
    bandit_median_ms = statistics.median(bandit_best[-n_h:]) * 1000

    print(f"corpus: {len(dangerous)} dangerous, {len(harmless)} harmless cells")
    print(f"{'tool':<30} {'detection':>10} {'false pos':>10}")
    print(f"{'deepthinker-nb scanner':<30} {ours_det:>10.1%} {ours_fp:>10.1%}")
    print(f"{'bandit (>= MEDIUM)':<30} {b_med_det:>10.1%} {b_med_fp:>10.1%}")
    print(f"{'bandit (>= LOW)':<30} {b_low_det:>10.1%} {b_low_fp:>10.1%}")
    print(f"throughput, whole passes (best of {args.rounds}): ours {ours_cps:,.0f} cells/s, "
          f"bandit {bandit_cps:,.0f} cells/s, ratio {ours_cps / bandit_cps:.1f}x")
    print(f"throughput, per-cell best of {args.rounds}: ours {ours_cell_cps:,.0f} cells/s, "
          f"bandit {bandit_cell_cps:,.0f} cells/s, ratio {ours_cell_cps / bandit_cell_cps:.1f}x "
          "(target >= 5x)")
    print(f"throughput, per-cell, raw notebook cells: bandit + IPython transform "
          f"{pipeline_cell_cps:,.0f} cells/s, ratio {ours_cell_cps / pipeline_cell_cps:.1f}x")
    print(f"median scan time of a typical (harmless) cell: ours {median_ms:.3f} ms "
          f"(target <= 1 ms), bandit {bandit_median_ms:.3f} ms")
    print(f"environment index: {len(index):,} names, ready in {index_ms:.0f} ms"
          f"{' (from the cache)' if index.stats and index_ms < 1000 else ''}{walk_line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
