"""Orchestrators replay: they must not read the clock, the environment, randomness or the network."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ORCHESTRATIONS = sorted((Path(__file__).resolve().parents[2] / "orchestrations").glob("*.py"))
FORBIDDEN_IMPORTS = {"random", "requests", "urllib", "http", "socket", "time", "os", "uuid", "secrets", "asyncio",
                     "threading", "azure.storage", "azure.data", "azure.identity"}
FORBIDDEN_CALLS = {"now", "utcnow", "today", "sleep", "uuid4", "getenv", "urandom"}


def problems_in(source: str) -> list[str]:
    found: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import | ast.ImportFrom):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            found += [f"line {node.lineno}: imports {n}" for n in names
                      if any(n == f or n.startswith(f + ".") for f in FORBIDDEN_IMPORTS)]
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in FORBIDDEN_CALLS:
            found.append(f"line {node.lineno}: calls .{node.func.attr}()")
    return found


@pytest.mark.parametrize("module", ORCHESTRATIONS, ids=lambda p: p.name)
def test_orchestration_modules_do_no_io_and_read_no_clock(module: Path) -> None:
    """Time comes from context.current_utc_datetime, waits from durable timers, I/O from activities."""
    assert problems_in(module.read_text()) == []


def test_the_rule_catches_what_it_is_meant_to() -> None:
    """The checker itself flags a wall-clock read, a sleep and an HTTP import."""
    bad = "import requests\nfrom datetime import datetime\nimport time\nx = datetime.now()\ntime.sleep(1)\n"
    assert problems_in(bad) == ["line 1: imports requests", "line 3: imports time", "line 4: calls .now()",
                                "line 5: calls .sleep()"]


TYPED_CALLS = {"get_input", "call_activity", "call_activity_with_retry", "call_sub_orchestrator",
               "call_sub_orchestrator_with_retry"}


def untyped_calls(source: str) -> list[str]:
    """Context calls that leave the SDK to guess the type of what it decodes (a DeprecationWarning each time)."""
    return [f"line {node.lineno}: .{node.func.attr}() without expected_type"
            for node in ast.walk(ast.parse(source))
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in TYPED_CALLS
            and not any(k.arg == "expected_type" for k in node.keywords)]


@pytest.mark.parametrize("module", ORCHESTRATIONS, ids=lambda p: p.name)
def test_every_decoded_value_names_its_type(module: Path) -> None:
    """Inputs, activity results and sub-orchestration results are decoded with an expected type."""
    assert untyped_calls(module.read_text()) == []


def test_the_typed_call_rule_catches_a_bare_call() -> None:
    assert untyped_calls("x = ctx.get_input()\ny = ctx.call_activity('a', 1, expected_type=dict)\n") == [
        "line 1: .get_input() without expected_type"]
