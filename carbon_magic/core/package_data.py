"""The packaged data files (``carbon_magic/data/``; their sources in ``data/SOURCES.md``).

Read by path: the package is installed unpacked, and ``importlib.resources`` would add its
readers (and ``zipfile``) to every ``%load_ext``.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Iterator

DATA_FOLDER = Path(__file__).resolve().parent.parent / "data"


def data_text(file: str) -> str:
    """The text of ``carbon_magic/data/<file>``."""
    return (DATA_FOLDER / file).read_text(encoding="utf-8")


def csv_rows(file: str, columns: tuple[str, ...]) -> Iterator[list[str]]:
    """The rows of ``carbon_magic/data/<file>`` after its header, which must be ``columns``."""
    records = csv.reader(data_text(file).splitlines())
    if next(records) != list(columns):
        raise ValueError(f"{file}: expected the columns {', '.join(columns)}")
    return records
