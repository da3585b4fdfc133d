"""Batches of workflow runs on Dask distributed: a spec's runs become Dask tasks, each a
workflow run on a worker's own kernels, collected into one table and one comparison report.

``run_batch(spec)`` runs on a LocalCluster or on any scheduler (``client=``/``scheduler=``);
the spec is checked before anything is submitted. Names resolve on first use, so reading a
spec needs neither Dask nor matplotlib.
"""

from __future__ import annotations

from deepthinker_nb._lazy import lazy_exports

_EXPORTS = {
    **{name: "deepthinker_nb.batch.config" for name in (
        "BackendChoice", "BatchSpec", "CouncilChoice", "DatasetRef", "RunConfig",
        "RunSettings")},
    **{name: "deepthinker_nb.batch.spec" for name in ("load_spec", "parse_spec")},
    **{name: "deepthinker_nb.batch.document" for name in ("SpecError", "read_spec_file")},
    **{name: "deepthinker_nb.batch.results" for name in ("BatchResult", "BatchRow")},
    "BatchStatus": "deepthinker_nb.batch.progress",
    "run_batch": "deepthinker_nb.batch.runner",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

