"""The layer rule, read from the package's real import graph (``tests/test_import_graph.py``:
every import, top level, lazy or type-only): core/ imports nothing above it; outputs/,
telemetry/ and cluster/ import core/ and none of each other nor anything above; only
trackers.py, ipython/ and tests use runtime.py."""

from __future__ import annotations

from tests.test_import_graph import import_graph

ABOVE = {
    "core": {"outputs", "telemetry", "cluster", "ipython", "runtime", "trackers"},
    "outputs": {"telemetry", "cluster", "ipython", "runtime", "trackers"},
    "telemetry": {"outputs", "cluster", "ipython", "runtime", "trackers"},
    "cluster": {"outputs", "telemetry", "ipython", "runtime", "trackers"},
}


def layer_of(module: str) -> str:
    """``carbon_magic.core.location.service`` -> ``core``; the package itself -> ``""``."""
    return module.split(".")[1] if module.count(".") else ""


def test_no_module_imports_a_layer_above_its_own():
    broken = [
        f"{module} imports {imported}"
        for module, imports in sorted(import_graph().items())
        for imported in sorted(imports)
        if layer_of(imported) in ABOVE.get(layer_of(module), set())
    ]
    assert broken == []


def test_the_graph_sees_each_layers_imports():
    """A check that found nothing because it read nothing would pass."""
    graph = import_graph()
    assert {layer_of(m) for m in graph["carbon_magic.outputs.api"]} >= {"core"}
    assert {layer_of(m) for m in graph["carbon_magic.runtime"]} >= {"core", "outputs", "telemetry", "cluster"}
    assert {layer_of(m) for m in graph["carbon_magic.cluster.host_agent"]} >= {"core"}
    assert "runtime" in {layer_of(m) for m in graph["carbon_magic.ipython.session"]}
