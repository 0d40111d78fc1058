"""Where carbon_magic's warnings go in IPython: never into whichever cell happens to run.

Without a handler, Python's logging writes a logger's warnings to ``sys.stderr``, which in a
kernel is the output of the cell that runs when the warning is made. While the extension is
loaded, a LogRoute handles the ``carbon_magic`` logger's warnings instead:

- made on the kernel's main thread, a warning belongs to what the user is doing there (a
  tracked cell's boundary, a call of theirs) and goes to the cell's stderr, as before;
- made on another thread (sampler, location service, output lanes, telemetry: a problem found
  off the cell's path), it goes to the kernel's own log (ipykernel writes it to the Jupyter
  server's terminal, not to a cell; outside a kernel, stderr, which is no cell's output
  there) and waits for the footnote of the next summary. ``%carbon status`` lists every problem counted.
"""

from __future__ import annotations

import logging
import sys
import threading
from typing import Any

FOOTNOTE_MESSAGES = 3  # the first few background warnings are quoted; the rest are counted


class LogRoute(logging.Handler):
    """The ``carbon_magic`` logger's handler while the extension is loaded (module docstring)."""

    def __init__(self, shell: Any, logger_name: str = "carbon_magic"):
        super().__init__(logging.WARNING)  # the level Python's last-resort handler shows
        self.logger = logging.getLogger(logger_name)
        self._kernel_log: logging.Logger | None = getattr(getattr(shell, "kernel", None), "log", None)
        self._lock = threading.Lock()
        self._unseen: list[str] = []
        self._unseen_count = 0

    def attach(self) -> None:
        self.logger.addHandler(self)

    def detach(self) -> None:
        self.logger.removeHandler(self)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = self.format(record)
            on_main_thread = threading.current_thread() is threading.main_thread()
            if on_main_thread or self._kernel_log is None:
                print(text, file=sys.stderr)  # a terminal's stderr is no cell's output
            else:
                self._kernel_log.log(record.levelno, "%s", text)
            if on_main_thread:
                return
            with self._lock:
                self._unseen_count += 1
                if len(self._unseen) < FOOTNOTE_MESSAGES:
                    self._unseen.append(record.getMessage())
        except Exception:
            self.handleError(record)

    def footnote(self) -> str:
        """The background warnings since the last footnote, in one line ('' if none)."""
        with self._lock:
            messages, count = self._unseen, self._unseen_count
            self._unseen, self._unseen_count = [], 0
        if not count:
            return ""
        more = f" (+{count - len(messages)} more)" if count > len(messages) else ""
        plural = "s" if count > 1 else ""
        return f"{count} background warning{plural}: {' / '.join(messages)}{more}; %carbon status lists them"
