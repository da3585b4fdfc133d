"""``deepthinker-nb batch`` end to end, as a user runs it: a tiny spec on ``--workers 2``,
a bad spec, and a machine without Dask distributed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd

CLI = [sys.executable, "-m", "deepthinker_nb.cli"]
TINY = """\
name: tiny
datasets: [iris]
seeds: [1, 2]
iterations:
  - {max_iterations: 1}
settings: {simulate: false, report: false}
"""


def _cli(*args: str, timeout: float = 280) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=timeout)


def test_batch_cli_end_to_end(tmp_path: Path) -> None:
    spec = tmp_path / "tiny.yaml"
    spec.write_text(TINY)
    out = tmp_path / "out"
    done = _cli("batch", str(spec), "--workers", "2", "--out", str(out))
    assert done.returncode == 0, done.stderr[-3000:]
    # Progress on stderr: the dashboard link first, then runs starting and finishing.
    lines = done.stderr.splitlines()
    assert lines and "runs to do" in lines[0] and "dashboard: http" in lines[0], done.stderr
    assert any("2/2 done, 0 failed, 0 running, best" in line for line in lines)
    # The table on stdout.
    assert "batch tiny: 2 runs, 2 complete, 0 failed" in done.stdout
    assert f"results: {out / 'results.csv'}" in done.stdout
    assert len(pd.read_csv(out / "results.csv")) == 2
    assert len(pd.read_parquet(out / "results.parquet")) == 2
    assert (out / "report.html").is_file()
    again = _cli("batch", str(spec), "--workers", "2", "--out", str(out), "--quiet")
    assert again.returncode == 0 and not again.stderr
    assert "2 already finished" in again.stdout


def test_bad_spec_exits_2_with_its_line(tmp_path: Path) -> None:
    spec = tmp_path / "bad.toml"
    spec.write_text('datasets = ["iris"]\nseeds = [1]\n\n[settings]\npool_size = 0\n')
    done = _cli("batch", str(spec), "--workers", "2", "--out", str(tmp_path / "out"))
    assert done.returncode == 2
    assert done.stderr == (f"deepthinker-nb: error: {spec}:5: settings.pool_size: "
                           "must be >= 1, got 0\n")
    assert not (tmp_path / "out").exists()


def test_without_distributed_one_line_names_the_extra(tmp_path: Path) -> None:
    spec = tmp_path / "tiny.yaml"
    spec.write_text(TINY)
    code = ("import sys; sys.modules['distributed'] = None\n"
            "from deepthinker_nb.cli import main\n"
            f"sys.exit(main(['batch', {str(spec)!r}]))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 2
    assert done.stderr == ("deepthinker-nb: error: batch runs need Dask distributed: "
                           "pip install 'deepthinker-nb[distributed]'\n")
