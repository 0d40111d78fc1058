"""The reliability suite's fixtures: notebooks as users run them (see harness.py); the
``figures`` fixture and the RELIABILITY.md plugin live in plugin.py (loaded by tests/conftest.py)."""

from __future__ import annotations

import pytest

from tests.ipython_helpers import OFFLINE_ENV, loaded_shell

from .harness import KernelNotebook, Notebook


@pytest.fixture
def open_notebook(isolated, monkeypatch, figures):
    """``open_notebook(**environment)``: IPython's InteractiveShell with carbon_magic loaded
    (offline in France unless the environment says otherwise), unloaded at the end."""
    from carbon_magic.runtime import current_runtime

    loaded = []
    lanes = current_runtime().lanes
    exit_hooks_before = set(lanes._exit_hooks)

    def open_(offline: bool = True, **environment: str) -> Notebook:
        shell = loaded_shell(monkeypatch, {**(OFFLINE_ENV if offline else {}), **environment})
        loaded.append(shell)
        return Notebook(shell, figures)

    yield open_
    for shell in loaded:
        shell.extension_manager.unload_extension("carbon_magic")
    forget_scheduled_retries()
    for key in set(lanes._exit_hooks) - exit_hooks_before:  # e.g. deleting a push-gateway job at
        lanes._exit_hooks.pop(key, None)  # interpreter exit, from this case's server, closed by then


def forget_scheduled_retries() -> None:
    """Retries of network outputs aimed at this case's (closed) server must not fail into the
    next case's ``%carbon status``."""
    from carbon_magic.runtime import current_runtime

    for lane in current_runtime().lanes.all():
        lane.cancel_scheduled()


@pytest.fixture
def kernel_notebook(isolated, monkeypatch, figures):
    """``kernel_notebook(**environment)``: a fresh python3 kernel (cwd: the test's folder),
    offline in France unless the environment says otherwise; shut down at the end."""
    pytest.importorskip("ipykernel")
    from jupyter_client.manager import start_new_kernel

    started = []

    def open_(offline: bool = True, **environment: str) -> KernelNotebook:
        for name, value in {**(OFFLINE_ENV if offline else {}), **environment}.items():
            monkeypatch.setenv(name, value)
        manager, client = start_new_kernel(kernel_name="python3", cwd=str(isolated))
        started.append(KernelNotebook(manager, client, figures))
        return started[-1]

    yield open_
    for kernel in started:
        kernel.shutdown()
