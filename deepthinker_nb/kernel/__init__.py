"""Managed Jupyter kernels: sessions, results, the warm pool, and the backends they run on."""

from deepthinker_nb.kernel.backend import KernelBackend, available_backends, get_backend
from deepthinker_nb.kernel.gate import ScanGate
from deepthinker_nb.kernel.pool import AsyncKernelPool, KernelPool
from deepthinker_nb.kernel.results import CellResult, ErrorInfo, RichOutput
from deepthinker_nb.kernel.session import AsyncKernelSession, KernelSession

__all__ = [
    "AsyncKernelPool",
    "AsyncKernelSession",
    "CellResult",
    "ErrorInfo",
    "KernelBackend",
    "KernelPool",
    "KernelSession",
    "RichOutput",
    "ScanGate",
    "available_backends",
    "get_backend",
]
