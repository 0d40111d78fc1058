"""``%carbon panel``: the kernel's totals and a per-cell bar chart that grows as cells finish.

One static display per kernel (text, HTML with the chart as a PNG), shown by ``%carbon panel`` (again, in any cell:
every display of it has the same display id) and replaced in place, on the panel lane,
coalesced, off the cell's thread, whenever a record becomes final or the front end's theme
changes (``themed.py``; ``%carbon plot``'s figures follow the theme the same way). What a saved notebook,
nbconvert or GitHub shows is therefore always the last state, with no widget model to go
missing when the notebook is reopened. The totals are kept per record (``totals``) and the
bars are the latest MAX_BARS: an update costs the same in a session of 100,000 records.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from ...runtime import current_runtime
from .live_panel import LivePanel
from ..options import NO_OPTIONS
from .themed import LANE
from ..totals import RunningTotals

if TYPE_CHECKING:
    from ...core.record import EmissionsData
    from .plot import PlotFigure
    from ..records import CellRecord
    from ..session import Session


class SessionPanel:
    """The session panel of one extension (a Session listener; see the module docstring)."""

    def __init__(self, shell: Any, session: "Session", live_panel: LivePanel):
        self.shell = shell
        self.session = session
        self.live_panel = live_panel  # its front end knows the notebook's theme
        self.themed = live_panel.themed  # the bars and the plots follow the theme
        self.display_id: str | None = None  # set once shown
        self.equivalents = True
        self.totals = RunningTotals()  # every record since the extension loaded, O(1) each

    def show(self) -> None:
        """``%carbon panel`` (kernel thread): display the panel in this cell's output."""
        self.equivalents = self.session.pool.config(NO_OPTIONS)["panel_equivalents"]
        if self.display_id is None:
            self.display_id = f"carbon-magic-session-{os.urandom(16).hex()}"
        self.themed.show(self.display_id, self.bundle)

    def bundle(self, theme: str | None = None) -> dict[str, str]:
        from .session_view import MAX_BARS, session_bundle  # drawing is imported when first drawn

        # The latest MAX_BARS records: a slice, whose cost does not grow with the session.
        return session_bundle(self.totals.totals(), self.session.records[-MAX_BARS:], self.equivalents, theme)

    def plot(self) -> "PlotFigure":
        """``%carbon plot``: the records' figure in the front end's theme, following it."""
        from .plot import figure

        return figure(self.session.records, self.live_panel.frontend.theme, self.themed)

    def cell_finished(self, record: "CellRecord", data: "EmissionsData") -> None:
        self.totals.cell_finished(record)

    def cell_finalized(self, record: "CellRecord", data: "EmissionsData") -> None:
        """A record is final: replace the shown panel (if any) on the panel lane, coalesced."""
        self.totals.cell_finalized(record)
        if self.display_id is not None:
            current_runtime().lanes.lane(LANE).enqueue("session panel update", self._refresh, (), key=self)

    def _refresh(self) -> None:
        display_id = self.display_id
        if display_id is not None:
            self.themed.update(display_id, self.bundle)

    def close(self) -> None:
        self.display_id = None
