"""CodeCarbon-compatible CSV files, written so that no row is ever torn or lost.

- A row is one ``write`` under an exclusive lock (``core.file_lock``: ``flock``, ``msvcrt`` on
  Windows): concurrent kernels appending to the same file never interleave; a failed write
  (disk full) is cut back off, whole or nothing.
  A child forked during a write closes its copy of the descriptor (the ``ForkGuard`` given): the lock
  is never inherited.
- ``update`` appends a run's first row like ``append`` and replaces the run's row in place
  when it is still the last one (cost independent of the file's size); only a row with
  other rows after it makes a rewrite through a temporary file and an atomic rename.
- A records file whose header differs is kept as ``<name>.bak`` (then ``<name>_0.bak``, ...);
  a file that is not a records file (no ``timestamp`` and ``emissions`` columns) is never touched.
- A last line without its newline (a writer killed mid-write, a hand edit) is a torn row:
  it is moved to ``<name>.torn`` (and counted) before the next row, so the file holds whole
  rows only.
- Text that a spreadsheet would run as a formula (= + - @ at the start) is prefixed with '.
- Rows that could not be written (a read-only folder, a full disk) are kept and written first
  with the next row (``RowAppender``); a deleted output folder is made again (and counted).
- ``RowAppender.append_now`` appends on the caller's thread when that is one plain append
  (a local disk, the lock free at once, a file with the right header and no torn row, no
  rows held back), so that a cell's rows are on disk once its bookkeeping runs (in a kernel,
  right after the reply: ``ipython/tail.py``), with no thread to wait for; anything else is left to the output lane, which does all of the above. Its descriptor
  stays open from row to row (POSIX): the file is re-opened when the one at the path is
  another (renamed, replaced, deleted), and the header and last row are checked again when
  the file changed since its last row (size or modification time).
"""

from __future__ import annotations

import csv
import functools
import io
import operator
import os
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

from ..core.file_lock import lock, read_at, unlock
from ..core.forks import ForkGuard
from ..core.paths import file_name_part, is_records_header, not_records_message
from ..core.problems import problems
from ..core.record import CSV_COLUMNS, TASK_CSV_COLUMNS, EmissionsData, codecarbon_values
from .base import BaseOutput
from .local_disk import on_local_disk

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# Rows kept for a file that cannot be written; past this the oldest are dropped (and counted).
MAX_UNWRITTEN_ROWS = 10_000
# update mode: where the rows of this many latest runs are in the file, to replace them in place
REMEMBERED_ROWS = 256
# how far back a torn last line is looked for at a time
TAIL_CHUNK_BYTES = 65_536


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
    return defuse_formula(str(value))


def defuse_formula(text: str) -> str:
    """Text that a spreadsheet would run as a formula (= + - @ tab CR first), prefixed with '."""
    return "'" + text if text.startswith(_FORMULA_START) else text


def csv_bytes(rows: Iterable[Sequence[str]]) -> bytes:
    """Rows of text fields as CSV lines (quoting as needed), UTF-8."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    return buffer.getvalue().encode("utf-8")


class EncodedFields:
    """Several fields of a row encoded once (one item of a row, written as those fields): a
    record's CodeCarbon fields, encoded once for both its rows. ``line``: the fields as they
    stand in a CSV line (formulas defused, quoted as the csv module quotes them), joined by
    commas, so that a row holding them copies one text instead of 38; None when only the csv
    module can write them (a line break in a field, or fewer than two fields, whose lone empty
    field it writes as ``""``). ``values``: what was encoded, for that path and for the memo."""

    __slots__ = ("values", "line")

    def __init__(self, values: tuple[Any, ...]):
        self.values = values
        parts = _csv_fields(values) if len(values) > 1 else None
        self.line = None if parts is None else ",".join(parts)


class FieldsMemo:
    """The latest values encoded, kept while the very same objects come again: a record's
    CodeCarbon fields are encoded for its ``emissions.csv`` row and reused for its
    ``carbon_cells.csv`` row. Compared by identity, at each row, with the values the record
    has then (a record changed in between is encoded again; equal values of other types,
    1 and 1.0, never share a text)."""

    def __init__(self) -> None:
        self._latest = EncodedFields(())

    def encode(self, values: tuple[Any, ...]) -> EncodedFields:
        fields = self._latest  # one object: threads never see one's values with another's texts
        known = fields.values
        if len(known) == len(values) and all(map(operator.is_, known, values)):
            return fields
        fields = self._latest = EncodedFields(values)
        return fields


_CODECARBON_FIELDS = FieldsMemo()


def codecarbon_fields(data: EmissionsData) -> EncodedFields:
    """``data``'s CodeCarbon columns (CSV_COLUMNS) as one row item, encoded from its values now."""
    return _CODECARBON_FIELDS.encode(codecarbon_values(data))


# Written by the csv module as format_cell writes them (None empty, floats by repr, ints and
# bools by str): only other values need format_cell.
_WRITTEN_AS_IS = frozenset({type(None), float, int, bool})


def _csv_fields(row: Iterable[Any]) -> list[str] | None:
    """Each field of ``row`` as it stands in a CSV line: as ``format_cell`` writes it, quoted
    as the csv module quotes it (a comma or a quote: quotes around, quotes doubled), an
    EncodedFields' line as one item; None for a line break in a field (the csv module quotes
    a carriage return or not by Python version). Inlined per type: once per field of a row."""
    fields: list[str] = []
    for value in row:
        kind = type(value)
        if kind is float:
            fields.append(repr(value))
            continue
        if value is None:
            fields.append("")
            continue
        if kind is EncodedFields:
            if value.line is None:
                return None
            fields.append(value.line)
            continue
        if kind is str:
            text = "'" + value if value.startswith(_FORMULA_START) else value
        elif kind is int or kind is bool:
            fields.append(str(value))
            continue
        else:
            text = format_cell(value)
        if "\n" in text or "\r" in text:
            return None
        fields.append('"' + text.replace('"', '""') + '"' if "," in text or '"' in text else text)
    return fields


def _plain_line(row: Sequence[Any]) -> str | None:
    """``row`` as one CSV line, the csv module's text written directly (see ``_csv_fields``);
    None for a line break in a field or a row of one empty field (the csv module's then)."""
    fields = _csv_fields(row)
    if fields is None:
        return None
    line = ",".join(fields)
    return None if line == "" else line + "\n"


def encode_rows(rows: Iterable[Sequence[Any]]) -> bytes:
    """Rows of values, each field as ``format_cell`` writes it: the bytes the csv module
    writes, joined directly unless a field holds a line break (several times cheaper per row)."""
    rows = list(rows)
    lines = [_plain_line(row) for row in rows]
    if None not in lines:
        return "".join(lines).encode("utf-8")  # type: ignore[arg-type]  # no None, checked
    return csv_bytes(map(_written_fields, rows))


def _written_fields(row: Sequence[Any]) -> list[Any]:
    """``row``'s fields as the csv module is given them (EncodedFields spread)."""
    fields: list[Any] = []
    for value in row:
        if type(value) is EncodedFields:
            fields.extend(_written_fields(value.values))
        else:
            fields.append(value if type(value) in _WRITTEN_AS_IS else format_cell(value))
    return fields


@functools.lru_cache(maxsize=64)
def header_line(header: tuple[str, ...]) -> bytes:
    """A header row as CSV bytes, encoded once per distinct header."""
    return encode_rows([header])


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def is_records_file(path: Path, headers: Iterable[Sequence[str]]) -> bool:
    """True if the file at ``path`` begins with one of ``headers`` (a records file)."""
    try:
        with open(path, "rb") as handle:
            first = handle.read(8192).split(b"\n", 1)[0] + b"\n"
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        return False
    return any(first == header_line(tuple(header)) for header in headers)


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


class TornRow(Exception):
    """A last line without its newline (a writer killed mid-row, a hand edit), moved aside."""


class LockBusy(Exception):
    """A non-blocking LockedFile found the file locked by another writer."""


class LockedFile:
    """An exclusive lock on the file now at ``path`` (re-opened if it was renamed meanwhile).
    ``blocking=False``: an existing file only (FileNotFoundError), and LockBusy instead of
    waiting for another writer's lock. ``keep_open``: the descriptor stays open between uses
    (only the lock is let go), re-opened when the file at ``path`` is another one (renamed,
    replaced, deleted); POSIX only (an open file on Windows cannot be renamed or deleted).
    A child forked while it is open closes its copy of the descriptor (through ``forks``, when
    given)."""

    def __init__(self, path: Path, forks: ForkGuard | None = None, blocking: bool = True, keep_open: bool = False):
        self.path = path
        self._path_text = os.fspath(path)  # asked at every use: no Path conversion each time
        self.fd = -1
        self._identity: tuple[int, int] | None = None  # the open file's (device, inode)
        self.opened: os.stat_result | None = None  # the file's status when it was locked
        self._open_flags = os.O_RDWR | os.O_APPEND | (os.O_CREAT if blocking else 0)
        self._blocking = blocking
        self._keep_open = keep_open and os.name == "posix"
        if forks is not None:
            forks.watch(self)

    def __enter__(self) -> "LockedFile":
        while True:
            if self.fd < 0:
                self.fd = os.open(self._path_text, self._open_flags, 0o644)
            try:
                lock(self.fd, wait=self._blocking)
            except OSError:
                self._close()
                if self._blocking:
                    raise
                raise LockBusy(self.path) from None
            if self._identity is None:  # a descriptor's file never changes: asked once per open
                opened = os.fstat(self.fd)
                self._identity = (opened.st_dev, opened.st_ino)
            try:
                at_path = os.stat(self._path_text)  # the same file: its status is the descriptor's
                same = (at_path.st_dev, at_path.st_ino) == self._identity
            except FileNotFoundError:
                same = False
            if same:
                self.opened = at_path
                return self
            if self._keep_open:
                unlock(self.fd)
            self._close()  # someone renamed or replaced the file while we waited: retry

    def __exit__(self, *exc_info: Any) -> None:
        if self.fd >= 0:
            unlock(self.fd)
        if not self._keep_open:
            self._close()

    def _close(self) -> None:
        fd, self.fd = self.fd, -1
        self._identity = None
        if fd >= 0:
            os.close(fd)

    def __del__(self) -> None:  # a descriptor kept open goes with its object
        self._close()

    def after_fork_in_child(self) -> None:
        """In a forked child: let go of the inherited descriptor (the parent keeps the lock)."""
        self._close()

    def size(self) -> int:
        return os.fstat(self.fd).st_size

    def first_line(self) -> bytes:
        head = read_at(self.fd, 8192, 0)
        return head.split(b"\n", 1)[0]

    def ends_with_newline(self) -> bool:
        size = self.size()
        return size == 0 or read_at(self.fd, 1, size - 1) == b"\n"

    def last_line_start(self) -> int:
        """Where the file's last line begins (after the last newline; 0 if there is none)."""
        end = self.size()
        while end > 0:
            start = max(end - TAIL_CHUNK_BYTES, 0)
            newline = read_at(self.fd, end - start, start).rfind(b"\n")
            if newline >= 0:
                return start + newline + 1
            end = start
        return 0

    def append(self, data: bytes, size: int | None = None) -> None:
        """All of ``data`` or nothing: a short or failed write is truncated back (to ``size``,
        the file's size now, when the caller knows it)."""
        size = self.size() if size is None else size
        try:
            _write_all(self.fd, data)
        except OSError:
            os.ftruncate(self.fd, size)
            raise


def set_aside_torn_row(locked: LockedFile) -> None:
    """Move a last line without its newline (a torn row) to ``<name>.torn``, counted."""
    if locked.ends_with_newline():
        return
    start = locked.last_line_start()
    torn = read_at(locked.fd, locked.size() - start, start)
    torn_path = locked.path.with_name(locked.path.name + ".torn")
    with open(torn_path, "ab") as kept:
        kept.write(torn + b"\n")
    os.ftruncate(locked.fd, start)
    problems.note(f"output {locked.path.name}", TornRow(
        f"a last line without its newline ({len(torn)} bytes: a write cut short) was moved to {torn_path.name}"))


def appends_plainly(locked: LockedFile, header_bytes: bytes) -> bool:
    """True if rows can go after the file's end as they are: it has ``header_bytes`` and
    ends with a whole row (no header to write, no torn row or other layout to move aside)."""
    return locked.size() > 0 and locked.ends_with_newline() and locked.first_line() + b"\n" == header_bytes


def _lock_records_file(locked: LockedFile, header_bytes: bytes) -> bool:
    """Ready ``locked`` for rows under ``header_bytes``: a torn last row moved aside; False
    (after moving the file to its ``.bak``) if it has another header."""
    set_aside_torn_row(locked)
    if locked.size() and locked.first_line() + b"\n" != header_bytes:
        move_aside(locked.path, locked.first_line())
        return False
    return True


def append_encoded(path: Path, header_bytes: bytes, encode: Callable[[], bytes], forks: ForkGuard | None = None) -> int:
    """Append the rows ``encode()`` gives (called once the file is open and locked, so that
    rows held back by failing writes are not encoded at each failure) under the header;
    the offset where they begin."""
    with LockedFile(path, forks) as locked:
        if not _lock_records_file(locked, header_bytes):
            return append_encoded(path, header_bytes, encode, forks)
        prefix = header_bytes if locked.size() == 0 else b""
        offset = locked.size() + len(prefix)
        locked.append(prefix + encode())
        return offset


def append_rows(path: Path, header: Sequence[str], rows: Sequence[Sequence[Any]], forks: ForkGuard | None = None) -> int:
    """Append ``rows`` under ``header``, moving a file with another header aside first;
    the offset where the rows begin."""
    return append_encoded(path, header_line(tuple(header)), lambda: encode_rows(rows), forks)


class FolderRecreated(Exception):
    """The output folder was gone (deleted while the kernel ran) and was made again."""


class RowsDropped(Exception):
    """Rows that could not be written for so long that the oldest had to be let go."""


def _end_of(stat: os.stat_result) -> tuple[int, int, int, int]:
    """What tells whether a file changed since a write: its device, inode, size and modification time."""
    return (stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns)


class RowAppender:
    """Appends rows to one CSV file. A write that fails (OSError: read-only folder, full disk)
    keeps its rows, which go first with the next write: a passing fault loses no row. A
    deleted folder is made again (counted in ``core.problems``).

    With a ``key_column`` (``on_csv_write="update"``), ``update`` replaces the row of the same
    key instead, with the same safeguards: the appender remembers where the rows of the
    latest keys it wrote are, and replaces one in place while it is still the file's last row.
    A child forked meanwhile starts empty: it never writes the parent's rows."""

    def __init__(self, path: Path, header: Sequence[str], key_column: str | None = None, *, forks: ForkGuard):
        self.path = path
        self._forks = forks
        self.header = header
        self.key_column = key_column
        self._key_index = None if key_column is None else list(header).index(key_column)
        self._header_bytes = header_line(tuple(header))
        self._lock = threading.Lock()
        self._unwritten: list[Sequence[Any]] = []
        self._places: OrderedDict[str, tuple[int, bytes]] = OrderedDict()  # key -> (offset, row bytes)
        self._on_local_disk: bool | None = None
        # append_now's descriptor, kept open between rows, and the file's (device, inode, size,
        # modification time) after its last row: while they hold, nobody else wrote since, and
        # the file still has our header and ends with our whole row
        self._held = LockedFile(path, forks, blocking=False, keep_open=True)
        self._held_end: tuple[int, int, int, int] | None = None
        forks.watch(self)

    def after_fork_in_child(self) -> None:
        """In a forked child: the parent's held rows and lock are the parent's."""
        self._lock = threading.Lock()
        self._unwritten = []
        self._places = OrderedDict()

    def append(self, rows: Sequence[Sequence[Any]]) -> None:
        """Append the rows kept from failed writes, then ``rows``; raises the OSError of a
        failed write after keeping them."""
        with self._lock:
            self._append_held_and(rows)

    def append_now(self, rows: Sequence[Sequence[Any]]) -> bool:
        """Append ``rows`` here and now if that is one plain append that cannot wait (see the
        module docstring); False, with nothing written, when it is not: ``append`` them then
        (on the output lane). Never raises."""
        if self._key_index is not None or not self._lock.acquire(blocking=False):
            return False
        try:
            if self._unwritten or not self._local():
                return False
            with self._held as locked:
                opened = locked.opened
                assert opened is not None  # set by entering
                if _end_of(opened) != self._held_end and not appends_plainly(locked, self._header_bytes):
                    return False
                locked.append(encode_rows(rows), opened.st_size)
                self._held_end = _end_of(os.fstat(locked.fd))
            return True
        except Exception:  # written whole or not at all (LockBusy, OSError): the lane tries again,
            return False  # and counts what fails there
        finally:
            self._lock.release()

    def _local(self) -> bool:
        """Whether the file's folder is on a local disk (looked up once; see local_disk)."""
        if self._on_local_disk is None:
            self._on_local_disk = on_local_disk(self.path.parent)
        return self._on_local_disk

    def update(self, row: Sequence[Any]) -> None:
        """Replace the row with ``row``'s key (``key_column``): in place while it is the last
        row this appender wrote there, else by rewriting the file atomically; a key this
        appender has not written yet is appended (run ids are unique to their run)."""
        key_index, key_column = self._key_index, self.key_column
        assert key_index is not None and key_column is not None, "update needs a key_column"
        key = format_cell(row[key_index])
        with self._lock:
            place = self._places.pop(key, None)
            if place is None or self._unwritten:
                self._append_held_and([row])
                return
            new = encode_rows([row])
            try:
                offset = self._with_folder(lambda: replace_last_row(self.path, place, new, self._forks))
                if offset is None:
                    offset = self._with_folder(lambda: update_row(self.path, self.header, row, key_column, self._forks))
            except OSError:
                self._hold([row])
                raise
            self._remember(key, offset, new)

    def _append_held_and(self, rows: Sequence[Sequence[Any]]) -> None:
        rows = [*self._unwritten, *rows]
        try:
            self._append(rows)
        except OSError:
            self._unwritten = []
            self._hold(rows)
            raise
        self._unwritten = []

    def _hold(self, rows: Sequence[Sequence[Any]]) -> None:
        """Keep rows that could not be written for the next write (the newest MAX_UNWRITTEN_ROWS)."""
        rows = [*self._unwritten, *rows]
        dropped = len(rows) - MAX_UNWRITTEN_ROWS
        if dropped > 0:
            problems.note(f"output {self.path.name}", RowsDropped(
                f"{dropped} rows not written for {MAX_UNWRITTEN_ROWS} attempts were dropped"), dropped)
        self._unwritten = rows[max(dropped, 0):]

    def _append(self, rows: Sequence[Sequence[Any]]) -> None:
        if self._key_index is None:
            self._with_folder(lambda: append_rows(self.path, self.header, rows, self._forks))
            return
        encoded: list[bytes] = []

        def encode() -> bytes:
            encoded[:] = [encode_rows([row]) for row in rows]
            return b"".join(encoded)

        offset = self._with_folder(lambda: append_encoded(self.path, self._header_bytes, encode, self._forks))
        for row, data in zip(rows, encoded):
            self._remember(format_cell(row[self._key_index]), offset, data)
            offset += len(data)

    def _remember(self, key: str, offset: int, data: bytes) -> None:
        self._places[key] = (offset, data)
        if len(self._places) > REMEMBERED_ROWS:
            self._places.popitem(last=False)

    def _with_folder(self, write: Callable[[], Any]) -> Any:
        """``write()``; if the folder was deleted, made again (counted) and ``write()`` again."""
        try:
            return write()
        except FileNotFoundError:
            if self.path.parent.exists():
                raise
            self.path.parent.mkdir(parents=True, exist_ok=True)
            problems.note(f"output {self.path.name}", FolderRecreated(f"{self.path.parent} was gone: made again"))
            return write()


def replace_last_row(path: Path, place: tuple[int, bytes], new: bytes, forks: ForkGuard | None = None) -> int | None:
    """Put ``new`` in place of the row at ``place`` (offset, bytes) if that is still the
    file's last row; its offset, or None (the file changed: someone wrote after it)."""
    offset, old = place
    with LockedFile(path, forks) as locked:
        if locked.size() != offset + len(old) or read_at(locked.fd, len(old), offset) != old:
            return None
        os.ftruncate(locked.fd, offset)
        locked.append(new)
        return offset


def update_row(path: Path, header: Sequence[str], row: Sequence[Any], key_column: str,
               forks: ForkGuard | None = None) -> int:
    """Replace the row whose ``key_column`` matches ``row``'s (or append it), atomically:
    the file is copied row by row to a temporary file that replaces it. Bytes that are not
    UTF-8 are copied as they are. Returns the offset of the new row (the last)."""
    key_index = list(header).index(key_column)
    key = format_cell(row[key_index])
    new = encode_rows([row])
    with LockedFile(path, forks) as locked:
        if not _lock_records_file(locked, header_line(tuple(header))):
            return update_row(path, header, row, key_column, forks)
        temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            with open(locked.fd, "rb", closefd=False) as raw, open(temporary, "wb") as copy:
                text = io.TextIOWrapper(raw, encoding="utf-8", errors="surrogateescape", newline="")
                rows = csv.reader(text)
                kept = (fields for fields in rows if fields and (len(fields) <= key_index or fields[key_index] != key))
                out = io.TextIOWrapper(copy, encoding="utf-8", errors="surrogateescape", newline="")
                csv.writer(out, lineterminator="\n").writerows(kept if locked.size() else [header])
                out.flush()
                offset = copy.tell()
                copy.write(new)
                out.detach()
                text.detach()
            os.replace(temporary, path)
        finally:
            temporary.unlink(missing_ok=True)
        return offset


class FileOutput(BaseOutput):
    """``emissions.csv`` (38 columns) and the per-run task files, on the ``main`` lane."""

    lane = "main"

    def __init__(self, output_file: str = "emissions.csv", output_dir: str = ".", on_csv_write: str = "append"):
        self.output_dir = Path(output_dir).absolute()  # fixed now: a later os.chdir must not move it
        self.path = self.output_dir / output_file
        self.on_csv_write = on_csv_write
        self._appender: RowAppender | None = None

    def _rows(self) -> RowAppender:
        """The appender of ``emissions.csv``, made at the first row (on the main lane) with
        the fork guard of the output's services."""
        if self._appender is None:
            key_column = "run_id" if self.on_csv_write == "update" else None
            self._appender = RowAppender(self.path, CSV_COLUMNS, key_column, forks=self.services.forks)
        return self._appender

    def out_now(self, total: EmissionsData, delta: EmissionsData) -> bool:
        """``out`` on the caller's thread when it is one plain append (``RowAppender.append_now``);
        False when it must go to the lane."""
        return self._rows().append_now([[codecarbon_fields(total)]])

    def out(self, total: EmissionsData, delta: EmissionsData) -> None:
        if self.on_csv_write == "update":
            self._rows().update(total.csv_values())
        else:
            self._rows().append([[codecarbon_fields(total)]])

    def task_out(self, data: list[EmissionsData], experiment_name: str) -> None:
        if not data:
            return
        path = self.output_dir / f"emissions_{file_name_part(experiment_name)}_{data[0].run_id}.csv"
        rows = [[task.extra.get("task_name", ""), *task.csv_values()] for task in data]
        append_rows(path, TASK_CSV_COLUMNS, rows, self.services.forks)
