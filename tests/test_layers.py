"""The layer rule, read from the package's real imports (every ``import``, top level or in a
function): core/ imports nothing above it; outputs/ and telemetry/ import core/ and neither
each other nor anything above; only trackers.py, ipython/ and tests use runtime.py."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "carbon_magic"
ABOVE = {
    "core": {"outputs", "telemetry", "ipython", "runtime", "trackers"},
    "outputs": {"telemetry", "ipython", "runtime", "trackers"},
    "telemetry": {"outputs", "ipython", "runtime", "trackers"},
}


def imported_parts(path: Path) -> set[str]:
    """The first part below ``carbon_magic`` of every module ``path`` imports from the package."""
    package = [*path.relative_to(PACKAGE.parent).parts[:-1]]  # an __init__.py's is its own folder
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            names = [*base, *(node.module.split(".") if node.module else [])]
            targets = [names] if node.module else [[*names, alias.name] for alias in node.names]
        elif isinstance(node, ast.Import):
            targets = [alias.name.split(".") for alias in node.names]
        else:
            continue
        found |= {target[1] for target in targets if len(target) > 1 and target[0] == "carbon_magic"}
    return found


def test_no_module_imports_a_layer_above_its_own():
    broken = []
    for layer, above in ABOVE.items():
        for path in sorted((PACKAGE / layer).rglob("*.py")):
            wrong = imported_parts(path) & above
            if wrong:
                broken.append(f"{path.relative_to(PACKAGE)} imports {', '.join(sorted(wrong))}")
    assert broken == []


def test_the_import_reader_sees_relative_and_absolute_imports():
    """The reader itself: a check that found nothing because it read nothing would pass."""
    assert "core" in imported_parts(PACKAGE / "outputs" / "api.py")  # from ..core import record
    assert {"core", "outputs", "telemetry"} <= imported_parts(PACKAGE / "runtime.py")
    assert "runtime" in imported_parts(PACKAGE / "ipython" / "session.py")
