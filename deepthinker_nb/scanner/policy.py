"""ScanPolicy: what a profile allows (dirs, trusted names, modules, hosts) and where it blocks."""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from ..errors import ConfigError
from .severity import Severity

DEFAULT_TRUSTED_NAMES: tuple[str, ...] = (
    "DATA_PATH",
    "TEST_FEATURES_PATH",
    "PREDICTIONS_PATH",
    "TRAIN_PATH",
    "WORK_DIR",
)

DEFAULT_DENIED_MODULES: tuple[str, ...] = (
    "keyring",
    "browser_cookie3",
    "pwd",
    "grp",
    "spwd",
    "winreg",
    "_winapi",
    "msvcrt",
    "win32api",
    "win32com",
)

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_MODULE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
_HOST = re.compile(r"^(\*\.)?[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*(:\d+)?$")


def _tuple(value: Iterable[str] | str, name: str) -> tuple[str, ...]:
    if isinstance(value, str):
        raise ConfigError(f"ScanPolicy.{name} must be a list of strings, not a single string")
    try:
        items = tuple(value)
    except TypeError:
        raise ConfigError(f"ScanPolicy.{name} must be a list of strings, got {value!r}")
    for item in items:
        if not isinstance(item, str) or not item:
            raise ConfigError(f"ScanPolicy.{name} holds a non-string or empty item: {item!r}")
    return items


@dataclass(frozen=True)
class ScanPolicy:
    """The sandbox policy a cell is checked against (default: the offline research profile).

    ``work_dir`` / ``data_dirs`` are extra absolute directories (as the kernel sees them) that
    file access may reach; relative paths without ``..`` are always the working directory.
    ``trusted_names`` are the injected parameters (and their aliases) that hold the dataset path.
    ``allowed_hosts`` lets profiles with network reach some hosts (``"*.example.org"`` works).
    ``refuse_public_datasets`` blocks loaders of public datasets (``load_iris``,
    ``sns.load_dataset``, ``torchvision.datasets.MNIST`` ...), which a workflow's coder could
    use to look up the test labels; ``ScanPolicy.coder()`` is that profile.
    """

    work_dir: str | None = None
    data_dirs: tuple[str, ...] = ()
    allowed_paths: tuple[str, ...] = ("/dev/null",)
    trusted_names: tuple[str, ...] = DEFAULT_TRUSTED_NAMES
    allowed_modules: tuple[str, ...] = ()
    denied_modules: tuple[str, ...] = DEFAULT_DENIED_MODULES
    allowed_hosts: tuple[str, ...] = ()
    block_at: Severity = Severity.HIGH
    max_payload_depth: int = 3
    max_ast_depth: int = 500
    refuse_public_datasets: bool = False
    _frozen_sets: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        for name in ("data_dirs", "allowed_paths", "trusted_names", "allowed_modules",
                     "denied_modules", "allowed_hosts"):
            set_(self, name, _tuple(getattr(self, name), name))
        if self.work_dir is not None and (not isinstance(self.work_dir, str)
                                          or not self.work_dir):
            raise ConfigError(f"ScanPolicy.work_dir must be a path string, not {self.work_dir!r}")
        for name in self.trusted_names:
            if not _IDENT.match(name):
                raise ConfigError(f"ScanPolicy.trusted_names: {name!r} is not an identifier")
        for name in self.allowed_modules + self.denied_modules:
            if not _MODULE.match(name):
                raise ConfigError(f"ScanPolicy module list: {name!r} is not a dotted module name")
        for host in self.allowed_hosts:
            if not _HOST.match(host):
                raise ConfigError(f"ScanPolicy.allowed_hosts: {host!r} is not a host name")
        try:
            set_(self, "block_at", Severity.parse(self.block_at))
        except ValueError as exc:
            raise ConfigError(f"ScanPolicy.block_at: {exc}")
        if not isinstance(self.refuse_public_datasets, bool):
            raise ConfigError("ScanPolicy.refuse_public_datasets must be True or False, got "
                              f"{self.refuse_public_datasets!r}")
        for name in ("max_payload_depth", "max_ast_depth"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"ScanPolicy.{name} must be a positive integer, got {value!r}")
        roots = []
        for path in (self.work_dir, *self.data_dirs, *self.allowed_paths):
            if path:
                roots.append(posixpath.normpath(path.replace("\\", "/")))
        self._frozen_sets["roots"] = tuple(roots)
        self._frozen_sets["trusted"] = frozenset(self.trusted_names)

    @classmethod
    def coder(cls, **fields: Any) -> ScanPolicy:
        """The policy for the cells a workflow's coder writes: the default profile, with
        loaders of public datasets refused (a public copy of the data holds the test
        labels); ``fields`` set the rest (``work_dir``, ``data_dirs`` ...)."""
        return cls(**{"refuse_public_datasets": True, **fields})

    def with_(self, **changes: object) -> ScanPolicy:
        """A copy with some fields changed (validated again)."""
        return replace(self, **changes)  # type: ignore[arg-type]

    @property
    def allowed_roots(self) -> tuple[str, ...]:
        """Normalised absolute directories that file access may reach."""
        return self._frozen_sets["roots"]

    @property
    def trusted_set(self) -> frozenset[str]:
        """``trusted_names`` as a set, built once per policy."""
        return self._frozen_sets["trusted"]

    def path_allowed(self, normalised: str) -> bool:
        """True when an absolute, normalised path lies under an allowed root."""
        for root in self.allowed_roots:
            if normalised == root or normalised.startswith(root.rstrip("/") + "/"):
                return True
        return False

    def host_allowed(self, host: str) -> bool:
        """True when ``host`` (optionally with port) matches the allow-list."""
        host = host.lower()
        bare = host.split(":", 1)[0]
        for pattern in self.allowed_hosts:
            pattern = pattern.lower()
            if pattern.startswith("*."):
                suffix = pattern[1:]
                if bare.endswith(suffix) or host.endswith(suffix):
                    return True
            elif pattern in (host, bare):
                return True
        return False

    def module_allowed(self, qualname: str) -> bool:
        """True when an explicit allow-list entry covers this module or name."""
        return any(qualname == m or qualname.startswith(m + ".") for m in self.allowed_modules)

    def module_denied(self, qualname: str) -> str | None:
        """The denied-list entry covering ``qualname``, if any."""
        for m in self.denied_modules:
            if qualname == m or qualname.startswith(m + "."):
                return m
        return None
