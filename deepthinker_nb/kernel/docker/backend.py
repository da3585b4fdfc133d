"""``DockerBackend``: the ``docker`` entry of our backend registry (kernelspec, checks, gc)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from deepthinker_nb.config.docker import PROFILES, DockerConfig
from deepthinker_nb.kernel.backend import KernelBackend
from deepthinker_nb.kernel.docker import orphans
from deepthinker_nb.kernel.docker.engine import get_client, require_image
from deepthinker_nb.kernel.docker.ownership import check_mounts
from deepthinker_nb.kernel.docker.provisioner import KERNEL_ARGV

log = logging.getLogger("deepthinker_nb.docker")


def docker_kernel_spec(provisioner_config: dict[str, Any] | None = None) -> dict[str, Any]:
    """kernel.json of ``deepthinker-docker`` (also shipped in kernels/deepthinker-docker/)."""
    return {
        "argv": list(KERNEL_ARGV),
        "display_name": "Python 3 (deepthinker docker sandbox)",
        "language": "python",
        "interrupt_mode": "signal",
        "env": {},
        "metadata": {
            "debugger": False,
            "kernel_provisioner": {
                "provisioner_name": "deepthinker-docker-provisioner",
                "config": dict(provisioner_config or {}),
            },
        },
    }


def _warn_if_stale(client, image: str) -> None:
    """An image built from an older recipe still works; say once that a rebuild is due."""
    from deepthinker_nb.kernel.docker.image import LABEL_RECIPE, recipe_hash

    if image in _warned:
        return
    _warned.add(image)
    try:
        built = (client.images.get(image).labels or {}).get(LABEL_RECIPE)
        current = recipe_hash()
    except Exception:
        return
    if built and built != current:
        log.warning("kernel image %s was built from recipe %s, the recipe is now %s; "
                    "run `deepthinker-nb image build`", image, built, current)


_warned: set[str] = set()


class DockerBackend(KernelBackend):
    name = "docker"
    kernel_name = "deepthinker-docker"
    provisioner_name = "deepthinker-docker-provisioner"
    config_type = DockerConfig

    def kernel_spec(self) -> dict[str, Any]:
        return docker_kernel_spec()

    def profiles(self) -> dict[str, DockerConfig]:
        return dict(PROFILES)

    def launch_kwargs(
        self, config: Any, workdir: Path, data_dirs: Sequence[Path] = (), **options: Any
    ) -> dict[str, Any]:
        check_mounts(str(workdir), [str(d) for d in data_dirs])
        return super().launch_kwargs(config, workdir, data_dirs, **options)

    def preflight(self, config: Any) -> None:
        """Engine reachable and image present, else a one-line, actionable error."""
        config = self.coerce_config(config)
        client = get_client()
        require_image(client, config.image)
        _warn_if_stale(client, config.image)

    def describe(self, config: Any) -> dict[str, Any]:
        config = self.coerce_config(config)
        out: dict[str, Any] = {
            "backend": self.name,
            "kernel_name": self.kernel_name,
            "image": config.image,
            "memory_limit": config.memory_limit,
            "cpu_limit": config.cpu_limit,
            "network_disabled": config.network_disabled,
            "pids_limit": config.pids_limit,
            "read_only": config.read_only,
            "disk_limit": config.disk_limit,
        }
        try:
            image = get_client().images.get(config.image)
        except Exception:
            return out
        digests = image.attrs.get("RepoDigests") or []
        out.update(
            image_id=image.id,
            image_digest=digests[0] if digests else image.id,
            image_recipe=(image.labels or {}).get("deepthinker-nb.recipe"),
        )
        return out

    def gc(self) -> int:
        return orphans.gc(get_client()).count
