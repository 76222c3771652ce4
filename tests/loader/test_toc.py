"""`pg_restore --list` parsing and the version check, from real list output and archive headers."""

from __future__ import annotations

import pytest

from loader.toc import list_file, parse_entry, parse_toc
from loader.versions import VersionError, archive_version, check_readable, max_readable, pg_restore_major

LISTING = """\
;
; Archive created at 2026-12-04 07:42:15 UTC
;     dbname: src
;     TOC Entries: 36
;     Compression: -1
;     Dump Version: 1.14-0
;     Format: CUSTOM
;     Integer: 4 bytes
;     Offset: 8 bytes
;     Dumped from database version: 15.18 (Debian 15.18-0+deb12u1)
;     Dumped by pg_dump version: 15.18 (Debian 15.18-0+deb12u1)
;
;
; Selected TOC Entries:
;
3543; 1262 16390 DATABASE - src app_owner
3544; 0 0 COMMENT - DATABASE src app_owner
3545; 0 0 ACL - DATABASE src app_owner
3546; 0 0 DATABASE PROPERTIES - src app_owner
9; 2615 16611 SCHEMA - s app_owner
3; 3079 16472 EXTENSION - hstore <no owner>
3547; 0 0 COMMENT - EXTENSION hstore <no owner>
4; 3079 16600 EXTENSION - uuid-ossp <no owner>
3549; 0 0 COMMENT - EXTENSION "uuid-ossp" <no owner>
218; 1259 16612 TABLE s t postgres
3550; 0 0 COMMENT s TABLE t postgres
3551; 0 0 ACL s TABLE t postgres
221; 1259 16628 MATERIALIZED VIEW s mv postgres
223; 1259 16633 TABLE s my table postgres
222; 1259 16632 SEQUENCE s seq postgres
220; 1259 16624 VIEW s v postgres
3380; 0 0 TABLE ATTACH s p1 postgres
3536; 2613 16647 BLOB - 16647 postgres
3530; 0 16612 TABLE DATA s t postgres
3552; 0 0 SEQUENCE SET s seq postgres
3537; 0 0 BLOBS - BLOBS <no owner>
3383; 2606 16619 CONSTRAINT s t t_pkey postgres
3384; 1259 16623 INDEX s t_trgm postgres
3385; 2606 16642 FK CONSTRAINT s child child_id_fkey postgres
3532; 0 16628 MATERIALIZED VIEW DATA s mv postgres
""".replace("<no owner>", "")  # lines of entries without an owner end in a space


def test_header_facts() -> None:
    toc = parse_toc(LISTING)
    assert (toc.database, toc.archive_version, toc.dumped_from, toc.dumped_by) == ("src", "1.14-0", "15.18", "15.18")
    assert toc.compression == "-1"


def test_entries_with_multiword_descs_spaces_in_tags_and_empty_owners() -> None:
    toc = parse_toc(LISTING)
    by_id = {e.dump_id: e for e in toc.entries}
    assert (by_id[221].desc, by_id[221].schema, by_id[221].tag, by_id[221].owner) == \
        ("MATERIALIZED VIEW", "s", "mv", "postgres")
    assert (by_id[3532].desc, by_id[3532].tag) == ("MATERIALIZED VIEW DATA", "mv")
    assert (by_id[223].desc, by_id[223].tag) == ("TABLE", "my table")
    assert (by_id[3385].desc, by_id[3385].tag) == ("FK CONSTRAINT", "child child_id_fkey")
    assert (by_id[3].desc, by_id[3].schema, by_id[3].tag, by_id[3].owner) == ("EXTENSION", None, "hstore", None)
    assert (by_id[3537].desc, by_id[3537].tag, by_id[3537].owner) == ("BLOBS", "BLOBS", None)
    assert (by_id[3546].desc, by_id[3546].tag) == ("DATABASE PROPERTIES", "src")
    assert by_id[3551].line == "3551; 0 0 ACL s TABLE t postgres"


def test_database_entries_extensions_owners_and_checked_objects() -> None:
    toc = parse_toc(LISTING)
    assert [e.dump_id for e in toc.database_entries] == [3543, 3544, 3545, 3546]
    assert [e.dump_id for e in toc.extension_entries()] == [3, 3547, 4, 3549]
    assert toc.owners == {"app_owner", "postgres"}
    assert [(e.desc, e.tag) for e in toc.checked_objects()] == [
        ("TABLE", "t"), ("MATERIALIZED VIEW", "mv"), ("TABLE", "my table"), ("SEQUENCE", "seq"), ("VIEW", "v"),
        ("CONSTRAINT", "t t_pkey"), ("INDEX", "t_trgm"), ("FK CONSTRAINT", "child child_id_fkey")]


def test_list_file_repeats_the_lines() -> None:
    entries = parse_toc(LISTING).database_entries[:2]
    assert list_file(entries) == ("3543; 1262 16390 DATABASE - src app_owner\n"
                                  "3544; 0 0 COMMENT - DATABASE src app_owner\n")


def test_non_entries_are_ignored() -> None:
    assert parse_entry("; a comment") is None
    assert parse_entry("") is None
    assert parse_toc("garbage\n").entries == ()


def test_archive_version_from_the_header_bytes() -> None:
    head = bytes.fromhex("5047444d50010e000408")
    assert str(archive_version(head)) == "1.14-0"
    with pytest.raises(VersionError, match="PGDMP"):
        archive_version(b"-- PostgreSQL database dump")


@pytest.mark.parametrize(("major", "newest"), [(15, (1, 14, 0)), (16, (1, 15, 0)), (17, (1, 16, 0)),
                                               (18, (1, 16, 0)), (11, (1, 13, 0))])
def test_newest_archive_each_pg_restore_reads(major: int, newest: tuple[int, int, int]) -> None:
    assert max_readable(major) == newest


def test_a_newer_archive_is_refused_with_advice() -> None:
    check_readable(archive_version(b"PGDMP\x01\x0e\x00"), 15, name="a.sql")
    check_readable(archive_version(b"PGDMP\x01\x0e\x00"), 18, name="a.sql")
    with pytest.raises(VersionError, match=r"1\.16-0 \(written by pg_dump 17 or 18\).*pg_restore 15"):
        check_readable(archive_version(b"PGDMP\x01\x10\x00"), 15, name="a.sql")


def test_pg_restore_version_output() -> None:
    assert pg_restore_major("pg_restore (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)\n") == 15
    assert pg_restore_major("pg_restore (PostgreSQL) 18beta1") == 18
    with pytest.raises(VersionError):
        pg_restore_major("command not found")
