"""The live panel: energy, CO2 and water growing in a running cell's output.

A Session listener. When a tracked cell or statement has run for ``panel_update_secs``
(1 s by default) and a widget front end is there (see ``frontend.py``), its output shows
the panel: the running figures, the power now, relatable equivalents and a chart of power
by component with the cumulative CO2, updated at most once per ``panel_update_secs``.
Short cells show no panel (only the usual summary), so a notebook under ``%carbon on``
stays calm and tracked trivial cells cost nothing more.

How updates flow, so that a cell never waits for the panel:

- ``cell_started`` (kernel thread, microseconds): capture the cell's output Route, keep the
  record's place in the output unless the cell is quiet (an empty display, the *place*:
  whatever the cell prints comes after it) and schedule ``begin`` on the ``panel`` output
  lane after one update period. A cell that ends sooner has its summary put in the place
  (``TrackedWindow.summary_place``), so the record stands first whatever the cell's length.
- ``begin`` (panel lane): import the widget libraries (unless the idle kernel did), take pooled
  widgets, show them in the place, ask the sampler for ticks every update period
  (an interval lease) and subscribe to them.
- each tick (sampler thread) only queues ``update`` on the panel lane, at most once per
  period; a newer tick replaces one still queued.
- ``update`` (panel lane): the running window ``tracker.window(start, reading)`` and its
  record ``tracker.record(window, run_id)``, the same arithmetic as the final record;
  then the widgets change (two small messages, a bounded series).
- ``cell_ended`` (kernel thread, the window's end just read): a panel still pending is never
  shown; a shown one asks the session for the record at once (``Session.close``), so that it
  freezes before the kernel's reply rather than after it (``ipython/tail.py``).
- ``cell_finished`` (kernel thread): stop the ticks, and replace the widgets in the output
  with the frozen panel (static HTML of the final, exact figures, with the one-line summary
  as its text), which outlives the kernel; the widgets go back to the pool.
- ``cell_finalized`` (GPU poller thread, when the record was provisional): the frozen panel
  is redrawn with the settled figures.
- a change of the front end's theme (``themed.py``): the latest frozen panels are redrawn in
  the new theme's colours while the kernel runs.
"""

from __future__ import annotations

import functools
import sys
import threading
import time
from typing import TYPE_CHECKING, Any, Callable, cast

from ...core.problems import problems
from ...core.ledger import kind_of
from ...core.units import kwh_to_j
from ...runtime import current_runtime
from .. import display
from ..frontend import FrontEnd
from ..options import NO_OPTIONS
from .presentation import bands_of
from ..records import measured_kinds
from ..route import Route, publish_in_order
from .series import PowerSeries, chart_groups
from .themed import LANE, ThemedDisplays, publish

if TYPE_CHECKING:
    from ...core.ledger import Reading
    from ...core.record import EmissionsData
    from .panel_view import Snapshot
    from ..records import CellRecord, TrackedWindow
    from ..session import Session

PANEL_KINDS = ("cell", "statement")  # spans run across cells: they have no one output to live in


def call_when_idle(function: Callable[..., Any], *args: Any) -> bool:
    """Run ``function(*args)`` on this thread's running event loop once the code running now
    returns to it (in a kernel: after the current request). False where no loop runs."""
    asyncio = sys.modules.get("asyncio")  # no loop can run where asyncio was never imported
    if asyncio is None:
        return False
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return False
    loop.call_soon(function, *args)
    return True


def import_in_progress() -> bool:
    """Whether some module is half made now (being imported, on any thread). The widget
    libraries look into modules the user may be importing (plotly checks values against
    ``pandas.Series`` whenever pandas is in ``sys.modules``), so the panel waits for the
    import to end rather than touch a partially initialised module."""
    for module in tuple(sys.modules.values()):
        if getattr(getattr(module, "__spec__", None), "_initializing", False):
            return True
    return False


IMPORT_RETRY_S = 0.1  # how soon a panel that waited for an import looks again


class Widgets:
    """The widget side, imported on first use: probe, view pool (one per extension)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.module: Any = None
        self.pool: Any = None

    def load(self) -> Any:
        """``panel_widgets`` (ipywidgets, anywidget, plotly): imported once, on the panel lane."""
        with self._lock:
            if self.module is None:
                from . import panel_widgets

                self.module = panel_widgets
                self.pool = panel_widgets.ViewPool()
            return self.module

    def close(self) -> None:
        if self.pool is not None:
            self.pool.close()


class LiveCell:
    """One cell's live panel, from scheduled to frozen (see the module docstring)."""

    def __init__(self, panel: "LivePanel", window: "TrackedWindow", start: "Reading"):
        config = window.tracker.config
        self.panel = panel
        self.window = window
        self.tracker = window.tracker
        self.route = Route(panel.shell)
        self.start = start
        self.run_id = cast(str, window.tracker.run_id)  # the tracker runs: cell_started follows its start
        self.update_s: float = config["panel_update_secs"]
        self.equivalents: bool = config["panel_equivalents"]
        self.process_mode = config["tracking_mode"] == "process"
        self.series = PowerSeries(self.tracker.components)
        self.measured: frozenset[str] = start.measured
        self.display_id = f"carbon-magic-panel-{self.run_id}"
        self.state = "pending"  # -> live -> frozen (or pending -> frozen: never shown)
        self.lock = threading.Lock()
        self.view: Any = None
        self.lease: Any = None
        self.subscription: Any = None
        self.last_tick_t = start.t_mono
        self.updates = 0
        self.awaiting_final = False

    def keep_place(self) -> None:
        """Kernel thread, as the cell starts: the empty display the panel (or, in a cell that
        ends within one update period, the summary) fills, before anything the cell prints."""
        publish_in_order(self.panel.shell, {"text/plain": ""}, self.display_id)
        self.panel.session.pending_clear.keep(self.display_id)
        self.window.summary_place = self.display_id

    # -- live ---------------------------------------------------------------------------------
    def begin(self) -> None:
        """Show the panel (panel lane, one update period after the cell started)."""
        if self.state != "pending" or sys.is_finalizing():
            return
        if import_in_progress():  # the user's code is importing: show the panel once it is done
            current_runtime().lanes.lane(LANE).submit_after(IMPORT_RETRY_S, "live panel", self.begin)
            return
        widgets = self.panel.widgets.load()
        self.panel.prepare_probe(self.route)
        reading = self.tracker.sampler.read()
        if self.state != "pending":
            return
        view = self.panel.widgets.pool.acquire(self.series.groups, self.panel.frontend.theme)
        with self.lock:
            if self.state != "pending":
                self.panel.widgets.pool.release(view)
                return
            snapshot = self._snapshot(reading)
            self.route.run(self._show, view, snapshot, widgets)
            self.view, self.state = view, "live"
            self.last_tick_t = reading.t_mono
            sampler = self.tracker.sampler
            self.lease = sampler.request_interval(self.update_s)
            self.subscription = sampler.subscribe(self.on_tick)

    def _show(self, view: Any, snapshot: "Snapshot", widgets: Any) -> None:
        from .panel_view import header_html

        view.reset(self.panel.frontend.theme)
        view.show(snapshot)
        fallback = header_html(snapshot) + (
            '<div style="color:var(--jp-ui-font-color2,#777);font-size:11px">live updates need Jupyter widgets; '
            "the final figures replace this when the cell ends</div>"
        )
        publish(self.panel.shell, view.bundle(fallback, f"carbon: {self.window.label} | measuring..."),
                self.display_id, update=self.panel.session.pending_clear.kept == self.display_id)

    def on_tick(self, reading: "Reading") -> None:
        """Sampler thread: queue an update, at most one per update period."""
        if self.state != "live" or reading.t_mono - self.last_tick_t < self.update_s:
            return
        self.last_tick_t = reading.t_mono
        current_runtime().lanes.lane(LANE).enqueue("live panel update", self.update, (reading,), key=self)

    def update(self, reading: "Reading") -> None:
        """Panel lane: the running figures into the widgets."""
        with self.lock:
            if self.state != "live" or import_in_progress():  # the next tick updates it
                return
            snapshot = self._snapshot(reading)
            self.route.run(self.view.show, snapshot)
            self.updates += 1

    def _snapshot(self, reading: "Reading") -> "Snapshot":
        """The running window up to ``reading``: the record's own arithmetic (lock held)."""
        from .panel_view import Snapshot  # drawing is imported on the panel lane, by the first panel

        window = self.tracker.window(self.start, reading)
        data = self.tracker.record(window, self.run_id, self.tracker.remote_so_far())
        energy_j = window.energy_j()
        self.series.add(window.duration_s, energy_j, data.emissions * 1e3)
        self.measured = reading.measured
        if self.process_mode:  # the process's share over the last interval, not the machine's power
            times, power = self.series.power_w()
            power_now = {group: values[-1] for group, values in power.items()} if times else {}
        else:
            power_now = {c: reading.power_w.get(c, 0.0) for c in self.tracker.components}
        return Snapshot(self.window.label, "running", data, power_now, self.series, self.equivalents, energy_j,
                        self.measured, bands_of(self.tracker.sampler.bands().items(), power_now))

    # -- frozen -------------------------------------------------------------------------------
    def end(self) -> bool:
        """Kernel thread, at the window's end: a panel not shown yet never is; True if one is
        shown (``finish`` freezes it)."""
        with self.lock:
            if self.state == "pending":
                self.state = "frozen"
            return self.state == "live"

    def finish(self, record: "CellRecord", data: "EmissionsData") -> bool:
        """Kernel thread, as the cell ends: stop updates; freeze the panel if it was shown.
        True if the frozen panel now stands in the output (it carries the summary)."""
        with self.lock:
            shown, self.state = self.state == "live", "frozen"
            self._stop_ticks()
            if not shown:
                return False
            self._add_final_point(data)
            self._publish_frozen(record, data)
            self.panel.widgets.pool.release(self.view)
            self.view = None
            self.awaiting_final = data.provisional
            return True

    def finalize(self, record: "CellRecord", data: "EmissionsData") -> None:
        """The settled figures of a provisional record (GPU poller thread)."""
        with self.lock:
            if not self.awaiting_final:
                return
            self.awaiting_final = False
            self._add_final_point(data)
            self._publish_frozen(record, data)

    def _stop_ticks(self) -> None:
        if self.subscription is not None:
            self.subscription.close()
        if self.lease is not None:
            self.lease.release()
        self.subscription = self.lease = None

    def _add_final_point(self, data: "EmissionsData") -> None:
        """The window's end in the series, from the record (its energy without PUE, in J)."""
        by_kind_kwh = {"cpu": data.cpu_energy, "gpu": data.gpu_energy, "ram": data.ram_energy,
                       "platform": data.platform_energy}
        last = self.series.points[-1]
        gpu_groups = [g for g in self.series.groups if kind_of(g) == "gpu"]
        last_gpu_j = sum(last.energy_j[self.series.groups.index(g)] for g in gpu_groups)
        energy_j = {}
        for index, group in enumerate(self.series.groups):
            kind = kind_of(group)
            joules = kwh_to_j(by_kind_kwh[kind] / data.pue)
            if kind == "gpu" and len(gpu_groups) > 1:  # split the GPUs' total as they last stood
                share = last.energy_j[index] / last_gpu_j if last_gpu_j > 0 else 1 / len(gpu_groups)
                joules *= share
            energy_j[group] = joules
        self.series.add(data.duration, energy_j, data.emissions * 1e3)

    def _publish_frozen(self, record: "CellRecord", data: "EmissionsData") -> None:
        """The frozen panel in the cell's output, redrawn when the theme changes (its chart is a PNG)."""
        render = functools.partial(self._frozen, record, data)
        self.route.run(publish, self.panel.shell, render(self.panel.frontend.theme), self.display_id, True)
        self.panel.themed.follow(self.display_id, render)

    def _frozen(self, record: "CellRecord", data: "EmissionsData", theme: str | None) -> dict[str, str]:
        from .chart_png import chart_img
        from .panel_view import Snapshot, frozen_bundle

        average_w = {"cpu": data.cpu_power, "ram": data.ram_power}
        if data.gpu_count or data.gpu_power:
            average_w["gpu"] = data.gpu_power
        if data.platform_energy or data.platform_power:
            average_w["platform"] = data.platform_power
        energy_j = {kind: kwh_to_j(getattr(data, f"{kind}_energy") / data.pue) for kind in average_w}
        measured = measured_kinds(self.tracker.components, self.measured).intersection(average_w)
        snapshot = Snapshot(record.label, record.status, data, average_w, self.series, self.equivalents, energy_j,
                            measured, bands_of(record.bands, average_w))
        return frozen_bundle(snapshot, display.summary_text(record), chart_img(self.series, theme))



class LivePanel:
    """The Session listener that gives long tracked cells a live panel (module docstring)."""

    def __init__(self, shell: Any, session: "Session", sampler_source: Callable[[], Any] = lambda: None):
        self.shell = shell
        self.session = session
        self._sampler_source = sampler_source  # the shared sampler once the extension's warmup made it
        self.frontend = FrontEnd(shell)
        self.themed = ThemedDisplays(shell, self.frontend)  # frozen panels, %carbon panel and plot
        self.widgets = Widgets()
        self._lock = threading.Lock()
        self._active: LiveCell | None = None
        self._awaiting: dict[str, LiveCell] = {}
        self._idle_since: float | None = None
        self._probe_wanted = True
        self._view_wanted = False  # a panel used the view made ahead: make the next while idle

    # -- IPython events: idle time lets the front end answer the probe ----------------------
    def attach(self) -> None:
        self.shell.events.register("pre_run_cell", self.pre_run_cell)
        self.shell.events.register("post_run_cell", self.post_run_cell)

    def detach(self) -> None:
        for event, callback in (("pre_run_cell", self.pre_run_cell), ("post_run_cell", self.post_run_cell)):
            try:
                self.shell.events.unregister(event, callback)
            except ValueError:
                pass
        self.widgets.close()
        self.themed.close()

    def pre_run_cell(self, info: Any = None) -> None:
        if self._idle_since is not None:
            self.frontend.kernel_was_idle(self._idle_since, time.monotonic())
            self._idle_since = None

    def post_run_cell(self, result: Any = None) -> None:
        """The kernel goes idle. The first time, if widgets will be used, prepare them (imports,
        probe, one pooled view), and again after a panel used that view, so that the next live
        panel shows at once: on the kernel's own
        thread once this request is done, where its event loop runs (ipykernel), so that the
        imports never race the user's (a module imported by two threads at once can be seen
        half made); elsewhere on the panel lane."""
        self._idle_since = time.monotonic()
        if self._probe_wanted or self._view_wanted:
            self._probe_wanted = self._view_wanted = False
            try:
                wanted = self.session.settings.panel and self.frontend.use_widgets(self._default_mode())
            except Exception as error:  # a configuration problem is reported where it matters
                problems.note("live panel preparation", error)
                return
            if wanted:
                route = Route(self.shell)
                if not call_when_idle(self._prepare_safely, route):
                    current_runtime().lanes.lane(LANE).submit("live panel preparation", self._prepare, route)

    def _default_mode(self) -> str:
        return self.session.pool.config(NO_OPTIONS)["panel_widgets"]

    def _prepare_safely(self, route: Route) -> None:
        try:
            self._prepare(route)
        except Exception as error:  # the panels then load on their lane, or show static summaries
            problems.note("live panel preparation", error)

    def _prepare(self, route: Route) -> None:
        """Imports, the probe, and one idle view for this machine's components: its FigureWidget
        carries plotly.js (about 5 MB) to the front end now, while the kernel is idle, rather
        than when the first long cell is one update period old."""
        self.widgets.load()
        self.prepare_probe(route)
        sampler = self._sampler_source()
        if sampler is not None:
            pool = self.widgets.pool
            pool.release(route.run(pool.acquire, chart_groups(sampler.components), self.frontend.theme))

    def prepare_probe(self, route: Route) -> None:
        """Open the front-end probe once (panel lane; widget libraries loaded)."""
        module = self.widgets.load()
        if self.frontend.answered:
            return
        route.run(self.frontend.open_probe, module.open_probe)

    # -- Session listener ---------------------------------------------------------------------
    def cell_started(self, window: "TrackedWindow") -> None:
        if not window.panel or window.kind not in PANEL_KINDS:
            return
        start = window.tracker.start_reading
        if start is None or not self.frontend.use_widgets(window.tracker.config["panel_widgets"]):
            return
        with self._lock:
            if self._active is not None:  # one live panel at a time: the outermost window's
                return
            cell = self._active = LiveCell(self, window, start)
        if not window.quiet:  # a quiet cell has no summary to fill a place it never shows
            cell.keep_place()
        current_runtime().lanes.lane(LANE).submit_after(cell.update_s, "live panel", cell.begin)

    def cell_ended(self, window: "TrackedWindow") -> bool:
        """True when this window's panel is shown: its record is wanted before the reply."""
        cell = self._active
        return cell is not None and cell.window is window and cell.end()

    def cell_finished(self, record: "CellRecord", data: "EmissionsData") -> None:
        with self._lock:
            cell = self._active
            if cell is None or cell.run_id != record.run_id:
                return
            self._active = None
        if cell.finish(record, data):
            cell.window.summary_shown = True
            self._view_wanted = True
            if cell.awaiting_final:
                self._awaiting[record.run_id] = cell

    def cell_finalized(self, record: "CellRecord", data: "EmissionsData") -> None:
        cell = self._awaiting.pop(record.run_id, None)
        if cell is not None:
            cell.finalize(record, data)

    def describe(self) -> str:
        """For ``%carbon status``: how live panels are drawn here."""
        try:
            mode = self._default_mode()
        except Exception:
            mode = "auto"
        if not self.session.settings.panel:
            return "off (CarbonMagic.panel = False)"
        return self.frontend.describe(mode)
