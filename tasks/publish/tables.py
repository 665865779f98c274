"""Publish: DEDUPED rows -> the curated `articles` and `duplicates` tables.

Input: DEDUPED rows of a night. Output: ARTICLES (one canonical row per cluster) and DUPLICATES
(every other copy, with `cluster_id`, `duplicate_of`, `similarity`, `method`), each row with its
`revision` (tasks/revisions.py). Every DEDUPED row lands in exactly one of the two, except a
document whose bytes an earlier night already published, which is counted as `unchanged`.
Quarantines nothing: rows reaching this stage have passed every gate. The task wrapper writes
both tables, and the night's quarantine table, as Hive partitions (`run_date=YYYY-MM-DD`), each
swapped into place whole, then records the night in `state/` (the sources it saw, the documents
it published) for the nights after it.
"""

from __future__ import annotations

from collections.abc import Callable

import pyarrow as pa
import pyarrow.compute as pc

from tasks import io
from tasks.progress import plural
from tasks.revisions import fetched_state, previous_revisions, revise, revision_rows
from tasks.schema import (
    ARTICLES,
    DUPLICATES,
    FETCHED,
    QUARANTINED,
    REVISIONS_STATE,
    SOURCES_STATE,
    conform,
    published_schema,
)


def split_curated(deduped: pa.Table) -> tuple[pa.Table, pa.Table]:
    """(articles, duplicates) of a DEDUPED table with revisions (`reingest.revise`), sorted by
    cluster then doc id."""
    canonical = deduped.column("is_canonical")
    articles = conform(deduped.filter(canonical), ARTICLES)
    duplicates = conform(deduped.filter(pc.invert(canonical)), DUPLICATES)
    return (
        articles.sort_by([("cluster_id", "ascending"), ("doc_id", "ascending")]),
        duplicates.sort_by([("cluster_id", "ascending"), ("doc_id", "ascending")]),
    )


def gather_quarantine(parts: list[pa.Table]) -> pa.Table:
    """The night's quarantine table: every stage's rejects, in stage order."""
    if not parts:
        return QUARANTINED.empty_table()
    return pa.concat_tables([conform(p, QUARANTINED) for p in parts])


def publish_night(
    layout: io.Layout, stages: list[str], log: Callable[..., None] = lambda *args: None
) -> dict[str, int]:
    revised = revise(io.read_table(layout.staged("deduped")), previous_revisions(layout))
    articles, duplicates = split_curated(revised.kept)
    quarantine = gather_quarantine(
        [
            io.read_table(layout.staged_quarantine(stage))
            for stage in stages
            if layout.staged_quarantine(stage).exists()
        ]
    )
    # Each column's meaning goes into the file (field metadata `description`, tasks/schema.py).
    io.write_partition(
        layout.data_dir, layout.curated("articles"), [articles], published_schema("articles")
    )
    io.write_partition(
        layout.data_dir, layout.curated("duplicates"), [duplicates], published_schema("duplicates")
    )
    io.write_partition(
        layout.data_dir, layout.quarantine, [quarantine], published_schema("quarantine")
    )
    # State last: a night killed before this line is published again, identically, on rerun.
    write_state(layout, articles, duplicates)
    log(
        "publish: %s, %s, %d quarantined, %d unchanged -> %s",
        plural(articles.num_rows, "article"),
        plural(duplicates.num_rows, "duplicate"),
        quarantine.num_rows,
        len(revised.unchanged),
        layout.data_dir,
    )
    return {
        "articles": articles.num_rows,
        "duplicates": duplicates.num_rows,
        "quarantined": quarantine.num_rows,
        "unchanged": len(revised.unchanged),
    }


def write_state(layout: io.Layout, articles: pa.Table, duplicates: pa.Table) -> None:
    """What later nights read of this one: the sources it saw (`state/sources`, from the staged
    `sources` and the fetched pages) and the documents it published (`state/revisions`)."""
    seen = [io.read_table(layout.staged("sources")).cast(SOURCES_STATE)]
    if layout.raw.exists():
        seen.append(fetched_state(io.read_table(layout.raw).cast(FETCHED)))
    io.write_partition(layout.data_dir, layout.state_partition("sources"), seen, SOURCES_STATE)
    io.write_partition(
        layout.data_dir,
        layout.state_partition("revisions"),
        [revision_rows([articles, duplicates])],
        REVISIONS_STATE,
    )
