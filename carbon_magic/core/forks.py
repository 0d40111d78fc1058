"""What a forked child must let go of: the parent's file locks and the parent's rows.

``os.fork`` (``multiprocessing``'s fork start method) copies every open descriptor, and a
``flock`` belongs to the open file description, not the process: a child forked while the
parent holds a lock keeps the file locked until the child exits, for the parent and for
every other writer. Objects that hold descriptors, locks or rows register here; in the child,
right after the fork, each one's ``after_fork_in_child()`` runs (closing its copies of the
descriptors, which leaves the parent's lock with the parent, and dropping the parent's rows).
"""

from __future__ import annotations

import os
import weakref
from typing import Any


class ForkGuard:
    """Objects to reset in a forked child (held weakly: registering keeps nothing alive)."""

    def __init__(self) -> None:
        self._objects: weakref.WeakSet[Any] = weakref.WeakSet()
        if hasattr(os, "register_at_fork"):
            os.register_at_fork(after_in_child=self._in_child)

    def watch(self, obj: Any) -> None:
        """Call ``obj.after_fork_in_child()`` in every child forked from now on while it lives."""
        self._objects.add(obj)

    def _in_child(self) -> None:
        for obj in list(self._objects):
            try:
                obj.after_fork_in_child()
            except OSError:  # a descriptor already closed: nothing left to let go of
                pass


fork_guard = ForkGuard()
