"""A kernel's life with the extension loaded: interrupted cells, restarts, forks, and a
thousand trackers started from eight threads at once. Real Jupyter kernels (jupyter_client)
where the kernel itself matters; an IPython shell otherwise. The 50 %load_ext / %unload_ext
cycles are a case in tests/test_magics.py (marked ``reliability``)."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from carbon_magic.outputs.cells_file import CELLS_CSV_COLUMNS, CELLS_FILE_NAME
from tests.ipython_helpers import collect, texts
from tests.polling import eventually

from .harness import whole_rows

TRACKED = "%%carbon --quiet\n"


def test_keyboard_interrupt_inside_tracked_cells(isolated, figures, kernel_notebook):
    """Interrupting a kernel (as the stop button does) inside tracked cells: the cell ends
    with the user's KeyboardInterrupt, unchanged; it is recorded as interrupted, whole; the
    next cells run and are tracked as usual."""
    figures.fault("SIGINT to the kernel (interrupt_kernel) while two tracked cells run")
    kernel = kernel_notebook()
    kernel.run("%load_ext carbon_magic")
    for attempt in range(2):
        cell = TRACKED + "import time\nprint('running', flush=True)\nfor _ in range(400):\n    time.sleep(0.05)"
        message_id = kernel.send(cell)
        running = kernel.wait_for_output(message_id, "running")  # the interrupt lands in the user's code
        time.sleep(0.2)
        kernel.manager.interrupt_kernel()
        kernel.outcome(message_id, cell, raises="KeyboardInterrupt", earlier=running)
        kernel.run(TRACKED + f"print('after', {attempt})", expect_output=f"after {attempt}")
    kernel.rows_are_whole(isolated, count=4)
    statuses = [row["status"] for row in whole_rows(isolated / CELLS_FILE_NAME, CELLS_CSV_COLUMNS)]
    assert statuses == ["interrupted", "ok", "interrupted", "ok"]


def test_kernel_restart_keeps_every_record(isolated, figures, kernel_notebook):
    """A kernel restarted between tracked cells (as Kernel > Restart does): the rows written
    before stay, the extension loads again in the new kernel, and its rows follow, whole."""
    figures.fault("restart_kernel(now=True) between tracked cells, then %load_ext again")
    kernel = kernel_notebook()
    kernel.run("%load_ext carbon_magic")
    kernel.run(TRACKED + "print('before', 1)", expect_output="before 1")
    kernel.run(TRACKED + "print('before', 2)", expect_output="before 2")
    kernel.rows_are_whole(isolated, count=2)
    before = kernel.run_ids()
    kernel.manager.restart_kernel(now=True)
    kernel.client.wait_for_ready(timeout=60)
    kernel.run("%load_ext carbon_magic")
    kernel.run(TRACKED + "print('after', 1)", expect_output="after 1")
    after = kernel.run_ids()
    assert len(after) == 1 and not set(after) & set(before)
    eventually(lambda: len(whole_rows(isolated / "emissions.csv")) >= 3, step_s=0.05)  # (checked next)
    figures.rows(isolated / "emissions.csv", before + after)
    figures.rows(isolated / CELLS_FILE_NAME, before + after, CELLS_CSV_COLUMNS)


FORK_CELL = TRACKED + """import os
pid = os.fork()
if pid == 0:
    total = sum(range(100_000))
    os._exit(0)
_, code = os.waitpid(pid, 0)
print('forked', os.waitstatus_to_exitcode(code))
"""


def test_os_fork_in_a_tracked_cell(isolated, figures, kernel_notebook):
    """``os.fork`` inside a tracked cell (as multiprocessing's fork start does): the child
    runs and exits cleanly, the parent's cell gives its result, and the cell is one whole
    record: the child writes no duplicate or half row."""
    figures.fault("os.fork() in 3 tracked cells; the child computes then os._exit(0)")
    kernel = kernel_notebook()
    kernel.run("%load_ext carbon_magic")
    for _ in range(3):
        kernel.run(FORK_CELL, expect_output="forked 0")
    kernel.run(TRACKED + "print('after')", expect_output="after")
    time.sleep(0.5)  # a child writing late would have done so by now
    kernel.rows_are_whole(isolated, count=4)
    assert len(whole_rows(isolated / "emissions.csv")) == 4


THREADS_CELL = TRACKED + """import threading
from carbon_magic import OfflineEmissionsTracker
results, errors = [], []
def track(thread):
    try:
        for index in range(125):
            tracker = OfflineEmissionsTracker(country_iso_code="FRA", project_name=f"t{thread}-{index}",
                                              log_level="error")
            tracker.start()
            results.append(tracker.stop())
    except Exception as error:
        errors.append(error)
threads = [threading.Thread(target=track, args=(n,)) for n in range(8)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
(len(results), errors)
"""


def test_a_thousand_trackers_from_eight_threads_in_a_tracked_cell(open_notebook, figures):
    """1,000 trackers started and stopped from 8 threads at once, inside a tracked cell: every
    tracker returns its emissions, the cell's own record is whole, and emissions.csv holds
    1,000 + 1 whole rows, each tracker's exactly once."""
    figures.fault("8 threads x 125 OfflineEmissionsTracker start/stop inside a %%carbon cell")
    notebook = open_notebook()
    notebook.run(THREADS_CELL, expect=(1000, []))
    assert all(value is not None and value >= 0 for value in notebook.shell.user_ns["results"])
    notebook.rows_are_whole()
    names = sorted(row["project_name"] for row in whole_rows(Path("emissions.csv")))
    expected = sorted(["codecarbon"] + [f"t{t}-{i}" for t in range(8) for i in range(125)])
    figures.rows_written += len(names) - 1
    figures.rows_lost += len(set(expected) - set(names))
    assert names == expected


RECORDS_CODE = ("import json\nfrom carbon_magic.ipython.extension import get_session\n"
                "print('RECORDS', json.dumps([[r.first_line, r.status] for r in get_session().records]))")


def test_interrupts_at_random_moments_of_short_tracked_cells(isolated, figures, kernel_notebook):
    """Ctrl-C at random moments of 30 short tracked cells, so that it also lands while the
    extension opens or closes a record: each cell finishes or raises the user's
    KeyboardInterrupt (nothing else), every cell whose code started has a whole record, no
    window is left open, and tracking goes on."""
    figures.fault("SIGINT 0-20 ms (seeded random) after sending each of 30 tracked 5 ms cells")
    kernel = kernel_notebook()
    kernel.run("%load_ext carbon_magic")
    chance = random.Random(10)
    started = []
    for index in range(30):
        cell = TRACKED + f"print('started', {index})\nimport time\ntime.sleep(0.005)\nprint('ended', {index})"
        message_id = kernel.send(cell)
        time.sleep(chance.uniform(0.0, 0.02))
        kernel.manager.interrupt_kernel()
        messages = collect(kernel.client, message_id)
        errors = [m["content"]["ename"] for m in messages if m["msg_type"] == "error"]
        figures.cell(errors in ([], ["KeyboardInterrupt"]), f"cell {index} ended with {errors}")
        if f"started {index}" in texts(messages):
            started.append(f"print('started', {index})")
    time.sleep(0.2)  # an interrupt still in flight lands here, not in the next cell
    kernel.run(TRACKED + "print('still tracking')", expect_output="still tracking")
    shown = kernel.run(RECORDS_CODE)
    records = json.loads(shown.split("RECORDS ", 1)[1].splitlines()[0])
    recorded = {line for line, _ in records}
    assert [line for line in started if line not in recorded] == []
    assert all(status in ("ok", "interrupted") for _, status in records)
    assert "Tracking now:\n  nothing" in kernel.run("%carbon status")
    kernel.rows_are_whole(isolated, count=len(records))


CTRL_C_AT = """import os, signal, sys
class CtrlCAt:
    '''Sends this kernel a SIGINT as it runs the first line of ``function`` (in a file ending
    with ``file``) in the next cell: from the cell's start, or once its code has run. Python
    takes the signal at once, so the KeyboardInterrupt lands on that line unless held.'''
    def arm(self, file, function, after_code):
        self.target, self.after_code, self.state = (file, function), after_code, "armed"
        sys.settrace(self.trace)
    def trace(self, frame, event, arg):
        if event == "call" and frame.f_code.co_name == "run_cell" and self.state == "armed":
            self.state = "in code" if self.after_code else "aiming"  # the next cell starts
        return self.line
    def line(self, frame, event, arg):
        code = frame.f_code
        if event == "return" and code.co_name == "<module>" and self.state == "in code":
            self.state = "aiming"  # the cell's code has run
        elif event == "line" and self.state == "aiming" \\
                and code.co_name == self.target[1] and code.co_filename.endswith(self.target[0]):
            self.state = "fired"
            os.kill(os.getpid(), signal.SIGINT)
        return self.line
ctrl_c_at = CtrlCAt()
"""

# Where a Ctrl-C in IPython's own code used to drop a %%carbon cell's record: (file, function,
# after the cell's code ran?). Before the window opened, IPython reported it as an error in the
# pre_run_cell hook and ran the cell untracked; after the code, it left _run_cell (post_run_cell
# got no result), skipped the post_run_cell hook (between post_execute callbacks) or came before
# post_run_cell took the window.
FRAGILE_MOMENTS = [
    ("carbon_magic/ipython/session.py", "pre_run_cell", False),
    ("IPython/core/interactiveshell.py", "_run_cell", True),
    ("IPython/core/events.py", "trigger", True),
    ("carbon_magic/ipython/session.py", "post_run_cell", True),
]


def ctrl_c_at(kernel, moment: tuple[str, str, bool], cell: str):
    """Load the extension in ``kernel`` and run ``cell`` with a SIGINT at ``moment`` (file,
    function, after the code?); the cell must raise the user's KeyboardInterrupt. The kernel
    and what the cell showed."""
    kernel.run("%load_ext carbon_magic")
    kernel.run(CTRL_C_AT)
    kernel.run(f"ctrl_c_at.arm{moment!r}")
    shown = kernel.run(cell, raises="KeyboardInterrupt")
    kernel.run("sys.settrace(None)\nassert ctrl_c_at.state == 'fired', ctrl_c_at.target")
    return kernel, shown


@pytest.mark.parametrize("file, function, after_code", FRAGILE_MOMENTS, ids=[m[1] for m in FRAGILE_MOMENTS])
def test_ctrl_c_where_ipython_opens_or_closes_a_tracked_cell(isolated, figures, kernel_notebook, file, function,
                                                              after_code):
    """Ctrl-C exactly where IPython's own code runs around a ``%%carbon`` cell's hooks (the
    pre_run_cell hook before the window opens; returning from ``_run_cell``, between
    post_execute callbacks and entering post_run_cell after the code): the user's
    KeyboardInterrupt, the cell recorded whole (interrupted before its code, or its code run),
    no window left open, and the next cell tracked as usual."""
    figures.fault("SIGINT from a sys.settrace hook at the first line of IPython's or the extension's "
                  "function around a tracked cell's hooks")
    kernel, shown = ctrl_c_at(kernel_notebook(), (file, function, after_code), TRACKED + "print('ran')")
    assert ("ran" in shown.splitlines()) == after_code, shown  # the cell's own output line
    kernel.run(TRACKED + "print('after')", expect_output="after")
    shown = kernel.run(RECORDS_CODE)
    records = json.loads(shown.split("RECORDS ", 1)[1].splitlines()[0])
    assert records == [["print('ran')", "ok" if after_code else "interrupted"], ["print('after')", "ok"]]
    assert "Tracking now:\n  nothing" in kernel.run("%carbon status")
    kernel.rows_are_whole(isolated, count=2)


def test_ctrl_c_after_an_untracked_cells_code_leaves_tracking_on(isolated, figures, kernel_notebook):
    """Ctrl-C between an untracked cell's post_execute callbacks (where it used to leave the
    kernel without a reply and skip the post_run_cell hook, so the extension took every later
    cell for one nested in it: ``%carbon on`` tracked nothing): the user's KeyboardInterrupt,
    and the cells after it tracked."""
    figures.fault("SIGINT from a sys.settrace hook at the post_execute trigger of an untracked cell")
    kernel, _ = ctrl_c_at(kernel_notebook(), ("IPython/core/events.py", "trigger", True), "print('untracked')")
    kernel.run("%carbon on --quiet")
    kernel.run("print('after')", expect_output="after")
    kernel.run("%carbon off")
    shown = kernel.run(RECORDS_CODE)
    assert json.loads(shown.split("RECORDS ", 1)[1].splitlines()[0]) == [["print('after')", "ok"]]
    assert "Tracking now:\n  nothing" in kernel.run("%carbon status")
    kernel.rows_are_whole(isolated, count=1)


CTRL_C_LISTENER = """import os, signal
from carbon_magic.ipython.extension import get_session
class CtrlC:
    '''Sends this kernel a SIGINT while the extension opens or closes a record (its window's end
    is read in the cell; its record, rows and listeners come right after the kernel's reply).'''
    when = None
    def cell_started(self, window):
        if self.when == "opening":
            os.kill(os.getpid(), signal.SIGINT)
    def cell_ended(self, window):
        if self.when == "closing":
            os.kill(os.getpid(), signal.SIGINT)
    def cell_finished(self, record, data):
        if self.when == "after the reply":
            os.kill(os.getpid(), signal.SIGINT)
ctrl_c = CtrlC()
get_session().add_listener(ctrl_c)
"""


def test_ctrl_c_while_the_extension_opens_or_closes_a_record(isolated, figures, kernel_notebook):
    """Ctrl-C exactly while the extension opens a cell's record (the cell stops before its
    code, recorded as interrupted) or closes it (the cell's own work is done and recorded,
    then the user gets the interrupt): the user's KeyboardInterrupt either way, never a
    record lost or a window left open. One while the record is made right after the kernel's
    reply finds an idle kernel, which ignores it: the record is whole, the next cell runs."""
    figures.fault("SIGINT sent from a session listener inside the record's opening, its closing, "
                  "then its bookkeeping after the reply")
    kernel = kernel_notebook()
    kernel.run("%load_ext carbon_magic")
    kernel.run(CTRL_C_LISTENER)
    kernel.run("ctrl_c.when = 'opening'")
    shown = kernel.run(TRACKED + "print('ran')", raises="KeyboardInterrupt")
    assert "ran" not in shown
    kernel.run("ctrl_c.when = 'closing'")
    kernel.run(TRACKED + "print('ran')", raises="KeyboardInterrupt")
    kernel.run("ctrl_c.when = 'after the reply'")
    kernel.run(TRACKED + "print('idle')", expect_output="idle")
    kernel.run("ctrl_c.when = None")
    kernel.run(TRACKED + "print('after')", expect_output="after")
    shown = kernel.run(RECORDS_CODE)
    records = json.loads(shown.split("RECORDS ", 1)[1].splitlines()[0])
    assert records == [["print('ran')", "interrupted"], ["print('ran')", "ok"], ["print('idle')", "ok"],
                       ["print('after')", "ok"]]
    assert "Tracking now:\n  nothing" in kernel.run("%carbon status")
    kernel.rows_are_whole(isolated, count=4)


def test_ctrl_c_while_auto_mode_opens_or_closes_a_record(isolated, figures, kernel_notebook):
    """Under ``%carbon on``, Ctrl-C exactly while the extension opens or closes a cell's record
    (in IPython's pre/post-run hooks, where IPython itself reports a KeyboardInterrupt as an
    error in the hook and runs the cell on): the record is opened and closed whole, the
    interrupt is still shown to the user, and no window is left open."""
    figures.fault("SIGINT sent from a session listener inside %carbon on's opening, then its closing")
    kernel = kernel_notebook()
    kernel.run("%load_ext carbon_magic")
    kernel.run(CTRL_C_LISTENER)
    kernel.run("%carbon on --quiet")
    kernel.run("ctrl_c.when = 'opening'", expect_output="")
    shown = kernel.run("print('ran')", raises="KeyboardInterrupt")
    assert "ran" in shown and "pre_run_cell" in shown
    shown = kernel.run("ctrl_c.when = 'closing'", raises="KeyboardInterrupt")  # this cell's own closing
    assert "post_run_cell" in shown
    kernel.run("ctrl_c.when = None\nprint('after')", expect_output="after")
    kernel.run("%carbon off")
    shown = kernel.run(RECORDS_CODE)
    records = json.loads(shown.split("RECORDS ", 1)[1].splitlines()[0])
    assert [line for line, _ in records] == ["ctrl_c.when = 'opening'", "print('ran')", "ctrl_c.when = 'closing'",
                                             "ctrl_c.when = None"], records
    assert {status for _, status in records} == {"ok"}
    assert "Tracking now:\n  nothing" in kernel.run("%carbon status")
    kernel.rows_are_whole(isolated, count=len(records))


FORK_DURING_WRITE = textwrap.dedent("""
    import fcntl, json, multiprocessing, os, sys, threading
    from carbon_magic import OfflineEmissionsTracker
    from carbon_magic.runtime import current_runtime

    folder = sys.argv[1]
    in_write, forked = threading.Event(), threading.Event()

    def pause_inside_the_row_write(frame, event, arg):
        '''Holds the output lane inside its first os.write (the file's lock taken) until the fork.'''
        if event == "c_call" and arg is os.write and not in_write.is_set() \\
                and threading.current_thread().name == "carbon_magic-outputs":
            in_write.set()
            forked.wait(60)

    def track(name, **options):
        tracker = OfflineEmissionsTracker(country_iso_code="FRA", output_dir=folder, log_level="error",
                                          project_name=name, force_cpu_power=40, **options)
        tracker.start()
        return tracker

    def in_child(_):
        return track("child").stop() is not None

    def locked_elsewhere(path):
        fd = os.open(path, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return False
        except BlockingIOError:
            return True
        finally:
            os.close(fd)

    threading.setprofile(pause_inside_the_row_write)
    alone = track("alone", allow_multiple_runs=False)  # holds the machine-wide lock while it runs
    track("written").stop(wait=False)
    assert in_write.wait(60)
    pool = multiprocessing.get_context("fork").Pool(2)  # forked while the row's write holds the lock
    forked.set()
    alone.stop(wait=False)
    current_runtime().lanes.main.drain(30)
    report = {"csv_locked": locked_elsewhere(os.path.join(folder, "emissions.csv")),
              "machine_lock_free": track("alone-again", allow_multiple_runs=False).stop() is not None}
    report["children_tracked"] = pool.map(in_child, range(2)) if not report["csv_locked"] else []
    pool.terminate()
    track("after").stop()
    print("REPORT", json.dumps(report), flush=True)
""")


def test_fork_during_a_csv_write_inherits_no_lock(tmp_path, figures):
    """A ``multiprocessing`` fork pool started while the output lane writes a row (the file
    locked) and while a tracker holds the machine-wide lock: the children hold no lock (the
    file and the machine lock are free as soon as the parent is done), the children's own
    rows are written, and no child writes one of the parent's rows."""
    figures.fault("multiprocessing fork Pool(2) started while the lane is inside a row's write and "
                  "an allow_multiple_runs=False tracker runs")
    environment = {k: v for k, v in os.environ.items() if not k.startswith("CODECARBON_")}
    environment["TMPDIR"] = str(tmp_path)  # this case's own machine-wide lock file
    script = subprocess.run([sys.executable, "-c", FORK_DURING_WRITE, str(tmp_path)], env=environment,
                            capture_output=True, timeout=240)
    assert script.returncode == 0, script.stderr.decode()[-2000:]
    report = json.loads(script.stdout.decode().split("REPORT ", 1)[1])
    assert report == {"csv_locked": False, "machine_lock_free": True, "children_tracked": [True, True]}
    names = sorted(row["project_name"] for row in whole_rows(tmp_path / "emissions.csv"))
    expected = sorted(["alone", "written", "alone-again", "child", "child", "after"])
    figures.rows_written += len(set(names))
    figures.rows_lost += len(set(expected) - set(names))
    assert names == expected


SEGFAULT_AS_THE_SIXTH_CELL_STARTS = """import ctypes
def segfault_as_the_sixth_starts(info):
    if info.raw_cell.startswith("crash"):
        ctypes.string_at(0)  # a segfault in a C extension, the moment the next cell starts
get_ipython().events.register("pre_run_cell", segfault_as_the_sixth_starts)
"""


def test_kernel_dying_right_after_tracked_cells_keeps_their_rows(isolated, figures, kernel_notebook):
    """Run All over 5 tracked cells and a sixth, and the kernel segfaults the moment the sixth
    starts (a pre-run hook, right after the fifth has ended): a crash loses at most the cell in
    flight, so every cell whose code finished is a whole row of both emissions.csv and
    carbon_cells.csv, and the two files agree."""
    figures.fault("Run All: 5 %%carbon --quiet cells and a 6th sent at once; SIGSEGV (ctypes.string_at(0)) as the 6th starts")
    kernel = kernel_notebook()
    kernel.run("%load_ext carbon_magic")
    kernel.run(SEGFAULT_AS_THE_SIXTH_CELL_STARTS)
    for index in range(5):
        kernel.send(TRACKED + f"print('cell', {index})")
    kernel.send("crash = 'the cell in flight'")
    assert eventually(lambda: not kernel.manager.is_alive(), timeout_s=120, step_s=0.05), "the kernel did not crash"
    figures.cells_run += 5
    emissions = whole_rows(isolated / "emissions.csv") if (isolated / "emissions.csv").exists() else []
    cells = whole_rows(isolated / CELLS_FILE_NAME, CELLS_CSV_COLUMNS) if (isolated / CELLS_FILE_NAME).exists() else []
    figures.rows_written += min(len(emissions), len(cells))
    figures.rows_lost += 5 - min(len(emissions), len(cells))
    assert [row["first_line"] for row in cells] == [f"print('cell', {index})" for index in range(5)]
    assert [row["run_id"] for row in emissions] == [row["run_id"] for row in cells]
