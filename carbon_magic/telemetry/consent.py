"""The user's stored telemetry choice and the local secrets that stay on this machine.

One small JSON file, ``$XDG_CONFIG_HOME/carbon_magic/telemetry.json`` (default
``~/.config/carbon_magic/telemetry.json``), readable by its owner only and replaced
atomically at every change. It holds:

- ``level``: the tier the user chose (absent until they choose), with when and how;
- ``host_machine_hash``: whether the user opted in to sending a machine fingerprint
  (a separate, explicit choice; default false);
- ``secret``: random bytes that salt every hash sent (so a hash cannot be matched to a
  path or a machine by anyone without this file); never sent;
- ``install_id``: a random id, kept locally (the fingerprint's input where the system has
  no machine id); never sent.

Deleting the file forgets everything: the first-run prompt asks again, and hashes change.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Mapping

from ..core.disk_cache import APP_FOLDER, write_json_atomic
from ..core.problems import problems
from .levels import LEVELS

FILE_NAME = "telemetry.json"
ABOUT = (
    "carbon_magic telemetry choice (see `%carbon telemetry`). 'secret' salts the hashes that "
    "are sent and never leaves this machine, nor does 'install_id'. Delete this file to be "
    "asked again."
)


def _is_secret(text: str) -> bool:
    try:
        return len(bytes.fromhex(text)) >= 16
    except ValueError:
        return False


def config_dir(environ: Mapping[str, str] | None = None) -> Path:
    """``$XDG_CONFIG_HOME/carbon_magic``, else ``~/.config/carbon_magic`` (not created)."""
    environ = os.environ if environ is None else environ
    base = environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(base) / APP_FOLDER


def consent_path(environ: Mapping[str, str] | None = None) -> Path:
    return config_dir(environ) / FILE_NAME


@dataclass(frozen=True)
class Choice:
    """What the user chose: a tier (None: not chosen yet) and the fingerprint opt-in."""

    level: str | None
    host_machine_hash: bool


class ConsentStore:
    """The stored choice and local secrets of one file; thread-safe, read once then cached.

    Writes that fail (a read-only home) are counted in ``core.problems``; the choice then
    holds for this process only, and ``store_*`` say so by returning False.
    """

    def __init__(self, path: Path):
        self.path = path
        self._lock = threading.Lock()
        self._data: dict[str, Any] | None = None

    def _loaded(self) -> dict[str, Any]:
        """The file's content (lock held), read on first use; {} if missing or unreadable."""
        if self._data is None:
            try:
                data = json.loads(self.path.read_text(encoding="utf-8"))
            except FileNotFoundError:
                data = {}
            except (OSError, ValueError) as error:
                problems.note("telemetry choice file", error)
                data = {}
            self._data = data if isinstance(data, dict) else {}
        return self._data

    def _save(self) -> bool:
        """Write the cached content (lock held); False (counted) if it could not be written."""
        data = dict(self._data or {})
        data["about"] = ABOUT
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            write_json_atomic(self.path, data)
        except OSError as error:
            problems.note("telemetry choice file", error)
            return False
        return True

    def choice(self) -> Choice:
        with self._lock:
            data = self._loaded()
            level = data.get("level")
            return Choice(level if isinstance(level, str) else None, data.get("host_machine_hash") is True)

    def store_level(self, level: str, how: str) -> bool:
        """Remember ``level`` (one of LEVELS), chosen by ``how`` ("prompt", "command")."""
        if level not in LEVELS:
            raise ValueError(f"unknown telemetry level {level!r}; accepted: {', '.join(LEVELS)}")
        with self._lock:
            data = self._loaded()
            data["level"] = level
            data["chosen_at"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
            data["chosen_with"] = how
            return self._save()

    def store_host_machine_hash(self, allowed: bool) -> bool:
        """Remember whether a salted machine fingerprint may be sent (extensive tier only)."""
        with self._lock:
            self._loaded()["host_machine_hash"] = bool(allowed)
            return self._save()

    def _local(self, key: str, make: Callable[[], str], valid: Callable[[str], bool]) -> str:
        """The stored value of ``key``, made (and stored) if missing or not ``valid``."""
        with self._lock:
            data = self._loaded()
            value = data.get(key)
            if not isinstance(value, str) or not valid(value):
                data[key] = value = make()
                self._save()
            return value

    def secret(self) -> bytes:
        """The local salt (32 random bytes), created on first use; never sent."""
        import secrets

        return bytes.fromhex(self._local("secret", lambda: secrets.token_hex(32), _is_secret))

    def install_id(self) -> str:
        """A random id for this installation, created on first use; never sent."""
        import uuid

        return self._local("install_id", lambda: str(uuid.uuid4()), bool)
