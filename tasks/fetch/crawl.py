"""Fetch: the night's web sources (page URLs, RSS/Atom feeds, sitemaps) -> FETCHED exchanges.

Input: the source URLs of a run and what earlier nights learned about each URL (sha256 of its
bytes, ETag, Last-Modified, and for a feed or sitemap the pages it listed). Output: one FETCHED
row per URL asked for (`raw/run_date=D`, zstd Parquet, written in row groups of at most 16 MiB of
bodies as the night goes, so memory holds one batch and one body, whatever the night's size):
given sources are fetched and recognised as a feed (feedparser), a sitemap or sitemap index
(lxml, no DTD, no entities, no network), or a page; pages listed by a feed or sitemap are
fetched in turn, never links found inside a page. A page is any body that is not a feed or a
sitemap (a lone comment too): what it holds is for ingest and extract to judge. Every request
is conditional when an earlier night saw the URL, so an unchanged page costs one request
answered 304 (or a 200 with the same bytes) and nothing else; only `new` and `changed` pages
carry their bytes on to ingest. Requests are sequential with a per-host delay and http(s) only.
One request (connect, headers, body) has one deadline, `request_seconds`, and one URL (its
redirects, retries and the waits between them, not the per-host delay) has `url_seconds`; a
body is capped at `max_bytes` both as sent and after its one content decoding (gzip or
deflate, decoded in small steps so that a compression bomb costs no memory). Redirects are
followed by hand, each hop only to the origin asked for (same scheme, host, port; `www.` aside)
and only where robots.txt allows. Transient failures (connection errors, 429, 5xx) are retried
with exponential backoff, a timeout at most once; this is the only stage that retries. Each
origin's robots.txt is read once a night before its first URL (RFC 9309, user agent
`wiredesk`): a disallowed URL is not fetched, a Crawl-delay above the per-host delay is
honoured (capped). Nothing a server sends stops the night: every failure is a row.

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
import re
import time
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from io import BytesIO
from typing import Any
from urllib.parse import urljoin, urlsplit
from urllib.robotparser import RobotFileParser

import anyio
import httpx
import pyarrow as pa
from anyio.from_thread import start_blocking_portal

from tasks import io
from tasks.revisions import Previous, previous_sources
from tasks.schema import FETCHED, quarantine_rows

STAGE = "fetch"

PAGE_MEDIA = ("text/html", "application/xhtml+xml", "text/plain")
FEED_MEDIA = ("application/rss+xml", "application/atom+xml", "application/rdf+xml")
REDIRECTS = (301, 302, 303, 307, 308)
TRANSIENT = (429, 500, 502, 503, 504)
DEFAULT_PORTS = {"http": 80, "https": 443}
# The content codings we decode, one layer only. Said explicitly in Accept-Encoding: httpx would
# also offer br and zstd whenever their packages happen to be installed.
ACCEPT_ENCODING = "gzip, deflate"
# Output of one decompression step: a 64 KiB chunk of deflate can inflate to 64 MiB at once, so
# the size cap is checked every 64 KiB of output instead.
INFLATE_STEP = 64 * 1024
# A batch of FETCHED rows (one Parquet row group) holds at most this many bytes of bodies, or
# one body: writing a group costs several copies of it (Arrow, dictionary and statistics
# attempts, compression), so a 15 MiB page gets a group of its own. Measured with
# benchmarks/fetch.py: peak RSS 376 MB with groups of one 15 MiB page, 550 MB with 45 MiB.
BATCH_BYTES = 16 * 1024 * 1024
BATCH_ROWS = 2000
# Enough of the start of a body to see its root element behind an XML declaration and comments.
SNIFF_BYTES = 4096
_ROOT_TAG = re.compile(rb"<([A-Za-z_][\w:.-]*)")


@dataclass(frozen=True)
class FetchConfig:
    # 10 s to connect and 20 s of silence are generous for news sites. A request (connect,
    # headers, body) must be complete within 30 s, which is 16 MiB at 560 KB/s, so a server
    # that trickles bytes (or headers) cannot hold a night; a URL, with its redirects, retries
    # and the waits between them, gets 65 s, so one timeout and its retry fit (30 + 1 + 30).
    connect_timeout: float = 10.0
    read_timeout: float = 20.0
    request_seconds: float = 30.0
    url_seconds: float = 65.0
    # Same cap as ingest's per-document limit: anything bigger is no article page.
    max_bytes: int = 16 * 1024 * 1024
    # Attempts after the first for transient failures; waits are backoff * 2**n (1, 2, 4 s), or
    # the server's Retry-After when it says one, capped. A timeout is tried again once only: a
    # server that did not answer in 30 s rarely does the third time, and each try costs 30 s.
    retries: int = 3
    timeout_retries: int = 1
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
        parts.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError as exc:
        return "bad_url", str(exc)
    if parts.scheme not in ("http", "https"):
        return "not_http", f"scheme {parts.scheme or '(none)'!r}"
    if not host:
        return "bad_url", "no host"
    try:
        httpx.URL(url)
    except (httpx.InvalidURL, ValueError) as exc:
        return "bad_url", str(exc)
    return None


def host_of(url: str) -> str:
    host = (urlsplit(url).hostname or "").lower()
    return host[4:] if host.startswith("www.") else host


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def site_of(url: str) -> tuple[str, str, int | None]:
    """(scheme, host without `www.`, port) of an http(s) URL: what a redirect or a listed link
    must share with the URL it came from."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    return scheme, host_of(url), parts.port or DEFAULT_PORTS.get(scheme)


def absolute(base: str, link: str) -> str:
    """`link` resolved against `base`; as it stands when it cannot be (url_problem says why)."""
    try:
        return urljoin(base, link)
    except ValueError:
        return link


def _header_safe(value: str) -> bool:
    # Validators are echoed from an earlier night's response headers (decoded as latin-1);
    # anything but visible ASCII cannot be sent back and would fail the request.
    return value.isascii() and value.isprintable()


def conditional_headers(prev: Previous | None) -> dict[str, str]:
    headers: dict[str, str] = {}
    if prev is not None and prev.etag and _header_safe(prev.etag):
        headers["If-None-Match"] = prev.etag
    if prev is not None and prev.last_modified and _header_safe(prev.last_modified):
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


class Inflater:
    """Streaming gzip or deflate decoding that yields at most INFLATE_STEP bytes at a time, so
    that the caller's size cap holds after decoding (httpx's decoders inflate a whole network
    chunk at once, whatever it grows to)."""

    def __init__(self, coding: str) -> None:
        self.coding = coding
        # gzip; deflate is a zlib stream, though some servers send it raw (as httpx allows).
        wbits = 16 + zlib.MAX_WBITS if coding in ("gzip", "x-gzip") else zlib.MAX_WBITS
        self._z = zlib.decompressobj(wbits)
        self._started = False

    def feed(self, data: bytes) -> Iterator[bytes]:
        if not self._started and data:
            self._started = True
            if self.coding == "deflate" and not _zlib_header(data):
                self._z = zlib.decompressobj(-zlib.MAX_WBITS)
        while not self._z.eof:
            out = self._z.decompress(data, INFLATE_STEP)
            data = self._z.unconsumed_tail
            if out:
                yield out
            if not data and len(out) < INFLATE_STEP:
                break  # this input is spent and nothing more is pending

    def flush(self) -> bytes:
        # Small: `feed` leaves no input unconsumed and no output pending.
        return b"" if self._z.eof else self._z.flush()


def _zlib_header(data: bytes) -> bool:
    return len(data) >= 2 and data[0] & 0x0F == 8 and ((data[0] << 8) | data[1]) % 31 == 0


def content_codings(header: str | None) -> list[str]:
    """The codings of a Content-Encoding header, outermost last, `identity` left out."""
    codings = [c.strip().lower() for c in (header or "").split(",")]
    return [c for c in codings if c and c != "identity"]


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
            links.append(absolute(base_url, link.strip()))
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
            locs.append(absolute(base_url, text))
    return kind, locs


def unique(urls: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(urls))


def outcome_of(prev: Previous | None, sha: str) -> str:
    if prev is None:
        return "new"
    return "unchanged" if prev.raw_sha256 == sha else "changed"


# --------------------------------------------------------------------------- HTTP


class _Budget:
    """What is left of one URL's `url_seconds`; the per-host delay does not count."""

    def __init__(self, seconds: float, clock: Callable[[], float]) -> None:
        self.clock = clock
        self.until = clock() + seconds

    def left(self) -> float:
        return self.until - self.clock()

    def extend(self, seconds: float) -> None:
        self.until += seconds


class Fetcher:
    """Sequential, polite HTTP GETs with conditional headers, retries and limits.

    Requests run on an event loop in a thread of their own (an anyio blocking portal), so that
    a cancel scope can put one deadline on a whole request; httpx's own timeouts are per read
    or write, and a server that sends one byte every few seconds never trips them. `sleep` and
    `clock` are injectable so the tests can count waits instead of sleeping them.
    """

    def __init__(
        self,
        cfg: FetchConfig,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
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
        self._stack = ExitStack()
        self._portal = self._stack.enter_context(start_blocking_portal())
        self._stack.callback(self._portal.call, self._close_client)
        self.client = httpx.AsyncClient(
            timeout=httpx.Timeout(
                connect=cfg.connect_timeout,
                read=cfg.read_timeout,
                write=cfg.read_timeout,
                pool=cfg.connect_timeout,
            ),
            follow_redirects=False,
            headers={"User-Agent": cfg.user_agent, "Accept-Encoding": ACCEPT_ENCODING},
            transport=transport,
            # Proxies and netrc from the environment would send requests where the user did
            # not ask; a nightly job talks to the sources it was given.
            trust_env=False,
        )

    async def _close_client(self) -> None:
        if hasattr(self, "client"):
            await self.client.aclose()

    def close(self) -> None:
        self._stack.close()

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _polite(self, url: str) -> float:
        """Wait out the host's delay; returns the seconds waited."""
        host = host_of(url)
        last = self._last.get(host)
        wait = 0.0
        if last is not None:
            delay = self._delay.get(host, self.cfg.host_delay_seconds)
            wait = last + delay - self.clock()
            if wait > 0:
                self.sleep(wait)
        self._last[host] = self.clock()
        return max(wait, 0.0)

    def robots_problem(self, url: str) -> tuple[str, str] | None:
        """(reason, detail) when the origin's robots.txt keeps us from `url`, else None."""
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
        ex = self.get(f"{origin}/robots.txt", None, robots=False)
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

    def get(self, url: str, prev: Previous | None, *, robots: bool = True) -> Exchange:
        """GET `url` (conditional when `prev` says how), following redirects that stay on its
        origin and that robots.txt allows (`robots`: the caller checked `url` itself)."""
        budget = _Budget(self.cfg.url_seconds, self.clock)
        ex = Exchange()
        current = url
        for _hop in range(self.cfg.max_redirects + 1):
            ex = self._get_once(current, conditional_headers(prev), ex.attempts, budget)
            if ex.reason is not None or ex.status not in REDIRECTS:
                ex.final_url = current
                return ex
            location = ex.headers.get("location")
            if not location:
                return replace(ex, reason="http_error", detail=f"HTTP {ex.status} without Location")
            target = absolute(current, location)
            if url_problem(target) is not None or site_of(target) != site_of(url):
                return replace(
                    ex, reason="redirect_off_host", detail=f"HTTP {ex.status} to {target}"[:300]
                )
            refused = self.robots_problem(target) if robots else None
            if refused is not None:
                return replace(
                    ex, reason=refused[0], detail=f"redirect to {target}: {refused[1]}"[:300]
                )
            current = target
        return replace(
            ex, reason="too_many_redirects", detail=f"more than {self.cfg.max_redirects}"
        )

    def _get_once(
        self, url: str, headers: dict[str, str], attempts: int, budget: _Budget
    ) -> Exchange:
        cfg = self.cfg
        timeouts = 0
        retry = 0
        while True:
            budget.extend(self._polite(url))
            left = budget.left()
            if left <= 0:
                detail = f"over {cfg.url_seconds:g} s for this URL"
                return Exchange(reason="timeout", detail=detail, attempts=attempts)
            attempts += 1
            ex = self._request(url, headers, min(cfg.request_seconds, left))
            ex.attempts = attempts
            timeouts += ex.reason == "timeout"
            transient = ex.reason in ("timeout", "connection_failed") or (
                ex.reason is None and ex.status in TRANSIENT
            )
            wait = cfg.backoff_seconds * (2**retry)
            retry_after = ex.headers.get("retry-after", "")
            if retry_after.isdigit():
                wait = max(wait, float(retry_after))
            wait = min(wait, cfg.max_retry_after)
            if (
                not transient
                or retry >= cfg.retries
                or timeouts > cfg.timeout_retries
                or wait >= budget.left()
            ):
                if ex.reason is None and ex.status in TRANSIENT:
                    ex.reason, ex.detail = "http_error", f"HTTP {ex.status} after {attempts} tries"
                return ex
            self.sleep(wait)
            retry += 1

    def _request(self, url: str, headers: dict[str, str], seconds: float) -> Exchange:
        return self._portal.call(self._exchange, url, headers, seconds)

    async def _exchange(self, url: str, headers: dict[str, str], seconds: float) -> Exchange:
        """One GET under one deadline: connect, headers and body within `seconds`."""
        ex = Exchange()
        try:
            with anyio.fail_after(seconds):
                async with self.client.stream("GET", url, headers=headers) as response:
                    ex.status = response.status_code
                    ex.headers = dict(response.headers)
                    if response.status_code == 200:
                        await self._read_body(response, ex)
        except TimeoutError:
            ex.reason, ex.detail = "timeout", f"no complete response within {seconds:g} s"
        except httpx.TimeoutException as exc:
            ex.reason, ex.detail = "timeout", type(exc).__name__
        except (httpx.InvalidURL, httpx.UnsupportedProtocol, ValueError) as exc:
            # ValueError: what the URL's host turned out to be (IDNA) when httpx encoded it.
            ex.reason, ex.detail = "bad_url", f"{type(exc).__name__}: {exc}"[:300]
        except httpx.HTTPError as exc:
            ex.reason, ex.detail = "connection_failed", f"{type(exc).__name__}: {exc}"[:300]
        if ex.reason is not None:
            ex.body = None
        return ex

    async def _read_body(self, response: httpx.Response, ex: Exchange) -> None:
        """Read the body into `ex.body`, or set `ex.reason`: one content decoding at most,
        `max_bytes` both on the wire and after decoding."""
        limit = self.cfg.max_bytes
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            ex.reason, ex.detail = "too_large", f"Content-Length {declared}"
            return
        encoding = response.headers.get("content-encoding")
        codings = content_codings(encoding)
        if len(codings) > 1 or (codings and codings[0] not in ("gzip", "x-gzip", "deflate")):
            ex.reason, ex.detail = "unsupported_encoding", f"Content-Encoding {encoding}"[:300]
            return
        inflater = Inflater(codings[0]) if codings else None
        chunks: list[bytes] = []
        sent = size = 0
        try:
            async for data in response.aiter_raw():
                sent += len(data)
                if sent > limit:
                    ex.reason, ex.detail = "too_large", f"over {limit} bytes"
                    return
                for piece in inflater.feed(data) if inflater is not None else (data,):
                    size += len(piece)
                    if size > limit:
                        ex.reason, ex.detail = "too_large", f"over {limit} bytes decoded"
                        return
                    chunks.append(piece)
            if inflater is not None:
                tail = inflater.flush()
                if size + len(tail) > limit:
                    ex.reason, ex.detail = "too_large", f"over {limit} bytes decoded"
                    return
                chunks.append(tail)
        except zlib.error as exc:
            ex.reason, ex.detail = "http_error", f"bad content encoding {encoding}: {exc}"
            return
        ex.body = b"".join(chunks)


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
    itself, its origin against the listing's, the night's URL budget, the origin's robots.txt."""
    problem = url_problem(job.url)
    if problem is not None:
        return problem
    if job.listed_by is not None and site_of(job.url) != site_of(job.listed_by):
        return "off_host", f"listed by {job.listed_by}"
    if seen > cfg.max_urls:
        return "page_limit", f"over {cfg.max_urls} URLs tonight"
    return fetcher.robots_problem(job.url)


def fetched_rows(
    sources: list[str],
    previous: Mapping[str, Previous],
    cfg: FetchConfig,
    fetcher: Fetcher,
    *,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    progress: Callable[[str], None] = lambda _msg: None,
) -> Iterator[dict[str, Any]]:
    """FETCHED rows (dicts) for every URL of the night, as each is done: the given sources and
    what their feeds and sitemaps list, each URL once, in the order met (breadth first)."""
    queue = [_Job(url.strip(), None, None) for url in sources if url.strip()]
    seen: set[str] = set()
    position = done = 0
    while position < len(queue):
        job = queue[position]
        position += 1
        if job.url in seen:
            continue
        seen.add(job.url)
        done += 1
        if done % 50 == 0:
            progress(f"fetch: {done} URLs done, {len(queue) - position} queued")
        kind_guess = job.kind or "page"
        refusal = _refusal(job, len(seen), cfg, fetcher)
        if refusal is not None:
            yield _row(
                job,
                kind_guess,
                outcome="failed",
                reason=refusal[0],
                detail=refusal[1],
                fetched_at=now(),
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
        listed: list[str] = []
        capped: dict[str, Any] | None = None
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
            body, ex.body = ex.body, None
            kind = job.kind or detect_kind(row["media_type"], body)
            sha = hashlib.sha256(body).hexdigest()
            row.update(kind=kind, raw_sha256=sha, size_bytes=len(body))
            if not body or body.isspace():
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
            del body
        else:
            reason = ex.reason or "http_error"
            detail = ex.detail or (f"HTTP {ex.status}" if ex.status else None)
            row.update(outcome="failed", reason=reason, detail=detail)
        yield row
        if capped is not None:
            yield capped
        # An index lists sitemaps; a urlset or a feed lists pages.
        child_kind = "sitemap" if row["kind"] == "sitemap-index" else "page"
        for link in listed:
            queue.append(_Job(link, job.url, child_kind))


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
