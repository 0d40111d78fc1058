"""The panel tests' shell: ``ip`` (an InteractiveShell with carbon_magic loaded, offline in
France, every display recorded) and ``widget_libraries``; registered in tests/conftest.py."""

from __future__ import annotations

import threading

import pytest
from IPython.core.displaypub import DisplayPublisher

from carbon_magic.runtime import current_runtime

from .ipython_helpers import loaded_shell

WIDGET_MIME = "application/vnd.jupyter.widget-view+json"


class RecordingPublisher(DisplayPublisher):
    """Every display and display update, from any thread, as the kernel would send them."""

    def __init__(self):
        super().__init__()
        self.lock = threading.Lock()
        self.published: list[dict] = []

    def publish(self, data, metadata=None, source=None, *, transient=None, update=False, **kwargs):
        with self.lock:
            self.published.append({"data": data, "display_id": (transient or {}).get("display_id"),
                                   "update": update, "thread": threading.current_thread().name})

    def clear_output(self, wait=False):
        pass


@pytest.fixture(scope="module")
def widget_libraries():
    """Import the widget side once (seconds: plotly imports nbformat and jsonschema), as a kernel
    does while idle after %load_ext; the panels in these tests then show at once."""
    import carbon_magic.ipython.panel.panel_widgets  # noqa: F401


@pytest.fixture
def ip(isolated, monkeypatch, widget_libraries):
    """InteractiveShell with carbon_magic loaded (offline, France) and displays recorded."""
    recorder = RecordingPublisher()
    shell = loaded_shell(monkeypatch, display_pub=recorder)
    recorder.published.clear()  # the load message
    shell.recorder = recorder
    yield shell
    shell.extension_manager.unload_extension("carbon_magic")
    assert current_runtime().lanes.lane("panel").drain(10.0)
