"""CodeCarbon-compatible CSV files, written so that no row is ever torn or lost.

- A row is one ``write`` under an exclusive ``flock``: concurrent kernels appending to the
  same file never interleave; a failed write (disk full) is cut back off, whole or nothing.
- ``update`` rewrites the file through a temporary file and an atomic rename.
- A records file whose header differs is kept as ``<name>.bak`` (then ``<name>_0.bak``, ...);
  a file that is not a records file (no ``timestamp`` and ``emissions`` columns) is never touched.
- A last line without its newline (a crash, a hand edit) is closed before the next row.
- Text that a spreadsheet would run as a formula (= + - @ at the start) is prefixed with '.
- Rows that could not be written (a read-only folder, a full disk) are kept and written first
  with the next row (``RowAppender``); a deleted output folder is made again (and counted).
"""

from __future__ import annotations

import csv
import functools
import io
import os
import threading
from pathlib import Path
from typing import Any, Iterable, Sequence

from ..core.paths import file_name_part, is_records_header, not_records_message
from ..core.problems import problems
from ..core.record import CSV_COLUMNS, TASK_CSV_COLUMNS, EmissionsData
from .base import BaseOutput

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# Rows kept for a file that cannot be written; past this the oldest are dropped (and counted).
MAX_UNWRITTEN_ROWS = 10_000


def format_cell(value: Any) -> str:
    """One CSV field: empty for None, shortest exact repr for floats, formulas defused."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, int):
        return str(value)
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def csv_bytes(rows: Iterable[Sequence[str]]) -> bytes:
    """Rows of text fields as CSV lines (quoting as needed), UTF-8."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    return buffer.getvalue().encode("utf-8")


def encode_rows(rows: Iterable[Sequence[Any]]) -> bytes:
    """Rows of values, each field through ``format_cell``."""
    return csv_bytes([format_cell(v) for v in row] for row in rows)


@functools.lru_cache(maxsize=64)
def header_line(header: tuple[str, ...]) -> bytes:
    """A header row as CSV bytes, encoded once per distinct header."""
    return encode_rows([header])


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def backup_path(path: Path) -> Path:
    """``emissions.csv.bak``, then ``emissions.csv_0.bak``, ``_1``... the first that is free."""
    candidate = path.with_name(path.name + ".bak")
    index = 0
    while candidate.exists():
        candidate = path.with_name(f"{path.name}_{index}.bak")
        index += 1
    return candidate


class NotARecordsFile(OSError):
    """The output file exists and holds something else than records: it is left alone."""


def move_aside(path: Path, first_line: bytes) -> None:
    """Rename a records file of another layout to its backup name; raise NotARecordsFile
    for anything else (a user's notes must never be renamed or overwritten)."""
    if not is_records_header(first_line):
        raise NotARecordsFile(f"{not_records_message(path)}: left as it is; choose another output_file")
    os.rename(path, backup_path(path))


class LockedFile:
    """An exclusive lock on the file now at ``path`` (re-opened if it was renamed meanwhile)."""

    def __init__(self, path: Path):
        self.path = path
        self.fd = -1

    def __enter__(self) -> "LockedFile":
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
            if fcntl is not None:
                fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                same = os.path.samestat(os.fstat(fd), os.stat(self.path))
            except FileNotFoundError:
                same = False
            if same:
                self.fd = fd
                return self
            os.close(fd)  # someone renamed or replaced the file while we waited: retry

    def __exit__(self, *exc_info: Any) -> None:
        os.close(self.fd)  # closing drops the lock

    def size(self) -> int:
        return os.fstat(self.fd).st_size

    def read_all(self) -> bytes:
        size = self.size()
        return os.pread(self.fd, size, 0) if size else b""

    def first_line(self) -> bytes:
        head = os.pread(self.fd, 8192, 0)
        return head.split(b"\n", 1)[0]

    def ends_with_newline(self) -> bool:
        size = self.size()
        return size == 0 or os.pread(self.fd, 1, size - 1) == b"\n"

    def append(self, data: bytes) -> None:
        """All of ``data`` or nothing: a short or failed write is truncated back."""
        size = self.size()
        try:
            _write_all(self.fd, data)
        except OSError:
            os.ftruncate(self.fd, size)
            raise


def append_rows(path: Path, header: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Append ``rows`` under ``header``, moving a file with another header aside first."""
    header_bytes = header_line(tuple(header))
    with LockedFile(path) as locked:
        if locked.size() and locked.first_line() + b"\n" != header_bytes:
            move_aside(path, locked.first_line())
            return append_rows(path, header, rows)
        data = encode_rows(rows)
        if locked.size() == 0:
            data = header_bytes + data
        elif not locked.ends_with_newline():
            data = b"\n" + data
        locked.append(data)


class FolderRecreated(Exception):
    """The output folder was gone (deleted while the kernel ran) and was made again."""


class RowsDropped(Exception):
    """Rows that could not be written for so long that the oldest had to be let go."""


class RowAppender:
    """Appends rows to one CSV file. A write that fails (OSError: read-only folder, full disk)
    keeps its rows, which go first with the next write: a passing fault loses no row. A
    deleted folder is made again (counted in ``core.problems``)."""

    def __init__(self, path: Path, header: Sequence[str]):
        self.path = path
        self.header = header
        self._lock = threading.Lock()
        self._unwritten: list[Sequence[Any]] = []

    def append(self, rows: Sequence[Sequence[Any]]) -> None:
        """Append the rows kept from failed writes, then ``rows``; raises the OSError of a
        failed write after keeping them."""
        with self._lock:
            rows = [*self._unwritten, *rows]
            try:
                self._append(rows)
            except OSError:
                dropped = len(rows) - MAX_UNWRITTEN_ROWS
                if dropped > 0:
                    problems.note(f"output {self.path.name}", RowsDropped(
                        f"{dropped} rows not written for {MAX_UNWRITTEN_ROWS} attempts were dropped"), dropped)
                self._unwritten = rows[max(dropped, 0):]
                raise
            self._unwritten = []

    def _append(self, rows: Sequence[Sequence[Any]]) -> None:
        try:
            append_rows(self.path, self.header, rows)
        except FileNotFoundError:
            if self.path.parent.exists():
                raise
            self.path.parent.mkdir(parents=True, exist_ok=True)
            problems.note(f"output {self.path.name}", FolderRecreated(f"{self.path.parent} was gone: made again"))
            append_rows(self.path, self.header, rows)


def update_row(path: Path, header: Sequence[str], row: Sequence[Any], key_column: str) -> None:
    """Replace the row whose ``key_column`` matches ``row``'s (or append it), atomically."""
    header_bytes = header_line(tuple(header))
    key_index = list(header).index(key_column)
    key = format_cell(row[key_index])
    with LockedFile(path) as locked:
        content = locked.read_all()
        if content and not content.startswith(header_bytes):
            move_aside(path, content.split(b"\n", 1)[0])
            return update_row(path, header, row, key_column)
        existing = list(csv.reader(io.StringIO(content.decode("utf-8"))))[1:] if content else []
        kept = [fields for fields in existing if fields and (len(fields) <= key_index or fields[key_index] != key)]
        data = header_bytes + csv_bytes(kept) + encode_rows([row])
        temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            temporary.write_bytes(data)
            os.replace(temporary, path)
        finally:
            temporary.unlink(missing_ok=True)


class FileOutput(BaseOutput):
    """``emissions.csv`` (38 columns) and the per-run task files, on the ``main`` lane."""

    lane = "main"

    def __init__(self, output_file: str = "emissions.csv", output_dir: str = ".", on_csv_write: str = "append"):
        self.output_dir = Path(output_dir).absolute()  # fixed now: a later os.chdir must not move it
        self.path = self.output_dir / output_file
        self.on_csv_write = on_csv_write
        self._appender = RowAppender(self.path, CSV_COLUMNS)

    def out(self, total: EmissionsData, delta: EmissionsData) -> None:
        if self.on_csv_write == "update":
            update_row(self.path, CSV_COLUMNS, total.csv_values(), "run_id")
        else:
            self._appender.append([total.csv_values()])

    def task_out(self, data: list[EmissionsData], experiment_name: str) -> None:
        if not data:
            return
        path = self.output_dir / f"emissions_{file_name_part(experiment_name)}_{data[0].run_id}.csv"
        rows = [[task.extra.get("task_name", ""), *task.csv_values()] for task in data]
        append_rows(path, TASK_CSV_COLUMNS, rows)
