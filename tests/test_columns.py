"""The column dictionary: every published column has a meaning, docs/columns.md is what
tasks/schema.py generates, and the published files carry each meaning in their field metadata."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from tasks import io
from tasks.schema import (
    ARTICLES,
    COLUMN_MEANINGS,
    DUPLICATES,
    QUARANTINED,
    column_dictionary_markdown,
    published_schema,
)

ROOT = Path(__file__).resolve().parents[1]


def test_every_published_column_has_a_meaning():
    for schema in (ARTICLES, DUPLICATES, QUARANTINED):
        missing = [name for name in schema.names if name not in COLUMN_MEANINGS]
        assert missing == []
    for meaning, _unique in COLUMN_MEANINGS.values():
        assert len(meaning) > 10


def test_docs_columns_is_what_the_schema_generates():
    written = (ROOT / "docs" / "columns.md").read_text("utf-8")
    assert written == column_dictionary_markdown(), (
        "docs/columns.md is stale: regenerate it with "
        '`.venv/bin/python -c "from tasks.schema import column_dictionary_markdown as m; '
        "open('docs/columns.md', 'w').write(m())\"`"
    )


def test_a_published_file_carries_each_columns_meaning(tmp_path):
    schema = published_schema("articles")
    table = ARTICLES.empty_table()
    final = tmp_path / "curated" / "articles" / "run_date=2026-03-14"
    io.write_partition(tmp_path, final, [table], schema)
    (part,) = final.glob("*.parquet")
    read = pq.read_schema(part)
    assert read.field("cluster_id").metadata[b"description"].startswith(b"The story")
    assert read.field("doc_id").type == pa.string()
    assert read.equals(ARTICLES, check_metadata=False)
