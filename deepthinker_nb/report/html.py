"""HTML export of executed notebooks with nbconvert; plots stay inside the one file."""

from __future__ import annotations

import os
from pathlib import Path

import nbformat

from deepthinker_nb.notebook.io import atomic_write_text


def export_html(
    notebook_path: str | os.PathLike[str],
    html_path: str | os.PathLike[str] | None = None,
    *,
    exclude_input: bool = False,
) -> Path:
    """Render the notebook to a self-contained HTML file (images as base64 data URIs) and
    return its path (default: next to the notebook, ``.html``)."""
    from nbconvert import HTMLExporter  # heavy import, only when exporting

    source = Path(notebook_path)
    target = Path(html_path) if html_path is not None else source.with_suffix(".html")
    nb = nbformat.read(source, as_version=4)
    exporter = HTMLExporter(embed_images=True, exclude_input=exclude_input)
    resources = {"metadata": {"name": source.stem}}
    body, _resources = exporter.from_notebook_node(nb, resources=resources)
    return atomic_write_text(target, body)
