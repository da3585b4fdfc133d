"""The kernel image: its recipe hash, how it is built (registry base or offline), its info.

The tag is ``deepthinker-nb-kernel:<12 hex>``, a hash of every file in ``kernels/docker/`` plus
the kernel launcher copied into the image. A build is skipped when that tag exists, so CI can call
``deepthinker-nb image build`` on every run. Two bases give the same layers on top:

* ``registry``: ``python:3.11-slim``, when a local copy exists or ``docker pull`` works;
* ``offline``: Debian bookworm made by ``kernels/docker/rootfs.sh`` (mmdebstrap, python3 3.11
  from Debian) and ``docker import``-ed, for machines that reach apt and PyPI but no registry.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from deepthinker_nb.errors import KernelError
from deepthinker_nb.kernel.docker.engine import get_client

IMAGE_REPO = "deepthinker-nb-kernel"
BASE_REPO = "deepthinker-nb-base"
REGISTRY_BASE = "python:3.11-slim"
HOST_CA_BUNDLE = Path(os.environ.get("PIP_CERT") or "/etc/ssl/certs/ca-certificates.crt")
LABEL_RECIPE = "deepthinker-nb.recipe"
LABEL_BASE = "deepthinker-nb.base"
_PKG = Path(__file__).resolve().parents[2]  # the deepthinker_nb package directory


class ImageBuildError(KernelError):
    """The kernel image could not be built; the message says which step failed."""


def recipe_dir() -> Path:
    """``kernels/docker`` of a source checkout, or its copy inside an installed wheel."""
    pkg = _PKG
    for candidate in (pkg / "_data" / "kernels" / "docker", pkg.parent / "kernels" / "docker"):
        if (candidate / "Dockerfile").is_file():
            return candidate
    raise ImageBuildError("kernel image recipe not found (kernels/docker/Dockerfile)")


def recipe_files() -> dict[str, Path]:
    """Build-context name -> file, for every file that defines the image."""
    root = recipe_dir()
    return {
        p.relative_to(root).as_posix(): p
        for p in sorted(root.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts
    }


def recipe_hash() -> str:
    """12 hex digits of SHA-256 over the names and bytes of every recipe file."""
    digest = hashlib.sha256()
    for name, path in sorted(recipe_files().items()):
        digest.update(name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:12]


def image_tag(recipe: str | None = None) -> str:
    return f"{IMAGE_REPO}:{recipe or recipe_hash()}"


def _base_tag() -> str:
    """The offline base depends only on rootfs.sh."""
    data = (recipe_dir() / "rootfs.sh").read_bytes()
    return f"{BASE_REPO}:bookworm-{hashlib.sha256(data).hexdigest()[:12]}"


@dataclass
class BuildResult:
    tag: str
    image_id: str
    method: str
    """``cached`` (tag existed), ``registry`` or ``offline``."""
    seconds: float


def _has_image(client, ref: str) -> bool:
    import docker.errors

    try:
        client.images.get(ref)
        return True
    except docker.errors.ImageNotFound:
        return False


def _registry_base(client, log: Callable[[str], None]) -> bool:
    """True when python:3.11-slim is here or can be pulled."""
    if _has_image(client, REGISTRY_BASE):
        return True
    try:
        log(f"pulling {REGISTRY_BASE} ...")
        client.images.pull(REGISTRY_BASE)
        return True
    except Exception as exc:
        log(f"no registry base ({str(exc).splitlines()[0][:120]}); using the offline recipe")
        return False


def _offline_base(client, log: Callable[[str], None]) -> str:
    """Import a bookworm rootfs made by rootfs.sh (cached by the script's hash)."""
    tag = _base_tag()
    if _has_image(client, tag):
        log(f"offline base {tag} exists")
        return tag
    if shutil.which("mmdebstrap") is None:
        raise ImageBuildError(
            "no registry reachable and mmdebstrap is not installed; "
            "install it (apt-get install -y mmdebstrap) or make python:3.11-slim available"
        )
    with tempfile.TemporaryDirectory(prefix="dtk-rootfs-") as tmp:
        tar = Path(tmp) / "rootfs.tar"
        log("building a Debian bookworm root filesystem with mmdebstrap ...")
        proc = subprocess.run(
            ["sh", str(recipe_dir() / "rootfs.sh"), str(tar)],
            capture_output=True, text=True,
        )
        if proc.returncode != 0:
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
            raise ImageBuildError("mmdebstrap failed: " + " | ".join(tail))
        log(f"importing the root filesystem as {tag} ...")
        repo, _, ref = tag.partition(":")
        client.api.import_image_from_file(
            str(tar), repository=repo, tag=ref,
            changes=["ENV LANG=C.UTF-8", 'CMD ["/bin/sh"]'],
        )
    return tag


def build_image(
    *,
    force: bool = False,
    offline: bool | None = None,
    log: Callable[[str], None] = print,
) -> BuildResult:
    """Build the kernel image unless its recipe tag exists.

    ``offline=None`` picks the registry base when available, else the mmdebstrap recipe.
    """
    client = get_client()
    start = time.monotonic()
    recipe = recipe_hash()
    tag = image_tag(recipe)
    if not force and _has_image(client, tag):
        image = client.images.get(tag)
        image.tag(IMAGE_REPO, "latest")
        return BuildResult(tag, image.id, "cached", time.monotonic() - start)
    if offline is None:
        offline = not _registry_base(client, log)
    base = _offline_base(client, log) if offline else REGISTRY_BASE
    method = "offline" if offline else "registry"
    with tempfile.TemporaryDirectory(prefix="dtk-build-") as ctx:
        for name, path in recipe_files().items():
            dest = Path(ctx) / name
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, dest)
        (Path(ctx) / "certs").mkdir(exist_ok=True)
        if HOST_CA_BUNDLE.is_file():  # pip behind a TLS-inspecting proxy needs the host's CAs
            shutil.copyfile(HOST_CA_BUNDLE, Path(ctx) / "certs" / "ca-certificates.crt")
        log(f"building {tag} on {base} ...")
        try:
            image, logs = client.images.build(
                path=ctx, tag=tag, buildargs={"BASE_IMAGE": base}, rm=True, forcerm=True,
                network_mode="host", pull=False,
                labels={LABEL_RECIPE: recipe, LABEL_BASE: base},
            )
        except Exception as exc:  # docker.errors.BuildError carries the build log
            lines = [
                chunk.get("stream", "").rstrip()
                for chunk in getattr(exc, "build_log", []) or []
                if isinstance(chunk, dict)
            ]
            tail = " | ".join([line for line in lines if line][-6:])
            raise ImageBuildError(f"docker build failed: {exc}. {tail}") from None
        for chunk in logs:
            if isinstance(chunk, dict) and chunk.get("stream", "").startswith("Step"):
                log(chunk["stream"].rstrip())
    image.tag(IMAGE_REPO, "latest")
    _prune_old_tags(client, keep=tag)
    return BuildResult(tag, image.id, method, time.monotonic() - start)


def _prune_old_tags(client, keep: str) -> None:
    """Drop tags of older recipes so rebuilds do not pile up (images in use are kept)."""
    for image in client.images.list(name=IMAGE_REPO):
        for ref in image.tags:
            if ref not in (keep, f"{IMAGE_REPO}:latest"):
                with contextlib.suppress(Exception):
                    client.images.remove(ref, noprune=False)
    with contextlib.suppress(Exception):  # a --force rebuild leaves the old image untagged
        client.images.prune(filters={"dangling": True, "label": LABEL_RECIPE})


_VERSIONS_SCRIPT = """
import importlib.metadata as m, json, platform
names = ["ipykernel", "ipython", "jupyter_client", "pyzmq", "numpy", "pandas", "scipy",
         "scikit-learn", "matplotlib", "pyarrow"]
out = {"python": platform.python_version()}
for n in names:
    try:
        out[n] = m.version(n)
    except m.PackageNotFoundError:
        pass
print(json.dumps(out))
"""


@dataclass
class ImageInfo:
    tag: str
    image_id: str
    digest: str | None
    """The content digest (``RepoDigests`` when pushed, else the image id)."""
    recipe: str | None
    base: str | None
    size_mb: float
    created: str
    packages: dict[str, str] = field(default_factory=dict)


def image_info(image: str | None = None, *, packages: bool = True) -> ImageInfo:
    """Tag, digest and package versions of the kernel image (runs a throwaway container)."""
    from deepthinker_nb.kernel.docker.engine import require_image

    client = get_client()
    ref = image or image_tag()
    if image is None and not _has_image(client, ref):
        ref = f"{IMAGE_REPO}:latest"
    require_image(client, ref)
    img = client.images.get(ref)
    labels = img.labels or {}
    versions: dict[str, str] = {}
    if packages:
        out = client.containers.run(
            img.id, ["python", "-c", _VERSIONS_SCRIPT], remove=True, network_disabled=True,
            read_only=True, tmpfs={"/tmp": "size=16m"}, cap_drop=["ALL"],
        )
        versions = json.loads(out.decode().strip().splitlines()[-1])
    digests = img.attrs.get("RepoDigests") or []
    return ImageInfo(
        tag=ref, image_id=img.id, digest=digests[0] if digests else img.id,
        recipe=labels.get(LABEL_RECIPE), base=labels.get(LABEL_BASE),
        size_mb=round(img.attrs.get("Size", 0) / 1e6, 1), created=img.attrs.get("Created", ""),
        packages=versions,
    )
