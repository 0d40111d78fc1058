"""When telemetry acts in a kernel: at load (maybe ask), after the first tracked cell (send
once), at exit (extensive summary). The IPython extension calls these; see ``__init__``.

Nothing is sent before a tier is chosen; a disabled tier creates no thread and opens no
socket. Sends are queued to the telemetry thread, which builds the payload there: a cell
pays for a flag check and, once per kernel, a queue put.
"""

from __future__ import annotations

import atexit
import functools
import os
import threading
from dataclasses import dataclass, field
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
    """What this process knows for telemetry (one per process: telemetry is per kernel)."""

    environ: Mapping[str, str] | None = None
    config: Config | None = None
    shell_class: str | None = None
    latest: EmissionsData | None = None
    first_cell_done: bool = False
    first_sent: bool = False
    exit_done: bool = False
    exit_hook: bool = False
    asked: str = ""  # why the first-run question was or was not asked ("" before loading)
    last_ticket: Any = None  # the latest queued payload (the lane runs them in order)
    samplers: SamplerRegistry = field(default_factory=SamplerRegistry)  # the runtime's, given at load


_lock = threading.RLock()
_kernel = _Kernel()
_stores: dict[str, ConsentStore] = {}
sender = Sender()


def _environ() -> Mapping[str, str]:
    return os.environ if _kernel.environ is None else _kernel.environ


def consent_store() -> ConsentStore:
    """The ConsentStore of the current config folder (one per path, cached)."""
    path = consent_path(_environ())
    with _lock:
        store = _stores.get(str(path))
        if store is None:
            store = _stores[str(path)] = ConsentStore(path)
        return store


def kernel_config() -> Config:
    """The configuration given at load, else one resolved now (defaults, files, env)."""
    return _kernel.config if _kernel.config is not None else resolve_config()


def current_level(config: Config | None = None) -> Resolution:
    """The tier in effect now and where it came from (cheap: the stored choice is cached)."""
    config = config if config is not None else kernel_config()
    store = consent_store()
    parameter = None
    if config.source("telemetry") != "default":
        parameter = (config["telemetry"], config.source("telemetry"))
    stored = (store.choice().level, str(store.path))
    return resolve_level(_environ(), parameter, stored)


def question_outcome() -> str:
    """Whether and how the first-run question was asked in this kernel ("" before loading)."""
    return _kernel.asked


def payload_now(level: str, config: Config | None = None) -> dict[str, Any]:
    """The payload ``level`` would send now (``%carbon telemetry preview``)."""
    from .gather import build_payload

    config = config if config is not None else kernel_config()
    return build_payload(level, config, consent_store(), samplers=_kernel.samplers, latest=_kernel.latest,
                         shell_class=_kernel.shell_class)


# --- the integration API ------------------------------------------------------------------------


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



@_never_raises(Resolution(DISABLED, "telemetry could not start (see %carbon status)"))
def on_extension_loaded(shell: Any, config: Config, *, samplers: SamplerRegistry,
                        environ: Mapping[str, str] | None = None, stdin: Any = None) -> Resolution:
    """Remember the shell kind, config and the process's samplers (the session figures come
    from them); if no tier was chosen, ask (see ``prompt``) where a person can answer. Starts
    nothing (no thread, no socket); registers the exit summary.

    ``environ``/``stdin`` replace the process's (tests). Returns the tier in effect after
    asking (a widget's answer comes later, by click).
    """
    from .prompt import ask

    with _lock:
        _kernel.environ = environ
        _kernel.config = config
        _kernel.samplers = samplers
        _kernel.shell_class = type(shell).__name__
        if not _kernel.exit_hook:
            atexit.register(on_kernel_exit)
            _kernel.exit_hook = True
    resolution = current_level(config)
    if not resolution.chosen and not _kernel.asked:
        _how, _kernel.asked = ask(shell, _environ(), lambda level: choose(level, "prompt"), stdin)
    return current_level(config)


def on_extension_unloaded() -> None:
    """The extension is gone: no exit summary unless it is loaded again (what was sent stays
    sent, and the first-cell payload is still sent once per kernel at most)."""
    with _lock:
        if _kernel.exit_hook:
            atexit.unregister(on_kernel_exit)
            _kernel.exit_hook = False


def on_first_tracked_cell(data: EmissionsData | None = None, config: Config | None = None) -> None:
    """Called after every tracked cell (``data``: its record): the first call of the kernel
    queues the chosen tier's payload; later calls only keep ``data`` for the exit summary
    (two attribute operations: this runs on the cell's thread)."""
    if data is not None:
        _kernel.latest = data
    if not _kernel.first_cell_done:
        _first_tracked_cell(config)


@_never_raises(None)
def _first_tracked_cell(config: Config | None) -> None:
    with _lock:
        if _kernel.first_cell_done:
            return
        if config is not None:
            _kernel.config = config
        _kernel.first_cell_done = True
    _send_first()


class CellListener:
    """A listener for the extension's Session: ``cell_finished`` -> on_first_tracked_cell."""

    def cell_finished(self, record: Any, data: EmissionsData | None = None) -> None:
        on_first_tracked_cell(data)


cell_listener = CellListener()


@_never_raises(False)
def on_kernel_exit(timeout_s: float = EXIT_WAIT_S) -> bool:
    """At kernel exit: queue the extensive summary (if extensive and a cell was tracked) and
    wait at most ``timeout_s`` for everything queued. True if nothing is left waiting."""
    with _lock:
        if _kernel.exit_done:
            return True
        _kernel.exit_done = True
        if current_level().level == EXTENSIVE and _kernel.first_cell_done:
            # Half the budget per network step: where the send must run inline (no thread can
            # start at interpreter exit), connecting then reading stay within the total.
            _queue(KERNEL_EXIT, EXTENSIVE, timeout_s / 2)
        last = _kernel.last_ticket
    return True if last is None else sender.wait(last, timeout_s)


def choose(level: str, how: str) -> str:
    """Store ``level`` chosen by ``how`` (prompt, command); if a tracked cell already passed
    and nothing was sent, send now. Returns what to tell the user."""
    if level not in LEVELS:
        raise ValueError(f"unknown telemetry tier {level!r}; accepted: {', '.join(LEVELS)}")
    store = consent_store()
    stored = store.store_level(level, how)
    where = f"stored in {store.path}" if stored else f"for this session only: could not write {store.path}"
    resolution = current_level()
    message = f"carbon_magic telemetry: {level} ({PROMPT_TEXTS[level]}), {where}."
    if resolution.level != level:
        message += f" But {resolution.source} decides: telemetry is {resolution.level}."
    elif level != DISABLED:
        message += " `%carbon telemetry preview` shows the exact JSON."
    if _kernel.first_cell_done:
        _send_first()
    return message


# --- sending ------------------------------------------------------------------------------------


def _send_first() -> None:
    """Queue the first-cell payload once per kernel, if a tier other than disabled applies."""
    with _lock:
        if _kernel.first_sent:
            return
        resolution = current_level()
        if not resolution.enabled:
            return
        _kernel.first_sent = True
        _queue(FIRST_CELL, resolution.level)


def _queue(what: str, level: str, timeout_s: float = TIMEOUT_S) -> None:
    """Queue ``what`` at ``level``: built from this moment's config and latest record, on the
    telemetry thread (lock held)."""
    config, store = kernel_config(), consent_store()
    latest, shell_class, samplers = _kernel.latest, _kernel.shell_class, _kernel.samplers

    def build() -> dict[str, Any]:  # runs on the telemetry thread: the heavy imports happen there
        from .gather import build_payload

        return build_payload(level, config, store, samplers=samplers, latest=latest, shell_class=shell_class)

    _kernel.last_ticket = sender.submit(what, build, endpoint(config), timeout_s)
