"""Resource limits for local kernels, and the size strings every config accepts."""

from __future__ import annotations

import re
from dataclasses import dataclass, fields

from deepthinker_nb.errors import ConfigError

DEFAULT_CELL_TIMEOUT = 60.0
"""Seconds a cell may run before it is interrupted (and, if it ignores that, its kernel
restarted): the one default of every road (sessions, the executor, notebooks, the workflow,
the CLI). ``None`` where a timeout is accepted means no limit."""



def check_timeout(value: object, field: str) -> None:
    """A per-cell limit is a positive number of seconds, or None."""
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise ConfigError(f"{field}: must be > 0 seconds (or None for the default), "
                          f"got {value!r}")


def cell_timeout(config: object = None, given: float | None = None) -> float:
    """The per-cell limit that applies: ``given``, else the backend config's
    ``execution_timeout`` (a profile's), else :data:`DEFAULT_CELL_TIMEOUT`."""
    if given is not None:
        return given
    return getattr(config, "execution_timeout", None) or DEFAULT_CELL_TIMEOUT


_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b?)\s*$", re.IGNORECASE)
_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}


def parse_size(value: int | str, field: str = "size") -> int:
    """Bytes from ``512m`` / ``4g`` / ``1.5GiB`` / an int, as Docker reads them (binary units)."""
    if isinstance(value, bool):
        raise ConfigError(f"{field}: expected a size such as '512m' or '4g', got {value!r}")
    if isinstance(value, int):
        if value <= 0:
            raise ConfigError(f"{field}: must be positive, got {value}")
        return value
    if isinstance(value, str):
        match = _SIZE.match(value)
        if match:
            number, unit, _ = match.groups()
            size = int(float(number) * _UNITS[unit.lower()])
            if size > 0:
                return size
    raise ConfigError(
        f"{field}: cannot read {value!r} as a size; use a number with an optional unit "
        "k, m, g or t (for example '512m' or '4g')"
    )


def format_size(size: int) -> str:
    """The shortest exact unit string for a byte count (``536870912`` -> ``512m``)."""
    for unit in ("t", "g", "m", "k"):
        if size % _UNITS[unit] == 0:
            return f"{size // _UNITS[unit]}{unit}"
    return str(size)


def _positive(name: str, value: float | None) -> None:
    if value is not None and (isinstance(value, bool) or value <= 0):
        raise ConfigError(f"{name}: must be a positive number or None (no limit), got {value!r}")


@dataclass(frozen=True)
class ResourceLimits:
    """rlimits applied to a local kernel and everything it spawns.

    Defaults are generous enough for pandas / scikit-learn work on this kind of machine and tight
    enough that a runaway cell cannot take the host down. ``None`` leaves a limit unset.
    """

    memory: int | str | None = "4g"
    """Address-space limit (RLIMIT_AS). Virtual, so leave headroom for BLAS thread arenas."""
    cpu_seconds: int | None = 3600
    """CPU time of the kernel process (RLIMIT_CPU); the kernel is killed when it is spent."""
    open_files: int | None = 1024
    processes: int | None = 256
    """RLIMIT_NPROC. Counted per user by Linux, so it is enforced only for non-root users."""
    file_size: int | str | None = "1g"
    """Largest file the kernel may write (RLIMIT_FSIZE)."""

    def __post_init__(self) -> None:
        for name in ("memory", "file_size"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, parse_size(value, f"ResourceLimits.{name}"))
        for name in ("cpu_seconds", "open_files", "processes"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
                raise ConfigError(f"ResourceLimits.{name}: expected a whole number, got {value!r}")
            _positive(f"ResourceLimits.{name}", value)

    @property
    def memory_bytes(self) -> int | None:
        return self.memory  # type: ignore[return-value]

    def to_dict(self) -> dict[str, int | None]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_dict(cls, data: dict) -> ResourceLimits:
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ConfigError(
                f"ResourceLimits: unknown field(s) {sorted(unknown)}; known: {sorted(known)}"
            )
        return cls(**data)
