"""``%%carbon`` cells run as the plain cells they wrap.

A cell magic runs its body inside its own call, on a private path: its own compiler flags
(``from __future__`` did not carry over), no top-level ``await``, its frames in tracebacks,
compile errors raised inside the magic, and the cell's post-execute work (inline figures are
drawn then) left out of its window. Instead, an input transformer takes the ``%%carbon
[options]`` line off a cell before IPython reads it (a blank line stays in its place, so
tracebacks number lines as the cell shows them) and hands the options to the Session, which
opens and closes the cell's window in ``pre_run_cell`` / ``post_run_cell``, as for
``%carbon on``. The body then runs exactly as the same cell untracked.

The ``%%carbon`` cell magic still runs a body where the transformer leaves the line:

- a ``%%carbon`` cell run inside a running cell (``%%time`` on top, ``run_cell`` in code):
  its window must open and close inside the calling cell;
- options that do not parse or do not make a valid configuration: the magic reports them
  (naming the option, the value and what is accepted) and the cell does not run.

A Ctrl-C that comes while the window opens (in ``pre_run_cell``, where IPython would only
report it and run the cell on) stops the cell before its code: an AST transformer,
registered for that cell only, makes its code that KeyboardInterrupt, and the cell is
recorded as interrupted.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from typing import Any, Callable

from IPython.utils.text import DollarFormatter

from .options import TrackOptions, parse_options
from .records import first_line
from .shell_events import unregister_events

_MAGIC_LINE = re.compile(r"%%carbon(?:[ \t]+(.*))?\r?\n?$")
_EVENTS = ("pre_execute", "post_execute")


@dataclass(frozen=True)
class MarkedCell:
    """A cell the transformer took a ``%%carbon`` line from: that line, its options, the
    first line of the body (the cell's first line in records), ``stop_before_code()``, for a
    Ctrl-C that came while its window opened, and the tracker reserved for it when its
    options were checked (``Session.reserve``)."""

    magic_line: str
    options: TrackOptions
    first_line: str
    stop_before_code: Callable[[], None]
    reserved: tuple[Any, Any]

    def is_cell(self, raw_cell: str) -> bool:
        """True if ``raw_cell`` (as ``pre_run_cell`` sees it) is the cell that was marked."""
        return raw_cell.lstrip("\n").startswith(self.magic_line)


class TrackedCells:
    """The input transformer of ``%%carbon`` cells (see the module docstring) for one shell.

    ``session.mark(MarkedCell)`` is told about the cell about to run. Transforms inside a
    running cell (``pre_execute`` to ``post_execute``, counted for nesting) are left alone.
    """

    def __init__(self, shell: Any, session: Any):
        self.shell = shell
        self.session = session
        self._running_cells = 0

    def attach(self) -> None:
        self.shell.input_transformers_cleanup.append(self.transform)
        self.shell.events.register("pre_execute", self._cell_started)
        self.shell.events.register("post_execute", self._cell_ended)

    def detach(self) -> None:
        if self.transform in self.shell.input_transformers_cleanup:
            self.shell.input_transformers_cleanup.remove(self.transform)
        self._forget_stop()
        unregister_events(self.shell.events, zip(_EVENTS, (self._cell_started, self._cell_ended)))

    def _cell_started(self) -> None:
        self._running_cells += 1

    def _cell_ended(self) -> None:
        self._running_cells = max(self._running_cells - 1, 0)  # an empty cell has no pre_execute
        self._forget_stop()  # a cell that did not compile never reached it

    def stop_before_code(self) -> None:
        """The cell about to be compiled stops before its code, with a KeyboardInterrupt."""
        self.shell.ast_transformers.append(_STOP)

    def _forget_stop(self) -> None:
        while _STOP in self.shell.ast_transformers:
            self.shell.ast_transformers.remove(_STOP)

    def transform(self, lines: list[str]) -> list[str]:
        """IPython's cleanup stage: a top-level ``%%carbon`` cell's lines without its magic line."""
        if not lines or not lines[0].startswith("%%carbon") or self._running_cells:
            return lines
        match = _MAGIC_LINE.match(lines[0])
        if match is None:
            return lines
        checked = self._options(match.group(1) or "")
        if checked is None:
            return lines
        body = lines[1:]
        magic_line = lines[0].rstrip("\r\n")
        self.session.mark(MarkedCell(magic_line, checked[0], first_line("".join(body)), self.stop_before_code, checked[1]))
        first = next((index for index, line in enumerate(body) if line.strip()), len(body))
        if first < len(body) and body[first].startswith("%%"):
            return body[first:]  # another cell magic: it must be the first line to be one
        return ["\n", *body]

    # IPython's check_complete (a terminal deciding whether a cell is complete) skips
    # transformers with side effects: a %%carbon cell then ends at a blank line, as every
    # cell magic does.
    transform.has_side_effects = True  # type: ignore[attr-defined]  # a flag IPython reads off the function

    def _options(self, text: str) -> tuple[TrackOptions, Any] | None:
        """The line's options, expanded as IPython expands a cell magic's line, and the tracker
        reserved for them; None if invalid."""
        try:
            options, _ = parse_options(_expand(self.shell, text), "%%carbon")
            return options, self.session.reserve(options)
        except Exception:  # UsageError, ConfigError or worse: never an error before the cell
            return None  # the cell magic runs instead, says what is wrong, and runs nothing


def _expand(shell: Any, text: str) -> str:
    """``$name`` and ``{expression}`` in a magic line, as ``InteractiveShell.var_expand`` does."""
    if "$" not in text and "{" not in text:
        return text
    try:
        return DollarFormatter().vformat(text, args=[], kwargs=shell.user_ns)
    except Exception:  # as IPython: a line that does not expand is used as written
        return text


class _StopCell:
    """IPython AST transformer, registered for one cell: its code is a KeyboardInterrupt."""

    def visit(self, tree: ast.Module) -> ast.Module:
        stop = ast.Raise(exc=ast.Name("KeyboardInterrupt", ast.Load()), cause=None)
        return ast.fix_missing_locations(ast.Module(body=[stop], type_ignores=[]))


_STOP = _StopCell()
