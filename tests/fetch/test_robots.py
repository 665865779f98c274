"""robots.txt as RFC 9309 reads it (protego): the longest match wins, `*` and `$` patterns,
Crawl-delay within its bounds, what a 4xx, a 5xx or no answer means, and every redirect hop
checked."""

from __future__ import annotations

from dataclasses import replace
from urllib.robotparser import RobotFileParser

import pytest

from tasks.fetch.config import FetchConfig
from tasks.fetch.crawl import fetch_sources
from tasks.fetch.http import Exchange, Fetcher
from tasks.fetch.robots import rules_of
from tests.fetch.helpers import FAST, Clock, night, rows_by_url, timed
from tests.webserver import page, serve_site


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
    rows = {u.removeprefix(site.base): r for u, r in rows_by_url(table).items()}
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
        table = night(site, [site.url("/a.html")], cfg=cfg)
        assert site.hits("/a.html") == []
    row = table.to_pylist()[0]
    assert (row["outcome"], row["reason"]) == ("failed", "http_error")
    assert "robots.txt" in row["detail"]
    off = night(site, [site.url("/a.html")], cfg=replace(cfg, obey_robots=False))
    assert off.to_pylist()[0]["reason"] == "connection_failed"  # the site is gone by now


def test_a_redirect_to_a_path_robots_txt_disallows_is_not_followed():
    with serve_site() as site:
        site.put("/robots.txt", "User-agent: *\nDisallow: /private/\n", content_type="text/plain")
        site.put("/hop.html", b"", redirect="/private/secret.html")
        site.put("/private/secret.html", page("Secret", ["Not for crawlers."]))
        rows, _ = timed(site, ["/hop.html"])
        assert site.hits("/private/secret.html") == []
    row = rows["/hop.html"]
    assert (row["outcome"], row["reason"], row["status"]) == ("failed", "robots_disallowed", 302)
    assert "/private/secret.html" in row["detail"]


# --------------------------------------------------------------------------- RFC 9309 matching

NEWS = "User-agent: *\nDisallow: /news/\nAllow: /news/public/\n"


def _rules(text: str, cfg: FetchConfig = FAST):
    rules = rules_of(Exchange(status=200, body=text.encode()), cfg.robots_max_bytes)
    return lambda path: rules.can_fetch(f"http://h{path}", cfg.product_token)


@pytest.mark.parametrize("text", [NEWS, "User-agent: *\nAllow: /news/public/\nDisallow: /news/\n"])
def test_the_longest_matching_rule_wins_whatever_the_order(text):
    allowed = _rules(text)
    assert allowed("/news/public/a")
    assert not allowed("/news/x") and not allowed("/news/")
    assert allowed("/sport/a") and allowed("/news")


def test_the_standard_librarys_parser_got_the_longest_match_wrong():
    # Why protego: urllib.robotparser applies the first rule that matches.
    stdlib = RobotFileParser()
    stdlib.parse(NEWS.splitlines())
    assert not stdlib.can_fetch("wiredesk", "http://h/news/public/a")
    assert _rules(NEWS)("/news/public/a")


def test_wildcards_and_end_anchors_match_as_rfc_9309_says():
    allowed = _rules(
        "User-agent: *\nDisallow: /*.pdf$\nDisallow: /search*q=\nDisallow: /\nAllow: /$\n"
        "Allow: /a/\n"
    )
    assert allowed("/") and not allowed("/index.html")
    assert not allowed("/a/report.pdf") and allowed("/a/report.pdf?page=2")
    assert allowed("/a/report.pdfs")
    assert not allowed("/search?q=ferry") and not allowed("/search/all?lang=en&q=x")
    assert allowed("/a/search-help.html")


def test_only_our_product_token_picks_a_group():
    # The whole User-Agent header says "nightly news ingest"; a group for a crawler called
    # "news" is not ours, and neither is one whose name only starts like ours.
    text = (
        "User-agent: news\nDisallow: /\n\nUser-agent: wiredeskbot\nDisallow: /\n\n"
        "User-agent: WireDesk\nDisallow: /private/\n\nUser-agent: *\nDisallow: /all/\n"
    )
    allowed = _rules(text)
    assert allowed("/a.html") and allowed("/all/a.html")
    assert not allowed("/private/a.html")


@pytest.mark.parametrize(
    ("answer", "verdict"),
    [
        (Exchange(status=404), "all"),
        (Exchange(status=403), "all"),
        (Exchange(status=410), "all"),
        (Exchange(status=302, reason="redirect_off_host", detail="HTTP 302 to http://x/"), "all"),
        (Exchange(status=301, reason="too_many_redirects", detail="more than 5"), "all"),
        (Exchange(status=503, reason="http_error", detail="HTTP 503 after 4 tries"), "none"),
        (Exchange(reason="timeout", detail="no complete response within 30 s"), "none"),
        (Exchange(reason="connection_failed", detail="ConnectError"), "none"),
        (Exchange(status=204), "none"),
        (Exchange(status=200, body=b""), "all"),
    ],
)
def test_what_each_answer_to_robots_txt_means(answer, verdict):
    rules = rules_of(answer, FAST.robots_max_bytes)
    if verdict == "none":
        assert rules is answer
    elif rules is not None:
        assert rules.can_fetch("http://h/any/where", "wiredesk")


def test_rules_past_the_parse_limit_are_ignored():
    late = "Disallow: /late/\n"
    text = "User-agent: *\n" + "# filler\n" * 100 + late
    cfg = replace(FAST, robots_max_bytes=len(text) - len(late))
    assert _rules(text, cfg)("/late/a.html")
    assert not _rules(text)("/late/a.html")


# --------------------------------------------------------------------------- against a site


def test_longest_match_against_a_site_and_on_every_redirect_hop():
    with serve_site() as site:
        site.put("/robots.txt", NEWS, content_type="text/plain")
        site.put("/news/public/a.html", page("Public", ["Open to all."]))
        site.put("/news/x.html", page("Closed", ["Not for crawlers."]))
        site.put("/to-public.html", b"", redirect="/news/public/a.html")
        site.put("/to-closed.html", b"", redirect="/news/x.html")
        rows, _ = timed(
            site, ["/news/public/a.html", "/news/x.html", "/to-public.html", "/to-closed.html"]
        )
        assert site.hits("/news/x.html") == []
        assert len(site.hits("/news/public/a.html")) == 2  # asked for, then by a redirect
    outcomes = {path: (r["outcome"], r["reason"]) for path, r in rows.items()}
    assert outcomes == {
        "/news/public/a.html": ("new", None),
        "/news/x.html": ("failed", "robots_disallowed"),
        "/to-public.html": ("new", None),
        "/to-closed.html": ("failed", "robots_disallowed"),
    }
    assert "redirect to" in rows["/to-closed.html"]["detail"]


@pytest.mark.parametrize("status", [401, 403, 404, 410, 429])
def test_a_robots_txt_answered_4xx_allows_everything(status):
    cfg = replace(FAST, retries=0)
    with serve_site() as site:
        site.put("/robots.txt", "User-agent: *\nDisallow: /\n", failures=[status] * 5)
        site.put("/a.html", page("A", ["Words."]))
        table = night(site, [site.url("/a.html")], cfg=cfg)
    row = table.to_pylist()[0]
    if status == 429:  # transient, not "unavailable": after the retries the origin is closed
        assert (row["outcome"], row["reason"]) == ("failed", "http_error")
        assert "robots.txt" in row["detail"]
    else:
        assert (row["outcome"], row["reason"]) == ("new", None)


@pytest.mark.parametrize(
    ("crawl_delay", "spacing"),
    [("0.5", 1.0), ("1", 1.0), ("2.5", 2.5), ("30", 30.0), ("100", 30.0), ("soon", 1.0)],
)
def test_a_crawl_delay_is_honoured_above_our_delay_up_to_its_cap(crawl_delay, spacing):
    clock = Clock()
    cfg = FetchConfig(host_delay_seconds=1.0, retries=0)
    with serve_site() as site:
        site.put("/robots.txt", f"User-agent: *\nCrawl-delay: {crawl_delay}\n")
        site.put("/a.html", page("A", ["Words."]))
        site.put("/b.html", page("B", ["Words."]))
        with Fetcher(cfg, sleep=clock.sleep, clock=clock) as fetcher:
            fetch_sources([site.url("/a.html"), site.url("/b.html")], {}, cfg, fetcher)
    assert clock.sleeps == [spacing, spacing]  # robots.txt to a, a to b
