"""Real kernels for tests: ``offline`` (the offline environment of every test kernel) and
``kernel`` (a python3 kernel in the test's folder and a client for it); registered in
tests/conftest.py."""

from __future__ import annotations

import pytest

from .ipython_helpers import OFFLINE_ENV


@pytest.fixture
def offline(monkeypatch):
    for name, value in OFFLINE_ENV.items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def kernel(isolated, offline):
    """A python3 kernel (cwd: the test's folder) and a client for it."""
    from jupyter_client.manager import start_new_kernel

    manager, client = start_new_kernel(kernel_name="python3", cwd=str(isolated))
    yield manager, client
    client.stop_channels()
    manager.shutdown_kernel(now=True)
