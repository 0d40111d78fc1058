"""A real JupyterLab server for browser tests, and helpers to drive it from Playwright.

``LabServer`` starts ``jupyter lab --no-browser`` on 127.0.0.1 (free port, random token,
temporary root, config, data and runtime folders, offline ``CODECARBON_*`` environment),
waits until ``/api/status`` answers and stops it with its kernels. The helpers below work
on a Playwright ``Page`` showing that lab: open a notebook, run a cell and wait for it,
read text from the page, save screenshots under ``tests/artifacts/``.

JupyterLab runs with ``expose_app_in_browser`` so that tests can reach its documented
command registry (``window.jupyterapp.commands``) and the notebook model, which is
steadier than typing into the editor; cells are still run with the notebook's own
commands, as a user's Shift+Enter does.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "tests" / "artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = (
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run", "--disable-quic",
)
VIEWPORT = {"width": 1400, "height": 900}
# The environment of the lab's kernels: offline, a known country, no RAPL (as every test).
OFFLINE_ENV = {
    "CODECARBON_OFFLINE": "true",
    "CODECARBON_COUNTRY_ISO_CODE": "FRA",
    "CODECARBON_POWERCAP_ROOT": "/nonexistent",
}
START_TIMEOUT_S = 60.0
# JupyterLab's own settings for tests: no news or update checks (no network), no toasts.
_LAB_CONFIG = """
c.LabApp.news_url = None
c.LabApp.check_for_updates_class = "jupyterlab.NeverCheckForUpdate"
c.LabApp.expose_app_in_browser = True
c.JupyterNotebookApp.expose_app_in_browser = True
c.ServerApp.open_browser = False
c.LabApp.extension_manager = "readonly"
c.LanguageServerManager.autodetect = False
"""
_USER_SETTINGS = {
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false", "checkForUpdates": False},
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class LabServer:
    """A running ``jupyter lab`` (see the module docstring)."""

    process: subprocess.Popen
    url: str
    token: str
    root: Path
    log_path: Path

    @classmethod
    def start(cls, base: Path, extra_env: dict[str, str] | None = None) -> "LabServer":
        root, home = base / "root", base / "home"
        config_dir, data_dir, runtime_dir, settings_dir = (base / name for name in ("config", "data", "runtime", "settings"))
        for folder in (root, home, config_dir, data_dir, runtime_dir, settings_dir):
            folder.mkdir(parents=True, exist_ok=True)
        (config_dir / "jupyter_lab_config.py").write_text(_LAB_CONFIG)
        for name, values in _USER_SETTINGS.items():
            path = settings_dir / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(values))
        port, token = free_port(), secrets.token_hex(16)
        env = {
            name: value for name, value in os.environ.items()
            if not name.upper().startswith(("CODECARBON_", "JUPYTER", "JPY_"))
        }
        env.update(OFFLINE_ENV)
        env.update(
            HOME=str(home), JUPYTER_CONFIG_DIR=str(config_dir), JUPYTER_DATA_DIR=str(data_dir),
            JUPYTER_RUNTIME_DIR=str(runtime_dir), JUPYTERLAB_SETTINGS_DIR=str(settings_dir),
            JUPYTERLAB_WORKSPACES_DIR=str(base / "workspaces"), IPYTHONDIR=str(home / ".ipython"),
            # kernels run this interpreter (the kernelspec says plain "python")
            PATH=os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")]),
            PYTHONUNBUFFERED="1",
        )
        env.update(extra_env or {})
        log_path = base / "lab.log"
        command = [
            sys.executable, "-m", "jupyterlab", "--no-browser", f"--ServerApp.port={port}",
            "--ServerApp.ip=127.0.0.1", "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
            f"--ServerApp.root_dir={root}",
        ]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            command.append("--allow-root")  # CI containers run as root
        with open(log_path, "wb") as log:
            process = subprocess.Popen(command, env=env, cwd=root, stdout=log, stderr=subprocess.STDOUT,
                                       start_new_session=True)
        server = cls(process, f"http://127.0.0.1:{port}", token, root, log_path)
        server.wait_ready()
        return server

    def api(self, method: str, path: str, body: Any = None, timeout_s: float = 10.0) -> Any:
        """Call the server's REST API (JSON in and out)."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            f"{self.url}{path}", data=data, method=method,
            headers={"Authorization": f"token {self.token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            text = response.read()
        return json.loads(text) if text else None

    def wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"jupyter lab exited ({self.process.returncode}):\n{self.log()}")
            try:
                self.api("GET", "/api/status", timeout_s=2.0)
                return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"jupyter lab did not answer /api/status within {START_TIMEOUT_S:g} s:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]

    def login_url(self, path: str = "/lab") -> str:
        separator = "&" if "?" in path else "?"
        return f"{self.url}{path}{separator}token={self.token}"

    def new_notebook(self, name: str, cells: list[str] = ()) -> str:
        """Write ``name`` (a python3 notebook with these code cells) in the root; its path."""
        notebook = {
            "nbformat": 4, "nbformat_minor": 5,
            "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}},
            "cells": [
                {"cell_type": "code", "id": f"cell-{index}", "source": source, "metadata": {},
                 "outputs": [], "execution_count": None}
                for index, source in enumerate(cells or [""])
            ],
        }
        self.api("PUT", f"/api/contents/{name}", {"type": "notebook", "format": "json", "content": notebook})
        return name

    def stop(self) -> None:
        """Shut down every kernel, then the server (its whole process group if it hangs)."""
        try:
            for kernel in self.api("GET", "/api/kernels", timeout_s=5.0) or []:
                self.api("DELETE", f"/api/kernels/{kernel['id']}", timeout_s=10.0)
        except (OSError, ValueError):  # the server is gone or answers garbage: signal it below
            pass
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=5)


# -- the page -------------------------------------------------------------------------------

def launch_chromium(playwright: Any, user_data_dir: Path) -> Any:
    """Debian's Chromium (never Playwright's download), with a fresh profile."""
    return playwright.chromium.launch_persistent_context(
        str(user_data_dir), executable_path=CHROMIUM, headless=True, args=list(CHROMIUM_ARGS),
        viewport=VIEWPORT,
    )


def open_notebook(page: Any, lab: LabServer, path: str, timeout_ms: int = 60_000) -> None:
    """Show ``path`` in the lab and wait until its kernel is idle."""
    page.goto(lab.login_url(f"/lab/tree/{path}?reset"), wait_until="domcontentloaded")
    page.wait_for_function(
        """(path) => {
            const app = window.jupyterapp;
            const widget = app && app.shell.currentWidget;
            const session = widget && widget.sessionContext;
            return !!(session && widget.context.path === path && session.session && session.session.kernel
                      && session.session.kernel.status === 'idle');
        }""",
        arg=path, timeout=timeout_ms,
    )


def hide_side_panels(page: Any) -> None:
    """Collapse the file browser and the right panel (wider notebook, calmer screenshots)."""
    page.evaluate("() => { window.jupyterapp.shell.collapseLeft(); window.jupyterapp.shell.collapseRight(); }")


def _cell_locator(page: Any, index: int) -> Any:
    return page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-Cell").nth(index)


def run_cell(page: Any, code: str, wait: bool = True, timeout_ms: int = 60_000) -> Any:
    """Put ``code`` in a new cell at the end of the current notebook and run it, as
    Shift+Enter would. Waits until it finishes when ``wait``; the cell's locator."""
    index = page.evaluate(
        """(code) => {
            const notebook = window.jupyterapp.shell.currentWidget.content;
            const cells = notebook.model.sharedModel;
            let index = notebook.widgets.length - 1;
            const last = notebook.widgets[index];
            if (!(last.model.type === 'code' && last.model.sharedModel.getSource() === ''
                  && last.model.executionCount === null)) {
                cells.insertCell(cells.cells.length, {cell_type: 'code', source: ''});
                index += 1;
            }
            notebook.widgets[index].model.sharedModel.setSource(code);
            notebook.activeCellIndex = index;
            return index;
        }""",
        code,
    )
    # not awaited: the command's promise settles only when the cell has run
    page.evaluate("() => { void window.jupyterapp.commands.execute('notebook:run-cell'); }")
    cell = _cell_locator(page, index)
    wait_cell_running_or_done(cell, timeout_ms)
    if wait:
        wait_cell_done(cell, timeout_ms)
    return cell


_DONE = re.compile(r"\[\d+\]")


def prompt(cell: Any) -> str:
    return cell.locator(".jp-InputPrompt").inner_text().strip()


def wait_cell_running_or_done(cell: Any, timeout_ms: int = 60_000) -> None:
    cell.locator(".jp-InputPrompt").filter(has_text=re.compile(r"\[(\*|\d+)\]")).wait_for(timeout=timeout_ms)


def wait_cell_done(cell: Any, timeout_ms: int = 60_000) -> None:
    """Until the cell's prompt shows its execution count (``[3]:``), not ``[*]:``."""
    cell.locator(".jp-InputPrompt").filter(has_text=_DONE).wait_for(timeout=timeout_ms)


def output_text(cell: Any) -> str:
    """Everything the cell's output area shows, as text."""
    return cell.locator(".jp-Cell-outputArea").inner_text()


def text_of(page_or_locator: Any, selector: str, timeout_ms: int = 30_000) -> str:
    """The text of the first element matching ``selector`` (waits until it is attached)."""
    element = page_or_locator.locator(selector).first
    element.wait_for(state="attached", timeout=timeout_ms)
    return element.inner_text()


def set_theme(page: Any, dark: bool) -> None:
    """Switch JupyterLab's theme (its own command, as the Settings menu does)."""
    theme = "JupyterLab Dark" if dark else "JupyterLab Light"
    page.evaluate("(theme) => window.jupyterapp.commands.execute('apputils:change-theme', {theme})", theme)
    page.wait_for_function(
        "(light) => document.body.dataset.jpThemeLight === light", arg="false" if dark else "true", timeout=30_000,
    )


def screenshot(page_or_locator: Any, name: str) -> Path:
    """Save a PNG under ``tests/artifacts/`` (created as needed); its path."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page_or_locator.screenshot(path=str(path))
    return path


# WCAG 2 contrast from what the browser renders: colours parsed from computed styles, blended
# over the first opaque background behind an element (the page's if none), relative luminance
# and the ratio of two colours. Shared by LOW_CONTRAST_JS and IMAGE_CONTRAST_JS.
_CONTRAST_FUNCTIONS = """
  const parse = (c) => { const m = c.match(/[\\d.]+/g) || ['0', '0', '0', '0']; return m.map(Number).concat([1]).slice(0, 4); };
  const over = (top, under) => top.slice(0, 3).map((v, i) => v * top[3] + under[i] * (1 - top[3])).concat([1]);
  const background = (element) => {
    const layers = [];
    for (let e = element; e; e = e.parentElement) {
      const c = parse(getComputedStyle(e).backgroundColor);
      if (c[3] > 0) layers.push(c);
      if (c[3] >= 1) break;
    }
    let result = [255, 255, 255, 1];
    if (!layers.length || layers[layers.length - 1][3] < 1) result = parse(getComputedStyle(document.body).backgroundColor);
    for (const layer of layers.reverse()) result = over(layer, result);
    return result;
  };
  const luminance = (c) => { const [r, g, b] = c.slice(0, 3).map(v => { v /= 255; return v <= 0.04045 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; }); return 0.2126 * r + 0.7152 * g + 0.0722 * b; };
  const ratio = (x, y) => { const [a, b] = [luminance(x), luminance(y)].sort((p, q) => q - p); return (a + 0.05) / (b + 0.05); };
"""

# Every text node under ``root`` (HTML, and SVG text by its fill) whose contrast against its
# rendered background is below 4.5:1 (WCAG AA), as 'text: ratio'; [] when all read.
LOW_CONTRAST_JS = """
(root) => {""" + _CONTRAST_FUNCTIONS + """
  const low = [];
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const element = node.parentElement;
    if (!node.textContent.trim() || !element.getClientRects().length) continue;
    const style = getComputedStyle(element);
    if (style.visibility === 'hidden' || style.display === 'none') continue;
    const back = background(element);
    const ink = over(parse(element instanceof SVGElement ? style.fill : style.color), back);
    const found = ratio(ink, back);
    if (found < 4.5) low.push(`${node.textContent.trim().slice(0, 30)}: ${found.toFixed(2)}`);
  }
  return low;
}
"""

# A chart image's text, read from its pixels: the image's background (its corner), every other
# colour in its margins (where only axis labels, units and legend text are drawn: the left 6 %,
# the right 10 %, the bottom 10 %) with its contrast against that background, and the contrast
# of that background with the page behind the image (about 1: the image follows the theme).
IMAGE_CONTRAST_JS = """
(img) => {""" + _CONTRAST_FUNCTIONS + """
  const canvas = document.createElement('canvas');
  const [w, h] = [img.naturalWidth, img.naturalHeight];
  canvas.width = w; canvas.height = h;
  const context = canvas.getContext('2d');
  context.drawImage(img, 0, 0);
  const data = context.getImageData(0, 0, w, h).data;
  const at = (x, y) => { const i = 4 * (y * w + x); return [data[i], data[i + 1], data[i + 2], 1]; };
  const back = at(1, 1), inks = new Map();
  const scan = (x0, x1, y0, y1) => {
    for (let y = Math.floor(y0); y < y1; y++) for (let x = Math.floor(x0); x < x1; x++) {
      const c = at(x, y);
      if (c[0] !== back[0] || c[1] !== back[1] || c[2] !== back[2]) inks.set(c.join(','), c);
    }
  };
  scan(0, w * 0.06, 0, h); scan(w * 0.9, w, 0, h); scan(0, w, h * 0.9, h);
  return {
    page: ratio(back, background(img.parentElement)),
    inks: [...inks.values()].map((c) => ({colour: c.slice(0, 3).join(','), ratio: ratio(c, back)})),
  };
}
"""
