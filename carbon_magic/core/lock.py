"""The machine-wide lock behind ``allow_multiple_runs=False``.

An exclusive lock (``core.file_lock``: ``flock``, ``msvcrt`` on Windows) on a file in the temp
folder: the OS releases it when the holder exits or crashes, so no signal handler is installed
and the user's Ctrl-C is left alone.
A child forked while the lock is held closes its copy of the descriptor at once
(through the ``core.forks.ForkGuard`` it is given): the lock stays the parent's and ends with
the parent's run.
"""

from __future__ import annotations

import os
import tempfile

from .file_lock import lock
from .forks import ForkGuard

LOCK_NAME = ".codecarbon.lock"


class MachineLock:
    def __init__(self, forks: ForkGuard, path: str | None = None):
        self.path = path or os.path.join(tempfile.gettempdir(), LOCK_NAME)
        self._fd: int | None = None
        forks.watch(self)

    def acquire(self) -> bool:
        """Take the lock without waiting; False if another holder has it."""
        if self._fd is not None:
            return True
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            lock(fd, wait=False)
        except OSError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor drops the lock
            self._fd = None

    def after_fork_in_child(self) -> None:
        """In a forked child: close the inherited descriptor, so the child holds no lock."""
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)  # the parent's descriptor still holds the lock
