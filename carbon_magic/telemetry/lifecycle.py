"""When telemetry acts in a kernel: at load (maybe ask), after the first tracked cell (send
once), at exit (extensive summary). ``TelemetryLifecycle`` is one kernel's telemetry (the
runtime, ``carbon_magic.runtime``, owns it); the IPython extension calls it; see ``__init__``.

Nothing is sent before a tier is chosen; a disabled tier creates no thread and opens no
socket. Sends are queued to the telemetry thread, which builds the payload there: a cell
pays for a flag check and, once per kernel, a queue put.
"""

from __future__ import annotations

import functools
import os
import threading
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from ..core.config import Config, resolve_config
from ..core.problems import problems
from ..core.record import EmissionsData
from ..core.sampler import SamplerRegistry
from .consent import ConsentStore, consent_path
from .levels import DISABLED, EXTENSIVE, LEVELS, PROMPT_TEXTS, Resolution, resolve_level
from .sender import EXIT_WAIT_S, TIMEOUT_S, Sender

FIRST_CELL, KERNEL_EXIT = "first tracked cell", "kernel exit summary"


def endpoint(config: Mapping[str, Any]) -> str:
    """``telemetry_endpoint``, else ``<api_endpoint>/telemetry``."""
    return config["telemetry_endpoint"] or config["api_endpoint"].rstrip("/") + "/telemetry"


@dataclass
class _Kernel:
    """What one kernel knows for telemetry (telemetry is per kernel)."""

    environ: Mapping[str, str] | None = None
    config: Config | None = None
    shell_class: str | None = None
    latest: EmissionsData | None = None
    first_cell_done: bool = False
    first_sent: bool = False
    exit_done: bool = False
    loaded: bool = False  # the extension is loaded: the exit summary is wanted
    asked: str = ""  # why the first-run question was or was not asked ("" before loading)
    last_ticket: Any = None  # the latest queued payload (the lane runs them in order)


def _never_raises(fallback: Any) -> Callable:
    """Telemetry must never break the extension: an unexpected error is counted in
    ``core.problems`` (logged once) and ``fallback`` returned instead."""

    def wrap(function: Callable) -> Callable:
        @functools.wraps(function)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            try:
                return function(*args, **kwargs)
            except Exception as error:
                problems.note(f"telemetry {function.__name__.lstrip('_')}", error)
                return fallback

        return guarded

    return wrap


class TelemetryLifecycle:
    """One kernel's telemetry: what it knows, its consent stores and its sender thread.
    ``samplers``: the process's samplers, whose ledgers the session figures are read from."""

    def __init__(self, samplers: SamplerRegistry) -> None:
        self._samplers = samplers
        self._lock = threading.RLock()
        self._kernel = _Kernel()
        self._stores: dict[str, ConsentStore] = {}
        self.sender = Sender()

    def close(self) -> None:
        """Send nothing more: the sender's queue is dropped and its thread ends."""
        with self._lock:
            self._kernel.loaded = False
        self.sender.close()

    def after_fork_in_child(self) -> None:
        """The child is not the kernel: it sends nothing the parent queued, and no exit summary."""
        self._lock = threading.RLock()
        self._kernel.loaded = False
        self.sender.after_fork_in_child()

    def _environ(self) -> Mapping[str, str]:
        return os.environ if self._kernel.environ is None else self._kernel.environ

    def consent_store(self) -> ConsentStore:
        """The ConsentStore of the current config folder (one per path, cached)."""
        path = consent_path(self._environ())
        with self._lock:
            store = self._stores.get(str(path))
            if store is None:
                store = self._stores[str(path)] = ConsentStore(path)
            return store

    def kernel_config(self) -> Config:
        """The configuration given at load, else one resolved now (defaults, files, env)."""
        return self._kernel.config if self._kernel.config is not None else resolve_config()

    def current_level(self, config: Config | None = None) -> Resolution:
        """The tier in effect now and where it came from (cheap: the stored choice is cached)."""
        config = config if config is not None else self.kernel_config()
        store = self.consent_store()
        parameter = None
        if config.source("telemetry") != "default":
            parameter = (config["telemetry"], config.source("telemetry"))
        stored = (store.choice().level, str(store.path))
        return resolve_level(self._environ(), parameter, stored)

    def question_outcome(self) -> str:
        """Whether and how the first-run question was asked in this kernel ("" before loading)."""
        return self._kernel.asked

    def payload_now(self, level: str, config: Config | None = None) -> dict[str, Any]:
        """The payload ``level`` would send now (``%carbon telemetry preview``)."""
        from .gather import build_payload

        config = config if config is not None else self.kernel_config()
        return build_payload(level, config, self.consent_store(), samplers=self._samplers,
                             latest=self._kernel.latest, shell_class=self._kernel.shell_class)

    # --- the integration API --------------------------------------------------------------------

    @_never_raises(Resolution(DISABLED, "telemetry could not start (see %carbon status)"))
    def on_extension_loaded(self, shell: Any, config: Config, *, environ: Mapping[str, str] | None = None,
                            stdin: Any = None) -> Resolution:
        """Remember the shell kind and config; if no tier was chosen, ask (see ``prompt``) where
        a person can answer. Starts nothing (no thread, no socket); wants the exit summary
        (the runtime's exit hook calls ``at_exit``).

        ``environ``/``stdin`` replace the process's (tests). Returns the tier in effect after
        asking (a widget's answer comes later, by click).
        """
        with self._lock:
            self._kernel.environ = environ
            self._kernel.config = config
            self._kernel.shell_class = type(shell).__name__
            self._kernel.loaded = True
        resolution = self.current_level(config)
        if not resolution.chosen and not self._kernel.asked:
            from .prompt import ask

            _how, self._kernel.asked = ask(shell, self._environ(), lambda level: self.choose(level, "prompt"), stdin)
        return self.current_level(config)

    def on_extension_unloaded(self) -> None:
        """The extension is gone: no exit summary unless it is loaded again (what was sent stays
        sent, and the first-cell payload is still sent once per kernel at most)."""
        with self._lock:
            self._kernel.loaded = False

    def on_first_tracked_cell(self, data: EmissionsData | None = None, config: Config | None = None) -> None:
        """Called after every tracked cell (``data``: its record): the first call of the kernel
        queues the chosen tier's payload; later calls only keep ``data`` for the exit summary
        (two attribute operations: this runs on the cell's thread)."""
        kernel = self._kernel
        if data is not None:
            kernel.latest = data
        if not kernel.first_cell_done:
            self._first_tracked_cell(config)

    def cell_finished(self, record: Any, data: EmissionsData | None = None) -> None:
        """As a listener of the extension's Session: ``on_first_tracked_cell(data)``."""
        self.on_first_tracked_cell(data)

    @_never_raises(None)
    def _first_tracked_cell(self, config: Config | None) -> None:
        with self._lock:
            if self._kernel.first_cell_done:
                return
            if config is not None:
                self._kernel.config = config
            self._kernel.first_cell_done = True
        self._send_first()

    def at_exit(self) -> None:
        """The interpreter exits: the exit summary, if the extension is loaded."""
        if self._kernel.loaded:
            self.on_kernel_exit()

    @_never_raises(False)
    def on_kernel_exit(self, timeout_s: float = EXIT_WAIT_S) -> bool:
        """At kernel exit: queue the extensive summary (if extensive and a cell was tracked) and
        wait at most ``timeout_s`` for everything queued. True if nothing is left waiting."""
        with self._lock:
            if self._kernel.exit_done:
                return True
            self._kernel.exit_done = True
            if self.current_level().level == EXTENSIVE and self._kernel.first_cell_done:
                # Half the budget per network step: where the send must run inline (no thread can
                # start at interpreter exit), connecting then reading stay within the total.
                self._queue(KERNEL_EXIT, EXTENSIVE, timeout_s / 2)
            last = self._kernel.last_ticket
        return True if last is None else self.sender.wait(last, timeout_s)

    def choose(self, level: str, how: str) -> str:
        """Store ``level`` chosen by ``how`` (prompt, command); if a tracked cell already passed
        and nothing was sent, send now. Returns what to tell the user."""
        if level not in LEVELS:
            raise ValueError(f"unknown telemetry tier {level!r}; accepted: {', '.join(LEVELS)}")
        store = self.consent_store()
        stored = store.store_level(level, how)
        where = f"stored in {store.path}" if stored else f"for this session only: could not write {store.path}"
        resolution = self.current_level()
        message = f"carbon_magic telemetry: {level} ({PROMPT_TEXTS[level]}), {where}."
        if resolution.level != level:
            message += f" But {resolution.source} decides: telemetry is {resolution.level}."
        elif level != DISABLED:
            message += " `%carbon telemetry preview` shows the exact JSON."
        if self._kernel.first_cell_done:
            self._send_first()
        return message

    # --- sending --------------------------------------------------------------------------------

    def _send_first(self) -> None:
        """Queue the first-cell payload once per kernel, if a tier other than disabled applies."""
        with self._lock:
            if self._kernel.first_sent:
                return
            resolution = self.current_level()
            if not resolution.enabled:
                return
            self._kernel.first_sent = True
            self._queue(FIRST_CELL, resolution.level)

    def _queue(self, what: str, level: str, timeout_s: float = TIMEOUT_S) -> None:
        """Queue ``what`` at ``level``: built from this moment's config and latest record, on the
        telemetry thread (lock held)."""
        config, store = self.kernel_config(), self.consent_store()
        latest, shell_class, samplers = self._kernel.latest, self._kernel.shell_class, self._samplers

        def build() -> dict[str, Any]:  # runs on the telemetry thread: the heavy imports happen there
            from .gather import build_payload

            return build_payload(level, config, store, samplers=samplers, latest=latest, shell_class=shell_class)

        self._kernel.last_ticket = self.sender.submit(what, build, endpoint(config), timeout_s)
