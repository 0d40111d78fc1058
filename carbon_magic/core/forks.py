"""What a forked child must let go of: the parent's file locks and the parent's rows.

``os.fork`` (``multiprocessing``'s fork start method) copies every open descriptor, and a
``flock`` belongs to the open file description, not the process: a child forked while the
parent holds a lock keeps the file locked until the child exits, for the parent and for
every other writer. Objects that hold descriptors, locks or rows register with the
``ForkGuard`` they are given (the runtime's, ``carbon_magic.runtime``); in the child, right
after the fork, each one's ``after_fork_in_child()`` runs (closing its copies of the
descriptors, which leaves the parent's lock with the parent, and dropping the parent's rows).
The guard registers no fork hook itself: its owner calls ``after_fork_in_child``.
"""

from __future__ import annotations

import weakref
from typing import Any


class ForkGuard:
    """Objects to reset in a forked child (held weakly: registering keeps nothing alive)."""

    def __init__(self) -> None:
        self._objects: weakref.WeakSet[Any] = weakref.WeakSet()

    def watch(self, obj: Any) -> None:
        """Call ``obj.after_fork_in_child()`` in every child forked from now on while it lives."""
        self._objects.add(obj)

    def after_fork_in_child(self) -> None:
        for obj in list(self._objects):
            try:
                obj.after_fork_in_child()
            except OSError:  # a descriptor already closed: nothing left to let go of
                pass
