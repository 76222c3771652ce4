"""Classifying pg_restore's stderr: real output captured from the real server (samples/, made by
samples/make_samples.py), one live run, and pg_restore's own wording for cases PostgreSQL 15 can't produce."""

from __future__ import annotations

import json
import re
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

import psycopg
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from devhost.postgres import Postgres
from loader.messages import classify_restore_output, has_loss

SAMPLES = Path(__file__).resolve().parent / "samples"
DUMPS = Path(__file__).resolve().parents[2] / "emulator" / "fixtures" / "dumps"


def sample(name: str) -> str:
    return (SAMPLES / f"{name}.txt").read_text()


def classify(name: str) -> list[dict[str, Any]]:
    return classify_restore_output(sample(name))


def error(message: str, command: str) -> str:
    """A block in pg_restore's wording (pg_backup_db.c: "%s: %sCommand was: %s")."""
    return f"pg_restore: error: could not execute query: ERROR:  {message}\nCommand was: {command}\n\n\n"


@pytest.mark.parametrize(("name", "items", "harmless"), [
    ("acl_missing_roles", 18, 0), ("acl_missing_roles_parallel", 18, 0), ("sections", 18, 0),
    ("owners_missing", 40, 22), ("roles_applied", 5, 0), ("not_allow_listed", 15, 0), ("restored_twice", 8, 0),
    ("permission_denied", 8, 0), ("truncated_archive", 1, 0), ("owner_not_member", 2, 2),
    ("preinstalled_extension", 2, 2)])
def test_every_sample_reads_as_one_item_per_error(name: str, items: int, harmless: int) -> None:
    """Each captured error is one item with a reason; the summaries agree with what was read (no extra item)."""
    result = classify(name)
    assert (len(result), sum(i["class"] == "harmless" for i in result)) == (items, harmless)
    assert all(set(i) == {"class", "object", "message", "command", "reason"} and i["reason"] for i in result)
    assert has_loss(result) is (items > harmless)
    assert not any("counted" in i["reason"] for i in result)


def test_samples_are_indexed() -> None:
    """Every sample says how it was made (index.json) and pg_restore exited 1 for each of them."""
    index = json.loads((SAMPLES / "index.json").read_text())
    assert set(index) == {p.stem for p in SAMPLES.glob("*.txt")}
    assert all(1 in facts["exit"] for facts in index.values())


def test_a_grant_to_a_missing_role_names_the_object_the_role_and_the_grants_lost_with_it() -> None:
    items = classify("acl_missing_roles")
    schema = next(i for i in items if i["object"] == "ACL SCHEMA app")
    assert schema["class"] == "loss" and schema["message"] == 'role "report_reader" does not exist'
    assert 'role "report_reader" does not exist on the target' in schema["reason"]
    assert "other grants (app_writer, partner_sync)" in schema["reason"]
    assert schema["command"].startswith("GRANT USAGE ON SCHEMA app TO report_reader;")
    objects = {i["object"] for i in items}
    assert {"ACL TABLE public.customers", "ACL SEQUENCE app.invoice_number", "ACL LARGE OBJECT 70001",
            "DEFAULT ACL TABLES IN SCHEMA app"} <= objects


def test_interleaved_parallel_output_reads_like_the_serial_one() -> None:
    """-j 4 splits prefixes from messages; the same errors are found, and the over-counted summary is accepted."""
    serial = Counter((i["object"], i["reason"]) for i in classify("acl_missing_roles"))
    parallel = classify("acl_missing_roles_parallel")
    assert Counter((i["object"], i["reason"]) for i in parallel) == serial
    assert re.search(r"errors ignored on restore: (\d+)", sample("acl_missing_roles_parallel"))


def test_owners_that_are_not_kept_are_harmless_and_grants_are_not() -> None:
    items = classify("owners_missing")
    owners = [i for i in items if i["class"] == "harmless"]
    assert all(i["command"].startswith("ALTER ") and " OWNER TO app_owner;" in i["command"] for i in owners)
    assert {"SCHEMA app", "TABLE sales.events", "FUNCTION app.touch()", "LARGE OBJECT 70002"} <= \
        {i["object"] for i in owners}
    assert all("stays owned by the role that loaded it, not app_owner" in i["reason"] for i in owners)
    assert {i["object"].split(" ")[0] for i in items if i["class"] == "loss"} == {"ACL", "DEFAULT"}


def test_extension_comments_and_owners_the_admin_cannot_take_are_harmless() -> None:
    items = classify("owner_not_member") + classify("preinstalled_extension")
    assert [i["object"] for i in items] == ["COMMENT EXTENSION plpgsql", "TABLE public.settings",
                                            "COMMENT EXTENSION plpgsql", "COMMENT EXTENSION hstore"]
    assert not has_loss(items)


def test_an_extension_off_the_allowlist_and_everything_that_needs_it_are_losses() -> None:
    items = {i["object"]: i for i in classify("not_allow_listed")}
    assert "azure.extensions" in items["EXTENSION hstore"]["reason"]
    assert items["EXTENSION hstore"]["message"].startswith('Extension "hstore" is not allow-listed')
    assert items['EXTENSION "uuid-ossp"']["class"] == "loss"
    assert items["TABLE app.products"]["message"] == 'type "ext.hstore" does not exist'
    assert items["TABLE DATA app.products"]["reason"].startswith("rows not loaded")
    assert items["DEFAULT ACL TABLES IN SCHEMA app"]["message"] == 'must be member of role "app_owner"'


def test_a_second_restore_fails_on_what_exists_and_loses_rows() -> None:
    """Verbose output (TOC entry lines, progress) adds no items; COPY failures carry the server's DETAIL."""
    items = classify("restored_twice")
    assert [i["object"] for i in items[:5]] == [
        "SCHEMA reports", "TABLE reports.daily_totals", "VIEW reports.weekly_totals", "TABLE DATA daily_totals",
        "CONSTRAINT daily_totals_pkey ON reports.daily_totals"]
    copy = items[3]
    assert copy["message"] == ('duplicate key value violates unique constraint "daily_totals_pkey"; '
                               "DETAIL: Key (day)=(2026-01-01) already exists.")
    assert copy["command"] is None and copy["reason"].startswith("rows not loaded")
    assert "not known to be the same" in items[0]["reason"]


def test_permission_denied_and_what_follows_from_it() -> None:
    items = classify("permission_denied")
    assert items[0]["message"] == "permission denied for database not_mine"
    assert "may not do this" in items[0]["reason"]
    assert all("missing" in i["reason"] or "rows not loaded" in i["reason"] for i in items[1:])


def test_a_fatal_error_is_a_loss_without_an_object() -> None:
    assert classify("truncated_archive") == [{
        "class": "loss", "object": None, "message": "could not read from input file: end of file", "command": None,
        "reason": "pg_restore stopped or could not go on: could not read from input file: end of file"}]


def test_a_summary_that_disagrees_with_the_errors_read_is_a_loss() -> None:
    """Error blocks that were not read (here: removed) show as a mismatch, as do more errors read than counted.
    With -j pg_restore over-counts (see _plausible), so up to n*(n+1)/2 for n errors read is accepted."""
    summary = "pg_restore: warning: errors ignored on restore: 18\n"
    assert sample("acl_missing_roles").endswith(summary)
    items = classify_restore_output("".join(BLOCKS[:4]) + summary)
    assert len(items) == 5 and items[-1]["class"] == "loss" and items[-1]["object"] is None
    assert "counted 18 errors here but 4 were read" in items[-1]["reason"]
    assert "counted 17 errors" not in str(classify_restore_output("".join(BLOCKS[:6]) + summary))
    too_few = classify_restore_output("".join(BLOCKS[:3]) + "pg_restore: warning: errors ignored on restore: 2\n")
    assert "counted 2 errors here but 3 were read" in too_few[-1]["reason"]
    assert classify_restore_output("pg_restore: warning: errors ignored on restore: 2\n")[0]["class"] == "loss"
    sections = classify("sections")
    assert len(sections) == 18 and "counted" not in sections[-1]["reason"]


def test_what_postgresql_15_cannot_produce_in_pg_restores_wording() -> None:
    """Dumps of older servers create public and plpgsql themselves; CREATE EXTENSION without IF NOT EXISTS."""
    items = classify_restore_output(
        error('schema "public" already exists', "CREATE SCHEMA public;")
        + error('extension "hstore" already exists', "CREATE EXTENSION hstore WITH SCHEMA public;")
        + error('language "plpgsql" already exists', "CREATE PROCEDURAL LANGUAGE plpgsql;")
        + error("must be owner of extension plpgsql", "ALTER EXTENSION plpgsql UPDATE;")
        + error('schema "sales" already exists', "CREATE SCHEMA sales;")
        + error("pg_cron can only be loaded via shared_preload_libraries", "CREATE EXTENSION pg_cron;")
        + error('Only members of "azure_pg_admin" are allowed to use CREATE EXTENSION', "CREATE EXTENSION x;")
        + "pg_restore: warning: errors ignored on restore: 7\n")
    assert [(i["object"], i["class"]) for i in items] == [
        ("SCHEMA public", "harmless"), ("EXTENSION hstore", "harmless"), ("PROCEDURAL LANGUAGE plpgsql", "harmless"),
        ("EXTENSION plpgsql", "loss"), ("SCHEMA sales", "loss"), ("EXTENSION pg_cron", "loss"),
        ("EXTENSION x", "loss")]
    assert "shared_preload_libraries" in items[5]["reason"]


def test_unknown_messages_are_losses() -> None:
    items = classify_restore_output("".join([
        error("division by zero", "SELECT 1/0;"),
        "pg_restore: warning: archive items not in correct section order\n",
        "pg_restore: something new\n",
        "pg_restore: error: could not execute query: FATAL:  terminating connection due to administrator command\n",
        "Command was: COPY s.t (a) FROM stdin;\n"]))
    assert [i["class"] for i in items] == ["loss"] * 4
    assert items[0]["reason"].startswith("not a known harmless message")
    assert "FATAL" in items[3]["reason"]
    assert classify_restore_output("") == [] and not has_loss([])


def test_the_loaders_own_statement_errors_read_the_same() -> None:
    """The loader reports its own statements' failures in pg_restore's wording, without any summary."""
    items = classify_restore_output(error('role "partner_sync" does not exist',
                                          "GRANT CONNECT ON DATABASE appdb TO partner_sync;"))
    assert items[0]["object"] == "ACL DATABASE appdb" and items[0]["class"] == "loss"


# The serial sample's error blocks, without its closing summary (which counts them all).
BLOCKS = [block for block in re.split(r"(?=^pg_restore: )", sample("acl_missing_roles"), flags=re.MULTILINE)
          if block.startswith("pg_restore: error:")]


@settings(max_examples=100, deadline=None)
@given(st.lists(st.sampled_from(range(len(BLOCKS))), min_size=1, max_size=6, unique=True), st.randoms())
def test_any_interleaving_of_whole_writes_reads_the_same_errors(chosen: list[int], rnd: Any) -> None:
    """pg_restore's workers write a message as pieces (program name, level, body); whatever the order of the
    pieces across workers, the same errors come out."""
    queues = [["pg_restore: ", "error: ", BLOCKS[i].removeprefix("pg_restore: error: ")] for i in chosen]
    text = ""
    while any(queues):
        text += rnd.choice([q for q in queues if q]).pop(0)
    expected = Counter(i["object"] for i in classify_restore_output("".join(BLOCKS[i] for i in chosen)))
    assert Counter(i["object"] for i in classify_restore_output(text)) == expected


def test_live_pg_restore_output_classifies_as_the_samples_do(postgres: Postgres, tmp_path: Path) -> None:
    """Today's pg_restore, as the admin: reporting restored twice without privileges (so the roles on the shared
    cluster don't matter) gives the same losses as the captured sample."""
    with psycopg.connect(postgres.uri(), autocommit=True) as admin:
        admin.execute("CREATE DATABASE messages_live")
    argv = [postgres.program("pg_restore"), "--no-owner", "--no-privileges", "-d", postgres.uri("messages_live"),
            str(DUMPS / "reporting.dump")]
    assert subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False).returncode == 0
    again = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
    assert again.returncode == 1
    items = classify_restore_output(again.stderr)
    assert [i["object"] for i in items] == [i["object"] for i in classify("restored_twice")[:5]]
    assert has_loss(items)
