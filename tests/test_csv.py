"""emissions.csv exactly as CodeCarbon writes it, and never torn or lost."""

from __future__ import annotations

import csv
import errno
import gc
import os
import subprocess
import sys
from pathlib import Path

import pytest

from carbon_magic.core.file_lock import lock
from carbon_magic.core.record import CSV_COLUMNS
from carbon_magic.outputs import csv_file
from carbon_magic.outputs.csv_file import append_rows, format_cell, update_row
from carbon_magic.runtime import current_runtime

CODECARBON_HEADER = (
    "timestamp,project_name,run_id,experiment_id,duration,emissions,emissions_rate,cpu_power,"
    "gpu_power,ram_power,cpu_energy,gpu_energy,ram_energy,energy_consumed,water_consumed,"
    "country_name,country_iso_code,region,cloud_provider,cloud_region,os,python_version,"
    "codecarbon_version,cpu_count,cpu_model,gpu_count,gpu_model,longitude,latitude,"
    "ram_total_size,tracking_mode,cpu_utilization_percent,gpu_utilization_percent,"
    "ram_utilization_percent,ram_used_gb,on_cloud,pue,wue"
)


def row(run_id: str, **values) -> list:
    base = {name: None for name in CSV_COLUMNS}
    base.update({"run_id": run_id, "project_name": "p", "duration": 1.5, "emissions": 2e-6, **values})
    return [base[name] for name in CSV_COLUMNS]


def read(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def test_header_is_codecarbons_38_columns_in_order(tmp_path):
    path = tmp_path / "emissions.csv"
    append_rows(path, CSV_COLUMNS, [row("r1")])
    assert path.read_text().splitlines()[0] == CODECARBON_HEADER


def test_empty_fields_stay_in_their_column(tmp_path):
    path = tmp_path / "emissions.csv"
    append_rows(path, CSV_COLUMNS, [row("r1", region=None, cloud_provider=None, wue=0.0, pue=1.0)])
    [record] = read(path)
    assert record["region"] == "" and record["cloud_provider"] == ""
    assert record["wue"] == "0.0" and record["pue"] == "1.0"
    assert len(path.read_text().splitlines()[1].split(",")) == 38


def test_floats_round_trip_exactly(tmp_path):
    path = tmp_path / "emissions.csv"
    value = 1.2345678901234567e-07
    append_rows(path, CSV_COLUMNS, [row("r1", cpu_energy=value)])
    assert float(read(path)[0]["cpu_energy"]) == value


def test_other_header_is_kept_as_bak_then_numbered(tmp_path):
    path = tmp_path / "emissions.csv"
    path.write_text("timestamp,old,emissions\n1,2,3\n")  # records files of other layouts
    append_rows(path, CSV_COLUMNS, [row("r1")])
    assert (tmp_path / "emissions.csv.bak").read_text() == "timestamp,old,emissions\n1,2,3\n"
    path.write_text("timestamp,emissions,another\n3,4,5\n")
    append_rows(path, CSV_COLUMNS, [row("r2")])
    assert (tmp_path / "emissions.csv_0.bak").read_text() == "timestamp,emissions,another\n3,4,5\n"
    assert [r["run_id"] for r in read(path)] == ["r2"]


def test_update_mode_rewrites_the_row_with_the_same_run_id(tmp_path):
    path = tmp_path / "emissions.csv"
    append_rows(path, CSV_COLUMNS, [row("a", duration=1.0), row("b", duration=2.0)])
    update_row(path, CSV_COLUMNS, row("a", duration=9.0), "run_id")
    update_row(path, CSV_COLUMNS, row("c", duration=3.0), "run_id")
    records = read(path)
    assert [(r["run_id"], r["duration"]) for r in records] == [("b", "2.0"), ("a", "9.0"), ("c", "3.0")]


def test_truncated_last_line_is_closed_before_the_next_row(tmp_path):
    path = tmp_path / "emissions.csv"
    append_rows(path, CSV_COLUMNS, [row("a")])
    with path.open("a") as handle:
        handle.write("2026-01-01T00:00:00,p,torn-row")  # a writer killed mid-line
    append_rows(path, CSV_COLUMNS, [row("b")])
    lines = path.read_text().splitlines()
    assert lines[-1].split(",")[2] == "b"
    assert read(path)[-1]["run_id"] == "b"


def test_spreadsheet_formulas_are_defused():
    assert format_cell("=HYPERLINK(\"http://x\")") == "'=HYPERLINK(\"http://x\")"
    assert format_cell("+cmd") == "'+cmd" and format_cell("@SUM(A1)") == "'@SUM(A1)"
    assert format_cell(-1.5) == "-1.5"  # numbers are numbers
    assert format_cell("normal") == "normal"


def test_a_failed_write_leaves_no_partial_row(tmp_path, monkeypatch):
    path = tmp_path / "emissions.csv"
    append_rows(path, CSV_COLUMNS, [row("a")])
    size = path.stat().st_size
    real_write = os.write

    def disk_full(fd, data):
        real_write(fd, bytes(data[:10]))  # part of the row reaches the disk, then ENOSPC
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(csv_file.os, "write", disk_full)
    with pytest.raises(OSError):
        append_rows(path, CSV_COLUMNS, [row("b")])
    monkeypatch.setattr(csv_file.os, "write", real_write)
    assert path.stat().st_size == size
    append_rows(path, CSV_COLUMNS, [row("c")])
    assert [r["run_id"] for r in read(path)] == ["a", "c"]


def _append_many(path: str, writer: int, count: int) -> None:
    for index in range(count):
        append_rows(Path(path), CSV_COLUMNS, [row(f"w{writer}-{index}", project_name="x" * 200)])


def test_concurrent_processes_never_interleave(tmp_path):
    """Four writer processes (started as on every OS: no fork), 250 rows each."""
    path = tmp_path / "emissions.csv"
    root = str(Path(__file__).resolve().parents[1])
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [os.environ.get("PYTHONPATH"), root]))}
    writers = [subprocess.Popen([sys.executable, "-c", f"from tests.test_csv import _append_many; "
                                 f"_append_many({str(path)!r}, {w}, 250)"], env=environment) for w in range(4)]
    assert [writer.wait(120) for writer in writers] == [0] * 4
    records = read(path)
    assert len(records) == 1000
    assert len({r["run_id"] for r in records}) == 1000
    assert all(r["project_name"] == "x" * 200 and r["duration"] == "1.5" for r in records)
    assert path.read_text().count(CODECARBON_HEADER) == 1


def test_a_relative_output_dir_is_fixed_when_the_output_is_made(tmp_path, monkeypatch):
    """A notebook that changes directory later still writes where the session started."""
    from carbon_magic.outputs.cells_file import CellsFile
    from carbon_magic.outputs.csv_file import FileOutput

    start = tmp_path / "start"
    start.mkdir()
    monkeypatch.chdir(start)
    runtime = current_runtime()
    file_output, cells_file = FileOutput("emissions.csv", "."), CellsFile(".", lane=runtime.lanes.main, forks=runtime.forks)
    monkeypatch.chdir(tmp_path)
    assert file_output.path == start / "emissions.csv"
    assert cells_file.path.parent == start


def test_rows_of_failed_writes_go_first_with_the_next_and_are_bounded(tmp_path, monkeypatch):
    from carbon_magic.core.problems import problems

    monkeypatch.setattr(csv_file, "MAX_UNWRITTEN_ROWS", 3)
    folder = tmp_path / "out"
    folder.write_text("a file where the folder should be")
    appender = csv_file.RowAppender(folder / "emissions.csv", CSV_COLUMNS, forks=current_runtime().forks)
    for index in range(5):
        with pytest.raises(NotADirectoryError):
            appender.append([row(f"r{index}")])
    assert [(p.where, p.error_type, p.count) for p in problems.all() if p.error_type == "RowsDropped"] == [
        ("output emissions.csv", "RowsDropped", 2)]
    folder.unlink()
    appender.append([row("r5")])  # the folder is gone: made again, counted
    assert [r["run_id"] for r in read(folder / "emissions.csv")] == ["r2", "r3", "r4", "r5"]
    assert any(p.error_type == "FolderRecreated" for p in problems.all())


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork on this OS (Windows): no child can inherit rows")
def test_a_forked_child_never_writes_the_parents_held_rows(tmp_path):
    """Rows held back by failed writes are the parent's: a child forked meanwhile writes
    only its own rows, and the parent writes its held rows once, with its next row."""
    folder = tmp_path / "out"
    folder.write_text("a file where the folder should be")
    appender = csv_file.RowAppender(folder / "emissions.csv", CSV_COLUMNS, forks=current_runtime().forks)
    for index in range(3):
        with pytest.raises(NotADirectoryError):
            appender.append([row(f"held-{index}")])
    folder.unlink()
    child = os.fork()
    if child == 0:
        try:
            appender.append([row("child")])
        finally:
            os._exit(0)
    assert os.waitstatus_to_exitcode(os.waitpid(child, 0)[1]) == 0
    appender.append([row("parent")])
    assert [r["run_id"] for r in read(folder / "emissions.csv")] == ["child", "held-0", "held-1", "held-2", "parent"]


def test_update_mode_replaces_in_place_and_keeps_undecodable_bytes(tmp_path):
    """update mode: a run's row replaced in place while it is the last one; with another row
    after it, the file is rewritten with every other row's bytes as they were."""
    path = tmp_path / "emissions.csv"
    append_rows(path, CSV_COLUMNS, [row("old", project_name="cafX")])
    path.write_bytes(path.read_bytes().replace(b"cafX", b"caf\xe9"))  # edited in Latin-1: not UTF-8
    appender = csv_file.RowAppender(path, CSV_COLUMNS, "run_id", forks=current_runtime().forks)
    appender.update(row("a", duration=1.0))
    inode = path.stat().st_ino
    appender.update(row("a", duration=2.0))
    assert path.stat().st_ino == inode  # in place
    append_rows(path, CSV_COLUMNS, [row("b")])  # another writer's row after it
    appender.update(row("a", duration=3.0))
    content = path.read_bytes()
    assert b",caf\xe9," in content
    records = list(csv.DictReader(content.decode("latin-1").splitlines()))
    assert [(r["run_id"], r["duration"]) for r in records] == [("old", "1.5"), ("b", "1.5"), ("a", "3.0")]


# -- rows appended on the caller's thread (RowAppender.append_now) --------------------------


def test_append_now_writes_a_plain_append_and_leaves_anything_else_to_append(tmp_path):
    path = tmp_path / "emissions.csv"
    appender = csv_file.RowAppender(path, CSV_COLUMNS, forks=current_runtime().forks)
    assert not appender.append_now([row("r1")]) and not path.exists()  # a new file needs its header
    appender.append([row("r1")])
    assert appender.append_now([row("r2")])
    assert [r["run_id"] for r in read(path)] == ["r1", "r2"]

    held = os.open(path, os.O_RDWR)
    lock(held)  # another process is writing
    try:
        assert not appender.append_now([row("r3")])
    finally:
        os.close(held)
    with path.open("ab") as handle:
        handle.write(b"torn")
    assert not appender.append_now([row("r3")])  # the torn row is the lane's to set aside
    assert path.read_bytes().endswith(b"\ntorn")
    appender.append([row("r3")])
    assert [r["run_id"] for r in read(path)] == ["r1", "r2", "r3"]

    path.write_text("a,b\n1,2\n")  # another layout: the lane moves it aside
    assert not appender.append_now([row("r4")]) and path.read_text() == "a,b\n1,2\n"
    updating = csv_file.RowAppender(tmp_path / "updated.csv", CSV_COLUMNS, "run_id", forks=current_runtime().forks)
    updating.append([row("u1")])
    assert not updating.append_now([row("u2")])  # update mode is never a plain append


def test_append_now_leaves_rows_held_from_a_failed_write_to_go_first(tmp_path, monkeypatch):
    path = tmp_path / "emissions.csv"
    appender = csv_file.RowAppender(path, CSV_COLUMNS, forks=current_runtime().forks)
    appender.append([row("r1")])
    real_write = os.write
    monkeypatch.setattr(csv_file.os, "write", lambda fd, data: (_ for _ in ()).throw(OSError(errno.ENOSPC, "full")))
    with pytest.raises(OSError):
        appender.append([row("r2")])
    assert not appender.append_now([row("r3")])  # a full disk: nothing written now, nothing lost
    monkeypatch.setattr(csv_file.os, "write", real_write)
    assert not appender.append_now([row("r3")])  # r2 is held: it must come first
    appender.append([row("r3")])
    assert [r["run_id"] for r in read(path)] == ["r1", "r2", "r3"]


@pytest.mark.skipif(os.name != "posix", reason="the descriptor is kept open on POSIX only")
def test_append_now_keeps_one_descriptor_open_and_follows_the_file_at_its_path(tmp_path, monkeypatch):
    """Cell after cell, rows go through one descriptor kept open (no open/close per row); a file
    replaced, rewritten or appended to by another writer meanwhile is noticed at the next row."""
    path = tmp_path / "emissions.csv"
    appender = csv_file.RowAppender(path, CSV_COLUMNS, forks=current_runtime().forks)
    appender.append([row("r0")])
    opened = []
    real_open = os.open
    monkeypatch.setattr(csv_file.os, "open", lambda *args: opened.append(args[0]) or real_open(*args))
    assert all(appender.append_now([row(f"r{index}")]) for index in range(1, 6))
    assert opened == [str(path)]
    append_rows(path, CSV_COLUMNS, [row("other")])  # another kernel's row: ours go after it
    assert appender.append_now([row("r6")])
    replacement = tmp_path / "new.csv"
    append_rows(replacement, CSV_COLUMNS, [row("n0")])
    os.replace(replacement, path)  # the file at the path is another one now
    opened.clear()
    assert appender.append_now([row("n1")]) and opened == [str(path)]  # opened anew
    assert [r["run_id"] for r in read(path)] == ["n0", "n1"]
    size = path.stat().st_size
    path.write_bytes(b"a" * (size - 2) + b"\n")  # rewritten in place, same size, another layout
    os.utime(path, ns=(0, 0))
    assert not appender.append_now([row("n2")]) and path.read_bytes() == b"a" * (size - 2) + b"\n"
    path.unlink()
    assert not appender.append_now([row("n2")]) and not path.exists()  # gone: the lane makes it anew
    held = appender._held.fd
    del appender
    gc.collect()
    with pytest.raises(OSError):
        os.fstat(held)  # closed with its appender


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork on this OS (Windows)")
def test_a_forked_child_lets_go_of_the_descriptor_kept_open(tmp_path):
    """The child closes the inherited descriptor (its lock stays the parent's) and opens its own."""
    path = tmp_path / "emissions.csv"
    appender = csv_file.RowAppender(path, CSV_COLUMNS, forks=current_runtime().forks)
    appender.append([row("r0")])
    assert appender.append_now([row("r1")])
    inherited = appender._held.fd
    child = os.fork()
    if child == 0:
        code = 0 if appender._held.fd == -1 and appender.append_now([row("child")]) else 1
        os._exit(code)
    assert os.waitstatus_to_exitcode(os.waitpid(child, 0)[1]) == 0
    assert appender._held.fd == inherited and appender.append_now([row("r2")])
    assert [r["run_id"] for r in read(path)] == ["r0", "r1", "child", "r2"]


def test_rows_are_encoded_as_the_csv_module_writes_them():
    """The direct encoding of rows gives the csv module's bytes, field for field; only rows
    with a line break in a field go through the csv module."""
    values = [None, 0.1, 1e-300, float("nan"), float("inf"), -0.0, -1.5, 3, 2**70, True, False, "", "a", "=1+2",
              "-x", "@x", "a,b", 'q"t', '"', ',', '",""', "l\nb", "c\rr", "\tx", "é ü", Path("p,q"), 1.5e22]
    rows = [[a, b, c] for a in values for b in values[::3] for c in values[::5]] + [[value] for value in values]
    for index in range(0, len(rows), 7):
        chunk = rows[index:index + 7]
        expected = csv_file.csv_bytes([[format_cell(value) for value in fields] for fields in chunk])
        assert csv_file.encode_rows(chunk) == expected, chunk


def test_fields_encoded_once_are_written_as_the_csv_module_writes_them():
    """A row holding EncodedFields (a record's CodeCarbon fields, joined once for both its rows)
    gives the csv module's bytes for the fields spread: quoted, defused, a line break or a lone
    empty field handed to the csv module, alone or between other fields."""
    values = [None, 0.1, -0.0, 3, True, "", "a", "=1+2", "-x", "a,b", 'q"t', ",", "l\nb", "c\rr", "\tx", Path("p,q")]
    groups = [tuple(values[i:i + n]) for n in (0, 1, 2, 3) for i in range(len(values) - n + 1)]
    for group in groups:
        for row in ([csv_file.EncodedFields(group)], ["x", csv_file.EncodedFields(group), None],
                    [csv_file.EncodedFields(group), csv_file.EncodedFields(group[::-1])]):
            spread = [field for item in row
                      for field in (item.values if isinstance(item, csv_file.EncodedFields) else (item,))]
            expected = csv_file.csv_bytes([[format_cell(value) for value in spread]])
            assert csv_file.encode_rows([row]) == expected, row


def test_a_records_texts_that_need_quoting_are_quoted_in_both_rows_without_the_csv_module(monkeypatch):
    """A comma, a quote or a formula in a CodeCarbon text (the project name, the CPU model) is
    quoted and defused in the fields encoded once, as the csv module would, in both rows."""
    from carbon_magic.outputs.cells_file import CELL_COLUMNS, cells_row

    data = a_record(project_name='=a, "b"', cpu_model="Xeon, 8 cores", run_id="-r")
    cell = {"label": "c,1", "execution_count": 3, "first_line": 'print("x")'}
    expected = [csv_file.csv_bytes([[format_cell(value) for value in values]])
                for values in (data.csv_values(), [*map(cell.get, CELL_COLUMNS), *data.csv_values(),
                                                   *cells_row(cell, data)[6:]])]
    monkeypatch.setattr(csv_file, "csv_bytes", lambda rows: pytest.fail("the csv module was used"))
    emissions_row = csv_file.encode_rows([[csv_file.codecarbon_fields(data)]])
    assert [emissions_row, csv_file.encode_rows([cells_row(cell, data)])] == expected
    assert b',"\'=a, ""b""",' in emissions_row and b',"Xeon, 8 cores",' in emissions_row
    assert b",'-r," in emissions_row


def test_a_record_with_commas_in_its_texts_is_encoded_without_the_csv_module(monkeypatch):
    """A carbon_cells.csv row's water source text has commas: it is quoted directly, not handed
    to the csv module (several times slower per row)."""
    def no_csv_module(rows):
        raise AssertionError("the csv module was used")

    monkeypatch.setattr(csv_file, "csv_bytes", no_csv_module)
    fields = ["cell 1", 1, None, "x = 1", "ok", 0.5, "France (country): 3.58 L/kWh (1.25 .. 9.01), mix x factors",
              'a "quoted" word', "=SUM(A1)"]
    assert csv_file.encode_rows([fields]) == (
        b'cell 1,1,,x = 1,ok,0.5,"France (country): 3.58 L/kWh (1.25 .. 9.01), mix x factors",'
        b'"a ""quoted"" word",\'=SUM(A1)\n')


def test_rows_for_a_network_disk_always_go_to_the_lane(tmp_path, monkeypatch):
    from carbon_magic.outputs import local_disk

    mountinfo = tmp_path / "mountinfo"
    folder = tmp_path / "on nfs"
    folder.mkdir()
    escaped = str(folder).replace(" ", "\\040")
    mountinfo.write_text(
        "27 1 254:0 / / rw,relatime - ext4 /dev/vda rw\n"
        f"90 27 0:50 / {escaped} rw,relatime shared:7 - nfs4 server:/export rw,vers=4.2\n"
    )
    monkeypatch.setattr(local_disk, "MOUNTINFO", str(mountinfo))
    assert local_disk.file_system_of(folder / "sub") == "nfs4" and local_disk.file_system_of(tmp_path) == "ext4"
    appender = csv_file.RowAppender(folder / "emissions.csv", CSV_COLUMNS, forks=current_runtime().forks)
    appender.append([row("r1")])
    assert not appender.append_now([row("r2")])
    monkeypatch.setattr(local_disk, "MOUNTINFO", "/proc/self/mountinfo")
    from_mountinfo = local_disk.file_system_of(tmp_path)
    monkeypatch.setattr(local_disk, "MOUNTINFO", str(tmp_path / "absent"))  # Windows, macOS: psutil's mounts
    assert local_disk.file_system_of(tmp_path) == from_mountinfo is not None


def a_record(**values):
    import dataclasses

    from carbon_magic.core.record import EmissionsData

    required = {f.name: None for f in dataclasses.fields(EmissionsData)
                if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING}
    return EmissionsData(**{**required, "run_id": "r1", "project_name": "=p", "duration": 1.0,
                            "emissions": 2e-6, "intensity_g_per_kwh": 56.0, **values})


def test_a_records_fields_encoded_for_one_row_are_encoded_again_when_it_changes_before_the_next():
    """emissions.csv's row and carbon_cells.csv's share the encoding of the CodeCarbon fields
    while the record is the same; a record changed in between (an output handler that sets a
    field) is written as it is then, in both rows' encoding (1 and 1.0 stay apart)."""
    from carbon_magic.outputs.cells_file import cells_row

    def expected(values):
        return csv_file.csv_bytes([[format_cell(value) for value in values]])

    data = a_record()
    cell = {"label": "c1", "execution_count": 3}
    emissions_row = csv_file.encode_rows([[csv_file.codecarbon_fields(data)]])
    assert emissions_row == expected(data.csv_values())
    plain_cells_row = [cell.get("label"), cell.get("execution_count"), None, None, None, *data.csv_values(),
                       *cells_row(cell, data)[6:]]
    assert csv_file.encode_rows([cells_row(cell, data)]) == expected(plain_cells_row)
    data.duration = 1  # equal to 1.0, written "1"
    data.project_name = "a,b\nc"  # a line break: the csv module's path
    changed = csv_file.encode_rows([cells_row(cell, data)])
    assert changed == expected([*plain_cells_row[:5], *data.csv_values(), *plain_cells_row[5 + 38:]])
    assert b",1," in changed and b'"a,b\nc"' in changed
