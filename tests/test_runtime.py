"""The runtime: one object owning the process-wide services, one fork hook, one exit hook."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

from carbon_magic.core.lock import MachineLock
from carbon_magic.core.record import CSV_COLUMNS
from carbon_magic.outputs.cells_file import CellsFile
from carbon_magic.outputs.csv_file import RowAppender
from carbon_magic.runtime import current_runtime, reset_runtime
from tests.outputs_support import Gate
from tests.polling import eventually

REPO = Path(__file__).resolve().parents[1]


def test_a_reset_runtime_leaves_no_lane_or_thread_of_the_old_one_running(closed_loopback_url):
    old = current_runtime()
    gate, ran_after_close = Gate(), []
    old.lanes.main.submit("blocked", gate.block)
    old.lanes.main.submit("queued behind", ran_after_close.append, "queued")
    old.lanes.lane("api").submit_after(60, "retry", ran_after_close.append, "scheduled")
    old.lanes.lane("panel").submit("idle soon", lambda: None)
    old.telemetry.sender.submit("payload", dict, f"{closed_loopback_url}/telemetry")
    old.lanes.on_exit(lambda: ran_after_close.append("exit hook"))
    assert gate.entered.wait(10)
    threads = [lane._thread for lane in old.lanes.all()] + [old.telemetry.sender._lane._thread]
    assert all(thread is not None for thread in threads)

    new = reset_runtime()
    gate.opened.set()  # the running call returns; nothing queued behind it runs
    for thread in threads:
        assert thread is not None
        thread.join(10)
        assert not thread.is_alive(), thread.name
    old.lanes.main.submit("after close", ran_after_close.append, "late")
    assert old.lanes.flush_at_exit(1.0)
    assert ran_after_close == []
    assert all(lane._thread is None for lane in old.lanes.all())
    assert current_runtime() is new and new is not old
    assert new.lanes.main is not old.lanes.main and new.telemetry is not old.telemetry
    assert new.lanes.main.submit("new", lambda: None).wait(10)  # the fresh one works


def test_a_forked_child_holds_none_of_the_parents_rows_or_locks(tmp_path):
    """Objects register with the fork guard they are given (the runtime's ``forks``): in a
    child forked while the parent has rows queued and held, the machine lock and work on a
    lane, the child's runtime holds none of them (no rows, no lock descriptor, an empty lane
    with no thread that runs the child's own calls); the parent keeps its own."""
    runtime = current_runtime()
    gate = Gate()
    runtime.lanes.main.submit("blocked", gate.block)
    assert gate.entered.wait(10)
    cells = CellsFile(str(tmp_path), lane=runtime.lanes.main, forks=runtime.forks)
    cells._pending.append(({}, None))  # a row queued in the parent, behind the blocked call
    runtime.lanes.main.submit("queued", lambda: None)
    folder = tmp_path / "not-a-folder"
    folder.write_text("a file where the folder should be")
    appender = RowAppender(folder / "emissions.csv", CSV_COLUMNS, forks=runtime.forks)
    appender._hold([["held"] * len(CSV_COLUMNS)])
    lock = MachineLock(runtime.forks, str(tmp_path / "machine.lock"))
    assert lock.acquire()
    read_end, write_end = os.pipe()
    child = os.fork()
    if child == 0:
        try:
            os.close(read_end)
            child_runtime = current_runtime()
            report = {
                "same_runtime": child_runtime is runtime,
                "cells_pending": len(cells._pending),
                "appender_held": len(appender._unwritten),
                "lock_fd": lock._fd,
                "lane_queue": len(runtime.lanes.main._queue),
                "lane_thread": runtime.lanes.main._thread is not None,
                "lane_runs": runtime.lanes.main.submit("child", lambda: None).wait(10),
            }
            os.write(write_end, json.dumps(report).encode())
        finally:
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end) as pipe:
        report = json.loads(pipe.read())
    os.waitpid(child, 0)
    gate.opened.set()
    assert report == {"same_runtime": True, "cells_pending": 0, "appender_held": 0, "lock_fd": None,
                      "lane_queue": 0, "lane_thread": False, "lane_runs": True}
    assert len(cells._pending) == 1 and len(appender._unwritten) == 1 and lock._fd is not None  # the parent's
    assert not MachineLock(runtime.forks, str(tmp_path / "machine.lock")).acquire()  # still the parent's lock
    lock.release()


COUNT_HOOKS = textwrap.dedent("""
    import atexit, importlib, json, os, pkgutil, traceback

    registered = {"at_fork": [], "atexit": []}

    def counting(kind, original):
        def register(*args, **kwargs):
            caller = traceback.extract_stack(limit=2)[0]
            registered[kind].append((caller.filename, caller.lineno))
            return original(*args, **kwargs)
        return register

    os.register_at_fork = counting("at_fork", os.register_at_fork)
    atexit.register = counting("atexit", atexit.register)

    import carbon_magic
    for module in pkgutil.walk_packages(carbon_magic.__path__, "carbon_magic."):
        importlib.import_module(module.name)
    from carbon_magic import EmissionsTracker
    for _ in range(3):  # objects made at run time register nothing either
        tracker = EmissionsTracker(save_to_file=False, force_cpu_power=40, force_ram_power=10,
                                   powercap_root="/nonexistent", country_iso_code="FRA", offline=True,
                                   allow_multiple_runs=False)
        tracker.start()
        tracker.stop()
    package = os.path.dirname(carbon_magic.__file__)
    print("HOOKS", json.dumps({kind: [f"{os.path.relpath(name, package)}:{line}" for name, line in calls
                                      if name.startswith(package + os.sep)]
                               for kind, calls in registered.items()}))
""")


def test_the_package_registers_one_fork_hook_and_one_exit_hook():
    environment = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-c", COUNT_HOOKS], capture_output=True, text=True, timeout=120,
                          env=environment, cwd=REPO)
    assert done.returncode == 0, done.stderr[-2000:]
    hooks = json.loads(done.stdout.split("HOOKS ", 1)[1])
    assert [where.split(":")[0] for where in hooks["at_fork"]] == ["runtime.py"], hooks
    assert [where.split(":")[0] for where in hooks["atexit"]] == ["runtime.py"], hooks


def test_current_runtime_is_made_once_under_concurrent_first_use():
    reset_runtime()
    import carbon_magic.runtime as runtime_module

    runtime_module._set(None)  # as at import: no runtime yet
    seen: list[object] = []
    start = threading.Barrier(8)

    def first_use() -> None:
        start.wait()
        seen.append(current_runtime())

    threads = [threading.Thread(target=first_use) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert eventually(lambda: len(seen) == 8) and len({id(runtime) for runtime in seen}) == 1
