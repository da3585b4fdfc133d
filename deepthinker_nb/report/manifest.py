"""The run manifest: what a reader needs to trust and repeat a run, written atomically."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import platform
import sys
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from enum import Enum
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any

from deepthinker_nb.notebook.io import atomic_write_text

MANIFEST_NAME = "manifest.json"
KEY_PACKAGES = (
    "deepthinker-nb", "jupyter_client", "ipykernel", "ipython", "nbformat", "nbclient",
    "nbconvert", "papermill", "pandas", "numpy", "scikit-learn", "scipy", "matplotlib",
    "pyzmq", "docker",
)


def _json_default(value: Any) -> Any:
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Enum):
        return str(value.value if not isinstance(value.value, int) else value.name.lower())
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    if hasattr(value, "to_dict"):
        return value.to_dict()
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    return str(value)


def manifest_path(run_dir: str | os.PathLike[str]) -> Path:
    return Path(run_dir) / MANIFEST_NAME


def write_manifest(run_dir: str | os.PathLike[str], manifest: Mapping[str, Any]) -> Path:
    """Write ``run_dir/manifest.json`` atomically (temp file + ``os.replace``): a run killed
    mid-write leaves the previous manifest, never a truncated one."""
    text = json.dumps(dict(manifest), indent=2, sort_keys=False, default=_json_default)
    return atomic_write_text(manifest_path(run_dir), text + "\n")


def read_manifest(run_dir: str | os.PathLike[str]) -> dict[str, Any]:
    return json.loads(manifest_path(run_dir).read_text(encoding="utf-8"))


def package_versions(packages: Iterable[str] = KEY_PACKAGES) -> dict[str, str | None]:
    """Installed versions of the packages that decide a run's results (None when absent),
    plus the Python version and platform."""
    versions: dict[str, str | None] = {
        "python": platform.python_version(),
        "platform": sys.platform,
    }
    for name in packages:
        try:
            versions[name] = importlib_metadata.version(name)
        except importlib_metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def file_sha256(path: str | os.PathLike[str], chunk_size: int = 1 << 20) -> str:
    """Hex SHA-256 of a file, read in chunks (datasets can be large)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk_size):
            digest.update(block)
    return digest.hexdigest()
