"""Resolved configurations, output sinks and idle trackers, reused from cell to cell.

Resolving every parameter from every source and building a tracker cost far more than a
tracked trivial cell may. A configuration depends only on the magic's options, the
CarbonMagic traits, the ``CODECARBON_*`` variables, the two ``.codecarbon.config`` files
and the working directory; the pool checks those cheaply (a generation counter, the
environment's contents, two ``stat`` calls) and reuses the resolved Config, its sink
(one ``Dispatcher`` per configuration, so outputs keep their state) and stopped trackers.
Outputs and trackers are imported on first use, so loading the extension stays light.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Mapping

from ..core.config import CONFIG_FILE_NAME, Config, resolve_config
from .options import OPTION_SOURCE, TrackOptions

if TYPE_CHECKING:
    from ..core.tracker import Tracker
    from ..outputs.cells_file import CellsFile

MAX_CONFIGS = 32
MAX_IDLE_TRACKERS = 4


@dataclass
class _Entry:
    """One configuration and what is built from it when a cell is first tracked with it."""

    config: Config
    sink: Any = None
    cells_file: "CellsFile | None" = None
    idle: list["Tracker"] = field(default_factory=list)

    def build_outputs(self) -> None:
        from ..core.output_methods import selected_methods
        from ..outputs import Dispatcher, build_outputs
        from ..outputs.cells_file import CellsFile
        from ..runtime import current_runtime

        runtime = current_runtime()
        self.sink = Dispatcher(build_outputs(self.config), runtime.outputs)
        if "csv" in selected_methods(self.config):
            self.cells_file = CellsFile(self.config["output_dir"], lane=runtime.lanes.main, forks=runtime.forks)


def _stat_key(path: str) -> tuple | None:
    """What tells a version of the file at ``path`` apart (None: no file). Asked twice a cell,
    most often of files that do not exist: ``access`` says so without the exception a failed
    ``stat`` raises (half the cost)."""
    if not os.access(path, os.F_OK):
        return None
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return (stat.st_mtime_ns, stat.st_size, stat.st_ino, stat.st_dev)


def _environment_data() -> Mapping[Any, Any]:
    """The environment's contents as a mapping compared in C (os.environ's raw data where it
    has one: no copy per cell)."""
    data = getattr(os.environ, "_data", None)
    return data if isinstance(data, dict) else os.environ


class TrackerPool:
    """Configs, sinks and trackers keyed by everything a configuration depends on."""

    def __init__(self, settings: Any):
        self.settings = settings
        self._entries: OrderedDict[tuple, _Entry] = OrderedDict()
        self._environment: dict[Any, Any] | None = None
        self._environment_version = 0
        self._home_file = ""  # ~/.codecarbon.config under this environment (HOME is part of it)

    def _fingerprint(self, options: TrackOptions) -> tuple:
        environment = _environment_data()
        if environment != self._environment:  # a copy is kept only when it changed
            self._environment = dict(environment)
            self._environment_version += 1
            self._home_file = os.path.join(os.path.expanduser("~"), CONFIG_FILE_NAME)
        # The working folder's file by its relative name: its device and inode tell folders apart
        # without asking the system for the working folder at every cell.
        files = (_stat_key(self._home_file), _stat_key(CONFIG_FILE_NAME))
        return (options.parameters, self.settings.generation, self._environment_version, files)

    def _entry(self, options: TrackOptions) -> _Entry:
        key = self._fingerprint(options)
        entry = self._entries.get(key)
        if entry is not None:
            self._entries.move_to_end(key)
            return entry
        config = resolve_config(
            options.parameter_dict(), argument_source=OPTION_SOURCE, layers=self.settings.layers()
        )
        entry = self._entries[key] = _Entry(config)
        while len(self._entries) > MAX_CONFIGS:
            self._entries.popitem(last=False)
        return entry

    def config(self, options: TrackOptions) -> Config:
        """The resolved configuration for a magic line's options (ConfigError if bad)."""
        return self._entry(options).config

    def acquire(self, options: TrackOptions) -> tuple["Tracker", "CellsFile | None"]:
        """A stopped tracker for these options (reused or new) and its per-cell file."""
        entry = self._entry(options)
        if entry.idle:
            return entry.idle.pop(), entry.cells_file
        from ..core.tracker import Tracker
        from ..runtime import current_runtime

        if entry.sink is None:
            entry.build_outputs()
        runtime = current_runtime()
        return (Tracker(entry.config, entry.sink, samplers=runtime.samplers, location=runtime.location,
                        usage="magic", forks=runtime.forks, remote=runtime.remote), entry.cells_file)

    def release(self, tracker: "Tracker") -> None:
        """Give back a stopped tracker for reuse by later cells with the same configuration."""
        for entry in reversed(self._entries.values()):
            if entry.config is tracker.config:
                if len(entry.idle) < MAX_IDLE_TRACKERS:
                    entry.idle.append(tracker)
                return

    def clear(self) -> None:
        self._entries.clear()
