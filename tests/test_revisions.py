"""What counts as new or changed, and revision numbering (tasks/revisions.py). No Prefect."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import pyarrow as pa

from tasks.dedup.night import DedupConfig, dedup_batch
from tasks.revisions import (
    Previous,
    PreviousRevision,
    SourceSelection,
    fetched_state,
    latest_revisions,
    latest_sources,
    pages_as_raw,
    revise,
    revision_rows,
)
from tasks.schema import FETCHED, RAW, REVISIONS_STATE, SOURCES_STATE
from tests.builders import OTHER, REPORT, extracted_row, raw_table, repaired
from tests.conftest import RUN_ID


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_unchanged_inbox_files_are_skipped_and_the_rest_remembered():
    previous = {
        "same.txt": Previous("inbox", _sha(b"same words")),
        "edited.txt": Previous("inbox", _sha(b"old words")),
    }
    raw = raw_table(
        {
            "same.txt": b"same words",
            "edited.txt": b"new words",
            "fresh.txt": b"hello",
            "gone": None,
        },
        errors={"gone": "unreadable: permission denied"},
    )
    selection = SourceSelection(previous)
    kept = pa.concat_tables(list(selection.filter([raw])))
    assert kept.column("source_path").to_pylist() == ["edited.txt", "fresh.txt", "gone"]
    assert (selection.unchanged, selection.files, selection.pages) == (1, 4, 0)
    seen = selection.seen()
    assert seen.schema == SOURCES_STATE
    assert seen.column("source").to_pylist() == ["edited.txt", "fresh.txt"]
    assert seen.column("raw_sha256").to_pylist() == [_sha(b"new words"), _sha(b"hello")]


def test_an_inbox_path_equal_to_a_known_url_is_not_confused_with_it():
    previous = {"a.txt": Previous("page", _sha(b"x"))}
    selection = SourceSelection(previous)
    assert selection.select(raw_table({"a.txt": b"x"})).num_rows == 1


def _fetched(rows: list[dict]) -> pa.Table:
    base = {name: None for name in FETCHED.names}
    base.update(attempts=1, fetched_at=datetime(2026, 3, 14, 2, tzinfo=UTC), kind="page")
    return pa.Table.from_pylist([{**base, **row} for row in rows], schema=FETCHED)


def test_only_new_and_changed_pages_go_to_ingest_with_their_url_and_media_type():
    fetched = _fetched(
        [
            {
                "url": "http://h/a",
                "outcome": "new",
                "content": b"<p>a</p>",
                "size_bytes": 8,
                "media_type": "text/html; charset=utf-8",
                "raw_sha256": _sha(b"<p>a</p>"),
            },
            {
                "url": "http://h/b",
                "outcome": "changed",
                "content": b"<p>b</p>",
                "size_bytes": 8,
                "raw_sha256": _sha(b"<p>b</p>"),
            },
            {"url": "http://h/c", "outcome": "not_modified", "raw_sha256": "c" * 64},
            {"url": "http://h/d", "outcome": "unchanged", "raw_sha256": "d" * 64},
            {"url": "http://h/e", "outcome": "failed", "reason": "timeout"},
            {
                "url": "http://h/feed",
                "kind": "feed",
                "outcome": "new",
                "content": b"<rss/>",
                "raw_sha256": _sha(b"<rss/>"),
                "listed": ["http://h/a"],
            },
        ]
    )
    raw = pages_as_raw(fetched)
    assert raw.schema == RAW
    assert raw.column("source_path").to_pylist() == ["http://h/a", "http://h/b"]
    assert raw.column("media_type").to_pylist()[0] == "text/html; charset=utf-8"
    state = fetched_state(fetched)
    assert state.schema == SOURCES_STATE
    assert state.column("source").to_pylist() == [
        "http://h/a",
        "http://h/b",
        "http://h/c",
        "http://h/d",
        "http://h/feed",
    ]
    known = latest_sources(state)
    assert known["http://h/feed"].listed == ("http://h/a",)


def test_the_latest_night_wins():
    history = pa.Table.from_pylist(
        [
            {"source": "a", "kind": "inbox", "raw_sha256": "1", "run_date": "2026-03-13"},
            {"source": "a", "kind": "inbox", "raw_sha256": "2", "run_date": "2026-03-14"},
        ],
        schema=SOURCES_STATE.append(pa.field("run_date", pa.string())),
    )
    assert latest_sources(history)["a"].raw_sha256 == "2"
    revisions = pa.Table.from_pylist(
        [
            {
                "source_path": "p",
                "record_index": 0,
                "doc_id": "d1",
                "raw_sha256": "1",
                "revision": 1,
                "run_date": "2026-03-13",
            },
            {
                "source_path": "p",
                "record_index": 0,
                "doc_id": "d2",
                "raw_sha256": "2",
                "revision": 2,
                "run_date": "2026-03-14",
            },
        ],
        schema=REVISIONS_STATE.append(pa.field("run_date", pa.string())),
    )
    assert latest_revisions(revisions)[("p", 0)] == PreviousRevision("d2", "2", 2)


def test_revisions_count_per_source_and_published_bytes_are_not_published_again():
    rows = [
        extracted_row("a", REPORT),
        extracted_row("b", OTHER),
        extracted_row("c", REPORT + " More."),
    ]
    deduped = dedup_batch(repaired(rows), DedupConfig(run_id=RUN_ID)).kept
    by_id = {r["doc_id"]: r for r in deduped.to_pylist()}
    previous = {
        # a: same bytes published before; b: other bytes before, at revision 2; c: never seen.
        (by_id["a"]["source_path"], 0): PreviousRevision("old-a", by_id["a"]["raw_sha256"], 1),
        (by_id["b"]["source_path"], 0): PreviousRevision("old-b", "0" * 64, 2),
    }
    revised = revise(deduped, previous)
    assert revised.unchanged == ["a"]
    got = {r["doc_id"]: (r["revision"], r["revises"]) for r in revised.kept.to_pylist()}
    assert got == {"b": (3, "old-b"), "c": (1, None)}
    state = revision_rows([revised.kept])
    assert state.schema == REVISIONS_STATE and state.num_rows == 2
