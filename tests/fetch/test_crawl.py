"""A night of fetches from a loopback site: conditional requests, what changed, failures as
rows with reasons, listing caps, and the night written in batches. No Prefect here."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq

from tasks import io
from tasks.fetch.config import FetchConfig
from tasks.fetch.crawl import batches, fetch_night, quarantined
from tasks.revisions import Previous, fetched_pages, fetched_state, latest_sources
from tasks.schema import FETCHED, QUARANTINED
from tests.conftest import RUN_ID, STARTED
from tests.fetch.helpers import HOSTILE, night, rows_by_url
from tests.webserver import Site, page, rss, serve_site, sitemap, slow_headers


def _site_with_feed_and_sitemap(site: Site) -> None:
    site.put("/a.html", page("Barrier", ["The Velmora barrier closed at dawn."]))
    site.put("/b.html", page("Library", ["The Velmora library reopened."]))
    site.put("/c.html", page("Ferry", ["The island ferry ran late."]))
    site.put(
        "/feed.xml", rss(site.base, ["/a.html", "/b.html"]), content_type="application/rss+xml"
    )
    site.put("/sitemap.xml", sitemap(site.base, ["/b.html", "/c.html"]), content_type="text/xml")


def test_first_night_fetches_feed_sitemap_and_each_listed_page_once():
    with serve_site() as site:
        _site_with_feed_and_sitemap(site)
        table = night(site, [site.url("/feed.xml"), site.url("/sitemap.xml")])
    rows = rows_by_url(table)
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
        night1 = night(site, sources)
        previous = latest_sources(fetched_state(night1))
        site.put("/b.html", page("Library", ["The Velmora library reopened on Monday."]))
        site.put("/d.html", page("Harbour", ["A new harbour master was named."]))
        site.put(
            "/feed.xml",
            rss(site.base, ["/a.html", "/b.html", "/d.html"]),
            content_type="application/rss+xml",
        )
        site.clear_log()
        night2 = night(site, sources, previous)
        log = list(site.log)
    rows = rows_by_url(night2)
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
        night1 = night(site, [site.url("/a.html")])
        night2 = night(site, [site.url("/a.html")], latest_sources(fetched_state(night1)))
    row = night2.to_pylist()[0]
    assert (row["status"], row["outcome"], row["content"]) == (200, "unchanged", None)


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
        table = night(site, [site.url(p) for p in paths] + ["ftp://h/x"], cfg=cfg)
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
        table = night(site, [site.url("/feed.xml")], cfg=cfg)
    rows = table.to_pylist()
    assert [r["reason"] for r in rows if r["outcome"] == "failed"] == ["too_many_links"]
    assert len([r for r in rows if r["kind"] == "page"]) == 2


def test_links_that_are_not_http_are_never_fetched_nor_published_as_url():
    odd = ["javascript:alert(1)", "JavaScript:void(0)", "file:///etc/passwd", "data:,hi"]
    with serve_site() as site:
        items = "".join(f"<item><link>{link}</link></item>" for link in odd)
        site.put(
            "/feed.xml", rss(site.base, ["/a.html"]).replace("</channel>", items + "</channel>")
        )
        site.put("/a.html", page("A", ["Words."]))
        table = night(site, [site.url("/feed.xml")], cfg=HOSTILE)
        assert {h.path for h in site.log} == {"/robots.txt", "/feed.xml", "/a.html"}
    failed = [r for r in table.to_pylist() if r["outcome"] == "failed"]
    assert len(failed) == len(odd) and {r["reason"] for r in failed} == {"not_http"}
    bad = quarantined(table, run_id=RUN_ID, at=STARTED)
    assert bad.column("url").null_count == len(odd)  # kept as source_path only
    assert sorted(bad.column("source_path").to_pylist()) == sorted(r["url"] for r in failed)


def test_a_page_of_nothing_is_a_page_and_odd_validators_are_not_sent():
    with serve_site() as site:
        site.put("/nothing.html", "<!-- nothing -->")
        site.put("/a.html", page("A", ["Words."]))
        # Validators come back from an earlier night's headers: one httpx cannot send must
        # not fail the request (it used to raise UnicodeEncodeError and stop the night).
        previous = {site.url("/a.html"): Previous("page", "0" * 64, etag='"caf\xe9"')}
        table = night(site, [site.url("/nothing.html"), site.url("/a.html")], previous)
        assert not site.hits("/a.html")[0].conditional
    rows = rows_by_url(table)
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


def test_what_other_stages_import_from_crawl_is_still_there():
    # ingest reads failed fetches through these; flows build FetchConfig and run fetch_night.
    from tasks.fetch import config, crawl

    assert crawl.FetchConfig is config.FetchConfig
    assert crawl.OUTCOME_COLUMNS == [
        "url",
        "outcome",
        "reason",
        "detail",
        "raw_sha256",
        "size_bytes",
    ]
    assert all(callable(f) for f in (crawl.quarantined, crawl.fetch_night, crawl.fetch_sources))
    assert set(crawl.__all__) <= set(dir(crawl))
