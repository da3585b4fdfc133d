"""The Docker backend: ipykernel in a hardened container, started by a kernel provisioner.

See docs/docker.md. Public names: :class:`DockerBackend`, :class:`DockerKernelProvisioner`, the
errors :class:`DockerUnavailableError`, :class:`ImageMissingError`, :class:`MountError`, and the
image helpers :func:`build_image`, :func:`image_info`, :func:`image_tag`.
"""

from deepthinker_nb.kernel.docker.backend import DockerBackend
from deepthinker_nb.kernel.docker.engine import (
    DockerUnavailableError,
    ImageMissingError,
    MountError,
)
from deepthinker_nb.kernel.docker.image import build_image, image_info, image_tag
from deepthinker_nb.kernel.docker.provisioner import DockerKernelProvisioner

__all__ = [
    "DockerBackend", "DockerKernelProvisioner", "DockerUnavailableError", "ImageMissingError",
    "MountError", "build_image", "image_info", "image_tag",
]
