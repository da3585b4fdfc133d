"""rlimits for local kernels, carried to the kernel as one environment variable
(``launcher.RLIMITS_ENV``).

The launcher applies them to itself before ipykernel starts, so every child inherits them. This
avoids ``preexec_fn``, which is unsafe in a host process that runs threads (ours does).
"""

from __future__ import annotations

from deepthinker_nb.config.limits import ResourceLimits

_RESOURCES = {
    "memory": "RLIMIT_AS",
    "cpu_seconds": "RLIMIT_CPU",
    "open_files": "RLIMIT_NOFILE",
    "processes": "RLIMIT_NPROC",
    "file_size": "RLIMIT_FSIZE",
}


def encode_limits(limits: ResourceLimits) -> str:
    """``RLIMIT_AS=4294967296,RLIMIT_CPU=3600,...``: what the launcher reads back."""
    parts = []
    for field_name, rlimit in _RESOURCES.items():
        value = getattr(limits, field_name)
        if value is not None:
            parts.append(f"{rlimit}={int(value)}")
    return ",".join(parts)
