"""What a qualified name is: the Danger it falls under, after aliases, re-rooting and policy.

Kept apart from the visitor because it depends only on the name, the policy and the environment
index, not on the cell: the scanner caches the answer per name across cells.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from .policy import ScanPolicy
from .severity import Severity
from .tables import (
    CHAR_PREFIX,
    CONSTANT_PREFIXES,
    EXACT,
    EXEMPT,
    MODULE_ALIASES,
    PREFIX,
    REROOT_MODULES,
    SENSITIVE_MODULES,
    Danger,
)

# (danger or None, canonical name, library internal the name went through or None)
DangerLookup = tuple[Danger | None, str, str | None]

_MODULE_DICT = Danger("interpreter-tampering", Severity.HIGH, "exposes every function of a "
                      "sensitive module as a dictionary")


def danger_of(qual: str, policy: ScanPolicy,
              env_lookup: Callable[[str], Danger | None] | None) -> DangerLookup:
    """The Danger of a qualified name, its canonical name and the library internal it went
    through (``pandas.io.common.os.system`` is ``os.system`` reached through ``...common.os``)."""
    if not qual or qual[0] == "<":
        return None, qual, None
    parts = qual.split(".")
    parts[0] = MODULE_ALIASES.get(parts[0], parts[0])
    via = None
    for i in range(len(parts) - 1, 0, -1):
        name = parts[i]
        if name in REROOT_MODULES and parts[0] != name and "()" not in parts[i - 1]:
            if parts[0] == "builtins" and name in ("__builtins__", "builtins"):
                continue
            via = ".".join(parts[: i + 1])
            parts = ["builtins" if name == "__builtins__" else
                     MODULE_ALIASES.get(name, name), *parts[i + 1:]]
            break
    canon = ".".join(parts)
    for k in range(len(parts), 0, -1):
        if ".".join(parts[:k]) in EXEMPT:
            return None, canon, via
    if policy.module_allowed(canon):
        return None, canon, via
    denied = policy.module_denied(canon)
    if denied:
        return Danger("denied-module", Severity.HIGH, f"uses {denied}, denied by the policy"), \
            canon, via
    found = EXACT.get(canon)
    if found is not None:
        return found, canon, via
    if "__dict__" in parts[1:]:
        owner = ".".join(parts[: parts.index("__dict__")])
        if owner in SENSITIVE_MODULES or MODULE_ALIASES.get(owner, owner) in REROOT_MODULES:
            return _MODULE_DICT, canon, via
    for k in range(len(parts) - 1, 0, -1):
        prefix = ".".join(parts[:k])
        found = EXACT.get(prefix)
        if found is not None and found.check is None:
            return found, canon, via  # walking into a dangerous object (sys.modules.get)
        found = PREFIX.get(prefix)
        if found is not None:
            if prefix in CONSTANT_PREFIXES and parts[-1].isupper():
                return None, canon, via  # signal.SIGTERM etc. are constants
            return found, canon, via
    for prefix, found in CHAR_PREFIX:
        if canon.startswith(prefix):
            return found, canon, via
    if env_lookup is not None and "." in canon:
        found = env_lookup(canon)
        if found is not None:
            return found, canon, via
    return None, canon, via


def ordered_quals(quals: set[str] | frozenset[str]) -> Iterable[str]:
    """The meanings of a name in a fixed order: which finding is kept when two have the same
    severity must not depend on the process's string hashing."""
    return quals if len(quals) < 2 else sorted(quals)
