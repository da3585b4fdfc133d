"""CodeExecutor: the seed API, stateful, with the scanner in front."""

from __future__ import annotations

import pytest

from deepthinker_nb import CodeExecutor, ConfigError, DockerConfig, ExecutionResult


def test_execute_returns_seed_fields_and_keeps_state():
    with CodeExecutor(backend="subprocess", scan=False) as executor:
        first = executor.execute("total = 40\nprint('set')", timeout=30)
        assert isinstance(first, ExecutionResult)
        assert first.success and first.status == "ok" and first.stdout == "set\n"
        second = executor.execute("total + 2", timeout=30)
        assert second.outputs[0].text == "42"
        failed = executor.execute("undefined_name")
        assert not failed.success and failed.error.ename == "NameError"
        assert failed.duration > 0


def test_timeout_is_a_result_not_an_exception():
    with CodeExecutor(scan=False) as executor:
        result = executor.execute("import time; time.sleep(10)", timeout=1)
        assert result.status == "timeout" and not result.success


def test_blocked_cell_is_never_sent_and_creates_no_file(tmp_path):
    marker = tmp_path / "pwned.txt"
    with CodeExecutor(workdir=str(tmp_path)) as executor:
        result = executor.execute(f"import os\nos.system('touch {marker}')")
        assert result.status == "blocked" and not result.success
        assert result.findings, "the findings explain why"
        assert result.error.ename == "SecurityError"
        assert not marker.exists()
        assert executor.execute("1 + 1").success


def test_docker_config_needs_the_docker_backend():
    with pytest.raises(ConfigError, match="docker"):
        CodeExecutor(backend="subprocess", docker_config=DockerConfig())


def test_unknown_backend_is_a_clear_error():
    from deepthinker_nb.errors import BackendUnavailableError

    with pytest.raises(BackendUnavailableError, match="available"):
        CodeExecutor(backend="kubernetes")
