"""Reports of runs: HTML export with plots, the reproducibility manifest, and ``reproduce``."""

from deepthinker_nb.report.html import export_html
from deepthinker_nb.report.manifest import (
    file_sha256,
    package_versions,
    read_manifest,
    write_manifest,
)
from deepthinker_nb.report.reproduce import ReproduceResult, reproduce

__all__ = [
    "ReproduceResult",
    "export_html",
    "file_sha256",
    "package_versions",
    "read_manifest",
    "reproduce",
    "write_manifest",
]
