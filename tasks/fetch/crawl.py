"""Fetch: the night's web sources (page URLs, RSS/Atom feeds, sitemaps) -> FETCHED exchanges.

Input: the source URLs of a run and what earlier nights learned about each URL (sha256 of its
bytes, ETag, Last-Modified, and for a feed or sitemap the pages it listed). Output: one FETCHED
row per URL asked for (`raw/run_date=D`, zstd Parquet, written in row groups of at most 16 MiB of
bodies as the night goes, so memory holds one batch and one body, whatever the night's size).
This module is the night: the queue of jobs (given sources, then what their feeds and
sitemaps list, breadth first, each URL once; never links found inside a page), one row per
job, and the night's result. What it builds on: `urls.py` (which URLs may be fetched, origins),
`http.py` (the client: politeness, deadlines, redirects, body streaming and decoding),
`retry.py` (the retry policy), `robots.py` (robots.txt), `listings.py` (recognising feeds and
sitemaps and reading what they list), `config.py` (`FetchConfig`).

A page is any body that is not a feed or a sitemap (a lone comment too): what it holds is for
ingest and extract to judge. Every request is conditional when an earlier night saw the URL, so
an unchanged page costs one request answered 304 (or a 200 with the same bytes) and nothing
else; only `new` and `changed` pages carry their bytes on to ingest. Requests are sequential
with a per-host delay and http(s) only. One request (connect, headers, body) has one deadline,
`request_seconds`, and one URL (its redirects, retries and the waits between them, not the
per-host delay) has `url_seconds`; a body is capped at `max_bytes` both as sent and after its
one content decoding. Redirects are followed only to the origin asked for (same scheme, host,
port; `www.` aside) and only where robots.txt allows. Transient failures (connection errors,
429, 5xx) are retried with exponential backoff, a timeout at most once; this is the only stage
that retries. Each origin's robots.txt is read once a night before its first URL (RFC 9309,
longest match, user agent `wiredesk`). Nothing a server sends stops the night: every failure
is a row.

A URL that fails is a FETCHED row with outcome `failed` and one of these reasons, which ingest
turns into a quarantine row of stage `fetch` (so that it carries the night's run id; its `url`
is left empty unless the URL is http(s)); a failed URL is tried again on the next night:
- `not_http`: a scheme other than http or https (file:, ftp:, javascript: ...).
- `bad_url`: no host, a bad port, or a URL that does not parse.
- `off_host`: a feed or sitemap lists a page of another origin (scheme, host or port).
- `redirect_off_host`: a redirect to another origin, or to a URL that is not http(s).
- `too_many_redirects`: more than `max_redirects` hops.
- `http_error`: a 4xx, a 5xx/429 still failing after the retries (detail: the status), or a
  body that does not decode as its Content-Encoding says.
- `timeout`: no complete response within `request_seconds` (after one retry), or the URL used
  up its `url_seconds`; `connection_failed`: no connection or a broken one, after the retries.
- `too_large`: the body, as sent or after content decoding, exceeds `max_bytes`.
- `unsupported_encoding`: a Content-Encoding other than gzip or deflate, or several stacked.
- `unsupported_media_type`: a page that is not HTML or plain text.
- `empty_body`: a 200 with no bytes.
- `bad_listing`: a sitemap that does not parse.
- `too_many_links`: a feed or sitemap lists more than `max_listed` URLs (the rest are dropped).
- `page_limit`: the night reached `max_urls`; the URL is left for the next night.
- `robots_disallowed`: the origin's robots.txt disallows the URL (or a redirect's target) for
  our user agent.
- A robots.txt that cannot be read (timeout, connection failure, 5xx after the retries) means
  the whole origin is off limits tonight (RFC 9309); its URLs get that failure's reason
  (`timeout`, `connection_failed`, `http_error`) with a detail naming robots.txt. A robots.txt
  answered 4xx, or redirected away, allows everything.
"""

from __future__ import annotations

import hashlib
import time
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

from tasks import io
from tasks.fetch.config import FetchConfig
from tasks.fetch.http import Exchange, Fetcher, Refusal
from tasks.fetch.listings import detect_kind, media_type_of, parse_feed, parse_sitemap, unique
from tasks.fetch.robots import Robots
from tasks.fetch.urls import site_of, url_problem
from tasks.revisions import Previous, previous_sources
from tasks.schema import FETCHED, quarantine_rows

# What other modules import from here, beside what this module defines.
__all__ = [
    "OUTCOME_COLUMNS",
    "Exchange",
    "FetchConfig",
    "FetchResult",
    "Fetcher",
    "batches",
    "fetch_night",
    "fetch_sources",
    "fetched_rows",
    "quarantined",
    "tally",
    "url_problem",
]

STAGE = "fetch"

PAGE_MEDIA = ("text/html", "application/xhtml+xml", "text/plain")
# A batch of FETCHED rows (one Parquet row group) holds at most this many bytes of bodies, or
# one body: writing a group costs several copies of it (Arrow, dictionary and statistics
# attempts, compression), so a 15 MiB page gets a group of its own. Measured with
# benchmarks/fetch.py: peak RSS 376 MB with groups of one 15 MiB page, 550 MB with 45 MiB.
BATCH_BYTES = 16 * 1024 * 1024
BATCH_ROWS = 2000
# A progress line every this many URLs.
PROGRESS_EVERY = 50

Row = dict[str, Any]


def outcome_of(prev: Previous | None, sha: str) -> str:
    if prev is None:
        return "new"
    return "unchanged" if prev.raw_sha256 == sha else "changed"


# --------------------------------------------------------------------------- one night


@dataclass
class _Job:
    url: str
    listed_by: str | None
    kind: str | None  # None: recognise from the response (a source given directly)


def _jobs(queue: list[_Job], progress: Callable[[str], None]) -> Iterator[tuple[_Job, int]]:
    """Each job of `queue` (which grows while this runs) once per URL, in order, with the count
    of URLs met so far."""
    seen: set[str] = set()
    position = 0
    while position < len(queue):
        job = queue[position]
        position += 1
        if job.url in seen:
            continue
        seen.add(job.url)
        if len(seen) % PROGRESS_EVERY == 0:
            progress(f"fetch: {len(seen)} URLs done, {len(queue) - position} queued")
        yield job, len(seen)


def _row(job: _Job, kind: str, **values: Any) -> Row:
    row: Row = {name: None for name in FETCHED.names}
    row.update(url=job.url, listed_by=job.listed_by, kind=kind, attempts=0)
    row.update(values)
    return row


def _refusal(job: _Job, seen: int, cfg: FetchConfig, robots: Robots) -> Refusal:
    """(reason, detail) when `job` is not to be fetched tonight, checked in this order: the URL
    itself, its origin against the listing's, the night's URL budget, the origin's robots.txt."""
    problem = url_problem(job.url)
    if problem is not None:
        return problem
    if job.listed_by is not None and site_of(job.url) != site_of(job.listed_by):
        return "off_host", f"listed by {job.listed_by}"
    if seen > cfg.max_urls:
        return "page_limit", f"over {cfg.max_urls} URLs tonight"
    return robots.refusal(job.url)


def _answered_row(job: _Job, ex: Exchange, fetched_at: datetime) -> Row:
    """The row of a fetched job before its outcome: what the answer's headers say."""
    return _row(
        job,
        job.kind or "page",
        status=ex.status,
        attempts=ex.attempts,
        fetched_at=fetched_at,
        etag=ex.headers.get("etag"),
        last_modified=ex.headers.get("last-modified"),
        media_type=ex.headers.get("content-type"),
    )


def _not_modified(row: Row, job: _Job, prev: Previous) -> list[str]:
    """Fill in a 304: the earlier night's bytes and validators; returns what it lists."""
    row.update(
        # A source given directly, or a sitemap listed by an index, is what it was.
        kind=prev.kind if job.kind in (None, "sitemap") else job.kind,
        outcome="not_modified",
        raw_sha256=prev.raw_sha256,
        etag=row["etag"] or prev.etag,
        last_modified=row["last_modified"] or prev.last_modified,
    )
    if row["kind"] == "page":
        return []
    row["listed"] = list(prev.listed)
    return row["listed"]


def _page(row: Row, body: bytes, prev: Previous | None, sha: str) -> None:
    """Fill in a page's outcome; its bytes go on only when new or changed."""
    media = media_type_of(row["media_type"])
    if media and media not in PAGE_MEDIA:
        row.update(outcome="failed", reason="unsupported_media_type", detail=media)
        return
    row["outcome"] = outcome_of(prev, sha)
    if row["outcome"] != "unchanged":
        row["content"] = body


def _listing(
    row: Row, job: _Job, kind: str, body: bytes, prev: Previous | None, cfg: FetchConfig
) -> tuple[list[str], Row | None]:
    """Fill in a feed's or sitemap's outcome; returns the URLs it lists (at most `max_listed`)
    and, when it listed more, the `too_many_links` row that says so."""
    row.update(outcome=outcome_of(prev, row["raw_sha256"]), content=body)
    listed: list[str] = []
    try:
        if kind == "feed":
            listed = parse_feed(body, job.url)
        else:
            sub, listed = parse_sitemap(body, job.url, cfg.max_bytes)
            if sub == "sitemapindex":
                if job.kind == "sitemap":
                    raise ValueError("a sitemap index listed by a sitemap index")
                row["kind"] = "sitemap-index"
    except (ValueError, OverflowError, zlib.error) as exc:
        row.update(outcome="failed", reason="bad_listing", detail=str(exc)[:300])
        listed = []
    listed = unique(listed)
    capped = None
    if len(listed) > cfg.max_listed:
        capped = _row(
            job,
            kind,
            outcome="failed",
            reason="too_many_links",
            detail=f"{len(listed)} listed, kept the first {cfg.max_listed}",
            fetched_at=row["fetched_at"],
        )
        listed = listed[: cfg.max_listed]
    row["listed"] = listed if row["outcome"] != "failed" else None
    return listed, capped


def _body(
    row: Row, job: _Job, ex: Exchange, prev: Previous | None, cfg: FetchConfig
) -> tuple[list[str], Row | None]:
    """Fill in a 200 with its body (taken off `ex`, so that only the row holds it): its kind,
    hash and outcome; returns what it lists and the `too_many_links` row, if any."""
    body, ex.body = ex.body or b"", None
    kind = job.kind or detect_kind(row["media_type"], body)
    sha = hashlib.sha256(body).hexdigest()
    row.update(kind=kind, raw_sha256=sha, size_bytes=len(body))
    if not body or body.isspace():
        row.update(outcome="failed", reason="empty_body")
        return [], None
    if kind == "page":
        _page(row, body, prev, sha)
        return [], None
    return _listing(row, job, kind, body, prev, cfg)


def _job_rows(
    job: _Job, ex: Exchange, prev: Previous | None, cfg: FetchConfig, fetched_at: datetime
) -> tuple[list[Row], list[str]]:
    """The rows of one fetched job (its own, then a `too_many_links` one if it listed too
    many) and the URLs it lists."""
    row = _answered_row(job, ex, fetched_at)
    listed: list[str] = []
    capped: Row | None = None
    if ex.reason is None and ex.status == 304 and prev is not None:
        listed = _not_modified(row, job, prev)
    elif ex.reason is None and ex.status == 200 and ex.body is not None:
        listed, capped = _body(row, job, ex, prev, cfg)
    else:
        reason = ex.reason or "http_error"
        detail = ex.detail or (f"HTTP {ex.status}" if ex.status else None)
        row.update(outcome="failed", reason=reason, detail=detail)
    return ([row] if capped is None else [row, capped]), listed


def fetched_rows(
    sources: list[str],
    previous: Mapping[str, Previous],
    cfg: FetchConfig,
    fetcher: Fetcher,
    *,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    progress: Callable[[str], None] = lambda _msg: None,
) -> Iterator[Row]:
    """FETCHED rows (dicts) for every URL of the night, as each is done: the given sources and
    what their feeds and sitemaps list, each URL once, in the order met (breadth first)."""
    robots = Robots(cfg, fetcher)
    queue = [_Job(url.strip(), None, None) for url in sources if url.strip()]
    for job, seen in _jobs(queue, progress):
        refusal = _refusal(job, seen, cfg, robots)
        if refusal is not None:
            reason, detail = refusal
            kind = job.kind or "page"
            yield _row(job, kind, outcome="failed", reason=reason, detail=detail, fetched_at=now())
            continue
        prev = previous.get(job.url)
        ex = fetcher.get(job.url, prev, hop_refusal=robots.refusal)
        rows, listed = _job_rows(job, ex, prev, cfg, now())
        yield from rows
        # An index lists sitemaps; a urlset or a feed lists pages.
        child_kind = "sitemap" if rows[0]["kind"] == "sitemap-index" else "page"
        queue.extend(_Job(link, job.url, child_kind) for link in listed)


def batches(
    rows: Iterable[dict[str, Any]],
    *,
    max_bytes: int = BATCH_BYTES,
    max_rows: int = BATCH_ROWS,
) -> Iterator[pa.Table]:
    """FETCHED tables of the rows, each holding at most `max_bytes` of bodies (or one body, when
    it is bigger) and `max_rows` rows."""
    held: list[dict[str, Any]] = []
    size = 0
    for row in rows:
        body = len(row["content"] or b"")
        if held and size + body > max_bytes:
            yield pa.Table.from_pylist(held, schema=FETCHED)
            held, size = [], 0
        held.append(row)
        size += body
        if size >= max_bytes or len(held) >= max_rows:
            yield pa.Table.from_pylist(held, schema=FETCHED)
            held, size = [], 0
    if held:
        yield pa.Table.from_pylist(held, schema=FETCHED)


def fetch_sources(
    sources: list[str],
    previous: Mapping[str, Previous],
    cfg: FetchConfig,
    fetcher: Fetcher,
    *,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    progress: Callable[[str], None] = lambda _msg: None,
) -> pa.Table:
    """Every FETCHED row of the night as one table (small nights and tests; the task streams
    `fetched_rows` to disk in batches instead)."""
    rows = fetched_rows(sources, previous, cfg, fetcher, now=now, progress=progress)
    return pa.Table.from_pylist(list(rows), schema=FETCHED)


# The columns of a FETCHED table that `quarantined` reads (no bodies).
OUTCOME_COLUMNS = ["url", "outcome", "reason", "detail", "raw_sha256", "size_bytes"]


def quarantined(fetched: pa.Table, *, run_id: str, at: datetime) -> pa.Table:
    """QUARANTINED rows (stage `fetch`) for the failed exchanges of a FETCHED table. Ingest
    writes them, with the night's run id, whenever it reads the night's exchanges. A URL that
    is not http(s) is kept as the row's source, never as its `url`."""
    bad = [
        {
            "source_path": row["url"],
            "url": row["url"] if url_problem(row["url"]) is None else None,
            "reason": row["reason"],
            "detail": row["detail"],
            "raw_sha256": row["raw_sha256"],
            "size_bytes": row["size_bytes"],
        }
        for row in fetched.select(OUTCOME_COLUMNS).to_pylist()
        if row["outcome"] == "failed"
    ]
    return quarantine_rows(bad, stage=STAGE, run_id=run_id, at=at)


def tally(fetched: pa.Table) -> dict[str, int]:
    outcomes = fetched.column("outcome").to_pylist()
    return {name: outcomes.count(name) for name in sorted(set(outcomes))}


# --------------------------------------------------------------------------- the night's result


@dataclass
class FetchResult:
    """What the fetch task returns: counts and where the night's exchanges are."""

    stage: str
    raw_path: str
    urls: int
    outcomes: dict[str, int]
    failed: int
    reasons: dict[str, int]
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()


def fetch_night(
    sources: list[str],
    layout: io.Layout,
    cfg: FetchConfig,
    *,
    log: Callable[[str], None] = lambda _msg: None,
    batch_bytes: int = BATCH_BYTES,
) -> FetchResult:
    """Fetch the night's sources into `raw/run_date=D`, one batch of rows at a time (the task,
    and the benchmark without Prefect)."""
    started = time.monotonic()
    previous = previous_sources(layout)
    log(f"fetch: {len(sources)} sources, {len(previous)} URLs known from earlier nights")
    outcomes: dict[str, int] = {}
    reasons: dict[str, int] = {}

    def counted(rows: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        for row in rows:
            outcomes[row["outcome"]] = outcomes.get(row["outcome"], 0) + 1
            if row["reason"] is not None:
                reasons[row["reason"]] = reasons.get(row["reason"], 0) + 1
            yield row

    with Fetcher(cfg) as fetcher:
        rows = fetched_rows(sources, previous, cfg, fetcher, progress=log)
        # zstd: pages are kept for re-processing and compress several times better than snappy.
        written = io.write_partition(
            layout.data_dir,
            layout.raw,
            batches(counted(rows), max_bytes=batch_bytes),
            FETCHED,
            compression="zstd",
        )
    result = FetchResult(
        stage=STAGE,
        raw_path=str(layout.raw),
        urls=written.rows,
        outcomes=dict(sorted(outcomes.items())),
        failed=sum(reasons.values()),
        reasons=dict(sorted(reasons.items())),
        seconds=round(time.monotonic() - started, 3),
    )
    log(f"fetch: {result.urls} URLs: {result.outcomes}")
    return result
