"""The core package stays pure: no Functions imports, and identity libraries are loaded only when needed."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "pgflex_restore"
BANNED = ("azure.functions", "azure.durable_functions")
# The CLI edge may lazily import function_app/devhost inside its commands (DESIGN.md); its top level is still checked.
EDGE = {"cli.py", "__main__.py", "demo.py"}


def _imports(tree: ast.AST, *, top_level_only: bool) -> list[str]:
    nodes = ast.iter_child_nodes(tree) if top_level_only else ast.walk(tree)
    names: list[str] = []
    for node in nodes:
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
    return names


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: p.name)
def test_no_functions_imports(path: Path) -> None:
    """No module of the core package imports azure.functions or azure.durable_functions."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = _imports(tree, top_level_only=path.name in EDGE)
    assert not [n for n in names if n.startswith(BANNED)], f"{path.name} imports the Functions runtime"


def test_import_stays_lean() -> None:
    """Importing the package and even the client does not load azure.identity or the Functions libraries."""
    code = (
        "import sys, pgflex_restore, pgflex_restore.client, pgflex_restore.bodies, pgflex_restore.selection;"
        "bad=[m for m in sys.modules if m.startswith(('azure.identity','azure.functions','azure.durable_functions'))];"
        "print(bad)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == "[]"
