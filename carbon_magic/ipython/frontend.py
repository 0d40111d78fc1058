"""Whether the front end shows Jupyter widgets, decided without importing a widget library.

A kernel cannot ask its front end what it renders, and ipywidgets' own sign of a widget
front end (the ``jupyter.widget.control`` comm that JupyterLab opens when it connects to a
kernel) arrives before ``%load_ext``, when nothing may listen for it without importing
ipywidgets on the load path. So the live panel uses widgets when all of these hold:

1. the shell belongs to a kernel with a comm manager (ipykernel): terminal IPython and a
   plain InteractiveShell have none;
2. ipywidgets (8 or later) and anywidget are installed (looked up, not imported);
3. the kernel was started for a front end that renders widgets: ``JPY_SESSION_NAME``
   (jupyter_server's sessions: JupyterLab, Notebook 7, classic notebook), ``VSCODE_PID``
   (VS Code) or ``COLAB_RELEASE_TAG`` (Colab). Kernels run by nbclient, nbconvert,
   papermill or a bare jupyter_client have none of these and get static summaries (so
   executed notebooks stay free of widget state);
4. and the front end has not failed a check: once the extension is loaded, while the kernel
   is idle, a tiny probe widget is opened whose front-end code answers as soon as the front
   end's widget manager creates it (and reports the light or dark theme). The kernel reads
   the answer when it is idle; a probe still unanswered after the kernel has been idle for
   IDLE_PROOF_S since it was opened turns widgets off for the session (a front end without
   a widget manager then gets the static summaries, never an error). Busy time does not
   count: during "Run all" the answer waits behind the queued cells.

``panel_widgets = "always"`` or ``"never"`` skips the detection.

Colab renders ipywidgets 8 and anywidget only through its custom widget manager: anywidget
(0.9 and later) turns it on when its first widget is made, and the probe, an anywidget, is the
panel's first widget. JupyterLite (Pyodide, in the browser) has no threads and no hardware
access: ``unsupported_runtime`` says why loading stops there.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import threading
import time
from functools import lru_cache
from typing import Any, Callable

IDLE_PROOF_S = 3.0
FRONT_END_ENV = (
    ("JPY_SESSION_NAME", "a Jupyter server session (JupyterLab, Notebook)"),
    ("VSCODE_PID", "VS Code"),
    ("COLAB_RELEASE_TAG", "Colab"),
)


@lru_cache(maxsize=None)
def widget_packages_installed() -> bool:
    """ipywidgets and anywidget can be imported (found on the path, not imported)."""
    return all(importlib.util.find_spec(name) is not None for name in ("ipywidgets", "anywidget"))


def kernel_comms(shell: Any) -> bool:
    """True if ``shell`` runs in a kernel that can talk to widgets (an ipykernel comm manager)."""
    kernel = getattr(shell, "kernel", None)
    return kernel is not None and getattr(kernel, "comm_manager", None) is not None


def front_end_from_environment(environ: Any = os.environ) -> str | None:
    """The widget-rendering front end this kernel was started for, in words (None if unknown)."""
    for name, front_end in FRONT_END_ENV:
        if environ.get(name):
            return front_end
    return None


def unsupported_runtime() -> str | None:
    """Why carbon_magic cannot measure in this Python (one sentence), or None if it can."""
    if sys.platform == "emscripten":
        return ("carbon_magic cannot measure here: JupyterLite runs Python in the browser (Pyodide), "
                "which has no threads and no access to the machine's power counters or load; "
                "open the notebook in a Jupyter kernel (JupyterLab, Notebook, VS Code or Colab) instead.")
    return None


class FrontEnd:
    """What the kernel knows of its front end (see the module docstring). Thread-safe."""

    def __init__(self, shell: Any, clock: Callable[[], float] = time.monotonic):
        self.shell = shell
        self._clock = clock
        self._lock = threading.Lock()
        self.answered = False
        self.theme: str | None = None  # 'light' or 'dark' once the probe says so
        self.refused = False  # the kernel was idle long enough for an answer that never came
        self._probe: Any = None
        self._probe_opened_at: float | None = None
        self._theme_listeners: list[Callable[[str], None]] = []

    def on_theme_change(self, listener: Callable[[str], None]) -> None:
        """Call ``listener(theme)`` (on the thread the probe's answer comes in) whenever the front
        end's theme changes, or its first answer says 'dark' (views drawn before used light)."""
        self._theme_listeners.append(listener)

    # -- the decision (cheap: called on the kernel's thread as a cell starts) ----------------
    def use_widgets(self, mode: str) -> bool:
        """Whether a live panel should be drawn with widgets under ``panel_widgets=mode``."""
        if mode == "never":
            return False
        if not widget_packages_installed():
            return False
        if mode == "always":
            return True
        if not kernel_comms(self.shell):
            return False
        if self.answered:
            return True
        if self.refused:
            return False
        return front_end_from_environment() is not None

    def describe(self, mode: str) -> str:
        """One line for ``%carbon status``."""
        if mode != "auto":
            return f"panel_widgets={mode!r}: " + ("Jupyter widgets" if self.use_widgets(mode) else "static summaries")
        if not widget_packages_installed():
            return "static summaries (ipywidgets or anywidget is not installed)"
        if not kernel_comms(self.shell):
            return "static summaries (not a Jupyter kernel: no widget front end)"
        if self.answered:
            return f"Jupyter widgets (the front end renders them; {self.theme or 'unknown'} theme)"
        front_end = front_end_from_environment()
        if front_end is None:
            return ("static summaries (no widget front end detected: nbclient, nbconvert, papermill or "
                    "an unknown front end; set panel_widgets='always' to force widgets)")
        if self.refused:
            return f"static summaries ({front_end} did not answer the widget probe: widgets are not rendered)"
        return f"Jupyter widgets for {front_end}" + (" (probe sent, answer pending)" if self._probe else "")

    # -- the probe (on the panel's thread, once widget libraries are imported) ---------------
    def open_probe(self, probe_factory: Callable[[Callable[[dict], None]], Any]) -> None:
        """Open the probe once per session: ``probe_factory(on_answer)`` makes the widget."""
        with self._lock:
            if self._probe is not None or self.answered:
                return
            self._probe_opened_at = self._clock()
            self._probe = True  # taken: no second probe while this one is being made
        probe = probe_factory(self.on_answer)
        with self._lock:
            self._probe = probe

    def kernel_was_idle(self, start: float, end: float) -> None:
        """The kernel was idle from ``start`` to ``end`` (clock seconds): time for an answer."""
        with self._lock:
            opened = self._probe_opened_at
            if opened is not None and not self.answered and end - max(start, opened) >= IDLE_PROOF_S:
                self.refused = True

    def on_answer(self, content: dict) -> None:
        """The probe's front-end code answered (once when created, again on theme changes)."""
        found = content.get("theme") if isinstance(content, dict) else None
        theme = found if found in ("light", "dark") else None
        with self._lock:
            self.answered, self.refused = True, False
            changed = theme is not None and theme != (self.theme or "light")
            if theme is not None:
                self.theme = theme
        if changed and theme is not None:
            for listener in self._theme_listeners:
                listener(theme)
