"""The environment a local kernel starts with: an allow-list of host variables, nothing else."""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping
from pathlib import Path


def scrub_environment(
    host_env: Mapping[str, str],
    allowlist: Iterable[str],
    *,
    workdir: Path,
    home: Path | None = None,
    extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Copy only allow-listed variables (``LC_*`` style patterns allowed) and point HOME at
    ``home`` (default: ``.home`` inside the working dir), so that dotfiles, caches and
    credentials of the host stay out of reach."""
    patterns = tuple(allowlist)
    env = {
        name: value
        for name, value in host_env.items()
        if any(fnmatch.fnmatchcase(name, pattern) for pattern in patterns)
    }
    home = home if home is not None else workdir / ".home"
    env.update(
        {
            "HOME": str(home),
            "PWD": str(workdir),
            "MPLCONFIGDIR": str(home / ".config" / "matplotlib"),
            "IPYTHONDIR": str(home / ".ipython"),
            "JUPYTER_RUNTIME_DIR": str(home / ".local" / "runtime"),
            "PYTHONNOUSERSITE": "1",
            "MPLBACKEND": env.get("MPLBACKEND", "module://matplotlib_inline.backend_inline"),
        }
    )
    if extra:
        env.update(extra)
    return env
