"""The ``%carbon`` line magic and the ``%%carbon`` cell magic.

Their docstrings are what ``%carbon?`` and ``%%carbon?`` show: the short help of
``magic_help``; ``%carbon --help-all`` prints the whole help.
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any, Callable

from IPython.core.error import UsageError
from IPython.core.magic import Magics, cell_magic, line_magic, magics_class, needs_local_scope, no_var_expand

from .._version import __version__
from ..core.config import ConfigError, unknown_parameter_error
from ..core.params import PARAMS, SETTINGS
from ..core.problems import problems
from . import display
from .execute import Compiled, compile_source, run_compiled
from .interrupts import InterruptsHeld
from .history_scrub import forget_in_history
from .magic_help import cell_help, full_help, line_help
from .options import (
    HELP_ALL, SecretOptionRefused, TrackOptions, parse_options, secret_words, split_names, split_statement, split_words,
)
from .records import first_line
from .session import Session, status_of

SUBCOMMANDS = ("on", "off", "start", "stop", "status", "report", "plot", "panel", "config", "export", "telemetry")

@magics_class
class CarbonMagics(Magics):
    """``%carbon`` and ``%%carbon`` for one shell; they keep their history in a Session."""

    def __init__(self, shell: Any, session: Session, status_source: Callable[[], dict], session_panel: Any = None):
        super().__init__(shell)
        self.session = session
        self._status_source = status_source
        self._session_panel = session_panel

    def _parse(self, text: str, prog: str, positional: str | None = None) -> tuple[TrackOptions, str | None]:
        """``parse_options``; a refused secret is first taken out of the input history."""
        try:
            return parse_options(text, prog, positional)
        except SecretOptionRefused as refused:  # shown as IPython shows any UsageError
            forget_in_history(self.shell, [value for _, value in secret_words(split_words(text, prog)) if value])
            raise UsageError(str(refused)) from None

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
        options, _ = self._parse(line, "%%carbon")
        code = compile_source(self.shell, cell, self.session.cell.execution_count, first_line_number=2)
        value = self._track("cell", options, code, first_line(cell), None)
        return None if code.silenced else value

    carbon_cell.__doc__ = cell_help()  # type: ignore[assignment]  # (the same decorator typing)

    @needs_local_scope
    @no_var_expand
    @line_magic("carbon")  # type: ignore[arg-type]  # IPython types its magic decorators as Never
    def carbon_line(self, line: str, local_ns: dict | None = None) -> Any:
        __tracebackhide__ = True  # noqa: F841
        words = line.split(None, 1)
        if words and words[0] in SUBCOMMANDS:
            return getattr(self, f"_{words[0]}")(words[1] if len(words) > 1 else "")
        options_text, statement = split_statement(line)
        if HELP_ALL in options_text.split():
            print(full_help())
            return None
        if not statement:
            raise UsageError(
                "%carbon needs a statement or a subcommand "
                f"({', '.join(SUBCOMMANDS)}); %%carbon tracks a whole cell. See %carbon? for help, "
                f"%carbon {HELP_ALL} for every option."
            )
        options, _ = self._parse(options_text, "%carbon")
        code = compile_source(self.shell, statement, self.session.cell.execution_count)
        return self._track("statement", options, code, first_line(statement), local_ns)

    carbon_line.__doc__ = line_help()  # type: ignore[assignment]  # (the same decorator typing)

    # -- subcommands ----------------------------------------------------------------------------
    def _on(self, rest: str) -> None:
        options, _ = self._parse(rest, "%carbon on")
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
        options, name = self._parse(rest, "%carbon start", "span")
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
        given = [f"{PARAMS[name].option} {value}" for name, value in auto.parameters]
        return "on" + (f" ({' '.join(given)})" if given else "")

    def _report(self, rest: str) -> Any:
        from .report import hosts_frame, report_frame

        if rest.split() == ["hosts"]:
            return hosts_frame(self.session.records)
        if rest.strip():
            raise UsageError(f"%carbon report takes no arguments or 'hosts' (got {rest.strip()!r}).")
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
        options, _ = self._parse(options_text, "%carbon config")
        unknown = [name for name in names if name not in SETTINGS]
        if unknown:
            raise UsageError(str(unknown_parameter_error(unknown[0], "%carbon config")))
        try:
            config = self.session.pool.config(options)
        except ConfigError as error:
            raise UsageError(str(error)) from None
        settings = self.session.settings
        extra = []
        for name in [name for name in SETTINGS if name not in PARAMS]:  # the magics' own settings
            given = getattr(options, name)
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
        from ..runtime import current_runtime
        from ..telemetry import telemetry_command
        from .options import NO_OPTIONS

        try:
            config = self.session.pool.config(NO_OPTIONS)
        except ConfigError:
            config = None
        try:
            print(telemetry_command(current_runtime().telemetry, rest, config))
        except ValueError as error:
            raise UsageError(f"%carbon telemetry: {error}") from None

    @staticmethod
    def _no_arguments(subcommand: str, rest: str) -> None:
        if rest.strip():
            raise UsageError(f"%carbon {subcommand} takes no arguments (got {rest.strip()!r}).")
