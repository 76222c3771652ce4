"""The statements that create a target database like the dumped one, from `pg_restore --create` script output.

pg_restore writes the database's own entries (DATABASE, DATABASE PROPERTIES, COMMENT ON DATABASE, its ACL) as a
script that creates the source's name and ``\\connect``s to it. The loader runs those statements itself, so it can
give the database its target name, skip the owner when that role does not exist, and report each failure. Pure.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_SIMPLE_NAME = re.compile(r"^[a-z_][a-z0-9_$]*$")


@dataclass(frozen=True)
class DatabaseScript:
    """``create`` runs first and alone (CREATE DATABASE cannot run in a transaction); ``owner`` is the role of
    ``ALTER DATABASE ... OWNER TO``, kept apart so the caller decides; ``rest`` are comments, settings, grants."""

    create: str | None
    owner: str | None
    rest: list[str]


def quote_ident(name: str) -> str:
    """An always-quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def split_statements(script: str) -> list[str]:
    """SQL statements of a pg_dump-style script: comments and psql meta-commands (``\\connect``, ``\\restrict``)
    dropped, single-quoted and double-quoted text kept intact."""
    statements: list[str] = []
    current: list[str] = []
    quote: str | None = None
    for raw_line in script.splitlines(keepends=True):
        line = raw_line
        if quote is None and not "".join(current).strip():
            stripped = line.lstrip()
            if stripped.startswith("--") or stripped.startswith("\\") or not stripped:
                continue
        index = 0
        while index < len(line):
            char = line[index]
            if quote is not None:
                if char == quote:
                    quote = None
            elif char in ("'", '"'):
                quote = char
            elif char == "-" and line.startswith("--", index):
                line = line[:index] + "\n"
                break
            elif char == ";":
                current.append(line[: index + 1])
                statements.append("".join(current).strip())
                current = []
                line = line[index + 1:]
                index = 0
                continue
            index += 1
        current.append(line)
    tail = "".join(current).strip()
    if tail:
        statements.append(tail)
    return statements


def _name_pattern(name: str) -> str:
    forms = [re.escape(quote_ident(name))]
    if _SIMPLE_NAME.match(name):
        forms.append(re.escape(name))
    return "(?:" + "|".join(forms) + ")"


def rewrite(statement: str, source: str, target: str) -> str:
    """The statement with the database it names (after the word DATABASE) renamed from source to target."""
    pattern = re.compile(r"(\bDATABASE\s+)" + _name_pattern(source) + r"(?=[\s;]|$)")
    return pattern.sub(lambda m: m.group(1) + quote_ident(target), statement, count=1)


_OWNER = re.compile(r"^ALTER DATABASE\s+.+?\s+OWNER TO\s+(.+?);$", re.DOTALL)


def _unquote(identifier: str) -> str:
    if len(identifier) >= 2 and identifier[0] == identifier[-1] == '"':
        return identifier[1:-1].replace('""', '"')
    return identifier


def database_script(script: str, source: str, target: str) -> DatabaseScript:
    """Split and rename the script pg_restore wrote for the database entries; session SETs are dropped."""
    create: str | None = None
    owner: str | None = None
    rest: list[str] = []
    for statement in split_statements(script):
        upper = statement.upper()
        if upper.startswith("SET ") or upper.startswith("SELECT PG_CATALOG.SET_CONFIG"):
            continue
        renamed = rewrite(statement, source, target)
        if upper.startswith("CREATE DATABASE"):
            create = renamed
            continue
        match = _OWNER.match(statement)
        if match:
            owner = _unquote(match.group(1).strip())
            continue
        rest.append(renamed)
    return DatabaseScript(create, owner, rest)


def owner_statement(target: str, owner: str) -> str:
    return f"ALTER DATABASE {quote_ident(target)} OWNER TO {quote_ident(owner)};"
