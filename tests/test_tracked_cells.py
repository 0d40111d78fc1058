"""``%%carbon`` cells run as the same cells untracked, in a real kernel (jupyter_client).

Top-level ``await``, tracebacks, ``from __future__`` imports, compile errors and inline figures
behave as in an untracked cell; the cell's record covers its post-execute work.
"""

from __future__ import annotations

import re

import pytest

pytest.importorskip("ipykernel")

from .ipython_helpers import execute_like_jupyterlab, plain_traceback, texts  # noqa: E402
from .test_panel_kernel import kernel_environment  # noqa: E402

_COUNT = re.compile(r"In\s*\[\d+\]")


def _run(client, code: str) -> list[dict]:
    return execute_like_jupyterlab(client, code)[1]


def _errors(messages: list[dict]) -> list[dict]:
    return [message["content"] for message in messages if message["msg_type"] == "error"]


def _report(client, columns: str) -> str:
    return texts(_run(client, f"report = %carbon report\nprint(report[{columns}].values.tolist())")).strip()


def _traceback(client, code: str) -> list[str]:
    """The error's traceback lines as the user reads them: no colours, cell numbers left out."""
    errors = _errors(_run(client, code))
    assert len(errors) == 1, code
    return [_COUNT.sub("In[N]", line).rstrip() for line in plain_traceback(errors[0])]


@pytest.fixture
def loaded(kernel):
    _, client = kernel
    assert not _errors(_run(client, "%load_ext carbon_magic"))
    return client


@pytest.fixture(params=["7", "6"], ids=lambda version: f"ipykernel{version}")
def each_kernel(request, isolated, offline):
    """A kernel with the extension loaded, on ipykernel 7 and 6 (they run async cells and
    post-execute hooks differently)."""
    from jupyter_client.manager import start_new_kernel

    manager, client = start_new_kernel(kernel_name="python3", cwd=str(isolated), env=kernel_environment(request.param))
    assert not _errors(_run(client, "%load_ext carbon_magic"))
    assert texts(_run(client, "import ipykernel; print(ipykernel.__version__)")).startswith(request.param)
    yield client
    client.stop_channels()
    manager.shutdown_kernel(now=True)


def test_top_level_await_async_with_and_async_for_run_and_are_recorded(each_kernel):
    cells = [
        "%%carbon --quiet --name await\nimport asyncio\nvalue = await asyncio.sleep(0, result=42)\nvalue",
        "%%carbon --quiet --name with\nimport contextlib\n\n@contextlib.asynccontextmanager\n"
        "async def opened():\n    yield 'inside'\n\nasync with opened() as where:\n    print(where)",
        "%%carbon --quiet --name for\nasync def count():\n    for i in range(3):\n        yield i\n\n"
        "async for i in count():\n    print('item', i)",
    ]
    outputs = [_run(each_kernel, cell) for cell in cells]
    assert [_errors(messages) for messages in outputs] == [[], [], []]
    assert "42" in texts(outputs[0]) and "inside" in texts(outputs[1])
    assert "item 0\nitem 1\nitem 2" in texts(outputs[2])
    assert _report(each_kernel, "['label', 'status']") == "[['await', 'ok'], ['with', 'ok'], ['for', 'ok']]"


@pytest.mark.parametrize("xmode", ["Context", "Plain", "Verbose"])
def test_a_tracked_cells_traceback_reads_as_the_untracked_cells(loaded, xmode):
    _run(loaded, f"%xmode {xmode}")
    body = "def divide(a, b):\n    return a / b\n\ndivide(1, 0)"
    untracked = _traceback(loaded, f"# %%carbon --quiet\n{body}")
    tracked = _traceback(loaded, f"%%carbon --quiet\n{body}")
    # IPython shows the code it ran: the magic line is a blank line there
    assert tracked == [line.replace("# %%carbon --quiet", "").rstrip() for line in untracked]
    assert not any("carbon_magic" in line or "run_cell_magic" in line or "hidden" in line for line in tracked)


def test_a_syntax_error_in_a_tracked_cell_shows_as_ipython_shows_it(loaded):
    untracked = _traceback(loaded, "# %%carbon --quiet\ntotal = 1 +* 2\nprint(total)")
    tracked = _traceback(loaded, "%%carbon --quiet\ntotal = 1 +* 2\nprint(total)")
    assert tracked == untracked
    assert tracked[0].strip() == "Cell In[N], line 2" and tracked[-1] == "SyntaxError: invalid syntax"
    assert len(tracked) == 4  # where, the line, the caret, the error: no frames


def test_a_future_import_in_a_tracked_cell_carries_over_to_later_cells(loaded):
    first = _run(loaded, "%%carbon --quiet\nfrom __future__ import annotations\n\ndef f(x: NotDefined) -> int:\n"
                         "    return 1")
    later = _run(loaded, "def g(x: AlsoNotDefined):\n    pass\n\ng.__annotations__")
    assert _errors(first) == [] and _errors(later) == []
    assert "{'x': 'AlsoNotDefined'}" in texts(later)


def test_compile_errors_are_recorded_as_failed_under_both_tracking_forms(each_kernel):
    tracked = _run(each_kernel, "%%carbon --quiet --name broken\nvalues = (1,")
    _run(each_kernel, "%carbon on --quiet")
    automatic = _run(each_kernel, "also = (1,")
    _run(each_kernel, "%carbon off")
    assert [error["ename"] for error in _errors(tracked) + _errors(automatic)] == ["SyntaxError", "SyntaxError"]
    assert _report(each_kernel, "['label', 'status']").startswith("[['broken', 'failed'], ['cell ")
    assert _report(each_kernel, "'status'") == "['failed', 'failed']"


def test_the_record_covers_the_inline_figure_drawn_after_the_cell(each_kernel):
    setup = _run(each_kernel, (
        "%matplotlib inline\n"
        "import time\n"
        "from matplotlib_inline.backend_inline import flush_figures\n"
        "drawing = []\n"
        "hooks = get_ipython().events.callbacks['post_execute']\n"
        "at = hooks.index(flush_figures)\n"
        "hooks.insert(at + 1, lambda: drawing.append(time.perf_counter()))\n"
        "hooks.insert(at, lambda: drawing.append(time.perf_counter()))"
    ))
    assert _errors(setup) == []
    figure = _run(each_kernel, "%%carbon --name figure --no-panel\nimport matplotlib.pyplot as plt\n"
                          "plt.figure(figsize=(8, 6))\nplt.plot(range(100_000))")
    shown = [m["content"]["data"] for m in figure if m["msg_type"] == "display_data"]
    assert "image/png" in shown[0] and shown[1]["text/plain"].startswith("carbon: figure")  # figure, then summary
    measured = texts(_run(each_kernel, "report = %carbon report\n"
                                       "print(drawing[-1] - drawing[-2], report['duration_s'].iloc[-1])"))
    drawing_s, recorded_s = map(float, measured.split())
    assert recorded_s >= drawing_s > 0


def test_the_cell_magic_still_runs_nested_cells_and_reports_bad_options(loaded):
    """Where the magic line stays (inside another cell, options that are wrong) the magic runs."""
    _run(loaded, "label = 'expanded'")
    assert _errors(_run(loaded, "%%carbon --quiet --name {label}\nfirst = 1")) == []
    assert _errors(_run(loaded, "%%time\n%%carbon --quiet --name nested\nsecond = 2")) == []
    shown = texts(_run(loaded, "%%carbon --pue abc\nthird = 3"))
    assert "UsageError: %%carbon: argument --pue: Invalid value 'abc'" in shown
    assert texts(_run(loaded, "print('third' in dir())")).strip() == "False"
    assert _report(loaded, "['label', 'first_line', 'status']") == (
        "[['expanded', 'first = 1', 'ok'], ['nested', 'second = 2', 'ok']]"
    )
