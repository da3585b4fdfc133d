"""The notebooks we write say what ran them under ``metadata.deepthinker``: the backend, the
kernel name, and the backend's description of its kernel (for Docker, the image's tag, id and
digest), so a notebook copied out of its run dir still says where it ran."""

from __future__ import annotations

from pathlib import Path

import nbformat
import papermill
import pytest

from deepthinker_nb.cli import main
from deepthinker_nb.config.docker import DEFAULT_IMAGE
from deepthinker_nb.kernel.backend import get_backend
from deepthinker_nb.notebook import build_notebook

DOCKER = pytest.param("docker", marks=pytest.mark.docker)


def _engine_metadata(backend: str, tmp_path: Path) -> dict:
    out = tmp_path / "out.ipynb"
    papermill.execute_notebook(
        build_notebook(["print(6 * 7)"]), str(out), engine_name="deepthinker",
        kernel_name=get_backend(backend).kernel_name, progress_bar=False, cwd=str(tmp_path))
    return nbformat.read(out, as_version=4).metadata["deepthinker"]


def _check_kernel(meta: dict, backend: str) -> None:
    kernel_name = get_backend(backend).kernel_name
    assert (meta["backend"], meta["kernel_name"]) == (backend, kernel_name)
    assert (meta["kernel"]["backend"], meta["kernel"]["kernel_name"]) == (backend, kernel_name)
    if backend == "docker":
        image = meta["kernel"]
        assert image["image"] == DEFAULT_IMAGE
        assert image["image_id"].startswith("sha256:")
        assert image["image_digest"]
    else:
        assert "image" not in meta["kernel"]
        assert meta["kernel"]["isolation"]


@pytest.mark.parametrize("backend", ["local", DOCKER])
def test_the_papermill_engine_records_the_kernel(backend, tmp_path, request):
    if backend == "docker":
        request.getfixturevalue("docker_engine")
    _check_kernel(_engine_metadata(backend, tmp_path), backend)


@pytest.mark.parametrize("backend", ["local", DOCKER])
def test_exec_output_records_the_kernel(backend, tmp_path, capsys, request):
    if backend == "docker":
        request.getfixturevalue("docker_engine")
    script = tmp_path / "cells.py"
    script.write_text("print(6 * 7)\n")
    out = tmp_path / "out.ipynb"
    assert main(["exec", str(script), "--backend", backend, "-o", str(out), "-q"]) == 0
    meta = nbformat.read(out, as_version=4).metadata["deepthinker"]
    assert meta["recorded_by"] == "NotebookRecorder"
    _check_kernel(meta, backend)
