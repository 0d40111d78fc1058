"""The notebooks shipped in notebooks/, executed headless in a real kernel (nbclient)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("nbclient")

import nbformat  # noqa: E402
from nbclient import NotebookClient  # noqa: E402

from .ipython_helpers import outputs_html, outputs_text, read_csv  # noqa: E402

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


def execute(name: str, workdir: Path) -> list:
    notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
    NotebookClient(notebook, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": str(workdir)}}).execute()
    return [cell for cell in notebook.cells if cell.cell_type == "code"]


def cell_with(cells: list, source_start: str):
    return next(cell for cell in cells if cell.source.startswith(source_start))


def test_demo_notebook(isolated, monkeypatch):
    monkeypatch.setenv("CODECARBON_OFFLINE", "true")
    monkeypatch.setenv("CODECARBON_COUNTRY_ISO_CODE", "FRA")
    cells = execute("demo.ipynb", isolated)
    assert outputs_text(cells[0]).startswith("carbon_magic ")
    matmul = cell_with(cells, '%%carbon --name "numpy matmul"')
    assert "carbon: numpy matmul |" in outputs_text(matmul) and "<b>numpy matmul</b>" in outputs_html(matmul)
    assert "tracking every cell" in outputs_text(cell_with(cells, "%carbon on"))
    assert "carbon: cell " in outputs_text(cell_with(cells, "total = 0"))
    assert "Measured:" in outputs_text(cell_with(cells, "%carbon status"))
    report_html = outputs_html(cell_with(cells, "df = %carbon report"))
    for label in ("numpy matmul", "pure-Python primes", "feature engineering"):
        assert label in report_html
    plot = cell_with(cells, "%carbon plot")
    assert any("application/vnd.plotly.v1+json" in o.get("data", {}) for o in plot.outputs)
    assert "wrote 5 rows" in outputs_text(cell_with(cells, "%carbon export"))
    rows = read_csv(isolated / "carbon_cells.csv")[1]
    auto = [c.execution_count for c in cells if c.source.startswith(("values = ", "total = 0"))]
    assert [r["label"] for r in rows] == ["numpy matmul", "pure-Python primes", *(f"cell {n}" for n in auto), "feature engineering"]
    assert all(r["status"] == "ok" and float(r["energy_consumed"]) > 0 for r in rows)
    assert len(read_csv(isolated / "emissions.csv")[1]) == 5
    assert len(read_csv(isolated / "carbon_report.csv")[1]) == 5


def config_rows(cell) -> dict[str, str]:
    return {line.split()[0]: line for line in outputs_text(cell).splitlines()[3:] if line.strip()}


def test_configuration_notebook_shows_every_route(isolated, monkeypatch):
    monkeypatch.setenv("CODECARBON_OFFLINE", "true")
    cells = execute("configuration.ipynb", isolated)
    config_cells = [cell for cell in cells if "%carbon config" in cell.source]
    expected = [
        ("1.0", "default", "None", "default"),
        ("1.1", ".codecarbon.config", "'DEU'", ".codecarbon.config"),
        ("1.2", "environment variable CODECARBON_PUE", "'DEU'", ".codecarbon.config"),
        ("1.3", "%config CarbonMagic", "'DEU'", ".codecarbon.config"),
        ("1.4", "magic option", "'NOR'", "magic option"),
        ("1.0", "%config CarbonMagic", "None", "default"),
    ]
    assert len(config_cells) == len(expected)
    for cell, (pue, pue_source, country, country_source) in zip(config_cells, expected):
        rows = config_rows(cell)
        assert pue in rows["pue"] and pue_source in rows["pue"], rows["pue"]
        assert country in rows["country_iso_code"] and country_source in rows["country_iso_code"]
    assert "Norway" in outputs_text(cell_with(cells, "%%carbon --pue 1.4"))
    assert "Invalid value 0.5 for 'pue' (from %config CarbonMagic)" in outputs_text(cell_with(cells, "%config CarbonMagic.pue = 0.5"))
    bad = cell_with(cells, "%%carbon --pue lots")
    assert "UsageError" in outputs_text(bad) and "Invalid value 'lots' for 'pue'" in outputs_text(bad)
    assert "this line does not run" not in outputs_text(bad)
    assert not (isolated / ".codecarbon.config").exists()


def test_cluster_notebook(isolated, monkeypatch, host_folders):
    """A cell computing on a Dask LocalCluster records the cluster's host beside the kernel's."""
    monkeypatch.setenv("CODECARBON_OFFLINE", "true")
    monkeypatch.setenv("CODECARBON_COUNTRY_ISO_CODE", "FRA")
    cells = execute("cluster.ipynb", isolated)
    status = outputs_text(cell_with(cells, "%carbon status"))
    assert "Cluster hosts:" in status and "local-cluster (" in status and "measured, 2 worker process(es)" in status
    hosts = outputs_text(cell_with(cells, "%carbon report hosts"))
    assert "kernel" in hosts and "local-cluster" in hosts
    row = read_csv(isolated / "carbon_cells.csv")[1][0]
    assert row["label"] == "dask matmul" and float(row["cluster_energy"]) > 0 and row["cluster_missing"] == ""
    assert list(json.loads(row["cluster_hosts"])) == ["local-cluster"]
    assert float(row["energy_consumed"]) > float(row["cluster_energy"])
