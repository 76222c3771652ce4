"""The CLI's ledger of the databases a load created (docs/loading.md, "The ledger"): a JSON file keyed by server
(``host:port``) and database, with each database's oid. ``onExists: replace`` drops only what is in it.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

DEFAULT_PATH = Path("~/.local/state/pgflex-restore/ledger.json")


class Ledger:
    def __init__(self, path: Path) -> None:
        self.path = path.expanduser()

    def read(self) -> dict[str, dict[str, dict[str, Any]]]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except ValueError as exc:
            raise ValueError(f"the ledger {self.path} is not JSON ({exc}); fix or move it") from exc
        return data if isinstance(data, dict) else {}

    def replaceable(self, server: str) -> list[dict[str, Any]]:
        """The server's databases a load created: ``[{"database", "oid"}]`` (the loader's ``replaceable``)."""
        entries = self.read().get(server, {})
        return [{"database": name, "oid": int(item["oid"])} for name, item in sorted(entries.items())
                if isinstance(item, dict) and isinstance(item.get("oid"), int)]

    def record(self, server: str, created: Iterable[Mapping[str, Any]], *, run_id: str, created_at: str) -> None:
        """Add (or update, after a replace) the databases a load created; written atomically."""
        data = self.read()
        entries = data.setdefault(server, {})
        for item in created:
            if item.get("oid") is not None:
                entries[str(item["database"])] = {"oid": int(item["oid"]), "runId": run_id, "createdAt": created_at}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(prefix=".ledger-", dir=self.path.parent)
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            json.dump(data, out, indent=2, sort_keys=True)
        Path(temporary).replace(self.path)
