"""Small AST helpers shared by the visitor and the checks: child fields, call arguments.

The visitor walks only the fields of a node that can hold child nodes; computing them once per
node class (instead of iterating ``_fields`` with ``ast.iter_child_nodes``) keeps the walk fast.
"""

from __future__ import annotations

import ast

# Fields that never hold a child worth visiting (names, flags, expression contexts).
_SCALAR_FIELDS = frozenset({"ctx", "id", "attr", "arg", "name", "asname", "module", "level",
                            "is_async", "conversion", "kind", "type_comment", "tag", "rest",
                            "kwd_attrs"})
# Node class -> the fields that can hold child nodes (filled on first sight of a class).
CHILD_FIELDS: dict[type, tuple[str, ...]] = {}


def child_fields(cls: type) -> tuple[str, ...]:
    """The fields of a node class that can hold child nodes."""
    fields = CHILD_FIELDS.get(cls)
    if fields is None:
        fields = CHILD_FIELDS[cls] = tuple(f for f in cls._fields if f not in _SCALAR_FIELDS)
    return fields


def call_arg(node: ast.Call, key: str, index: int) -> ast.AST | None:
    """A call's argument given as keyword ``key`` or at position ``index``."""
    for kw in node.keywords:
        if kw.arg == key:
            return kw.value
    if len(node.args) > index:
        return node.args[index]
    return None


def keyword_value(node: ast.Call, name: str) -> tuple[bool, object]:
    """(given, value) of keyword ``name``: the constant's value, or the expression node."""
    for kw in node.keywords:
        if kw.arg == name:
            if isinstance(kw.value, ast.Constant):
                return True, kw.value.value
            return True, kw.value
    return False, None
