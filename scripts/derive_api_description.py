"""Derive the repository's copy of the Microsoft.DataProtection API description from the official swagger.

The emulator and the contract tests need the facts of the API (paths, parameters, schemas, enums, discriminators,
example payloads), not Microsoft's prose. This keeps the official files' structure, so `$ref`s still resolve,
and drops every descriptive string (`description`, `summary`, `title`, `x-ms-examples`' titles). Run it when an
api-version is added or the source is refreshed; nothing reads the source at run or test time.

    python scripts/derive_api_description.py [SOURCE] [DEST]

SOURCE defaults to ../shared/azure-spec (one folder per api-version, as Azure/azure-rest-api-specs lays it out),
DEST to emulator/api. `--check` compares instead of writing and exits 1 on a difference.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
API_VERSIONS = ("2021-07-01", "2026-06-01")
PROSE = frozenset({"description", "summary", "title"})


def strip_prose(value: Any) -> Any:
    """The same JSON without descriptive strings (a schema property named "description" is kept: it is a dict)."""
    if isinstance(value, dict):
        return {key: strip_prose(item) for key, item in value.items()
                if not (key in PROSE and isinstance(item, str)) and key not in ("x-ms-examples", "externalDocs")}
    if isinstance(value, list):
        return [strip_prose(item) for item in value]
    return value


def derived_files(source: Path) -> dict[str, str]:
    """Relative path -> the text this script writes for it."""
    files: dict[str, str] = {}
    for version in API_VERSIONS:
        folder = source / version
        for path in sorted([folder / "dataprotection.json", *sorted((folder / "examples").rglob("*.json"))]):
            document = json.loads(path.read_text(encoding="utf-8"))
            text = json.dumps(strip_prose(document), separators=(",", ":"), sort_keys=True)
            files[str(path.relative_to(source))] = text + "\n"
    return files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("source", nargs="?", type=Path, default=REPO.parent / "shared" / "azure-spec")
    parser.add_argument("dest", nargs="?", type=Path, default=REPO / "emulator" / "api")
    parser.add_argument("--check", action="store_true", help="compare with DEST instead of writing")
    args = parser.parse_args(argv)
    files = derived_files(args.source)
    if args.check:
        stale = [name for name, text in files.items()
                 if not (args.dest / name).is_file() or (args.dest / name).read_text(encoding="utf-8") != text]
        for name in stale:
            print(f"out of date: {args.dest / name}", file=sys.stderr)
        return 1 if stale else 0
    for name, text in files.items():
        target = args.dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    print(f"wrote {len(files)} files under {args.dest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
