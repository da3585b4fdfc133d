"""A third backend is a class and an entry point, nothing else: the registry, configs, the CLI,
sessions and notebooks take it without a line naming it."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from importlib.metadata import EntryPoint
from typing import Any

import pytest

from deepthinker_nb.config import DataConfig, LocalConfig
from deepthinker_nb.errors import ConfigError
from deepthinker_nb.kernel import backend as registry
from deepthinker_nb.kernel import session as session_module
from deepthinker_nb.kernel.backend import KernelBackend
from deepthinker_nb.kernel.local.backend import LocalBackend


@dataclass(frozen=True)
class QuarantineConfig:
    """A config type no other backend takes."""

    execution_timeout: float | None = 7.0
    startup_timeout: float = 60.0


class QuarantineBackend(KernelBackend):
    """A stand-in for a plug-in: its own name, alias, config type and profiles; its kernels
    come from the local sandbox's provisioner."""

    name = "quarantine"
    kernel_name = "deepthinker-quarantine"
    provisioner_name = LocalBackend.provisioner_name
    config_type = QuarantineConfig
    aliases = ("q",)

    def kernel_spec(self) -> dict[str, Any]:
        return LocalBackend().kernel_spec()

    def launch_kwargs(self, config: Any, workdir, data_dirs=(), **options: Any):
        return super().launch_kwargs(LocalConfig(), workdir, data_dirs, **options)

    def profiles(self) -> dict[str, QuarantineConfig]:
        return {"STRICT": QuarantineConfig(execution_timeout=3.0)}


@pytest.fixture
def quarantine(monkeypatch):
    """Register QuarantineBackend as an installed package's entry point would."""
    entry = EntryPoint("quarantine", f"{__name__}:QuarantineBackend", registry.ENTRY_POINT_GROUP)
    installed = dict(registry._registry())
    monkeypatch.setattr(registry, "_registry", lambda: {**installed, "quarantine": entry})
    registry._load.cache_clear()
    monkeypatch.setattr(session_module, "_spec_manager", None)  # a fresh spec lookup
    yield
    registry._load.cache_clear()


def test_the_registry_finds_it_by_name_and_alias(quarantine):
    assert "quarantine" in registry.available_backends()
    assert isinstance(registry.get_backend("q"), QuarantineBackend)
    assert registry.backend_for_kernel("deepthinker-quarantine").name == "quarantine"


def test_configs_take_its_config_type_and_refuse_others(quarantine):
    config = DataConfig("data.csv", execution_backend="q", kernel_config=QuarantineConfig())
    assert config.backend == "quarantine"
    assert config.cell_timeout == 7.0  # the backend config's own limit
    with pytest.raises(ConfigError, match="takes a QuarantineConfig, got LocalConfig"):
        DataConfig("data.csv", execution_backend="quarantine", kernel_config=LocalConfig())


def test_the_cli_accepts_it_and_its_profiles(quarantine):
    from deepthinker_nb.cli.options import backend_name
    from deepthinker_nb.cli.run import _backend_with_profile

    assert backend_name("q") == "quarantine"
    assert _backend_with_profile("strict") == "quarantine"
    with pytest.raises(argparse.ArgumentTypeError, match=r"available: .*quarantine"):
        backend_name("nowhere")


def test_a_session_and_a_notebook_run_on_it(quarantine, tmp_path):
    from deepthinker_nb.kernel import KernelSession
    from deepthinker_nb.notebook import build_notebook, execute_notebook

    with KernelSession("q", QuarantineConfig(), workdir=tmp_path / "s") as session:
        assert session.default_timeout == 7.0
        assert session.execute("print(6 * 7)").stdout == "42\n"
    run = execute_notebook(build_notebook(["print('in quarantine')"]), tmp_path / "out.ipynb",
                           backend="quarantine", workdir=tmp_path / "n")
    assert run.status == "ok" and run.kernel_name == "deepthinker-quarantine"
