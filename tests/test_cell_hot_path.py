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


def test_a_cells_record_takes_each_figure_from_its_own_field(ip):
    """CellRecord.finished builds the record positionally (issue 17): every field still comes
    from its own EmissionsData field, each given a value of its own here so a swap shows."""
    import dataclasses

    from carbon_magic.core.record import EmissionsData
    from carbon_magic.ipython.options import NO_OPTIONS
    from carbon_magic.ipython.records import FOOTPRINT_FROM_DATA, CellInfo, CellRecord, TrackedWindow, measured_kinds

    data = EmissionsData(**{f.name: float(index) if "float" in str(f.type) else f"text {index}"
                            for index, f in enumerate(dataclasses.fields(EmissionsData)) if f.name != "extra"})
    data.provisional, data.tracking_mode = True, "process"
    pool = get_session(ip).pool
    tracker, _ = pool.acquire(NO_OPTIONS)
    window = TrackedWindow("cell", "[3]", CellInfo(3, "id-3", "x = 1"), tracker, 12.5, True, False, None)
    record = CellRecord.finished(window, "failed", data, "first", "source")
    pool.release(tracker)
    from_data = {"run_id": "run_id", "duration_s": "duration", "cpu_energy_kwh": "cpu_energy",
                 "gpu_energy_kwh": "gpu_energy", "ram_energy_kwh": "ram_energy", "energy_kwh": "energy_consumed",
                 "emissions_kg": "emissions", "water_l": "water_consumed", "cpu_power_w": "cpu_power",
                 "gpu_power_w": "gpu_power", "ram_power_w": "ram_power", "intensity_g_per_kwh": "intensity_g_per_kwh",
                 "provisional": "provisional", "platform_energy_kwh": "platform_energy",
                 "platform_power_w": "platform_power", "energy_low_kwh": "energy_low",
                 "energy_high_kwh": "energy_high", "emissions_low_kg": "emissions_low",
                 "emissions_high_kg": "emissions_high", "cluster_energy_kwh": "cluster_energy",
                 "cluster_emissions_kg": "cluster_emissions", "cluster_hosts": "cluster_hosts",
                 "cluster_missing": "cluster_missing", **FOOTPRINT_FROM_DATA}
    assert {name: getattr(record, name) for name in from_data} == {
        name: getattr(data, field) for name, field in from_data.items()}
    assert (record.kind, record.label, record.execution_count, record.cell_id, record.first_line, record.status,
            record.started_at, record.intensity_source, record.machine_wide) == (
        "cell", "[3]", 3, "id-3", "first", "failed", 12.5, "source", False)
    assert record.bands == tuple(tracker.sampler.bands().items())
    assert record.measured_kinds == measured_kinds(tracker.components, tracker.sampler.measured)
    assert len(from_data) + 11 == len(dataclasses.fields(CellRecord))  # the 11 above: every field checked
    assert hash(record) == hash(dataclasses.replace(record))
