"""The sidebar's kernel history (ipython/sidebar/history.py) against a real session's windows."""

from __future__ import annotations

import pytest

pytest.importorskip("IPython")

from carbon_magic.ipython.extension import get_session  # noqa: E402
from carbon_magic.ipython.options import NO_OPTIONS  # noqa: E402
from carbon_magic.ipython.sidebar.history import KernelHistory  # noqa: E402

from .ipython_helpers import loaded_shell  # noqa: E402
from .polling import eventually  # noqa: E402


@pytest.fixture
def ip(isolated, monkeypatch):
    shell = loaded_shell(monkeypatch)
    yield shell
    shell.extension_manager.unload_extension("carbon_magic")


def test_a_state_never_drops_a_window_whose_tracker_stopped_before_its_record_came(ip):
    """Between a window's tracker stopping and the session telling its record (the kernel's
    thread closing a cell while the sampler's thread builds a state), the window is still
    listed as running but has no figures so far: a state then would show the totals without
    that cell's energy, less than the state before. No state is made then (the next one is)."""
    session = get_session(ip)
    history = KernelHistory()
    window = session.open("cell", NO_OPTIONS, session.cell)  # as pre_run_cell opens a cell's window
    history.cell_started(window)
    assert eventually(lambda: (history.state({}) or {"totals": {"energy_wh": 0}})["totals"]["energy_wh"] > 0)
    before = history.state({})
    assert before is not None and before["totals"]["energy_wh"] > 0 and before["running"]
    window.tracker.stop(wait=False)  # what Session.close does first, before telling listeners
    during = history.state({})
    assert during is None, during["totals"]
    session.close(window, "ok")  # its tracker already stopped: nothing more is recorded


def test_a_window_whose_record_never_comes_stops_holding_states_back(ip, monkeypatch):
    """A window whose tracker stopped but whose record never came (its tracker failed while
    stopping) holds states back only FINISHING_WAIT_S; then it is no longer running."""
    from carbon_magic.ipython.sidebar import history as history_module

    session = get_session(ip)
    history = KernelHistory()
    window = session.open("cell", NO_OPTIONS, session.cell)
    history.cell_started(window)
    window.tracker.stop(wait=False)
    assert history.state({}) is None
    monkeypatch.setattr(history_module, "FINISHING_WAIT_S", 0.0)
    assert eventually(lambda: history.state({}) is not None)
    assert history.state({})["running"] == []
    session.close(window, "ok")
