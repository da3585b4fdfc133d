"""Wall time of ``deepthinker-nb demo``, split per phase; and the workflow's own cells recorded
by papermill vs run through a KernelSession from the same pool.

    .venv/bin/python benchmarks/bench_workflow.py [--repeat 3] [--skip-cells]

Targets: demo under 15 s with a local kernel; papermill / session <= 1.5 on the workflow cells.
The machine's load average is printed next to the numbers: on a shared 2-CPU machine other
processes stretch every phase, so compare runs side by side, not across days.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PHASES = ("data", "kernel", "planning", "research", "coding", "evaluation", "simulation",
          "recording", "report")


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def bench_demo(repeat: int) -> None:
    cli = Path(sys.executable).with_name("deepthinker-nb")
    command = [str(cli)] if cli.exists() else [sys.executable, "-m", "deepthinker_nb.cli"]
    rows = []
    for _ in range(repeat):
        with tempfile.TemporaryDirectory() as out:
            load_before = load()
            started = time.perf_counter()
            subprocess.run([*command, "demo", "--quiet", "--out", out], check=True,
                           stdout=subprocess.DEVNULL)
            wall = time.perf_counter() - started
            (run_dir,) = [p for p in Path(out).iterdir() if p.is_dir()]
            manifest = json.loads((run_dir / "manifest.json").read_text())
            rows.append((wall, manifest["wall_time"], manifest["timings"], load_before,
                         len(manifest["iterations"]), manifest["reproduced"]))
    print("deepthinker-nb demo (churn, 3 iterations max, 4 scenarios, local kernels, pool 2)")
    header = "run  wall   in-run " + " ".join(f"{p[:8]:>8}" for p in PHASES) + "  iters  load"
    print(header)
    for i, (wall, inner, timings, load_before, iterations, reproduced) in enumerate(rows, 1):
        cols = " ".join(f"{timings.get(p, 0.0):8.2f}" for p in PHASES)
        print(f"{i:>3} {wall:5.1f}s {inner:6.1f}s {cols}  {iterations:>5}  {load_before}"
              + ("" if reproduced else "  (NOT reproduced)"))
    walls = [r[0] for r in rows]
    print(f"median wall {statistics.median(walls):.1f}s (target < 15 s); process start and "
          "imports are the difference between wall and in-run")


def bench_cells(repeat: int) -> None:
    from deepthinker_nb.config import DataConfig, LocalConfig
    from deepthinker_nb.kernel import KernelPool, ScanGate
    from deepthinker_nb.notebook import build_notebook, execute_notebook
    from deepthinker_nb.scanner.policy import ScanPolicy
    from deepthinker_nb.workflow.councils.codegen import ModelSpec, cells_for
    from deepthinker_nb.workflow.data import load_and_split
    from deepthinker_nb.workflow.datasets import bundled_dataset
    from deepthinker_nb.workflow.runner import PRELOAD

    dataset = bundled_dataset("churn")
    split = load_and_split(DataConfig(dataset.path, target_column=dataset.target))
    cells = cells_for(ModelSpec("classification", "linear", balanced=True))
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        split.write(data)
        params = {"DATA_PATH": str(data / "train.csv"),
                  "TEST_FEATURES_PATH": str(data / "test_features.csv"),
                  "PREDICTIONS_PATH": str(Path(tmp) / "predictions.csv"),
                  "TARGET": split.target, "TASK_TYPE": split.task_type, "RANDOM_SEED": 42}
        setup = "\n".join(f"{k} = {v!r}" for k, v in params.items())
        nb = build_notebook(cells, parameters=params)
        policy = ScanPolicy(work_dir=tmp, data_dirs=(str(data),))  # as the runner binds it
        paper, session_times = [], []
        config = LocalConfig(extra_write_paths=(tmp,))  # as the runner lets kernels write work/
        with KernelPool(2, "local", config, preload=PRELOAD, data_dirs=[data]) as pool:
            pool.start(wait=True)
            for i in range(repeat):
                # Both sides start from a full pool of warm kernels: what is compared is the
                # recording, not whether a refill had finished (on 2 cores it often has not).
                pool.start(wait=True)
                started = time.perf_counter()
                run = execute_notebook(nb, Path(tmp) / f"nb{i}.ipynb", pool=pool, timeout=120,
                                       policy=policy)
                paper.append(time.perf_counter() - started)
                assert run.status == "ok", run.summary()
                pool.start(wait=True)
                started = time.perf_counter()
                session = pool.acquire()
                session.async_session.gate = ScanGate(enabled=True, policy=policy)
                try:
                    for code in (setup, *cells):
                        result = session.execute(code, timeout=120)
                        assert result.success, result.summary()
                finally:
                    pool.release(session)
                session_times.append(time.perf_counter() - started)
    p, s = statistics.median(paper), statistics.median(session_times)
    print(f"\nworkflow cells (baseline model on churn, {len(cells) + 1} cells), median of "
          f"{repeat}: papermill {p:.2f}s, session {s:.2f}s, ratio {p / s:.2f} (target <= 1.5); "
          f"load {load()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--skip-cells", action="store_true")
    parser.add_argument("--skip-demo", action="store_true")
    args = parser.parse_args()
    print(f"cpus {os.cpu_count()}, load average {load()}")
    if not args.skip_demo:
        bench_demo(args.repeat)
    if not args.skip_cells:
        bench_cells(args.repeat)


if __name__ == "__main__":
    main()
