"""A stand-in container for the job execution tests: what it does comes from its environment (JOB_MODE).

It prints the environment it got (names, and the values of the test's own variables), can ask the platform's
identity endpoint for a token, then succeeds, fails or sleeps.
"""

from __future__ import annotations

import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request


def token_answer(client_id: str) -> tuple[int, dict[str, str]]:
    """The identity endpoint's answer (status, body) for a database token of ``client_id`` (or the system one)."""
    query = {"api-version": "2019-08-01", "resource": "https://ossrdbms-aad.database.windows.net"}
    if client_id != "system":
        query["client_id"] = client_id
    url = f"{os.environ['IDENTITY_ENDPOINT']}?{urllib.parse.urlencode(query)}"
    request = urllib.request.Request(url, headers={"X-IDENTITY-HEADER": os.environ["IDENTITY_HEADER"]})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310 - the emulator on loopback
            return int(answer.status), json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return int(error.code), {}


def sign_in() -> str:
    """Sign in to PostgreSQL as the loader does: LOADER_PG_USER, the job identity's token as the password."""
    import psycopg

    _, token = token_answer(os.environ["AZURE_CLIENT_ID"])
    with psycopg.connect(host="127.0.0.1", port=os.environ["PGPORT"], dbname="postgres",
                         user=os.environ["LOADER_PG_USER"], password=token["access_token"]) as connection:
        row = connection.execute("select current_user").fetchone()
    return str(row[0]) if row else ""


def main() -> int:
    mode = os.environ.get("JOB_MODE", "ok")
    shown = {k: v for k, v in os.environ.items() if k.startswith(("JOB_", "CONTAINER_APP_"))}
    print("ENV " + json.dumps({"names": sorted(os.environ), "values": shown}), flush=True)
    for client_id in filter(None, os.environ.get("JOB_TOKEN_CLIENTS", "").split(",")):
        print(f"TOKEN {client_id} {token_answer(client_id)[0]}", flush=True)
    if mode == "sign-in":
        print(f"SIGNED IN AS {sign_in()}", flush=True)
    if mode == "fail":
        print("boom: the load failed", file=sys.stderr, flush=True)
        return 3
    if mode == "sleep":
        time.sleep(float(os.environ.get("JOB_SLEEP", "30")))
    print("done", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
