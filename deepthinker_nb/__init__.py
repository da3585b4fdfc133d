"""deepthinker-nb: run AI-generated data-science code safely in managed Jupyter kernels, and
record every run as a notebook.

Public names are imported on first use, so that starting a kernel (whose launcher lives in this
package) does not pay for the whole library.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from deepthinker_nb._lazy import lazy_exports

__version__ = "0.1.0"

_CONFIG = "deepthinker_nb.config"
_EXPORTS = {
    **{name: _CONFIG for name in (
        "BROWSER", "GPU_ML", "PROFILES", "SAFE_ML", "TRUSTED", "DataConfig", "DockerConfig",
        "IterationConfig", "LocalConfig", "ResourceLimits")},
    **{name: "deepthinker_nb.errors" for name in (
        "ConfigError", "DeepThinkerError", "KernelError", "KernelStartError")},
    "CodeExecutor": "deepthinker_nb.execution.executor",
    "ExecutionResult": "deepthinker_nb.execution.result",
    **{name: "deepthinker_nb.kernel.session" for name in ("AsyncKernelSession", "KernelSession")},
    **{name: "deepthinker_nb.kernel.pool" for name in ("AsyncKernelPool", "KernelPool")},
    **{name: "deepthinker_nb.kernel.results" for name in ("CellResult", "ErrorInfo", "RichOutput")},
    **{name: "deepthinker_nb.scanner" for name in (
        "SecurityScanner", "ScanPolicy", "ScanReport", "SecurityError")},
    **{name: "deepthinker_nb.workflow" for name in (
        "WorkflowRunner", "WorkflowResult", "run_deepthinker_workflow")},
    "resume_run": "deepthinker_nb.workflow.resume",
    **{name: "deepthinker_nb.report" for name in (
        "ReproduceResult", "export_run", "reproduce")},
    "Session": "deepthinker_nb.notebook.live",
    "LLMConfig": "deepthinker_nb.llm.config",
    **{name: "deepthinker_nb.workflow.councils.llm" for name in (
        "llm_councils", "parse_coders")},
    **{name: "deepthinker_nb.workflow.candidates" for name in ("CoderMember", "CoderPanel")},
    "DocumentIndex": "deepthinker_nb.llm.retrieval",
    **{name: "deepthinker_nb.llm.retrieval_web" for name in (
        "ResearchSources", "SearxngSearch")},
    **{name: "deepthinker_nb.batch" for name in (
        "BatchResult", "BatchRow", "BatchSpec", "load_spec", "run_batch")},
    **{name: "deepthinker_nb.runs" for name in (
        "Run", "RunComparison", "RunSummary", "compare_runs", "list_runs", "load_run",
        "resolve_run")},
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

if TYPE_CHECKING:  # for type checkers and IDEs: the same names, imported eagerly
    from deepthinker_nb.batch import BatchResult, BatchRow, BatchSpec, load_spec, run_batch
    from deepthinker_nb.config import (
        BROWSER,
        GPU_ML,
        PROFILES,
        SAFE_ML,
        TRUSTED,
        DataConfig,
        DockerConfig,
        IterationConfig,
        LocalConfig,
        ResourceLimits,
    )
    from deepthinker_nb.errors import ConfigError, DeepThinkerError, KernelError, KernelStartError
    from deepthinker_nb.execution.executor import CodeExecutor
    from deepthinker_nb.execution.result import ExecutionResult
    from deepthinker_nb.kernel.pool import AsyncKernelPool, KernelPool
    from deepthinker_nb.kernel.results import CellResult, ErrorInfo, RichOutput
    from deepthinker_nb.kernel.session import AsyncKernelSession, KernelSession
    from deepthinker_nb.llm.config import LLMConfig
    from deepthinker_nb.llm.retrieval import DocumentIndex
    from deepthinker_nb.llm.retrieval_web import ResearchSources, SearxngSearch
    from deepthinker_nb.notebook.live import Session
    from deepthinker_nb.runs import (
        Run,
        RunComparison,
        RunSummary,
        compare_runs,
        list_runs,
        load_run,
        resolve_run,
    )
    from deepthinker_nb.scanner import ScanPolicy, ScanReport, SecurityError, SecurityScanner
    from deepthinker_nb.workflow import WorkflowResult, WorkflowRunner, run_deepthinker_workflow
    from deepthinker_nb.workflow.candidates import CoderMember, CoderPanel
    from deepthinker_nb.workflow.councils.llm import llm_councils, parse_coders
