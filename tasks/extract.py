"""Extract: INGESTED documents -> article text and metadata (EXTRACTED).

Input: INGESTED rows (undecoded body bytes, declared charset, url) and, as data in the config,
the site boilerplate learned on earlier nights (`tasks.sitelines`). Output: EXTRACTED rows with
`text` (paragraphs separated by one newline), `title`, `lang`, `published_at`, `date_text`,
`author`, `source_attribution`, `charset` (what the bytes were decoded as) and `stripped` (every
line removed, with its reason, so nothing disappears unexplained) and `template_tags` (what the
page's template repeats, for dedup: `tasks.boilerplate.page_tags`). HTML is parsed once; its
metadata comes from `tasks.htmlmeta`, its main text from trafilatura with link information
(`tasks.htmltext`): pages marked up as articles go through trafilatura's own extractor (fast
mode) and, when that keeps little of the page, through its whole cascade as a second opinion;
other pages through the whole cascade; its baseline extractor when all keep almost nothing. The
lead paragraph trafilatura left out is restored when the page shows it. Plain text goes straight
to the text rules (`tasks.textrules`), which clean trafilatura's output too. Language: py3langid,
per document, offline.

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
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import cache, partial
from typing import Any

import numpy as np
import pyarrow as pa
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from tasks import io
from tasks.boilerplate import page_tags, tag_hashes
from tasks.charset import decode_body
from tasks.htmlmeta import HEADER_CLOCK_CHARS, page_metadata
from tasks.htmltext import (
    PageText,
    lead_paragraph,
    mark_links,
    non_space,
    page_text,
    parse_html,
    shown_text,
    visible_chars,
    visible_text,
)
from tasks.ingest import site_of
from tasks.runner import StageResult, run_staged
from tasks.schema import EXTRACTED, Split, quarantine_rows
from tasks.sitelines import SiteBoilerplate, load_boilerplate
from tasks.textrules import CleanText, clean_lines

STAGE = "extract"

# Language identification needs a few words; below this many letters the guess is noise.
MIN_LANG_CHARS = 40
# py3langid's time grows with the sample. On 623 labelled trafilatura_eval texts (shared part,
# `benchmarks/language.py`) 400 characters were as accurate as 1,000 (0.971 vs 0.970) at 0.3 ms
# instead of 0.6; lingua was no more accurate there, 4-20 times slower and, in its high-accuracy
# mode, 1.2 GB larger.
LANG_SAMPLE_CHARS = 400
# Pages marked up as articles go through trafilatura's own extractor alone (fast mode: better on
# news pages, scrapinghub_aeb +0.003..0.006 F1 on the shared part); when it keeps fewer
# characters than this, or less than this share of the page's visible text, the page is doubtful
# and trafilatura's whole cascade runs too (it finds text the extractor misses). On the shared
# part, thresholds from 1,000 to 2,000 characters and 10% to 20% scored within 0.001 F1 on all
# three benchmarks; the low end sends half as many articles through both passes (6% of pages
# instead of 13%), so it is the one used.
SECOND_OPINION_CHARS = 1000
SECOND_OPINION_SHARE = 0.1
# Below this many characters of cleaned text, trafilatura has missed the page's text: the
# baseline extractor gets a try. 250 is trafilatura's own `min_extracted_size` default.
FALLBACK_MIN_CHARS = 250


@dataclass(frozen=True)
class ExtractConfig:
    run_id: str
    run_started_at: datetime
    max_html_chars: int = 3_000_000
    timeout_seconds: float = 30.0
    # Restore the lead paragraph trafilatura leaves out (see `tasks.htmltext.lead_paragraph`).
    recover_lead: bool = True
    # Lines each site repeats on many pages, learned on earlier nights (empty on the first).
    site_boilerplate: SiteBoilerplate = field(default_factory=SiteBoilerplate)


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


@dataclass
class _Extracted:
    cleaned: CleanText
    url: str | None
    site: str | None
    published_at: datetime | None = None
    author: str | None = None


def _extract_html(
    html: str, row: dict[str, Any], cfg: ExtractConfig, latest: datetime
) -> _Extracted:
    url = row["url"]
    site = row["site"] or site_of(url)
    tree = parse_html(html)
    top = partial(visible_text, tree, HEADER_CLOCK_CHARS)
    # Metadata before the links are marked: titles and authors must not carry markers.
    meta = page_metadata(tree, url=url, latest=latest, visible_top=top)
    if url is None and meta.url:
        # The page's own canonical URL: recorded as metadata, never fetched.
        url = meta.url
        site = site_of(url)
    marked = mark_links(tree, html)
    boilerplate = cfg.site_boilerplate.for_site(site)

    def attempt(extractor: str) -> tuple[PageText, CleanText]:
        page = page_text(tree, url, extractor, marked=marked)
        cleaned = clean_lines(
            page.text,
            title=meta.title,
            detect_headline=False,
            links=lambda line: page.links.get(line.strip(), (0.0, False)),
            boilerplate=boilerplate,
        )
        return page, cleaned

    notes = []
    if not meta.is_article:
        # Not marked up as an article (old pages, index and service pages): trafilatura's whole
        # cascade, which compares its extractor with readability and jusText, does best.
        page, cleaned = attempt("trafilatura")
    else:
        # Articles: trafilatura's own extractor alone is the more precise...
        page, cleaned = attempt("trafilatura_fast")
        shown = len(cleaned.text)
        if shown < SECOND_OPINION_CHARS or (
            non_space(cleaned.text) < SECOND_OPINION_SHARE * visible_chars(tree)
        ):
            # ...unless it kept little of the page: then the whole cascade gets a say.
            second = attempt("trafilatura")
            if second[1].text.strip():
                page, cleaned = second
                notes.append(f"extractor: trafilatura (fast pass kept {shown} characters)")
    if len(cleaned.text) < FALLBACK_MIN_CHARS:
        fallback = attempt("baseline")
        if len(fallback[1].text) > len(cleaned.text):
            notes.append(f"extractor: baseline (trafilatura kept {len(cleaned.text)} characters)")
            page, cleaned = fallback
    cleaned.stripped[:0] = notes
    if cfg.recover_lead:
        # Last use of the tree: `shown_text` may strip its scripts.
        lead = lead_paragraph(meta.description, cache(partial(shown_text, tree)), page.text)
        if lead:
            cleaned.text = f"{lead}\n{cleaned.text}" if cleaned.text else lead
    return _Extracted(
        cleaned=cleaned,
        url=url,
        site=site,
        published_at=meta.published,
        author=meta.author or cleaned.author,
    )


def extract_document(row: dict[str, Any], cfg: ExtractConfig) -> dict[str, Any]:
    """Extract one INGESTED row; returns the EXTRACTED fields or raises on a data problem."""
    text, charset = decode_body(row["body"], row["declared_charset"], row["content_type"])
    latest = row["fetched_at"] or cfg.run_started_at
    if row["content_type"] == "html":
        if len(text) > cfg.max_html_chars:
            raise _Reject("html_too_large", f"{len(text)} characters > {cfg.max_html_chars}")
        with _time_limit(cfg.timeout_seconds):
            found = _extract_html(text, row, cfg, latest)
        # Only a page whose site nothing names needs its tags: dedup groups the others by site.
        template = [] if found.site else tag_hashes(page_tags(row["body"])).view(np.int64).tolist()
    else:
        template = []
        cleaned = clean_lines(text, boilerplate=cfg.site_boilerplate.for_site(row["site"]))
        found = _Extracted(cleaned=cleaned, url=row["url"], site=row["site"], author=cleaned.author)
    cleaned = found.cleaned
    stripped = list(cleaned.stripped)
    published_at = found.published_at or cleaned.published_at
    if published_at is not None and published_at > latest:
        stripped.append(f"future_date: {published_at.date().isoformat()} is after the fetch")
        published_at = None
    if not cleaned.text.strip():
        raise _Reject(
            "empty_text", f"nothing left after extraction ({len(stripped)} lines stripped)"
        )
    return {
        "url": found.url,
        "site": found.site,
        "charset": charset,
        "title": cleaned.title,
        "text": cleaned.text,
        "lang": detect_lang(cleaned.text),
        "published_at": published_at,
        "date_text": cleaned.date_text,
        "author": found.author,
        "source_attribution": cleaned.source_attribution,
        "stripped": stripped,
        "text_length": len(cleaned.text),
        "template_tags": template,
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


def load_site_boilerplate(layout: io.Layout) -> SiteBoilerplate:
    """The site boilerplate learned on the nights before `layout.run_date` (empty at first)."""
    return load_boilerplate(layout)


# NO_CACHE: output depends on the staged input files and the state, not on these arguments.
@task(name="extract", cache_policy=NO_CACHE)
def extract_task(
    layout: io.Layout, cfg: ExtractConfig, workers: int, batch_rows: int
) -> StageResult:
    model = load_site_boilerplate(layout)
    get_run_logger().info(
        "extract: site model of %d lines over %d sites", len(model), len(model.lines)
    )
    cfg = replace(cfg, site_boilerplate=model)
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
