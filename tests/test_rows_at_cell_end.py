"""A tracked cell's rows are on disk when the cell ends, with no output thread to wait for;
what cannot be one plain append (a busy lock, a header to write, a network disk) is left to
the output lane, in order, and waited for before the next cell (issue 16 point 10)."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

import pytest

pytest.importorskip("IPython")

from carbon_magic.runtime import current_runtime  # noqa: E402

from .ipython_helpers import drain_outputs, loaded_shell, read_csv  # noqa: E402


@pytest.fixture
def ip(isolated, monkeypatch):
    shell = loaded_shell(monkeypatch)
    shell.run_cell("%carbon on --quiet", store_history=True)
    shell.run_cell("first = 1", store_history=True)  # a new file's header goes through the lane
    drain_outputs()
    yield shell
    shell.run_cell("%carbon off", store_history=True)
    shell.extension_manager.unload_extension("carbon_magic")


def rows(name: str) -> list[dict[str, str]]:
    return read_csv(Path(name))[1]


def test_a_tracked_cells_rows_are_written_before_it_returns(ip):
    worker = current_runtime().lanes.main
    calls = worker.calls
    result = ip.run_cell("second = 2", store_history=True)
    # read at once: no lane call made, none queued, both rows there
    assert worker.idle() and worker.calls == calls
    cells = rows("carbon_cells.csv")
    assert [cell["first_line"] for cell in cells] == ["first = 1", "second = 2"]
    assert cells[-1]["execution_count"] == str(result.execution_count)
    assert [row["run_id"] for row in rows("emissions.csv")] == [cell["run_id"] for cell in cells]


def test_a_busy_lock_leaves_the_rows_to_the_lane_in_order_and_the_next_cell_waits_for_them(ip):
    worker = current_runtime().lanes.main
    held = os.open("carbon_cells.csv", os.O_RDWR)
    fcntl.flock(held, fcntl.LOCK_EX)  # another kernel writing the same file
    try:
        ip.run_cell("second = 2", store_history=True)
        assert [cell["first_line"] for cell in rows("carbon_cells.csv")] == ["first = 1"]
        assert not worker.idle()  # carbon_cells.csv's row waits on the lane for the lock
        ip.run_cell("third = 3", store_history=True)  # queued behind it, never ahead
    finally:
        os.close(held)
    drain_outputs()
    assert [cell["first_line"] for cell in rows("carbon_cells.csv")] == ["first = 1", "second = 2", "third = 3"]
    assert len(rows("emissions.csv")) == 3


def test_a_torn_last_row_is_set_aside_by_the_lane_before_the_next_row(ip):
    with open("carbon_cells.csv", "ab") as handle:
        handle.write(b"half a row")  # a writer killed mid-row
    ip.run_cell("second = 2", store_history=True)
    drain_outputs()
    assert [cell["first_line"] for cell in rows("carbon_cells.csv")] == ["first = 1", "second = 2"]
    assert Path("carbon_cells.csv.torn").read_bytes() == b"half a row\n"
