"""Scratch run dirs of batch workers (``dtnb-batch-<worker pid>-...``) that a killed worker
left behind are orphans like a dead kernel's dirs: ``deepthinker-nb gc`` and every process's
first kernel start remove them, and leave a living worker's alone."""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from deepthinker_nb.batch.task import SCRATCH_KIND
from deepthinker_nb.cli import main
from deepthinker_nb.kernel.local.orphans import temp_prefix


def test_gc_removes_batch_scratch_of_dead_workers(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    orphan = tmp_path / f"dtnb-batch-{int(dead.stdout)}-abc" / "runs" / "iris-1-a1"
    orphan.mkdir(parents=True)
    (orphan / "manifest.json").write_text("{}")
    alive = Path(tempfile.mkdtemp(prefix=temp_prefix(SCRATCH_KIND)))
    assert alive.parent == tmp_path and alive.name.startswith("dtnb-batch-")
    assert main(["gc", "--backend", "local"]) == 0
    assert "local: 1 orphan(s) removed" in capsys.readouterr().out
    assert not orphan.parents[1].exists() and alive.exists()
