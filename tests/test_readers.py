"""Readers agree on the published tables: pyarrow, DuckDB, Polars and pandas load the same rows
from a multi-night `curated/articles`, and each reads `run_date` (the Hive partition key, not
stored in the files) as a date when given the partitioning docs/columns.md shows."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.dataset as ds

from tasks import io
from tasks.schema import ARTICLES, RUN_DATE_PARTITIONING, published_schema
from tests.builders import extracted_row

NIGHTS = ("2026-03-13", "2026-03-14")


def _articles(night: str, n: int) -> pa.Table:
    rows = []
    for i in range(n):
        row = extracted_row(f"{night}-{i}", f"Report {i} of night {night}.")
        row.update(
            repairs=[],
            mojibake_score=0.0,
            content_sha256=f"sha-{night}-{i}",
            cluster_id=f"c-{night}-{i}",
            revision=1,
            revises=None,
        )
        rows.append(row)
    return pa.Table.from_pylist(rows, schema=ARTICLES)


def _curated(root: Path) -> Path:
    for k, night in enumerate(NIGHTS):
        final = root / "curated" / "articles" / f"run_date={night}"
        io.write_partition(root, final, [_articles(night, 2 + k)], published_schema("articles"))
    return root / "curated" / "articles"


def test_every_reader_gets_the_same_rows_and_run_date_as_a_date(tmp_path):
    articles = _curated(tmp_path)
    glob = str(articles / "*" / "*.parquet")

    arrow = ds.dataset(articles, format="parquet", partitioning=RUN_DATE_PARTITIONING).to_table()
    assert arrow.schema.field("run_date").type == pa.date32()
    frame = pd.read_parquet(articles, partitioning=RUN_DATE_PARTITIONING)
    duck = duckdb.sql(f"select * from read_parquet('{glob}', hive_partitioning = true)")
    polars = pl.scan_parquet(glob, hive_partitioning=True).collect()

    assert dict(zip(duck.columns, duck.types, strict=True))["run_date"] == "DATE"
    assert polars.schema["run_date"] == pl.Date
    assert isinstance(frame["run_date"].iloc[0], dt.date)

    def rows(pairs: list[tuple[str, object]]) -> list[tuple[str, str]]:
        return sorted((doc, str(night)) for doc, night in pairs)

    expected = rows(zip(arrow["doc_id"].to_pylist(), arrow["run_date"].to_pylist(), strict=True))
    assert len(expected) == 5
    assert rows(duck.select("doc_id, run_date").fetchall()) == expected
    assert rows(polars.select("doc_id", "run_date").rows()) == expected
    assert rows(list(zip(frame["doc_id"], frame["run_date"], strict=True))) == expected
