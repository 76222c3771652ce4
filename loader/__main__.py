"""`python -m loader`: the Container Apps job's entry point (docs/loading.md).

Reads ``LOAD_REQUEST``, loads, writes ``<prefix>_load-report.json`` next to the files and prints the report as
the last line of stdout. Exit codes: 0 loaded and every check passed, 1 the load or a check failed, 2 bad input.
With ``"action": "drop"`` it drops the given databases instead (``<prefix>_drop-report.json``; 0 every one
dropped or already absent, 1 otherwise).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TextIO

from .auth import Target, target_from_env
from .drop import drop_databases, drop_report_name
from .files import report_name
from .pgrestore import PgRestoreError, find_program
from .report import Report
from .request import LoadRequest, RequestError, parse_request_text
from .run import LoadOptions, load
from .sources import LocalSource, Source, blob_source
from .verify import Proofs

EXIT_LOADED, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2


def options_of(request: LoadRequest) -> LoadOptions:
    return LoadOptions(run_id=request.run_id, prefix=request.prefix, databases=request.databases,
                       on_exists=request.on_exists, roles=request.roles, jobs=request.jobs,
                       replaceable=request.replaceable,
                       proofs=Proofs(checks=request.checks, amcheck=request.amcheck,
                                     compare_with_source=request.compare_with_source,
                                     recovery_point_time=request.recovery_point_time))


def source_of(request: LoadRequest, env: Mapping[str, str]) -> Source:
    if request.folder:
        return LocalSource(Path(request.folder))
    return blob_source(str(request.container_url), env)


def main(env: Mapping[str, str] | None = None, *, stdout: TextIO | None = None, stderr: TextIO | None = None) -> int:
    env = os.environ if env is None else env
    out, err = stdout or sys.stdout, stderr or sys.stderr
    try:
        request = parse_request_text(env.get("LOAD_REQUEST"))
        target = target_from_env(str(request.host), env)
        program = find_program(env)
        source = source_of(request, env)
    except (RequestError, ValueError, PgRestoreError) as exc:
        print(f"bad input: {exc}", file=err)
        print(json.dumps({"status": "failed", "failedStep": None,
                          "error": {"code": "BadRequest", "message": str(exc), "advice": "fix LOAD_REQUEST or "
                                    "the job's environment (docs/loading.md)"}}), file=out)
        return EXIT_BAD_INPUT
    if request.action == "drop":
        return _drop(request, source, target, out, err)
    workdir = Path(env["LOADER_WORKDIR"]) if env.get("LOADER_WORKDIR") else None
    name = report_name(request.prefix)

    def created(report: Report) -> None:
        """The report so far, marked running, next to the files: if the loader dies later (stopped at the
        restore's deadline, out of memory), the app still learns which databases it created."""
        partial = {**report.to_dict(), "status": "running", "finishedAt": None}
        try:
            source.write(name, json.dumps(partial, sort_keys=True, separators=(",", ":")).encode())
        except Exception as exc:  # the final report is written (or printed) anyway
            print(f"could not write the report so far: {exc}", file=err)

    report = load(options_of(request), source, target, program=program, workdir=workdir,
                  progress=lambda database, phase: print(f"{database or '-'}: {phase}", file=err, flush=True),
                  created=created)
    _publish(source, name, report.to_json(), out, err)
    return EXIT_LOADED if report.status == "loaded" else EXIT_FAILED


def _drop(request: LoadRequest, source: Source, target: Target, out: TextIO, err: TextIO) -> int:
    report = drop_databases(request.run_id, target, request.drop)
    _publish(source, drop_report_name(request.prefix), json.dumps(report.to_dict(), sort_keys=True,
                                                                  separators=(",", ":")), out, err)
    return EXIT_LOADED if report.status == "dropped" else EXIT_FAILED


def _publish(source: Source, name: str, text: str, out: TextIO, err: TextIO) -> None:
    """The report next to the files, and as the last stdout line."""
    try:
        where = source.write(name, text.encode())
        print(f"report written to {where}", file=err)
    except Exception as exc:  # the report still goes to stdout; the job's log keeps it
        print(f"could not write the report next to the files: {exc}", file=err)
    print(text, file=out, flush=True)


if __name__ == "__main__":
    sys.exit(main())
