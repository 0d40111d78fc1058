"""Apple silicon's energy on simulated macOS (run by tests/test_simulated_platforms.py in the
macOS run only): the IOReport counters of tests/fakes/fake_ioreport.py (the shim's
``ctypes.CDLL``), the fake powermetrics of tests/platforms/bin, each taken away in turn."""

from __future__ import annotations

import pytest

from tests.test_cpu_identity import status_output

pytestmark = pytest.mark.usefixtures("patient_powermetrics")  # tests/apple_support.py: a loaded machine is slow


def tracked_cell_record(monkeypatch):
    """The record of a %%carbon cell of half a second in a fresh shell with carbon_magic loaded."""
    from carbon_magic.ipython.extension import get_session
    from tests.ipython_helpers import loaded_shell

    shell = loaded_shell(monkeypatch)
    try:
        assert shell.run_cell("%%carbon --quiet\nimport time\ntime.sleep(0.5)\n").success
        return get_session(shell).records[-1]
    finally:
        shell.extension_manager.unload_extension("carbon_magic")


def test_a_tracked_cells_record_has_the_energy_of_the_ioreport_counters(isolated, monkeypatch):
    """The fake counters' watts (tests/fakes/fake_ioreport.py M2_PRO), the ANE's in the CPU's."""
    record = tracked_cell_record(monkeypatch)
    assert record.cpu_power_w == pytest.approx(4.0 + 0.5, rel=0.02)
    assert record.gpu_power_w == pytest.approx(2.0, rel=0.02)
    assert record.ram_power_w == pytest.approx(1.0, rel=0.02)
    assert record.measured_kinds == {"cpu", "gpu", "ram"}


def test_without_ioreport_powermetrics_measures_what_it_reports(isolated, monkeypatch, capsys):
    """As root (the simulated run's user) the fake powermetrics runs without sudo; it has no DRAM."""
    monkeypatch.setenv("SIMULATED_IOREPORT", "absent")
    out = status_output(monkeypatch, capsys)
    for component, key in (("cpu", "cpu_energy"), ("gpu:0", "gpu_energy"), ("cpu:ane", "ane_energy")):
        assert f"  {component}: measured: powermetrics energy per 100 ms sample (a reading lags by up to one sample) ({key} (mJ))\n" in out
    [ram] = [line for line in out.splitlines() if line.startswith("  ram: modelled: ")]
    assert ram.endswith("no DRAM energy channel here")
    record = tracked_cell_record(monkeypatch)
    assert record.gpu_power_w > 0 and record.measured_kinds == {"cpu", "gpu"}


def test_without_ioreport_or_powermetrics_the_model_says_why(isolated, monkeypatch, capsys):
    monkeypatch.setenv("SIMULATED_IOREPORT", "absent")
    monkeypatch.setenv("SIMULATED_POWERMETRICS", "refuses")
    out = status_output(monkeypatch, capsys)
    assert any(line.startswith("  cpu, ram, platform: modelled: SPECpower machine model") for line in out.splitlines())
    assert "gpu:0" not in out and "cpu:ane" not in out
    assert ("note: No Apple silicon energy counter usable (IOReport: no IOReport library (/usr/lib/libIOReport.dylib: "
            "cannot open shared object file: No such file or directory); powermetrics: powermetrics gave no sample "
            "(exit status 1: powermetrics must be invoked as the superuser)): using the machine model.") in out
