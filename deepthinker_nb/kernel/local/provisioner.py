"""The local kernel provisioner: ipykernel in a subprocess with a clean environment, its own
working directory, rlimits and a process group that dies with it.

It extends jupyter_client's LocalProvisioner, so papermill, nbclient and JupyterLab start it by
kernelspec name exactly as they start any kernel; KernelSession passes a typed LocalConfig
through ``start_kernel(deepthinker_config=...)``.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import tempfile
import uuid
from pathlib import Path
from typing import Any

from jupyter_client.provisioning import LocalProvisioner
from traitlets import Dict, Integer, List, Unicode

from deepthinker_nb.config.limits import ResourceLimits, format_size
from deepthinker_nb.config.local import DEFAULT_ENV_ALLOWLIST, LocalConfig
from deepthinker_nb.kernel.local.environment import scrub_environment
from deepthinker_nb.kernel.local.jail import jail_spec
from deepthinker_nb.kernel.local.limits import RLIMITS_ENV, encode_limits
from deepthinker_nb.kernel.local.orphans import remove_orphaned_dirs, temp_prefix
from deepthinker_nb.kernel.local.processes import TOKEN_ENV, kill_group, kill_token_holders

OUTPUT_LIMIT_ENV = "DEEPTHINKER_OUTPUT_LIMIT"
FS_JAIL_ENV = "DEEPTHINKER_FS_JAIL"
_gc_done_for_pid: int | None = None
_MEMORY_SIGNS = re.compile(
    r"MemoryError|Cannot allocate memory|bad_alloc|out of memory|Unable to allocate", re.I
)


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

    _workdir: Path | None = None
    _owns_workdir = False
    _state_dir: Path | None = None
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
        if config is None:
            config = LocalConfig(limits=ResourceLimits.from_dict(dict(self.limits)),
                                 env_allowlist=tuple(self.env_allowlist))
        self._config = config

        cwd = kwargs.get("cwd")
        if cwd:
            self._workdir = Path(cwd).resolve()
        elif self._workdir is None:  # keep the same dir across restarts
            self._workdir = Path(tempfile.mkdtemp(prefix=temp_prefix("work")))
            self._owns_workdir = True
        self._workdir.mkdir(parents=True, exist_ok=True)
        kwargs["cwd"] = str(self._workdir)
        if self._state_dir is None:
            self._state_dir = Path(tempfile.mkdtemp(prefix=temp_prefix("state")))
        km = self.parent
        if km is not None and self.transport == "ipc" and km.transport != "ipc":
            km.transport = "ipc"
            km.ip = str(self._state_dir / "k")
            km.cache_ports = False

        kwargs = await super().pre_launch(**kwargs)
        self._token = uuid.uuid4().hex
        extra = dict(self.kernel_spec.env or {}) if self.kernel_spec else {}
        extra.update(dict(config.env))
        extra.update(
            {
                RLIMITS_ENV: encode_limits(config.limits),
                OUTPUT_LIMIT_ENV: str(self.output_limit),
                "DEEPTHINKER_PARENT_WATCH": "1",
                TOKEN_ENV: self._token,
                "DEEPTHINKER_WORKDIR": str(self._workdir),
                "TMPDIR": str(self._workdir / ".home" / "tmp"),
            }
        )
        if config.filesystem_jail != "off":
            extra[FS_JAIL_ENV] = jail_spec(
                self._workdir, data_dirs,
                connection_file=getattr(self.parent, "connection_file", None),
                extra_read=config.extra_read_paths,
                extra_write=(*config.extra_write_paths, str(self._state_dir)),
                required=config.filesystem_jail == "required",
            )
        host_env = kwargs.get("env") or os.environ
        kwargs["env"] = scrub_environment(
            host_env, config.env_allowlist, workdir=self._workdir, extra=extra
        )
        for key in ("JPY_SESSION_NAME",):
            if key in host_env:
                kwargs["env"][key] = host_env[key]
        (self._workdir / ".home" / "tmp").mkdir(parents=True, exist_ok=True)
        return kwargs

    async def launch_kernel(self, cmd: list[str], **kwargs: Any):
        assert self._state_dir is not None, "pre_launch creates the state dir"
        self._close_log()
        self._log_file = open(self._state_dir / "kernel.log", "ab")  # noqa: SIM115
        kwargs.setdefault("stdout", self._log_file)
        kwargs.setdefault("stderr", self._log_file)
        self._exit_code = None
        self._peak_vm = 0
        return await super().launch_kernel(cmd, **kwargs)

    _peak_vm = 0

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
            with open(f"/proc/{self.pid}/status", "rb") as handle:
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
        code = self._exit_code
        if code is None:
            return None
        limits = self._config.limits if self._config else ResourceLimits()
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
