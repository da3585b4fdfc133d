"""The local kernel provisioner: ipykernel in Linux namespaces (bubblewrap), with a clean
environment, its own working directory, rlimits, a disk budget and nothing left behind.

It extends jupyter_client's LocalProvisioner, so papermill, nbclient and JupyterLab start it by
kernelspec name exactly as they start any kernel; KernelSession passes a typed LocalConfig
through ``start_kernel(deepthinker_config=...)``.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import signal
import tempfile
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any

from jupyter_client.provisioning import LocalProvisioner
from traitlets import Dict, Integer, List, Unicode

from deepthinker_nb.config.limits import ResourceLimits, format_size
from deepthinker_nb.config.local import DEFAULT_ENV_ALLOWLIST, LocalConfig
from deepthinker_nb.kernel.backend import DEFAULT_POLICY, kernel_guard_value
from deepthinker_nb.kernel.disk import DiskBudget
from deepthinker_nb.kernel.launcher import (
    FS_JAIL_ENV,
    GUARD_ENV,
    LIMIT_ENV,
    PARENT_WATCH_ENV,
    RLIMITS_ENV,
    SECCOMP_ENV,
)
from deepthinker_nb.kernel.local.environment import scrub_environment
from deepthinker_nb.kernel.local.jail import jail_spec
from deepthinker_nb.kernel.local.limits import encode_limits
from deepthinker_nb.kernel.local.orphans import remove_orphaned_dirs, temp_prefix
from deepthinker_nb.kernel.local.processes import (
    TOKEN_ENV,
    kill_group,
    kill_token_holders,
    sandboxed_kernel_pid,
)
from deepthinker_nb.kernel.local.sandbox import (
    PRIVATE_WRITABLE,
    SANDBOX_HOME,
    SandboxSpec,
    bwrap_argv,
    check_bubblewrap,
    group_text,
    passwd_text,
)
from deepthinker_nb.kernel.proctree import descendants
from deepthinker_nb.kernel.seccomp import seccomp_switch

_gc_done_for_pid: int | None = None
log = logging.getLogger("deepthinker_nb.kernel")
_MEMORY_SIGNS = re.compile(
    r"MemoryError|Cannot allocate memory|bad_alloc|out of memory|Unable to allocate", re.I
)


def _with_disk_cap(config: LocalConfig) -> ResourceLimits:
    """No single file may be larger than the disk budget: the kernel stops that one itself."""
    limits, budget = config.limits, config.disk_limit
    if budget is not None and (limits.file_size is None or int(limits.file_size) > budget):
        return replace(limits, file_size=budget)
    return limits


class LocalKernelProvisioner(LocalProvisioner):
    """Launch ipykernel locally under deepthinker-nb's sandbox rules."""

    limits = Dict(
        help="ResourceLimits fields (memory, cpu_seconds, open_files, processes, file_size)"
    ).tag(config=True)
    env_allowlist = List(Unicode(), default_value=list(DEFAULT_ENV_ALLOWLIST)).tag(config=True)
    output_limit = Integer(
        4 * 1024 * 1024, help="Characters per stream per cell the kernel may send."
    ).tag(config=True)
    transport = Unicode(
        "ipc", help="'ipc': Unix sockets in a private dir (no ports to race for, nothing "
        "listening on the network); 'tcp': loopback ports, jupyter_client's default."
    ).tag(config=True)

    isolation = Unicode(
        "namespaces", help="'namespaces' (bubblewrap), 'landlock' or 'none'; see LocalConfig."
    ).tag(config=True)

    _workdir: Path | None = None
    _owns_workdir = False
    _state_dir: Path | None = None
    _sandbox: SandboxSpec | None = None
    _kernel_pid: int | None = None
    disk_budget: DiskBudget | None = None
    _log_file: Any = None
    _token: str | None = None
    _exit_code: int | None = None
    _config: LocalConfig | None = None

    # -- lifecycle -------------------------------------------------------------------------
    async def pre_launch(self, **kwargs: Any) -> dict[str, Any]:
        global _gc_done_for_pid
        if _gc_done_for_pid != os.getpid():  # the first start of a process removes orphans
            _gc_done_for_pid = os.getpid()
            remove_orphaned_dirs()
        config = kwargs.pop("deepthinker_config", None) or self._config
        data_dirs = [Path(d) for d in kwargs.pop("deepthinker_data_dirs", None) or ()]
        scan_policy = kwargs.pop("deepthinker_scan_policy", DEFAULT_POLICY)
        if config is None:
            config = LocalConfig(limits=ResourceLimits.from_dict(dict(self.limits)),
                                 env_allowlist=tuple(self.env_allowlist),
                                 isolation=self.isolation)
        self._config = config
        if config.isolation == "namespaces":
            check_bubblewrap()
        elif config.isolation == "landlock":
            log.warning("local kernel without namespaces (isolation='landlock'): it shares the "
                        "host's network and process table")

        cwd = kwargs.get("cwd")
        if cwd:
            self._workdir = Path(cwd).resolve()
        elif self._workdir is None:  # keep the same dir across restarts
            self._workdir = Path(tempfile.mkdtemp(prefix=temp_prefix("work")))
            self._owns_workdir = True
        self._workdir.mkdir(parents=True, exist_ok=True)
        kwargs["cwd"] = str(self._workdir)
        if self._state_dir is None:
            # The state dir is the host's (log, passwd); only its sock/ is the kernel's.
            self._state_dir = Path(tempfile.mkdtemp(prefix=temp_prefix("state")))
            self.socket_dir.mkdir(mode=0o700)
        km = self.parent
        if km is not None and self.transport == "ipc" and km.transport != "ipc":
            km.transport = "ipc"
            km.ip = str(self.socket_dir / "k")
            km.cache_ports = False

        kwargs = await super().pre_launch(**kwargs)
        self._token = uuid.uuid4().hex
        # Namespaced kernels keep HOME in their private /tmp; the weaker isolation modes share
        # the host's /tmp, so theirs stays in the working dir.
        home = SANDBOX_HOME if config.isolation == "namespaces" else self._workdir / ".home"
        extra = dict(self.kernel_spec.env or {}) if self.kernel_spec else {}
        extra.update(dict(config.env))
        extra.update(
            {
                RLIMITS_ENV: encode_limits(_with_disk_cap(config)),
                LIMIT_ENV: str(self.output_limit),
                PARENT_WATCH_ENV: "1",
                TOKEN_ENV: self._token,
                "DEEPTHINKER_WORKDIR": str(self._workdir),
                GUARD_ENV: kernel_guard_value(scan_policy, self._workdir, data_dirs),
                SECCOMP_ENV: seccomp_switch(config.isolation != "none"),
                "TMPDIR": str(home / "tmp") if home != SANDBOX_HOME else "/tmp",
            }
        )
        if config.isolation != "none":
            extra[FS_JAIL_ENV] = jail_spec(
                self._workdir, data_dirs,
                connection_file=getattr(self.parent, "connection_file", None),
                extra_read=config.extra_read_paths,
                extra_write=(*config.extra_write_paths, str(self.socket_dir),
                             *(PRIVATE_WRITABLE if config.isolation == "namespaces" else ())),
                required=config.isolation == "landlock",
            )
        host_env = kwargs.get("env") or os.environ
        kwargs["env"] = scrub_environment(
            host_env, config.env_allowlist, workdir=self._workdir, home=home, extra=extra
        )
        for key in ("JPY_SESSION_NAME",):
            if key in host_env:
                kwargs["env"][key] = host_env[key]
        if home != SANDBOX_HOME:
            (home / "tmp").mkdir(parents=True, exist_ok=True)
        self._sandbox = self._sandbox_spec(config, data_dirs) \
            if config.isolation == "namespaces" else None
        return kwargs

    def _sandbox_spec(self, config: LocalConfig, data_dirs: list[Path]) -> SandboxSpec:
        assert self._state_dir is not None and self._workdir is not None
        passwd, group = self._state_dir / "passwd", self._state_dir / "group"
        passwd.write_text(passwd_text(SANDBOX_HOME), encoding="utf-8")
        group.write_text(group_text(), encoding="utf-8")
        connection_file = getattr(self.parent, "connection_file", None)
        return SandboxSpec(
            workdir=self._workdir,
            socket_dir=self.socket_dir,
            read_only=(*data_dirs, *map(Path, config.extra_read_paths),
                       *([Path(connection_file)] if connection_file else [])),
            read_write=tuple(map(Path, config.extra_write_paths)),
            network=not config.network_disabled,
            tmp_size=int(config.tmpfs_size),
            passwd_file=passwd,
            group_file=group,
            home=SANDBOX_HOME,
        )

    async def launch_kernel(self, cmd: list[str], **kwargs: Any):
        assert self._state_dir is not None, "pre_launch creates the state dir"
        self._close_log()
        self._log_file = open(self._state_dir / "kernel.log", "ab")  # noqa: SIM115
        kwargs.setdefault("stdout", self._log_file)
        kwargs.setdefault("stderr", self._log_file)
        self._exit_code = None
        self._peak_vm = 0
        self._kernel_pid = None
        if self._sandbox is not None:
            cmd = bwrap_argv(self._sandbox, cmd, bwrap=check_bubblewrap())
        info = await super().launch_kernel(cmd, **kwargs)
        self._start_disk_budget()
        return info

    def _start_disk_budget(self) -> None:
        config = self._config
        if config is None or config.disk_limit is None or self._workdir is None:
            return
        if self.disk_budget is None:
            # The state dir holds the kernel's sockets and kernel.log, its stdout and stderr at
            # the file level (os.write(1, ...)): both are written by the kernel.
            roots = [self._workdir, self._state_dir, *map(Path, config.extra_write_paths)]
            self.disk_budget = DiskBudget(roots, int(config.disk_limit), self._stop_for_disk,
                                          pids=self._processes, counted_whole=[self._state_dir])
        else:
            self.disk_budget.rearm()
        self.disk_budget.start()

    def _processes(self) -> list[int]:
        """Host pids of the kernel and everything it started (in the sandbox: all of it)."""
        return descendants(self.pid) if self.pid else []

    def _stop_for_disk(self) -> None:
        """Called from the watcher thread: SIGKILL the sandbox (or the group) at once."""
        kill_group(self.pgid)
        if self._token:
            kill_token_holders(self._token)

    _peak_vm = 0

    @property
    def socket_dir(self) -> Path:
        assert self._state_dir is not None, "pre_launch creates the state dir"
        return self._state_dir / "sock"

    @property
    def kernel_pid(self) -> int | None:
        """The host pid of ipykernel itself: in the sandbox it is a grandchild of bwrap."""
        if self._sandbox is None:
            return self.pid
        if self._kernel_pid is None and self.pid:
            self._kernel_pid = sandboxed_kernel_pid(self.pid)
        return self._kernel_pid

    async def send_signal(self, signum: int) -> None:
        """An interrupt goes to ipykernel itself: bubblewrap does not pass signals on."""
        if self._sandbox is None or signum == signal.SIGKILL:
            await super().send_signal(signum)
            return
        pid = self.kernel_pid
        if pid is None:
            await super().send_signal(signum)
            return
        try:
            os.kill(pid, signum)
        except ProcessLookupError:
            pass

    async def poll(self) -> int | None:
        code = await super().poll()
        if self.process is not None:
            if code is None:
                self._sample_memory()
            else:
                self._exit_code = code
        return code

    def _sample_memory(self) -> None:
        """Remember the kernel's peak address space: after a crash it tells whether the memory
        limit was the cause. Sessions poll while a cell is quiet, so this costs one small read."""
        try:
            with open(f"/proc/{self.kernel_pid}/status", "rb") as handle:
                for line in handle:
                    if line.startswith(b"VmPeak:"):
                        self._peak_vm = max(self._peak_vm, int(line.split()[1]) * 1024)
                        break
        except (OSError, ValueError, IndexError):
            pass

    async def wait(self) -> int | None:
        code = await super().wait()
        if code is not None and self._exit_code is None:
            self._exit_code = code
        return code

    async def cleanup(self, restart: bool = False) -> None:
        # The kernel may be gone while its children live on in its group, or outside it.
        kill_group(self.pgid)
        if self._token:
            kill_token_holders(self._token)
        self._close_log()
        await super().cleanup(restart=restart)
        if not restart:
            if self.disk_budget is not None:
                self.disk_budget.stop()
                self.disk_budget = None
            if self._owns_workdir and self._workdir is not None:
                shutil.rmtree(self._workdir, ignore_errors=True)
            if self._state_dir is not None:
                shutil.rmtree(self._state_dir, ignore_errors=True)
                self._state_dir = None

    # -- what deepthinker-nb adds ----------------------------------------------------------
    @property
    def workdir(self) -> Path | None:
        return self._workdir

    def log_tail(self, size: int = 8192) -> str:
        """The end of the kernel's own stdout/stderr (not the cell's), for death diagnosis."""
        if self._state_dir is None:
            return ""
        path = self._state_dir / "kernel.log"
        try:
            with open(path, "rb") as handle:
                handle.seek(max(0, path.stat().st_size - size))
                return handle.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def death_reason(self) -> str | None:
        """Why the kernel process ended, in words a researcher can act on."""
        if self.disk_budget is not None and self.disk_budget.exceeded:
            return self.disk_budget.reason()
        code = self._exit_code
        if code is None:
            return None
        limits = self._config.limits if self._config else ResourceLimits()
        if self._sandbox is not None and code > 128:
            code = -(code - 128)  # bubblewrap exits 128+N for a kernel killed by signal N
        if code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = f"signal {-code}"
            reason = f"killed by signal {name}"
            if name == "SIGXCPU":
                reason += f" (CPU time limit of {limits.cpu_seconds} s reached)"
        else:
            reason = f"exited with code {code}"
        near_limit = bool(limits.memory) and self._peak_vm >= 0.9 * limits.memory
        if limits.memory and (near_limit or _MEMORY_SIGNS.search(self.log_tail())):
            reason += f" (memory limit {format_size(limits.memory)} reached)"
        return reason

    def _close_log(self) -> None:
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None
