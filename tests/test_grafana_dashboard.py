"""The Grafana dashboard in the repository (dashboards/carbon_magic.json) against what
carbon_magic really pushes: a kernel set up as README's 'Fleets of kernels' says (the extension
and `%carbon on` in the kernel config, the push gateway by CODECARBON_* variables, the
JupyterHub user in JUPYTERHUB_USER) runs cells against the real push gateway; every metric and
label the dashboard's PromQL names is on the gateway, with the kernel's user and notebook."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from carbon_magic.outputs.prometheus import GROUPING_LABELS
from tests.ipython_helpers import execute_like_jupyterlab
from tests.polling import eventually
from tests.pushgateway_support import all_codecarbon_jobs, samples

pytest.importorskip("ipykernel")

REPO = Path(__file__).resolve().parents[1]
DASHBOARD = json.loads((REPO / "dashboards" / "carbon_magic.json").read_text())
VARIABLES = {variable["name"]: variable for variable in DASHBOARD["templating"]["list"]}

METRIC = re.compile(r"\bcodecarbon_\w+")
SELECTOR_LABEL = re.compile(r"[{,]\s*(\w+)\s*(?:=~|!~|!=|=)")
BY_LABELS = re.compile(r"\bby\s*\(([^)]*)\)")
LABEL_VALUES = re.compile(r"^label_values\(.*,\s*(\w+)\)$")
VARIABLE = re.compile(r"\$\{?(\w+)")


def targets() -> list[dict]:
    return [target for panel in DASHBOARD["panels"] for target in panel["targets"]]


def promql() -> list[str]:
    """Every query of the dashboard: panel targets and the query variables' definitions, with
    ``$group_by`` written out as each label it offers."""
    queries = [target["expr"] for target in targets()]
    queries += [variable["definition"] for variable in VARIABLES.values() if variable["type"] == "query"]
    group_by = [option["value"] for option in VARIABLES["group_by"]["options"]]
    return [query.replace("$group_by", label) for query in queries for label in group_by]


def metric_names() -> set[str]:
    return {name for query in promql() for name in METRIC.findall(query)}


def label_names() -> set[str]:
    names = set()
    for query in promql():
        names.update(SELECTOR_LABEL.findall(query))
        for listed in BY_LABELS.findall(query):
            names.update(label.strip() for label in listed.split(","))
        names.update(LABEL_VALUES.findall(query))
    return names


def test_every_panel_and_query_uses_the_datasource_variable_and_defined_variables():
    assert VARIABLES["datasource"]["type"] == "datasource" and VARIABLES["datasource"]["query"] == "prometheus"
    datasource = {"type": "prometheus", "uid": "${datasource}"}
    assert all(panel["datasource"] == datasource for panel in DASHBOARD["panels"])
    assert all(target["datasource"] == datasource for target in targets())
    assert all(variable["datasource"] == datasource for variable in VARIABLES.values()
               if variable["type"] == "query")
    builtin = {"__range", "__rate_interval", "__interval"}
    used = {name for query in [target["expr"] for target in targets()] for name in VARIABLE.findall(query)}
    assert used - builtin <= set(VARIABLES), used - builtin - set(VARIABLES)
    assert set(GROUPING_LABELS) <= {option["value"] for option in VARIABLES["group_by"]["options"]}


def test_every_metric_and_label_the_dashboard_queries_is_pushed_by_a_fleet_kernel(gateway, isolated, offline):
    from jupyter_client.manager import start_new_kernel

    profile = isolated / "ipython-dir" / "profile_default"
    profile.mkdir(parents=True)
    (profile / "ipython_kernel_config.py").write_text(
        'c.InteractiveShellApp.extensions = ["carbon_magic"]\n'
        'c.InteractiveShellApp.exec_lines = ["%carbon on"]\n'
        "c.CarbonMagic.quiet = True\n"
        "c.CarbonMagic.panel = False\n"
    )
    environment = {**os.environ, "IPYTHONDIR": str(profile.parent), "JUPYTERHUB_USER": "alice",
                   "JPY_SESSION_NAME": "work/train.ipynb", "CODECARBON_SAVE_TO_PROMETHEUS": "true",
                   "CODECARBON_PROMETHEUS_URL": gateway, "CODECARBON_WUE": "1.8"}
    manager, client = start_new_kernel(kernel_name="python3", cwd=str(isolated), env=environment)
    try:
        execute_like_jupyterlab(client, "x = sum(range(10**5))")
        execute_like_jupyterlab(client, "y = sum(range(10**5))")

        def runs() -> list:
            return [s for s in samples(gateway) if s.name == "codecarbon_runs_total"]

        assert eventually(lambda: sum(s.value for s in runs()) >= 2, timeout_s=30), runs()
        [run] = runs()
        assert (run.labels["user"], run.labels["notebook"]) == ("alice", "work/train.ipynb")
        pushed = samples(gateway)
        names = {sample.name for sample in pushed}
        labels = {label for sample in pushed for label in sample.labels}
        assert metric_names() <= names, metric_names() - names
        assert label_names() <= labels, label_names() - labels
        water = [s.value for s in pushed if s.name == "codecarbon_water_total"]
        assert water and water[0] > 0  # the water panel has figures where wue is set
    finally:
        client.stop_channels()
        manager.shutdown_kernel()  # a clean exit: the kernel deletes its group from the gateway
    assert eventually(lambda: all_codecarbon_jobs(gateway) == set(), timeout_s=15)
