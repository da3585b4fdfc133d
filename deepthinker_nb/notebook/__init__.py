"""Notebook layer: assembly (nbformat), the papermill engine ``deepthinker``, execution of
notebooks in managed kernels, and live recording of interactive sessions.

Names are imported lazily: papermill imports ``deepthinker_nb.notebook.engine`` while papermill
itself is still importing, so this package must not import papermill (or our kernels) eagerly.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "CellSpec": "builder",
    "build_notebook": "builder",
    "read_cells": "builder",
    "split_percent_script": "builder",
    "parameters_source": "builder",
    "DeepThinkerEngine": "engine",
    "DeepThinkerNotebookClient": "engine",
    "CellBlockedError": "engine",
    "execute_notebook": "execute",
    "NotebookRun": "execute",
    "CellRecord": "execute",
    "NotebookRecorder": "recorder",
    "Session": "live",
    "cell_result_to_outputs": "recorder",
    "cell_result_to_cell": "recorder",
    "scan_metadata": "verdict",
    "write_notebook": "io",
    "read_notebook": "io",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
