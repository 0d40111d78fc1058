"""Taking a refused secret out of IPython's input history.

A magic line that gives a secret (``%%carbon --api-key ...``) is refused, but IPython has
already stored the line: in its input lists (``In``, ``_ih``), the ``_i`` variables and the
history database (``history.sqlite``, written by a background thread). ``forget_in_history``
replaces the secret's text by ``***`` in all of them, the database with SQLite's
``secure_delete`` so that the old text is not left in free pages. The notebook's own copy of
the cell is the front end's: the refusal tells the user to remove it there.
"""

from __future__ import annotations

import re
import sqlite3
from typing import Any, Sequence

from ..core.problems import problems

MASK = "***"
_INPUT_VARIABLE = re.compile(r"_i+\d*|_i00")
_MASK_ROWS = (
    "UPDATE history SET source = replace(source, ?1, ?2), source_raw = replace(source_raw, ?1, ?2) "
    "WHERE session = ?3 AND (instr(source, ?1) > 0 OR instr(source_raw, ?1) > 0)"
)


def _masked(text: Any, secrets: Sequence[str]) -> Any:
    if not isinstance(text, str):
        return text
    for secret in secrets:
        text = text.replace(secret, MASK)
    return text


def forget_in_history(shell: Any, secrets: Sequence[str]) -> None:
    """Replace each of ``secrets`` by ``***`` in this session's input history."""
    secrets = [secret for secret in secrets if secret]
    history = getattr(shell, "history_manager", None)
    if not secrets or history is None:
        return
    for lines in (history.input_hist_parsed, history.input_hist_raw):
        lines[:] = [_masked(line, secrets) for line in lines]  # in place: In and _ih are these lists
    for name in ("_i", "_ii", "_iii", "_i00"):
        setattr(history, name, _masked(getattr(history, name, ""), secrets))
    namespace = shell.user_ns
    for name in [n for n in namespace if _INPUT_VARIABLE.fullmatch(n)]:
        namespace[name] = _masked(namespace[name], secrets)
    with history.db_input_cache_lock:  # the saving thread writes the cache under this lock
        history.db_input_cache[:] = [(n, _masked(a, secrets), _masked(b, secrets)) for n, a, b in history.db_input_cache]
    _forget_in_database(history, secrets)


def _forget_in_database(history: Any, secrets: Sequence[str]) -> None:
    """Rows the saving thread already wrote (a disabled history has a dummy database)."""
    database = history.db
    try:
        database.execute("PRAGMA secure_delete = ON")
        with database:
            for secret in secrets:
                database.execute(_MASK_ROWS, (secret, MASK, history.session_number))
    except sqlite3.Error as error:
        problems.note("carbon_magic history", error)
