"""Every Arrow schema of wiredesk, and the only place column names are defined.

Input: nothing. Output: one schema per dataset (raw files, ingested, extracted, repaired, deduped,
the curated `articles` and `duplicates` tables, and the quarantine table), plus the `Split` pair
each stage returns. Types are chosen so that every reader loads them without surprises: strings
are `string` (not `large_string`), timestamps are microseconds in UTC (Spark cannot read
nanoseconds), integers are signed, and `run_date` is never stored in a file because it is the
Hive partition key of every published dataset.
"""

from __future__ import annotations

from typing import NamedTuple

import pyarrow as pa
import pyarrow.dataset

TS = pa.timestamp("us", tz="UTC")

STRIPPED_TYPE = pa.list_(pa.string())

REPAIR_TYPE = pa.struct(
    [
        pa.field("offset", pa.int32()),
        pa.field("before", pa.string()),
        pa.field("after", pa.string()),
        pa.field("kind", pa.string()),
        pa.field("score", pa.float64()),
    ]
)


def _fields(*groups: list[pa.Field]) -> list[pa.Field]:
    out: list[pa.Field] = []
    for group in groups:
        out.extend(group)
    return out


# One file (or unreadable entry) found under the inbox, with its bytes as read; or one page
# fetched over HTTP, whose `source_path` is its URL and which also says `url`, `fetched_at` and
# the response's `media_type` (all three null for inbox files); or one document read out of a
# container file (a JSONL line, a WARC response record), whose `record_index` says which (null
# for a whole file or a page). Internal to io and ingest: never published.
RAW = pa.schema(
    [
        pa.field("source_path", pa.string(), nullable=False),
        pa.field("size_bytes", pa.int64(), nullable=False),
        pa.field("content", pa.large_binary()),
        pa.field("read_error", pa.string()),
        pa.field("url", pa.string()),
        pa.field("fetched_at", TS),
        pa.field("media_type", pa.string()),
        pa.field("record_index", pa.int32()),
    ]
)

_IDENTITY = [
    pa.field("doc_id", pa.string(), nullable=False),
    pa.field("source_path", pa.string(), nullable=False),
    pa.field("record_index", pa.int32(), nullable=False),
    pa.field("url", pa.string()),
    pa.field("site", pa.string()),
    pa.field("content_type", pa.string(), nullable=False),
    pa.field("raw_sha256", pa.string(), nullable=False),
    pa.field("fetched_at", TS),
    pa.field("run_id", pa.string(), nullable=False),
    pa.field("ingested_at", TS, nullable=False),
]

INGESTED = pa.schema(
    _fields(
        _IDENTITY,
        [
            pa.field("body", pa.large_binary(), nullable=False),
            pa.field("declared_charset", pa.string()),
            pa.field("body_bytes", pa.int64(), nullable=False),
        ],
    )
)

_EXTRACTED_FIELDS = [
    pa.field("charset", pa.string()),
    pa.field("title", pa.string()),
    pa.field("text", pa.string(), nullable=False),
    pa.field("lang", pa.string()),
    pa.field("published_at", TS),
    pa.field("date_text", pa.string()),
    pa.field("author", pa.string()),
    pa.field("source_attribution", pa.string()),
    pa.field("stripped", STRIPPED_TYPE),
    pa.field("text_length", pa.int32(), nullable=False),
    # The page's template, for dedup (`tasks.dedup.templates`): sorted distinct 64-bit hashes of its
    # opening tags with attributes (links, classes, scripts), stored as int64 (the same 64 bits:
    # some readers load no unsigned type); empty for plain text and for pages whose `site` is
    # known (the site groups them). Taken here, where the page is in hand, so that dedup does
    # not read the night's HTML again.
    pa.field("template_tags", pa.list_(pa.int64())),
]

EXTRACTED = pa.schema(_fields(_IDENTITY, _EXTRACTED_FIELDS))

_REPAIRED_FIELDS = [
    pa.field("repairs", pa.list_(REPAIR_TYPE)),
    pa.field("mojibake_score", pa.float64(), nullable=False),
]

REPAIRED = pa.schema(_fields(_IDENTITY, _EXTRACTED_FIELDS, _REPAIRED_FIELDS))

_DEDUP_FIELDS = [
    pa.field("content_sha256", pa.string(), nullable=False),
    pa.field("cluster_id", pa.string(), nullable=False),
    pa.field("is_canonical", pa.bool_(), nullable=False),
    pa.field("duplicate_of", pa.string()),
    pa.field("similarity", pa.float64()),
    pa.field("method", pa.string()),
]

DEDUPED = pa.schema(_fields(_IDENTITY, _EXTRACTED_FIELDS, _REPAIRED_FIELDS, _DEDUP_FIELDS))

# Dedup state (`data/state/dedup/<table>/run_date=D`): what later nights match against. Written
# by the dedup stage for night D only (a re-run of D replaces it), read for nights before D.
DEDUP_DOCUMENTS = pa.schema(
    [
        pa.field("doc_id", pa.string(), nullable=False),
        pa.field("cluster_id", pa.string(), nullable=False),
        # The night the cluster was first published: the oldest cluster wins when a night
        # links two of them.
        pa.field("cluster_run_date", pa.string(), nullable=False),
        pa.field("canonical_doc_id", pa.string(), nullable=False),
        pa.field("canonical_published_at", TS),
        pa.field("canonical_lang", pa.string()),
        pa.field("canonical_text_length", pa.int32(), nullable=False),
        pa.field("lang", pa.string()),
        pa.field("published_at", TS),
        pa.field("text_length", pa.int32(), nullable=False),
        pa.field("content_sha256", pa.string(), nullable=False),
        pa.field("shingles", pa.list_(pa.uint64()), nullable=False),
        # Cross-lingual keys (`tasks.dedup.crosslingual`, format in `state/dedup/format.json`) in
        # the order the text first uses them, site template keys removed.
        pa.field("anchors", pa.list_(pa.string()), nullable=False),
        # The page's site and template tags: a later night's page of the same template is not
        # linked by what the two share (tasks.dedup.templates).
        pa.field("site", pa.string()),
        pa.field("template_tags", pa.list_(pa.uint64()), nullable=False),
        pa.field("run_id", pa.string(), nullable=False),
        # Where the document came from (its URL, else inbox path and record): a later night's
        # document from the same source is a new revision of it, never a copy of it.
        pa.field("source", pa.string()),
    ]
)

# One row per candidate key of a document (sampled shingle or exact-text hash), sorted by
# `bucket` so that a night joins the history one bucket at a time (row-group pruning).
DEDUP_KEYS = pa.schema(
    [
        pa.field("bucket", pa.int32(), nullable=False),
        pa.field("key", pa.uint64(), nullable=False),
        pa.field("doc_id", pa.string(), nullable=False),
        pa.field("cluster_id", pa.string(), nullable=False),
    ]
)

# Clusters that a later night found to be one report: `cluster_id` now belongs with
# `merged_into` (both stay as published).
DEDUP_MERGES = pa.schema(
    [
        pa.field("cluster_id", pa.string(), nullable=False),
        pa.field("merged_into", pa.string(), nullable=False),
        pa.field("via_doc_id", pa.string(), nullable=False),
        pa.field("run_id", pa.string(), nullable=False),
    ]
)

# A copy that arrived after its cluster was published and would have been the better canonical
# (earlier publication, original language, more complete): recorded, history left as it is.
DEDUP_CANONICAL = pa.schema(
    [
        pa.field("cluster_id", pa.string(), nullable=False),
        pa.field("published_canonical", pa.string(), nullable=False),
        pa.field("preferred_canonical", pa.string(), nullable=False),
        pa.field("reason", pa.string(), nullable=False),
        pa.field("run_id", pa.string(), nullable=False),
    ]
)

# Curated tables: what downstream readers load. Column order is the contract's order.
_CURATED_COLUMNS = (
    "doc_id", "source_path", "record_index", "url", "site", "title", "text", "lang",
    "published_at", "date_text", "author", "source_attribution", "cluster_id", "content_sha256",
    "raw_sha256", "content_type", "charset", "text_length", "mojibake_score", "stripped",
    "repairs", "fetched_at", "run_id", "ingested_at",
)  # fmt: skip
# The same fields (types, nullability) as in the stage datasets, in the contract's order.
_CURATED_COMMON = [DEDUPED.field(name) for name in _CURATED_COLUMNS]

# Re-ingest (tasks/revisions.py): the same source (URL, or inbox path and record) seen with other
# bytes on a later night is a new revision of one document, not a copy of it. `revision` counts
# from 1; `revises` is the doc_id of the revision it replaces (published on an earlier night).
_REVISION_FIELDS = [
    pa.field("revision", pa.int32(), nullable=False),
    pa.field("revises", pa.string()),
]

ARTICLES = pa.schema(_fields(_CURATED_COMMON, _REVISION_FIELDS))

DUPLICATES = pa.schema(
    _fields(
        _CURATED_COMMON,
        _REVISION_FIELDS,
        [
            pa.field("duplicate_of", pa.string(), nullable=False),
            pa.field("similarity", pa.float64(), nullable=False),
            pa.field("method", pa.string(), nullable=False),
        ],
    )
)

QUARANTINED = pa.schema(
    [
        pa.field("doc_id", pa.string()),
        pa.field("source_path", pa.string(), nullable=False),
        pa.field("record_index", pa.int32()),
        pa.field("url", pa.string()),
        pa.field("stage", pa.string(), nullable=False),
        pa.field("reason", pa.string(), nullable=False),
        pa.field("detail", pa.string()),
        pa.field("expectation", pa.string()),
        pa.field("raw_sha256", pa.string()),
        pa.field("size_bytes", pa.int64()),
        pa.field("run_id", pa.string(), nullable=False),
        pa.field("quarantined_at", TS, nullable=False),
    ]
)

# data/state/vocabulary/run_date=D: in how many of night D's documents each case-folded word
# occurs (the repair stage protects words seen in several documents, over the nights).
VOCABULARY = pa.schema(
    [
        pa.field("word", pa.string(), nullable=False),
        pa.field("docs", pa.int32(), nullable=False),
    ]
)

# --------------------------------------------------------------------------- sources and state
# Written by tasks/fetch/crawl.py and tasks/revisions.py; none of these is a curated table.

# One HTTP exchange of a night's fetch (`raw/run_date=D`, zstd-compressed Parquet): what was asked,
# what came back, and the bytes of every new or changed page and of every feed and sitemap, so a
# night can be processed again without the network.
FETCHED = pa.schema(
    [
        pa.field("url", pa.string(), nullable=False),
        # The feed or sitemap that listed this URL; null for a source given directly.
        pa.field("listed_by", pa.string()),
        pa.field("kind", pa.string(), nullable=False),  # page, feed, sitemap, sitemap-index
        pa.field("status", pa.int32()),  # of the final response; null when none came back
        # new, changed, unchanged (200, same bytes), not_modified (304), failed
        pa.field("outcome", pa.string(), nullable=False),
        pa.field("reason", pa.string()),
        pa.field("detail", pa.string()),
        pa.field("etag", pa.string()),
        pa.field("last_modified", pa.string()),
        pa.field("media_type", pa.string()),
        pa.field("raw_sha256", pa.string()),
        pa.field("size_bytes", pa.int64()),
        pa.field("attempts", pa.int32(), nullable=False),
        pa.field("fetched_at", TS, nullable=False),
        # Feeds and sitemaps: the URLs they listed (on a 304, the list the last 200 gave).
        pa.field("listed", pa.list_(pa.string())),
        pa.field("content", pa.large_binary()),
    ]
)

# What a night learned about each source (`state/sources/run_date=D`): an inbox file (`kind`
# inbox, `source` its inbox path) or a URL, with the sha256 of its bytes, the HTTP validators for
# the next conditional request, and for feeds and sitemaps the page URLs they listed.
SOURCES_STATE = pa.schema(
    [
        pa.field("source", pa.string(), nullable=False),
        pa.field("kind", pa.string(), nullable=False),
        pa.field("raw_sha256", pa.string(), nullable=False),
        pa.field("etag", pa.string()),
        pa.field("last_modified", pa.string()),
        pa.field("listed", pa.list_(pa.string())),
    ]
)

# Every document a night published (`state/revisions/run_date=D`), so that later nights number
# revisions and skip documents whose bytes they have already published.
REVISIONS_STATE = pa.schema(
    [
        pa.field("source_path", pa.string(), nullable=False),
        pa.field("record_index", pa.int32(), nullable=False),
        pa.field("doc_id", pa.string(), nullable=False),
        pa.field("raw_sha256", pa.string(), nullable=False),
        pa.field("revision", pa.int32(), nullable=False),
    ]
)

# Dataset name -> schema, for the validation step and the suite tests.
DATASETS: dict[str, pa.Schema] = {
    "ingested": INGESTED,
    "extracted": EXTRACTED,
    "repaired": REPAIRED,
    "deduped": DEDUPED,
    "articles": ARTICLES,
    "duplicates": DUPLICATES,
    "quarantined": QUARANTINED,
}

# --------------------------------------------------------------------------- quality metrics
# Text-aware metric columns (tasks/validate/metrics.py), computed by the validation step from `text`
# and gated by the suites of the text datasets; they are not stored in staged or curated files.
QUALITY_METRICS = pa.schema(
    [
        pa.field("word_count", pa.int32(), nullable=False),
        pa.field("replacement_rate", pa.float64(), nullable=False),
        pa.field("boilerplate_hits", pa.int32(), nullable=False),
    ]
)
TEXT_DATASETS = ("extracted", "repaired", "deduped")


def validated_schema(dataset: str) -> pa.Schema:
    """What the suite of `dataset` sees: its schema, plus QUALITY_METRICS for text datasets."""
    schema = DATASETS[dataset]
    if dataset in TEXT_DATASETS:
        for field in QUALITY_METRICS:
            schema = schema.append(field)
    return schema


# Dedup state table name -> schema (not validated by GX: internal to the dedup stage).
DEDUP_STATE: dict[str, pa.Schema] = {
    "documents": DEDUP_DOCUMENTS,
    "keys": DEDUP_KEYS,
    "merges": DEDUP_MERGES,
    "canonical": DEDUP_CANONICAL,
}


class Split(NamedTuple):
    """What every stage returns: rows it keeps and rows it sets aside (QUARANTINED schema)."""

    kept: pa.Table
    quarantined: pa.Table


def empty(schema: pa.Schema) -> pa.Table:
    return schema.empty_table()


def conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """Select and cast `table` to exactly `schema` (column order, types); missing columns fail."""
    missing = [name for name in schema.names if name not in table.column_names]
    if missing:
        raise KeyError(f"table lacks columns {missing} of the target schema")
    return table.select(schema.names).cast(schema)


def quarantine_rows(
    rows: list[dict[str, object]], *, stage: str, run_id: str, at: object
) -> pa.Table:
    """Build a QUARANTINED table from partial row dicts (identity fields, `reason`, `detail`)."""
    cols: dict[str, list[object]] = {name: [] for name in QUARANTINED.names}
    for row in rows:
        for name in QUARANTINED.names:
            if name == "stage":
                cols[name].append(stage)
            elif name == "run_id":
                cols[name].append(run_id)
            elif name == "quarantined_at":
                cols[name].append(at)
            else:
                cols[name].append(row.get(name))
    return pa.Table.from_pydict(cols, schema=QUARANTINED)


# --------------------------------------------------------------------------- column dictionary

# What each published column means, and within what it is unique (None: not a key). The
# dictionary in docs/columns.md is generated from this (`column_dictionary_markdown`; a test
# holds the two equal), and publish writes each meaning into the Parquet field's metadata
# (`description`), so a reader can ask the file.
COLUMN_MEANINGS: dict[str, tuple[str, str | None]] = {
    "doc_id": (
        "Stable id of one document version: sha256 of source_path, record_index and raw_sha256 "
        "(24 hex); the same bytes at the same place get the same id on every night",
        "articles + duplicates of a night",
    ),
    "source_path": (
        "Inbox path (relative to the inbox) or fetched URL the document came from",
        None,
    ),
    "record_index": (
        "Which record of a container file (JSONL line, WARC response); 0 for a whole file",
        None,
    ),
    "url": ("The page's URL, when known (fetched pages, JSONL/WARC records that carry one)", None),
    "site": ("Host of the URL without `www.`, when known", None),
    "title": ("Title from the page's metadata or markup", None),
    "text": ("Main text after extraction and repair; paragraphs separated by one newline", None),
    "lang": ("ISO 639-1 language of the text (py3langid), null when too short to tell", None),
    "published_at": ("Publication time from the page's metadata or dateline, UTC", None),
    "date_text": ("The date as the page wrote it, when one was found", None),
    "author": ("Author from metadata or a byline line", None),
    "source_attribution": (
        "Wire or agency credit line (e.g. `(Reuters)`), moved out of the text",
        None,
    ),
    "cluster_id": (
        "The story: every copy of one report, in any language, shares it; it never changes "
        "meaning once published (a later merge is recorded in state/dedup/merges)",
        "articles of a night",
    ),
    "content_sha256": ("sha256 of the normalised text (exact copies share it)", None),
    "raw_sha256": ("sha256 of the document's bytes as read", None),
    "content_type": ("html or text: how the bytes were read", None),
    "charset": ("The encoding the bytes were decoded as", None),
    "text_length": ("Characters in `text`", None),
    "mojibake_score": (
        "Share of the text that still looks like broken encoding after repair (0 clean)",
        None,
    ),
    "stripped": ("Every line removed from the extracted text, as `reason: line`", None),
    "repairs": (
        "Every change repair made: offset, before, after, kind (encoding, whitespace, typo), score",
        None,
    ),
    "fetched_at": ("When the page was fetched, UTC; null for inbox files", None),
    "run_id": ("The run that started the night (kept when a killed night is resumed)", None),
    "ingested_at": ("When that run started, UTC", None),
    "revision": ("1 for the first version of a source; n for its n-th changed version", None),
    "revises": ("doc_id of the revision this one replaces, published on an earlier night", None),
    "duplicate_of": (
        "doc_id of the copy it was linked to (its cluster's canonical, or the copy it matched)",
        None,
    ),
    "similarity": (
        "Score of the link: containment of shared shingles (near), cosine of cross-lingual "
        "keys (translation), 1.0 (exact)",
        None,
    ),
    "method": ("How the copy was found: exact, near or translation", None),
    "stage": ("The stage that set the document aside", None),
    "reason": ("Why, as a snake_case code listed in docs/ (one page per stage)", None),
    "detail": ("What was seen: a size, a line, an exception's class and message", None),
    "expectation": ("The data-quality expectation that caught it, when a check did", None),
    "size_bytes": ("Size of the input in bytes, when known", None),
    "quarantined_at": ("When the run that set it aside started, UTC", None),
}
# How a reader gets `run_date` (the Hive partition key, never stored in the files) as a date
# with pyarrow and pandas; DuckDB (`hive_partitioning = true`) and Polars
# (`hive_partitioning=True`) read it as a date by themselves.
RUN_DATE_PARTITIONING = pa.dataset.partitioning(
    pa.schema([pa.field("run_date", pa.date32())]), flavor="hive"
)

PUBLISHED_TABLES = {
    "articles": "one canonical row per cluster (story) a night published",
    "duplicates": "every other copy a night published, linked to its cluster",
    "quarantine": "every input a night could not use, with the stage and reason",
}


def published_schema(table: str) -> pa.Schema:
    """The schema of a published table, each field's meaning in its metadata."""
    schema = {"articles": ARTICLES, "duplicates": DUPLICATES, "quarantine": QUARANTINED}[table]
    return pa.schema([f.with_metadata({"description": COLUMN_MEANINGS[f.name][0]}) for f in schema])


def column_dictionary_markdown() -> str:
    """docs/columns.md: every published column with its type, nullability, meaning and keys."""
    out = [
        "# Published columns",
        "",
        "Generated from `tasks/schema.py` (`COLUMN_MEANINGS`); the same meanings are in each",
        "Parquet field's metadata (`description`). Every table is Hive-partitioned by `run_date`",
        "(`curated/<table>/run_date=YYYY-MM-DD/`), which is not stored in the files. Every reader",
        "gets it as a date: DuckDB with `read_parquet('curated/articles/*/*.parquet',",
        "hive_partitioning = true)`, Polars with `pl.scan_parquet('curated/articles/*/*.parquet',",
        "hive_partitioning=True)`, pyarrow and pandas when given the partitioning",
        "(`tasks.schema.RUN_DATE_PARTITIONING`):",
        "",
        "```python",
        "import pyarrow as pa, pyarrow.dataset as ds, pandas as pd",
        'run_date = ds.partitioning(pa.schema([("run_date", pa.date32())]), flavor="hive")',
        'articles = ds.dataset("data/curated/articles", format="parquet", partitioning=run_date)',
        'frame = pd.read_parquet("data/curated/articles", partitioning=run_date)',
        "```",
        "",
        "Without it pyarrow reads `run_date` as a string and pandas as a category.",
    ]
    for table, what in PUBLISHED_TABLES.items():
        out += [
            "",
            f"## `{table}`: {what}",
            "",
            "| column | type | nullable | meaning | unique within |",
        ]
        out.append("| --- | --- | --- | --- | --- |")
        for field in published_schema(table):
            meaning, unique = COLUMN_MEANINGS[field.name]
            if table == "quarantine" and field.name == "doc_id":
                unique = None
            out.append(
                f"| `{field.name}` | `{field.type}` | {'yes' if field.nullable else 'no'} "
                f"| {meaning} | {unique or ''} |"
            )
    return "\n".join(out) + "\n"
