"""Configs: the seed's fields and defaults, and a clear error for every bad value."""

from __future__ import annotations

import pytest

from deepthinker_nb import (
    PROFILES,
    ConfigError,
    DataConfig,
    DockerConfig,
    IterationConfig,
    LocalConfig,
    ResourceLimits,
)
from deepthinker_nb.config import parse_size, profile


def test_seed_constructors_keep_working():
    docker = DockerConfig(memory_limit="512m", cpu_limit=1.0, network_disabled=True)
    assert docker.memory_bytes == 512 * 1024**2 and docker.network_disabled
    iteration = IterationConfig(max_iterations=5, quality_threshold=8.0, enabled=True)
    assert iteration.effective_max_iterations == 5
    data = DataConfig(data_path="data/dataset.csv", task_type="classification",
                      target_column="label")
    assert (data.test_split_ratio, data.random_seed, data.backend) == (0.2, 42, "local")


@pytest.mark.parametrize(
    ("text", "size"),
    [("512m", 512 * 1024**2), ("4g", 4 * 1024**3), ("1.5GiB", int(1.5 * 1024**3)),
     ("100k", 102400), (2048, 2048)],
)
def test_sizes_are_read_in_binary_units(text, size):
    assert parse_size(text) == size


@pytest.mark.parametrize(
    ("make", "field"),
    [
        (lambda: DockerConfig(memory_limit="lots"), "memory_limit"),
        (lambda: DockerConfig(cpu_limit=0), "cpu_limit"),
        (lambda: DockerConfig(user="root"), "user"),
        (lambda: DockerConfig(mounts=(("/no/such/dir", "/data"),)), "mounts"),
        (lambda: IterationConfig(max_iterations=0), "max_iterations"),
        (lambda: IterationConfig(quality_threshold=11), "quality_threshold"),
        (lambda: IterationConfig(patience=0), "patience"),
        (lambda: DataConfig("x.csv", task_type="clustering"), "task_type"),
        (lambda: DataConfig("x.csv", test_split_ratio=0.9), "test_split_ratio"),
        (lambda: DataConfig("x.csv", execution_backend="k8s"), "execution_backend"),
        (lambda: DataConfig(""), "data_path"),
        (lambda: ResourceLimits(memory="-1"), "memory"),
        (lambda: ResourceLimits(open_files=0), "open_files"),
        (lambda: ResourceLimits.from_dict({"ram": 1}), "unknown field"),
    ],
)
def test_bad_values_name_the_field(make, field):
    with pytest.raises(ConfigError, match=field):
        make()


def test_profiles_are_named_presets():
    assert set(PROFILES) >= {"SAFE_ML", "GPU_ML", "BROWSER", "TRUSTED"}
    safe = profile("safe_ml")
    assert (safe.memory_limit, safe.cpu_limit, safe.network_disabled) == ("512m", 1.0, True)
    assert profile("TRUSTED").network_disabled is False
    with pytest.raises(ConfigError, match="known profiles"):
        profile("nope")


def test_local_config_accepts_plain_dicts():
    config = LocalConfig(limits={"memory": "2g"}, env={"A": "1"})
    assert config.limits.memory == 2 * 1024**3 and dict(config.env) == {"A": "1"}
