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
_DROPPED = re.compile(r"<(script|style|iframe|object|embed|template|noscript)\b[^>]*>.*?"
                      r"</\1\s*>", re.IGNORECASE | re.DOTALL)
_SAFE_TAGS = frozenset({
    "a", "abbr", "b", "blockquote", "br", "caption", "code", "col", "colgroup", "dd", "del",
    "details", "div", "dl", "dt", "em", "figcaption", "figure", "h1", "h2", "h3", "h4", "h5",
    "h6", "hr", "i", "img", "ins", "kbd", "li", "ol", "p", "pre", "q", "s", "samp", "small",
    "span", "strong", "sub", "summary", "sup", "table", "tbody", "td", "tfoot", "th", "thead",
    "tr", "u", "ul", "var",
    # SVG outputs (matplotlib's svg format): shapes and text, no foreignObject, no script
    "svg", "g", "path", "defs", "use", "clippath", "clipPath", "rect", "circle", "ellipse",
    "line", "polyline", "polygon", "text", "tspan", "lineargradient", "linearGradient",
    "radialgradient", "radialGradient", "stop", "symbol", "title", "desc", "metadata",
    "mask", "pattern", "marker",
})
_URL_ATTRIBUTES = frozenset({"href", "src", "xlink:href", "action", "formaction", "background",
                             "poster", "srcset"})


def _safe_attribute(tag: str, name: str, value: str) -> bool:
    """No event handler, no style (it could restyle the report around it), and a URL only as
    a fragment, an ``https``/``http`` link (``a`` only) or an inline ``data:image/`` picture."""
    lower = name.lower()
    if lower.startswith("on") or lower == "style":
        return False
    if lower in _URL_ATTRIBUTES:
        url = value.strip().lower()
        if url.startswith("#") or (url.startswith("data:image/") and not url.startswith(
                "data:image/svg")):
            return True
        return tag == "a" and lower == "href" and url.startswith(("https://", "http://"))
    return True


def clean_html(element: str | bytes) -> str:
    """nbconvert's ``clean_html`` filter with an allow-list a notebook needs (headings,
    paragraphs, pandas tables, inline images, SVG plots) and nothing active: scripts, styles,
    frames and their content dropped, event handlers and remote sources removed."""
    import bleach

    text = element.decode() if isinstance(element, bytes) else str(element)
    text = _DROPPED.sub("", text)
    return bleach.clean(text, tags=_SAFE_TAGS, attributes=_safe_attribute,
                        protocols={"http", "https", "data"}, strip=True, strip_comments=True)


def notebook_document(notebook_path: str | os.PathLike[str], *,
                      hide_tags: frozenset[str] = HIDDEN_TAGS) -> str:
    """The notebook as one HTML document that loads nothing: cells tagged ``hide_tags`` left
    out, the HTML of markdown and outputs sanitised (:func:`clean_html`: a kernel's
    ``<script>`` is dropped), and then every ``<script>`` of the template removed (MathJax,
    require.js and mermaid come from a CDN; the report needs none of them)."""
    from nbconvert import HTMLExporter

    source = Path(notebook_path)
    nb = read_notebook(source)
    nb.cells = [cell for cell in nb.cells
                if not hide_tags & set(cell.get("metadata", {}).get("tags", []))]
    exporter = HTMLExporter(embed_images=False, sanitize_html=True)
    exporter.register_filter("clean_html", clean_html)
    body, _resources = exporter.from_notebook_node(nb, resources={"metadata": {
        "name": source.stem}})
    return _SCRIPT.sub("", body)
