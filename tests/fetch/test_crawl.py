"""Fetching pages, feeds and sitemaps from a loopback site: conditional requests, retries,
limits and the reasons failures get, and servers that misbehave (headers one byte at a time,
endless bodies, compression bombs, redirects where the crawl may not go). No Prefect here."""

from __future__ import annotations

import gzip
import time
import tracemalloc
import zlib
from dataclasses import replace

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tasks import io
from tasks.fetch.crawl import (
    FetchConfig,
    Fetcher,
    batches,
    detect_kind,
    fetch_night,
    fetch_sources,
    parse_sitemap,
    quarantined,
    url_problem,
)
from tasks.revisions import Previous, fetched_pages, fetched_state, latest_sources
from tasks.schema import FETCHED, QUARANTINED
from tests.conftest import RUN_ID, STARTED
from tests.webserver import (
    Site,
    endless_body,
    gzip_bomb,
    page,
    rss,
    serve_site,
    sitemap,
    slow_headers,
)

FAST = FetchConfig(host_delay_seconds=0.0, backoff_seconds=0.01, retries=2, read_timeout=5.0)


class Clock:
    """A fake monotonic clock: sleeping advances it, so waits are counted, not slept."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(round(seconds, 3))
        self.now += seconds


def _rows(table: pa.Table) -> dict[str, dict]:
    return {r["url"]: r for r in table.to_pylist()}


def _night(site: Site, sources: list[str], previous=None, cfg: FetchConfig = FAST) -> pa.Table:
    with Fetcher(cfg) as fetcher:
        table = fetch_sources(sources, previous or {}, cfg, fetcher)
    assert table.schema == FETCHED
    return table


def _site_with_feed_and_sitemap(site: Site) -> None:
    site.put("/a.html", page("Barrier", ["The Velmora barrier closed at dawn."]))
    site.put("/b.html", page("Library", ["The Velmora library reopened."]))
    site.put("/c.html", page("Ferry", ["The island ferry ran late."]))
    site.put(
        "/feed.xml", rss(site.base, ["/a.html", "/b.html"]), content_type="application/rss+xml"
    )
    site.put("/sitemap.xml", sitemap(site.base, ["/b.html", "/c.html"]), content_type="text/xml")


def test_url_problems_are_named():
    assert url_problem("https://example.org/a") is None
    assert url_problem("file:///etc/passwd")[0] == "not_http"
    assert url_problem("javascript:alert(1)")[0] == "not_http"
    assert url_problem("ftp://host/x")[0] == "not_http"
    assert url_problem("http:///nohost")[0] == "bad_url"
    assert url_problem("http://h:99999/x")[0] == "bad_url"
    assert url_problem("http://[::1/x")[0] == "bad_url"


@pytest.mark.parametrize(
    ("content_type", "body", "kind"),
    [
        ("application/rss+xml", b"<rss/>", "feed"),
        ("text/xml", b'<?xml version="1.0"?><!-- hi --><feed xmlns="a"/>', "feed"),
        ("application/xml", b"<?xml version='1.0'?><urlset/>", "sitemap"),
        (None, b"<sitemapindex/>", "sitemap"),
        ("text/html", b"<html><body>a</body></html>", "page"),
        ("text/html", b"<?xml version='1.0'?><rss/>", "feed"),
        ("text/plain", b"Plain words about <rss> feeds", "page"),
    ],
)
def test_kind_is_recognised(content_type, body, kind):
    assert detect_kind(content_type, body) == kind


def test_sitemap_parser_expands_no_entities_and_reads_no_files():
    evil = (
        b'<?xml version="1.0"?><!DOCTYPE urlset [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        b'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        b"<url><loc>http://h/&x;</loc></url><url><loc>/rel.html</loc></url></urlset>"
    )
    kind, locs = parse_sitemap(evil, "http://h/sitemap.xml", 1 << 20)
    assert kind == "urlset"
    assert all("root:" not in loc for loc in locs)
    assert "http://h/rel.html" in locs
    with pytest.raises(ValueError, match="not a sitemap"):
        parse_sitemap(b"<html/>", "http://h/", 1 << 20)


def test_first_night_fetches_feed_sitemap_and_each_listed_page_once():
    with serve_site() as site:
        _site_with_feed_and_sitemap(site)
        table = _night(site, [site.url("/feed.xml"), site.url("/sitemap.xml")])
    rows = _rows(table)
    assert rows[site.url("/feed.xml")]["kind"] == "feed"
    assert rows[site.url("/sitemap.xml")]["kind"] == "sitemap"
    assert rows[site.url("/feed.xml")]["listed"] == [site.url("/a.html"), site.url("/b.html")]
    pages = {u: r for u, r in rows.items() if r["kind"] == "page"}
    assert sorted(pages) == [site.url(p) for p in ("/a.html", "/b.html", "/c.html")]
    assert {r["outcome"] for r in pages.values()} == {"new"}
    assert all(r["content"] and r["raw_sha256"] and r["etag"] for r in pages.values())
    assert len(site.hits("/b.html")) == 1  # listed twice, fetched once
    assert pages[site.url("/b.html")]["listed_by"] == site.url("/feed.xml")


def test_second_night_asks_conditionally_and_sees_only_what_changed():
    with serve_site() as site:
        _site_with_feed_and_sitemap(site)
        sources = [site.url("/feed.xml"), site.url("/sitemap.xml")]
        night1 = _night(site, sources)
        previous = latest_sources(fetched_state(night1))
        site.put("/b.html", page("Library", ["The Velmora library reopened on Monday."]))
        site.put("/d.html", page("Harbour", ["A new harbour master was named."]))
        site.put(
            "/feed.xml",
            rss(site.base, ["/a.html", "/b.html", "/d.html"]),
            content_type="application/rss+xml",
        )
        site.clear_log()
        night2 = _night(site, sources, previous)
        log = list(site.log)
    rows = _rows(night2)
    outcome = {u.removeprefix(site.base): r["outcome"] for u, r in rows.items()}
    assert outcome == {
        "/feed.xml": "changed",
        "/sitemap.xml": "not_modified",
        "/a.html": "not_modified",
        "/b.html": "changed",
        "/c.html": "not_modified",
        "/d.html": "new",
    }
    # Every URL known from night 1 was asked conditionally; only the new one was not (and
    # robots.txt, read afresh once a night).
    assert {h.path for h in log if not h.conditional} == {"/d.html", "/robots.txt"}
    assert len([h for h in log if h.path == "/robots.txt"]) == 1
    assert {h.path: h.status for h in log if h.conditional} == {
        "/feed.xml": 200,
        "/sitemap.xml": 304,
        "/a.html": 304,
        "/b.html": 200,
        "/c.html": 304,
    }
    # Unchanged pages carry no bytes; the 304 sitemap still lists its pages.
    assert rows[site.url("/a.html")]["content"] is None
    assert rows[site.url("/sitemap.xml")]["listed"] == [site.url("/b.html"), site.url("/c.html")]


def test_a_200_with_the_same_bytes_is_unchanged():
    with serve_site() as site:
        site.put("/a.html", page("A", ["Same words."]), etag=False, last_modified=False)
        night1 = _night(site, [site.url("/a.html")])
        night2 = _night(site, [site.url("/a.html")], latest_sources(fetched_state(night1)))
    row = night2.to_pylist()[0]
    assert (row["status"], row["outcome"], row["content"]) == (200, "unchanged", None)


def test_transient_failures_are_retried_with_backoff():
    clock = Clock()
    cfg = FetchConfig(host_delay_seconds=0.0, backoff_seconds=1.0, retries=3)
    with serve_site() as site:
        site.put("/flaky.html", page("Flaky", ["Up at last."]), failures=[503, 503])
        site.put("/down.html", page("Down", ["Never."]), failures=[500] * 10)
        with Fetcher(cfg, sleep=clock.sleep, clock=clock) as fetcher:
            table = fetch_sources(
                [site.url("/flaky.html"), site.url("/down.html")], {}, cfg, fetcher
            )
    rows = _rows(table)
    flaky, down = rows[site.url("/flaky.html")], rows[site.url("/down.html")]
    assert (flaky["outcome"], flaky["attempts"]) == ("new", 3)
    assert (down["outcome"], down["reason"], down["attempts"]) == ("failed", "http_error", 4)
    assert clock.sleeps == [1.0, 2.0, 1.0, 2.0, 4.0]  # 1, 2 s; then 1, 2, 4 s


def test_requests_to_one_host_are_spaced():
    clock = Clock()
    cfg = FetchConfig(host_delay_seconds=1.5, retries=0)
    with serve_site() as site:
        for name in ("a", "b", "c"):
            site.put(f"/{name}.html", page(name, ["Words."]))
        with Fetcher(cfg, sleep=clock.sleep, clock=clock) as fetcher:
            fetch_sources([site.url(f"/{n}.html") for n in "abc"], {}, cfg, fetcher)
    assert clock.sleeps == [1.5, 1.5, 1.5]  # robots.txt, then a, b, c


def test_robots_txt_is_obeyed_with_its_crawl_delay():
    clock = Clock()
    cfg = FetchConfig(host_delay_seconds=1.0, retries=0)
    with serve_site() as site:
        site.put(
            "/robots.txt",
            "User-agent: *\nDisallow: /\n\n"
            "User-agent: wiredesk\nDisallow: /private/\nCrawl-delay: 4\n",
            content_type="text/plain",
        )
        for path in ("/a.html", "/b.html", "/private/c.html"):
            site.put(path, page(path, ["Words."]))
        with Fetcher(cfg, sleep=clock.sleep, clock=clock) as fetcher:
            table = fetch_sources(
                [site.url(p) for p in ("/a.html", "/private/c.html", "/b.html")], {}, cfg, fetcher
            )
    rows = {u.removeprefix(site.base): r for u, r in _rows(table).items()}
    assert {p: (r["outcome"], r["reason"]) for p, r in rows.items()} == {
        "/a.html": ("new", None),
        "/private/c.html": ("failed", "robots_disallowed"),
        "/b.html": ("new", None),
    }
    assert site.hits("/private/c.html") == [] and len(site.hits("/robots.txt")) == 1
    assert clock.sleeps == [4.0, 4.0]  # the site's Crawl-delay, not our 1 s


def test_a_host_whose_robots_txt_fails_is_left_alone_tonight():
    cfg = FetchConfig(host_delay_seconds=0.0, backoff_seconds=0.01, retries=1)
    with serve_site() as site:
        site.put("/robots.txt", "User-agent: *\nAllow: /\n", failures=[503] * 10)
        site.put("/a.html", page("A", ["Words."]))
        table = _night(site, [site.url("/a.html")], cfg=cfg)
        assert site.hits("/a.html") == []
    row = table.to_pylist()[0]
    assert (row["outcome"], row["reason"]) == ("failed", "http_error")
    assert "robots.txt" in row["detail"]
    off = _night(site, [site.url("/a.html")], cfg=replace(cfg, obey_robots=False))
    assert off.to_pylist()[0]["reason"] == "connection_failed"  # the site is gone by now


def test_failures_become_quarantine_rows_with_reasons():
    cfg = FetchConfig(
        host_delay_seconds=0.0, backoff_seconds=0.01, retries=0, max_bytes=2000, read_timeout=3.0
    )
    with serve_site() as site:
        site.put("/big.html", "<p>" + "x" * 5000 + "</p>")
        site.put("/img.png", b"\x89PNG....", content_type="image/png")
        site.put("/empty.html", b"   ")
        site.put("/hop.html", b"", redirect="/a.html")
        site.put("/a.html", page("A", ["Arrived."]))
        site.put("/away.html", b"", redirect="http://localhost:9/elsewhere")
        # Far past the read timeout, so that a loaded machine cannot blur the two.
        site.put("/slow.html", page("Slow", ["Late."]), delay=15.0)
        site.put("/bad-sitemap.xml", "<urlset><url><loc>", content_type="application/xml")
        site.put(
            "/feed.xml",
            rss(site.base, ["/a.html"])
            .replace("</channel>", "<item><link>file:///etc/passwd</link></item></channel>")
            .replace("</channel>", "<item><link>http://localhost:1/x</link></item></channel>"),
            content_type="application/rss+xml",
        )
        paths = [
            "/big.html",
            "/img.png",
            "/empty.html",
            "/hop.html",
            "/away.html",
            "/slow.html",
            "/missing.html",
            "/bad-sitemap.xml",
            "/feed.xml",
        ]
        table = _night(site, [site.url(p) for p in paths] + ["ftp://h/x"], cfg=cfg)
    # feedparser tidies the file: URL it resolves; what matters is that it is never fetched.
    reasons = {
        ("file:" if r["url"].startswith("file:") else r["url"].removeprefix(site.base)): r["reason"]
        for r in table.to_pylist()
    }
    assert reasons == {
        "/big.html": "too_large",
        "/img.png": "unsupported_media_type",
        "/empty.html": "empty_body",
        "/hop.html": None,  # same-host redirect, followed
        "/away.html": "redirect_off_host",
        "/slow.html": "timeout",
        "/missing.html": "http_error",
        "/bad-sitemap.xml": "bad_listing",
        "/feed.xml": None,
        "/a.html": None,
        "file:": "not_http",
        "http://localhost:1/x": "off_host",
        "ftp://h/x": "not_http",
    }
    bad = quarantined(table, run_id=RUN_ID, at=STARTED)
    assert bad.schema == QUARANTINED
    assert bad.num_rows == 10 and set(bad.column("stage").to_pylist()) == {"fetch"}
    assert sorted(r for r in reasons.values() if r) == sorted(bad.column("reason").to_pylist())


def test_feed_listings_are_capped():
    cfg = FetchConfig(host_delay_seconds=0.0, max_listed=2)
    with serve_site() as site:
        for n in "abc":
            site.put(f"/{n}.html", page(n, ["Words."]))
        site.put("/feed.xml", rss(site.base, ["/a.html", "/b.html", "/c.html"]))
        table = _night(site, [site.url("/feed.xml")], cfg=cfg)
    rows = table.to_pylist()
    assert [r["reason"] for r in rows if r["outcome"] == "failed"] == ["too_many_links"]
    assert len([r for r in rows if r["kind"] == "page"]) == 2


# --------------------------------------------------------------------------- hostile servers

# A short deadline so that the misbehaving cases end fast; the bounds below are that deadline
# times the attempts allowed, plus a generous margin for a loaded machine (not a benchmark).
HOSTILE = replace(FAST, request_seconds=1.0, url_seconds=10.0, max_bytes=1 << 20)
MARGIN = 4.0


def _timed(site: Site, paths: list[str], cfg: FetchConfig = HOSTILE) -> tuple[dict, float]:
    started = time.monotonic()
    table = _night(site, [site.url(p) for p in paths], cfg=cfg)
    return {r["url"].removeprefix(site.base): r for r in table.to_pylist()}, (
        time.monotonic() - started
    )


def test_headers_sent_one_byte_at_a_time_time_out_at_the_deadline():
    with serve_site() as site:
        # Each byte comes well within the 5 s read timeout; the whole would take 30 s.
        site.put("/slow-headers.html", b"", raw=slow_headers(0.2, 30.0))
        rows, seconds = _timed(site, ["/slow-headers.html"])
    row = rows["/slow-headers.html"]
    assert (row["outcome"], row["reason"]) == ("failed", "timeout")
    assert row["attempts"] == 2  # one retry after a timeout, not `retries`
    assert seconds < 2 * HOSTILE.request_seconds + MARGIN


def test_a_body_that_never_ends_is_cut_by_size_or_by_the_deadline():
    with serve_site() as site:
        site.put("/fast.html", b"", raw=endless_body(b"x" * 65536))
        site.put("/trickle.html", b"", raw=endless_body(b"x" * 64, interval=0.05))
        rows, seconds = _timed(site, ["/fast.html", "/trickle.html"])
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
        rows, seconds = _timed(site, [*paths, "/br.html", "/bad.html"])
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
            rows, seconds = _timed(site, ["/bomb.html"])
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    # The cap, plus one decoding step and the server's copy of the body; inflating a network
    # chunk at once (httpx's decoder) takes 64 MiB and more.
    assert peak < 8 << 20
    assert rows["/bomb.html"]["reason"] == "too_large"
    assert rows["/bomb.html"]["detail"] == f"over {1 << 20} bytes decoded"
    assert seconds < MARGIN


def test_a_redirect_to_a_path_robots_txt_disallows_is_not_followed():
    with serve_site() as site:
        site.put("/robots.txt", "User-agent: *\nDisallow: /private/\n", content_type="text/plain")
        site.put("/hop.html", b"", redirect="/private/secret.html")
        site.put("/private/secret.html", page("Secret", ["Not for crawlers."]))
        rows, _ = _timed(site, ["/hop.html"])
        assert site.hits("/private/secret.html") == []
    row = rows["/hop.html"]
    assert (row["outcome"], row["reason"], row["status"]) == ("failed", "robots_disallowed", 302)
    assert "/private/secret.html" in row["detail"]


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
        rows, _ = _timed(site, ["/to-port.html", "/to-https.html", "/to-file.html", "/feed.xml"])
        assert other.log == []  # not even its robots.txt
    assert rows["/to-port.html"]["reason"] == "redirect_off_host"
    assert rows["/to-https.html"]["reason"] == "redirect_off_host"
    assert rows["/to-file.html"]["reason"] == "redirect_off_host"
    assert rows[other.url("/a.html")]["reason"] == "off_host"
    assert rows["/a.html"]["outcome"] == "new"


def test_links_that_are_not_http_are_never_fetched_nor_published_as_url():
    odd = ["javascript:alert(1)", "JavaScript:void(0)", "file:///etc/passwd", "data:,hi"]
    with serve_site() as site:
        items = "".join(f"<item><link>{link}</link></item>" for link in odd)
        site.put(
            "/feed.xml", rss(site.base, ["/a.html"]).replace("</channel>", items + "</channel>")
        )
        site.put("/a.html", page("A", ["Words."]))
        table = _night(site, [site.url("/feed.xml")], cfg=HOSTILE)
        assert {h.path for h in site.log} == {"/robots.txt", "/feed.xml", "/a.html"}
    failed = [r for r in table.to_pylist() if r["outcome"] == "failed"]
    assert len(failed) == len(odd) and {r["reason"] for r in failed} == {"not_http"}
    bad = quarantined(table, run_id=RUN_ID, at=STARTED)
    assert bad.column("url").null_count == len(odd)  # kept as source_path only
    assert sorted(bad.column("source_path").to_pylist()) == sorted(r["url"] for r in failed)


def test_a_url_gets_its_time_budget_for_all_its_retries():
    clock = Clock()
    cfg = replace(FAST, retries=5, backoff_seconds=1.0, url_seconds=10.0)
    with serve_site() as site:
        site.put(
            "/busy.html",
            page("Busy", ["Later."]),
            failures=[503] * 10,
            headers={"Retry-After": "4"},
        )
        with Fetcher(cfg, sleep=clock.sleep, clock=clock) as fetcher:
            table = fetch_sources([site.url("/busy.html")], {}, cfg, fetcher)
    row = table.to_pylist()[0]
    assert (row["reason"], row["attempts"]) == ("http_error", 3)
    assert clock.sleeps == [4.0, 4.0]  # a third wait of 4 s would pass the 10 s


def test_a_page_of_nothing_is_a_page_and_odd_validators_are_not_sent():
    with serve_site() as site:
        site.put("/nothing.html", "<!-- nothing -->")
        site.put("/a.html", page("A", ["Words."]))
        # Validators come back from an earlier night's headers: one httpx cannot send must
        # not fail the request (it used to raise UnicodeEncodeError and stop the night).
        previous = {site.url("/a.html"): Previous("page", "0" * 64, etag='"caf\xe9"')}
        table = _night(site, [site.url("/nothing.html"), site.url("/a.html")], previous)
        assert not site.hits("/a.html")[0].conditional
    rows = _rows(table)
    nothing = rows[site.url("/nothing.html")]
    assert (nothing["kind"], nothing["outcome"], nothing["content"]) == (
        "page",
        "new",
        b"<!-- nothing -->",
    )
    assert rows[site.url("/a.html")]["outcome"] == "changed"


def test_a_night_is_written_in_batches_and_failures_never_stop_it(tmp_path):
    layout = io.Layout(tmp_path / "data", "2026-03-14")
    with serve_site() as site:
        paths = [f"/p{n}.html" for n in range(6)]
        for n, path in enumerate(paths):
            site.put(path, page(f"Page {n}", [f"Story {n}. " + "Words. " * 20_000]))
        site.put("/sitemap.xml", sitemap(site.base, paths), content_type="application/xml")
        site.put("/slow.html", b"", raw=slow_headers(0.2, 30.0))
        sources = [site.url("/sitemap.xml"), site.url("/slow.html")]
        sources += ["http://127.0.0.1:1/gone.html", "javascript:alert(1)", "http://h:99999/"]
        result = fetch_night(sources, layout, HOSTILE, batch_bytes=300_000)
    assert result.urls == 11
    assert result.outcomes == {"failed": 4, "new": 7}
    assert result.reasons == {"bad_url": 1, "connection_failed": 1, "not_http": 1, "timeout": 1}
    # Each page is about 140 KB and a batch (a row group) holds at most 300 KB of bodies: two
    # pages a group, not the whole night in one.
    groups = [pq.ParquetFile(p).num_row_groups for p in sorted(layout.raw.glob("*.parquet"))]
    assert sum(groups) == 3
    # What ingest reads of it: every page, with its bytes.
    pages = pa.concat_tables(list(fetched_pages(layout))).to_pylist()
    assert sorted(r["url"] for r in pages) == sorted(site.url(p) for p in paths)
    assert all(len(r["content"]) == r["size_bytes"] > 100_000 for r in pages)


def test_batches_hold_at_most_their_bytes_of_bodies_or_one_body():
    rows = [
        {name: None for name in FETCHED.names}
        | {"url": f"http://h/{n}", "kind": "page", "outcome": "new", "attempts": 1}
        | {"fetched_at": STARTED, "content": b"x" * size}
        for n, size in enumerate([10, 10, 25, 5, 0, 0, 0])
    ]
    sizes = [
        [len(c) for c in t.column("content").to_pylist()]
        for t in batches(iter(rows), max_bytes=20, max_rows=3)
    ]
    assert sizes == [[10, 10], [25], [5, 0, 0], [0]]
