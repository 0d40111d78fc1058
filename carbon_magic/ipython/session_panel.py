"""``%carbon panel``: the kernel's totals and a per-cell bar chart that grows as cells finish.

With a widget front end (see ``frontend.py``) the panel is one set of widgets per kernel:
``%carbon panel`` shows it (again, in any cell: each display is a view of the same
widgets), and every finished record updates it on the panel lane, coalesced, off the
cell's thread. The displayed bundle also carries a static HTML snapshot (the totals and
bars when it was shown) for front ends without widgets, nbconvert and GitHub. Without a
widget front end, ``%carbon panel`` shows that static snapshot.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..outputs.worker import lane
from .live_panel import LANE, LivePanel
from .options import NO_OPTIONS
from .route import Route
from .session_view import MAX_BARS, session_bundle
from .totals import RunningTotals

if TYPE_CHECKING:
    from ..core.record import EmissionsData
    from .records import CellRecord
    from .session import Session


class SessionPanel:
    """The session panel of one extension (a Session listener; see the module docstring)."""

    def __init__(self, shell: Any, session: "Session", live_panel: LivePanel):
        self.shell = shell
        self.session = session
        self.live_panel = live_panel
        self.view: Any = None
        self.equivalents = True
        self.totals = RunningTotals()  # every record since the extension loaded, O(1) each

    def show(self) -> None:
        """``%carbon panel`` (kernel thread): display the panel in this cell's output."""
        config = self.session.pool.config(NO_OPTIONS)
        self.equivalents = config["panel_equivalents"]
        totals, recent = self.totals.totals(), self.recent()
        static = session_bundle(totals, recent, self.equivalents)
        if not self.live_panel.frontend.use_widgets(config["panel_widgets"]):
            self.shell.display_pub.publish(data=static, metadata={})
            return
        module = self.live_panel.widgets.load()  # the user asked: worth the first import here
        self.live_panel.prepare_probe(Route(self.shell))
        if self.view is None:
            self.view = module.SessionView(self.live_panel.frontend.theme)
        self.view.show(totals, recent, self.equivalents)
        self.shell.display_pub.publish(data=self.view.bundle(static), metadata={})

    def recent(self) -> list["CellRecord"]:
        """The latest MAX_BARS records (a slice: its cost does not grow with the session)."""
        return self.session.records[-MAX_BARS:]

    def cell_finished(self, record: "CellRecord", data: "EmissionsData") -> None:
        self.totals.cell_finished(record)

    def cell_finalized(self, record: "CellRecord", data: "EmissionsData") -> None:
        """A record is final: refresh the panel (if shown) on the panel lane, coalesced."""
        self.totals.cell_finalized(record)
        if self.view is not None:
            lane(LANE).enqueue("session panel update", self._refresh, (), key=self)

    def _refresh(self) -> None:
        self.view.show(self.totals.totals(), self.recent(), self.equivalents)

    def close(self) -> None:
        if self.view is not None:
            for widget in (self.view.box, self.view.figure, self.view.header):
                widget.close()
            self.view = None
