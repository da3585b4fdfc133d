"""HTML export of executed notebooks with nbconvert; plots stay inside the one file.

The notebook holds what a kernel produced, so the host reads nothing else: the notebook itself is
read as untrusted, and nbconvert's ``embed_images`` is off. That option makes nbconvert read any
file a markdown cell or a kernel's ``text/markdown`` output names (``![](leak.png)``, following
symlinks) into the HTML; plots need no files, they are base64 outputs inside the notebook.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from deepthinker_nb.notebook.io import atomic_write_text, read_notebook


def export_html(
    notebook_path: str | os.PathLike[str],
    html_path: str | os.PathLike[str] | None = None,
    *,
    exclude_input: bool = False,
) -> Path:
    """Render the notebook to a self-contained HTML file (plots as base64 data URIs; images that
    markdown names by path stay links, never read from disk) and return its path (default: next
    to the notebook, ``.html``)."""
    from nbconvert import HTMLExporter  # heavy import, only when exporting

    source = Path(notebook_path)
    target = Path(html_path) if html_path is not None else source.with_suffix(".html")
    nb = read_notebook(source)
    exporter = HTMLExporter(embed_images=False, exclude_input=exclude_input)
    resources = {"metadata": {"name": source.stem}}
    body, _resources = exporter.from_notebook_node(nb, resources=resources)
    return atomic_write_text(target, body)


HIDDEN_TAGS = frozenset({"parameters", "injected-parameters"})
"""Cells the run report leaves out: the raw parameters (host paths, not the analysis)."""
_SCRIPT = re.compile(r"<script\b[^>]*>.*?</script\s*>", re.IGNORECASE | re.DOTALL)


def notebook_document(notebook_path: str | os.PathLike[str], *,
                      hide_tags: frozenset[str] = HIDDEN_TAGS) -> str:
    """The notebook as one HTML document that loads nothing: cells tagged ``hide_tags`` left
    out, the HTML of markdown and outputs sanitised by nbconvert (a kernel's ``<script>`` is
    dropped), and then every ``<script>`` of the template removed (MathJax, require.js and
    mermaid come from a CDN; the report needs none of them)."""
    from nbconvert import HTMLExporter

    source = Path(notebook_path)
    nb = read_notebook(source)
    nb.cells = [cell for cell in nb.cells
                if not hide_tags & set(cell.get("metadata", {}).get("tags", []))]
    exporter = HTMLExporter(embed_images=False, sanitize_html=True)
    body, _resources = exporter.from_notebook_node(nb, resources={"metadata": {
        "name": source.stem}})
    return _SCRIPT.sub("", body)
