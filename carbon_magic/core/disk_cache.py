"""Small JSON caches on disk, shared by the processes of one user (background threads only).

Folder: ``$XDG_CACHE_HOME/carbon_magic`` (default ``~/.cache/carbon_magic``). Each cache is
one JSON file of entries ``{key: {"saved_at": unix time, "value": ...}}``; an entry is fresh
while ``0 <= now - saved_at < max_age_s`` (a clock set back makes it stale, not immortal).
Files are replaced atomically, so a reader never sees half a file; two writers racing lose
at most one entry, which is refetched. Secrets are never written here.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

APP_FOLDER = "carbon_magic"


def cache_dir() -> Path:
    """The cache folder (not created)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / APP_FOLDER


def _read_all(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def read_entry(name: str, key: str, max_age_s: float, now: float | None = None) -> tuple[Any, float] | None:
    """(value, saved_at) of a fresh entry of cache ``name``, else None."""
    entry = _read_all(cache_dir() / f"{name}.json").get(key)
    if not isinstance(entry, dict) or "value" not in entry:
        return None
    saved_at = entry.get("saved_at")
    if not isinstance(saved_at, (int, float)):
        return None
    age = (time.time() if now is None else now) - saved_at
    if not 0 <= age < max_age_s:
        return None
    return entry["value"], float(saved_at)


def write_entry(name: str, key: str, value: Any, now: float | None = None) -> None:
    """Store ``value`` (JSON-able) under ``key`` in cache ``name``; OSError if the folder is unwritable."""
    folder = cache_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.json"
    data = _read_all(path)
    data[key] = {"saved_at": time.time() if now is None else now, "value": value}
    write_json_atomic(path, data)


def write_json_atomic(path: Path, data: Any) -> None:
    """Replace ``path`` by ``data`` as JSON in one step: a reader sees the old file or the new
    one, never half of one. The file is readable by its owner only (mkstemp's mode), as
    some of these files hold local secrets. OSError if the folder is unwritable."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            json.dump(data, stream, sort_keys=True, indent=1)
        os.replace(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise
