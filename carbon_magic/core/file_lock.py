"""Exclusive locks on an open file and reads at an offset, on every OS.

POSIX (Linux, macOS): an advisory ``flock`` on the whole file, and ``os.pread``.
Windows (no ``fcntl``, no ``os.pread``): ``msvcrt.locking`` of one byte far past any CSV's
end (Windows locks are mandatory: locking the data would stop other programs from reading
it), waited for by polling as ``msvcrt`` offers no blocking wait without a 10 s give-up;
reads are ``lseek`` + ``read`` (the position put back), safe because every caller holds the lock on that descriptor.
Closing the descriptor drops the lock on both.
"""

from __future__ import annotations

import contextlib
import os
import time
from typing import Callable, Iterator

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]  # the module or None: mypy types the name as the module
    import msvcrt

# Where the Windows lock byte lies: past the end of any file the project writes.
WINDOWS_LOCK_OFFSET = 2**40
_POLL_FIRST_S = 0.001
_POLL_MAX_S = 0.05
# Looked up once: the sampler reads /proc/stat through read_at on every tick.
_PREAD: Callable[[int, int, int], bytes] | None = getattr(os, "pread", None)


def lock(fd: int, *, wait: bool = True) -> None:
    """Take the exclusive lock on ``fd``; with ``wait=False`` raise OSError if another holds it."""
    if fcntl is not None:
        fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        return
    pause_s = _POLL_FIRST_S
    while True:
        try:
            with _at(fd, WINDOWS_LOCK_OFFSET):
                msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
            return
        except OSError:
            if not wait:
                raise
        time.sleep(pause_s)
        pause_s = min(pause_s * 2, _POLL_MAX_S)


def unlock(fd: int) -> None:
    """Drop the lock before closing (Windows may release a closed file's lock late)."""
    if fcntl is not None:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return
    with _at(fd, WINDOWS_LOCK_OFFSET):
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)


def read_at(fd: int, size: int, offset: int) -> bytes:
    """Up to ``size`` bytes of ``fd`` from ``offset`` (``os.pread`` where the OS has it)."""
    if _PREAD is not None:
        return _PREAD(fd, size, offset)
    chunks = []
    with _at(fd, offset):
        while size > 0:
            chunk = os.read(fd, size)
            if not chunk:
                break
            chunks.append(chunk)
            size -= len(chunk)
    return b"".join(chunks)


@contextlib.contextmanager
def _at(fd: int, offset: int) -> Iterator[None]:
    """With ``fd``'s position at ``offset``, put back after (as ``pread`` leaves it)."""
    position = os.lseek(fd, 0, os.SEEK_CUR)
    os.lseek(fd, offset, os.SEEK_SET)
    try:
        yield
    finally:
        os.lseek(fd, position, os.SEEK_SET)
