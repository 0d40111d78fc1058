"""What a tracked cell does on the kernel's thread, done once: one configuration lookup for a
``%%carbon`` cell, the summary's figures formatted once for its text and its HTML.

Its cost is measured by benchmarks/magic_overhead.py and kernel_overhead.py (never timed here):
these tests pin the work that was done twice.
"""

from __future__ import annotations

import pytest

pytest.importorskip("IPython")

from carbon_magic.ipython import display  # noqa: E402
from carbon_magic.ipython.extension import get_session  # noqa: E402
from carbon_magic.ipython.pool import TrackerPool  # noqa: E402

from .ipython_helpers import loaded_shell  # noqa: E402


@pytest.fixture
def ip(isolated, monkeypatch):
    shell = loaded_shell(monkeypatch)
    yield shell
    shell.extension_manager.unload_extension("carbon_magic")


def _counting(monkeypatch, owner, name: str) -> list[int]:
    calls: list[int] = []
    real = getattr(owner, name)

    def counted(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(owner, name, counted)
    return calls


def test_a_carbon_cell_looks_up_its_configuration_once(ip, monkeypatch):
    """The options checked as the ``%%carbon`` line is taken off give the tracker the window
    opens with: the configuration's fingerprint (environment, two config files) is taken once."""
    ip.run_cell("%%carbon --quiet\nx = 1", store_history=True)  # the first builds the tracker
    lookups = _counting(monkeypatch, TrackerPool, "_entry")
    for _ in range(3):
        ip.run_cell("%%carbon --quiet\nx = 1", store_history=True)
    assert len(lookups) == 3
    assert len(get_session(ip).records) == 4


def test_a_marked_cell_that_does_not_run_gives_its_reserved_tracker_back(ip):
    """A ``%%carbon`` cell transformed but not run (another cell runs instead) leaves its
    tracker to the pool, and is not tracked."""
    session = get_session(ip)
    ip.run_cell("%%carbon --quiet\nx = 1", store_history=True)
    (entry,) = session.pool._entries.values()
    idle = list(entry.idle)
    assert len(idle) == 1
    ip.transform_cell("%%carbon --quiet\nx = 2\n")  # marks the cell, reserves the tracker
    assert entry.idle == []
    ip.run_cell("y = 3", store_history=True)
    assert entry.idle == idle and len(session.records) == 1


def test_the_summary_formats_each_figure_once(ip, monkeypatch, capsys):
    durations = _counting(monkeypatch, display, "duration")
    energies = _counting(monkeypatch, display, "energy_text")
    ip.run_cell("%%carbon\nx = 1", store_history=True)
    record = get_session(ip).records[-1]
    assert len(durations) == len(energies) == 1
    assert display.summary_views(record) == (display.summary_text(record), display.summary_html(record))


def test_a_record_final_at_once_is_weighed_once_by_the_running_totals(ip, monkeypatch):
    """A record whose figures are final when the cell ends is counted in the session's totals
    once: its final call does not weigh the same record again."""
    from carbon_magic.ipython import totals

    shares = _counting(monkeypatch, totals.Share, "of")
    ip.run_cell("%%carbon --quiet\nx = 1", store_history=True)
    assert len(shares) == 1  # the session panel's totals
    assert get_session(ip).records[-1].provisional is False
