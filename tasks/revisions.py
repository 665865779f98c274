"""Re-ingest: what is new or changed since the last night, and which revision each document is.

Input: the night's RAW sources (inbox files, and the pages fetch found new or changed), its
DEDUPED documents, and what earlier nights recorded under `state/` (one partition per night:
`sources`, the sha256 of every inbox file and URL seen, with HTTP validators and listings;
`revisions`, every document published). Output: the RAW rows to ingest (an inbox file whose
path and sha256 equal those of the last night that saw it is skipped: it costs a read and a
hash, nothing else), the night's SOURCES_STATE and REVISIONS_STATE rows, and the DEDUPED rows
with `revision` and `revises` set. The key of a document is its source: `source_path` (an inbox
path, or the URL of a fetched page) and `record_index`; the same key with other bytes on a later
night is revision n+1 of one document, and the earlier revision stays published in its own
night. A document whose bytes an earlier night already published (an unchanged record inside a
changed JSONL or WARC file) is not published again and is counted as `unchanged`. Only nights
before the current one are read, so running a night again sees exactly what its first run saw.
Quarantines nothing: an unchanged source is not bad, it simply is not tonight's input.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import pyarrow as pa
import pyarrow.compute as pc

from tasks import io
from tasks.schema import FETCHED, RAW, REVISIONS_STATE, SOURCES_STATE

# Outcomes of a fetched URL whose bytes are known (the state can say what the URL holds).
KNOWN_OUTCOMES = ("new", "changed", "unchanged", "not_modified")


@dataclass(frozen=True)
class Previous:
    """What the last night that saw a source (inbox path or URL) learned about it."""

    kind: str
    raw_sha256: str
    etag: str | None = None
    last_modified: str | None = None
    listed: tuple[str, ...] = ()


class PreviousRevision(NamedTuple):
    doc_id: str
    raw_sha256: str
    revision: int


# --------------------------------------------------------------------------- earlier nights


def latest_sources(history: pa.Table) -> dict[str, Previous]:
    """Source -> its latest SOURCES_STATE row, from partitions read oldest night first."""
    out: dict[str, Previous] = {}
    for row in history.to_pylist():
        out[row["source"]] = Previous(
            kind=row["kind"],
            raw_sha256=row["raw_sha256"],
            etag=row["etag"],
            last_modified=row["last_modified"],
            listed=tuple(row["listed"] or ()),
        )
    return out


def latest_revisions(history: pa.Table) -> dict[tuple[str, int], PreviousRevision]:
    out: dict[tuple[str, int], PreviousRevision] = {}
    for row in history.to_pylist():
        key = (row["source_path"], row["record_index"])
        out[key] = PreviousRevision(row["doc_id"], row["raw_sha256"], row["revision"])
    return out


def previous_sources(layout: io.Layout) -> dict[str, Previous]:
    history = io.read_history(layout.state_history("sources"), layout.run_date, SOURCES_STATE)
    return latest_sources(history)


def previous_revisions(layout: io.Layout) -> dict[tuple[str, int], PreviousRevision]:
    history = io.read_history(layout.state_history("revisions"), layout.run_date, REVISIONS_STATE)
    return latest_revisions(history)


def history_paths(layout: io.Layout) -> list[Any]:
    """The state partitions a night reads (for the resume fingerprint)."""
    return [
        path
        for name in ("sources", "revisions")
        for _, path in io.partitions_before(layout.state_history(name), layout.run_date)
    ]


# --------------------------------------------------------------------------- before ingest


@dataclass
class SourceSelection:
    """Filters RAW batches down to what is new or changed; remembers what it saw.

    Inbox files are compared with the state by path and sha256: `io.read_inbox` asks `wants`
    before it reads a file (a container is hashed whole, then streamed), and `select` does the
    same for RAW rows that hold whole files. Fetched pages pass: fetch already compared them.
    Files that could not be read pass too, so that ingest reports them again every night until
    someone fixes the file.
    """

    previous: Mapping[str, Previous]
    unchanged: int = 0
    files: int = 0
    pages: int = 0
    _seen: list[dict[str, Any]] = field(default_factory=list)

    def wants(self, source: str, raw_sha256: str) -> bool:
        """Whether the inbox file `source`, whose bytes hash to `raw_sha256`, is new or changed
        since the last night that saw it (then it is remembered as seen tonight)."""
        prev = self.previous.get(source)
        if prev is not None and prev.kind == "inbox" and prev.raw_sha256 == raw_sha256:
            self.unchanged += 1
            return False
        self._seen.append({"source": source, "kind": "inbox", "raw_sha256": raw_sha256})
        return True

    def select(self, raw: pa.Table) -> pa.Table:
        keep: list[bool] = []
        for row in raw.select(["source_path", "content", "url"]).to_pylist():
            if row["url"] is not None:
                self.pages += 1
                keep.append(True)
                continue
            self.files += 1
            if row["content"] is None:
                keep.append(True)
                continue
            sha = hashlib.sha256(row["content"]).hexdigest()
            keep.append(self.wants(row["source_path"], sha))
        return raw.filter(pa.array(keep, pa.bool_()))

    def filter(self, batches: Iterable[pa.Table]) -> Iterator[pa.Table]:
        for batch in batches:
            kept = self.select(batch)
            if kept.num_rows:
                yield kept

    def seen(self) -> pa.Table:
        """SOURCES_STATE rows of the inbox files that were new or changed tonight."""
        return pa.Table.from_pylist(self._seen, schema=SOURCES_STATE)


def pages_as_raw(fetched: pa.Table) -> pa.Table:
    """RAW rows for the new or changed pages of a FETCHED table (their URL is the path)."""
    is_page = pc.equal(fetched.column("kind"), "page")
    is_new = pc.is_in(fetched.column("outcome"), pa.array(["new", "changed"]))
    pages = fetched.filter(pc.and_(pc.and_(is_page, is_new), pc.is_valid(fetched["content"])))
    return pa.table(
        {
            "source_path": pages.column("url"),
            "size_bytes": pc.fill_null(pages.column("size_bytes"), 0),
            "content": pages.column("content"),
            "read_error": pa.nulls(pages.num_rows, pa.string()),
            "url": pages.column("url"),
            "fetched_at": pages.column("fetched_at"),
            "media_type": pages.column("media_type"),
            "record_index": pa.nulls(pages.num_rows, pa.int32()),
        }
    ).cast(RAW)


def fetched_pages(layout: io.Layout) -> Iterator[pa.Table]:
    """The night's new or changed pages, as RAW batches, from its raw partition."""
    for batch in io.iter_batches(layout.raw, batch_rows=256):
        pages = pages_as_raw(batch.cast(FETCHED))
        if pages.num_rows:
            yield pages


def fetched_state(fetched: pa.Table) -> pa.Table:
    """SOURCES_STATE rows for every URL whose bytes the night knows (fetched or 304)."""
    known = fetched.filter(
        pc.and_(
            pc.is_in(fetched.column("outcome"), pa.array(list(KNOWN_OUTCOMES))),
            pc.is_valid(fetched.column("raw_sha256")),
        )
    )
    return pa.table(
        {
            "source": known.column("url"),
            "kind": known.column("kind"),
            "raw_sha256": known.column("raw_sha256"),
            "etag": known.column("etag"),
            "last_modified": known.column("last_modified"),
            "listed": known.column("listed"),
        }
    ).cast(SOURCES_STATE)


# --------------------------------------------------------------------------- at publish


class Revised(NamedTuple):
    kept: pa.Table  # DEDUPED rows plus `revision` and `revises`
    unchanged: list[str]  # doc_ids already published on an earlier night


def revise(deduped: pa.Table, previous: Mapping[tuple[str, int], PreviousRevision]) -> Revised:
    """Number each document's revision against earlier nights; drop already published bytes."""
    keys = deduped.select(["doc_id", "source_path", "record_index", "raw_sha256"]).to_pylist()
    keep: list[bool] = []
    revisions: list[int] = []
    revises: list[str | None] = []
    unchanged: list[str] = []
    for row in keys:
        prev = previous.get((row["source_path"], row["record_index"]))
        if prev is not None and prev.raw_sha256 == row["raw_sha256"]:
            keep.append(False)
            unchanged.append(row["doc_id"])
            continue
        keep.append(True)
        revisions.append(1 if prev is None else prev.revision + 1)
        revises.append(None if prev is None else prev.doc_id)
    kept = deduped.filter(pa.array(keep, pa.bool_()))
    kept = kept.append_column("revision", pa.array(revisions, pa.int32()))
    kept = kept.append_column("revises", pa.array(revises, pa.string()))
    return Revised(kept, unchanged)


def revision_rows(tables: Iterable[pa.Table]) -> pa.Table:
    """REVISIONS_STATE rows of the documents a night published (articles and duplicates)."""
    parts = [t.select(REVISIONS_STATE.names).cast(REVISIONS_STATE) for t in tables]
    return pa.concat_tables(parts) if parts else REVISIONS_STATE.empty_table()
