"""Bad input on the command line: one error line naming the flag and what to do, exit 2, and
nothing left behind (no run dir, no working dir)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from deepthinker_nb.cli import main
from deepthinker_nb.cli.flags import FLAG_OF_FIELD, flag_message
from deepthinker_nb.config import DataConfig, IterationConfig
from deepthinker_nb.errors import ConfigError

DATA = Path(__file__).resolve().parents[2] / "notebooks" / "data" / "iris.csv"


def cli(capsys, *argv: str) -> tuple[int, str]:
    """Exit status and the last stderr line (argparse's usage lines come before it)."""
    try:
        code = main(list(argv))
    except SystemExit as exc:
        code = exc.code
    err = capsys.readouterr().err.strip().splitlines()
    return code, err[-1] if err else ""


@pytest.fixture
def script(tmp_path: Path) -> Path:
    path = tmp_path / "cells.py"
    path.write_text("print(1)\n")
    return path


@pytest.mark.parametrize("command", ["exec", "session"])
@pytest.mark.parametrize("value", ["0", "-1", "inf", "nan", "soon"])
def test_every_timeout_must_be_seconds_above_zero(capsys, script, command, value):
    code, line = cli(capsys, command, str(script), f"--timeout={value}")
    assert code == 2
    assert "--timeout" in line and "above 0" in line and "such as 30" in line


@pytest.mark.parametrize("flag", ["--timeout", "--time-budget"])
def test_run_timeouts_must_be_above_zero(capsys, tmp_path, flag):
    out = tmp_path / "runs"
    code, line = cli(capsys, "run", "--data", str(DATA), "--out", str(out), f"{flag}=0")
    assert code == 2 and flag in line and "above 0" in line
    assert not out.exists()


@pytest.mark.parametrize("value", ["0", "-2"])
def test_run_pool_size_below_one_is_refused_before_any_run_dir(capsys, tmp_path, value):
    out = tmp_path / "runs"
    code, line = cli(capsys, "run", "--data", str(DATA), "--out", str(out), "--quiet",
                     f"--pool-size={value}")
    assert code == 2 and "--pool-size" in line and ">= 1" in line
    assert not out.exists()


@pytest.mark.parametrize(("argv", "flag"), [
    (["--max-iterations", "0"], "--max-iterations"),
    (["--quality-threshold", "11"], "--quality-threshold"),
    (["--patience=-1"], "--patience"),
    (["--objective", " "], "--objective"),
    (["--profile", "NO_SUCH"], "--profile"),
    (["--target", "no_such_column"], "--target"),
    (["--seed=-1"], "--seed"),
])
def test_run_options_are_checked_before_any_run_dir_and_name_the_flag(capsys, tmp_path, argv,
                                                                        flag):
    out = tmp_path / "runs"
    code, line = cli(capsys, "run", "--data", str(DATA), "--out", str(out), "--quiet", *argv)
    assert code == 2
    assert flag in line and not re.search(r"error: \w+Config\.", line)
    assert not out.exists()


def test_run_data_path_problems_name_the_flag(capsys, tmp_path):
    out = tmp_path / "runs"
    assert cli(capsys, "run", "--data", "", "--out", str(out))[1] == (
        "deepthinker-nb: error: --data: give the path of a CSV, JSON or Parquet file")
    code, line = cli(capsys, "run", "--data", str(tmp_path / "none.csv"), "--out", str(out))
    assert code == 2 and "--data" in line and not out.exists()


def test_run_out_that_is_a_file_is_refused(capsys, tmp_path):
    out = tmp_path / "runs"
    out.write_text("not a directory")
    code, line = cli(capsys, "run", "--data", str(DATA), "--out", str(out))
    assert code == 2 and "--out" in line and "is a file" in line


def test_patience_zero_means_never_stop_for_lack_of_improvement(capsys, tmp_path, monkeypatch):
    """The help says "0: never"; the run gets no stall rule (patience None)."""
    from deepthinker_nb.workflow import runner as runner_module

    seen = {}

    def capture(self, data_config, iteration_config=None, *args, **kwargs):
        seen["patience"] = iteration_config.patience
        raise ConfigError("stop here")

    monkeypatch.setattr(runner_module.WorkflowRunner, "__init__", capture)
    assert cli(capsys, "run", "--data", str(DATA), "--out", str(tmp_path), "--quiet",
               "--patience", "0")[0] == 2
    assert seen == {"patience": None}
    assert "0: never" in _help(capsys, "run")


def _help(capsys, command: str) -> str:
    with pytest.raises(SystemExit):
        main([command, "--help"])
    return capsys.readouterr().out


def test_exec_workdir_must_exist_and_is_not_created(capsys, tmp_path, script):
    missing = tmp_path / "no" / "such"
    code, line = cli(capsys, "exec", str(script), "--workdir", str(missing))
    assert code == 2 and "--workdir" in line and "no such directory" in line
    assert not missing.exists() and not missing.parent.exists()


@pytest.mark.parametrize("name", ["bad/name", "../up", "has space", ""])
def test_kernels_install_refuses_names_jupyter_would_not_accept(capsys, tmp_path, name):
    code, line = cli(capsys, "kernels", "install", "--prefix", str(tmp_path), "--name", name)
    assert code == 2 and "--name" in line and "letters, digits" in line
    assert not (tmp_path / "share").exists()


def test_kernels_install_unknown_name_lists_ours(capsys, tmp_path):
    code, line = cli(capsys, "kernels", "install", "--prefix", str(tmp_path),
                     "--name", "deepthinker-nope")
    assert code == 2 and "--name" in line and "deepthinker-local" in line


# -- the one table: config fields -> flags --------------------------------------------------

def _config_error(build) -> str:
    with pytest.raises(ConfigError) as info:
        build()
    return str(info.value)


@pytest.mark.parametrize(("build", "flag"), [
    (lambda: DataConfig(data_path=""), "--data"),
    (lambda: DataConfig(data_path="x.csv", task_type="clustering"), "--task"),
    (lambda: DataConfig(data_path="x.csv", execution_timeout=0), "--timeout"),
    (lambda: DataConfig(data_path="x.csv", random_seed=2**32), "--seed"),
    (lambda: IterationConfig(max_iterations=0), "--max-iterations"),
    (lambda: IterationConfig(quality_threshold=11), "--quality-threshold"),
    (lambda: IterationConfig(patience=0), "--patience"),
    (lambda: IterationConfig(time_budget=-1), "--time-budget"),
])
def test_config_messages_a_cli_user_can_reach_are_mapped_to_their_flag(build, flag):
    message = _config_error(build)
    mapped = flag_message(message)
    assert mapped.startswith(f"{flag}: ") and "Config" not in mapped.split(":")[0]
    assert mapped.split(": ", 1)[1] == message.split(": ", 1)[1]


def test_every_mapped_field_exists_on_its_config():
    for field in FLAG_OF_FIELD:
        owner, _, name = field.partition(".")
        if owner in ("DataConfig", "IterationConfig"):
            config = DataConfig if owner == "DataConfig" else IterationConfig
            assert name in config.__dataclass_fields__, field


def test_unknown_messages_are_left_alone():
    assert flag_message("something else: broke") == "something else: broke"


def test_exec_reports_a_syntax_error_with_cell_line_and_column(tmp_path, capsys):
    path = tmp_path / "typo.py"
    path.write_text("# %%\nprint('ran')\n# %%\ny = 1\nx = (1,\n")
    code = main(["exec", str(path), "--backend", "local"])
    out, err = capsys.readouterr()
    assert code == 1 and "ran" in out
    assert err.splitlines()[0] == (
        "deepthinker-nb: cell 2: syntax error at line 2, column 5: '(' was never closed "
        "(fix the cell: code that does not parse cannot be checked)")
    assert "security" not in err.lower() and "blocked" not in err
