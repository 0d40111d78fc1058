"""The sidebar tests' kernel: the ``sidebar`` fixture (a real python3 kernel driven by a
``SidebarClient``, registered in tests/conftest.py) and what those tests ask of it."""

from __future__ import annotations

import json

import pytest

from .sidebar_client import SidebarClient


@pytest.fixture
def sidebar(kernel):
    """A SidebarClient for a python3 kernel (offline, cwd: the test's folder)."""
    _, client = kernel
    return SidebarClient(client)


def load(sidebar: SidebarClient) -> None:
    sidebar.output("%load_ext carbon_magic")


def channel_counts(sidebar: SidebarClient) -> dict:
    """The kernel's own count of peers, refused requests and records (read in the kernel)."""
    return json.loads(sidebar.output(
        "import json as _j\nfrom carbon_magic.ipython.extension import get_sidebar as _g, get_session as _s\n"
        "print(_j.dumps({'peers': len(_g().peers), 'rejected': _g().rejected, 'records': len(_s().records)}))"
    ))
