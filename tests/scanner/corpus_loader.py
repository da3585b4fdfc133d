"""Load the labelled corpus: cells in ``corpus/{dangerous,harmless}/<category>.txt``.

Each file holds cells separated by ``# ---- id: <id>`` lines; the category is the file stem.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

CORPUS_DIR = Path(__file__).parent / "corpus"
_SEP = re.compile(r"^# ---- id: (\S+)[ \t]*$", re.MULTILINE)


@dataclass(frozen=True)
class Case:
    label: str  # "dangerous" or "harmless"
    category: str
    id: str
    code: str

    @property
    def key(self) -> str:
        return f"{self.label}/{self.category}/{self.id}"


def load(label: str) -> list[Case]:
    cases: list[Case] = []
    for path in sorted((CORPUS_DIR / label).glob("*.txt")):
        text = path.read_text(encoding="utf-8")
        matches = list(_SEP.finditer(text))
        for i, match in enumerate(matches):
            end = matches[i + 1].start() if i + 1 < len(matches) else len(text)
            code = text[match.end() + 1: end]
            cases.append(Case(label, path.stem, match.group(1), code))
    return cases
