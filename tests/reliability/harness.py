"""What every reliability case uses: notebooks as users run them, and the checks that count.

A case runs cells in a real IPython ``InteractiveShell`` (``Notebook``) or a real Jupyter kernel
(``KernelNotebook``) with carbon_magic loaded, injects a fault, and proves three things:

- the user's cell still runs with its own result (``Notebook.run``: each cell is counted, and
  one that did not give its own value or exception counts as broken);
- the record is whole (``record_is_whole``, ``Figures.rows``: every record of the session is a
  complete row of ``emissions.csv`` and ``carbon_cells.csv``; a missing one counts as lost);
- the failure is visible in ``%carbon status`` (``Notebook.status``).

The figures of each case (``Figures``) are what RELIABILITY.md reports.
"""

from __future__ import annotations

import csv
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from carbon_magic.core.record import CSV_COLUMNS
from carbon_magic.outputs.cells_file import CELLS_CSV_COLUMNS, CELLS_FILE_NAME
from tests.polling import eventually

ANY = object()  # Notebook.run(expect=ANY): any value, as long as the cell succeeds
NUMERIC_COLUMNS = ("duration", "emissions", "emissions_rate", "cpu_power", "gpu_power", "ram_power",
                   "cpu_energy", "gpu_energy", "ram_energy", "energy_consumed", "water_consumed",
                   "cpu_utilization_percent", "ram_utilization_percent", "pue", "wue")


@dataclass
class Figures:
    """What one case tried and what came of it (the RELIABILITY.md columns)."""

    inputs_tried: int = 0  # generated inputs (hypothesis examples) a case fed in
    cells_run: int = 0
    cells_broken: int = 0
    rows_written: int = 0
    rows_lost: int = 0
    faults: list[str] = field(default_factory=list)

    def fault(self, how: str) -> None:
        """Say how the fault was made (shown in the table)."""
        if how not in self.faults:
            self.faults.append(how)

    def cell(self, ok: bool, what: str) -> None:
        """Count a user's cell; a broken one fails the case."""
        self.cells_run += 1
        if not ok:
            self.cells_broken += 1
        assert ok, f"the user's cell broke: {what}"

    def rows(self, path: Path, run_ids: Iterable[str], columns: tuple[str, ...] = CSV_COLUMNS) -> list[dict]:
        """Every run of ``run_ids`` must be a whole row of the CSV at ``path``; counts them.

        Every line must parse into exactly ``columns``: a torn row fails the case."""
        wanted = list(run_ids)
        rows = whole_rows(path, columns) if path.exists() else []
        found = {row["run_id"] for row in rows}
        written = [run_id for run_id in wanted if run_id in found]
        self.rows_written += len(written)
        self.rows_lost += len(wanted) - len(written)
        missing = [run_id for run_id in wanted if run_id not in found]
        assert not missing, f"{len(missing)} of {len(wanted)} records missing from {path.name}: {missing[:3]}"
        return rows


def whole_rows(path: Path, columns: tuple[str, ...] = CSV_COLUMNS) -> list[dict[str, str]]:
    """The rows of a CSV file written by carbon_magic, each checked whole: the header is
    ``columns``, every row has exactly that many fields, numbers parse as finite numbers."""
    with open(path, newline="", encoding="utf-8") as handle:
        lines = list(csv.reader(handle))
    assert lines and tuple(lines[0]) == columns, f"{path.name}: header {lines[:1]}"
    rows = []
    for number, fields in enumerate(lines[1:], start=2):
        assert len(fields) == len(columns), f"{path.name} line {number} is torn: {fields[:4]}... ({len(fields)} fields)"
        row = dict(zip(columns, fields))
        for name in NUMERIC_COLUMNS:
            value = float(row[name])
            assert math.isfinite(value) and value >= 0, f"{path.name} line {number}: {name} = {value}"
        rows.append(row)
    return rows


def record_is_whole(record: Any) -> None:
    """A session record (CellRecord) with finite, non-negative, consistent figures."""
    figures = [record.duration_s, record.cpu_energy_kwh, record.gpu_energy_kwh, record.ram_energy_kwh,
               record.platform_energy_kwh, record.energy_kwh, record.emissions_kg, record.water_l,
               record.intensity_g_per_kwh]
    assert all(math.isfinite(value) and value >= 0 for value in figures), record
    assert record.duration_s > 0 and record.energy_kwh > 0, record
    parts = record.cpu_energy_kwh + record.gpu_energy_kwh + record.ram_energy_kwh + record.platform_energy_kwh
    assert math.isclose(parts, record.energy_kwh, rel_tol=1e-9), record
    assert record.energy_low_kwh <= record.energy_kwh <= record.energy_high_kwh, record
    assert record.run_id and record.status in ("ok", "failed", "interrupted"), record


class Notebook:
    """A real IPython InteractiveShell with carbon_magic loaded: cells as a user runs them."""

    def __init__(self, shell: Any, figures: Figures):
        self.shell = shell
        self.figures = figures
        self.timings_s: list[float] = []

    @property
    def session(self) -> Any:
        from carbon_magic.ipython.extension import get_session

        return get_session(self.shell)

    @property
    def records(self) -> list[Any]:
        return list(self.session.records)

    def run(self, code: str, expect: Any = ANY, raises: type[BaseException] | None = None, **kwargs: Any) -> Any:
        """Run one cell; it must give ``expect`` (or raise exactly ``raises``, the user's own
        exception), else it counts as broken and the case fails."""
        started = time.perf_counter()
        result = self.shell.run_cell(code, store_history=True, **kwargs)
        self.timings_s.append(time.perf_counter() - started)
        if raises is not None:
            error = result.error_in_exec
            ok = type(error) is raises
            what = f"expected {raises.__name__}, got {error!r} / {result.error_before_exec!r}"
        else:
            ok = result.success and (expect is ANY or result.result == expect)
            what = f"expected {expect!r}, got {result.result!r} ({result.error_in_exec!r} / {result.error_before_exec!r})"
        self.figures.cell(ok, f"{code.splitlines()[0]!r}: {what}")
        return result

    def magic(self, line: str) -> str:
        """``%carbon <line>`` (a command, not a user's cell): what it displayed and printed."""
        from IPython.utils.capture import capture_output

        with capture_output() as captured:
            self.shell.run_line_magic("carbon", line)
        shown = [output.data.get("text/plain", "") for output in captured.outputs]
        return "\n".join([captured.stdout, *shown])

    def status(self) -> str:
        """The text of ``%carbon status``."""
        return self.magic("status")

    def drain(self, timeout_s: float = 10.0, lanes: Iterable[str] | None = None) -> None:
        """Wait until the output lanes named (default: all) have run what was queued."""
        from carbon_magic.runtime import current_runtime

        for lane in current_runtime().lanes.all():
            if lanes is None or lane.name in lanes:
                assert lane.drain(timeout_s), lane.name

    def rows_are_whole(self, folder: Path | str = ".", run_ids: Iterable[str] | None = None) -> None:
        """Every record of this session (or ``run_ids``) is a whole row of both CSV files
        (written on the ``main`` lane, which no network output may hold up)."""
        self.drain(lanes=("main",))
        for record in self.records:
            record_is_whole(record)
        run_ids = [r.run_id for r in self.records] if run_ids is None else list(run_ids)
        folder = Path(folder)
        self.figures.rows(folder / "emissions.csv", run_ids)
        self.figures.rows(folder / CELLS_FILE_NAME, run_ids, CELLS_CSV_COLUMNS)


def problem_lines(status_text: str) -> list[str]:
    """The 'Errors and warnings' lines of a ``%carbon status`` text."""
    lines = status_text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("Errors and warnings"))
    return [line.strip() for line in lines[start + 1:] if line.startswith("  ")]


RUN_IDS_CODE = ("import json\nfrom carbon_magic.ipython.extension import get_session\n"
                "print('RUN_IDS', json.dumps([r.run_id for r in get_session().records]))")


class KernelNotebook:
    """A real Jupyter kernel (ipykernel, through jupyter_client) taking cells as JupyterLab
    sends them."""

    def __init__(self, manager: Any, client: Any, figures: Figures):
        self.manager = manager
        self.client = client
        self.figures = figures

    def run(self, code: str, expect_output: str | None = None, raises: str | None = None,
            cell_id: str | None = None) -> str:
        """Run one cell; what it printed and displayed. A user's cell (``expect_output`` or
        ``raises`` given) is counted, and broken unless it printed ``expect_output`` without
        error, or raised exactly ``raises`` (an exception name); a command must not fail."""
        from tests.ipython_helpers import execute_like_jupyterlab

        _, messages = execute_like_jupyterlab(self.client, code, cell_id)
        return self._judge(code, messages, expect_output, raises)

    def send(self, code: str) -> str:
        """Start a cell without waiting (to interrupt it, say); its message id for ``outcome``."""
        return self.client.execute(code)

    def wait_for_output(self, message_id: str, text: str, timeout_s: float = 60.0) -> list[dict]:
        """The messages of a cell started by ``send``, up to the one that shows ``text``."""
        from tests.ipython_helpers import texts

        messages: list[dict] = []
        deadline = time.monotonic() + timeout_s
        while text not in texts(messages):
            assert time.monotonic() < deadline, f"no {text!r} from the cell: {texts(messages)!r}"
            message = self.client.get_iopub_msg(timeout=timeout_s)
            if message["parent_header"].get("msg_id") == message_id:
                messages.append(message)
        return messages

    def outcome(self, message_id: str, code: str, expect_output: str | None = None,
                raises: str | None = None, earlier: list[dict] = ()) -> str:
        """Wait for a cell started by ``send`` (``earlier``: its messages already read) and
        judge it as ``run`` does."""
        from tests.ipython_helpers import collect

        return self._judge(code, [*earlier, *collect(self.client, message_id)], expect_output, raises)

    def _judge(self, code: str, messages: list[dict], expect_output: str | None, raises: str | None) -> str:
        from tests.ipython_helpers import texts

        shown = texts(messages)
        errors = [m["content"] for m in messages if m["msg_type"] == "error"]
        if raises is not None:
            ok = bool(errors) and errors[0]["ename"] == raises
        else:
            ok = not errors and (expect_output is None or expect_output in shown)
        what = f"{code.splitlines()[0]!r}: output {shown[-300:]!r}, errors {[e['ename'] + ': ' + e['evalue'] for e in errors]}"
        if expect_output is not None or raises is not None:
            self.figures.cell(ok, what)
        else:
            assert ok, f"command failed: {what}"
        return shown

    def run_ids(self) -> list[str]:
        """The run ids of the kernel's records (``%carbon report``'s rows)."""
        import json

        shown = self.run(RUN_IDS_CODE)
        return json.loads(shown.split("RUN_IDS ", 1)[1].splitlines()[0])

    def rows_are_whole(self, folder: Path, count: int) -> None:
        """The kernel holds ``count`` records, each a whole row of both CSV files."""
        run_ids = self.run_ids()
        assert len(run_ids) == count, run_ids
        eventually(lambda: all(
            (folder / name).exists() and len(whole_rows(folder / name, columns)) >= count
            for name, columns in (("emissions.csv", CSV_COLUMNS), (CELLS_FILE_NAME, CELLS_CSV_COLUMNS))
        ), step_s=0.05)  # (the rows' own checks follow)
        self.figures.rows(folder / "emissions.csv", run_ids)
        self.figures.rows(folder / CELLS_FILE_NAME, run_ids, CELLS_CSV_COLUMNS)

    def shutdown(self) -> None:
        self.client.stop_channels()
        self.manager.shutdown_kernel(now=True)
