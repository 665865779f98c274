"""A small loopback web site for the fetch tests: pages, feeds and sitemaps with ETag and
Last-Modified, scripted failures and redirects, and a log of every request it answered."""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


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
