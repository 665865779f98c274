"""Recognising feeds, sitemaps and pages by their root element, and reading sitemaps as
untrusted XML."""

from __future__ import annotations

import pytest

from tasks.fetch.listings import detect_kind, parse_sitemap


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
