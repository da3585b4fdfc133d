from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from deepthinker_nb.report import file_sha256, package_versions, read_manifest, write_manifest


def test_write_manifest_is_json_with_paths_and_dates(tmp_path):
    from datetime import datetime, timezone

    path = write_manifest(tmp_path, {"status": "complete", "data": Path("/d/x.csv"),
                                     "when": datetime(2024, 1, 1, tzinfo=timezone.utc),
                                     "seeds": (1, 2)})
    assert path == tmp_path / "manifest.json"
    data = json.loads(path.read_text())
    assert data == {"status": "complete", "data": "/d/x.csv",
                    "when": "2024-01-01T00:00:00+00:00", "seeds": [1, 2]}
    assert read_manifest(tmp_path) == data


def test_manifest_write_is_atomic(tmp_path, monkeypatch):
    write_manifest(tmp_path, {"status": "incomplete", "iterations": 1})
    before = (tmp_path / "manifest.json").read_text()

    def crash(src, dst):
        raise KeyboardInterrupt  # the run is killed between writing and renaming

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(KeyboardInterrupt):
        write_manifest(tmp_path, {"status": "complete", "iterations": 2})
    monkeypatch.undo()
    assert (tmp_path / "manifest.json").read_text() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["manifest.json"]


def test_package_versions_and_sha256(tmp_path):
    versions = package_versions()
    for name in ("papermill", "nbclient", "nbformat", "jupyter_client", "pandas", "python"):
        assert versions[name]
    assert package_versions(["surely-not-installed-pkg"])["surely-not-installed-pkg"] is None
    data = tmp_path / "d.csv"
    data.write_bytes(b"a,b\n1,2\n" * 1000)
    assert file_sha256(data) == hashlib.sha256(data.read_bytes()).hexdigest()
    assert file_sha256(data, chunk_size=7) == file_sha256(data)
