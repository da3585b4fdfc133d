"""Run dirs of a batch on disk: naming, claiming an attempt, finding finished runs, and moving
a run dir from a worker to the client when they share no storage.

A run dir is ``<out>/<dataset>-<hash>-a<attempt>/``. An attempt is claimed with an exclusive
``mkdir`` (atomic on a shared file system too), so a retried run never writes into the dir of
the attempt that died: the dead attempt's dir keeps its "incomplete" manifest, and only a dir
whose manifest says ``complete`` and ``finished`` counts as a finished run.
"""

from __future__ import annotations

import io
import json
import os
import re
import secrets
import tarfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from deepthinker_nb.batch.config import RunConfig
from deepthinker_nb.errors import DeepThinkerError

RUN_RECORD = "batch-run.json"
"""Written into each run dir before the workflow starts: the run's config and full hash."""
PROBE_PREFIX = ".dtnb-batch-probe-"
_ATTEMPT = re.compile(r"-a(\d+)$")


class StorageError(DeepThinkerError):
    """A worker cannot use the batch's output dir (it does not see the client's storage)."""


# -- attempts and finished runs -----------------------------------------------------------------
def claim_run_dir(out_dir: Path, run: RunConfig) -> tuple[Path, int]:
    """Create the next free attempt dir of ``run`` (``-a1``, ``-a2``, ...) and return it."""
    out_dir.mkdir(parents=True, exist_ok=True)
    attempt = 1
    while True:
        path = out_dir / run.dir_name(attempt)
        try:
            path.mkdir()
        except FileExistsError:
            attempt += 1
            continue
        return path, attempt


def attempt_dirs(out_dir: Path, run: RunConfig) -> list[Path]:
    """Every attempt dir of ``run`` in ``out_dir``, oldest first (found by its hash: a dataset
    that was given another label since is still the same run)."""
    if not out_dir.is_dir():
        return []
    found = [p for p in out_dir.glob(f"*-{run.key}-a*") if _ATTEMPT.search(p.name)]
    return sorted(found, key=lambda p: int(_ATTEMPT.search(p.name).group(1)))  # type: ignore[union-attr]


def attempt_of(run_dir: Path) -> int | None:
    found = _ATTEMPT.search(run_dir.name)
    return int(found.group(1)) if found else None


def is_finished(run_dir: Path, config_hash: str | None = None) -> bool:
    """A complete manifest (status ``complete``, ``finished`` written) of the run with this
    hash (checked against the run record when given)."""
    try:
        manifest = json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))
        if config_hash is not None:
            record = json.loads((run_dir / RUN_RECORD).read_text(encoding="utf-8"))
            if record.get("config_hash") != config_hash:
                return False
    except (OSError, ValueError):
        return False
    return manifest.get("status") == "complete" and bool(manifest.get("finished"))


def finished_run_dir(out_dir: Path, run: RunConfig) -> Path | None:
    """The finished attempt of ``run`` in ``out_dir`` (the first), or None."""
    for path in attempt_dirs(out_dir, run):
        if is_finished(path, run.config_hash):
            return path
    return None


def write_run_record(run_dir: Path, run: RunConfig, **fields: Any) -> None:
    record = {"config_hash": run.config_hash, "label": run.label, **run.to_record(),
              "identity": run.identity(), **fields}
    (run_dir / RUN_RECORD).write_text(json.dumps(record, indent=2, default=str),
                                      encoding="utf-8")


# -- shared storage ------------------------------------------------------------------------------
def write_probe(out_dir: Path) -> tuple[str, str]:
    """A file only this batch knows, so a worker can tell whether it sees the client's out dir;
    returns (its name, its token)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    token = secrets.token_hex(8)
    name = PROBE_PREFIX + token
    (out_dir / name).write_text(token, encoding="utf-8")
    return name, token


def sees_probe(out_dir: str, name: str, token: str) -> bool:
    """Run on a worker: does it see the client's out dir at the same path?"""
    try:
        return (Path(out_dir) / name).read_text(encoding="utf-8") == token
    except OSError:
        return False


def sees_files(out_dir: str, name: str, token: str, files: Mapping[str, int]) -> bool:
    """Run on a worker: the probe, and each file at its path with its size."""
    if not sees_probe(out_dir, name, token):
        return False
    for path, size in files.items():
        try:
            if os.stat(path).st_size != size:
                return False
        except OSError:
            return False
    return True


def remove_probe(out_dir: Path, name: str) -> None:
    try:
        (out_dir / name).unlink()
    except OSError:
        pass


# -- moving a run dir to the client ----------------------------------------------------------------
def pack(run_dir: Path) -> bytes:
    """The run dir as a gzipped tar (names relative to the run dir). Kernels wrote into it, so,
    as ``untrusted.py`` reads such files: no symlink, FIFO or hard-linked file is taken."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for path in sorted(run_dir.rglob("*")):
            if path.is_symlink() or not (path.is_file() or path.is_dir()):
                continue
            if path.is_file() and path.stat().st_nlink != 1:
                continue
            archive.add(path, arcname=str(path.relative_to(run_dir)), recursive=False)
    return buffer.getvalue()


def unpack(data: bytes, dest: Path) -> None:
    """Extract a :func:`pack` archive into the existing dir ``dest``: regular files and dirs
    only, nothing outside ``dest``."""
    root = dest.resolve()
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
        members = []
        for member in archive.getmembers():
            target = (root / member.name).resolve()
            if not (member.isfile() or member.isdir()) or not target.is_relative_to(root):
                raise StorageError(f"run archive: refusing member {member.name!r}")
            members.append(member)
        for member in members:
            target = root / member.name
            if member.isdir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            source = archive.extractfile(member)
            assert source is not None
            with source, open(target, "wb") as handle:
                while block := source.read(1 << 20):
                    handle.write(block)


def relocate(run_dir: Path, replacements: Mapping[str, str]) -> None:
    """Rewrite the worker's absolute paths in a moved run dir (manifest, run record,
    notebooks, report) to the client's, so ``reproduce`` and links work where it landed."""
    pairs = sorted(((old, new) for old, new in replacements.items() if old and old != new),
                   key=lambda pair: -len(pair[0]))
    if not pairs:
        return
    for path in run_dir.rglob("*"):
        if path.is_symlink() or not path.is_file():
            continue
        if path.suffix in (".json", ".ipynb"):
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            path.write_text(json.dumps(_replace(data, pairs), indent=1, ensure_ascii=False)
                            + "\n", encoding="utf-8")
        elif path.suffix in (".html", ".md", ".txt"):
            text = path.read_text(encoding="utf-8", errors="replace")
            for old, new in pairs:
                text = text.replace(old, new)
            path.write_text(text, encoding="utf-8")


def _replace(value: Any, pairs: list[tuple[str, str]]) -> Any:
    if isinstance(value, str):
        for old, new in pairs:
            value = value.replace(old, new)
        return value
    if isinstance(value, list):
        return [_replace(v, pairs) for v in value]
    if isinstance(value, dict):
        return {k: _replace(v, pairs) for k, v in value.items()}
    return value


__all__ = ["RUN_RECORD", "StorageError", "attempt_dirs", "attempt_of", "claim_run_dir",
           "finished_run_dir", "is_finished", "pack", "relocate", "remove_probe", "sees_files",
           "sees_probe", "unpack", "write_probe", "write_run_record"]
