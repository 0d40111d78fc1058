"""``%load_ext carbon_magic`` and ``%unload_ext carbon_magic``.

Loading registers the magics, the ``CarbonMagic`` configuration class (so ``%config`` and
``ipython_config.py`` reach it), two event hooks (``pre_run_cell``, ``post_run_cell``) and
the input transformer of ``%%carbon`` cells (``tracked_cells.py``), starts hardware
discovery and location in the background, and prints one line saying what is measured and
how. It waits for the background work only briefly (LOAD_BUDGET_S); if that
is not enough, the line says so and ``%carbon status`` tells the rest.

Unloading closes running spans (recording them), unregisters every hook, magic and the
configuration class, and lets the sampler thread stop when no other tracker uses it.

The live panel and the session panel (``%carbon panel``) listen to the Session (see
``session.py``) and are added here, and so is the JupyterLab sidebar's comm (``sidebar/``,
opened inside Jupyter kernels). ``get_session(shell)`` and ``get_sidebar(shell)`` give tests
and kernel-side checks the loaded extension's pieces.
"""

from __future__ import annotations

import html
import sys
import time
from typing import TYPE_CHECKING, Any

from .._version import __version__
from ..core.config import Config, ConfigError, resolve_config
from ..core.problems import problems
from .log_route import LogRoute
from .shell_events import unregister_events
from .traitlets_config import CarbonMagic
from .warmup import Warmup, locate

if TYPE_CHECKING:
    from .session import Session
    from .sidebar.channel import KernelSources

# How long loading may take before printing what is known so far (the target is 150 ms
# added by %load_ext, imports included).
LOAD_BUDGET_S = 0.11
# %carbon status waits this long at most for hardware discovery still running in the background.
STATUS_WAIT_S = 3.0
THREAD_EXIT_WAIT_S = 0.1
LOAD_HINT = "%%carbon tracks a cell, %carbon on every cell; %carbon? for help."
STILL_FINDING = ("still finding how to measure CPU, RAM and GPUs (%carbon status tells how each is measured "
                 "and the carbon intensity used)")
_EVENTS = ("pre_execute", "pre_run_cell", "post_run_cell")

# The extension of each shell. Not the runtime's: IPython's load/unload hooks give only the
# shell, and an extension lives as long as its shell's loading, across runtimes.
_loaded: dict[int, "CarbonExtension"] = {}


def output_files(config: Config) -> list[str]:
    """Where tracked cells are written under ``config`` (shown by %carbon status)."""
    from ..core.output_methods import selected_methods
    from ..outputs.cells_file import CELLS_FILE_NAME

    if "csv" not in selected_methods(config):
        return ["no CSV output (save_to_file is false or output_methods has no 'csv')"]
    return [f"{config['output_dir']}/{config['output_file']}", f"{config['output_dir']}/{CELLS_FILE_NAME}"]


class CarbonExtension:
    """Everything one loaded extension owns in one shell.

    The background warm-up starts first; the magics' modules are imported while it runs.
    """

    def __init__(self, shell: Any):
        self.shell = shell
        self.log_route = LogRoute(shell)  # before any background work can warn
        self.log_route.attach()
        self.settings = CarbonMagic(parent=shell)
        self.config_error: str | None = None
        self.warmup = Warmup(self._load_config())
        from .panel.live_panel import LivePanel
        from .magics import CarbonMagics
        from .session import CodeStarts, Session
        from .panel.session_panel import SessionPanel
        from .tracked_cells import TrackedCells

        self.session = Session(shell, self.settings, self.log_route)
        self.code_starts = CodeStarts(self.session)
        self.tracked_cells = TrackedCells(shell, self.session)
        self.live_panel = LivePanel(shell, self.session, lambda: self.warmup.sampler)
        self.session_panel = SessionPanel(shell, self.session, self.live_panel)
        self.magics = CarbonMagics(shell, self.session, self.status_facts, self.session_panel)
        self.sidebar: Any = None

    def _load_config(self) -> Config:
        """The configuration without magic options; its error (if any) is reported at load."""
        try:
            return resolve_config(layers=self.settings.layers())
        except ConfigError as error:
            self.config_error = str(error)
            return resolve_config({}, environ={}, files=[])

    # -- load / unload ------------------------------------------------------------------------
    def attach(self) -> None:
        from ..runtime import current_runtime

        self.shell.configurables.append(self.settings)
        self.shell.register_magics(self.magics)
        self.shell.events.register("pre_execute", self.session.pre_execute)
        self.shell.events.register("pre_run_cell", self.session.pre_run_cell)
        self.shell.events.register("post_run_cell", self.session.post_run_cell)
        self.shell.ast_transformers.append(self.code_starts)
        self.shell.observe(self.session.code_ended, "last_execution_result")
        self.tracked_cells.attach()
        self.session.pending_clear.attach()
        self.session.add_listener(self.live_panel)
        self.session.add_listener(self.session_panel)
        self.live_panel.attach()
        self.session.add_listener(current_runtime().telemetry)
        try:  # the JupyterLab sidebar's comm target (inside a Jupyter kernel only)
            from .sidebar.channel import attach

            self.sidebar = attach(self.shell, self._sidebar_sources())
        except Exception as error:  # the sidebar is never worth failing to load for
            problems.note("sidebar comm target", error)

    def _sidebar_sources(self) -> KernelSources:
        """What the sidebar's channel reads of this extension (``sidebar.channel.KernelSources``)."""
        from .options import NO_OPTIONS
        from .sidebar.channel import KernelSources

        session = self.session
        return KernelSources(session=session, events=self.shell.events, discovery=self.warmup,
                             locate=lambda: locate(session.pool.config(NO_OPTIONS)),
                             auto_on=lambda: session.auto is not None)

    def detach(self) -> None:
        from ..runtime import current_runtime
        from . import display

        self.session.settle()  # the last cell's bookkeeping, while every listener still listens (tail.py)
        if self.sidebar is not None:
            self.sidebar.close()
            self.sidebar = None
        telemetry = current_runtime().telemetry
        self.session.remove_listener(telemetry)
        telemetry.on_extension_unloaded()
        for record in self.session.shutdown():
            print(f"carbon_magic: stopped running span: {display.summary_text(record)}")
        unregister_events(self.shell.events, zip(_EVENTS, (self.session.pre_execute, self.session.pre_run_cell,
                                                           self.session.post_run_cell)))
        if self.code_starts in self.shell.ast_transformers:
            self.shell.ast_transformers.remove(self.code_starts)
        self.shell.unobserve(self.session.code_ended, "last_execution_result")
        self.tracked_cells.detach()
        self.session.pending_clear.detach()
        self.live_panel.detach()
        self.session_panel.close()
        manager = self.shell.magics_manager
        for kind in ("line", "cell"):
            function = manager.magics[kind].get("carbon")
            if getattr(function, "__self__", None) is self.magics:
                del manager.magics[kind]["carbon"]
        manager.registry.pop(type(self.magics).__name__, None)
        if self.settings in self.shell.configurables:
            self.shell.configurables.remove(self.settings)
        self.warmup.join()
        _let_sampler_threads_stop()
        self.log_route.detach()

    # -- what it says -------------------------------------------------------------------------
    def _load_parts(self) -> tuple[str, str] | None:
        """(what is measured and how, where and which intensity); None while still finding out."""
        from . import display

        warmup = self.warmup
        if warmup.sampler is None or warmup.location is None:
            return None
        hardware = display.hardware_phrase(warmup.sampler.methods())
        return hardware, display.location_phrase(warmup.location, warmup.intensity)

    def load_line(self) -> str:
        """One line: what is measured and how, where, and how to start (the plain-text form)."""
        parts = self._load_parts()
        if parts is None:
            return f"carbon_magic {__version__}: loaded; {STILL_FINDING}. {LOAD_HINT}"
        return f"carbon_magic {__version__}: {parts[0]}; {parts[1]}. {LOAD_HINT}"

    def load_html(self) -> str:
        """The load message for notebooks: short lines in the notebook's own font."""
        from .panel.presentation import MUTED, TEXT_STYLE

        lines = [html.escape(part) for part in (self._load_parts() or (STILL_FINDING,))]
        hint = "Track a cell with <code>%%carbon</code>, every cell with <code>%carbon on</code>; help: <code>%carbon?</code>"
        return (f'<div class="carbon-magic-loaded" style="{TEXT_STYLE};margin:2px 0">'
                f"<b>carbon_magic {html.escape(__version__)}</b> loaded: {'.<br>'.join(lines)}.<br>"
                f'<span style="{MUTED}">{hint}</span></div>')

    def status_facts(self) -> dict[str, Any]:
        """The parts of ``%carbon status`` that depend on configuration and hardware."""
        from .options import NO_OPTIONS

        from ..runtime import current_runtime

        location_status = current_runtime().location.status()
        facts: dict[str, Any] = {"sampler": None, "location": None, "intensity_figure": None,
                                 "config_error": None, "files": [], "location_status": location_status,
                                 "panel": self.live_panel.describe()}
        try:
            config = self.session.pool.config(NO_OPTIONS)
            facts["files"] = output_files(config)
            facts["location"], facts["intensity_figure"] = locate(config)
            if config["measure_cluster"]:
                facts["cluster"] = current_runtime().cluster.status(config["cluster_timeout_secs"])
            else:
                facts["cluster"] = ["not measured (measure_cluster is off)"]
        except ConfigError as error:
            facts["config_error"] = str(error)
            config = None
        if self.warmup.wait(STATUS_WAIT_S):  # a user asking deserves the answer, not "later"
            facts["sampler"] = self.warmup.sampler
            if config is not None:
                from ..core.meters import HardwareSpec
                from ..runtime import current_runtime

                facts["sampler"] = current_runtime().samplers.get(HardwareSpec.from_config(config))
                facts["footprint"] = _footprint(config)
        return facts


def _footprint(config: Any) -> Any:
    """What a tracker of ``config`` counts beyond CO2 (a tracker with no outputs; never started)."""
    from ..core.tracker import Tracker
    from ..runtime import current_runtime

    runtime = current_runtime()
    return Tracker(config, None, samplers=runtime.samplers, location=runtime.location).footprint()


def _let_sampler_threads_stop() -> None:
    """Let idle sampler threads exit now (those another tracker still uses go on)."""
    from ..runtime import current_runtime

    for sampler in current_runtime().samplers.all():
        sampler.stop_if_idle(THREAD_EXIT_WAIT_S)


def load(shell: Any) -> None:
    """``%load_ext carbon_magic`` (and ``c.InteractiveShellApp.extensions``)."""
    if id(shell) in _loaded:
        print("carbon_magic is already loaded; %reload_ext carbon_magic reloads it.")
        return
    from .frontend import unsupported_runtime

    reason = unsupported_runtime()
    if reason is not None:
        print(reason)
        return
    started = time.monotonic()
    extension = CarbonExtension(shell)
    extension.attach()
    _loaded[id(shell)] = extension
    for problem in [*extension.settings.rejected, *filter(None, [extension.config_error])]:
        print(f"carbon_magic: configuration problem: {problem}", file=sys.stderr)
    extension.warmup.wait(max(LOAD_BUDGET_S - (time.monotonic() - started), 0.0))
    from . import display

    display.show(extension.load_line(), extension.load_html())
    from ..runtime import current_runtime

    current_runtime().telemetry.on_extension_loaded(shell, extension.warmup.config)  # asks once if nobody chose


def unload(shell: Any) -> None:
    """``%unload_ext carbon_magic``."""
    extension = _loaded.pop(id(shell), None)
    if extension is not None:
        extension.detach()


def get_session(shell: Any = None) -> Session | None:
    """The Session of ``shell`` (default: the running IPython), or None if not loaded."""
    if shell is None:
        from IPython import get_ipython

        shell = get_ipython()
    extension = _loaded.get(id(shell))
    return extension.session if extension is not None else None


def get_sidebar(shell: Any = None) -> Any:
    """The sidebar's comm channel of ``shell`` (default: the running IPython); None if the
    extension is not loaded or the shell is not in a Jupyter kernel."""
    if shell is None:
        from IPython import get_ipython

        shell = get_ipython()
    extension = _loaded.get(id(shell))
    return extension.sidebar if extension is not None else None
