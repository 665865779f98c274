"""HTTP for the crawl: one URL -> one `Exchange` (status, headers, body or a failure reason).
GETs are sequential and polite (a per-host delay, longer where robots.txt asks), conditional
when an earlier night saw the URL, under one deadline per request (connect, headers, body) and
one time budget per URL (its redirects, retries and the waits between them), retried as
`tasks/fetch/retry.py` says. Redirects are followed by hand, each hop only to the origin asked
for and only where the caller's check (robots.txt) allows. A body is streamed and capped at
`max_bytes` both as sent and after its one content decoding (gzip or deflate, inflated in 64
KiB steps so that a compression bomb costs no memory). Failures are reasons on the exchange,
never exceptions: `bad_url`, `redirect_off_host`, `too_many_redirects`, `http_error`,
`timeout`, `connection_failed`, `too_large`, `unsupported_encoding` (see `crawl.py`)."""

from __future__ import annotations

import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field, replace

import anyio
import httpx
from anyio.from_thread import start_blocking_portal

from tasks.fetch.config import FetchConfig
from tasks.fetch.retry import Budget, with_retries
from tasks.fetch.urls import absolute, host_of, site_of, url_problem
from tasks.revisions import Previous

REDIRECTS = (301, 302, 303, 307, 308)
# The content codings we decode, one layer only. Said explicitly in Accept-Encoding: httpx would
# also offer br and zstd whenever their packages happen to be installed.
ACCEPT_ENCODING = "gzip, deflate"
# Output of one decompression step: a 64 KiB chunk of deflate can inflate to 64 MiB at once, so
# the size cap is checked every 64 KiB of output instead.
INFLATE_STEP = 64 * 1024

# (reason, detail) when a URL is not to be fetched, or None.
Refusal = tuple[str, str] | None


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


# --------------------------------------------------------------------------- content decoding


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


# --------------------------------------------------------------------------- the client


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

    def set_host_delay(self, host: str, seconds: float) -> None:
        """Space requests to `host` (without `www.`) by `seconds` instead of the usual delay."""
        self._delay[host] = seconds

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

    def get(
        self,
        url: str,
        prev: Previous | None,
        *,
        hop_refusal: Callable[[str], Refusal] | None = None,
    ) -> Exchange:
        """GET `url` (conditional when `prev` says how), following redirects that stay on its
        origin and that `hop_refusal` (robots.txt) does not refuse; the caller checked `url`."""
        budget = Budget(self.cfg.url_seconds, self.clock)
        ex = Exchange()
        current = url
        for _hop in range(self.cfg.max_redirects + 1):
            ex = self._get_hop(current, conditional_headers(prev), ex.attempts, budget)
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
            refused = hop_refusal(target) if hop_refusal is not None else None
            if refused is not None:
                return replace(
                    ex, reason=refused[0], detail=f"redirect to {target}: {refused[1]}"[:300]
                )
            current = target
        return replace(
            ex, reason="too_many_redirects", detail=f"more than {self.cfg.max_redirects}"
        )

    def _get_hop(
        self, url: str, headers: dict[str, str], attempts: int, budget: Budget
    ) -> Exchange:
        """One hop of a URL with its retries; `attempts` counts the URL's earlier hops."""
        tries = attempts

        def attempt() -> Exchange:
            nonlocal tries
            budget.extend(self._polite(url))
            left = budget.left()
            if left <= 0:
                detail = f"over {self.cfg.url_seconds:g} s for this URL"
                return Exchange(reason="timeout", detail=detail, attempts=tries)
            tries += 1
            ex = self._request(url, headers, min(self.cfg.request_seconds, left))
            ex.attempts = tries
            return ex

        return with_retries(attempt, self.cfg, budget, self.sleep)

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
