"""Where records may be written: the rules of ``output_dir``, ``output_file`` and the task
files' names, checked when a value is set (``params.Param.check``), not when a row is written.

- ``output_file`` is a file name in ``output_dir``: no folder separators, not ``.`` or ``..``,
  and never the per-cell file's name (two writers with different headers on one file).
- ``output_dir`` is an existing folder that this process can create files in (a regular
  file, ``/proc``, a missing path are refused). A folder that disappears later is made
  again by the writer, as before.
- An experiment name becomes part of a task file's name only through ``file_name_part``.
- An existing file that is not a records file (``is_records_header``) is never renamed or
  written to: ``check_records_target`` refuses it when the outputs are built.
"""

from __future__ import annotations

import csv
import os
import re
import tempfile
from pathlib import Path
from typing import Any

CELLS_FILE_NAME = "carbon_cells.csv"  # the per-cell records file, beside the CodeCarbon file
MAX_FILE_NAME_CHARS = 255
_SEPARATORS = tuple({"/", "\\", os.sep, os.altsep or "/"})
_UNSAFE_IN_NAME = re.compile(r"[^\w.\-]+")


def check_file_name(value: Any) -> None:
    """Raise ValueError unless ``value`` is a plain file name other than the per-cell file's."""
    if not isinstance(value, str) or value.strip() in ("", ".", ".."):
        raise ValueError(value)
    if any(separator in value for separator in _SEPARATORS) or "\x00" in value or len(value) > MAX_FILE_NAME_CHARS:
        raise ValueError(value)
    if value.casefold() == CELLS_FILE_NAME:
        raise ValueError(value)


FILE_NAME_ACCEPTS = (
    f"a file name in output_dir, without / or \\ (e.g. 'emissions.csv'), other than "
    f"'{CELLS_FILE_NAME}' (the per-cell file beside it, which has other columns)"
)


def check_output_folder(value: Any) -> None:
    """Raise ValueError unless ``value`` is an existing folder in which a file can be made
    (proved by making an unnamed temporary file there, which also refuses /proc and /sys)."""
    if not isinstance(value, str) or not value.strip() or "\x00" in value:
        raise ValueError(value)
    if not os.path.isdir(value):
        raise ValueError(value)
    try:
        with tempfile.TemporaryFile(dir=value):
            pass
    except OSError:
        raise ValueError(value) from None


FOLDER_ACCEPTS = "an existing folder this process can write files in (create it first)"


def file_name_part(text: str) -> str:
    """``text`` made safe as part of a file name: runs of anything but letters, digits, '.',
    '-' and '_' become '_', and no leading dots (so '../x' cannot leave the folder)."""
    return _UNSAFE_IN_NAME.sub("_", text).lstrip(".")[:100] or "_"


# Columns that every CodeCarbon version's file and the per-cell file have.
RECORDS_COLUMNS = frozenset({"timestamp", "emissions"})
_HEAD_BYTES = 8192


def is_records_header(first_line: bytes) -> bool:
    """True if ``first_line`` is the CSV header of a records file (of any version)."""
    fields = next(csv.reader([first_line.decode("utf-8", "replace")]), [])
    return RECORDS_COLUMNS <= {field.strip() for field in fields}


def not_records_message(path: Path) -> str:
    """Why ``path`` is left alone, in words."""
    return (f"{path} exists and is not a records file (its first line has no "
            f"{' and '.join(sorted(RECORDS_COLUMNS))} columns)")


def check_records_target(path: Path) -> None:
    """Raise ValueError if ``path`` exists and is not an empty file or a records file."""
    if not path.exists():
        return
    if not path.is_file():
        raise ValueError(f"{path} exists and is not a file")
    with open(path, "rb") as handle:
        head = handle.read(_HEAD_BYTES)
    if head and not is_records_header(head.split(b"\n", 1)[0]):
        raise ValueError(not_records_message(path))
