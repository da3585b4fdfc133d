"""Our kernelspecs: served from memory to our own sessions, installable for everyone else."""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

from jupyter_client.kernelspec import KernelSpec, KernelSpecManager, NoSuchKernel

from deepthinker_nb.errors import BackendUnavailableError
from deepthinker_nb.kernel.backend import available_backends, get_backend


def deepthinker_kernel_specs() -> dict[str, dict]:
    """kernel.json content of every registered backend, keyed by kernelspec name."""
    specs = {}
    for name in available_backends():
        try:
            backend = get_backend(name)
        except BackendUnavailableError:
            continue
        specs[backend.kernel_name] = backend.kernel_spec()
    return specs


class DeepThinkerKernelSpecManager(KernelSpecManager):
    """Knows the deepthinker kernels without anything being installed, and every other
    kernelspec the usual way. An installed deepthinker spec does not shadow ours: sessions
    always run the kernel this package describes."""

    def _ours(self) -> dict[str, dict]:
        if not hasattr(self, "_ours_cache"):
            self._ours_cache = deepthinker_kernel_specs()
        return self._ours_cache

    def get_kernel_spec(self, kernel_name: str) -> KernelSpec:
        spec = self._ours().get(kernel_name)
        if spec is None:
            return super().get_kernel_spec(kernel_name)
        return KernelSpec(resource_dir=str(Path(__file__).parent), **spec)

    def find_kernel_specs(self) -> dict[str, str]:
        found = super().find_kernel_specs()
        for name in self._ours():
            found.setdefault(name, str(Path(__file__).parent))
        return found


def install_kernel_specs(
    *, user: bool = False, prefix: str | None = None, names: list[str] | None = None
) -> dict[str, str]:
    """Install our kernelspecs where Jupyter tools look for them; returns name -> path.

    Default destination is this environment (``sys.prefix``), so the spec's interpreter and the
    one that has deepthinker-nb installed are the same.
    """
    if not user and prefix is None:
        prefix = sys.prefix
    specs = deepthinker_kernel_specs()
    if names:
        unknown = sorted(set(names) - set(specs))
        if unknown:
            raise NoSuchKernel(", ".join(unknown))
        specs = {name: specs[name] for name in names}
    manager = KernelSpecManager()
    installed = {}
    for name, spec in specs.items():
        with tempfile.TemporaryDirectory() as tmp:
            source = Path(tmp) / name
            source.mkdir()
            (source / "kernel.json").write_text(json.dumps(spec, indent=1) + "\n")
            installed[name] = manager.install_kernel_spec(
                str(source), kernel_name=name, user=user, prefix=prefix
            )
    return installed
