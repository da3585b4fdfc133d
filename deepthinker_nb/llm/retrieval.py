"""The user's documents as passages the researcher can be given: ``--docs DIR``.

Text, Markdown, reStructuredText and notebooks are read as they are; PDFs through ``pypdf``
when it is installed (the ``[llm]`` extra), else skipped with a warning. Passages are ranked
with BM25 by ``bm25s`` (maintained, sparse-matrix scoring on numpy/scipy, which scikit-learn
already brings; ``rank_bm25`` has had no release since 2022).
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from deepthinker_nb.errors import ConfigError

log = logging.getLogger("deepthinker_nb.llm")

TEXT_SUFFIXES = (".txt", ".md", ".markdown", ".rst")
PASSAGE_CHARS = 1000
"""About this many characters per passage: paragraphs are merged up to it, longer ones cut."""
MAX_FILE_BYTES = 20 * 1024 * 1024
MAX_PASSAGES = 20000


@dataclass(frozen=True)
class Passage:
    """A piece of text and where it came from: a file under the docs dir, or a web page."""

    source: str
    """The file's path relative to the docs dir (``notes/eda.md``, ``paper.pdf#page=3``) or a
    URL."""
    text: str
    title: str = ""
    kind: str = "doc"
    """``doc`` or ``web``."""
    score: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "source": self.source, "title": self.title,
                "passage": self.text, "score": round(self.score, 4)}


def _paragraphs(text: str) -> list[str]:
    return [" ".join(p.split()) for p in re.split(r"\n\s*\n", text) if p.strip()]


def chunk(text: str, size: int = PASSAGE_CHARS) -> list[str]:
    """Paragraphs merged up to ``size`` characters; a longer paragraph is cut at words."""
    passages: list[str] = []
    current = ""
    for paragraph in _paragraphs(text):
        while len(paragraph) > size:
            cut = paragraph.rfind(" ", 0, size)
            cut = cut if cut > size // 2 else size
            if current:
                passages.append(current)
                current = ""
            passages.append(paragraph[:cut].strip())
            paragraph = paragraph[cut:].strip()
        if current and len(current) + 1 + len(paragraph) > size:
            passages.append(current)
            current = ""
        current = f"{current} {paragraph}".strip()
    if current:
        passages.append(current)
    return passages


def _notebook_text(path: Path) -> str:
    nb = json.loads(path.read_text(encoding="utf-8", errors="replace"))
    cells = nb.get("cells", []) if isinstance(nb, dict) else []
    parts = []
    for cell in cells:
        source = cell.get("source", "") if isinstance(cell, dict) else ""
        parts.append("".join(source) if isinstance(source, list) else str(source))
    return "\n\n".join(parts)


def _pdf_pages(path: Path) -> list[str]:
    import pypdf

    return [page.extract_text() or "" for page in pypdf.PdfReader(str(path)).pages]


@dataclass
class DocumentIndex:
    """Passages of the files under a directory, ranked by BM25 against a query."""

    root: Path
    passages: list[Passage]
    warnings: list[str] = field(default_factory=list)
    _retriever: Any = None

    @classmethod
    def from_dir(cls, root: Path | str, flag: str = "--docs") -> DocumentIndex:
        """Read every text, Markdown, notebook and (with pypdf) PDF file under ``root``."""
        root = Path(root).expanduser()
        if not root.is_dir():
            raise ConfigError(f"{flag}: {root} is not a directory; give a folder of text, "
                              "Markdown, notebook or PDF files")
        try:
            import bm25s  # noqa: F401
        except ImportError:
            raise ConfigError(f"{flag}: the bm25s package is missing; install it with "
                              "pip install 'deepthinker-nb[llm]'") from None
        passages: list[Passage] = []
        warnings: list[str] = []
        pdfs_skipped = 0
        try:
            import pypdf  # noqa: F401
            have_pdf = True
        except ImportError:
            have_pdf = False
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            suffix = path.suffix.lower()
            relative = path.relative_to(root).as_posix()
            if suffix not in (*TEXT_SUFFIXES, ".ipynb", ".pdf"):
                continue
            if path.stat().st_size > MAX_FILE_BYTES:
                warnings.append(f"{flag}: skipped {relative} (larger than "
                                f"{MAX_FILE_BYTES // 2**20} MiB)")
                continue
            try:
                if suffix == ".pdf":
                    if not have_pdf:
                        pdfs_skipped += 1
                        continue
                    for page, text in enumerate(_pdf_pages(path), 1):
                        passages += [Passage(f"{relative}#page={page}", t, path.name)
                                     for t in chunk(text)]
                    continue
                text = (_notebook_text(path) if suffix == ".ipynb"
                        else path.read_text(encoding="utf-8", errors="replace"))
            except Exception as exc:  # one unreadable file does not stop the others
                warnings.append(f"{flag}: skipped {relative} ({type(exc).__name__}: "
                                f"{' '.join(str(exc).split())[:120]})")
                continue
            passages += [Passage(relative, t, path.name) for t in chunk(text)]
        if pdfs_skipped:
            warnings.append(f"{flag}: skipped {pdfs_skipped} PDF file(s): install pypdf "
                            "(pip install 'deepthinker-nb[llm]') to read them")
        for warning in warnings:
            log.warning(warning)
        return cls(root, passages[:MAX_PASSAGES], warnings)

    def search(self, query: str, k: int = 5) -> list[Passage]:
        """The ``k`` passages BM25 ranks highest for ``query`` (none that share no word)."""
        if not self.passages or not query.strip():
            return []
        import bm25s

        if self._retriever is None:
            tokens = bm25s.tokenize([p.text for p in self.passages], stopwords="en",
                                    show_progress=False)
            self._retriever = bm25s.BM25()
            self._retriever.index(tokens, show_progress=False)
        query_tokens = bm25s.tokenize([query], stopwords="en", show_progress=False)
        k = min(k, len(self.passages))
        ids, scores = self._retriever.retrieve(query_tokens, k=k, show_progress=False)
        found = []
        for i, score in zip(ids[0], scores[0], strict=True):
            if float(score) > 0:
                passage = self.passages[int(i)]
                found.append(Passage(passage.source, passage.text, passage.title,
                                     passage.kind, float(score)))
        return found


__all__ = ["PASSAGE_CHARS", "DocumentIndex", "Passage", "chunk"]
