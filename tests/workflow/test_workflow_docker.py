"""The workflow on Docker kernels: the whole run, and a full-disk search for labels that finds
nothing because the container mounts only the data dir (read-only) and the notebook's work dir.

Skips without a Docker engine and the kernel image, unless DEEPTHINKER_REQUIRE_DOCKER=1.
"""

from __future__ import annotations

import json
import shutil

import pytest
from wf_helpers import ScriptedCoder

from deepthinker_nb.config import DataConfig
from deepthinker_nb.workflow.councils.codegen import ModelSpec, cells_for
from deepthinker_nb.workflow.datasets import bundled_dataset

pytestmark = [pytest.mark.docker, pytest.mark.slow]

FULL_DISK_SPY = r'''
import json, os
from pathlib import Path
import pandas as pd

labelled, names = [], []
for dirpath, dirs, files in os.walk("/"):
    dirs[:] = [d for d in dirs if not (dirpath == "/" and d in ("proc", "sys", "dev", "usr"))]
    for name in files:
        path = os.path.join(dirpath, name)
        if "site-packages" in path:
            continue
        if "label" in name.lower():
            names.append(path)
        if name.endswith((".csv", ".json", ".parquet")):
            try:
                columns = list(pd.read_csv(path, nrows=1).columns)
            except Exception:
                continue
            if TARGET in columns:
                labelled.append(path)
Path(PREDICTIONS_PATH).with_name("spy.json").write_text(
    json.dumps({"labelled": labelled, "names": names}))
'''




def test_docker_run_and_full_disk_search_finds_no_labels(docker_engine, tmp_path, make_runner):
    dataset = bundled_dataset("iris")
    source = tmp_path / "source" / "iris.csv"  # the full data, labels included, on the host
    source.parent.mkdir()
    shutil.copy(dataset.path, source)
    config = DataConfig(source, target_column=dataset.target, execution_backend="docker",
                        execution_timeout=120)
    good = cells_for(ModelSpec("classification", "linear"))
    coder = ScriptedCoder([FULL_DISK_SPY, *good], good)
    result = make_runner(config, coder, max_iterations=2, patience=None, quality_threshold=10.0,
                         scan=False, simulate=True).run("iris in docker")
    print("\n" + result.summary())
    assert [r.status for r in result.iterations] == ["ok", "ok"]
    assert result.reproduced is True
    spy = json.loads((result.run_dir / "work" / "01" / "spy.json").read_text())
    assert spy["names"] == []
    # Only training files carry the target: never the source file, never test rows.
    assert spy["labelled"] and all(p.endswith("/train.csv") for p in spy["labelled"])
    assert not any(str(source) in p for p in spy["labelled"])
    manifest = json.loads((result.run_dir / "manifest.json").read_text())
    assert manifest["kernel"]["backend"] == "docker" and manifest["kernel"]["image"]
    assert all(r.status == "ok" for r in result.simulation.results)
