"""Fixtures of the workflow suite: bundled data, small CSVs, scripted councils, fast runners."""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import pytest

from deepthinker_nb.config import DataConfig, IterationConfig
from deepthinker_nb.workflow import Councils, WorkflowRunner
from deepthinker_nb.workflow.datasets import bundled_dataset

sys.path.insert(0, str(Path(__file__).parent))  # wf_helpers

@pytest.fixture
def iris_config() -> DataConfig:
    dataset = bundled_dataset("iris")
    return DataConfig(dataset.path, task_type="classification", target_column=dataset.target,
                      execution_timeout=60.0)


@pytest.fixture
def make_runner(tmp_path: Path):
    """``make_runner(data_config, coder=None, **iteration_kw)``: a runner into tmp_path/runs."""

    def make(data_config: DataConfig, coder=None, *, simulate: bool = False, report: bool = False,
             scan: bool = True, pool_size: int = 2, **iteration_kw) -> WorkflowRunner:
        councils = Councils() if coder is None else Councils(coder=coder)
        return WorkflowRunner(
            data_config, IterationConfig(**iteration_kw), councils=councils,
            runs_dir=tmp_path / "runs", pool_size=pool_size, simulate=simulate, report=report,
            scan=scan,
        )

    return make


@pytest.fixture
def write_csv(tmp_path: Path):
    def write(frame: pd.DataFrame, name: str = "data.csv") -> Path:
        path = tmp_path / name
        frame.to_csv(path, index=False)
        return path

    return write
