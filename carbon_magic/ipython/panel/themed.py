"""Displays by id, and those drawn in the front end's theme redrawn in place when it changes.

Images (the frozen panel's chart, ``%carbon panel``'s bars) and plotly figures (``%carbon
plot``) carry their colours; CSS variables cannot reach them. Each such display has a display id and a ``render(theme)``
giving its bundle; when the front end reports another theme (``FrontEnd.on_theme_change``),
the latest MAX_DISPLAYS of them are redrawn on the panel lane, coalesced, off the kernel's
thread. A notebook saved afterwards keeps the theme it was last shown in.

JupyterLab and Notebook 7 hand a display update to the renderer already shown when its
preferred MIME type is unchanged, and plotly's renderer ignores a model once it has drawn a
graph; a plotly display (``fresh=True``) is therefore redrawn in two updates: a line of text
(another MIME type: the output gets a new renderer), then the figure.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import TYPE_CHECKING, Any, Callable

from ...runtime import current_runtime

if TYPE_CHECKING:
    from ..frontend import FrontEnd

LANE = "panel"  # the output lane of the panels' displays and updates
MAX_DISPLAYS = 16  # the latest displays follow the theme; older ones keep the one they were drawn in
Render = Callable[[str | None], dict]
REDRAWING = {"text/plain": "carbon_magic: redrawing in the new theme"}


def publish(shell: Any, bundle: dict, display_id: str, update: bool) -> None:
    """Display ``bundle`` (or replace the display ``display_id``) through ``shell``'s publisher."""
    shell.display_pub.publish(data=bundle, metadata={}, transient={"display_id": display_id}, update=update)


class ThemedDisplays:
    """The displays of one extension that follow the theme (see the module docstring)."""

    def __init__(self, shell: Any, frontend: "FrontEnd"):
        self.shell = shell
        self.frontend = frontend
        self._lock = threading.Lock()
        self._renders: OrderedDict[str, tuple[Render, bool]] = OrderedDict()
        frontend.on_theme_change(self._theme_changed)

    def show(self, display_id: str, render: Render, fresh: bool = False) -> None:
        """Display ``render(theme)`` in the current output (a new display, or again); ``fresh``:
        its redraws need a new renderer (see the module docstring)."""
        self._remember(display_id, render, fresh)
        publish(self.shell, render(self.frontend.theme), display_id, update=False)

    def follow(self, display_id: str, render: Render) -> None:
        """Redraw the display ``display_id`` (shown by the caller) with ``render`` from now on."""
        self._remember(display_id, render, False)

    def update(self, display_id: str, render: Render) -> None:
        """Replace the display ``display_id`` wherever it is shown."""
        self._remember(display_id, render, False)
        publish(self.shell, render(self.frontend.theme), display_id, update=True)

    def close(self) -> None:
        """Redraw nothing any more (extension unload)."""
        with self._lock:
            self._renders.clear()

    def _remember(self, display_id: str, render: Render, fresh: bool) -> None:
        with self._lock:
            self._renders[display_id] = (render, fresh)
            self._renders.move_to_end(display_id)
            while len(self._renders) > MAX_DISPLAYS:
                self._renders.popitem(last=False)

    def _theme_changed(self, theme: str) -> None:
        current_runtime().lanes.lane(LANE).enqueue("themed displays", self._redraw, (), key=self)

    def _redraw(self) -> None:
        with self._lock:
            renders = list(self._renders.items())
        for display_id, (render, fresh) in renders:
            bundle = render(self.frontend.theme)
            if fresh:
                publish(self.shell, REDRAWING, display_id, update=True)
            publish(self.shell, bundle, display_id, update=True)
