"""Checks that only mean something on a simulated platform (run by tests/test_simulated_platforms.py
in a process made to look like Windows or macOS by tests/platforms/shim)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from carbon_magic.core.file_lock import lock
from carbon_magic.core.record import CSV_COLUMNS
from carbon_magic.outputs.csv_file import LockedFile, append_rows, encode_rows
from tests.test_cpu_identity import status_output
from tests.test_csv import read, row

PLATFORM = os.environ["SIMULATED_PLATFORM"]
# what %carbon status must say about the CPU on each simulated platform (the shim's answers)
EXPECTED_CPU = {
    "windows": ("CPU: 11th Gen Intel(R) Core(TM) i7-1185G7 @ 3.00GHz (registry ProcessorNameString)",
                "CPU table: Intel Core i7-1185G7;"),
    "macos": ("CPU: Apple M2 Pro, 8 performance + 4 efficiency cores (sysctl machdep.cpu.brand_string)",
              "CPU table: Apple M2 Pro;"),
}
# what the fake IOReport's M2 Pro reports: component -> its "Energy Model" channel
IOREPORT_CHANNELS = {"cpu": "CPU Energy", "ram": "DRAM", "gpu:0": "GPU Energy", "cpu:ane": "ANE"}
SECOND_WRITER = """
import sys
from pathlib import Path
from carbon_magic.core.file_lock import lock
from carbon_magic.outputs.csv_file import append_rows
from carbon_magic.core.record import CSV_COLUMNS
from tests.test_csv import row
path = Path(sys.argv[1])
fd = __import__("os").open(path, __import__("os").O_RDWR)
try:
    lock(fd, wait=False)
    print("not locked", flush=True)
except OSError:
    print("locked", flush=True)
append_rows(path, CSV_COLUMNS, [row("second")])
print("written", flush=True)
"""


def test_the_platform_is_simulated():
    import platform

    assert sys.platform == {"windows": "win32", "macos": "darwin"}[PLATFORM]
    assert platform.system() == {"windows": "Windows", "macos": "Darwin"}[PLATFORM]
    with pytest.raises(FileNotFoundError):
        open("/proc/cpuinfo")
    if PLATFORM == "windows":
        assert not hasattr(os, "pread") and not hasattr(os, "register_at_fork")
        with pytest.raises(ImportError):
            import fcntl  # noqa: F401


def test_status_names_the_cpu_and_how_it_is_measured(isolated, monkeypatch, capsys):
    out = status_output(monkeypatch, capsys)
    identity, table_row = EXPECTED_CPU[PLATFORM]
    # the name the OS gives, then how: the machine model for what no counter measures (all but
    # the platform on Apple silicon, by IOReport), said once for the components it covers, with
    # the CPU's table row it was found in
    modelled = "platform" if PLATFORM == "macos" else "cpu, ram, platform"
    [basis] = [line for line in out.splitlines() if line.strip().startswith(f"{modelled}: modelled: ")]
    assert identity in out and "SPECpower machine model" in basis and table_row in basis
    if PLATFORM == "macos":
        for component, channel in IOREPORT_CHANNELS.items():
            assert f"  {component}: measured: IOReport Energy Model counters ({channel})\n" in out


def test_a_second_writer_waits_for_the_lock_then_writes_its_row(tmp_path):
    """While one process holds a CSV file's lock, another cannot take it; its row is written
    after the holder's, once the lock is let go."""
    path = tmp_path / "emissions.csv"
    append_rows(path, CSV_COLUMNS, [row("first")])
    root = Path(__file__).resolve().parents[2]
    with LockedFile(path) as held:
        writer = subprocess.Popen([sys.executable, "-c", SECOND_WRITER, str(path)], cwd=root,
                                  stdout=subprocess.PIPE, text=True)
        assert writer.stdout is not None
        assert writer.stdout.readline().strip() == "locked"
        held.append(encode_rows([row("held")]))  # the holder's row goes first
    assert writer.stdout.readline().strip() == "written"
    assert writer.wait(60) == 0
    assert [r["run_id"] for r in read(path)] == ["first", "held", "second"]


def test_the_lock_is_taken_without_waiting_once_free(tmp_path):
    path = tmp_path / "free"
    path.write_bytes(b"")
    fd = os.open(path, os.O_RDWR)
    try:
        lock(fd, wait=False)
    finally:
        os.close(fd)
