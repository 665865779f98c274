"""Run the extract stage on a folder of files, outside any Prefect flow (wiring only).

`wiredesk extract` and `benchmarks/extraction.py` use this: every `*.html`, `*.html.gz`, `*.txt`
(and `*.txt.gz`) file under a folder goes through the ingest stage's pure function (reading,
gunzip, binary checks) and then through the extract stage's pure function with the same
`ExtractConfig` the nightly flow builds, one JSON-ready record per input file. Files either
stage sets aside get a record too, with empty text and the quarantine reason.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa

from flows.config import RunConfig
from tasks import io
from tasks.extract.page import ExtractConfig, extract_batch, load_site_boilerplate
from tasks.ingest.documents import ingest_batch

SUFFIXES = (".html.gz", ".html", ".txt.gz", ".txt")
# Files read per batch: small batches keep memory flat on big folders.
BATCH_FILES = 64


def file_id(path: str) -> str:
    """The record id: the file name without its `.html.gz`/`.html`/`.txt(.gz)` ending."""
    name = Path(path).name
    for suffix in SUFFIXES:
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return name


def list_documents(root: Path) -> list[str]:
    return [p for p in io.list_inbox(root) if p.lower().endswith(SUFFIXES)]


def extract_config(data_dir: Path | None = None, now: datetime | None = None) -> ExtractConfig:
    """The extract slice of the flow's `RunConfig`, with the site model of `data_dir` if given."""
    cfg = RunConfig.build(inbox=".", data_dir=data_dir or ".", now=now).extract
    if data_dir is not None:
        layout = io.Layout(Path(data_dir), cfg.run_started_at.date().isoformat())
        cfg = replace(cfg, site_boilerplate=load_site_boilerplate(layout))
    return cfg


def ingest_files(root: Path, paths: list[str]) -> Iterator[tuple[pa.Table, pa.Table]]:
    """(ingested rows, quarantined rows) per batch of files, in order."""
    ingest_cfg = RunConfig.build(inbox=root, data_dir=".").ingest
    for start in range(0, len(paths), BATCH_FILES):
        chunk = paths[start : start + BATCH_FILES]
        for raw in io.read_raw_batches(
            root,
            chunk,
            max_bytes=ingest_cfg.max_file_bytes,
            batch_bytes=ingest_cfg.read_batch_bytes,
        ):
            yield ingest_batch(raw, ingest_cfg)


def record(path: str, extracted: dict[str, Any] | None, reason: str | None) -> dict[str, Any]:
    row = extracted or {}
    published = row.get("published_at")
    return {
        "id": file_id(path),
        "text": row.get("text", ""),
        "title": row.get("title"),
        "published_at": published.isoformat() if published else None,
        "lang": row.get("lang"),
        "source_attribution": row.get("source_attribution"),
        "stripped": row.get("stripped") or [],
        "author": row.get("author"),
        "quarantined": reason,
    }


def extract_files(root: Path, cfg: ExtractConfig) -> Iterator[dict[str, Any]]:
    """One record per document file under `root`, through the ingest and extract stages."""
    paths = list_documents(root)
    position = {path: index for index, path in enumerate(paths)}
    for ingested, ingest_bad in ingest_files(root, paths):
        reasons: dict[str, str | None] = {}
        rows: dict[str, dict[str, Any]] = {}
        for bad in ingest_bad.to_pylist():
            reasons[bad["source_path"]] = bad["reason"]
        kept, extract_bad = extract_batch(ingested, cfg)
        for bad in extract_bad.to_pylist():
            reasons[bad["source_path"]] = bad["reason"]
        for row in kept.to_pylist():
            rows[row["source_path"]] = row
        for path in sorted(set(reasons) | set(rows), key=position.__getitem__):
            yield record(path, rows.get(path), reasons.get(path))
