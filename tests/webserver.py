"""A small loopback web site for the fetch tests: pages, feeds and sitemaps with ETag and
Last-Modified, scripted failures and redirects, and a log of every request it answered; and
misbehaving answers written straight to the socket (headers one byte at a time, a body that
never ends) or bodies that are compression bombs."""

from __future__ import annotations

import gzip
import hashlib
import struct
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import BinaryIO

# Writes a whole response, status line included, to the client's socket.
Raw = Callable[[BinaryIO], None]


@dataclass
class Resource:
    body: bytes
    content_type: str = "text/html; charset=utf-8"
    etag: bool = True
    last_modified: bool = True
    # Statuses answered before the real one, one per request (e.g. [503, 503]).
    failures: list[int] = field(default_factory=list)
    redirect: str | None = None
    delay: float = 0.0
    # Sent with every answer besides the usual ones (Content-Encoding, Retry-After ...).
    headers: dict[str, str] = field(default_factory=dict)
    # Answer with this instead of a well-formed response (see `slow_headers`, `endless_body`).
    raw: Raw | None = None
    modified: float = 1_773_446_400.0  # 2026-03-14 00:00 UTC

    def tag(self) -> str:
        return '"' + hashlib.sha256(self.body).hexdigest()[:16] + '"'

    def stamp(self) -> str:
        return formatdate(self.modified, usegmt=True)


@dataclass
class Hit:
    path: str
    if_none_match: str | None
    if_modified_since: str | None
    status: int

    @property
    def conditional(self) -> bool:
        return bool(self.if_none_match or self.if_modified_since)


class Site:
    def __init__(self) -> None:
        self.resources: dict[str, Resource] = {}
        self.log: list[Hit] = []
        self.lock = threading.Lock()
        self.base = ""

    def put(self, path: str, body: bytes | str, **kwargs: object) -> None:
        data = body.encode("utf-8") if isinstance(body, str) else body
        old = self.resources.get(path)
        resource = Resource(data, **kwargs)  # type: ignore[arg-type]
        if old is not None and old.body != data:
            resource.modified = old.modified + 86_400
        elif old is not None:
            resource.modified = old.modified
        self.resources[path] = resource

    def url(self, path: str) -> str:
        return self.base + path

    def hits(self, path: str) -> list[Hit]:
        return [h for h in self.log if h.path == path]

    def clear_log(self) -> None:
        with self.lock:
            self.log.clear()


def _handler(site: Site) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:  # quiet
            pass

        def do_GET(self) -> None:
            res = site.resources.get(self.path)
            inm = self.headers.get("If-None-Match")
            ims = self.headers.get("If-Modified-Since")
            status = 404
            headers: dict[str, str] = {}
            body = b"not here"
            if res is not None:
                if res.delay:
                    time.sleep(res.delay)
                if res.raw is not None:
                    with site.lock:
                        site.log.append(Hit(self.path, inm, ims, 200))
                    self.close_connection = True
                    res.raw(self.wfile)
                    return
                if res.failures:
                    status, body = res.failures.pop(0), b"try later"
                elif res.redirect is not None:
                    status, body = 302, b""
                    headers["Location"] = res.redirect
                elif (res.etag and inm == res.tag()) or (
                    not inm and res.last_modified and ims == res.stamp()
                ):
                    status, body = 304, b""
                else:
                    status, body = 200, res.body
                    headers["Content-Type"] = res.content_type
                if res.etag and status in (200, 304):
                    headers["ETag"] = res.tag()
                if res.last_modified and status in (200, 304):
                    headers["Last-Modified"] = res.stamp()
                headers.update(res.headers)
            with site.lock:
                site.log.append(Hit(self.path, inm, ims, status))
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if status != 304:
                self.wfile.write(body)

    return Handler


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        # A client that stops reading (the fetcher's size cap, its timeout) breaks the pipe:
        # expected here, not worth a traceback in the test output.
        pass


@contextmanager
def serve_site(site: Site | None = None) -> Iterator[Site]:
    """Serve `site` on a free port of 127.0.0.1 for the length of the block."""
    site = site or Site()
    server = _Server(("127.0.0.1", 0), _handler(site))
    site.base = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield site
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=30)


def rss(base: str, links: list[str]) -> str:
    items = "".join(
        f"<item><title>Story {i}</title><link>{base}{link}</link></item>"
        for i, link in enumerate(links)
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>Velmora Wire</title><link>{base}/</link>{items}</channel></rss>"
    )


def sitemap(base: str, links: list[str], index: bool = False) -> str:
    ns = "http://www.sitemaps.org/schemas/sitemap/0.9"
    tag, item = ("sitemapindex", "sitemap") if index else ("urlset", "url")
    locs = "".join(f"<{item}><loc>{base}{link}</loc></{item}>" for link in links)
    return f'<?xml version="1.0" encoding="UTF-8"?><{tag} xmlns="{ns}">{locs}</{tag}>'


def page(title: str, paragraphs: list[str]) -> str:
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{title}</title></head>"
        f"<body><nav>Home | World | Velmora</nav><article><h1>{title}</h1>{body}</article>"
        "<footer>Velmora Wire, all rights reserved</footer></body></html>"
    )


def slow_headers(interval: float, seconds: float) -> Raw:
    """A 200 whose headers come one byte every `interval` seconds for `seconds`, then a small
    page: each byte is well within any read timeout, the whole is not."""

    def write(out: BinaryIO) -> None:
        out.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nX-Pad: ")
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            out.write(b"a")
            out.flush()
            time.sleep(interval)
        body = page("Late", ["At last."]).encode()
        out.write(b"\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))

    return write


def endless_body(chunk: bytes, interval: float = 0.0) -> Raw:
    """A 200 with no length whose body repeats `chunk` (every `interval` seconds) until the
    client hangs up."""

    def write(out: BinaryIO) -> None:
        out.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nConnection: close\r\n\r\n")
        out.write(b"<!doctype html><html><body><p>")
        while True:
            out.write(chunk)
            out.flush()
            if interval:
                time.sleep(interval)

    return write


def gzip_bomb(size: int, layers: int = 1) -> bytes:
    """`size` zero bytes gzipped `layers` times; built from one deflate block of 1 MiB of zeros
    repeated (a full flush makes every block alike), so that 4 GiB takes a second, not half a
    minute. `size` is a multiple of 1 MiB."""
    block = bytes(1 << 20)
    deflate = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    head = deflate.compress(block) + deflate.flush(zlib.Z_FULL_FLUSH)
    repeat = deflate.compress(block) + deflate.flush(zlib.Z_FULL_FLUSH)
    end = deflate.flush()
    blocks = size // len(block)
    crc = 0
    for _ in range(blocks):
        crc = zlib.crc32(block, crc)
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"
    trailer = struct.pack("<II", crc, size & 0xFFFFFFFF)
    data = header + head + repeat * (blocks - 1) + end + trailer
    for _ in range(layers - 1):
        data = gzip.compress(data, compresslevel=9, mtime=0)
    return data
