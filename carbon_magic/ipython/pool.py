"""Resolved configurations, output sinks and idle trackers, reused from cell to cell.

Resolving every parameter from every source and building a tracker cost far more than a
tracked trivial cell may. A configuration depends only on the magic's options, the
CarbonMagic traits, the ``CODECARBON_*`` variables, the two ``.codecarbon.config`` files
and the working directory; the pool checks those cheaply (a generation counter, the
environment's contents, two ``stat`` calls) and reuses the resolved Config, its sink
(one ``Dispatcher`` per configuration, so outputs keep their state) and stopped trackers.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..core.config import CONFIG_FILE_NAME, Config, resolve_config
from ..outputs import Dispatcher, build_outputs, selected_methods
from ..outputs.cells_file import CellsFile
from .options import OPTION_SOURCE, TrackOptions

if TYPE_CHECKING:
    from ..core.tracker import Tracker

MAX_CONFIGS = 32
MAX_IDLE_TRACKERS = 4


@dataclass
class _Entry:
    config: Config
    sink: Dispatcher
    cells_file: CellsFile | None
    idle: list["Tracker"] = field(default_factory=list)


def _stat_key(path: str) -> tuple | None:
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return (stat.st_mtime_ns, stat.st_size, stat.st_ino)


def _environment_snapshot() -> Any:
    """Something equal for equal environments, cheap to build (the raw os.environ data)."""
    data = getattr(os.environ, "_data", None)
    return tuple(data.items()) if isinstance(data, dict) else tuple(os.environ.items())


class TrackerPool:
    """Configs, sinks and trackers keyed by everything a configuration depends on."""

    def __init__(self, settings: Any):
        self.settings = settings
        self._entries: OrderedDict[tuple, _Entry] = OrderedDict()
        self._environment: Any = None
        self._environment_version = 0

    def _fingerprint(self, options: TrackOptions) -> tuple:
        snapshot = _environment_snapshot()
        if snapshot != self._environment:
            self._environment = snapshot
            self._environment_version += 1
        cwd = os.getcwd()
        home = os.path.expanduser("~")
        files = (_stat_key(os.path.join(home, CONFIG_FILE_NAME)), _stat_key(os.path.join(cwd, CONFIG_FILE_NAME)))
        return (options.parameters, self.settings.generation, self._environment_version, cwd, home, files)

    def _entry(self, options: TrackOptions) -> _Entry:
        key = self._fingerprint(options)
        entry = self._entries.get(key)
        if entry is not None:
            self._entries.move_to_end(key)
            return entry
        config = resolve_config(
            options.parameter_dict(), argument_source=OPTION_SOURCE, layers=self.settings.layers()
        )
        cells_file = CellsFile(config["output_dir"]) if "csv" in selected_methods(config) else None
        entry = _Entry(config, Dispatcher(build_outputs(config)), cells_file)
        self._entries[key] = entry
        while len(self._entries) > MAX_CONFIGS:
            self._entries.popitem(last=False)
        return entry

    def config(self, options: TrackOptions) -> Config:
        """The resolved configuration for a magic line's options (ConfigError if bad)."""
        return self._entry(options).config

    def acquire(self, options: TrackOptions) -> tuple["Tracker", CellsFile | None]:
        """A stopped tracker for these options (reused or new) and its per-cell file."""
        entry = self._entry(options)
        if entry.idle:
            return entry.idle.pop(), entry.cells_file
        from ..core.tracker import Tracker  # imported on first use, off the load path

        return Tracker(entry.config, entry.sink, usage="magic"), entry.cells_file

    def release(self, tracker: "Tracker") -> None:
        """Give back a stopped tracker for reuse by later cells with the same configuration."""
        for entry in reversed(self._entries.values()):
            if entry.config is tracker.config:
                if len(entry.idle) < MAX_IDLE_TRACKERS:
                    entry.idle.append(tracker)
                return

    def clear(self) -> None:
        self._entries.clear()
