"""Managed Jupyter kernels: sessions, results, the warm pool, and the backends they run on.

Names resolve lazily: this package also holds the in-kernel launcher, which must start fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from deepthinker_nb._lazy import lazy_exports

_EXPORTS = {
    **{name: "deepthinker_nb.kernel.backend" for name in (
        "KernelBackend", "available_backends", "get_backend")},
    "ScanGate": "deepthinker_nb.kernel.gate",
    **{name: "deepthinker_nb.kernel.pool" for name in ("AsyncKernelPool", "KernelPool")},
    **{name: "deepthinker_nb.kernel.results" for name in ("CellResult", "ErrorInfo", "RichOutput")},
    **{name: "deepthinker_nb.kernel.session" for name in ("AsyncKernelSession", "KernelSession")},
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

if TYPE_CHECKING:
    from deepthinker_nb.kernel.backend import KernelBackend, available_backends, get_backend
    from deepthinker_nb.kernel.gate import ScanGate
    from deepthinker_nb.kernel.pool import AsyncKernelPool, KernelPool
    from deepthinker_nb.kernel.results import CellResult, ErrorInfo, RichOutput
    from deepthinker_nb.kernel.session import AsyncKernelSession, KernelSession
