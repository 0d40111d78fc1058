"""Rules of the test suite itself: fixtures come from conftest.py (and the fixture modules it
registers), never from an import a test file only names as a parameter."""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parent


def is_fixture(decorator: ast.expr) -> bool:
    target = decorator.func if isinstance(decorator, ast.Call) else decorator
    return isinstance(target, ast.Attribute) and target.attr == "fixture" or (
        isinstance(target, ast.Name) and target.id == "fixture")


def fixtures_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {node.name for node in tree.body
            if isinstance(node, ast.FunctionDef) and any(is_fixture(d) for d in node.decorator_list)}


def module_path(importer: Path, node: ast.ImportFrom) -> Path | None:
    """The tests/ file an ``from ... import`` names, if it is one."""
    if node.level:
        base = importer.parent
        for _ in range(node.level - 1):
            base = base.parent
        parts = (node.module or "").split(".") if node.module else []
    elif node.module and node.module.split(".")[0] == "tests":
        base, parts = TESTS.parent, node.module.split(".")
    else:
        return None
    candidate = base.joinpath(*parts).with_suffix(".py")
    return candidate if candidate.is_file() else None


def imported_fixtures() -> list[str]:
    found = []
    for path in sorted(TESTS.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.ImportFrom):
                continue
            source = module_path(path, node)
            if source is None:
                continue
            fixtures = fixtures_of(source)
            found += [f"{path.relative_to(TESTS.parent)} imports the fixture {alias.name} from "
                      f"{source.relative_to(TESTS.parent)}" for alias in node.names if alias.name in fixtures]
    return found


def test_no_test_file_imports_a_fixture():
    """Fixtures are registered in tests/conftest.py (``pytest_plugins``); an imported fixture
    needs a ``noqa`` to look used and shadows the registered one."""
    assert imported_fixtures() == []


def test_the_check_sees_an_imported_fixture(tmp_path, monkeypatch):
    """The check above can fail: a file importing a fixture is reported."""
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "support.py").write_text("import pytest\n\n@pytest.fixture\ndef thing():\n    return 1\n")
    (tmp_path / "tests" / "test_x.py").write_text("from tests.support import thing  # noqa: F401\n")
    monkeypatch.setitem(globals(), "TESTS", tmp_path / "tests")
    assert imported_fixtures() == ["tests/test_x.py imports the fixture thing from tests/support.py"]
