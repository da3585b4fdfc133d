"""Reading a notebook back: the host wrote it, but it may sit where a kernel can write (a
session's working dir), so it is read as untrusted and its errors never quote it."""

from __future__ import annotations

import os

import nbformat
import pytest

from deepthinker_nb.notebook import build_notebook, read_notebook, write_notebook
from deepthinker_nb.notebook.io import NOTEBOOK_MAX_BYTES
from deepthinker_nb.untrusted import UntrustedFileError

SECRET = "host-secret-notebook-0c7d"


def test_a_written_notebook_reads_back(tmp_path):
    path = write_notebook(build_notebook(["x = 1"], kernel_name="python3"), tmp_path / "n.ipynb")
    nb = read_notebook(path)
    nbformat.validate(nb)
    assert nb.cells[0].source == "x = 1"


def test_a_symlinked_or_hard_linked_notebook_is_refused(tmp_path):
    host = write_notebook(build_notebook([f"# {SECRET}"], kernel_name="python3"),
                          tmp_path / "host.ipynb")
    (tmp_path / "link.ipynb").symlink_to(host)
    with pytest.raises(UntrustedFileError, match="a symlink"):
        read_notebook(tmp_path / "link.ipynb")
    os.link(host, tmp_path / "hard.ipynb")
    with pytest.raises(UntrustedFileError, match="a hard link") as info:
        read_notebook(tmp_path / "hard.ipynb")
    assert SECRET not in str(info.value)


def test_a_file_that_is_not_a_notebook_is_an_error_that_does_not_quote_it(tmp_path):
    path = tmp_path / "n.ipynb"
    path.write_text(f"{SECRET} is not JSON")
    with pytest.raises(nbformat.reader.NotJSONError, match=SECRET):
        nbformat.read(path, as_version=4)  # what nbformat alone would say
    with pytest.raises(UntrustedFileError, match=r"not a valid notebook \(NotJSONError\)") as info:
        read_notebook(path)
    assert SECRET not in str(info.value)


def test_an_oversized_notebook_is_refused(tmp_path):
    path = tmp_path / "n.ipynb"
    with open(path, "wb") as handle:
        handle.truncate(NOTEBOOK_MAX_BYTES + 1)
    with pytest.raises(UntrustedFileError, match="too large"):
        read_notebook(path)
