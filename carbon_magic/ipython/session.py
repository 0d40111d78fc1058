"""The kernel's cell history: tracked windows while they run, records once they finish.

One Session per loaded extension. It opens and closes tracked windows (``%%carbon`` cells,
``%carbon STATEMENT``, ``%carbon start``/``stop`` spans, and every cell while
``%carbon on``), keeps one compact CellRecord per finished window, writes the per-cell file
through the output lanes, and tells its listeners.

Listeners (the live panel, the JupyterLab sidebar's comm) are objects with any of::

    cell_started(window: TrackedWindow)                    # a window opened (tracker running)
    cell_ended(window: TrackedWindow) -> bool              # its end is read; True: the listener
                                                           # shows its record in the cell (the
                                                           # live panel), so it is made at once
    cell_finished(record: CellRecord, data: EmissionsData)    # it closed; data = full record,
                                                              # provisional for GPUs (see below)
    cell_finalized(record: CellRecord, data: EmissionsData)   # its final figures

``cell_started``, ``cell_ended`` and ``cell_finished`` are called on the kernel's main thread.
In a kernel, a cell's ``cell_finished`` (with its record and CSV rows) comes right after the
kernel's reply to it, before anything else runs (``tail.py``), unless a ``cell_ended`` asked
for the record at once.
``cell_finalized`` follows ``cell_finished``: at once (same thread) when the figures are
already final, else from the GPU poller thread about two counter updates later (NVML's
energy counter changes only every ~100 ms). A listener that raises is counted in
``core.problems`` and never breaks the cell.
"""

from __future__ import annotations

import functools
import html
import re
import sys
import threading
import time
from typing import TYPE_CHECKING, Any, Callable

import IPython

from ..core.config import ConfigError
from ..core.problems import problems
from ..runtime import current_runtime
from . import display
from .interrupts import InterruptsHeld
from .log_route import LogRoute
from .options import TrackOptions
from .pending_clear import PendingClear
from .pool import TrackerPool
from .records import CellInfo, CellRecord, TrackedWindow, first_line
from .route import publish_in_order
from .tail import Tail

if TYPE_CHECKING:
    from ..core.tracker import Ending, Tracker
    from ..outputs.cells_file import CellsFile

# A stopped tracker and its per-cell file, taken from the pool for a window (Session.reserve).
Reserved = tuple["Tracker", "CellsFile | None"]

# A cell that %carbon on leaves to the magics: a %%carbon cell that tracked_cells did not mark
# (the cell magic runs it and records it: nested, or options it reports as wrong), or
# nothing but %carbon line magics (a statement records itself; commands are not work).
_CELL_MAGIC = re.compile(r"\s*%%carbon(\s|$)")
_LINE_MAGIC = re.compile(r"(?:[\w.]+\s*=\s*)?%carbon(\s|$)")


# Outputs run on background lanes (core/lanes.py); the CSV rows on the ``main`` one. When
# tracked cells come faster than it can write (a loop of tiny cells keeps the GIL busy), its
# queue would grow without bound; every so many records the session waits (bounded) for it.
OUTPUT_BACKLOG_RECORDS = 256
OUTPUT_CATCH_UP_S = 5.0
# A cell's rows are usually on disk right after it ends (appended on the kernel's thread, in a
# kernel right after its reply: see csv_file.RowAppender.append_now and tail.py). Rows left to
# the worker (the file's lock busy, a header to write, a network disk, ...) are waited for
# (bounded) before the next cell runs, so that a kernel dying in that cell (a segfault, the OOM
# killer) loses at most the cell in flight.
# A wait that timed out (a hung disk) is not repeated until the worker has caught up.
ROWS_WRITTEN_WAIT_S = 2.0


def left_to_magics(raw_cell: str) -> bool:
    """True for cells that ``%carbon on`` does not track itself (see above)."""
    if _CELL_MAGIC.match(raw_cell.lstrip("\n")):
        return True
    lines = [line.strip() for line in raw_cell.splitlines()]
    code = [line for line in lines if line and not line.startswith("#")]
    return bool(code) and all(_LINE_MAGIC.match(line) for line in code)


# IPython 9 counts a cell before pre_run_cell; IPython 8 after the cell has run.
_COUNTED_BEFORE_PRE_RUN = IPython.version_info >= (9,)


def execution_count(shell: Any, info: Any) -> int:
    """The number of the cell ``info`` describes (its ``In[N]``), seen from pre_run_cell."""
    if _COUNTED_BEFORE_PRE_RUN and info.store_history:
        return shell.execution_count - 1
    return shell.execution_count


def _cell_error(result: Any) -> BaseException | None:
    """The exception a cell ended with, from post_run_cell's ``result``; a ``result`` of None
    means an exception (a Ctrl-C) left IPython's ``_run_cell``: the one still propagating."""
    if result is None:
        return sys.exc_info()[1] or KeyboardInterrupt()
    return result.error_in_exec or result.error_before_exec


def status_of(error: BaseException | None) -> str:
    """ok, failed or interrupted, from the exception a cell ended with (if any)."""
    if error is None:
        return "ok"
    return "interrupted" if isinstance(error, KeyboardInterrupt) else "failed"


class CodeStarts:
    """IPython AST transformer (``shell.ast_transformers``) telling ``Session.code_starts`` that
    a cell's code is about to run; the code is left as it is."""

    def __init__(self, session: "Session"):
        self.session = session

    def visit(self, tree: Any) -> Any:
        self.session.code_starts()
        return tree


class _Finaliser:
    """Joins a window's record (made on the cell's thread) with its final figures (which may
    arrive first, inside ``stop()``, or later on the GPU poller thread)."""

    def __init__(self, session: "Session", window: TrackedWindow, status: str, line: str):
        self.session, self.window, self.status, self.line = session, window, status, line
        self._lock = threading.Lock()
        self._index: int | None = None
        self._data: Any = None

    def final(self, data: Any) -> None:
        with self._lock:
            self._data = data
            index = self._index
        if index is not None:
            self.session._finalised(self, index, data)

    def attach(self, index: int, record: CellRecord, data: Any) -> None:
        """The provisional ``record`` of ``data`` is at ``index``; finish it if final already."""
        with self._lock:
            self._index = index
            final = self._data
        if final is data:  # final inside stop(): the record made from it is the final one
            self.session._finalised(self, index, final, record)
        elif final is not None:
            self.session._finalised(self, index, final)


class Session:
    """Tracked windows and records of one IPython shell (see the module docstring)."""

    def __init__(self, shell: Any, settings: Any, log_route: LogRoute | None = None):
        self.shell = shell
        self.settings = settings
        self.log_route = log_route
        self.pool = TrackerPool(settings)
        self._records: list[CellRecord] = []
        self._tail: Tail | None = None  # in a kernel: cells' bookkeeping for after the reply (tail.py)
        self.spans: dict[str, TrackedWindow] = {}
        self.auto: TrackOptions | None = None
        self.cell = CellInfo(None, None, "")
        self._auto_window: TrackedWindow | None = None  # the cell's, opened by pre_run_cell
        self._marked: Any = None  # tracked_cells.MarkedCell: the next cell is a %%carbon cell
        self._listeners: list[Any] = []
        self._span_count = 0
        self._strings: dict[str, str] = {}
        self._run_id: str | None = None
        self._since_catch_up = 0  # records made since the worker was last waited for
        self._worker_behind = False
        self._depth = 0  # cells running: a cell run inside a cell (%%capture's body) makes 2
        self._cell_info: Any = None  # the top-level cell's ExecutionInfo (pre_run_cell's argument)
        self._opening: InterruptsHeld | None = None  # Ctrl-C held: see pre_execute
        self._closing: InterruptsHeld | None = None  # Ctrl-C held: see code_ended
        self.pending_clear = PendingClear(shell)

    # -- listeners ---------------------------------------------------------------------------
    def add_listener(self, listener: Any) -> None:
        """Call ``listener.cell_started`` / ``cell_finished`` from now on (see module docstring)."""
        if listener not in self._listeners:
            self._listeners.append(listener)

    def remove_listener(self, listener: Any) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    def _asked(self, method: str, *args: Any) -> bool:
        """Whether a listener's ``method(*args)`` returned True (one that raises is counted)."""
        asked = False
        for listener in list(self._listeners):
            function: Callable | None = getattr(listener, method, None)
            if function is None:
                continue
            try:
                asked = bool(function(*args)) or asked
            except Exception as error:
                problems.note(f"listener {type(listener).__name__}.{method}", error)
        return asked

    def _tell(self, method: str, *args: Any) -> None:
        for listener in list(self._listeners):
            function: Callable | None = getattr(listener, method, None)
            if function is None:
                continue
            try:
                function(*args)
            except Exception as error:
                problems.note(f"listener {type(listener).__name__}.{method}", error)

    # -- windows -----------------------------------------------------------------------------
    def open(self, kind: str, options: TrackOptions, cell: CellInfo, label: str | None = None,
             reserved: Reserved | None = None) -> TrackedWindow:
        """Start tracking a window; ConfigError for a bad configuration (nothing started).
        ``reserved``: the tracker ``reserve`` gave for these options this cell."""
        tracker, cells_file = reserved or self.pool.acquire(options)
        window = TrackedWindow(
            kind=kind,
            label=options.name or label or f"{kind} {cell.execution_count or ''}".strip(),
            cell=cell,
            tracker=tracker,
            started_at=time.time(),
            quiet=self.settings.quiet if options.quiet is None else options.quiet,
            panel=self.settings.panel if options.panel is None else options.panel,
            cells_file=cells_file,
        )
        if self._summary_due(window):
            self.pending_clear.summaries_due += 1
        try:
            tracker.start()
        except Exception as error:  # the cell runs untracked; close() records nothing
            problems.note(f"carbon_magic {kind} start", error)
            return window
        self._tell("cell_started", window)
        return window

    @property
    def records(self) -> list[CellRecord]:
        """One record per closed window, in order. Read on the kernel's thread, the records whose
        bookkeeping waits for after the kernel's reply are made first (tail.py): no reader sees
        a window closed and not recorded."""
        self.settle()
        return self._records

    def settle(self) -> None:
        """Finish the bookkeeping of closed windows now (``tail.py``): records, rows, listeners
        (on the kernel's thread; elsewhere it runs there, right after the reply)."""
        if self._tail is not None:
            self._tail.settle()

    def close(self, window: TrackedWindow, status: str, line: str | None = None, *,
              after_reply: bool = False) -> CellRecord | None:
        """Stop a window and record it (None if its tracker could not measure it).

        The record is provisional while a GPU counter has not yet been seen to change after
        both boundaries (about two updates); it is replaced by the final one, written to the
        per-cell file and told to listeners as ``cell_finalized`` when that arrives.

        ``after_reply`` (a cell's own window, from ``post_run_cell``): inside a kernel only the
        window's end is read now; what can wait for the kernel's reply waits (``tail.py``): a
        quiet window is recorded then (None now), a window with a summary has its record now
        and its rows, listeners and per-cell row then. Its tracker goes back to the pool then.
        A window whose record a listener shows in the cell (``cell_ended``) is recorded now.
        """
        if self._summary_due(window):
            self.pending_clear.summaries_due -= 1
        tracker = window.tracker
        if not tracker.running:  # it never started (see open); nothing was measured
            self.pool.release(tracker)
            return None
        finaliser = _Finaliser(self, window, status, line if line is not None else window.cell.first_line)
        try:
            ending = tracker.end()
        except Exception as error:  # tracking must never break the cell
            problems.note(f"carbon_magic {window.kind}", error)
            ending = None
        if ending is None:
            self.pool.release(tracker)
            return None
        shown_now = self._asked("cell_ended", window)  # a live panel freezes into the record before the reply
        tail = self._tail_for_cell() if after_reply and not shown_now else None
        if tail is not None and not self._summary_due(window):
            tail.add(functools.partial(self._record_ending, finaliser, ending))
            return None
        return self._record_ending(finaliser, ending, tail)

    def _tail_for_cell(self) -> Tail | None:
        """The kernel's tail (made once, on the kernel's thread while a cell runs); None outside a kernel."""
        if self._tail is None:
            self._tail = Tail.for_shell(self.shell)
            if self._tail is not None:
                current_runtime().before_exit(("carbon_magic session", id(self)), self._tail.run)
        return self._tail if self._tail is not None and self._tail.on_its_thread() else None

    def _record_ending(self, finaliser: "_Finaliser", ending: "Ending", tail: Tail | None = None) -> CellRecord | None:
        """The record of an ended window; with ``tail``, its outputs and bookkeeping are left there."""
        tracker = finaliser.window.tracker
        try:
            tracker.finish(ending, wait=False, on_final=finaliser.final, later=tail.add if tail is not None else None)
            data = tracker.final_emissions_data
        except Exception as error:  # tracking must never break the cell
            problems.note(f"carbon_magic {finaliser.window.kind}", error)
            data = None
        if data is None:
            self.pool.release(tracker)
            return None
        record = self._record(finaliser, data)
        if tail is None:
            self._keep(finaliser, record, data)
        else:
            tail.add(functools.partial(self._keep, finaliser, record, data))
        return record

    def _keep(self, finaliser: "_Finaliser", record: CellRecord, data: Any) -> None:
        """A window's record into the history, told to the listeners, its per-cell row written
        (now if final); its tracker back to the pool for the next window."""
        self.pool.release(finaliser.window.tracker)
        self._records.append(record)
        self._tell("cell_finished", record, data)
        finaliser.attach(len(self._records) - 1, record, data)
        self._since_catch_up += 1
        if self._since_catch_up >= OUTPUT_BACKLOG_RECORDS:
            self._since_catch_up = 0
            current_runtime().lanes.main.drain(OUTPUT_CATCH_UP_S)  # at once when the worker is idle, as it is between cells

    @staticmethod
    def _summary_due(window: TrackedWindow) -> bool:
        """Whether closing ``window`` shows a summary in the cell (spans say theirs at %carbon stop)."""
        return not window.quiet and window.kind != "span"

    def show_summary(self, window: TrackedWindow, record: CellRecord | None) -> None:
        """The summary of a closed window, unless it is quiet or a frozen live panel stands for it;
        into the place its live panel kept at the top of the output, or the place kept before a
        clear that still waits (see pending_clear.py)."""
        if record is None or not self._summary_due(window) or window.summary_shown:
            return
        text, html_text = display.summary_views(record)
        footnote = self.log_route.footnote() if self.log_route is not None else ""
        if footnote:  # what went wrong in the background, here rather than in some cell's stderr
            text += f"\n{footnote}"
            html_text += f'<div style="font-size:11px;opacity:.7">{html.escape(footnote)}</div>'
        place = self.pending_clear.place_for_summary(window.summary_place)
        publish_in_order(self.shell, {"text/plain": text, "text/html": html_text}, place, update=place is not None)

    def _record(self, finaliser: "_Finaliser", data: Any) -> CellRecord:
        return CellRecord.finished(
            finaliser.window, finaliser.status, data, finaliser.line,
            intensity_source=self._intern(data.intensity_source),
        )

    def _finalised(self, finaliser: "_Finaliser", index: int, data: Any, record: CellRecord | None = None) -> None:
        """A window's final figures: replace its record, write its row, tell the listeners."""
        if record is None:
            record = self._record(finaliser, data)
            self._records[index] = record
        if finaliser.window.cells_file is not None:
            finaliser.window.cells_file.add(record.cell_fields(), data)
        self._send_as_task(finaliser.window, record, data)
        self._tell("cell_finalized", record, data)

    @property
    def run_id(self) -> str:
        """The run of this session's cells sent as tasks (made when first needed)."""
        if self._run_id is None:
            from ..core.tracker import new_run_id

            self._run_id = new_run_id()
        return self._run_id

    def _send_as_task(self, window: TrackedWindow, record: CellRecord, data: Any) -> None:
        """With ``cells_as_tasks``: the cell as a CodeCarbon task of this session's run."""
        config, sink = window.tracker.config, window.tracker.sink
        if config["cells_as_tasks"] and sink is not None:
            experiment = config["experiment_name"] or config["project_name"]
            sink.cell_out(data.replace(run_id=self.run_id), record.label, experiment)

    def _intern(self, text: str) -> str:
        """One copy of each repeated text (intensity sources) across thousands of records."""
        return self._strings.setdefault(text, text)

    # -- the cell being run (IPython events) -------------------------------------------------
    def mark(self, cell: Any) -> None:
        """The cell about to run is a ``%%carbon`` cell (a tracked_cells.MarkedCell)."""
        self._unmark()
        self._marked = cell

    def _unmark(self) -> None:
        """Forget the marked cell (not the one run); the tracker reserved for it back to the pool."""
        marked, self._marked = self._marked, None
        if marked is not None:
            self.pool.release(marked.reserved[0])

    # A Ctrl-C (SIGINT) that IPython's own code receives between a tracked cell's hooks would
    # drop its record: one landing in the pre_run_cell hook before the window opens is reported
    # by IPython as an error in the hook and the cell runs untracked; one landing after the code
    # (returning from IPython's _run_cell, between post_execute callbacks, or in post_run_cell
    # before the window is taken) skips the post_run_cell hook or loses the window. So from
    # pre_execute to the window's opening, and from the end of the cell's code (code_ended)
    # to the end of post_run_cell, a Ctrl-C is held (interrupts.py), then raised.
    def pre_execute(self) -> None:
        """IPython's pre_execute: a top-level cell that may be tracked holds Ctrl-C until its
        window is open (pre_run_cell), or its code starts (code_starts: a silent cell has no
        pre_run_cell)."""
        if self._depth == 0 and self._opening is None and (self._marked is not None or self.auto is not None):
            self._opening = InterruptsHeld().hold()

    def code_starts(self) -> None:
        """The cell's code is about to run (its AST is transformed): a Ctrl-C held since
        pre_execute and not yet raised (a silent cell) is raised now, before the code."""
        opening, self._opening = self._opening, None
        if opening is not None:
            opening.release()
            opening.deliver()

    def code_ended(self, change: Any) -> None:
        """IPython's ``last_execution_result`` was set: a cell's code has run (or failed to
        compile). For the top-level cell, Ctrl-C is held until post_run_cell has run: it closes
        a tracked cell's window, and an untracked cell's skipped post_run_cell would leave
        ``_depth`` counting a cell that ended, every later cell taken for a nested one."""
        self.code_starts()  # a silent cell that did not compile: nothing held any longer
        info = getattr(change["new"], "info", None)
        if info is not None and info is self._cell_info and self._closing is None:
            self._closing = InterruptsHeld().hold()

    def pre_run_cell(self, info: Any) -> None:
        """IPython's pre_run_cell: remember the cell; open its window if it is a ``%%carbon``
        cell (tracked_cells took its magic line) or while ``%carbon on``.

        A cell run inside a cell (``%%capture`` runs its body through ``run_cell``) is part of
        the outer one: its window, and its summary, belong to the outer cell, shown after it.
        """
        self._depth += 1
        if self._depth > 1:
            return
        self._cell_info = info
        opening, self._opening = self._opening or InterruptsHeld().hold(), None  # held since pre_execute
        with opening:  # a Ctrl-C in the wait or the opening: see below
            self.settle()  # the last cell's bookkeeping, if the loop has not run it yet (tail.py)
            self._wait_for_rows()
            self.pending_clear.new_cell()
            raw = info.raw_cell or ""
            marked = self._marked
            if marked is not None and not marked.is_cell(raw):
                self._unmark()  # marked, then not run: its tracker back to the pool
                marked = None
            self._marked = None
            line = marked.first_line if marked is not None else first_line(raw)
            self.cell = CellInfo(execution_count(self.shell, info), getattr(info, "cell_id", None), line)
            options = marked.options if marked is not None else None if left_to_magics(raw) else self.auto
            if options is not None and self._auto_window is None:
                try:
                    self._auto_window = self.open("cell", options, self.cell, reserved=marked.reserved if marked else None)
                except ConfigError as error:
                    print(f"carbon_magic: not tracking this cell: {error}", file=sys.stderr)
                except Exception as error:
                    problems.note("carbon_magic %carbon on", error)
        if marked is not None and opening.received:  # a %%carbon cell stops before its code
            opening.received = False
            marked.stop_before_code()
        opening.deliver()  # IPython reports it as an error in this hook, then runs the cell

    def post_run_cell(self, result: Any) -> None:
        """IPython's post_run_cell: close and record the cell's window (after the cell's
        post-execute work, inline figures included); compile errors are recorded as failed."""
        self._depth = max(self._depth - 1, 0)  # the cell that loaded the extension had no pre_run_cell
        if self._depth > 0:
            return
        self._cell_info = None
        closing, self._closing = self._closing, None  # held since code_ended
        if closing is None and self._auto_window is None:
            return
        with closing or InterruptsHeld() as closing:
            window, self._auto_window = self._auto_window, None
            if window is not None:
                self.show_summary(window, self.close(window, status_of(_cell_error(result)), after_reply=True))
        closing.deliver()  # the cell is recorded; IPython reports the interrupt as an error in this hook

    def _wait_for_rows(self) -> None:
        """The rows of the records made so far written before the next cell runs (bounded)."""
        rows_lane = current_runtime().lanes.main
        if not self._since_catch_up or rows_lane.idle() or (self._worker_behind and not rows_lane.drain(0.0)):
            return
        self._since_catch_up = 0
        self._worker_behind = not rows_lane.drain(ROWS_WRITTEN_WAIT_S)

    # -- auto mode and spans -----------------------------------------------------------------
    def check(self, options: TrackOptions) -> None:
        """ConfigError now if ``options`` make a bad configuration (a tracker checks its location
        and GPUs when built; it waits in the pool for the cell)."""
        tracker, _ = self.reserve(options)
        self.pool.release(tracker)

    def reserve(self, options: TrackOptions) -> Reserved:
        """A stopped tracker for ``options`` and its per-cell file (ConfigError if bad), for a
        window opened in this same cell (``open(..., reserved=)``: the configuration is not
        looked up twice); ``pool.release`` it if the window is not opened after all."""
        return self.pool.acquire(options)

    def start_auto(self, options: TrackOptions) -> None:
        """``%carbon on``: check the configuration now, then track every following cell."""
        self.check(options)  # a bad configuration fails now, not at every cell
        self.auto = options

    def stop_auto(self) -> None:
        self.auto = None

    def start_span(self, name: str | None, options: TrackOptions) -> TrackedWindow:
        """``%carbon start [NAME]``: a window across cells, until ``%carbon stop``."""
        name = options.name or name
        if name is None:
            self._span_count += 1
            name = f"span {self._span_count}"
        if name in self.spans:
            raise ValueError(f"a span named {name!r} is already running; stop it or choose another name")
        window = self.open("span", options, self.cell, label=name)
        self.spans[name] = window
        return window

    def stop_span(self, name: str | None = None) -> tuple[TrackedWindow, CellRecord | None]:
        """``%carbon stop [NAME]``: the named span, or the latest one started."""
        if not self.spans:
            raise ValueError("no span is running; start one with %carbon start NAME")
        if name is None:
            name = next(reversed(self.spans))
        if name not in self.spans:
            raise ValueError(f"no running span named {name!r}; running: {', '.join(map(repr, self.spans))}")
        window = self.spans.pop(name)
        end = self.cell.execution_count
        line = f"span over cells [{window.cell.execution_count}] to [{end}]"
        return window, self.close(window, "ok", line=line)

    def active(self) -> list[TrackedWindow]:
        """Windows running now: spans, then the current auto-tracked cell."""
        windows = list(self.spans.values())
        if self._auto_window is not None:
            windows.append(self._auto_window)
        return windows

    def shutdown(self) -> list[CellRecord]:
        """Extension unload: finish the bookkeeping left for after the reply, stop auto mode,
        close running spans (recorded), forget trackers."""
        self.settle()
        if self._tail is not None:
            current_runtime().before_exit(("carbon_magic session", id(self)), None)
        self.auto = None
        closed = [record for name in list(self.spans) if (record := self.stop_span(name)[1]) is not None]
        if self._auto_window is not None:
            self.close(self._auto_window, "ok")
            self._auto_window = None
        self._listeners.clear()
        self.pool.clear()
        return closed
