"""Where the environment index is kept between processes: a JSON file in the user cache dir.

``$XDG_CACHE_HOME/deepthinker-nb`` (or ``~/.cache/deepthinker-nb``), one file per environment
fingerprint. Writes are atomic (a temporary file renamed into place), so concurrent builders
never leave a half-written index. A directory that cannot be written is not an error: the index
then lives in memory for the life of the process. The file is JSON, never pickle: a cache that
someone else wrote must not be able to run code when loaded.

An install step may also leave a world-readable copy inside the environment itself
(``<prefix>/share/deepthinker-nb``), where kernels of the same environment, which run with
another HOME and often another user, find it.
"""

from __future__ import annotations

import json
import os
import sysconfig
import tempfile
from pathlib import Path
from typing import Any

APP_DIR = "deepthinker-nb"


def cache_dir() -> Path:
    """The directory the index files live in (it may not exist yet)."""
    base = os.environ.get("XDG_CACHE_HOME", "").strip()
    root = Path(base) if base and os.path.isabs(base) else Path.home() / ".cache"
    return root / APP_DIR


def index_path(key: str) -> Path:
    return cache_dir() / f"envindex-{key}.json"


def shared_path(key: str) -> Path:
    """The environment's own copy: ``<prefix>/share/deepthinker-nb/envindex-<key>.json``."""
    return Path(sysconfig.get_paths()["data"]) / "share" / APP_DIR / f"envindex-{key}.json"


def load(key: str) -> dict[str, Any] | None:
    """The stored index for ``key`` (the user's cache, then the environment's copy), or None
    when missing, unreadable or not for this key."""
    return load_file(str(index_path(key)), key) or load_file(str(shared_path(key)), key)


def load_file(path: str, key: str) -> dict[str, Any] | None:
    """The index stored in ``path`` if it is one for ``key``, else None."""
    if not path:
        return None
    try:
        with open(path, encoding="utf-8") as fh:
            payload = json.load(fh)
    except (OSError, ValueError, RecursionError):
        return None
    if not isinstance(payload, dict) or payload.get("key") != key:
        return None
    if not isinstance(payload.get("entries"), dict):
        return None
    return payload


def store(key: str, payload: dict[str, Any], shared: bool = False) -> Path | None:
    """Write the index for ``key`` atomically, in the user's cache or (``shared``) readable
    by everyone in the environment's prefix; the path, or None when that is unwritable."""
    target = shared_path(key) if shared else index_path(key)
    try:
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o755 if shared else 0o700)
        fd, tmp = tempfile.mkstemp(prefix=".envindex-", suffix=".tmp", dir=target.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(payload, fh, separators=(",", ":"), sort_keys=True)
            if shared:
                os.chmod(tmp, 0o644)
            os.replace(tmp, target)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise
    except OSError:
        return None
    return target
