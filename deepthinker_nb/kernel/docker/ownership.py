"""Who a Docker kernel runs as, and how its working dir reaches it, without touching the user's.

The rule: a kernel never changes the owner, mode or ACL of a dir it did not create. Dirs we
create ourselves (the socket dir, papermill's temporary working dir, a private mirror) are
chowned to the kernel's uid; anything the user gave us is left exactly as it was.

* **Host not root**: the kernel runs as the host's uid:gid and the working dir is mounted as it
  is; the kernel can write exactly where the host user can.
* **Host root**: kernels never run as uid 0. The uid is ``DockerConfig.user``, else the working
  dir's owner when that is not root (a root tool run in a user's folder writes as that user, so
  results belong to the folder's owner), else 1000:1000. When that uid may write into the
  working dir by its mode bits, the dir is mounted as it is ("direct"). Otherwise, a root-owned
  dir above all, the kernel works in a private copy that the host keeps in step with the user's
  dir ("mirrored", see :mod:`.mirror`), so what reaches the user's dir is written by the host
  process and owned by it.

Designs not taken: chowning the working dir (the old behaviour: the user's folder changed owner
for good); a POSIX ACL granting the kernel's uid (an ACL is part of a dir's mode, and it
outlives the session); per-container user-namespace remapping (the engine only offers it
engine-wide); idmapped mounts (not in Docker 20.10, and mapping the kernel onto root would let it
create root-owned setuid files in the user's folder); running as the owner of a root-owned dir
(uid 0, refused by design).
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

from deepthinker_nb.config.docker import DockerConfig, MountError

DEFAULT_UID = 1000
"""The image's ``kernel`` user, used when nothing better is known."""


@dataclass(frozen=True)
class WorkdirPlan:
    """The kernel's ``uid:gid`` and whether its working dir is mirrored."""

    uid: int
    gid: int
    mirrored: bool = False

    @property
    def user(self) -> str:
        return f"{self.uid}:{self.gid}"


def _config_user(config: DockerConfig) -> tuple[int, int] | None:
    if not config.user:
        return None
    uid_s, _, gid_s = str(config.user).partition(":")
    return int(uid_s), int(gid_s or uid_s)


def _allows(st: os.stat_result, uid: int, gid: int, need: int) -> bool:
    """Whether the permission bits of ``st`` grant ``need`` (rwx bits, 0-7) to uid:gid."""
    if st.st_uid == uid:
        return (st.st_mode >> 6) & need == need
    if st.st_gid == gid:
        return (st.st_mode >> 3) & need == need
    return st.st_mode & need == need


def kernel_can_read(path: str, uid: int, gid: int) -> bool:
    st = os.stat(path)
    return _allows(st, uid, gid, 0o5 if stat.S_ISDIR(st.st_mode) else 0o4)


def kernel_can_write_dir(path: str, uid: int, gid: int) -> bool:
    """Create and remove entries: write and search permission on the dir itself."""
    st = os.stat(path)
    return stat.S_ISDIR(st.st_mode) and _allows(st, uid, gid, 0o3)


def plan_workdir(config: DockerConfig, workdir: str, *, ours: bool = False) -> WorkdirPlan:
    """Decide uid:gid and direct or mirrored for ``workdir`` (``ours``: we created it).

    Raises :class:`MountError` when a non-root host is asked to run the kernel as another uid:
    its sockets would be unreachable.
    """
    chosen = _config_user(config)
    if os.geteuid() != 0:
        uid, gid = os.getuid(), os.getgid()
        if chosen is not None and chosen[0] != uid:
            raise MountError(
                f"DockerConfig.user {chosen[0]} differs from the host user {uid}: the kernel's "
                "sockets would be unreachable; leave DockerConfig.user unset"
            )
        return WorkdirPlan(uid, chosen[1] if chosen else gid)
    st = os.stat(workdir)
    if chosen is not None:
        uid, gid = chosen
    elif st.st_uid != 0 and not ours:
        # the owner's group, unless that is root's: group 0 would open root-group files to it
        uid, gid = st.st_uid, (st.st_gid or st.st_uid)
    else:
        uid = gid = DEFAULT_UID
    if ours:
        return WorkdirPlan(uid, gid)  # the provisioner chowns its own temporary dir
    return WorkdirPlan(uid, gid, mirrored=not kernel_can_write_dir(workdir, uid, gid))


def give_to_kernel(paths: list[Path], plan: WorkdirPlan) -> None:
    """chown dirs and files WE created to the kernel's uid (root host only; never a user's)."""
    if os.geteuid() != 0:
        return
    for path in paths:
        if path.exists() and not path.is_symlink():
            os.chown(path, plan.uid, plan.gid)


def check_mounts(
    workdir: str | None, data_dirs: list[str], user: tuple[int, int] | None = None
) -> None:
    """One-line errors, before any container starts, for mounts the kernel could not use."""
    for path in ([workdir] if workdir else []) + list(data_dirs):
        if not Path(path).exists():
            raise MountError(
                f"cannot mount {path!r} into the kernel container: it does not exist on the host"
            )
    if user is not None and os.geteuid() == 0:
        for path in data_dirs:
            if not kernel_can_read(path, *user):
                raise MountError(
                    f"data dir {path!r} is not readable by the kernel's uid {user[0]}; "
                    "make it readable (chmod o+rX) or set DockerConfig.user to its owner"
                )
