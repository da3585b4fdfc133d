"""Export a run as one zip that another machine can reproduce, and unpack such a zip safely.

The zip holds the run dir (it refers to its own files relatively) and an ``environment/``
folder: the exact installed packages (``requirements.txt`` pinned, ``packages.json`` with each
distribution's version and the SHA-256 of its installed ``RECORD``, which identifies the very
build), and the Docker kernel image's recipe with its hash. The original dataset is named by its
SHA-256 in the manifest; ``with_data`` adds it under ``dataset/`` for a receiver who lacks it.

Files under ``work/`` and ``data/`` were written by kernels: they are read without following
links, regular files only, so an exported zip never carries a host file a kernel pointed at.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import zipfile
from dataclasses import dataclass
from importlib import metadata as importlib_metadata
from pathlib import Path, PurePosixPath
from typing import Any

from deepthinker_nb.errors import DeepThinkerError
from deepthinker_nb.report.manifest import MANIFEST_NAME, file_sha256, read_manifest
from deepthinker_nb.untrusted import UntrustedFileError, read_untrusted_bytes

ENVIRONMENT_DIR = "environment"
DATASET_DIR = "dataset"
MAX_MEMBER_BYTES = 2 * 1024 ** 3
"""The largest file an export carries or an unpack accepts (2 GiB)."""
_SKIPPED = ("run.reproducing.ipynb", ".ipynb_checkpoints")


class ExportError(DeepThinkerError):
    """A run or a zip that cannot be exported or unpacked; the message says which and why."""


@dataclass(frozen=True)
class ExportResult:
    """What :func:`export_run` wrote."""

    path: Path
    files: int
    bytes: int
    skipped: tuple[str, ...] = ()
    """Entries left out: links and special files a kernel made."""

    def summary(self) -> str:
        extra = f"; left out {len(self.skipped)} link(s)/special file(s)" if self.skipped else ""
        return f"exported {self.files} files ({self.bytes / 1e6:.1f} MB) to {self.path}{extra}"

    def _repr_html_(self) -> str:
        import html

        return f"<code>{html.escape(self.summary())}</code>"


def installed_packages() -> list[dict[str, Any]]:
    """Every distribution of this environment: name, version, and the SHA-256 of its
    installed file list (``RECORD``: the hashes of all its files), sorted by name."""
    found: dict[str, dict[str, Any]] = {}
    for dist in importlib_metadata.distributions():
        name = dist.metadata.get("Name")
        if not name or name.lower() in found:
            continue
        record = dist.read_text("RECORD")
        found[name.lower()] = {
            "name": name, "version": dist.version,
            "record_sha256": hashlib.sha256(record.encode()).hexdigest() if record else None,
        }
    return [found[k] for k in sorted(found)]


def _image_recipe() -> tuple[dict[str, bytes], str | None]:
    try:
        from deepthinker_nb.kernel.docker.image import recipe_files, recipe_hash

        return ({name: path.read_bytes() for name, path in recipe_files().items()},
                recipe_hash())
    except Exception:  # no recipe in this install (or no docker SDK): the zip says so
        return {}, None


def _run_files(run_dir: Path) -> tuple[list[tuple[str, Path]], list[str]]:
    """(name in the zip, path) of every regular file of the run dir; links and special
    files (which only a kernel could have made) are listed apart, never followed."""
    files, skipped = [], []
    for root, dirs, names in os.walk(run_dir, followlinks=False):
        base = Path(root)
        kept = []
        for name in sorted(dirs):
            if name in _SKIPPED:
                continue
            if (base / name).is_symlink():
                skipped.append((base / name).relative_to(run_dir).as_posix())
            else:
                kept.append(name)
        dirs[:] = kept
        for name in sorted(names):
            path = base / name
            rel = path.relative_to(run_dir).as_posix()
            if name in _SKIPPED:
                continue
            if not stat.S_ISREG(os.lstat(path).st_mode):
                skipped.append(rel)
                continue
            files.append((rel, path))
    return files, skipped


def export_run(run_dir: str | os.PathLike[str], zip_path: str | os.PathLike[str], *,
               with_data: bool = False) -> ExportResult:
    """Write ``run_dir`` and its environment into ``zip_path`` (written whole, then moved into
    place: an interrupted export leaves no half zip)."""
    run_path = Path(run_dir).resolve()
    if not (run_path / MANIFEST_NAME).is_file():
        raise ExportError(f"{run_path} is not a run dir (no {MANIFEST_NAME}); name a run by "
                          "its id or directory")
    target = Path(zip_path)
    if target.suffix.lower() != ".zip":
        raise ExportError(f"--to {target}: the export is a zip file; give a name ending in .zip")
    if target.resolve().is_relative_to(run_path):
        raise ExportError(f"--to {target}: write the zip outside the run dir it exports")
    manifest = read_manifest(run_path)
    prefix = PurePosixPath(run_path.name)
    files, skipped = _run_files(run_path)
    recipe, recipe_digest = _image_recipe()
    packages = installed_packages()
    partial = target.with_name(target.name + ".partial")
    target.parent.mkdir(parents=True, exist_ok=True)
    total = written = 0
    try:
        with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for rel, path in files:
                kernel_written = rel.split("/", 1)[0] in ("work", "data")
                try:
                    data = (read_untrusted_bytes(path, root=run_path, max_bytes=MAX_MEMBER_BYTES)
                            if kernel_written else path.read_bytes())
                except UntrustedFileError:
                    skipped.append(rel)
                    continue
                archive.writestr(str(prefix / rel), data)
                total += len(data)
                written += 1
            env = prefix / ENVIRONMENT_DIR
            archive.writestr(str(env / "requirements.txt"), "".join(
                f"{p['name']}=={p['version']}\n" for p in packages))
            archive.writestr(str(env / "packages.json"), json.dumps(packages, indent=1) + "\n")
            for name, data in recipe.items():
                archive.writestr(str(env / "kernel-image" / name), data)
            archive.writestr(str(env / "README.txt"), _readme(manifest, recipe_digest))
            if with_data:
                source = Path(manifest["data_config"]["data_path"])
                if not source.is_file():
                    raise ExportError(f"--with-data: the run's dataset {str(source)!r} is gone")
                # The manifest is data: only the file whose hash it recorded goes in the zip,
                # never some other host file a received run's manifest points at.
                if file_sha256(source) != (manifest.get("dataset") or {}).get("sha256"):
                    raise ExportError(f"--with-data: {str(source)!r} is not the dataset the "
                                      "run used (SHA-256 differs); export without --with-data")
                archive.write(source, str(prefix / DATASET_DIR / source.name))
                total += source.stat().st_size
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return ExportResult(target, written, total, tuple(skipped))


def _readme(manifest: dict[str, Any], recipe_digest: str | None) -> str:
    kernel = manifest.get("kernel") or {}
    image = kernel.get("image")
    lines = [
        f"deepthinker-nb run {manifest.get('run_id')}",
        "",
        "Reproduce on another machine:",
        "  python3 -m venv .venv && .venv/bin/pip install -r environment/requirements.txt",
        "  .venv/bin/deepthinker-nb reproduce THIS.zip [--data PATH/TO/DATASET]",
        "",
        f"The dataset is named by its SHA-256: {(manifest.get('dataset') or {}).get('sha256')}",
        "(included under dataset/ when exported with --with-data).",
        f"Backend: {manifest.get('backend')}; kernel image: {image or '-'}.",
        f"Kernel image recipe hash (environment/kernel-image/): {recipe_digest or 'not included'}",
    ]
    return "\n".join(lines) + "\n"


def unpack_run(zip_path: str | os.PathLike[str], into: str | os.PathLike[str]) -> Path:
    """Extract an exported run into ``into`` and return its run dir. Members that would land
    outside ``into`` (absolute names, ``..``), links and oversized files are refused."""
    source = Path(zip_path)
    try:
        archive = zipfile.ZipFile(source)
    except (OSError, zipfile.BadZipFile) as exc:
        raise ExportError(f"{source}: not a readable zip ({exc}); give a file written by "
                          "`deepthinker-nb export`") from None
    destination = Path(into).resolve()
    with archive:
        tops = set()
        for info in archive.infolist():
            name = PurePosixPath(info.filename)
            if name.is_absolute() or ".." in name.parts or not name.parts:
                raise ExportError(f"{source}: member {info.filename!r} would land outside the "
                                  "run dir; this zip was not written by deepthinker-nb export")
            if stat.S_ISLNK(info.external_attr >> 16) or info.file_size > MAX_MEMBER_BYTES:
                raise ExportError(f"{source}: member {info.filename!r} is a link or too large")
            tops.add(name.parts[0])
        if len(tops) != 1 or f"{next(iter(tops))}/{MANIFEST_NAME}" not in archive.namelist():
            raise ExportError(f"{source}: no run inside (one folder with {MANIFEST_NAME} "
                              "expected); give a file written by `deepthinker-nb export`")
        destination.mkdir(parents=True, exist_ok=True)
        archive.extractall(destination)
    return destination / next(iter(tops))


def bundled_dataset(run_dir: Path) -> Path | None:
    """The dataset an export carried (``dataset/<name>``), if any."""
    folder = run_dir / DATASET_DIR
    if not folder.is_dir():
        return None
    files = [p for p in folder.iterdir() if p.is_file() and not p.is_symlink()]
    return files[0] if len(files) == 1 else None


__all__ = ["ExportError", "ExportResult", "bundled_dataset", "export_run",
           "installed_packages", "unpack_run"]
