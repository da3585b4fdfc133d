"""The kernel placement's answers per backend, its kernel config and its cell timeout (no
kernels start)."""

from __future__ import annotations

import pytest

from deepthinker_nb.config import DataConfig, DockerConfig, LocalConfig
from deepthinker_nb.config.limits import DEFAULT_CELL_TIMEOUT
from deepthinker_nb.errors import ConfigError
from deepthinker_nb.workflow import WorkflowRunner
from deepthinker_nb.workflow.datasets import bundled_dataset
from deepthinker_nb.workflow.placement import KernelPlacement


@pytest.mark.parametrize("backend, pool_size, poolable, side_by_side", [
    ("local", 1, True, False),
    ("local", 2, True, True),
    ("subprocess", 1, True, False),
    ("docker", 1, False, True),
])
def test_placement_answers(backend, pool_size, poolable, side_by_side):
    placement = KernelPlacement(backend, pool_size=pool_size)
    assert placement.poolable is poolable
    assert placement.runs_side_by_side is side_by_side
    # Without a config, the backend's default one.
    assert type(placement.kernel_config) is placement._backend.config_type
    assert placement.kernel_name == f"deepthinker-{placement.backend}"


def test_a_config_of_another_backend_is_a_one_line_error():
    with pytest.raises(ConfigError, match="backend 'local' takes a LocalConfig, got DockerConfig"):
        KernelPlacement("local", docker_config=DockerConfig())
    with pytest.raises(ConfigError, match="not both"):
        KernelPlacement("docker", DockerConfig(), docker_config=DockerConfig())


def test_placement_narrows_the_scan_policy_to_the_notebook(tmp_path):
    placement = KernelPlacement("local")
    policy = placement.scan_policy(tmp_path, tmp_path / "work" / "01")
    assert policy.work_dir == str(tmp_path / "work" / "01")
    assert str(tmp_path / "data") in policy.data_dirs


@pytest.fixture
def iris_path():
    return bundled_dataset("iris").path


def test_cells_time_out_by_default(iris_path):
    runner = WorkflowRunner(DataConfig(iris_path))
    assert runner.placement.timeout == DEFAULT_CELL_TIMEOUT
    assert WorkflowRunner(DataConfig(iris_path, execution_timeout=12)).placement.timeout == 12


def test_the_data_configs_kernel_config_is_used_with_its_timeout(iris_path):
    local = LocalConfig(execution_timeout=7)
    runner = WorkflowRunner(DataConfig(iris_path, kernel_config=local))
    assert runner.kernel_config is local and runner.placement.timeout == 7
    # An explicit execution_timeout wins over the kernel config's.
    runner = WorkflowRunner(DataConfig(iris_path, kernel_config=local, execution_timeout=3))
    assert runner.placement.timeout == 3


def test_docker_config_precedence(iris_path):
    configured, given = DockerConfig(execution_timeout=5), DockerConfig(execution_timeout=9)
    data = DataConfig(iris_path, execution_backend="docker", kernel_config=configured)
    assert WorkflowRunner(data).kernel_config is configured
    assert WorkflowRunner(data, docker_config=given).kernel_config is given
    assert WorkflowRunner(data, kernel_config=given).kernel_config is given
    # Another backend than the data config's does not take the data config's kernel config.
    assert WorkflowRunner(data, backend="local").kernel_config == LocalConfig()
