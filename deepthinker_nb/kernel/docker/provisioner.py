"""``DockerKernelProvisioner``: jupyter_client starts, signals and reaps kernels in containers.

Anything that starts kernels by kernelspec name (our sessions, papermill, nbclient,
``jupyter console``, JupyterLab) gets a hardened container through this class.

* Transport: with the network disabled the kernel's ZeroMQ sockets are ``ipc`` files in a short
  per-kernel dir (``/tmp/dtk-XXXXXXXX``) bind-mounted at the same path; the host connects to the
  same files. With the network allowed: ``tcp`` on ports published to 127.0.0.1 only.
  Messages are signed with the connection key either way.
* Ownership: the kernel never runs as root and never changes the owner, mode or ACL of a dir
  it did not create (see ``ownership``). A non-root host runs it under its own uid. A root
  host runs it as the working dir's owner (or ``DockerConfig.user``, or 1000): when that uid may
  write there, the dir is mounted as it is; otherwise (a root-owned dir) the kernel works in a
  private mirror that the host reconciles with the user's dir before and after each cell, at
  the kernel's request (``mirror``, ``syncpoint``, ``kernel_sync``), and when it stops. Only
  the dirs we create (socket dir, temporary working dir, mirror) are chowned to the kernel.
* Disk: a :class:`~deepthinker_nb.kernel.disk.DiskBudget` over what the kernel can write on
  the host (its working dir or mirror, and its socket dir) kills the container once they grew
  by ``DockerConfig.disk_limit``; :meth:`death_reason` then says ``disk limit (2g) reached``.
  ``/tmp`` and ``/dev/shm`` inside are size-limited tmpfs (RAM, within the memory limit).
* Per-session options arrive from ``KernelManager.start_kernel(cwd=..., deepthinker_config=...,
  deepthinker_data_dirs=[...])``; under papermill they are absent and the config comes from the
  kernelspec's provisioner config (``image``, ``profile``, ``options``) and a fresh temporary
  working dir that is removed at cleanup.
* State: ``poll()`` reads a cache fed by Docker's event stream (see ``watcher``), so an
  OOM-killed kernel is seen within a second and :meth:`death_reason` says why it died.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from jupyter_client.provisioning.provisioner_base import KernelProvisionerBase
from traitlets import Dict, Unicode

from deepthinker_nb.config.docker import DockerConfig
from deepthinker_nb.config.docker import profile as get_profile
from deepthinker_nb.kernel.backend import DEFAULT_POLICY, kernel_guard_value
from deepthinker_nb.kernel.disk import DiskBudget
from deepthinker_nb.kernel.docker import orphans
from deepthinker_nb.kernel.docker.container import (
    KERNEL_PORT_NAMES,
    build_run_spec,
    container_path_for_workdir,
    container_paths_for_data,
)
from deepthinker_nb.kernel.docker.engine import get_client, require_image
from deepthinker_nb.kernel.docker.kernel_sync import SOCKET_ENV
from deepthinker_nb.kernel.docker.mirror import WorkdirMirror
from deepthinker_nb.kernel.docker.ownership import check_mounts, give_to_kernel, plan_workdir
from deepthinker_nb.kernel.docker.syncpoint import EXTENSION_ARG, SyncPoint, install_extension
from deepthinker_nb.kernel.docker.watcher import ContainerState, EventWatcher
from deepthinker_nb.kernel.launcher import GUARD_ENV, SECCOMP_ENV
from deepthinker_nb.kernel.proctree import descendants, kill_tree
from deepthinker_nb.kernel.seccomp import seccomp_switch

__all__ = ["KERNEL_ARGV", "DockerKernelProvisioner", "check_mounts"]

KERNEL_ARGV = ["python", "-m", "deepthinker_nb.kernel.launcher", "-f", "{connection_file}"]
_gc_done_for_pid: int | None = None


def gpu_available(client) -> bool:
    """A GPU is requested only where the engine can provide one."""
    try:
        runtimes = client.info().get("Runtimes") or {}
    except Exception:
        return False
    return "nvidia" in runtimes or Path("/dev/nvidia0").exists()


def _reap_abandoned_start(future: asyncio.Future, dirs: Callable[[], None]) -> None:
    """Done-callback of a start nobody waits for any more: remove its container, then dirs."""
    cid = None
    if not future.cancelled() and future.exception() is None:
        cid = future.result()

    def _remove() -> None:
        if cid is not None:
            with contextlib.suppress(Exception):
                get_client().api.remove_container(cid, force=True)
        dirs()

    threading.Thread(target=_remove, name="dtk-reap", daemon=False).start()


class DockerKernelProvisioner(KernelProvisionerBase):
    """Kernel provisioner running ipykernel in a hardened Docker container."""

    image = Unicode("", config=True, help="Image to use when the session gives no DockerConfig.")
    profile = Unicode("", config=True, help="Execution profile (SAFE_ML, ...) used as defaults.")
    options = Dict(config=True, help="Extra DockerConfig fields, e.g. {'memory_limit': '1g'}.")

    container_id: str | None = None
    config: DockerConfig | None = None
    sockdir: Path | None = None
    workdir: str | None = None
    tmp_workdir: Path | None = None
    mirror: WorkdirMirror | None = None
    syncpoint: SyncPoint | None = None
    disk_budget: DiskBudget | None = None
    _state: ContainerState | None = None
    _init_pid: int | None = None
    _last_inspect: float = 0.0

    # -- configuration -------------------------------------------------------------------------

    def _default_config(self) -> DockerConfig:
        base = get_profile(self.profile) if self.profile else DockerConfig()
        changes = dict(self.options or {})
        if self.image:
            changes["image"] = self.image
        return base.replace(**changes) if changes else base

    @property
    def has_process(self) -> bool:
        return self.container_id is not None

    # -- launch --------------------------------------------------------------------------------

    async def pre_launch(self, **kwargs: Any) -> dict[str, Any]:
        try:
            return await self._pre_launch(**kwargs)
        except BaseException:
            self._remove_dirs()  # nothing started yet: leave nothing behind either
            raise

    async def _pre_launch(self, **kwargs: Any) -> dict[str, Any]:
        global _gc_done_for_pid
        km = self.parent
        config = kwargs.pop("deepthinker_config", None) or self._default_config()
        data_dirs = [str(Path(d).resolve()) for d in kwargs.pop("deepthinker_data_dirs", ()) or ()]
        cwd = kwargs.pop("cwd", None)
        host_env = kwargs.pop("env", None) or {}  # the host's environment stays on the host
        session = kwargs.pop("deepthinker_session", "") or host_env.get("JPY_SESSION_NAME") or ""
        kwargs.pop("extra_arguments", None)
        scan_policy = kwargs.pop("deepthinker_scan_policy", DEFAULT_POLICY)
        self.config = config

        client = get_client()
        require_image(client, config.image)
        if _gc_done_for_pid != os.getpid():  # the first start of a process removes orphans
            _gc_done_for_pid = os.getpid()
            await asyncio.to_thread(orphans.gc, client)
        EventWatcher.instance()  # subscribed before the container exists

        if cwd:
            self.workdir = str(Path(cwd).resolve())
        elif self.workdir is None:  # papermill without --cwd: a private temporary working dir
            self.tmp_workdir = Path(tempfile.mkdtemp(prefix="dtk-work-"))
            self.workdir = str(self.tmp_workdir)
        check_mounts(self.workdir, data_dirs)  # they exist, before their owners are looked at
        ours = self.tmp_workdir is not None and self.workdir == str(self.tmp_workdir)
        plan = plan_workdir(config, self.workdir, ours=ours)
        check_mounts(self.workdir, data_dirs, (plan.uid, plan.gid))
        await asyncio.to_thread(self._prepare_mirror, plan.mirrored, plan.uid, plan.gid,
                                config.disk_bytes)

        if self.sockdir is None or not self.sockdir.exists():
            self.sockdir = orphans.make_sockdir()
            km.connection_file = str(self.sockdir / "kernel.json")
            km._connection_file_written = False
            if config.network_disabled:
                km.transport = "ipc"
                km.ip = str(self.sockdir / "k")
            else:
                from jupyter_client.provisioning.local_provisioner import LocalPortCache

                km.transport, km.ip = "tcp", "127.0.0.1"
                cache = LocalPortCache.instance()
                for name in KERNEL_PORT_NAMES:
                    setattr(km, name, cache.find_available_port("127.0.0.1"))
        km.write_connection_file()
        # not km.format_kernel_cmd(): it would swap "python" for the HOST's sys.executable
        command = [
            a.replace("{connection_file}", km.connection_file) for a in self.kernel_spec.argv
        ]
        ports: list[int] = []
        if not config.network_disabled:  # the kernel binds all interfaces of its own netns
            info = json.loads(Path(km.connection_file).read_text())
            info["ip"] = "0.0.0.0"
            inner = self.sockdir / "kernel-container.json"
            inner.write_text(json.dumps(info))
            os.chmod(inner, 0o600)
            command = [str(inner) if a == km.connection_file else a for a in command]
            ports = [int(info[name]) for name in KERNEL_PORT_NAMES]
        spec_env = {k: str(v) for k, v in (self.kernel_spec.env or {}).items()}
        # The scanner inside the kernel, with the session's policy, as the kernel sees paths.
        spec_env[SECCOMP_ENV] = seccomp_switch()  # on top of the engine's own profile
        spec_env[GUARD_ENV] = kernel_guard_value(
            scan_policy, container_path_for_workdir(self.workdir),
            list(container_paths_for_data(data_dirs).values()))
        python_path: list[str] = []
        if self.mirror is not None:  # the kernel asks for a reconcile around each cell
            install_extension(self.sockdir)
            if self.syncpoint is None or self.syncpoint.path.parent != self.sockdir:
                if self.syncpoint is not None:
                    self.syncpoint.stop()
                self.syncpoint = SyncPoint(self.sockdir, self._on_sync_request,
                                           (plan.uid, plan.gid))
            self.syncpoint.start()
            command.append(EXTENSION_ARG)
            spec_env[SOCKET_ENV] = str(self.syncpoint.path)
            python_path.append(str(self.sockdir))
        mine = [self.sockdir, self.sockdir / "kernel.json", self.sockdir / "kernel-container.json"]
        give_to_kernel(mine + ([Path(self.workdir)] if ours else []), plan)

        session = str(session or getattr(getattr(km, "session", None), "session", "") or "")
        labels = orphans.owner_labels(session=session, kernel_id=self.kernel_id or "")
        labels[orphans.LABEL_SOCKDIR] = str(self.sockdir)
        if self.tmp_workdir is not None:
            labels[orphans.LABEL_TMPWORK] = str(self.tmp_workdir)
        if self.mirror is not None:
            labels[orphans.LABEL_MIRROR] = str(self.mirror.top)
        spec = build_run_spec(
            config, command=command, workdir=self.workdir,
            workdir_source=str(self.mirror.private) if self.mirror else None,
            data_dirs=data_dirs, sockdir=str(self.sockdir), labels=labels, user=plan.user,
            ports=ports, extra_env=spec_env, python_path=python_path,
            gpu_available=config.gpu and gpu_available(client),
            name=f"dtk-{(self.kernel_id or os.urandom(6).hex())[:12]}-{os.urandom(2).hex()}",
        )
        kwargs["cmd"] = command
        kwargs["run_spec"] = spec
        return kwargs

    def _prepare_mirror(self, mirrored: bool, uid: int, gid: int, disk_limit: int) -> None:
        """Make (or keep, across a restart) the mirror a mirrored working dir needs."""
        assert self.workdir is not None
        mirror = self.mirror
        if mirror is not None and mirrored and str(mirror.host) == self.workdir and (
                mirror.uid, mirror.gid) == (uid, gid):
            return  # a restart: the mirror was reconciled when the old kernel stopped
        if mirror is not None:
            if self.syncpoint is not None:
                self.syncpoint.stop()
                self.syncpoint = None
            self.mirror = None
            mirror.reconcile()
            mirror.remove()
        if mirrored:
            self.mirror = WorkdirMirror.create(self.workdir, uid, gid, disk_limit)

    def _reconcile(self) -> None:
        mirror = self.mirror
        if mirror is not None:
            mirror.reconcile()

    def _on_sync_request(self) -> None:
        """The kernel waits here before and after each cell: measure the disk budget first, so
        a cell that ended past it (a burst faster than the watcher's polls) is stopped before
        its reply leaves and fails with the disk reason; nothing of it is copied out now."""
        budget = self.disk_budget
        if budget is not None and budget.check():
            return
        self._reconcile()

    def _arm_disk_budget(self, limit: int) -> None:
        """Watch what the kernel can write on the host; after a restart, the same budget."""
        assert self.sockdir is not None and self.workdir is not None
        roots = (Path(self.mirror.private if self.mirror else self.workdir), self.sockdir)
        budget = self.disk_budget
        if budget is not None and budget.roots == roots and budget.limit == limit:
            budget.rearm()
            budget.start()
            return
        if budget is not None:
            budget.stop()
        self.disk_budget = DiskBudget(roots, limit, self._disk_exceeded,
                                      pids=self._processes).start()

    def _container_pid(self) -> int | None:
        """The host pid of the container's init: the disk budget reads the files its processes
        hold open, and stops them without waiting for the engine."""
        with contextlib.suppress(Exception):
            pid = get_client().api.inspect_container(self.container_id)["State"]["Pid"]
            return int(pid) or None
        return None

    def _processes(self) -> list[int]:
        return descendants(self._init_pid) if self._init_pid else []

    def _disk_exceeded(self) -> None:
        """Called from the budget's thread: stop the kernel at once (its cell then fails).
        Its processes get SIGKILL from here first: the engine's kill takes a while, and a cell
        writing at full speed would go on meanwhile."""
        if self._init_pid:
            kill_tree(self._init_pid)
        cid = self.container_id
        if cid is not None:
            with contextlib.suppress(Exception):  # already gone
                get_client().api.kill(cid, signal="SIGKILL")

    async def launch_kernel(self, cmd: list[str], **kwargs: Any) -> dict[str, Any]:
        spec = kwargs["run_spec"]
        assert self.config is not None
        create_kwargs = spec.create_kwargs(self.config)

        def _create_and_start() -> str:
            client = get_client()
            container = client.containers.create(**create_kwargs)
            try:
                container.start()
            except Exception:
                with contextlib.suppress(Exception):
                    container.remove(force=True)
                raise
            return container.id

        # Shielded: if the caller is cancelled (a pool closing mid-start), the engine call still
        # finishes in its thread, and whatever it created is removed rather than leaked.
        future = asyncio.ensure_future(asyncio.to_thread(_create_and_start))
        try:
            self.container_id = await asyncio.shield(future)
        except BaseException:
            # dirs go only after the engine call is over, or it would mount a missing dir
            release = self._detach()
            future.add_done_callback(lambda f: _reap_abandoned_start(f, release))
            raise
        self._state = EventWatcher.instance().state(self.container_id)
        self._init_pid = await asyncio.to_thread(self._container_pid)
        await asyncio.to_thread(self._arm_disk_budget, self.config.disk_bytes)
        return self.parent.get_connection_info()

    # -- state ---------------------------------------------------------------------------------

    def _refresh(self, force: bool = False) -> ContainerState | None:
        """Fallback when the event stream is down: inspect at most every 0.5 s."""
        state = self._state
        if state is None or self.container_id is None:
            return state
        if state.exit_code is None and (force or not EventWatcher.running()):
            now = time.monotonic()
            if force or now - self._last_inspect > 0.5:
                self._last_inspect = now
                try:
                    attrs = get_client().api.inspect_container(self.container_id)["State"]
                except Exception:
                    state.exit_code = -1
                    return state
                state.oom_killed = state.oom_killed or bool(attrs.get("OOMKilled"))
                if not attrs.get("Running") and attrs.get("Status") in ("exited", "dead"):
                    state.exit_code = int(attrs.get("ExitCode", -1))
        return state

    async def poll(self) -> int | None:
        state = self._refresh()
        if state is None:
            return 0 if self.container_id is None else None
        return state.exit_code

    async def wait(self) -> int | None:
        while self.container_id is not None:
            code = await self.poll()
            if code is not None:
                return code
            await asyncio.sleep(0.05)
        return None

    def death_reason(self) -> str | None:
        """Why the kernel died (``disk limit (2g) reached``, ``out of memory (limit 512m)``,
        ``exited with code 1``)."""
        state = self._state
        if state is None or state.exit_code is None:
            return None
        budget = self.disk_budget
        if budget is not None and budget.exceeded:
            return budget.reason()
        if not state.oom_killed and state.exit_code == 137:
            with contextlib.suppress(Exception):  # the oom event may trail the die event
                attrs = get_client().api.inspect_container(self.container_id)["State"]
                state.oom_killed = bool(attrs.get("OOMKilled"))
        if state.oom_killed:
            limit = self.config.memory_limit if self.config else "?"
            return f"out of memory (limit {limit})"
        return f"exited with code {state.exit_code}"

    # -- signals -------------------------------------------------------------------------------

    async def send_signal(self, signum: int) -> None:
        if self.container_id is None or (await self.poll()) is not None:
            return
        name = signal.Signals(signum).name

        def _kill() -> None:
            with contextlib.suppress(Exception):  # already gone: nothing to signal
                get_client().api.kill(self.container_id, signal=name)

        await asyncio.to_thread(_kill)

    async def kill(self, restart: bool = False) -> None:
        await self.send_signal(signal.SIGKILL)

    async def terminate(self, restart: bool = False) -> None:
        await self.send_signal(signal.SIGTERM)

    def get_shutdown_wait_time(self, recommended: float = 5.0) -> float:
        return min(recommended, 5.0)

    def get_stable_start_time(self, recommended: float = 10.0) -> float:
        return recommended

    # -- cleanup -------------------------------------------------------------------------------

    async def cleanup(self, restart: bool = False) -> None:
        """Remove the container and bring a mirror's last changes home; unless restarting, also
        stop the disk budget and remove the socket dir, temporary working dir and mirror."""
        cid, self.container_id = self.container_id, None
        if cid is not None:
            def _remove() -> None:
                with contextlib.suppress(Exception):
                    get_client().api.remove_container(cid, force=True)

            await asyncio.to_thread(_remove)
            EventWatcher.instance().forget(cid)
        if self.mirror is not None:  # the container is gone: nothing writes the mirror now
            await asyncio.to_thread(self._reconcile)
        if not restart:
            await asyncio.to_thread(self._detach())

    def _detach(self) -> Callable[[], None]:
        """Take every per-kernel resource off this provisioner; the result releases them."""
        sockdir, tmp_workdir, mirror = self.sockdir, self.tmp_workdir, self.mirror
        syncpoint, budget = self.syncpoint, self.disk_budget
        self.sockdir = self.tmp_workdir = self.workdir = None
        self.mirror, self.syncpoint, self.disk_budget = None, None, None

        def release() -> None:
            if budget is not None:
                budget.stop()
            if syncpoint is not None:
                syncpoint.stop()
            if mirror is not None:
                mirror.remove()
            orphans.remove_sockdir(sockdir)
            orphans.remove_tmp_workdir(tmp_workdir)

        return release

    def _remove_dirs(self) -> None:
        self._detach()()

    # -- persistence (jupyter_server) -----------------------------------------------------------

    async def get_provisioner_info(self) -> dict[str, Any]:
        info = await super().get_provisioner_info()
        info.update(container_id=self.container_id, sockdir=str(self.sockdir or ""))
        return info

    async def load_provisioner_info(self, provisioner_info: dict) -> None:
        await super().load_provisioner_info(provisioner_info)
        self.container_id = provisioner_info.get("container_id")
        sockdir = provisioner_info.get("sockdir")
        self.sockdir = Path(sockdir) if sockdir else None
        if self.container_id:
            self._state = EventWatcher.instance().state(self.container_id)
