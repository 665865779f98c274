"""Page metadata: structured sources first, header clocks and non-names refused."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from tasks.extract.maintext import parse_html, visible_text
from tasks.extract.metadata import header_clock, page_metadata, parse_datetime

FETCHED = datetime(2026, 3, 14, 2, 0, tzinfo=UTC)
BODY = "<p>The harbour board of Ostmere approved a new pier on Tuesday afternoon.</p>"


def _meta(head: str, body: str = BODY) -> object:
    tree = parse_html(f"<html><head>{head}</head><body>{body}</body></html>")
    return page_metadata(
        tree, url=None, latest=FETCHED, visible_top=lambda: visible_text(tree, 600)
    )


def test_json_ld_article_gives_headline_date_and_author():
    ld = {
        "@context": "https://schema.org",
        "@graph": [
            {"@type": "WebSite", "name": "Ostmere Chronicle"},
            {
                "@type": "NewsArticle",
                "headline": "Ostmere approves a new pier",
                "datePublished": "2026-03-10T08:00:00+01:00",
                "author": [{"@type": "Person", "name": "Mara Quill"}],
            },
        ],
    }
    meta = _meta(
        f'<script type="application/ld+json">{json.dumps(ld)}</script>'
        '<meta property="og:title" content="Other title">'
        '<link rel="canonical" href="https://ostmere.example/pier">'
    )
    assert meta.title == "Ostmere approves a new pier"
    assert meta.published == datetime(2026, 3, 10, 7, 0, tzinfo=UTC)
    assert meta.author == "Mara Quill" and meta.date_source == "structured"
    assert meta.url == "https://ostmere.example/pier"


def test_meta_tags_and_title_element_are_the_fallbacks():
    meta = _meta(
        '<meta property="article:published_time" content="2026-03-09">'
        '<meta name="author" content="By Tom Vell">'
        '<meta property="og:site_name" content="Ostmere Chronicle">'
        '<meta name="description" content="The board approved the pier.">'
        "<title>New pier approved | Ostmere Chronicle</title>"
    )
    assert meta.title == "New pier approved"
    assert meta.published == datetime(2026, 3, 9, tzinfo=UTC)
    assert meta.author == "Tom Vell"
    assert meta.sitename == "Ostmere Chronicle"
    assert meta.description == "The board approved the pier."


def test_urls_and_long_strings_are_not_authors():
    assert _meta('<meta name="author" content="https://ostmere.example/staff">').author is None
    long = "A sentence that is clearly not the name of any person at all here"
    assert _meta(f'<meta name="author" content="{long}">').author is None


def test_a_header_clock_is_not_a_publication_date():
    body = "<div>Friday, October 7, 2022</div><h1>Pier approved</h1>" + BODY
    assert header_clock("Home Friday, October 7, 2022 News") == datetime(2022, 10, 7).date()
    meta = _meta("<title>Pier</title>", body)
    assert meta.published is None


def test_a_page_without_metadata_gets_nones_and_a_heading_title():
    meta = _meta("", "<h1>Ostmere approves pier</h1>" + BODY)
    assert meta.title == "Ostmere approves pier"
    assert meta.author is None and meta.url is None


def test_parse_datetime_accepts_iso_forms_only():
    assert parse_datetime("2026-03-10") == datetime(2026, 3, 10, tzinfo=UTC)
    assert parse_datetime("2026-03-10T08:00:00Z") == datetime(2026, 3, 10, 8, 0, tzinfo=UTC)
    assert parse_datetime("10 March 2026") is None and parse_datetime("") is None
