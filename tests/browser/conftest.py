"""Fixtures of the browser tests: a real JupyterLab and headless Chromium driven by Playwright.

- ``lab`` (session): ``jupyter lab`` on 127.0.0.1 with an offline environment (see lab.py);
  stopped with all its kernels at the end.
- ``browser_context`` (session): Debian's Chromium with a fresh profile (never
  Playwright's own browser download, which does not work here).
- ``page`` (per test): a new tab, already logged in to the lab, 1400x900.

Every test here is marked ``browser``; they are part of ``make test`` (which installs
Chromium), not optional. Without Chromium or Playwright they fail, saying what to install.
"""

from __future__ import annotations

import os

import pytest

from .lab import CHROMIUM, LabServer, launch_chromium


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/browser/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def lab(tmp_path_factory):
    server = LabServer.start(tmp_path_factory.mktemp("lab"))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def browser_context(tmp_path_factory):
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs it (apt-get install -y chromium, as root)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("the playwright package is missing: pip install -e '.[test]'")
    playwright = sync_playwright().start()
    context = launch_chromium(playwright, tmp_path_factory.mktemp("chromium-profile"))
    context.set_default_timeout(30_000)
    yield context
    context.close()
    playwright.stop()


@pytest.fixture
def page(browser_context, lab):
    tab = browser_context.new_page()
    tab.goto(lab.login_url("/lab"), wait_until="domcontentloaded")  # sets the login cookie
    yield tab
    tab.close()
