"""What a fetched body is, and what a feed or sitemap lists: a body (with its Content-Type) ->
`feed`, `sitemap` or `page` by its root element; an RSS/Atom feed (feedparser) or a sitemap or
sitemap index (lxml: no DTD, no entities, no network; gzipped ones inflated under a cap) -> the
absolute URLs it lists, in order. Pure functions of bytes; a sitemap that does not parse raises
ValueError (or OverflowError past the cap), which the crawl records as `bad_listing`."""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterable
from io import BytesIO

from tasks.fetch.urls import absolute

FEED_MEDIA = ("application/rss+xml", "application/atom+xml", "application/rdf+xml")
# Enough of the start of a body to see its root element behind an XML declaration and comments.
SNIFF_BYTES = 4096
_ROOT_TAG = re.compile(rb"<([A-Za-z_][\w:.-]*)")


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
