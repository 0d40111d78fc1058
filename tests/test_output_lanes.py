"""Output lanes: order, merging, bounds, schedules, bounded exit; one stuck output never
holds up another; a real interpreter exit writes every row and then runs exit()."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from carbon_magic import EmissionsTracker
from carbon_magic.outputs import FileOutput
from carbon_magic.core.lanes import OutputWorker
from carbon_magic.runtime import current_runtime
from tests.outputs_support import MEASURED, Gate, problem_count, tracker_on
from tests.polling import eventually

REPO = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.usefixtures("exit_hooks_run_at_teardown")  # (tests/outputs_support.py)


def test_calls_run_in_order_and_a_raising_one_is_counted():
    worker = OutputWorker("test")
    seen = []
    worker.submit("w", seen.append, 1)
    worker.submit("w", lambda: 1 / 0)
    ticket = worker.submit("w", seen.append, 2)
    assert ticket.wait(5) and seen == [1, 2]
    assert problem_count("w", "ZeroDivisionError") == 1


def test_a_newer_keyed_call_replaces_a_queued_one_in_place():
    worker, gate = OutputWorker("test"), Gate()
    seen = []
    worker.submit("w", gate.block)
    assert gate.entered.wait(5)
    first = worker.submit("w", seen.append, "old", key="k")
    worker.submit("w", seen.append, "other")
    merged = worker.submit("w", seen.append, "new", key="k")
    assert merged.seq == first.seq
    gate.opened.set()
    assert worker.drain(5)
    assert seen == ["new", "other"]


def test_a_full_queue_drops_its_oldest_call_and_counts_it():
    worker, gate = OutputWorker("test", max_queued=3), Gate()
    seen = []
    worker.submit("w", gate.block)
    assert gate.entered.wait(5)
    tickets = [worker.submit("w", seen.append, n) for n in range(5)]
    gate.opened.set()
    assert all(t.wait(5) for t in tickets)  # a dropped call's ticket is done too
    assert seen == [2, 3, 4]
    assert problem_count("output lane test", "BacklogDropped") == 2


def test_scheduled_calls_wait_their_time_unless_hurried():
    worker = OutputWorker("test")
    seen = []
    worker.submit_after(0.1, "w", seen.append, "soon")
    worker.submit_after(60, "w", seen.append, "later")
    assert eventually(lambda: seen == ["soon"], timeout_s=5)
    time.sleep(0.1)  # time must pass: the later call must not run early
    assert seen == ["soon"]
    worker.hurry()
    assert eventually(lambda: seen == ["soon", "later"], timeout_s=5)


def test_drain_is_bounded_when_an_output_never_returns():
    worker, gate = OutputWorker("test"), Gate()
    worker.submit("w", gate.block)
    t0 = time.perf_counter()
    assert not worker.drain(0.2)
    assert time.perf_counter() - t0 < 2
    gate.opened.set()
    assert worker.drain(5)


def test_an_idle_lane_ends_its_thread_and_starts_again(monkeypatch):
    from carbon_magic.core import lanes as worker_module

    monkeypatch.setattr(worker_module, "IDLE_EXIT_S", 0.05)
    worker = OutputWorker("test")
    seen = []
    worker.submit("w", seen.append, 1).wait(5)
    assert eventually(lambda: worker._thread is None, timeout_s=5)
    assert worker.submit("w", seen.append, 2).wait(5) and seen == [1, 2]


def test_a_caller_waiting_for_its_call_cuts_the_lanes_linger_short(monkeypatch):
    """An idle lane woken by a call lingers to batch calls that come close together; a
    caller that waits (``tracker.stop()`` in a script) must not wait out that linger."""
    from carbon_magic.core import lanes as worker_module

    worker = OutputWorker("test")
    seen = []
    assert worker.submit("w", seen.append, 1).wait(5)
    assert eventually(lambda: worker._idle, timeout_s=5)  # the thread now waits for work
    monkeypatch.setattr(worker_module, "LINGER_S", 60.0)
    assert worker.submit("w", seen.append, 2).wait(5)
    assert seen == [1, 2]


def test_a_stuck_custom_handler_never_delays_the_csv_or_the_caller(tmp_path):
    gate = Gate()

    class Stuck:
        def out(self, total, delta):
            gate.block()

    tracker = tracker_on(Stuck(), FileOutput("emissions.csv", str(tmp_path)))
    try:
        for _ in range(3):
            tracker.start()
            t0 = time.perf_counter()
            tracker.stop(wait=False)
            assert time.perf_counter() - t0 < 0.5
        assert gate.entered.wait(5)
        path = tmp_path / "emissions.csv"
        assert eventually(lambda: path.exists() and len(list(csv.DictReader(path.open()))) == 3, timeout_s=5)
        assert not tracker._sink.wait(0.1)  # the stuck one is still stuck: the wait is bounded
    finally:
        gate.opened.set()
    assert tracker._sink.wait(5)


def test_lanes_are_per_kind_and_unknown_names_are_refused():
    lane = current_runtime().lanes.lane
    assert lane("api") is lane("api") and lane("api") is not lane("http")
    try:
        lane("nope")
    except ValueError as error:
        assert "main, ext, api, http, prometheus" in str(error)
    else:
        raise AssertionError("lane('nope') should fail")


def test_interpreter_exit_writes_every_row_then_runs_exit(tmp_path):
    script = textwrap.dedent(f"""
        import time
        from carbon_magic import EmissionsTracker
        from carbon_magic.outputs import BaseOutput

        class Slow(BaseOutput):
            def out(self, total, delta):
                time.sleep(0.2)
            def exit(self):
                open("exit-ran", "w").write("yes")

        tracker = EmissionsTracker(output_handlers=[Slow()],
                                   **{dict(MEASURED, save_to_file=True)!r})
        for _ in range(5):
            tracker.start()
            tracker.stop(wait=False)
    """)
    done = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    assert done.returncode == 0, done.stderr
    rows = list(csv.DictReader((tmp_path / "emissions.csv").open()))
    assert len(rows) == 5
    assert (tmp_path / "exit-ran").read_text() == "yes"


def test_fork_child_gets_empty_lanes_of_its_own(tmp_path):
    if not hasattr(os, "fork"):
        return
    tracker = EmissionsTracker(**{**MEASURED, "save_to_file": True, "output_dir": str(tmp_path)})
    for _ in range(3):  # the parent's lane numbering moves on
        current_runtime().lanes.main.submit("w", lambda: None)
    tracker.start()
    tracker.stop()
    pid = os.fork()
    if pid == 0:  # child: its outputs still work
        try:
            tracker.start()
            t0 = time.perf_counter()
            tracker.stop()  # waits for its row: the child's lane numbering follows the parent's
            (tmp_path / "stop_s").write_text(str(time.perf_counter() - t0))
        finally:
            os._exit(0)
    os.waitpid(pid, 0)
    assert float((tmp_path / "stop_s").read_text()) < 5  # not the 10 s bound of stop()'s wait
    rows = list(csv.DictReader((tmp_path / "emissions.csv").open()))
    assert len(rows) == 2


def test_many_threads_submitting_at_once_lose_nothing():
    worker = OutputWorker("test")
    seen = []
    lock = threading.Lock()

    def add(n):
        with lock:
            seen.append(n)

    threads = [threading.Thread(target=lambda base=base: [worker.submit("w", add, base + i) for i in range(200)])
               for base in range(0, 2000, 200)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert worker.drain(10)
    assert sorted(seen) == list(range(2000))


def test_a_csv_that_cannot_be_written_is_counted_and_the_other_outputs_go_on(tmp_path):
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("")
    delivered = []

    class Other:
        def out(self, total, delta):
            delivered.append(total.run_id)

    tracker = tracker_on(FileOutput("emissions.csv", str(not_a_folder)), Other())
    tracker.start()
    assert tracker.stop() > 0
    assert problem_count("output FileOutput.out", "NotADirectoryError") == 1
    assert delivered == [tracker.final_emissions_data.run_id]


def test_exit_flush_runs_the_work_itself_where_no_thread_can_start(tmp_path):
    """Python 3.12 refuses new threads during interpreter exit; lanes idle by then still flush."""
    script = textwrap.dedent(f"""
        import atexit, threading
        from carbon_magic import EmissionsTracker
        from carbon_magic.core import lanes
        from carbon_magic.outputs import BaseOutput
        from tests.polling import eventually

        lanes.IDLE_EXIT_S = 0.05

        class WithExit(BaseOutput):
            def exit(self):
                open("exit-ran", "w").write("yes")

        tracker = EmissionsTracker(output_handlers=[WithExit()], **{dict(MEASURED, save_to_file=True)!r})
        tracker.start()
        tracker.stop()
        assert eventually(lambda: not [t for t in threading.enumerate()  # every lane's thread has ended
                                       if t.name.startswith("carbon_magic-outputs")])

        def no_new_threads(self):
            raise RuntimeError("can't create new thread at interpreter shutdown")

        atexit.register(lambda: setattr(threading.Thread, "start", no_new_threads))  # runs before our flush
        tracker.start()
        tracker.stop(wait=False)  # queued, and its lane has no thread: the exit flush writes it
    """)
    done = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    assert done.returncode == 0, done.stderr
    assert len(list(csv.DictReader((tmp_path / "emissions.csv").open()))) == 2
    assert (tmp_path / "exit-ran").read_text() == "yes"
