"""The local backend: ipykernel as a sandboxed subprocess of this Python."""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from deepthinker_nb.config.local import LocalConfig
from deepthinker_nb.kernel.backend import KernelBackend
from deepthinker_nb.kernel.local.sandbox import check_bubblewrap


class LocalBackend(KernelBackend):
    name = "local"
    kernel_name = "deepthinker-local"
    provisioner_name = "deepthinker-local-provisioner"
    config_type = LocalConfig
    aliases = ("subprocess",)
    poolable = True

    def with_shared_write(self, config: Any, path: Path) -> LocalConfig:
        config = self.coerce_config(config)
        return replace(config, extra_write_paths=(*config.extra_write_paths, str(path)))

    def kernel_spec(self) -> dict[str, Any]:
        return {
            "argv": [sys.executable, "-m", "deepthinker_nb.kernel.launcher",
                     "-f", "{connection_file}"],
            "display_name": "Python 3 (deepthinker local sandbox)",
            "language": "python",
            "interrupt_mode": "signal",
            "env": {},
            "metadata": {
                "debugger": False,
                "kernel_provisioner": {"provisioner_name": self.provisioner_name, "config": {}},
            },
        }

    def preflight(self, config: Any) -> None:
        if self.coerce_config(config).isolation == "namespaces":
            check_bubblewrap()

    def gc(self) -> int:
        from deepthinker_nb.kernel.local.orphans import remove_orphaned_dirs

        return len(remove_orphaned_dirs())

    def describe(self, config: Any) -> dict[str, Any]:
        config = self.coerce_config(config)
        return {
            "backend": self.name,
            "kernel_name": self.kernel_name,
            "python": sys.version.split()[0],
            "executable": sys.executable,
            "isolation": config.isolation,
            "network": not config.network_disabled,
            "disk_limit": config.disk_limit,
            "limits": config.limits.to_dict(),
        }
