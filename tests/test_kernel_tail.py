"""A tracked cell's bookkeeping waits for the kernel's reply, and nothing sees it missing
(issue 16 point 10, ``carbon_magic/ipython/tail.py``).

In a real kernel, only the window's end is read before the reply: the record, both CSV rows and
the listeners come right after it (the summary's record stays before it, in the cell's output).
Each test checks both sides: a ``post_run_cell`` hook registered after the extension's (the last
thing before the kernel replies) finds the cell's rows not yet written, and whatever comes next
(the next cell's code, ``%carbon report``, a reader of the session's records) finds them there,
in order, even with several cells sent at once (Run All) and with ipykernel 6.
"""

from __future__ import annotations

import asyncio
import contextlib
import json

import pytest

pytest.importorskip("ipykernel")

from .ipython_helpers import collect, loaded_shell, read_csv, texts  # noqa: E402
from .test_panel_kernel import kernel_environment  # noqa: E402

@contextlib.contextmanager
def no_loop_marked_running():
    """The main thread with no asyncio loop marked as running: the browser tests' shared browser
    (Playwright's sync API, open for the whole session) keeps its own loop marked between its
    calls. The mark is set aside, then put back."""
    marked = asyncio.events._get_running_loop()
    asyncio.events._set_running_loop(None)
    try:
        yield
    finally:
        asyncio.events._set_running_loop(marked)


def run_in_a_loop_of_its_own(coroutine):
    """``asyncio.run(coroutine)``, whatever loop another fixture marks as running (see above)."""
    with no_loop_marked_running():
        return asyncio.run(coroutine)


# Kernel side: rows on disk (emissions.csv, carbon_cells.csv) when each cell's last
# post_run_cell hook runs (registered after the extension's: the kernel's reply comes next),
# and when a cell's code calls ``at_start()``.
PROBE = r"""
import csv, json
from pathlib import Path
from carbon_magic.ipython.extension import get_session

probe = {"before_reply": [], "at_start": []}

def rows_on_disk():
    found = []
    for name in ("emissions.csv", "carbon_cells.csv"):
        path = Path(name)
        found.append(len(list(csv.DictReader(path.open()))) if path.exists() else 0)
    return found

def at_start(name):
    probe["at_start"].append([name, rows_on_disk()])

def before_reply(result):
    probe["before_reply"].append([result.info.raw_cell, rows_on_disk()])

get_ipython().events.register("post_run_cell", before_reply)
"""


@pytest.fixture(params=["7", "6"], ids=lambda version: f"ipykernel{version}")
def any_kernel(request, isolated, offline):
    """A kernel (cwd: the test's folder) with ipykernel 7, then 6, and a client for it."""
    from jupyter_client.manager import start_new_kernel

    manager, client = start_new_kernel(kernel_name="python3", cwd=str(isolated),
                                       env=kernel_environment(request.param))
    yield client
    client.stop_channels()
    manager.shutdown_kernel(now=True)


def run(client, code: str) -> list[dict]:
    """Run one cell; its IOPub messages until idle (its reply read too)."""
    messages = collect(client, client.execute(code))
    client.get_shell_msg(timeout=60)
    return messages


def run_all(client, cells: list[str]) -> list[list[dict]]:
    """Send every cell at once, as Run All does; each cell's IOPub messages until its idle."""
    message_ids = [client.execute(code) for code in cells]
    messages: dict[str, list[dict]] = {message_id: [] for message_id in message_ids}
    idle: set[str] = set()
    while len(idle) < len(message_ids):
        message = client.get_iopub_msg(timeout=60)
        parent = message["parent_header"].get("msg_id")
        if parent in messages:
            messages[parent].append(message)
            if message["msg_type"] == "status" and message["content"]["execution_state"] == "idle":
                idle.add(parent)
    for _ in message_ids:
        client.get_shell_msg(timeout=60)
    return [messages[message_id] for message_id in message_ids]


def prepared(client, mode: str = "%carbon on --quiet") -> list[int]:
    """The extension loaded with the probe, ``mode`` on and one cell run (a new file's header
    goes through the output lane); the rows on disk then."""
    for code in ("%load_ext carbon_magic", PROBE, mode, "first = 1", "%carbon off"):
        assert "Error" not in texts(run(client, code)), code
    return kernel_value(client, "rows_on_disk()")


def kernel_value(client, expression: str):
    messages = run(client, f"print(json.dumps({expression}))")
    return json.loads("".join(m["content"]["text"] for m in messages if m["msg_type"] == "stream"))


def before_reply(client, cell: str) -> list[int]:
    """The rows on disk when ``cell``'s last post_run_cell hook ran (just before its reply)."""
    return [rows for raw, rows in kernel_value(client, "probe['before_reply']") if raw == cell][-1]


def test_run_all_writes_each_cells_rows_after_its_reply_and_before_the_next_cells_code(any_kernel, isolated):
    client = any_kernel
    base, _ = prepared(client)
    cells = [f"at_start({index})" for index in range(6)]
    run_all(client, ["%carbon on --quiet", *cells, "%carbon off"])
    starts = kernel_value(client, "probe['at_start']")
    # every earlier cell's two rows were on disk when a cell's code began ...
    assert starts == [[index, [base + index, base + index]] for index in range(6)]
    # ... and none of a cell's own rows when the kernel was about to reply to it
    assert [before_reply(client, cell) for cell in cells] == [[base + index, base + index] for index in range(6)]
    rows = read_csv(isolated / "carbon_cells.csv")[1]
    assert [row["first_line"] for row in rows] == ["first = 1", *cells]
    assert [row["run_id"] for row in read_csv(isolated / "emissions.csv")[1]] == [row["run_id"] for row in rows]


REPORT_BEFORE_REPLY = r"""
reports = []
def report_before_reply(result):
    if result.info.raw_cell == "tracked = 1":
        before = rows_on_disk()
        report = get_ipython().run_line_magic("carbon", "report")
        reports.append([before, report["first_line"].tolist(), rows_on_disk()])
get_ipython().events.register("post_run_cell", report_before_reply)
"""


def test_carbon_report_right_after_a_cell_sees_it(any_kernel):
    client = any_kernel
    base, _ = prepared(client)
    assert "Error" not in texts(run(client, REPORT_BEFORE_REPLY))
    report_cell = "df = %carbon report\nprint(df['first_line'].tolist())"
    *_, report = run_all(client, ["%carbon on --quiet", "tracked = 1", report_cell])
    assert texts(report) == "['first = 1', 'tracked = 1']\n"  # the report's own cell is still running
    # read from a hook before the reply: the report made the record (and wrote its rows) first
    [[rows_before, shown, rows_after]] = kernel_value(client, "reports")
    assert rows_before == [base, base] and shown == ["first = 1", "tracked = 1"] and rows_after == [base + 1, base + 1]


def test_the_summary_is_in_the_cells_output_before_idle_and_its_rows_follow_the_reply(any_kernel, isolated):
    client = any_kernel
    base, _ = prepared(client)
    run(client, "%carbon on")
    messages = run(client, "summarised = 2")
    summaries = [m for m in messages if m["msg_type"] == "display_data"
                 and m["content"]["data"]["text/plain"].startswith("carbon: cell")]
    assert len(summaries) == 1 and messages[-1]["content"]["execution_state"] == "idle"
    run(client, "%carbon off")
    assert before_reply(client, "summarised = 2") == [base, base]
    assert [row["first_line"] for row in read_csv(isolated / "carbon_cells.csv")[1]] == ["first = 1", "summarised = 2"]


def test_records_and_rows_keep_the_cells_order(any_kernel, isolated):
    client = any_kernel
    base, _ = prepared(client)
    cells = ["%%carbon --name magic\nm = 1", "quiet = 1", "%carbon start span", "inside = 1",
             "%%carbon --quiet --name quiet_magic\nq = 1", "%carbon stop span", "%carbon on\nshown = 1", "last = 1"]
    outputs = run_all(client, ["%carbon on --quiet", *cells, "%carbon off"])
    assert "carbon: magic" in texts(outputs[1])
    labels = ["cell 1", "magic", "cell", "cell", "quiet_magic", "span", "cell", "cell"]
    first_lines = ["first = 1", "m = 1", "quiet = 1", "inside = 1", "q = 1", "span over", "%carbon on", "last = 1"]
    records = kernel_value(client, "[[r.label, r.first_line, r.run_id] for r in get_session().records]")
    assert [label.split(" ")[0] for label, _, _ in records] == [label.split(" ")[0] for label in labels]
    assert [line.startswith(start) for (_, line, _), start in zip(records, first_lines)] == [True] * 8, records
    rows = read_csv(isolated / "carbon_cells.csv")[1]
    assert [row["run_id"] for row in rows] == [run_id for _, _, run_id in records]
    assert [row["run_id"] for row in read_csv(isolated / "emissions.csv")[1]] == [run_id for _, _, run_id in records]
    assert before_reply(client, "quiet = 1") == [base + 1, base + 1]  # left for after the reply, yet in order


def test_a_shell_outside_a_kernel_records_and_writes_inline_even_in_a_running_loop(isolated, monkeypatch):
    from carbon_magic.ipython.extension import get_session
    from carbon_magic.ipython.tail import Tail

    from .ipython_helpers import drain_outputs

    shell = loaded_shell(monkeypatch)
    try:
        shell.run_cell("%carbon on --quiet", store_history=True)
        shell.run_cell("first = 1", store_history=True)
        session = get_session(shell)
        assert session is not None

        async def cell_in_a_running_loop() -> list[str]:
            shell.run_cell("second = 2", store_history=True)
            drain_outputs()  # (a new file's header goes through the lane) before anything else runs
            return [row["first_line"] for row in read_csv(isolated / "carbon_cells.csv")[1]]

        assert run_in_a_loop_of_its_own(cell_in_a_running_loop()) == ["first = 1", "second = 2"]  # written inline
        assert len(session._records) == 2 and session._tail is None

        async def tail_of(target):
            return Tail.for_shell(target)

        assert run_in_a_loop_of_its_own(tail_of(shell)) is None  # a running loop, but no kernel

        class KernelShell:
            kernel = object()

        with no_loop_marked_running():
            assert Tail.for_shell(KernelShell()) is None  # a kernel, but no running loop
        assert isinstance(run_in_a_loop_of_its_own(tail_of(KernelShell())), Tail)
    finally:
        shell.run_cell("%carbon off", store_history=True)
        shell.extension_manager.unload_extension("carbon_magic")


def test_work_left_for_after_the_reply_runs_before_the_next_cell_and_holds_its_tracker(isolated, monkeypatch):
    """The mechanics without a kernel's timing: an InteractiveShell taken for a kernel's, its
    cells run inside a running loop that is never let run its callbacks (as ipykernel 6 may
    take queued cells): each cell's work waits, and runs first thing in the next cell, when
    the records are read and at unload; a tracker goes back to the pool only with its work."""
    from carbon_magic.ipython.extension import get_session

    from .ipython_helpers import drain_outputs

    shell = loaded_shell(monkeypatch)
    session = get_session(shell)
    assert session is not None
    monkeypatch.setattr(shell, "kernel", object(), raising=False)

    def rows() -> list[str]:
        drain_outputs()
        path = isolated / "carbon_cells.csv"
        return [row["first_line"] for row in read_csv(path)[1]] if path.exists() else []

    async def cells() -> None:
        shell.run_cell("%%carbon --quiet\nfirst = 1", store_history=True)
        (entry,) = session.pool._entries.values()
        assert session._tail is not None and session._tail.pending
        assert entry.idle == [] and session._records == [] and rows() == []  # its tracker waits with its work
        shell.run_cell("%%carbon --quiet\nsecond = 2", store_history=True)  # a second tracker: the first is not free
        assert [r.first_line for r in session._records] == ["first = 1"] and rows() == ["first = 1"]
        assert len(entry.idle) == 1 and session._tail.pending
        assert [r.first_line for r in session.records] == ["first = 1", "second = 2"]  # a reader settles first
        assert len(entry.idle) == 2 and rows() == ["first = 1", "second = 2"]
        shell.run_cell("%%carbon --quiet\nthird = 3", store_history=True)
        assert session._tail.pending
        shell.extension_manager.unload_extension("carbon_magic")
        assert rows() == ["first = 1", "second = 2", "third = 3"]

    run_in_a_loop_of_its_own(cells())
