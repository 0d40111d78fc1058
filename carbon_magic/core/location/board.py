"""What a location service's background threads share: one lock, the generation of the
published answers and whether the service is closed.

Threads publish what they found through ``Board.changing()``: under the lock, and only while
the service is open; each change bumps the generation, so the service's memo entries of
older generations are recomputed. Once the service is closed (a new runtime has its own
service and board), its threads still running publish nothing.
"""

from __future__ import annotations

import contextlib
import threading
import time
from typing import Callable, Iterator

from ..problems import problems

THREAD_NAME = "carbon_magic-location"
# Background threads first sleep this long, so that the code that started them (a tracker's
# constructor, a cell) finishes its step before they compete for the GIL: a thread holding
# the GIL can delay the cell's thread by up to the interpreter's switch interval (5 ms).
START_DELAY_S = 0.02


class Board:
    """The lock, generation counter and closed flag of one location service."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.generation = 0  # bumped whenever a published answer changes
        self.closed = False

    @contextlib.contextmanager
    def changing(self) -> Iterator[bool]:
        """Hold the lock while the caller publishes; yields False (publish nothing) once closed."""
        with self.lock:
            if self.closed:
                yield False
                return
            yield True
            self.generation += 1

    def note_problem(self, where: str, error: BaseException) -> None:
        """Count ``error`` in the problems log, unless the service is closed."""
        if not self.closed:
            problems.note(where, error)

    def start_thread(self, target: Callable[[], None], suffix: str) -> threading.Thread:
        """Run ``target`` on a daemon thread; an unexpected error is counted, never raised."""

        def guarded() -> None:
            time.sleep(START_DELAY_S)
            try:
                target()
            except Exception as error:
                self.note_problem(f"location service ({suffix})", error)

        thread = threading.Thread(target=guarded, name=f"{THREAD_NAME}-{suffix}", daemon=True)
        thread.start()
        return thread

    def close(self) -> None:
        with self.lock:
            self.closed = True
            self.generation += 1

    def after_fork_in_child(self) -> None:
        """The parent's lock may have been held by a thread that does not exist here."""
        self.lock = threading.Lock()
        self.generation += 1
