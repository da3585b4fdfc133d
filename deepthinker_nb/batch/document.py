"""Reading a batch spec file (YAML or TOML) into plain data plus the line of every key.

A bad spec must be rejected with the line that is wrong, so the reader keeps, next to the
parsed values, a map from each value's key path (``("datasets", 1, "target")``) to its 1-based
line. YAML gives exact positions through its node tree; ``tomllib`` gives none, so TOML lines
come from a small scan of the file's key and table lines (an element of an array written over
several lines is located at its key's line).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from deepthinker_nb.errors import ConfigError

KeyPath = tuple[str | int, ...]
"""Where a value is in the spec: mapping keys and list indexes from the top."""

YAML_SUFFIXES = (".yaml", ".yml")
TOML_SUFFIXES = (".toml",)
EXTRA_HINT = "pip install 'deepthinker-nb[distributed]'"


class SpecError(ConfigError):
    """A batch spec that cannot be run; the message is one line naming the file and line."""


def format_path(path: KeyPath) -> str:
    """``datasets[1].target`` for ``("datasets", 1, "target")``."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"


@dataclass(frozen=True)
class SpecDocument:
    """A spec's data, where it came from, and the line of each key path."""

    data: Mapping[str, Any]
    source: Path | None = None
    lines: Mapping[KeyPath, int] = field(default_factory=dict)

    @property
    def base_dir(self) -> Path:
        """Relative dataset paths are read from the spec file's folder (else the cwd)."""
        return self.source.parent if self.source is not None else Path.cwd()

    def line(self, path: KeyPath) -> int | None:
        """The line of ``path``, else of its nearest located parent."""
        while path:
            found = self.lines.get(path)
            if found is not None:
                return found
            path = path[:-1]
        return None

    def error(self, path: KeyPath, problem: str) -> SpecError:
        """``spec.yaml:7: seeds[1]: problem`` (without a file: ``spec: ...``)."""
        where = str(self.source) if self.source is not None else "spec"
        line = self.line(path)
        if line is not None:
            where += f":{line}"
        return SpecError(f"{where}: {format_path(path)}: {problem}")


def read_spec_file(path: str | Path) -> SpecDocument:
    """Parse a ``.yaml``/``.yml`` or ``.toml`` spec; a missing file or a syntax error is a
    one-line :class:`SpecError` with its line."""
    source = Path(path)
    try:
        text = source.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpecError(f"{source}: no such spec file")
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError(f"{source}: cannot read the spec: {exc}")
    suffix = source.suffix.lower()
    if suffix in YAML_SUFFIXES:
        data, lines = _parse_yaml(text, source)
    elif suffix in TOML_SUFFIXES:
        data, lines = _parse_toml(text, source)
    else:
        raise SpecError(f"{source}: a spec is a .yaml, .yml or .toml file")
    if not isinstance(data, dict):
        raise SpecError(f"{source}:1: the spec must be a mapping of keys (datasets, seeds, ...)")
    return SpecDocument(data, source, lines)


# -- YAML ---------------------------------------------------------------------------------------
def _parse_yaml(text: str, source: Path) -> tuple[Any, dict[KeyPath, int]]:
    try:
        import yaml
    except ImportError:
        raise SpecError(f"{source}: reading YAML needs PyYAML: {EXTRA_HINT}")
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise SpecError(f"{source}{line}: YAML syntax: {problem}")
    lines: dict[KeyPath, int] = {}
    if node is not None:
        _yaml_lines(node, (), lines, source)
    return data if data is not None else {}, lines


def _yaml_lines(node: Any, path: KeyPath, lines: dict[KeyPath, int], source: Path) -> None:
    import yaml

    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            key = str(key_node.value)
            line = key_node.start_mark.line + 1
            if key in seen:
                raise SpecError(f"{source}:{line}: {format_path((*path, key))}: given twice "
                                f"(first on line {seen[key]})")
            seen[key] = line
            lines[(*path, key)] = line
            _yaml_lines(value_node, (*path, key), lines, source)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            lines[(*path, index)] = item.start_mark.line + 1
            _yaml_lines(item, (*path, index), lines, source)


# -- TOML ---------------------------------------------------------------------------------------
_ARRAY_TABLE = re.compile(r"^\[\[\s*(?P<key>[^\]]+?)\s*\]\]")
_TABLE = re.compile(r"^\[\s*(?P<key>[^\]]+?)\s*\]")
_ASSIGN = re.compile(r"^(?P<key>[A-Za-z0-9_\-]+(?:\s*\.\s*[A-Za-z0-9_\-]+)*|\"[^\"]*\")\s*=")


def _parse_toml(text: str, source: Path) -> tuple[Any, dict[KeyPath, int]]:
    try:
        import tomllib
    except ImportError:  # Python 3.10
        try:
            import tomli as tomllib  # type: ignore[no-redef]
        except ImportError:
            raise SpecError(f"{source}: reading TOML on Python 3.10 needs tomli: {EXTRA_HINT}")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        found = re.search(r"\(at line (\d+), column \d+\)", message)
        if found:
            line = f":{found.group(1)}"
        elif "(at end of document)" in message:
            line = f":{max(1, len(text.splitlines()))}"
        else:
            line = ""
        problem = re.sub(r"\s*\((at line \d+, column \d+|at end of document)\)", "",
                         message)
        raise SpecError(f"{source}{line}: TOML syntax: {problem}")
    return data, _toml_lines(text)


def _dotted(key: str) -> tuple[str, ...]:
    return tuple(part.strip().strip('"').strip("'") for part in key.split("."))


def _toml_lines(text: str) -> dict[KeyPath, int]:
    """Key path -> line for table headers and ``key = value`` lines (best effort: keys of
    inline tables and elements of arrays take their key's line)."""
    lines: dict[KeyPath, int] = {}
    array_counts: dict[tuple[str, ...], int] = {}
    table: KeyPath = ()
    depth = 0  # inside a multi-line array or inline table: its lines hold no keys of ours
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if depth == 0:
            if found := _ARRAY_TABLE.match(line):
                keys = _dotted(found["key"])
                index = array_counts.get(keys, -1) + 1
                array_counts[keys] = index
                table = (*_with_indexes(keys[:-1], array_counts), keys[-1], index)
                lines.setdefault(table[:-1], number)
                lines[table] = number
                continue
            if found := _TABLE.match(line):
                table = _with_indexes(_dotted(found["key"]), array_counts)
                lines[table] = number
                continue
            if found := _ASSIGN.match(line):
                lines[(*table, *_dotted(found["key"]))] = number
        depth = max(0, depth + _bracket_balance(line))
    return lines


def _with_indexes(keys: tuple[str, ...], array_counts: dict[tuple[str, ...], int]) -> KeyPath:
    """``[runs.iterations]`` after ``[[runs]]`` is inside the latest ``runs`` element."""
    path: list[str | int] = []
    for end in range(1, len(keys) + 1):
        path.append(keys[end - 1])
        if keys[:end] in array_counts:
            path.append(array_counts[keys[:end]])
    return tuple(path)


def _bracket_balance(line: str) -> int:
    """Open minus closed brackets outside strings and comments (multi-line arrays)."""
    balance, quote = 0, ""
    for char in line:
        if quote:
            if char == quote:
                quote = ""
        elif char in "\"'":
            quote = char
        elif char == "#":
            break
        elif char in "[{":
            balance += 1
        elif char in "]}":
            balance -= 1
    return balance


__all__ = ["KeyPath", "SpecDocument", "SpecError", "format_path", "read_spec_file"]
