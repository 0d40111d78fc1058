"""The ``%carbon`` line magic and the ``%%carbon`` cell magic.

Their docstrings are what ``%carbon?`` and ``%%carbon?`` show; the options section is
generated from the parameter table.
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any, Callable

from IPython.core.error import UsageError
from IPython.core.magic import Magics, cell_magic, line_magic, magics_class, needs_local_scope, no_var_expand

from .._version import __version__
from ..core.config import ConfigError, unknown_parameter_error
from ..core.params import PARAMS
from ..core.problems import problems
from . import display
from .execute import Compiled, compile_source, run_compiled
from .interrupts import InterruptsHeld
from .options import TrackOptions, options_help, parse_options, split_names, split_statement, split_words
from .records import first_line
from .session import Session, status_of

SUBCOMMANDS = ("on", "off", "start", "stop", "status", "report", "plot", "panel", "config", "export", "telemetry")

LINE_HELP = """Track energy, CO2 and water: one statement, every cell, or a span of cells.

Usage::

  %carbon [options] STATEMENT     track one statement, like %time
  %carbon on [options]            track every following cell (%carbon off to stop)
  %carbon off
  %carbon start [NAME] [options]  start a span across cells (spans may overlap)
  %carbon stop [NAME]             stop the named span (default: the latest started)
  %carbon status                  what is measured and how, location and intensity,
                                  sampler interval, what runs now, errors so far
  %carbon report                  a pandas DataFrame, one row per tracked cell or span
  %carbon plot                    a plotly figure: energy and CO2 per cell, by component
  %carbon panel                   the session panel: this kernel's totals and a bar
                                  per tracked cell, growing as cells finish
  %carbon config [NAME...] [options]
                                  every parameter's value (or the NAMEs') and where
                                  it came from; options show what a cell would get
  %carbon export PATH             the report to PATH (.csv, .json or .html)
  %carbon telemetry [LEVEL|preview [LEVEL]|host-hash on|off]
                                  the usage-telemetry tier and where it came from;
                                  LEVEL (disabled, minimal, extensive) stores your
                                  choice; preview shows the exact JSON that would be sent

Use %%carbon (two %) to track one whole cell. After a tracked cell or statement, a
summary shows its duration, energy, CO2, water, average power by component and where the
carbon intensity came from (use --quiet to hide it). A statement's value is returned,
so ``x = %carbon f()`` works; ``df = %carbon report`` keeps the report.

Live panel: in JupyterLab, Notebook 7, VS Code and Colab, a tracked cell that runs longer
than ``panel_update_secs`` (1 s) shows its energy, CO2, water, power per component and
a chart growing in its output, then freezes on the final figures (which stay in the
notebook as the summary). Options: --no-panel (this cell), --panel-update-secs,
--panel-equivalents false (no "driving a car 3 cm" line), --panel-widgets
auto|always|never. Elsewhere (terminal, nbconvert, papermill) the summary is static.

Every tracked cell, statement or span is one run in ``emissions.csv`` (CodeCarbon's 38
columns) and one row in ``carbon_cells.csv`` beside it, which names the cell (label,
execution count, cell id, first line of code, status ok/failed/interrupted).

Words after ``%carbon`` that are subcommands are read as such; to track a statement that
starts with one (a variable named ``status``), put ``--`` first: ``%carbon -- status``.

Configuration, highest priority first: these options; ``%config CarbonMagic.NAME = VALUE``
or ``c.CarbonMagic.NAME`` in ipython_config.py; ``CODECARBON_NAME`` environment variables;
``./.codecarbon.config``; ``~/.codecarbon.config``; the defaults. ``%carbon config`` shows
what applies and why.

Examples::

  In [1]: %load_ext carbon_magic
  In [2]: %carbon sum(i * i for i in range(10_000_000))
  carbon: statement 2 | 612 ms | 4.12 mWh | 1.96 mg CO2e | ...
  Out[2]: 333333283333335000000

  In [3]: %carbon on --country-iso-code FRA
  In [4]: %carbon start training
  ...
  In [9]: %carbon stop training
  In [10]: df = %carbon report
  In [11]: %carbon plot
  In [12]: %carbon panel
  In [13]: %carbon export results/cells.csv
"""

CELL_HELP = """Track the energy, CO2 and water of this cell.

Usage::

  %%carbon [options]
  <the cell's code>

The cell runs exactly as it would untracked (its last expression is its output, a trailing
``;`` hides it; top-level ``await``, ``from __future__`` imports and tracebacks as usual);
its record includes what IPython does after it, such as drawing inline figures.
Its own exceptions and KeyboardInterrupt propagate unchanged, with the same traceback,
and the cell is still recorded (status failed or interrupted). Invalid options stop the
cell before it runs, with a message naming the option, the value and what is accepted.

While the cell runs longer than ``panel_update_secs`` (1 s), a live panel in its output
shows the energy, CO2 and water so far, the power per component and a chart (where
Jupyter widgets render; ``--no-panel`` hides it). After the cell, a summary shows its
duration, energy, CO2, water, average power by component and where the carbon
intensity came from (``--quiet`` hides it); a live panel freezes into that summary. The cell is
one run in ``emissions.csv`` and one row in ``carbon_cells.csv`` (see ``%carbon?``), and a
row of ``%carbon report``. Under ``%carbon on``, a %%carbon cell is counted once, with
the options given here.

Examples::

  %%carbon
  model.fit(X, y)

  %%carbon --name "grid search" --country-iso-code FRA --pue 1.2
  search.fit(X, y)

  %%carbon --tracking-mode process --quiet
  result = simulate(steps=10_000)
"""


def _with_options(text: str) -> str:
    return f"{text}\n{options_help()}\n"


@magics_class
class CarbonMagics(Magics):
    """``%carbon`` and ``%%carbon`` for one shell; they keep their history in a Session."""

    def __init__(self, shell: Any, session: Session, status_source: Callable[[], dict], session_panel: Any = None):
        super().__init__(shell)
        self.session = session
        self._status_source = status_source
        self._session_panel = session_panel

    # -- tracking ------------------------------------------------------------------------------
    def _track(self, kind: str, options: TrackOptions, code: Compiled, line: str, local_ns: dict | None) -> Any:
        """Run ``code`` inside a tracked window; record it however it ends."""
        __tracebackhide__ = True  # noqa: F841 (read by IPython's traceback formatter)
        cell = replace(self.session.cell, first_line=line)
        with InterruptsHeld() as opening:
            try:
                window = self.session.open(kind, options, cell)
            except ConfigError as error:
                raise UsageError(str(error)) from None
        status = "ok"
        try:
            opening.deliver()  # a Ctrl-C that came while opening stops the cell here, recorded
            return run_compiled(self.shell, code, local_ns)
        except BaseException as error:
            status = status_of(error)
            raise
        finally:
            with InterruptsHeld() as closing:
                self._finish(window, status)
            if status == "ok":  # the cell had ended: the user still gets the interrupt they sent
                closing.deliver()

    def _finish(self, window: Any, status: str) -> None:
        try:
            self.session.show_summary(window, self.session.close(window, status))
        except Exception as error:  # never hide the cell's own outcome
            problems.note("carbon_magic summary", error)

    @cell_magic("carbon")  # type: ignore[arg-type]  # IPython types its magic decorators as Never
    def carbon_cell(self, line: str, cell: str) -> Any:
        # Only where tracked_cells leaves the %%carbon line: inside a running cell, or options
        # that it could not use (reported here). Other %%carbon cells run as plain cells.
        __tracebackhide__ = True  # noqa: F841
        options, _ = parse_options(line, "%%carbon")
        code = compile_source(self.shell, cell, self.session.cell.execution_count, first_line_number=2)
        value = self._track("cell", options, code, first_line(cell), None)
        return None if code.silenced else value

    carbon_cell.__doc__ = _with_options(CELL_HELP)  # type: ignore[assignment]  # (the same decorator typing)

    @needs_local_scope
    @no_var_expand
    @line_magic("carbon")  # type: ignore[arg-type]  # IPython types its magic decorators as Never
    def carbon_line(self, line: str, local_ns: dict | None = None) -> Any:
        __tracebackhide__ = True  # noqa: F841
        words = line.split(None, 1)
        if words and words[0] in SUBCOMMANDS:
            return getattr(self, f"_{words[0]}")(words[1] if len(words) > 1 else "")
        options_text, statement = split_statement(line)
        if not statement:
            raise UsageError(
                "%carbon needs a statement or a subcommand "
                f"({', '.join(SUBCOMMANDS)}); %%carbon tracks a whole cell. See %carbon? for help."
            )
        options, _ = parse_options(options_text, "%carbon")
        code = compile_source(self.shell, statement, self.session.cell.execution_count)
        return self._track("statement", options, code, first_line(statement), local_ns)

    carbon_line.__doc__ = _with_options(LINE_HELP)  # type: ignore[assignment]  # (the same decorator typing)

    # -- subcommands ----------------------------------------------------------------------------
    def _on(self, rest: str) -> None:
        options, _ = parse_options(rest, "%carbon on")
        try:
            self.session.start_auto(options)
        except ConfigError as error:
            raise UsageError(str(error)) from None
        print("carbon_magic: tracking every cell from the next one on (%carbon off to stop).")

    def _off(self, rest: str) -> None:
        self._no_arguments("off", rest)
        was_on = self.session.auto is not None
        self.session.stop_auto()
        print("carbon_magic: automatic tracking is off." if was_on else "carbon_magic: automatic tracking was not on.")

    def _start(self, rest: str) -> None:
        options, name = parse_options(rest, "%carbon start", "span")
        if name is not None and options.name is not None and name != options.name:
            raise UsageError(
                f"%carbon start: the span is named twice ({name!r} and --name {options.name!r}); "
                f"give one name: %carbon start NAME, or %carbon start --name NAME."
            )
        try:
            window = self.session.start_span(name, options)
        except ConfigError as error:
            raise UsageError(str(error)) from None
        except ValueError as error:
            raise UsageError(f"%carbon start: {error}") from None
        print(f"carbon_magic: span {window.label!r} started; %carbon stop {window.label} ends it.")

    def _stop(self, rest: str) -> None:
        words = split_words(rest, "%carbon stop")
        if len(words) > 1:
            raise UsageError("%carbon stop takes at most one span name (quote names with spaces).")
        try:
            window, record = self.session.stop_span(words[0] if words else None)
        except ValueError as error:
            raise UsageError(f"%carbon stop: {error}") from None
        if record is not None and not window.quiet and not window.summary_shown:
            display.show_summary(record)

    def _status(self, rest: str) -> None:
        self._no_arguments("status", rest)
        text, html_text = display.status_view(
            version=__version__,
            auto=self._auto_text(),
            active=self.session.active(),
            records=len(self.session.records),
            problems=problems.all(),
            now=time.time(),
            **self._status_source(),
        )
        display.show(text, html_text)

    def _auto_text(self) -> str | None:
        auto = self.session.auto
        if auto is None:
            return None
        given = [f"--{name.replace('_', '-')} {value}" for name, value in auto.parameters]
        return "on" + (f" ({' '.join(given)})" if given else "")

    def _report(self, rest: str) -> Any:
        self._no_arguments("report", rest)
        from .report import report_frame

        return report_frame(self.session.records)

    def _plot(self, rest: str) -> Any:
        self._no_arguments("plot", rest)
        if not self.session.records:
            print("carbon_magic: nothing tracked yet; use %%carbon on a cell or %carbon on.")
            return None
        return self._session_panel.plot()

    def _panel(self, rest: str) -> None:
        self._no_arguments("panel", rest)
        try:
            self._session_panel.show()
        except ConfigError as error:
            raise UsageError(str(error)) from None

    def _config(self, rest: str) -> None:
        names, options_text = split_names(rest)
        options, _ = parse_options(options_text, "%carbon config")
        unknown = [name for name in names if name not in PARAMS and name not in ("panel", "quiet")]
        if unknown:
            raise UsageError(str(unknown_parameter_error(unknown[0], "%carbon config")))
        try:
            config = self.session.pool.config(options)
        except ConfigError as error:
            raise UsageError(str(error)) from None
        settings = self.session.settings
        extra = []
        for name, given in (("panel", options.panel), ("quiet", options.quiet)):
            source = "magic option" if given is not None else (settings.source(name) or "default")
            extra.append((name, getattr(settings, name) if given is None else given, source))
        display.show_config(config, extra, only=names)

    def _export(self, rest: str) -> None:
        words = split_words(rest, "%carbon export")
        if len(words) != 1:
            raise UsageError("%carbon export needs one PATH ending in .csv, .json or .html.")
        from .report import export

        try:
            path = export(self.session.records, words[0])
        except ValueError as error:
            raise UsageError(f"%carbon export: {error}") from None
        except OSError as error:
            raise UsageError(
                f"%carbon export: cannot write {words[0]!r}: {error.strerror or error}. "
                f"Give a path in a folder you can write to, ending in .csv, .json or .html."
            ) from None
        print(f"carbon_magic: wrote {len(self.session.records)} rows to {path}")

    def _telemetry(self, rest: str) -> None:
        from .. import telemetry
        from .options import NO_OPTIONS

        try:
            config = self.session.pool.config(NO_OPTIONS)
        except ConfigError:
            config = None
        try:
            print(telemetry.telemetry_command(rest, config))
        except ValueError as error:
            raise UsageError(f"%carbon telemetry: {error}") from None

    @staticmethod
    def _no_arguments(subcommand: str, rest: str) -> None:
        if rest.strip():
            raise UsageError(f"%carbon {subcommand} takes no arguments (got {rest.strip()!r}).")
