"""The original DeepThinker's config names still work, so ported code runs unchanged."""

from __future__ import annotations

from dataclasses import replace

import pytest

from deepthinker_nb.config import DataConfig, DockerConfig
from deepthinker_nb.config.docker import DEFAULT_IMAGE
from deepthinker_nb.errors import ConfigError


def test_docker_config_image_name_sets_the_image():
    config = DockerConfig(image_name="my-kernel:1")
    assert config.image == "my-kernel:1"
    assert DockerConfig(image="my-kernel:1", image_name="my-kernel:1").image == "my-kernel:1"
    assert DockerConfig().image == DEFAULT_IMAGE


def test_docker_config_image_and_a_different_image_name_is_an_error():
    with pytest.raises(ConfigError, match="image='a:1' and image_name='b:1' differ"):
        DockerConfig(image="a:1", image_name="b:1")


def test_a_config_made_with_image_name_can_be_replaced_field_by_field():
    config = DockerConfig(image_name="my-kernel:1")
    assert replace(config, memory_limit="1g").image == "my-kernel:1"
    assert config.replace(image="other:2").image == "other:2"


def test_data_config_is_enabled_when_a_data_path_is_set():
    assert DataConfig(data_path="data/dataset.csv").is_enabled() is True
