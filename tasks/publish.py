"""Publish: DEDUPED rows -> the curated `articles` and `duplicates` tables.

Input: DEDUPED rows of a night. Output: ARTICLES (one canonical row per cluster) and DUPLICATES
(every other copy, with `cluster_id`, `duplicate_of`, `similarity`, `method`). Every DEDUPED row
lands in exactly one of the two. Quarantines nothing: rows reaching this stage have passed every
gate. The task wrapper writes both tables, and the night's quarantine table, as Hive partitions
(`run_date=YYYY-MM-DD`), each swapped into place whole.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from tasks import io
from tasks.schema import ARTICLES, DUPLICATES, QUARANTINED, conform


def split_curated(deduped: pa.Table) -> tuple[pa.Table, pa.Table]:
    """(articles, duplicates) of a DEDUPED table, sorted by cluster then doc id."""
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


# --------------------------------------------------------------------------- Prefect task


# NO_CACHE: publishing is a side effect on the curated tables; it must run every time.
@task(name="publish", cache_policy=NO_CACHE)
def publish_task(layout: io.Layout, stages: list[str]) -> dict[str, int]:
    logger = get_run_logger()
    articles, duplicates = split_curated(io.read_table(layout.staged("deduped")))
    quarantine = gather_quarantine(
        [
            io.read_table(layout.staged_quarantine(stage))
            for stage in stages
            if layout.staged_quarantine(stage).exists()
        ]
    )
    io.write_partition(layout.data_dir, layout.curated("articles"), [articles], ARTICLES)
    io.write_partition(layout.data_dir, layout.curated("duplicates"), [duplicates], DUPLICATES)
    io.write_partition(layout.data_dir, layout.quarantine, [quarantine], QUARANTINED)
    logger.info(
        "publish: %d articles, %d duplicates, %d quarantined -> %s",
        articles.num_rows,
        duplicates.num_rows,
        quarantine.num_rows,
        layout.data_dir,
    )
    return {
        "articles": articles.num_rows,
        "duplicates": duplicates.num_rows,
        "quarantined": quarantine.num_rows,
    }
