"""Extract: INGESTED documents -> article text and metadata (EXTRACTED).

Input: INGESTED rows (undecoded body bytes, declared charset, url). Output: EXTRACTED rows with
`text` (paragraphs separated by one newline), `title`, `lang`, `published_at`, `date_text`,
`author`, `source_attribution`, `charset` (what the bytes were decoded as) and `stripped` (every
line removed by the text rules, with its reason). HTML goes through trafilatura (its
per-process dedup cache stays off, so output never depends on what a process saw before); plain
text goes straight to the text rules (`tasks.textrules`), which then also clean trafilatura's
output.

Quarantined, with these reasons:
- `html_too_large`: more HTML than `max_html_chars` (parsing cost grows with it; a page that big
  is not an article).
- `extraction_timeout`: the extractor ran longer than `timeout_seconds` on one document.
- `extraction_failed`: the HTML parser raised on this document (malformed beyond repair).
- `empty_text`: no article text left after extraction and junk removal.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from tasks import io
from tasks.charset import decode_body
from tasks.ingest import site_of
from tasks.runner import StageResult, run_staged
from tasks.schema import EXTRACTED, Split, quarantine_rows
from tasks.textrules import clean_lines

STAGE = "extract"

# Language identification needs a few words; below this many letters the guess is noise.
MIN_LANG_CHARS = 40
LANG_SAMPLE_CHARS = 3000


@dataclass(frozen=True)
class ExtractConfig:
    run_id: str
    run_started_at: datetime
    max_html_chars: int = 3_000_000
    timeout_seconds: float = 30.0


class ExtractionTimeout(Exception):
    pass


@contextmanager
def _time_limit(seconds: float) -> Iterator[None]:
    """SIGALRM-based limit; a no-op off the main thread, where signals cannot be handled."""
    if seconds <= 0 or threading.current_thread() is not threading.main_thread():
        yield
        return

    def _raise(signum: int, frame: Any) -> None:
        raise ExtractionTimeout(f"over {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, _raise)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def detect_lang(text: str) -> str | None:
    """ISO 639-1 code of the text's language (py3langid, offline), None when too short."""
    sample = text[:LANG_SAMPLE_CHARS]
    if sum(ch.isalpha() for ch in sample) < MIN_LANG_CHARS:
        return None
    import py3langid

    lang, _score = py3langid.classify(sample)
    return str(lang)


def _as_datetime(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _extract_html(html: str, url: str | None, latest: datetime) -> dict[str, Any]:
    import trafilatura

    doc = trafilatura.bare_extraction(
        html,
        url=url,
        with_metadata=True,
        include_comments=False,
        include_tables=True,
        # trafilatura's LRU dedup cache makes output depend on what the process saw before.
        deduplicate=False,
        # No extensive search: it turns a "© 2026" footer into 2026-01-01. max_date is the
        # fetch time, not "now", so the same page gives the same date on any night.
        date_extraction_params={
            "extensive_search": False,
            "original_date": True,
            "max_date": latest.strftime("%Y-%m-%d"),
        },
    )
    if doc is None:
        return {}
    return {
        "text": getattr(doc, "text", None) or "",
        "title": getattr(doc, "title", None),
        "date": getattr(doc, "date", None),
        "author": getattr(doc, "author", None),
        "url": getattr(doc, "url", None),
        "sitename": getattr(doc, "sitename", None),
    }


def extract_document(row: dict[str, Any], cfg: ExtractConfig) -> dict[str, Any]:
    """Extract one INGESTED row; returns the EXTRACTED fields or raises on a data problem."""
    text, charset = decode_body(row["body"], row["declared_charset"], row["content_type"])
    title = author = None
    url, site = row["url"], row["site"]
    published_at: datetime | None = None
    stripped: list[str] = []
    latest = row["fetched_at"] or cfg.run_started_at
    if row["content_type"] == "html":
        if len(text) > cfg.max_html_chars:
            raise _Reject("html_too_large", f"{len(text)} characters > {cfg.max_html_chars}")
        with _time_limit(cfg.timeout_seconds):
            meta = _extract_html(text, row["url"], latest)
        title = meta.get("title") or None
        author = meta.get("author") or None
        published_at = _as_datetime(meta.get("date"))
        if url is None and meta.get("url"):
            # The page's own canonical URL: recorded as metadata, never fetched.
            url = meta["url"]
            site = site_of(url)
        cleaned = clean_lines(meta.get("text", ""), title=title, detect_headline=False)
    else:
        cleaned = clean_lines(text)
        title = cleaned.title
    stripped.extend(cleaned.stripped)
    published_at = published_at or cleaned.published_at
    if published_at is not None and published_at > latest:
        stripped.append(f"future_date: {published_at.date().isoformat()} is after the fetch")
        published_at = None
    if not cleaned.text.strip():
        raise _Reject(
            "empty_text", f"nothing left after extraction ({len(stripped)} lines stripped)"
        )
    return {
        "url": url,
        "site": site,
        "charset": charset,
        "title": title,
        "text": cleaned.text,
        "lang": detect_lang(cleaned.text),
        "published_at": published_at,
        "date_text": cleaned.date_text,
        "author": author,
        "source_attribution": cleaned.source_attribution,
        "stripped": stripped,
        "text_length": len(cleaned.text),
    }


class _Reject(Exception):
    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


_IDENTITY_COLUMNS = [
    "doc_id",
    "source_path",
    "record_index",
    "url",
    "site",
    "content_type",
    "raw_sha256",
    "fetched_at",
    "run_id",
    "ingested_at",
]


def extract_batch(batch: pa.Table, cfg: ExtractConfig) -> Split:
    """EXTRACTED rows for an INGESTED batch; see the module docstring for quarantine reasons."""
    rows: list[dict[str, Any]] = []
    bad: list[dict[str, Any]] = []
    for row in batch.to_pylist():
        try:
            fields = extract_document(row, cfg)
        except _Reject as rej:
            bad.append(_bad(row, rej.reason, rej.detail))
            continue
        except ExtractionTimeout as exc:
            bad.append(_bad(row, "extraction_timeout", str(exc)))
            continue
        except (ValueError, TypeError, AttributeError, LookupError, RecursionError) as exc:
            # lxml and trafilatura raise these on markup they cannot parse; the document is
            # bad data, not a bug in this stage.
            bad.append(_bad(row, "extraction_failed", f"{type(exc).__name__}: {exc}"[:500]))
            continue
        out = {name: row[name] for name in _IDENTITY_COLUMNS}
        out.update(fields)
        rows.append(out)
    kept = pa.Table.from_pylist(rows, schema=EXTRACTED)
    return Split(kept, quarantine_rows(bad, stage=STAGE, run_id=cfg.run_id, at=cfg.run_started_at))


def _bad(row: dict[str, Any], reason: str, detail: str) -> dict[str, Any]:
    return {
        "doc_id": row["doc_id"],
        "source_path": row["source_path"],
        "record_index": row["record_index"],
        "url": row["url"],
        "raw_sha256": row["raw_sha256"],
        "size_bytes": row["body_bytes"],
        "reason": reason,
        "detail": detail,
    }


# --------------------------------------------------------------------------- Prefect task


# NO_CACHE: output depends on the staged input files, not on these arguments.
@task(name="extract", cache_policy=NO_CACHE)
def extract_task(
    layout: io.Layout, cfg: ExtractConfig, workers: int, batch_rows: int
) -> StageResult:
    return run_staged(
        stage=STAGE,
        source="ingested",
        dataset="extracted",
        fn=extract_batch,
        cfg=cfg,
        kept_schema=EXTRACTED,
        layout=layout,
        workers=workers,
        batch_rows=batch_rows,
        progress=get_run_logger().info,
    )
