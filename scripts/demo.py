"""``make demo``: run notebooks/demo.ipynb headless and offline, print what each cell cost.

The notebook runs in a real Jupyter kernel (nbclient) with demo-output/ as its working
directory, offline, with France's grid mix unless CODECARBON_COUNTRY_ISO_CODE is set.
Written to demo-output/: the executed notebook, its HTML rendering, emissions.csv
(CodeCarbon's columns), carbon_cells.csv (one row per tracked cell or span) and
carbon_report.csv (the notebook's ``%carbon export``).
"""

from __future__ import annotations

import csv
import os
import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient

REPO = Path(__file__).resolve().parents[1]
NOTEBOOK = REPO / "notebooks" / "demo.ipynb"
OUTPUT = REPO / "demo-output"


def execute(notebook_path: Path, workdir: Path) -> nbformat.NotebookNode:
    os.environ.setdefault("CODECARBON_OFFLINE", "true")
    os.environ.setdefault("CODECARBON_COUNTRY_ISO_CODE", "FRA")
    os.environ.setdefault("PLOTLY_RENDERER", "plotly_mimetype+notebook")  # the HTML embeds plotly.js
    notebook = nbformat.read(notebook_path, as_version=4)
    NotebookClient(notebook, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(workdir)}}).execute()
    return notebook


def write_html(notebook: nbformat.NotebookNode, path: Path) -> None:
    from nbconvert import HTMLExporter

    body, _ = HTMLExporter().from_notebook_node(notebook)
    path.write_text(body, encoding="utf-8")


def print_cells(path: Path) -> None:
    with open(path, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    print(f"{'label':<24} {'cell':>4} {'status':<11} {'seconds':>8} {'Wh':>10} {'mg CO2e':>10}  first line")
    for row in rows:
        print(
            f"{row['label'][:24]:<24} {row['execution_count']:>4} {row['status']:<11} "
            f"{float(row['duration']):8.2f} {float(row['energy_consumed']) * 1e3:10.4f} "
            f"{float(row['emissions']) * 1e6:10.3f}  {row['first_line'][:40]}"
        )
    if rows:
        print(f"carbon intensity: {float(rows[0]['intensity_g_per_kwh']):.0f} g CO2e/kWh ({rows[0]['intensity_source']})")


def main() -> int:
    OUTPUT.mkdir(exist_ok=True)
    for stale in ("emissions.csv", "carbon_cells.csv", "carbon_report.csv"):
        (OUTPUT / stale).unlink(missing_ok=True)
    print(f"Running {NOTEBOOK.relative_to(REPO)} in a Jupyter kernel (offline)...")
    notebook = execute(NOTEBOOK, OUTPUT)
    nbformat.write(notebook, OUTPUT / "demo.ipynb")
    write_html(notebook, OUTPUT / "demo.html")
    print_cells(OUTPUT / "carbon_cells.csv")
    print(f"\nWritten to {OUTPUT.relative_to(REPO)}/: demo.ipynb, demo.html, emissions.csv, carbon_cells.csv, carbon_report.csv")
    return 0


if __name__ == "__main__":
    sys.exit(main())
