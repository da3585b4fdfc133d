"""Reports of runs: the run report (summary, plots, notebook), HTML export, the reproducibility
manifest, and ``reproduce``."""

from deepthinker_nb.report.export import ExportResult, export_run, unpack_run
from deepthinker_nb.report.html import export_html
from deepthinker_nb.report.manifest import (
    file_sha256,
    package_versions,
    read_manifest,
    write_manifest,
)
from deepthinker_nb.report.reproduce import ReproduceResult, reproduce
from deepthinker_nb.report.run_report import RunReport, write_run_report

__all__ = [
    "ExportResult",
    "ReproduceResult",
    "RunReport",
    "export_html",
    "export_run",
    "file_sha256",
    "package_versions",
    "read_manifest",
    "reproduce",
    "unpack_run",
    "write_manifest",
    "write_run_report",
]
