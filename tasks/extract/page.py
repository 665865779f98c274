"""Extract: INGESTED documents -> article text and metadata (EXTRACTED).

Input: INGESTED rows (undecoded body bytes, declared charset, url) and, as data in the config,
the site boilerplate learned on earlier nights (`tasks.extract.sitelines`). Output: EXTRACTED rows
with `text` (paragraphs separated by one newline), `title`, `lang`, `published_at`, `date_text`,
`author`, `source_attribution`, `charset` (what the bytes were decoded as) and `stripped` (every
line removed, with its reason, so nothing disappears unexplained) and `template_tags` (what the
page's template repeats, for dedup: `tasks.hashing.page_tags`). HTML is parsed once; its
metadata comes from `tasks.extract.metadata`, its main text from trafilatura with link information
(`tasks.extract.maintext`): pages marked up as articles go through trafilatura's own extractor (fast
mode) and, when that keeps little of the page, through its whole cascade as a second opinion;
other pages through the whole cascade; its baseline extractor when all keep almost nothing. The
lead paragraph trafilatura left out is restored when the page shows it. Plain text goes straight
to the text rules (`tasks.extract.linerules`), which clean trafilatura's output too. Language:
py3langid, per document, offline.

Quarantined, with these reasons (one bad document never stops the batch, nor the night):
- `html_too_large`: more HTML than `max_html_chars` (parsing cost grows with it; a page that big
  is not an article).
- `html_too_complex`: a tag with more than `max_tag_attributes` attributes or more than
  `max_tags` tags, found by a cheap scan before any parser sees the page (parsing cost grows
  faster than the page there: see the caps below).
- `extraction_timeout`: one document ran longer than `timeout_seconds`: stopped by an alarm in
  Python code, or, past `KILL_GRACE_SECONDS` more, by the stage's parent, which kills the worker
  (C code such as lxml's parser cannot be interrupted otherwise; `tasks.runner`).
- `worker_crashed`: the worker process died on this document, also when it ran alone.
- `extraction_failed`: the parser or an extractor raised on this document; `detail` has the
  exception's class and message. (A bug that made every document fail would still stop the
  night: the extracted suite checks the share of input files that give any text.)
- `empty_text`: no article text left after extraction and junk removal (also a page that is only
  a comment, a doctype or whitespace).
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import cache, partial
from typing import Any

import numpy as np
import pyarrow as pa

from tasks import io
from tasks.extract.charset import decode_body
from tasks.extract.linerules import CleanText, clean_lines
from tasks.extract.maintext import (
    PageText,
    lead_paragraph,
    mark_links,
    markup_shape,
    non_space,
    page_text,
    parse_html,
    shown_text,
    visible_chars,
    visible_text,
)
from tasks.extract.metadata import HEADER_CLOCK_CHARS, page_metadata
from tasks.extract.sitelines import SiteBoilerplate, load_boilerplate
from tasks.hashing import page_tags, tag_hashes
from tasks.ingest.documents import site_of
from tasks.runner import Share, StageResult, Supervision, run_staged
from tasks.schema import EXTRACTED, Split, quarantine_rows

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
# Markup caps, checked by `tasks.extract.maintext.markup_shape` before lxml sees a page. libxml2
# compares each attribute of a tag with every earlier one, in C where no alarm reaches: one tag with
# 20,000 attributes took 0.6 s to parse here, 40,000 took 3.3 s (issue 18: 675 s, 2.9 MB).
# trafilatura's time grows with the tags: 100,000 `<span>`s (1.4 MB) took 5.8 s to extract. On
# the 2,046 pages of ../shared/data/boilerplate the scan finds at most 204 attributes on one tag
# (lxml counts 64 there: the scan overestimates broken quoting) and 19,629 `<` (10,112 elements,
# siegfried-marcus-berufsschule.at): the caps are 5 and 10 times those, so no real page is refused.
MAX_TAG_ATTRIBUTES = 1_000
MAX_TAGS = 200_000
# The stage's parent kills a worker this long after a document's own `timeout_seconds`: the alarm
# stops Python code at the limit and gets this long to unwind; what it cannot stop (C code) ends
# here.
KILL_GRACE_SECONDS = 1.0


@dataclass(frozen=True)
class ExtractConfig:
    run_id: str
    run_started_at: datetime
    max_html_chars: int = 3_000_000
    max_tag_attributes: int = MAX_TAG_ATTRIBUTES
    max_tags: int = MAX_TAGS
    # Per document (see `extraction_timeout`); 0: none.
    timeout_seconds: float = 30.0
    # Restore the lead paragraph trafilatura leaves out (see
    # `tasks.extract.maintext.lead_paragraph`).
    recover_lead: bool = True
    # Lines each site repeats on many pages, learned on earlier nights (empty on the first).
    site_boilerplate: SiteBoilerplate = field(default_factory=SiteBoilerplate)


class ExtractionTimeout(BaseException):
    """Raised by the alarm. Not an `Exception`: trafilatura catches those around its extractors
    (issue 18: a page with 100,000 attributes on one tag ran 175-210 s past a 30 s limit)."""


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
        shape = markup_shape(text, cfg.max_tag_attributes)
        if shape.attributes > cfg.max_tag_attributes:
            raise _Reject(
                "html_too_complex", f"a tag with over {cfg.max_tag_attributes} attributes"
            )
        if shape.tags > cfg.max_tags:
            raise _Reject("html_too_complex", f"{shape.tags} tags > {cfg.max_tags}")
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
    inputs: list[dict[str, Any]] = []
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
        except Exception as exc:
            # lxml, trafilatura and htmldate raise on markup they cannot handle (ParserError,
            # ValueError, RecursionError, ...): that document is bad data, the batch goes on.
            bad.append(_bad(row, "extraction_failed", error_detail(exc)))
            continue
        out = {name: row[name] for name in _IDENTITY_COLUMNS}
        out.update(fields)
        rows.append(out)
        inputs.append(row)
    kept = table_of_rows(rows, inputs, EXTRACTED, bad, reason="extraction_failed")
    return Split(kept, quarantine_rows(bad, stage=STAGE, run_id=cfg.run_id, at=cfg.run_started_at))


def error_detail(exc: BaseException) -> str:
    """`Class: message` of an exception, short enough for a quarantine row."""
    return f"{type(exc).__name__}: {exc}"[:500]


def table_of_rows(
    rows: list[dict[str, Any]],
    inputs: list[dict[str, Any]],
    schema: pa.Schema,
    bad: list[dict[str, Any]],
    *,
    reason: str,
) -> pa.Table:
    """`rows` as a table of `schema`; a row Arrow refuses (a value out of its type's range)
    goes to `bad` as `reason`, with its input row `inputs[i]`, and the others are kept."""
    try:
        return pa.Table.from_pylist(rows, schema=schema)
    except (pa.ArrowException, ValueError, TypeError, OverflowError):
        pass
    good: list[dict[str, Any]] = []
    for out, row in zip(rows, inputs, strict=True):
        try:
            pa.Table.from_pylist([out], schema=schema)
        except (pa.ArrowException, ValueError, TypeError, OverflowError) as exc:
            bad.append(_bad(row, reason, error_detail(exc)))
            continue
        good.append(out)
    return pa.Table.from_pylist(good, schema=schema)


def _bad(row: dict[str, Any], reason: str, detail: str) -> dict[str, Any]:
    return {
        "doc_id": row["doc_id"],
        "source_path": row["source_path"],
        "record_index": row["record_index"],
        "url": row["url"],
        "raw_sha256": row["raw_sha256"],
        "size_bytes": row.get("body_bytes"),
        "reason": reason,
        "detail": detail,
    }


def supervision(cfg: ExtractConfig) -> Supervision:
    """How the stage's parent watches each document (`tasks.runner`): killed past the limit."""
    return Supervision(
        deadline=cfg.timeout_seconds + KILL_GRACE_SECONDS if cfg.timeout_seconds > 0 else None,
        reject=partial(_rejected, cfg=cfg),
        timeout_reason="extraction_timeout",
    )


def _rejected(document: pa.Table, reason: str, detail: str, *, cfg: ExtractConfig) -> pa.Table:
    """QUARANTINED rows for input rows the stage's parent set aside (timed out, crashed)."""
    bad = [_bad(row, reason, detail) for row in document.to_pylist()]
    return quarantine_rows(bad, stage=STAGE, run_id=cfg.run_id, at=cfg.run_started_at)


# --------------------------------------------------------------------------- the night


def load_site_boilerplate(layout: io.Layout) -> SiteBoilerplate:
    """The site boilerplate learned on the nights before `layout.run_date` (empty at first)."""
    return load_boilerplate(layout)


def extract_night(
    layout: io.Layout,
    cfg: ExtractConfig,
    workers: int,
    batch_rows: int,
    log: Callable[..., None] = lambda *args: None,
    share: Share | None = None,
) -> StageResult:
    model = load_site_boilerplate(layout)
    log("extract: site model of %d lines over %d sites", len(model), len(model.lines))
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
        progress=log,
        share=share,
        supervision=supervision(cfg),
    )
