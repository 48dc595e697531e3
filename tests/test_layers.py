"""The layers of DESIGN.md §2, checked on the source: `cli -> flows -> tasks -> alphalab`. The core imports none of
the layers above it (nor the harnesses it runs as separate processes); outside alphalab/roles/ no core module
imports a role (the Dispatcher reaches roles only through the Phase 3 contracts); harnesses never read the campaign
config."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CORE = ROOT / "alphalab"
ABOVE_THE_CORE = ("prefect", "flows", "tasks", "cli", "harnesses")


def imported_modules(path: Path) -> list[tuple[int, str]]:
    """Every module a file imports, at any depth (also inside functions), with its line."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            out += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            out += [(node.lineno, node.module)] + [(node.lineno, f"{node.module}.{a.name}") for a in node.names]
    return out


def _top(name: str) -> str:
    return name.split(".")[0]


def core_files() -> list[Path]:
    return sorted(CORE.rglob("*.py"))


def test_the_checks_see_imports_anywhere_in_a_file(tmp_path):
    f = tmp_path / "m.py"
    f.write_text("import os\n\ndef g():\n    from prefect import flow\n    from alphalab.roles import worker\n")
    assert [m for _, m in imported_modules(f)] == ["os", "prefect", "prefect.flow", "alphalab.roles",
                                                     "alphalab.roles.worker"]


@pytest.mark.parametrize("path", core_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_the_core_imports_no_layer_above_it(path):
    bad = [f"{path.relative_to(ROOT)}:{line}: {m}" for line, m in imported_modules(path) if _top(m) in ABOVE_THE_CORE]
    assert not bad, bad


def test_no_core_module_outside_the_roles_package_imports_a_role():
    roles = CORE / "roles"
    bad = [f"{p.relative_to(ROOT)}:{line}: {m}" for p in core_files() if roles not in p.parents
           for line, m in imported_modules(p) if m == "alphalab.roles" or m.startswith("alphalab.roles.")]
    assert not bad, bad


def test_no_harness_imports_the_campaign_config():
    """Harnesses take their inputs as arguments: none imports the campaign config or its loader."""
    banned = ("alphalab.config", "alphalab.campaign")
    bad = [f"{p.relative_to(ROOT)}:{line}: {m}" for p in sorted((ROOT / "harnesses").rglob("*.py"))
           for line, m in imported_modules(p) if any(m == b or m.startswith(b + ".") for b in banned)]
    assert not bad, bad


def test_no_core_file_is_longer_than_350_lines():
    long = {str(p.relative_to(ROOT)): n for p in core_files() if (n := len(p.read_text().splitlines())) > 350}
    assert not long, long
