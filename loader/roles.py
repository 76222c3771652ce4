"""Clean a flexible server's roles file (`pg_dumpall --roles-only` output) for a non-superuser admin.

Microsoft's procedure deletes lines with sed. That drops more than it should (every line naming `azuresu`, so the
memberships `GRANTED BY azuresu` too) and less than it must (`NOREPLICATION`, the target's own roles, `\\restrict`),
so the script would fail half-way when run as the target's admin. Here the file is parsed into statements and
each is kept, rewritten or skipped with a reason. What comes out is one statement per string, to run one by one
through a driver (not psql: meta-commands are gone; run without query parameters, so `%` stays literal).

The rules are an allowlist: a role statement whose every part is understood is kept; anything else is skipped.
So no output statement can make a superuser, give REPLICATION or BYPASSRLS, or hand on azure_pg_admin, whatever
the input.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field

SERVICE_ROLES = frozenset({"azure_pg_admin", "azuresu", "azure_superuser", "replication"})
POWERFUL_PREDEFINED = frozenset({"pg_execute_server_program", "pg_read_server_files", "pg_write_server_files"})
SPECIAL_NAMES = frozenset({"current_user", "current_role", "session_user", "public", "all", "none"})
PLAIN_ATTRIBUTES = frozenset({"login", "nologin", "inherit", "noinherit", "createdb", "nocreatedb", "createrole",
                              "nocreaterole"})
# Superuser-only attributes: a non-superuser cannot set them, and a load must never grant them.
SUPERUSER_ATTRIBUTES = {"superuser": "SUPERUSER", "nosuperuser": "", "replication": "REPLICATION",
                        "noreplication": "", "bypassrls": "BYPASSRLS", "nobypassrls": "", "createuser": "SUPERUSER",
                        "nocreateuser": ""}
SESSION_SETTINGS = frozenset({"client_encoding", "default_transaction_read_only", "statement_timeout",
                              "lock_timeout", "idle_in_transaction_session_timeout", "client_min_messages",
                              "row_security", "check_function_bodies", "xmloption"})
_WORD = re.compile(r"[A-Za-z_\x80-\U0010ffff][A-Za-z0-9_$\x80-\U0010ffff]*")
_NUMBER = re.compile(r"(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
_DOLLAR = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)?\$")
_QUOTED = {"'": re.compile(r"'(?:[^']|'')*'"), '"': re.compile(r'"(?:[^"]|"")*"')}
_E_STRING = re.compile(r"'(?:[^'\\]|\\.|'')*'", re.DOTALL)  # E'...': backslash escapes too


@dataclass(frozen=True)
class CleanedRoles:
    """The statements to run, in order, and what was left out (or left out of a statement), each with why."""

    statements: list[str]
    skipped: list[dict[str, str]]


@dataclass(frozen=True)
class Token:
    kind: str  # word, ident (quoted), string, number, op
    text: str
    space: bool = True  # whitespace or a comment came before it
    broken: bool = False  # an unterminated quote or comment ran to the end of the text

    @property
    def value(self) -> str:
        """Words fold to lower case, quoted identifiers lose their quotes, as PostgreSQL reads them."""
        if self.kind == "word":
            return self.text.lower()
        if self.kind == "ident":
            return self.text[1:-1].replace('""', '"')
        return self.text


@dataclass
class _Output:
    statements: list[str] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)

    def skip(self, tokens: list[Token], reason: str) -> None:
        self.skipped.append({"statement": _render(tokens, redact=True) + ";", "reason": reason})


def clean_roles_script(text: str, *, existing_roles: Collection[str], admin_role: str) -> CleanedRoles:
    """The statements of `text` a non-superuser admin may run to recreate the source's roles, and the skips.

    `existing_roles` are roles already on the target (the admin among them): they are not created or altered,
    but settings and memberships naming them still apply. `admin_role` is never granted to anyone, since that
    would pass on its azure_pg_admin membership.
    """
    cleaner = _Cleaner(frozenset(existing_roles) | {admin_role}, admin_role)
    for item in _statements(text):
        if isinstance(item, str):
            cleaner.out.skipped.append({"statement": item, "reason": "psql meta-command: only psql runs it, and "
                                        "`\\restrict`/`\\connect` mean nothing to a driver"})
        else:
            cleaner.statement(item)
    return CleanedRoles(cleaner.out.statements, cleaner.out.skipped)


def _statements(text: str) -> Iterator[str | list[Token]]:
    """Statements as token lists and psql meta-commands as their line, in file order."""
    tokens: list[Token] = []
    i, n, space = 0, len(text), True
    while i < n:
        c = text[i]
        if c.isspace():
            i, space = i + 1, True
        elif c == "\\":  # psql reads a backslash outside quotes as a meta-command to the end of the line
            end = text.find("\n", i)
            end = n if end < 0 else end
            yield text[i:end].strip()
            i, space = end, True
        elif text.startswith("--", i):
            end = text.find("\n", i)
            i, space = (n if end < 0 else end), True
        elif text.startswith("/*", i):
            i, broken = _block_comment_end(text, i)
            space = True
            if broken:
                tokens.append(Token("op", "/*", True, broken=True))
        elif c == ";":
            if tokens:
                yield tokens
            tokens, i, space = [], i + 1, True
        else:
            token, i = _token(text, i, space)
            tokens.append(token)
            space = False
    if tokens:
        yield tokens


def _block_comment_end(text: str, i: int) -> tuple[int, bool]:
    depth = 0
    while i < len(text):
        if text.startswith("/*", i):
            depth, i = depth + 1, i + 2
        elif text.startswith("*/", i):
            depth, i = depth - 1, i + 2
            if depth == 0:
                return i, False
        else:
            i += 1
    return i, True


def _token(text: str, i: int, space: bool) -> tuple[Token, int]:
    """One token from `i`; a quote left open takes the rest of the text and marks the token broken."""
    prefix = re.match(r"(?:[EeBbXxNn]|[Uu]&)(?=')|[Uu]&(?=\")", text[i:i + 3])
    start = i + (len(prefix.group()) if prefix else 0)
    if text[start] in "'\"":
        pattern = _E_STRING if prefix and prefix.group() in "Ee" else _QUOTED[text[start]]
        quoted = pattern.match(text, start)
        end = quoted.end() if quoted else len(text)
        kind = "unicode" if prefix and prefix.group().upper() == "U&" else "ident" if text[start] == '"' else "string"
        return Token(kind, text[i:end], space, quoted is None), end  # U& escapes could spell any name: not read
    dollar = _DOLLAR.match(text, i)
    if dollar:
        close = text.find(dollar.group(), dollar.end())
        end = len(text) if close < 0 else close + len(dollar.group())
        return Token("string", text[i:end], space, close < 0), end
    for kind, pattern in (("word", _WORD), ("number", _NUMBER)):
        found = pattern.match(text, i)
        if found:
            return Token(kind, found.group(), space), found.end()
    return Token("op", text[i], space), i + 1


def _render(tokens: list[Token], *, redact: bool = False) -> str:
    """Tokens as SQL, one space where the source had whitespace or a comment (passwords hidden if `redact`)."""
    parts: list[str] = []
    for index, token in enumerate(tokens):
        text = token.text
        if redact and token.kind == "string" and index and tokens[index - 1].value == "password":
            text = "'***'"
        parts.append((" " if token.space and parts else "") + text)
    return "".join(parts)


def _name(token: Token) -> str:
    """A role name as SQL: bare if the source had it bare (so it is no reserved word there), else quoted."""
    if token.kind == "word":
        return token.value
    return '"' + token.value.replace('"', '""') + '"'


def _without(lost: list[str]) -> str:
    return f"applied without {', '.join(lost)}: only a superuser can give these attributes, and a flexible " \
           "server has no superusers"


def _starts(tokens: list[Token], *words: str) -> bool:
    """Whether the statement starts with these keywords (never matched by quoted identifiers)."""
    head = tokens[:len(words)]
    return len(head) == len(words) and all(t.kind == "word" and t.value == w for t, w in zip(head, words, strict=True))


class _Cleaner:
    def __init__(self, existing: frozenset[str], admin: str) -> None:
        self.existing, self.admin, self.out = existing, admin, _Output()

    def statement(self, tokens: list[Token]) -> None:
        if any(t.broken for t in tokens):
            return self.out.skip(tokens, "an unterminated quote or comment: the statement's end is unknown")
        if any(t.kind == "unicode" for t in tokens):
            return self.out.skip(tokens, "Unicode-escaped (U&) names are not read, so the statement can't be "
                                         "checked")
        handlers = {("create", "role"): self.create_role, ("create", "user"): self.create_role,
                    ("create", "group"): self.create_role, ("alter", "role"): self.alter_role,
                    ("alter", "user"): self.alter_role, ("alter", "group"): self.alter_role,
                    ("grant",): self.grant, ("comment", "on", "role"): self.comment, ("set",): self.setting}
        handler = next((h for words, h in handlers.items() if _starts(tokens, *words)), None)
        if handler is not None:
            return handler(tokens)
        if _starts(tokens, "security", "label"):
            return self.out.skip(tokens, "security labels (pgaadauth maps a role to a Microsoft Entra principal) "
                                         "are not restored: an Entra admin maps principals with "
                                         "pgaadauth_create_principal")
        return self.out.skip(tokens, "not a role statement: a roles file is loaded for roles only")

    def name_problem(self, token: Token | None, *, existing_ok: bool) -> str | None:
        """Why a statement about this role must not run, or None."""
        if token is None or token.kind not in ("word", "ident"):
            return "no role name where one belongs"
        name = token.value
        if token.kind == "word" and name in SPECIAL_NAMES:
            return f"names {token.text.upper()} rather than a role"
        if name in SERVICE_ROLES:
            return f'"{name}" is a service role of the flexible server, which Azure creates and manages'
        if name.startswith("pg_"):
            return f'"{name}" is a predefined role (the "pg_" prefix is reserved)'
        if not existing_ok and name in self.existing:
            return f'role "{name}" already exists on the target and is left as it is there'
        return None

    def create_role(self, tokens: list[Token]) -> None:
        name = tokens[2] if len(tokens) > 2 else None
        problem = self.name_problem(name, existing_ok=False)
        if problem or name is None:
            return self.out.skip(tokens, problem or "")
        parsed = self.options(tokens, 3, memberships=True)
        if parsed is None:
            return None
        options, clauses, lost = parsed
        if lost:
            self.out.skip(tokens, _without(lost))
        text = f"CREATE {tokens[1].value.upper()} {_name(name)}" + (" WITH " + " ".join(options) if options else "")
        self.out.statements.append(text + ";")
        for clause, names in clauses:
            granted, members = ([name], names) if clause in ("role", "user", "admin") else (names, [name])
            self.role_grant(tokens, granted, members, ["WITH", "ADMIN", "OPTION"] if clause == "admin" else [])
        return None

    def alter_role(self, tokens: list[Token]) -> None:
        """Per-role settings apply to existing roles too; attributes only to roles this file creates."""
        name = tokens[2] if len(tokens) > 2 else None
        rest = tokens[3:]
        in_database = _starts(rest, "in", "database") and len(rest) > 3 and rest[2].kind in ("word", "ident")
        body = rest[3:] if in_database else rest
        settings = in_database or _starts(body, "set") or _starts(body, "reset")
        problem = self.name_problem(name, existing_ok=settings)
        if settings and not problem and not ((_starts(body, "set") or _starts(body, "reset")) and len(body) > 1):
            problem = "an ALTER ROLE form a roles file does not need"
        parsed = None if problem or settings else self.options(tokens, 3, memberships=False)
        if problem or name is None:
            self.out.skip(tokens, problem or "")
        elif settings:
            scope = f" IN DATABASE {_render(rest[2:3])}" if in_database else ""
            self.out.statements.append(f"ALTER ROLE {_name(name)}{scope} {_render(body)};")
        elif parsed is not None and not parsed[0]:
            self.out.skip(tokens, "nothing left to set once superuser-only attributes are removed")
        elif parsed is not None:
            self.out.statements.append(f"ALTER ROLE {_name(name)} WITH {' '.join(parsed[0])};")
            if parsed[2]:
                self.out.skip(tokens, _without(parsed[2]))

    def options(self, tokens: list[Token], i: int, *, memberships: bool
                ) -> tuple[list[str], list[tuple[str, list[Token]]], list[str]] | None:
        """The role options a non-superuser may set (as SQL), the membership clauses and the superuser-only
        attributes left out; None (and a skip) if an option is not understood."""
        kept: list[str] = []
        lost: list[str] = []
        clauses: list[tuple[str, list[Token]]] = []
        i += 1 if _starts(tokens[i:], "with") else 0
        while i < len(tokens):
            token = tokens[i]
            word = token.value if token.kind == "word" else ""
            pair = " ".join(t.value for t in tokens[i:i + 2] if t.kind == "word")
            if word in PLAIN_ATTRIBUTES:
                kept.append(word.upper())
                i += 1
            elif word in SUPERUSER_ATTRIBUTES:
                lost += [SUPERUSER_ATTRIBUTES[word]] if SUPERUSER_ATTRIBUTES[word] else []
                i += 1
            elif pair in ("connection limit", "valid until", "encrypted password") or word in ("password", "sysid"):
                size = 3 if pair in ("connection limit", "valid until", "encrypted password") else 2
                if i + size - 1 < len(tokens) and tokens[i + size - 1].text in ("-", "+"):
                    size += 1
                value = tokens[i + size - 1] if i + size - 1 < len(tokens) else None
                if value is None or not (value.kind in ("string", "number") or
                                         (value.kind == "word" and value.value == "null")):
                    self.out.skip(tokens, f"no value this cleaner can read for role option {word.upper()}")
                    return None
                kept.append(_render(tokens[i:i + size]))
                i += size
            elif memberships and (pair in ("in role", "in group") or word in ("role", "user", "admin")):
                clause = pair if pair in ("in role", "in group") else word
                names, i = self.name_list(tokens, i + len(clause.split()))
                if names is None:
                    self.out.skip(tokens, f"no role list this cleaner can read after {clause.upper()}")
                    return None
                clauses.append((clause, names))
            else:
                self.out.skip(tokens, f"unrecognised role option {token.text!r}: only options a non-superuser "
                                      "may set are applied")
                return None
        return kept, clauses, list(dict.fromkeys(lost))

    @staticmethod
    def name_list(tokens: list[Token], i: int) -> tuple[list[Token] | None, int]:
        """Comma-separated role names from `i`, and where they end; None for none or a special word."""
        names: list[Token] = []
        while i < len(tokens) and tokens[i].kind in ("word", "ident"):
            if tokens[i].kind == "word" and tokens[i].value in SPECIAL_NAMES:
                return None, i
            names.append(tokens[i])
            i += 1
            if i + 1 < len(tokens) and tokens[i].text == ",":
                i += 1
            else:
                break
        return (names or None), i

    def grant(self, tokens: list[Token]) -> None:
        words = [t.value if t.kind == "word" else "" for t in tokens]
        to = words.index("to") if "to" in words else len(words)
        if "on" in words[:to]:
            if words[words.index("on") + 1:words.index("on") + 2] == ["parameter"]:
                return self.out.skip(tokens, "privileges on server parameters are not restored: only a superuser, "
                                             "or a holder WITH GRANT OPTION, may grant them")
            return self.out.skip(tokens, "object privileges belong to the database dumps, not to the roles file")
        unreadable = "not a role membership this cleaner can read"
        granted, i = self.name_list(tokens, 1)
        members, i = self.name_list(tokens, to + 1) if granted is not None and i == to else (None, i)
        if granted is None or members is None:
            return self.out.skip(tokens, unreadable)
        options: list[str] = []
        if words[i:i + 1] == ["with"]:
            j = i + 1
            while j + 1 < len(tokens) and words[j] in ("admin", "inherit", "set") and \
                    words[j + 1] in ("option", "true", "false"):
                options += [words[j].upper(), words[j + 1].upper()]
                j += 2
                if j + 1 < len(tokens) and tokens[j].text == ",":
                    options[-1] += ","
                    j += 1
            if not options:
                return self.out.skip(tokens, unreadable)
            options, i = ["WITH", *options], j
        if words[i:i + 2] == ["granted", "by"] and i + 3 == len(tokens) and tokens[i + 2].kind in ("word", "ident"):
            i += 3  # the grantor is only recorded; naming another one needs a superuser
        if i != len(tokens):
            return self.out.skip(tokens, unreadable)
        return self.role_grant(tokens, granted, members, options)

    def role_grant(self, tokens: list[Token], granted: list[Token], members: list[Token], options: list[str]
                   ) -> None:
        """GRANT roles TO members, less the roles never handed on and the members never given any; each name
        left out is one skip."""
        roles = [r for r in granted if not self.granted_problem(tokens, r.value)]
        kept = [m for m in members if not self.member_problem(tokens, m.value)]
        if roles and kept:
            text = f"GRANT {', '.join(map(_name, roles))} TO {', '.join(map(_name, kept))}"
            self.out.statements.append(" ".join([text, *options]) + ";")

    def granted_problem(self, tokens: list[Token], role: str) -> bool:
        reason = None
        if role in SERVICE_ROLES:
            reason = f'membership in "{role}", a service role of the flexible server, is never restored'
        elif role in POWERFUL_PREDEFINED:
            reason = f'membership in "{role}" is not restored: it reaches the server\'s files or programs, ' \
                     "as a superuser would"
        elif role == "pg_database_owner":
            reason = '"pg_database_owner" cannot have members'
        elif role == self.admin:
            reason = f'membership in the target\'s admin "{role}" is not restored: it would pass on azure_pg_admin'
        if reason:
            self.out.skip(tokens, reason)
        return reason is not None

    def member_problem(self, tokens: list[Token], member: str) -> bool:
        reason = None
        if member in SERVICE_ROLES:
            reason = f'"{member}" is a service role of the flexible server: nothing is granted to it'
        elif member.startswith("pg_"):
            reason = f'"{member}" is a predefined role: nothing is granted to it'
        if reason:
            self.out.skip(tokens, reason)
        return reason is not None

    def comment(self, tokens: list[Token]) -> None:
        name = tokens[3] if len(tokens) > 3 else None
        problem = self.name_problem(name, existing_ok=False)
        if problem or name is None:
            return self.out.skip(tokens, problem or "")
        text = tokens[5] if len(tokens) == 6 and _starts(tokens[4:], "is") else None
        if text is None or not (text.kind == "string" or (text.kind == "word" and text.value == "null")):
            return self.out.skip(tokens, "not a role comment this cleaner can read")
        self.out.statements.append(f"COMMENT ON ROLE {_name(name)} IS {text.text};")
        return None

    def setting(self, tokens: list[Token]) -> None:
        """Harmless session settings of the script's preamble; never SET ROLE or a change in string syntax."""
        words = [t.value for t in tokens[1:]]
        words = words[1:] if words[:1] == ["session"] else words
        name = words[0] if words else ""
        value = words[2:] if len(words) > 2 and words[1] in ("=", "to") else None
        if (name == "standard_conforming_strings" and value in (["on"], ["'on'"], ["true"])) or \
                (name in SESSION_SETTINGS and value is not None):
            self.out.statements.append(_render(tokens) + ";")
        else:
            self.out.skip(tokens, "a session setting roles do not need (SET ROLE, SET SESSION AUTHORIZATION and "
                                  "string-syntax changes are never applied)")
