"""Fetch: the night's web sources (page URLs, RSS/Atom feeds, sitemaps) -> FETCHED exchanges.

Input: the source URLs of a run and what earlier nights learned about each URL (sha256 of its
bytes, ETag, Last-Modified, and for a feed or sitemap the pages it listed). Output: one FETCHED
row per URL asked for (`raw/run_date=D`, zstd Parquet): given sources are fetched and recognised
as a feed (feedparser), a sitemap or sitemap index (lxml, no DTD, no entities, no network), or a
page; pages listed by a feed or sitemap are fetched in turn, never links found inside a page.
Every request is conditional when an earlier night saw the URL, so an unchanged page costs one
request answered 304 (or a 200 with the same bytes) and nothing else; only `new` and `changed`
pages carry their bytes on to ingest. Requests are sequential with a per-host delay, http(s)
only, redirects followed by hand and only on the same host, with connect/read timeouts, a time
limit per response and a byte cap; transient failures (timeouts, connection errors, 429, 5xx)
are retried with exponential backoff, and this is the only stage that retries. Each host's
robots.txt is read once a night before its first page (RFC 9309, user agent `wiredesk`): a
disallowed URL is not fetched, a Crawl-delay above the per-host delay is honoured (capped).

A URL that fails is a FETCHED row with outcome `failed` and one of these reasons, which ingest
turns into a quarantine row of stage `fetch` (so that it carries the night's run id); a failed
URL is tried again on the next night:
- `not_http`: a scheme other than http or https (file:, ftp:, javascript: ...).
- `bad_url`: no host, or a URL that does not parse.
- `off_host`: a feed or sitemap lists a page on another host.
- `redirect_off_host`: a redirect to another host or scheme than http(s).
- `too_many_redirects`: more than `max_redirects` hops.
- `http_error`: a 4xx, or a 5xx/429 still failing after the retries (detail: the status).
- `timeout`, `connection_failed`: no complete response after the retries.
- `too_large`: the body (after content decoding) exceeds `max_bytes`.
- `unsupported_media_type`: a page that is not HTML or plain text.
- `empty_body`: a 200 with no bytes.
- `bad_listing`: a sitemap that does not parse.
- `too_many_links`: a feed or sitemap lists more than `max_listed` URLs (the rest are dropped).
- `page_limit`: the night reached `max_urls`; the URL is left for the next night.
- `robots_disallowed`: the host's robots.txt disallows the URL for our user agent.
- A robots.txt that cannot be read (timeout, connection failure, 5xx after the retries) means
  the whole host is off limits tonight (RFC 9309); its URLs get that failure's reason
  (`timeout`, `connection_failed`, `http_error`) with a detail naming robots.txt. A robots.txt
  answered 4xx, or redirected away, allows everything.
"""

from __future__ import annotations

import hashlib
import re
import time
import zlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from io import BytesIO
from typing import Any
from urllib.parse import urljoin, urlsplit
from urllib.robotparser import RobotFileParser

import httpx
import pyarrow as pa
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.tasks import exponential_backoff

from tasks import io
from tasks.reingest import Previous, previous_sources
from tasks.schema import FETCHED, quarantine_rows

STAGE = "fetch"

PAGE_MEDIA = ("text/html", "application/xhtml+xml", "text/plain")
FEED_MEDIA = ("application/rss+xml", "application/atom+xml", "application/rdf+xml")
REDIRECTS = (301, 302, 303, 307, 308)
TRANSIENT = (429, 500, 502, 503, 504)
# Enough of the start of a body to see its root element behind an XML declaration and comments.
SNIFF_BYTES = 4096
_ROOT_TAG = re.compile(rb"<([A-Za-z_][\w:.-]*)")


@dataclass(frozen=True)
class FetchConfig:
    # Timeouts: 10 s to connect and 30 s between bytes are generous for news sites; the whole
    # response must also arrive within 60 s, so a server that trickles bytes cannot hold a night.
    connect_timeout: float = 10.0
    read_timeout: float = 30.0
    response_seconds: float = 60.0
    # Same cap as ingest's per-document limit: anything bigger is no article page.
    max_bytes: int = 16 * 1024 * 1024
    # Attempts after the first for transient failures; waits are backoff * 2**n (1, 2, 4 s), or
    # the server's Retry-After when it says one, capped.
    retries: int = 3
    backoff_seconds: float = 1.0
    max_retry_after: float = 60.0
    # At least this long between two requests to one host (a polite crawler's usual second).
    host_delay_seconds: float = 1.0
    max_redirects: int = 5
    # Per feed or sitemap, and per night: bound the work a hostile listing can cause.
    max_listed: int = 5000
    max_urls: int = 20000
    # The product token robots.txt rules are matched against is the part before "/".
    user_agent: str = "wiredesk/0.1 (nightly news ingest)"
    obey_robots: bool = True
    # RFC 9309: crawlers must parse at least 500 KiB of a robots.txt; what follows is ignored.
    robots_max_bytes: int = 512 * 1024
    # A Crawl-delay longer than this is capped: one host cannot hold a night for hours.
    max_crawl_delay: float = 30.0


@dataclass
class Exchange:
    """The outcome of fetching one URL (after redirects and retries)."""

    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None
    reason: str | None = None
    detail: str | None = None
    attempts: int = 0
    final_url: str | None = None


# --------------------------------------------------------------------------- pure helpers


def url_problem(url: str) -> tuple[str, str] | None:
    """(reason, detail) when `url` must not be fetched at all, else None."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError as exc:
        return "bad_url", str(exc)
    if parts.scheme not in ("http", "https"):
        return "not_http", f"scheme {parts.scheme or '(none)'!r}"
    if not host:
        return "bad_url", "no host"
    return None


def host_of(url: str) -> str:
    host = (urlsplit(url).hostname or "").lower()
    return host[4:] if host.startswith("www.") else host


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def conditional_headers(prev: Previous | None) -> dict[str, str]:
    headers: dict[str, str] = {}
    if prev is not None and prev.etag:
        headers["If-None-Match"] = prev.etag
    if prev is not None and prev.last_modified:
        headers["If-Modified-Since"] = prev.last_modified
    return headers


def media_type_of(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def detect_kind(content_type: str | None, body: bytes) -> str:
    """feed, sitemap or page, from the media type and the root element of the body."""
    media = media_type_of(content_type)
    if media in FEED_MEDIA:
        return "feed"
    head = body[:SNIFF_BYTES].lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith(b"\x1f\x8b"):  # gzip: sitemaps are the only gzipped source wiredesk takes
        return "sitemap"
    # The root element decides, not the media type: feeds are often served as text/html.
    tag = root_tag(head)
    if tag in (b"rss", b"feed", b"rdf"):
        return "feed"
    if tag in (b"urlset", b"sitemapindex"):
        return "sitemap"
    return "page"


def root_tag(head: bytes) -> bytes | None:
    """Local name of the first element, when the bytes start with markup (after an XML
    declaration, comments and a doctype); None for anything else."""
    rest = head
    while True:
        rest = rest.lstrip()
        for opener, closer in ((b"<?", b"?>"), (b"<!--", b"-->"), (b"<!", b">")):
            if rest.startswith(opener):
                end = rest.find(closer)
                if end < 0:
                    return None
                rest = rest[end + len(closer) :]
                break
        else:
            match = _ROOT_TAG.match(rest)
            return match.group(1).split(b":")[-1].lower() if match else None


def _gunzip_capped(data: bytes, limit: int) -> bytes:
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    out = inflater.decompress(data, limit + 1)
    if len(out) > limit:
        raise OverflowError(f"decompresses past {limit} bytes")
    return out


def parse_feed(body: bytes, base_url: str) -> list[str]:
    """Entry links of an RSS/Atom feed, absolute, in feed order."""
    import feedparser

    # A file object, never a string: given a string that looks like a URL, feedparser fetches it.
    parsed = feedparser.parse(BytesIO(body), response_headers={"content-location": base_url})
    links = []
    for entry in parsed.entries:
        link = entry.get("link")
        if isinstance(link, str) and link.strip():
            links.append(urljoin(base_url, link.strip()))
    return links


def parse_sitemap(body: bytes, base_url: str, max_bytes: int) -> tuple[str, list[str]]:
    """(`urlset` or `sitemapindex`, the absolute <loc> URLs) of a sitemap; ValueError if bad."""
    from lxml import etree

    if body.startswith(b"\x1f\x8b"):
        body = _gunzip_capped(body, max_bytes)
    # No DTD, no entity expansion, no network: a sitemap is untrusted XML.
    parser = etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False
    )
    try:
        root = etree.fromstring(body, parser=parser)
    except etree.XMLSyntaxError as exc:
        raise ValueError(f"not XML: {exc}") from None
    kind = etree.QName(root).localname.lower()
    if kind not in ("urlset", "sitemapindex"):
        raise ValueError(f"root element <{kind}> is not a sitemap")
    locs = []
    for element in root.iter():
        if not isinstance(element.tag, str) or etree.QName(element).localname != "loc":
            continue
        parent = element.getparent()
        if parent is None or etree.QName(parent).localname not in ("url", "sitemap"):
            continue
        text = (element.text or "").strip()
        if text:
            locs.append(urljoin(base_url, text))
    return kind, locs


def unique(urls: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(urls))


def outcome_of(prev: Previous | None, sha: str) -> str:
    if prev is None:
        return "new"
    return "unchanged" if prev.raw_sha256 == sha else "changed"


# --------------------------------------------------------------------------- HTTP


class Fetcher:
    """Sequential, polite HTTP GETs with conditional headers, retries and limits.

    `sleep` and `clock` are injectable so the tests can count waits instead of sleeping them.
    """

    def __init__(
        self,
        cfg: FetchConfig,
        *,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.cfg = cfg
        self.sleep = sleep
        self.clock = clock
        self._last: dict[str, float] = {}
        self._delay: dict[str, float] = {}  # per host, when its robots.txt asks for more
        # Per origin: the parsed robots.txt, None (everything allowed) or the failed exchange.
        self._robots: dict[str, RobotFileParser | Exchange | None] = {}
        self.client = httpx.Client(
            timeout=httpx.Timeout(
                connect=cfg.connect_timeout,
                read=cfg.read_timeout,
                write=cfg.read_timeout,
                pool=cfg.connect_timeout,
            ),
            follow_redirects=False,
            headers={"User-Agent": cfg.user_agent},
            transport=transport,
            # Proxies and netrc from the environment would send requests where the user did
            # not ask; a nightly job talks to the sources it was given.
            trust_env=False,
        )

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _polite(self, url: str) -> None:
        host = host_of(url)
        last = self._last.get(host)
        if last is not None:
            delay = self._delay.get(host, self.cfg.host_delay_seconds)
            wait = last + delay - self.clock()
            if wait > 0:
                self.sleep(wait)
        self._last[host] = self.clock()

    def robots_problem(self, url: str) -> tuple[str, str] | None:
        """(reason, detail) when the host's robots.txt keeps us from `url`, else None."""
        if not self.cfg.obey_robots:
            return None
        origin = origin_of(url)
        if origin not in self._robots:
            self._robots[origin] = self._read_robots(origin)
        rules = self._robots[origin]
        if isinstance(rules, Exchange):
            reason = rules.reason or "http_error"
            return reason, f"robots.txt unreadable: {rules.detail or f'HTTP {rules.status}'}"
        if rules is not None and not rules.can_fetch(self.cfg.user_agent, url):
            return "robots_disallowed", f"{origin}/robots.txt"
        return None

    def _read_robots(self, origin: str) -> RobotFileParser | Exchange | None:
        ex = self.get(f"{origin}/robots.txt", None)
        if ex.reason in ("redirect_off_host", "too_many_redirects") or (
            ex.reason is None and ex.status is not None and 400 <= ex.status < 500
        ):
            return None  # unavailable: RFC 9309 allows everything
        if ex.reason is not None or ex.status != 200 or ex.body is None:
            return ex  # unreachable: RFC 9309 disallows everything
        text = ex.body[: self.cfg.robots_max_bytes].decode("utf-8", errors="replace")
        rules = RobotFileParser()
        rules.parse(text.splitlines())
        delay = rules.crawl_delay(self.cfg.user_agent)
        if delay is not None and float(delay) > self.cfg.host_delay_seconds:
            self._delay[host_of(origin)] = min(float(delay), self.cfg.max_crawl_delay)
        return rules

    def get(self, url: str, prev: Previous | None) -> Exchange:
        """GET `url` (conditional when `prev` says how), following same-host redirects."""
        ex = Exchange()
        current = url
        for _hop in range(self.cfg.max_redirects + 1):
            ex = self._get_once(current, conditional_headers(prev), ex.attempts)
            if ex.status not in REDIRECTS:
                ex.final_url = current
                return ex
            location = ex.headers.get("location")
            if not location:
                return replace(ex, reason="http_error", detail=f"HTTP {ex.status} without Location")
            target = urljoin(current, location)
            problem = url_problem(target)
            if problem is not None or host_of(target) != host_of(url):
                return replace(
                    ex, reason="redirect_off_host", detail=f"HTTP {ex.status} to {target}"
                )
            current = target
        return replace(
            ex, reason="too_many_redirects", detail=f"more than {self.cfg.max_redirects}"
        )

    def _get_once(self, url: str, headers: dict[str, str], attempts: int) -> Exchange:
        cfg = self.cfg
        for retry in range(cfg.retries + 1):
            self._polite(url)
            attempts += 1
            ex = self._request(url, headers)
            ex.attempts = attempts
            transient = ex.reason in ("timeout", "connection_failed") or (
                ex.reason is None and ex.status in TRANSIENT
            )
            if not transient or retry == cfg.retries:
                if ex.reason is None and ex.status in TRANSIENT:
                    ex.reason, ex.detail = "http_error", f"HTTP {ex.status} after {attempts} tries"
                return ex
            wait = cfg.backoff_seconds * (2**retry)
            retry_after = ex.headers.get("retry-after", "")
            if retry_after.isdigit():
                wait = max(wait, float(retry_after))
            self.sleep(min(wait, cfg.max_retry_after))
        raise AssertionError("unreachable")

    def _request(self, url: str, headers: dict[str, str]) -> Exchange:
        cfg = self.cfg
        started = self.clock()
        try:
            with self.client.stream("GET", url, headers=headers) as response:
                ex = Exchange(status=response.status_code, headers=dict(response.headers))
                if response.status_code != 200:
                    return ex
                declared = response.headers.get("content-length", "")
                if declared.isdigit() and int(declared) > cfg.max_bytes:
                    ex.reason, ex.detail = "too_large", f"Content-Length {declared}"
                    return ex
                chunks: list[bytes] = []
                size = 0
                for chunk in response.iter_bytes():
                    size += len(chunk)
                    if size > cfg.max_bytes:
                        ex.reason, ex.detail = "too_large", f"over {cfg.max_bytes} bytes"
                        return ex
                    if self.clock() - started > cfg.response_seconds:
                        ex.reason = "timeout"
                        ex.detail = f"response took over {cfg.response_seconds:g} s"
                        return ex
                    chunks.append(chunk)
                ex.body = b"".join(chunks)
                return ex
        except httpx.TimeoutException as exc:
            return Exchange(reason="timeout", detail=type(exc).__name__)
        except httpx.DecodingError as exc:
            return Exchange(reason="http_error", detail=f"bad content encoding: {exc}")
        except (httpx.TransportError, httpx.InvalidURL) as exc:
            return Exchange(reason="connection_failed", detail=f"{type(exc).__name__}: {exc}")


# --------------------------------------------------------------------------- one night


@dataclass
class _Job:
    url: str
    listed_by: str | None
    kind: str | None  # None: recognise from the response (a source given directly)


def _row(job: _Job, kind: str, **values: Any) -> dict[str, Any]:
    row: dict[str, Any] = {name: None for name in FETCHED.names}
    row.update(url=job.url, listed_by=job.listed_by, kind=kind, attempts=0)
    row.update(values)
    return row


def _refusal(job: _Job, seen: int, cfg: FetchConfig, fetcher: Fetcher) -> tuple[str, str] | None:
    """(reason, detail) when `job` is not to be fetched tonight, checked in this order: the URL
    itself, its host against the listing's, the night's URL budget, the host's robots.txt."""
    problem = url_problem(job.url)
    if problem is not None:
        return problem
    if job.listed_by is not None and host_of(job.url) != host_of(job.listed_by):
        return "off_host", f"listed by {job.listed_by}"
    if seen > cfg.max_urls:
        return "page_limit", f"over {cfg.max_urls} URLs tonight"
    return fetcher.robots_problem(job.url)


def fetch_sources(
    sources: list[str],
    previous: Mapping[str, Previous],
    cfg: FetchConfig,
    fetcher: Fetcher,
    *,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    progress: Callable[[str], None] = lambda _msg: None,
) -> pa.Table:
    """FETCHED rows for every URL of the night: the given sources and what their feeds and
    sitemaps list, each URL once, in the order met (breadth first)."""
    rows: list[dict[str, Any]] = []
    queue = [_Job(url.strip(), None, None) for url in sources if url.strip()]
    seen: set[str] = set()
    position = 0
    while position < len(queue):
        job = queue[position]
        position += 1
        if job.url in seen:
            continue
        seen.add(job.url)
        kind_guess = job.kind or "page"
        refusal = _refusal(job, len(seen), cfg, fetcher)
        if refusal is not None:
            rows.append(
                _row(
                    job,
                    kind_guess,
                    outcome="failed",
                    reason=refusal[0],
                    detail=refusal[1],
                    fetched_at=now(),
                )
            )
            continue
        prev = previous.get(job.url)
        ex = fetcher.get(job.url, prev)
        row = _row(
            job,
            kind_guess,
            status=ex.status,
            attempts=ex.attempts,
            fetched_at=now(),
            etag=ex.headers.get("etag"),
            last_modified=ex.headers.get("last-modified"),
            media_type=ex.headers.get("content-type"),
        )
        rows.append(row)
        listed: list[str] = []
        if ex.reason is None and ex.status == 304 and prev is not None:
            row.update(
                # A source given directly, or a sitemap listed by an index, is what it was.
                kind=prev.kind if job.kind in (None, "sitemap") else job.kind,
                outcome="not_modified",
                raw_sha256=prev.raw_sha256,
                etag=row["etag"] or prev.etag,
                last_modified=row["last_modified"] or prev.last_modified,
            )
            if row["kind"] != "page":
                listed = list(prev.listed)
                row["listed"] = listed
        elif ex.reason is None and ex.status == 200 and ex.body is not None:
            body = ex.body
            kind = job.kind or detect_kind(row["media_type"], body)
            sha = hashlib.sha256(body).hexdigest()
            row.update(kind=kind, raw_sha256=sha, size_bytes=len(body))
            if not body.strip():
                row.update(outcome="failed", reason="empty_body")
            elif kind == "page":
                media = media_type_of(row["media_type"])
                if media and media not in PAGE_MEDIA:
                    row.update(outcome="failed", reason="unsupported_media_type", detail=media)
                else:
                    row["outcome"] = outcome_of(prev, sha)
                    if row["outcome"] != "unchanged":
                        row["content"] = body
            else:
                row.update(outcome=outcome_of(prev, sha), content=body)
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
                if len(listed) > cfg.max_listed:
                    rows.append(
                        _row(
                            job,
                            kind,
                            outcome="failed",
                            reason="too_many_links",
                            detail=f"{len(listed)} listed, kept the first {cfg.max_listed}",
                            fetched_at=row["fetched_at"],
                        )
                    )
                    listed = listed[: cfg.max_listed]
                row["listed"] = listed if row["outcome"] != "failed" else None
        else:
            reason = ex.reason or "http_error"
            detail = ex.detail or (f"HTTP {ex.status}" if ex.status else None)
            row.update(outcome="failed", reason=reason, detail=detail)
        # An index lists sitemaps; a urlset or a feed lists pages.
        child_kind = "sitemap" if row["kind"] == "sitemap-index" else "page"
        for link in listed:
            queue.append(_Job(link, job.url, child_kind))
        if len(rows) % 50 == 0:
            progress(f"fetch: {len(rows)} URLs done, {len(queue) - position} queued")
    return pa.Table.from_pylist(rows, schema=FETCHED)


def quarantined(fetched: pa.Table, *, run_id: str, at: datetime) -> pa.Table:
    """QUARANTINED rows (stage `fetch`) for the failed exchanges of a FETCHED table. Ingest
    writes them, with the night's run id, whenever it reads the night's exchanges."""
    bad = [
        {
            "source_path": row["url"],
            "url": row["url"],
            "reason": row["reason"],
            "detail": row["detail"],
            "raw_sha256": row["raw_sha256"],
            "size_bytes": row["size_bytes"],
        }
        for row in fetched.select(
            ["url", "outcome", "reason", "detail", "raw_sha256", "size_bytes"]
        ).to_pylist()
        if row["outcome"] == "failed"
    ]
    return quarantine_rows(bad, stage=STAGE, run_id=run_id, at=at)


def tally(fetched: pa.Table) -> dict[str, int]:
    outcomes = fetched.column("outcome").to_pylist()
    return {name: outcomes.count(name) for name in sorted(set(outcomes))}


# --------------------------------------------------------------------------- Prefect task


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


# The only task with retries: a night whose whole fetch failed (say the resolver was down for a
# minute) is worth another go; single URLs are already retried inside `Fetcher`. NO_CACHE: the
# web changes while the arguments do not.
@task(
    name="fetch",
    cache_policy=NO_CACHE,
    retries=2,
    retry_delay_seconds=exponential_backoff(backoff_factor=30),
)
def fetch_task(sources: list[str], layout: io.Layout, cfg: FetchConfig) -> FetchResult:
    logger = get_run_logger()
    started = time.monotonic()
    previous = previous_sources(layout)
    logger.info("fetch: %d sources, %d URLs known from earlier nights", len(sources), len(previous))
    with Fetcher(cfg) as fetcher:
        fetched = fetch_sources(sources, previous, cfg, fetcher, progress=logger.info)
    # zstd: pages are kept for re-processing and compress several times better than snappy.
    io.write_partition(layout.data_dir, layout.raw, [fetched], FETCHED, compression="zstd")
    reasons = [r for r in fetched.column("reason").to_pylist() if r is not None]
    result = FetchResult(
        stage=STAGE,
        raw_path=str(layout.raw),
        urls=fetched.num_rows,
        outcomes=tally(fetched),
        failed=len(reasons),
        reasons={r: reasons.count(r) for r in sorted(set(reasons))},
        seconds=round(time.monotonic() - started, 3),
    )
    logger.info("fetch: %d URLs: %s", result.urls, result.outcomes)
    return result
