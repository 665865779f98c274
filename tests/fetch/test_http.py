"""The HTTP client against a loopback site: spacing of requests to one host, one deadline
per request whatever the server trickles, body caps before and after one content decoding, and
redirects that stay on the origin asked for."""

from __future__ import annotations

import gzip
import tracemalloc
import zlib

from tasks.fetch.config import FetchConfig
from tasks.fetch.crawl import fetch_sources
from tasks.fetch.http import Fetcher
from tests.fetch.helpers import HOSTILE, MARGIN, Clock, timed
from tests.webserver import endless_body, gzip_bomb, page, rss, serve_site, slow_headers


def test_requests_to_one_host_are_spaced():
    clock = Clock()
    cfg = FetchConfig(host_delay_seconds=1.5, retries=0)
    with serve_site() as site:
        for name in ("a", "b", "c"):
            site.put(f"/{name}.html", page(name, ["Words."]))
        with Fetcher(cfg, sleep=clock.sleep, clock=clock) as fetcher:
            fetch_sources([site.url(f"/{n}.html") for n in "abc"], {}, cfg, fetcher)
    assert clock.sleeps == [1.5, 1.5, 1.5]  # robots.txt, then a, b, c


def test_headers_sent_one_byte_at_a_time_time_out_at_the_deadline():
    with serve_site() as site:
        # Each byte comes well within the 5 s read timeout; the whole would take 30 s.
        site.put("/slow-headers.html", b"", raw=slow_headers(0.2, 30.0))
        rows, seconds = timed(site, ["/slow-headers.html"])
    row = rows["/slow-headers.html"]
    assert (row["outcome"], row["reason"]) == ("failed", "timeout")
    assert row["attempts"] == 2  # one retry after a timeout, not `retries`
    assert seconds < 2 * HOSTILE.request_seconds + MARGIN


def test_a_body_that_never_ends_is_cut_by_size_or_by_the_deadline():
    with serve_site() as site:
        site.put("/fast.html", b"", raw=endless_body(b"x" * 65536))
        site.put("/trickle.html", b"", raw=endless_body(b"x" * 64, interval=0.05))
        rows, seconds = timed(site, ["/fast.html", "/trickle.html"])
    assert rows["/fast.html"]["reason"] == "too_large"
    assert (rows["/trickle.html"]["reason"], rows["/trickle.html"]["attempts"]) == ("timeout", 2)
    assert seconds < 2 * HOSTILE.request_seconds + MARGIN


def test_one_content_encoding_is_decoded_stacked_or_unknown_ones_are_refused():
    body = page("Packed", ["Sent compressed."]).encode()
    deflater = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    raw_deflate = deflater.compress(body) + deflater.flush()
    with serve_site() as site:
        site.put("/gzip.html", gzip.compress(body), headers={"Content-Encoding": "gzip"})
        site.put("/zlib.html", zlib.compress(body), headers={"Content-Encoding": "deflate"})
        site.put("/raw.html", raw_deflate, headers={"Content-Encoding": "deflate"})
        site.put(
            "/twice.html",
            gzip.compress(gzip.compress(body)),
            headers={"Content-Encoding": "gzip, gzip"},
        )
        # 3 KiB on the wire, 1 GiB after the second layer: never decoded at all.
        site.put("/bomb.html", gzip_bomb(1 << 30, 2), headers={"Content-Encoding": "gzip, gzip"})
        site.put("/br.html", b"\x0b\x02\x80hello\x03", headers={"Content-Encoding": "br"})
        site.put("/bad.html", b"not gzip at all", headers={"Content-Encoding": "gzip"})
        paths = ["/gzip.html", "/zlib.html", "/raw.html", "/twice.html", "/bomb.html"]
        rows, seconds = timed(site, [*paths, "/br.html", "/bad.html"])
    for path in ("/gzip.html", "/zlib.html", "/raw.html"):
        assert (rows[path]["outcome"], rows[path]["content"]) == ("new", body)
    for path in ("/twice.html", "/bomb.html", "/br.html"):
        assert (rows[path]["outcome"], rows[path]["reason"]) == ("failed", "unsupported_encoding")
    assert rows["/bad.html"]["reason"] == "http_error"
    assert "content encoding" in rows["/bad.html"]["detail"]
    assert seconds < MARGIN


def test_a_gzip_bomb_is_cut_at_the_cap_without_inflating_in_memory():
    with serve_site() as site:
        # 64 KiB on the wire, 64 MiB inflated; the cap is 1 MiB.
        site.put("/bomb.html", gzip_bomb(64 << 20), headers={"Content-Encoding": "gzip"})
        tracemalloc.start()
        try:
            rows, seconds = timed(site, ["/bomb.html"])
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    # The cap, plus one decoding step and the server's copy of the body; inflating a network
    # chunk at once (httpx's decoder) takes 64 MiB and more.
    assert peak < 8 << 20
    assert rows["/bomb.html"]["reason"] == "too_large"
    assert rows["/bomb.html"]["detail"] == f"over {1 << 20} bytes decoded"
    assert seconds < MARGIN


def test_redirects_and_listed_links_stay_on_the_scheme_host_and_port_asked_for():
    with serve_site() as other, serve_site() as site:
        other.put("/a.html", page("Other port", ["Same host, another server."]))
        other_port = other.base.rsplit(":", 1)[1]
        site.put("/to-port.html", b"", redirect=other.url("/a.html"))
        site.put("/to-https.html", b"", redirect=site.base.replace("http:", "https:") + "/a.html")
        site.put("/to-file.html", b"", redirect="file:///etc/passwd")
        site.put(
            "/feed.xml",
            rss(site.base, ["/a.html"]).replace(
                "</channel>",
                f"<item><link>http://127.0.0.1:{other_port}/a.html</link></item></channel>",
            ),
        )
        site.put("/a.html", page("Here", ["On this port."]))
        rows, _ = timed(site, ["/to-port.html", "/to-https.html", "/to-file.html", "/feed.xml"])
        assert other.log == []  # not even its robots.txt
    assert rows["/to-port.html"]["reason"] == "redirect_off_host"
    assert rows["/to-https.html"]["reason"] == "redirect_off_host"
    assert rows["/to-file.html"]["reason"] == "redirect_off_host"
    assert rows[other.url("/a.html")]["reason"] == "off_host"
    assert rows["/a.html"]["outcome"] == "new"
