"""The core package stays pure: no Functions imports, and identity libraries are loaded only when needed."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "pgflex_restore"
FUNCTIONS = ("azure.functions", "azure.durable_functions")
# The core is what the app, the CLI and the stand-ins build on; it must not reach back into any of them.
APP_AND_TOOLS = ("devhost", "emulator", "orchestrations", "activities", "triggers", "function_app", "clients", "cli")


def _imports(tree: ast.AST) -> list[str]:
    """Every absolute import in the module, at any depth (lazy imports inside functions count too)."""
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
    return names


def _reaches(names: list[str], packages: tuple[str, ...]) -> list[str]:
    return [n for n in names if any(n == p or n.startswith(f"{p}.") for p in packages)]


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_the_core_imports_neither_the_functions_runtime_nor_the_app_or_its_tools(path: Path) -> None:
    """The wall around pgflex_restore/: no Functions imports, no app layer, no stand-in, no command line.

    One door: ``python -m pgflex_restore`` (``__main__.py``) hands over to ``cli`` and imports nothing else.
    """
    names = _imports(ast.parse(path.read_text(encoding="utf-8")))
    if path.name == "__main__.py" and path.parent == PACKAGE:
        assert [n for n in names if n not in ("sys",)] == ["cli.restore"]
        return
    assert not _reaches(names, FUNCTIONS), f"{path.name} imports the Functions runtime"
    assert not _reaches(names, APP_AND_TOOLS), f"{path.name} imports {_reaches(names, APP_AND_TOOLS)}"


@pytest.mark.parametrize("path", sorted((ROOT / "devhost").rglob("*.py")), ids=lambda p: p.name)
def test_devhost_imports_nothing_of_the_app(path: Path) -> None:
    """devhost is a host: it loads whatever app it is given and knows nothing of this one."""
    names = _imports(ast.parse(path.read_text(encoding="utf-8")))
    offending = _reaches(names, ("pgflex_restore", *APP_AND_TOOLS[1:]))
    assert not offending, f"devhost/{path.name} imports {offending}"


def test_import_stays_lean() -> None:
    """Importing the package and even the client does not load azure.identity or the Functions libraries."""
    code = (
        "import sys, pgflex_restore, pgflex_restore.client, pgflex_restore.bodies, pgflex_restore.selection;"
        "bad=[m for m in sys.modules if m.startswith(('azure.identity','azure.functions','azure.durable_functions'))];"
        "print(bad)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == "[]"
