"""Outputs failing under the user: a read-only or deleted output folder, a full disk, a CSV
edited by hand between cells, many processes appending to one CSV, a writer killed with
SIGKILL mid-run.

Folders and disks fail for real: permissions in a kernel without root's file capabilities
(privileges.py), a full disk as the file-size limit a process may not write past (the same
short write and error a full disk gives), real processes and real signals.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from IPython.core.error import UsageError

from carbon_magic.core.record import CSV_COLUMNS
from carbon_magic.outputs.cells_file import CELLS_CSV_COLUMNS, CELLS_FILE_NAME
from carbon_magic.outputs.csv_file import append_rows

from .harness import problem_lines, whole_rows
from .privileges import DROP_FILE_PRIVILEGES
from tests.polling import eventually

TRACKED = "%%carbon --quiet\n"


def test_output_folder_read_only_then_writable_again(isolated, figures, kernel_notebook):
    """The output folder turns read-only (EACCES) between cells, then writable again: every
    cell gives its value, status names the failure, and the rows that could not be written
    are written with the next one: none lost."""
    figures.fault("output folder chmod 555 and its files 444 in a kernel without CAP_DAC_OVERRIDE, then back")
    folder = isolated / "out"
    folder.mkdir()
    kernel = kernel_notebook(CODECARBON_OUTPUT_DIR=str(folder))
    kernel.run(DROP_FILE_PRIVILEGES)
    kernel.run("%load_ext carbon_magic")
    kernel.run(TRACKED + "print('cell', 1)", expect_output="cell 1")
    kernel.run(f"import os, pathlib\nfolder = pathlib.Path({str(folder)!r})\n"
               "for path in [*folder.iterdir(), folder]:\n    os.chmod(path, 0o555 if path == folder else 0o444)")
    kernel.run(TRACKED + "print('cell', 2)", expect_output="cell 2")
    kernel.run(TRACKED + "print('cell', 3)", expect_output="cell 3")
    status = kernel.run("import time\ntime.sleep(0.3)\n%carbon status")
    assert "PermissionError" in status, status
    kernel.run("for path in [folder, *folder.iterdir()]:\n    os.chmod(path, 0o755 if path == folder else 0o644)")
    kernel.run(TRACKED + "print('cell', 4)", expect_output="cell 4")
    kernel.rows_are_whole(folder, count=4)


def test_output_folder_deleted_between_cells(open_notebook, tmp_path, figures):
    """The output folder is deleted between cells (rm -rf): the next cells give their values,
    the folder is made again with their rows, and status says it was gone."""
    figures.fault("shutil.rmtree of the output folder between cells")
    folder = tmp_path / "out"
    folder.mkdir()  # output_dir must exist when set; deleted later, it is made again
    notebook = open_notebook(CODECARBON_OUTPUT_DIR=str(folder))
    notebook.run(TRACKED + "1", expect=1)
    notebook.drain(lanes=("main",))
    deleted = notebook.records[0].run_id
    shutil.rmtree(folder)
    notebook.run(TRACKED + "2", expect=2)
    notebook.run(TRACKED + "3", expect=3)
    notebook.rows_are_whole(folder, run_ids=[r.run_id for r in notebook.records if r.run_id != deleted])
    assert any("FolderRecreated" in line for line in problem_lines(notebook.status()))


def test_disk_full_then_space_again(isolated, figures, kernel_notebook):
    """The disk fills up while rows are written (a short write, then EFBIG/ENOSPC), then has
    room again: cells give their values, no half row is ever left in the file, status names
    the failure, and the rows held back are written once there is room."""
    figures.fault("RLIMIT_FSIZE set just above emissions.csv's size (writes stop mid-row), then lifted")
    folder = isolated / "out"
    folder.mkdir()
    kernel = kernel_notebook(CODECARBON_OUTPUT_DIR=str(folder))
    kernel.run("%load_ext carbon_magic")
    kernel.run(TRACKED + "print('cell', 1)", expect_output="cell 1")
    kernel.run("import time\ntime.sleep(0.3)")
    size = (folder / "emissions.csv").stat().st_size
    kernel.run(f"import resource, signal\nsignal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
               f"resource.setrlimit(resource.RLIMIT_FSIZE, ({size + 200}, resource.RLIM_INFINITY))")
    for index in (2, 3, 4):
        kernel.run(TRACKED + f"print('cell', {index})", expect_output=f"cell {index}")
    status = kernel.run("time.sleep(0.3)\n%carbon status")
    assert "OSError" in status or "File too large" in status, status
    assert len(whole_rows(folder / "emissions.csv")) == 1  # the short write was cut back off
    kernel.run("resource.setrlimit(resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))")
    kernel.run(TRACKED + "print('cell', 5)", expect_output="cell 5")
    kernel.rows_are_whole(folder, count=5)


def test_csv_header_edited_by_hand_between_cells(open_notebook, figures):
    """emissions.csv given another header by hand between cells: it is kept as
    emissions.csv.bak, and the next rows start a whole new file."""
    figures.fault("emissions.csv rewritten with a different header between cells")
    notebook = open_notebook()
    notebook.run(TRACKED + "'a'", expect="a")
    notebook.drain(lanes=("main",))
    edited = Path("emissions.csv").read_text(encoding="utf-8").replace("run_id", "my_run", 1)
    Path("emissions.csv").write_text(edited, encoding="utf-8")
    notebook.run(TRACKED + "'b'", expect="b")
    notebook.run(TRACKED + "'c'", expect="c")
    first = notebook.records[0].run_id
    notebook.rows_are_whole(run_ids=[r.run_id for r in notebook.records if r.run_id != first])
    assert Path("emissions.csv.bak").read_text(encoding="utf-8") == edited


def test_csv_last_line_truncated_by_hand_between_cells(open_notebook, figures):
    """emissions.csv's last line cut short by hand (or a crash) between cells: the torn line
    is moved to emissions.csv.torn (kept, counted in status), and the next row follows the
    whole rows."""
    figures.fault("the last 40 bytes and the newline of emissions.csv cut off between cells")
    notebook = open_notebook()
    notebook.run(TRACKED + "'a'", expect="a")
    notebook.run(TRACKED + "'b'", expect="b")
    notebook.drain(lanes=("main",))
    content = Path("emissions.csv").read_bytes()
    Path("emissions.csv").write_bytes(content[:-41])
    notebook.run(TRACKED + "'c'", expect="c")
    notebook.drain(lanes=("main",))
    with open("emissions.csv", newline="", encoding="utf-8") as handle:
        lines = list(csv.reader(handle))
    assert len(lines) == 3 and all(len(fields) == len(CSV_COLUMNS) for fields in lines)  # header, a, c
    assert [fields[CSV_COLUMNS.index("run_id")] for fields in lines[1:]] == [
        notebook.records[0].run_id, notebook.records[-1].run_id]
    assert Path("emissions.csv.torn").read_bytes() == content[content.rindex(b"\n", 0, -1) + 1:-41] + b"\n"
    assert any("TornRow" in line for line in problem_lines(notebook.status()))
    figures.rows_written += 2
    figures.rows(Path(CELLS_FILE_NAME), [r.run_id for r in notebook.records], CELLS_CSV_COLUMNS)


WRITER = textwrap.dedent("""
    import sys
    from carbon_magic import OfflineEmissionsTracker
    rows, folder = int(sys.argv[1]), sys.argv[2]
    for index in range(rows):
        tracker = OfflineEmissionsTracker(country_iso_code="FRA", output_dir=folder, log_level="error",
                                          project_name=f"{sys.argv[3]}-{index}", force_cpu_power=40)
        tracker.start()
        tracker.stop()
    print("done", flush=True)
""")


def start_writers(folder: Path, processes: int, rows: int) -> list[subprocess.Popen]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("CODECARBON_")}
    environment["CODECARBON_POWERCAP_ROOT"] = "/nonexistent"
    return [subprocess.Popen([sys.executable, "-c", WRITER, str(rows), str(folder), f"p{number}"],
                             stdout=subprocess.PIPE, env=environment) for number in range(processes)]


def count_lines(path: Path) -> int:
    return path.read_bytes().count(b"\n") if path.exists() else 0


def test_four_processes_append_a_thousand_rows_each_to_one_csv(tmp_path, figures):
    """4 processes each append 1,000 rows to the same emissions.csv at once (public
    OfflineEmissionsTracker): 4,000 whole rows, none lost, none torn or interleaved."""
    figures.fault("4 processes x 1,000 tracker runs writing one emissions.csv at once")
    writers = start_writers(tmp_path, processes=4, rows=1000)
    for writer in writers:
        assert writer.communicate(timeout=240)[0].strip() == b"done"
    rows = whole_rows(tmp_path / "emissions.csv")
    names = sorted(row["project_name"] for row in rows)
    expected = sorted(f"p{p}-{i}" for p in range(4) for i in range(1000))
    figures.rows_written += len(set(names) & set(expected))
    figures.rows_lost += len(set(expected) - set(names))
    assert names == expected


def test_writer_killed_mid_run_leaves_a_parseable_file(tmp_path, figures):
    """A process appending rows is killed with SIGKILL mid-run: emissions.csv parses, every
    line whole; the next writer appends whole rows after them."""
    figures.fault("SIGKILL of 2 processes while both append rows, then a third process appends")
    writers = start_writers(tmp_path, processes=2, rows=100_000)
    # 41 lines: the header and 40 rows (40 lines could be 39 rows if the kill comes at once)
    assert eventually(lambda: count_lines(tmp_path / "emissions.csv") >= 41, timeout_s=180, step_s=0.05), \
        "the writers wrote fewer than 40 rows in 180 s"
    for writer in writers:
        writer.send_signal(signal.SIGKILL)
        writer.wait(10)
    before = whole_rows(tmp_path / "emissions.csv")
    assert len(before) >= 40
    [after] = start_writers(tmp_path, processes=1, rows=20)
    assert after.communicate(timeout=60)[0].strip() == b"done"
    rows = whole_rows(tmp_path / "emissions.csv")
    assert rows[:len(before)] == before
    assert sorted(row["project_name"] for row in rows[len(before):]) == sorted(f"p0-{i}" for i in range(20))
    figures.rows_written += len(rows)


def seed_row(folder: Path) -> dict[str, str]:
    """One real emissions.csv row (a tracker run in this process), as a dict."""
    from carbon_magic import OfflineEmissionsTracker

    tracker = OfflineEmissionsTracker(country_iso_code="FRA", output_dir=str(folder), log_level="error",
                                      force_cpu_power=40)
    tracker.start()
    tracker.stop()
    [row] = whole_rows(folder / "emissions.csv")
    return row


def lines_of(path: Path) -> list[list[str]]:
    """Every line of a CSV file, bytes that are not UTF-8 kept as they are."""
    with open(path, newline="", encoding="utf-8", errors="surrogateescape") as handle:
        return list(csv.reader(handle))


def test_update_mode_keeps_every_row_of_a_large_file(open_notebook, tmp_path, figures):
    """``on_csv_write="update"`` keeps every row that append mode keeps, at a cost that does
    not grow with the file: with a 50 MB emissions.csv holding a Latin-1 byte, 300 tracked
    statements give 300 whole rows appended in place (the old rows untouched, the file never
    rewritten), a tracker flushed twice keeps one row (its latest), and a deleted output
    folder is made again with the next rows."""
    figures.fault("50 MB emissions.csv with a Latin-1 byte, on_csv_write=update, 300 statements, then rm -rf")
    folder = tmp_path / "out"
    folder.mkdir()
    seed = seed_row(tmp_path)
    old_rows = [[*seed.values()] for _ in range(int(56e6 / len(",".join(seed.values()))))]
    for index, fields in enumerate(old_rows):
        fields[CSV_COLUMNS.index("run_id")] = f"old-{index}"
    ledger = folder / "emissions.csv"
    with open(ledger, "w", newline="", encoding="utf-8") as handle:
        csv.writer(handle, lineterminator="\n").writerows([CSV_COLUMNS, *old_rows])
    with open(ledger, "r+b") as handle:  # a row edited in a Latin-1 editor: café
        handle.seek(handle.read(4096).index(b",old-0,") - 4)
        handle.write(b"caf\xe9")
    old_content = ledger.read_bytes()
    assert len(old_content) > 50e6
    inode = ledger.stat().st_ino
    notebook = open_notebook(CODECARBON_OUTPUT_DIR=str(folder), CODECARBON_ON_CSV_WRITE="update")
    notebook.run("for index in range(300):\n    %carbon --quiet x = index\nx", expect=299)
    notebook.run("from carbon_magic import OfflineEmissionsTracker\n"
                 f"t = OfflineEmissionsTracker(country_iso_code='FRA', output_dir={str(folder)!r}, "
                 "on_csv_write='update', log_level='error', project_name='flushed')\n"
                 "t.start()\nt.flush()\nt.flush()\nt.stop() >= 0", expect=True)
    notebook.drain(lanes=("main",))
    content = ledger.read_bytes()
    assert ledger.stat().st_ino == inode and content.startswith(old_content)  # appended in place
    lines = lines_of(ledger)
    assert all(len(fields) == len(CSV_COLUMNS) for fields in lines), "a torn line"
    run_ids = [fields[CSV_COLUMNS.index("run_id")] for fields in lines[1:]]
    statements = [r.run_id for r in notebook.records]
    figures.rows_written += len(set(statements) & set(run_ids))
    figures.rows_lost += len(set(statements) - set(run_ids))
    assert len(statements) == 300 and run_ids[len(old_rows):-1] == statements
    flushed = notebook.shell.user_ns["t"].final_emissions_data
    assert run_ids.count(flushed.run_id) == 1 and run_ids[-1] == flushed.run_id
    assert lines[-1][CSV_COLUMNS.index("duration")] == repr(flushed.duration)
    shutil.rmtree(folder)
    notebook.run(TRACKED + "'after rm'", expect="after rm")
    notebook.run(TRACKED + "'again'", expect="again")
    notebook.rows_are_whole(folder, run_ids=[r.run_id for r in notebook.records[-2:]])
    assert any("FolderRecreated" in line for line in problem_lines(notebook.status()))


BACKLOG_WRITER = textwrap.dedent("""
    import json, os, sys
    from pathlib import Path
    from carbon_magic.core.record import CSV_COLUMNS
    from carbon_magic.outputs.csv_file import RowAppender
    from carbon_magic.runtime import current_runtime
    folder, row = Path(sys.argv[1]), json.loads(sys.argv[2])
    folder.write_text("a file where the output folder should be: every write fails")
    appender = RowAppender(folder / "emissions.csv", CSV_COLUMNS, forks=current_runtime().forks)
    for index in range(10_000):  # rows held back, as a kernel holds them while writes fail
        row["run_id"] = f"held-{index}"
        try:
            appender.append([list(row.values())])
        except OSError:
            pass
    folder.unlink()
    print("ready", flush=True)
    sys.stdin.readline()
    row["run_id"] = "last"
    appender.append([list(row.values())])  # the folder is made again: 10,001 rows in one write
    print("written", flush=True)
""")


def test_kill_inside_a_large_backlog_write_leaves_no_half_row(tmp_path, figures):
    """A writer killed (SIGKILL) in the middle of writing a backlog of 10,000 held rows at
    once (7 MB, 10 times): a row is whole or absent. The torn last line is moved to
    ``emissions.csv.torn`` by the next writer, whose row follows the whole rows."""
    figures.fault("SIGKILL while a 10,001-row (7 MB) backlog is written in one go, 10 times")
    seed = seed_row(tmp_path)
    environment = {k: v for k, v in os.environ.items() if not k.startswith("CODECARBON_")}
    torn = []
    for attempt in range(10):
        folder = tmp_path / f"out{attempt}"
        writer = subprocess.Popen([sys.executable, "-c", BACKLOG_WRITER, str(folder), json.dumps(seed)],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=environment)
        assert writer.stdout.readline().strip() == b"ready"
        writer.stdin.write(b"go\n")
        writer.stdin.flush()
        ledger = folder / "emissions.csv"
        while not (ledger.exists() and ledger.stat().st_size > 0) and writer.poll() is None:
            pass  # the write has begun: kill it now
        writer.send_signal(signal.SIGKILL)
        writer.wait(10)
        if not ledger.read_bytes().endswith(b"\n"):
            torn.append(ledger)
        append_rows(ledger, CSV_COLUMNS, [[*seed.values()]])  # the next writer
        rows = whole_rows(ledger)
        figures.rows_written += len(rows)
        assert rows[-1]["run_id"] == seed["run_id"] and all(row["run_id"].startswith("held-") or row["run_id"] == "last"
                                                         for row in rows[:-1])
    assert torn, "no kill landed inside the write"
    assert all(len(lines_of(path.with_name("emissions.csv.torn"))) == 1 for path in torn)


def test_export_never_replaces_a_records_file(open_notebook, figures):
    """``%carbon export`` to emissions.csv or carbon_cells.csv is refused with a clear error
    (the ledger keeps every row); a report exported elsewhere defuses text that a
    spreadsheet would run as a formula, as the records files do."""
    figures.fault("%carbon export emissions.csv / carbon_cells.csv after 3 cells; a label =HYPERLINK(...)")
    notebook = open_notebook()
    notebook.run("%%carbon --quiet --name =HYPERLINK(1)\n1", expect=1)
    notebook.run(TRACKED + "2", expect=2)
    notebook.run(TRACKED + "3", expect=3)
    notebook.drain(lanes=("main",))
    ledgers = {name: Path(name).read_bytes() for name in ("emissions.csv", CELLS_FILE_NAME)}
    for name in ledgers:
        with pytest.raises(UsageError, match=f"'{name}' is a records file.*never replaces"):
            notebook.magic(f"export {name}")
        assert Path(name).read_bytes() == ledgers[name]
    notebook.rows_are_whole()
    notebook.magic("export report.csv")
    with open("report.csv", newline="", encoding="utf-8") as handle:
        labels = [row["label"] for row in csv.DictReader(handle)]
    assert labels[0] == "'=HYPERLINK(1)" and len(labels) == 3
