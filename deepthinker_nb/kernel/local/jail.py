"""Which paths a local kernel may read and write under its file-system jail (Landlock).

Reads: the Python installation, system directories, the working dir and the data dirs. Writes:
the working dir and a few devices. Not readable: everything else, such as the user's home
(SSH keys, cloud credentials), other projects, and the original dataset whose held-out labels
the workflow keeps on the host.
"""

from __future__ import annotations

import json
import sys
import sysconfig
from collections.abc import Iterable, Sequence
from pathlib import Path

SYSTEM_READ = ("/usr", "/lib", "/lib64", "/lib32", "/bin", "/sbin", "/etc", "/proc", "/sys",
               "/dev/null", "/dev/zero", "/dev/random", "/dev/urandom", "/dev/full")
DEVICE_WRITE = ("/dev/null", "/dev/shm", "/dev/pts", "/dev/tty")


def python_paths() -> list[str]:
    """The interpreter, the standard library, this environment's site-packages, this package."""
    paths = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}
    for key in ("stdlib", "platstdlib", "purelib", "platlib"):
        path = sysconfig.get_paths().get(key)
        if path:
            paths.add(path)
    paths.add(str(Path(sys.executable).resolve().parent.parent))
    # deepthinker_nb itself (the launcher, the in-kernel scanner), also from an editable install
    paths.add(str(Path(__file__).resolve().parents[2]))
    return sorted(paths)


def jail_spec(
    workdir: Path,
    data_dirs: Sequence[Path] = (),
    *,
    connection_file: str | None = None,
    extra_read: Iterable[str] = (),
    extra_write: Iterable[str] = (),
    required: bool = False,
) -> str:
    """The launcher's ``DEEPTHINKER_FS_JAIL`` value."""
    read = [*python_paths(), *SYSTEM_READ, *map(str, data_dirs), *extra_read]
    write = [str(workdir), *DEVICE_WRITE, *extra_write]
    if connection_file:
        write.append(connection_file)
    return json.dumps({"read": read, "write": write, "required": required})
