"""Ordered severities, so thresholds (``block_at``, ``--fail-on``) are plain comparisons."""

from __future__ import annotations

import enum
import functools


@functools.total_ordering
class Severity(enum.Enum):
    """How bad a finding is; members compare by rank (``Severity.HIGH > Severity.LOW``)."""

    INFO = 0
    LOW = 1
    MEDIUM = 2
    HIGH = 3
    CRITICAL = 4

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Severity):
            return NotImplemented
        return self.value < other.value

    def __str__(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, value: Severity | str | int) -> Severity:
        """Accept a member, its name in any case (``"high"``) or its rank; raise ValueError."""
        if isinstance(value, Severity):
            return value
        if isinstance(value, bool):
            raise ValueError(f"not a severity: {value!r}")
        if isinstance(value, int):
            try:
                return cls(value)
            except ValueError:
                pass
        elif isinstance(value, str):
            member = cls.__members__.get(value.strip().upper())
            if member is not None:
                return member
        names = ", ".join(m.name.lower() for m in cls)
        raise ValueError(f"not a severity: {value!r} (expected one of {names})")

    @property
    def sarif_level(self) -> str:
        """The SARIF ``level`` for this severity."""
        if self >= Severity.HIGH:
            return "error"
        if self is Severity.MEDIUM:
            return "warning"
        return "note"
