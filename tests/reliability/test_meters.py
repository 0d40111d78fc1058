"""Meters failing while cells run: RAPL counters vanishing, unreadable or going backwards,
NVIDIA GPUs lost and back (driver resets), a meter raising at every call, wall-clock jumps.

Hardware these machines lack is faked where it is read (a powercap tree advanced by a writer
process, a fake ``pynvml``); everything else is real: an IPython shell, the extension, the
sampler thread, the output lanes and the CSV files.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from carbon_magic.core.sampler import settler
from carbon_magic.runtime import current_runtime
from tests.fakes.fake_pynvml import FakeGpu, install
from tests.fakes.powercap import RaplWriter, make_tree
from tests.fakes.profiles import Constant

from .harness import problem_lines, whole_rows
from .privileges import DROP_FILE_PRIVILEGES

J_PER_KWH = 3.6e6
TRACKED = "%%carbon --quiet --measure-power-secs 0.05\n"


def set_counter(path, microjoules: int) -> None:
    """Write a RAPL counter in place, as the kernel does (a reader never sees half a value)."""
    fd = os.open(path, os.O_WRONLY)
    try:
        os.pwrite(fd, b"%020d\n" % microjoules, 0)
    finally:
        os.close(fd)


def wait_final(notebook, timeout_s: float = 5.0):
    """The session's last record once its GPU counters have settled."""
    deadline = time.monotonic() + timeout_s
    while notebook.records[-1].provisional and time.monotonic() < deadline:
        time.sleep(0.02)
    return notebook.records[-1]


# -- RAPL --------------------------------------------------------------------------------------


def test_rapl_files_vanishing_mid_cell(open_notebook, tmp_path, figures):
    """RAPL files removed while a cell runs: the cell gives its value, the energy measured
    before is kept and the CPU model counts on; status names the failed meter and the switch."""
    figures.fault("powercap tree deleted (shutil.rmtree) from inside the tracked cell")
    domains = make_tree(tmp_path / "powercap")
    with RaplWriter({"package": (domains["package-0"], Constant(30.0))}):
        notebook = open_notebook(CODECARBON_POWERCAP_ROOT=str(tmp_path / "powercap"),
                                 CODECARBON_FORCE_CPU_POWER="50")
        notebook.shell.user_ns["tree"] = str(tmp_path / "powercap")
        notebook.run(TRACKED + "import shutil, time\ntime.sleep(0.3)\nshutil.rmtree(tree)\ntime.sleep(0.3)\n6 * 7",
                     expect=42)
        notebook.run(TRACKED + "sum(range(1000))", expect=sum(range(1000)))
    vanished, after = notebook.records
    assert vanished.cpu_energy_kwh * J_PER_KWH >= 0.9 * 30.0 * 0.3  # RAPL's part is kept
    assert after.cpu_energy_kwh > 0  # the model counts on
    status = notebook.status()
    assert "cpu: switched to TDP model" in status
    assert any(line.startswith("cpu meter: FileNotFoundError") for line in problem_lines(status))
    notebook.rows_are_whole()


def test_rapl_counter_going_backwards(open_notebook, tmp_path, figures):
    """A RAPL counter reset (not a wrap) mid-cell counts 0 J for that interval, never a
    negative or huge figure; status counts it."""
    figures.fault("energy_uj rewritten lower (a reset) from inside the tracked cell")
    start_uj = 1_000_000_000
    domains = make_tree(tmp_path / "powercap", start_uj=start_uj)
    notebook = open_notebook(CODECARBON_POWERCAP_ROOT=str(tmp_path / "powercap"))
    notebook.shell.user_ns.update(counter=str(domains["package-0"] / "energy_uj"), set_counter=set_counter,
                                  start_uj=start_uj)
    notebook.run(TRACKED + "import time\nset_counter(counter, start_uj + 5_000_000)\ntime.sleep(0.25)\n"
                 "set_counter(counter, 1_000)\ntime.sleep(0.25)\nset_counter(counter, 3_001_000)\n"
                 "time.sleep(0.25)\n'done'", expect="done")
    [record] = notebook.records
    assert record.cpu_energy_kwh * J_PER_KWH == pytest.approx(8.0)  # 5 J, the reset 0 J, then 3 J
    assert any(line.startswith("cpu meter: CounterWentBackwards x1") for line in problem_lines(notebook.status()))
    notebook.rows_are_whole()


def test_rapl_counters_unreadable_mid_cell(isolated, tmp_path, figures, kernel_notebook):
    """RAPL counters that become unreadable (EACCES) while a cell runs in a real kernel: the
    cell gives its value, the CPU model takes over, status says why."""
    figures.fault("energy_uj chmod 000 mid-cell in a kernel without CAP_DAC_OVERRIDE (a real EACCES)")
    domains = make_tree(tmp_path / "powercap")
    counter = domains["package-0"] / "energy_uj"
    with RaplWriter({"package": (domains["package-0"], Constant(30.0))}):
        kernel = kernel_notebook(CODECARBON_POWERCAP_ROOT=str(tmp_path / "powercap"), CODECARBON_FORCE_CPU_POWER="50")
        kernel.run(DROP_FILE_PRIVILEGES)
        kernel.run("%load_ext carbon_magic")
        kernel.run(TRACKED + f"import os, time\ntime.sleep(0.3)\nos.chmod({str(counter)!r}, 0)\n"
                   "time.sleep(0.3)\nprint('cell', 6 * 7)", expect_output="cell 42")
        status = kernel.run("%carbon status")
    assert "cpu: switched to TDP model" in status
    assert "cpu meter: PermissionError" in status
    kernel.rows_are_whole(isolated, count=1)


# -- NVIDIA GPUs -----------------------------------------------------------------------------


@pytest.fixture
def gpu(monkeypatch):
    """One fake GPU at a constant 300 W, its counter stepping every 10 ms."""
    current_runtime().samplers.close()
    fake = install(monkeypatch, [FakeGpu(Constant(300.0), update_s=0.01)])
    return fake.gpus[0]


def test_gpu_lost_then_back_mid_cell(open_notebook, gpu, figures):
    """A GPU lost mid-cell then back (a driver reset): the cell gives its value, the GPU's
    energy over the whole cell is counted from its counter once it answers again; status
    counts the NVML errors."""
    figures.fault("fake NVML raises NVMLError(GPU is lost) for 0.4 s inside the tracked cell")
    notebook = open_notebook()
    notebook.shell.user_ns["gpu"] = gpu
    notebook.run(TRACKED + "import time\ntime.sleep(0.3)\ngpu.lost = True\ntime.sleep(0.4)\ngpu.lost = False\n"
                 "time.sleep(0.3)\n'trained'", expect="trained")
    record = wait_final(notebook)
    assert not record.provisional
    assert record.gpu_energy_kwh * J_PER_KWH == pytest.approx(300.0 * record.duration_s, rel=0.05)
    assert any(line.startswith("gpu:0 ") and "NVMLError" in line for line in problem_lines(notebook.status()))
    notebook.rows_are_whole()


def test_gpu_counter_reset_mid_cell(open_notebook, gpu, figures):
    """A GPU whose energy counter restarts from zero mid-cell (driver reloaded): counting
    goes on from the new counter; the reset costs at most one counter step, and status counts it."""
    figures.fault("fake NVML energy counter restarted from 0 inside the tracked cell")
    notebook = open_notebook()
    notebook.shell.user_ns["gpu"] = gpu
    notebook.run(TRACKED + "import time\ntime.sleep(0.4)\ngpu.start_mj -= gpu.counter_mj(time.monotonic())\n"
                 "time.sleep(0.6)\n'trained'", expect="trained")
    record = wait_final(notebook)
    assert record.gpu_energy_kwh * J_PER_KWH == pytest.approx(300.0 * record.duration_s, rel=0.05)
    assert any(line.startswith("gpu:0 meter: CounterWentBackwards") for line in problem_lines(notebook.status()))
    notebook.rows_are_whole()


def test_meter_raising_on_every_call(open_notebook, gpu, figures, caplog):
    """A meter that raises at every call (a GPU lost for good): every cell gives its value and
    a whole record of the other components; the failure is logged once and counted each time."""
    figures.fault("fake NVML raises NVMLError(GPU is lost) at every call, for 12 cells")
    notebook = open_notebook()
    gpu.lost = True
    for index in range(12):
        notebook.run(f"%%carbon --quiet\nx = {index} * 2\nx", expect=index * 2)
    for record in notebook.records:
        assert record.cpu_energy_kwh > 0 and record.ram_energy_kwh > 0 and record.gpu_energy_kwh == 0
    counted = [line for line in problem_lines(notebook.status()) if line.startswith("gpu:0 meter: NVMLError")]
    assert counted and int(counted[0].split(" x", 1)[1].split(":", 1)[0]) >= 12
    logged = [r for r in caplog.records if "gpu:0 meter failed" in r.getMessage()]
    assert len(logged) == 1
    time.sleep(settler.SETTLE_TIMEOUT_S + 0.5)  # records of unsettled GPUs are final by then
    notebook.rows_are_whole()


# -- clocks --------------------------------------------------------------------------------------


def test_wall_clock_jumps(open_notebook, figures):
    """The wall clock moved by hours (time.time) while the monotonic clock is steady:
    durations do not change, timestamps follow the wall clock, and status says it jumped."""
    figures.fault("time.time moved +5 h, then -10 h mid-cell, then restored (monotonic untouched)")
    notebook = open_notebook()
    notebook.run("import time\nreal_time = time.time\nshift = [0.0]\ntime.time = lambda: real_time() + shift[0]")
    try:
        notebook.run("%carbon start across --quiet")
        notebook.run(TRACKED + "time.sleep(0.2)\n'before'", expect="before")
        notebook.run("shift[0] = 5 * 3600")
        notebook.run(TRACKED + "time.sleep(0.2)\n'ahead'", expect="ahead")
        notebook.run(TRACKED + "time.sleep(0.1)\nshift[0] = -5 * 3600\ntime.sleep(0.1)\n'back'", expect="back")
        notebook.run("%carbon stop across")
    finally:
        notebook.run("time.time = real_time")
    before, ahead, back, across = notebook.records
    for record in (before, ahead, back):
        assert 0.19 <= record.duration_s < 0.5, record
    assert across.duration_s < 5
    notebook.drain()
    stamps = {row["run_id"]: time.mktime(time.strptime(row["timestamp"], "%Y-%m-%dT%H:%M:%S"))
              for row in whole_rows(Path("emissions.csv"))}
    assert stamps[ahead.run_id] - stamps[before.run_id] == pytest.approx(5 * 3600, abs=5)
    assert stamps[back.run_id] - stamps[before.run_id] == pytest.approx(-5 * 3600, abs=5)
    assert any(line.startswith("wall clock: ClockJump") for line in problem_lines(notebook.status()))
    notebook.rows_are_whole()
