"""Notebook layer: assembly (nbformat), the papermill engine ``deepthinker``, execution of
notebooks in managed kernels, and live recording of interactive sessions.

Names are imported lazily: papermill imports ``deepthinker_nb.notebook.engine`` while papermill
itself is still importing, so this package must not import papermill (or our kernels) eagerly.
"""

from __future__ import annotations

from deepthinker_nb._lazy import lazy_exports

_EXPORTS = {name: f"{__name__}.{module}" for name, module in {
    "CellSpec": "builder",
    "build_notebook": "builder",
    "read_cells": "builder",
    "split_percent_script": "builder",
    "parameters_source": "builder",
    "DeepThinkerEngine": "engine",
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
}.items()}

__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
