"""Local kernels inside Linux namespaces, through bubblewrap.

The code we run is written by a model, so a local kernel gets a world of its own:

* a mount namespace built from nothing: the Python installation and system libraries
  read-only, a few files of ``/etc`` (no ``shadow``, a ``passwd`` naming the sandbox user), the
  data dirs read-only, the working dir and the kernel's socket dir read-write, a private
  size-limited ``/tmp`` and ``/dev/shm``; no ``/var/run``, no ``/home``, no host ``/tmp``;
* a PID namespace with its own ``/proc`` (no host process is visible, none can be signalled) and
  an init that takes every process of the kernel down when the kernel ends, however it detached;
* a network namespace with nothing but a loopback of its own (unless the config keeps the host
  network), IPC and UTS namespaces;
* uid 1000 in a user namespace that cannot make further user namespaces (the door to most
  kernel exploits), every capability dropped, a new session (no terminal to inject keystrokes
  into), and ``--die-with-parent``: when the host process dies, so does the kernel;
* a seccomp filter (``kernel/seccomp.py``, installed by the launcher) without ``fallocate``
  and io_uring.

ZeroMQ keeps working because the kernel's sockets are Unix sockets in the bind-mounted socket
dir, as in the Docker backend. bubblewrap needs no daemon and starts in milliseconds.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from deepthinker_nb.errors import BackendUnavailableError
from deepthinker_nb.kernel.local.jail import python_paths

SANDBOX_UID = 1000
SANDBOX_GID = 1000
SANDBOX_USER = "sandbox"
ETC_FILES = (
    "ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime", "timezone", "nsswitch.conf",
    "host.conf", "hosts", "protocols", "services", "mime.types", "os-release", "debian_version",
    "ssl", "ca-certificates", "fonts", "matplotlibrc", "alternatives",
)
"""What Python and the usual data-science libraries read from ``/etc``; nothing with secrets."""
SYSTEM_DIRS = ("/usr", "/lib", "/lib64", "/lib32", "/bin", "/sbin")
PRIVATE_WRITABLE = ("/tmp", "/dev/shm")
"""Size-limited tmpfs mounts of the sandbox's own: writing there reaches nothing of the host."""
HOW_TO_FIX = (
    "install bubblewrap (Debian/Ubuntu: apt-get install bubblewrap), use the docker backend "
    "(--backend docker), or opt out explicitly with LocalConfig(isolation='landlock')"
)


class SandboxUnavailableError(BackendUnavailableError):
    """bubblewrap is missing or cannot create namespaces on this machine."""


@dataclass(frozen=True)
class SandboxSpec:
    """What one kernel's namespace shows; paths appear inside at the same place as outside."""

    workdir: Path
    socket_dir: Path
    read_only: tuple[Path, ...] = ()
    """Data dirs and any other paths the kernel may read."""
    read_write: tuple[Path, ...] = ()
    """Further paths the kernel may write (besides the working dir and the socket dir)."""
    network: bool = False
    """Keep the host's network namespace (the TRUSTED profile); default: no network at all."""
    tmp_size: int = 256 * 1024**2
    """Size of the private ``/tmp`` and of ``/dev/shm`` (each), in bytes."""
    passwd_file: Path | None = None
    """Shown as ``/etc/passwd`` (``passwd_text``), and ``group_file`` as ``/etc/group``."""
    group_file: Path | None = None
    home: Path | None = None
    """A private home dir made inside the sandbox's own ``/tmp`` (gone with the kernel), so
    nothing of the kernel's dotfiles and caches lands in the working dir."""


def bwrap_path() -> str | None:
    return shutil.which("bwrap")


@functools.cache
def check_bubblewrap() -> str:
    """The bwrap binary, after proving once per process that it can build our namespaces."""
    path = bwrap_path()
    if path is None:
        raise SandboxUnavailableError(f"local kernels need bubblewrap (bwrap), which is not "
                                      f"installed; {HOW_TO_FIX}")
    if not sys.platform.startswith("linux"):
        raise SandboxUnavailableError(f"the namespace sandbox needs Linux; {HOW_TO_FIX}")
    probe = [path, "--unshare-all", "--unshare-user", "--uid", str(SANDBOX_UID),
             "--ro-bind", "/", "/", "--proc", "/proc", "--dev", "/dev", "--cap-drop", "ALL",
             "--die-with-parent", "true"]
    try:
        done = subprocess.run(probe, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise SandboxUnavailableError(f"bubblewrap cannot run ({exc}); {HOW_TO_FIX}") from exc
    if done.returncode != 0:
        why = (done.stderr.strip().splitlines() or [f"exit {done.returncode}"])[-1]
        raise SandboxUnavailableError(
            f"bubblewrap cannot create namespaces here ({why}; user namespaces may be "
            f"disabled: sysctl kernel.unprivileged_userns_clone=1); {HOW_TO_FIX}"
        )
    return path


def python_roots() -> list[Path]:
    """The interpreter's installation, this environment and this package, read-only inside.

    An editable install of deepthinker-nb puts the project folder on ``sys.path``: only the
    package itself is shown from it, not the project's other files.
    """
    return _outermost(Path(p) for p in python_paths() if not _under_system(Path(p)))


def _under_system(path: Path) -> bool:
    return any(path == Path(d) or Path(d) in path.parents for d in SYSTEM_DIRS)


def _outermost(paths: Iterable[Path]) -> list[Path]:
    """Drop paths inside other paths of the set: binding the outer one shows them already."""
    unique = sorted({Path(os.path.realpath(p)) for p in paths}, key=lambda p: len(p.parts))
    kept: list[Path] = []
    for path in unique:
        if not any(path == k or k in path.parents for k in kept):
            kept.append(path)
    return kept


SANDBOX_HOME = Path("/tmp/home")
"""The namespaced kernel's HOME: inside its private, size-limited ``/tmp``."""


def passwd_text(home: Path) -> str:
    """``/etc/passwd`` and ``/etc/group`` lines for the sandbox user, and nobody else."""
    return (f"{SANDBOX_USER}:x:{SANDBOX_UID}:{SANDBOX_GID}:deepthinker-nb kernel:{home}:"
            "/usr/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n")


def group_text() -> str:
    return f"{SANDBOX_USER}:x:{SANDBOX_GID}:\nnogroup:x:65534:\n"


def bwrap_argv(spec: SandboxSpec, command: Sequence[str], *, bwrap: str = "bwrap") -> list[str]:
    """The bubblewrap command line that runs ``command`` inside ``spec``'s namespaces."""
    argv = [bwrap, "--unshare-all", "--unshare-user", "--disable-userns", "--die-with-parent",
            "--new-session", "--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_GID),
            "--cap-drop", "ALL", "--hostname", "sandbox"]
    if spec.network:
        argv.append("--share-net")
    for name in SYSTEM_DIRS:
        host = Path(name)
        if host.is_symlink():
            argv += ["--symlink", os.readlink(host), name]
        elif host.is_dir():
            argv += ["--ro-bind", name, name]
    argv += ["--proc", "/proc", "--dev", "/dev",
             "--perms", "1777", "--size", str(spec.tmp_size), "--tmpfs", "/dev/shm",
             "--perms", "1777", "--size", str(spec.tmp_size), "--tmpfs", "/tmp"]
    if spec.home is not None:
        argv += ["--perms", "0700", "--dir", str(spec.home)]
    for name in ETC_FILES:
        path = Path("/etc") / name
        if path.exists():
            argv += ["--ro-bind", str(path), str(path)]
    for source, target in ((spec.passwd_file, "/etc/passwd"), (spec.group_file, "/etc/group")):
        if source is not None:
            argv += ["--ro-bind", str(source), target]
    if spec.network:
        for name in ("resolv.conf", "gai.conf"):
            path = Path("/etc") / name
            if path.exists():
                argv += ["--ro-bind", str(path), str(path)]
    # Outer paths first: a dir bound later may sit inside one bound earlier.
    binds = [(p, "--ro-bind") for p in python_roots()]
    binds += [(Path(p), "--ro-bind") for p in spec.read_only]
    binds += [(Path(p), "--bind") for p in (spec.workdir, spec.socket_dir, *spec.read_write)]
    for path, how in sorted(binds, key=lambda b: len(b[0].parts)):
        if path.exists():
            argv += [how, str(path), str(path)]
    # ipykernel exits when its parent pid is gone or is 1, as bwrap's init is in the sandbox;
    # --die-with-parent does that job here.
    argv += ["--chdir", str(spec.workdir), "--unsetenv", "JPY_PARENT_PID"]
    return [*argv, "--", *command]
