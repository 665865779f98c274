"""Page metadata from a parsed HTML tree: title, publication date, author, canonical URL, site name.

Input: an lxml tree of one page (never fetched, never executed) and the fetch time. Output:
`PageMeta`. Sources, most trusted first: schema.org JSON-LD (`headline`, `datePublished`,
`author`), OpenGraph / Twitter / Dublin Core `<meta>` tags, then the page itself (`<h1>`,
`<title>`, `<time>`); the date falls back to htmldate (without its "extensive" search, which reads a
"© 2026" footer as a publication date), bounded by the fetch time. The page's header clock (a
"Friday, October 7, 2022" line at the top of its text) is no publication date: an htmldate guess
equal to it is dropped. Nothing is quarantined here: a page without metadata gets `None`s.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from lxml.html import HtmlElement

# JSON-LD blocks larger than this are not metadata (some sites inline whole app states there).
MAX_JSON_LD_CHARS = 200_000
# Authors are names: a longer "author" field is a sentence or a list of tags.
MAX_AUTHOR_WORDS = 8
MAX_TITLE_CHARS = 300

_WS = re.compile(r"\s+")
_ARTICLE_TYPES = re.compile(
    r"(?:News|Blog|Report|Scholarly|Tech|Opinion|Analysis|Review|Live|Satirical)?Article"
    r"|BlogPosting|Posting|Report|WebPage|ItemPage"
)
# Generic page types count for metadata (a WebPage may carry the headline) but do not make a page
# an article.
_PAGE_TYPES = ("WebPage", "ItemPage")
_ARTICLE_OG_TYPES = ("article", "news", "blog", "newsarticle")
_TITLE_META = (
    "og:title",
    "twitter:title",
    "dc.title",
    "dcterms.title",
    "parsely-title",
    "sailthru.title",
    "title",
)
_DATE_META = (
    "article:published_time",
    "og:article:published_time",
    "datepublished",
    "publishdate",
    "pubdate",
    "publish-date",
    "publication_date",
    "dc.date.issued",
    "dcterms.created",
    "dc.date",
    "parsely-pub-date",
    "sailthru.date",
    "date",
)
_AUTHOR_META = (
    "author",
    "article:author",
    "dc.creator",
    "dcterms.creator",
    "parsely-author",
    "sailthru.author",
    "byl",
    "twitter:creator",
)
_DESCRIPTION_META = ("og:description", "description", "twitter:description", "dc.description")
# A weekday and a full date: a page header's clock ("Friday, October 7, 2022").
_HEADER_CLOCK = re.compile(
    r"\b(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday),?\s+"
    r"(?:(?P<m1>[a-z]+)\s+(?P<d1>\d{1,2})|(?P<d2>\d{1,2})\s+(?P<m2>[a-z]+)),?\s+(?P<y>\d{4})",
    re.IGNORECASE,
)
_MONTHS = "january february march april may june july august september october november december"
# How far into a page's text its header clock may be: past the masthead and the menu.
HEADER_CLOCK_CHARS = 600


@dataclass(frozen=True)
class PageMeta:
    title: str | None = None
    published: datetime | None = None
    author: str | None = None
    url: str | None = None
    sitename: str | None = None
    description: str | None = None
    # Where `published` came from: "structured" (JSON-LD, meta, <time>) or "htmldate".
    date_source: str | None = None
    # The page says it is an article (schema.org Article types, `og:type` article).
    is_article: bool = False


def _clean(text: str | None) -> str:
    return _WS.sub(" ", text or "").strip()


def _meta_values(tree: HtmlElement) -> dict[str, str]:
    """`<meta>` name/property (lower case) -> first non-empty content."""
    found: dict[str, str] = {}
    for element in tree.iter("meta"):
        key = element.get("property") or element.get("name") or element.get("itemprop") or ""
        content = _clean(element.get("content"))
        key = key.strip().lower()
        if key and content and key not in found:
            found[key] = content
    return found


def _json_ld_objects(tree: HtmlElement) -> list[dict[str, Any]]:
    objects: list[dict[str, Any]] = []
    for script in tree.iter("script"):
        if (script.get("type") or "").strip().lower() != "application/ld+json":
            continue
        raw = script.text or ""
        if not raw.strip() or len(raw) > MAX_JSON_LD_CHARS:
            continue
        try:
            data = json.loads(raw)
        except (ValueError, RecursionError):
            continue
        stack = [data]
        while stack:
            item = stack.pop()
            if isinstance(item, list):
                stack.extend(item)
            elif isinstance(item, dict):
                objects.append(item)
                graph = item.get("@graph")
                if isinstance(graph, list):
                    stack.extend(graph)
    return objects


def _is_article(obj: dict[str, Any]) -> bool:
    kind = obj.get("@type")
    kinds = kind if isinstance(kind, list) else [kind]
    return any(isinstance(k, str) and _ARTICLE_TYPES.fullmatch(k) for k in kinds)


def _names(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return _names(value.get("name"))
    if isinstance(value, list):
        return [name for item in value for name in _names(item)]
    return []


def _valid_author(text: str) -> str | None:
    text = _clean(text).strip(" ,;|-")
    if text.lower().startswith("by "):
        text = text[3:].strip()
    if not text or "://" in text or ("@" in text and " " not in text):
        return None
    if len(text.split()) > MAX_AUTHOR_WORDS or not any(ch.isalpha() for ch in text):
        return None
    return text


def parse_datetime(value: str | None) -> datetime | None:
    """An ISO 8601 date or timestamp as an aware UTC datetime; None when it is not one."""
    text = _clean(value)
    if len(text) < 10:
        return None
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        try:
            parsed = datetime.combine(date.fromisoformat(text[:10]), datetime.min.time())
        except ValueError:
            return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _page_title(tree: HtmlElement, sitename: str | None) -> str | None:
    headings = [_clean(h.text_content()) for h in tree.iter("h1")]
    headings = [h for h in headings if h]
    if len(headings) == 1:
        return headings[0]
    title_element = tree.find(".//title")
    title = _clean(title_element.text_content()) if title_element is not None else ""
    if not title:
        return headings[0] if headings else None
    # "Headline | Site" or "Headline - Site": keep the longest part, the headline.
    parts = [p.strip() for p in re.split(r"\s+[|–—-]\s+|\s+::\s+|\s+»\s+", title) if p.strip()]
    if sitename:
        parts = [p for p in parts if p.lower() != sitename.lower()] or parts
    return max(parts, key=len) if parts else None


def _structured_date(
    articles: list[dict[str, Any]], meta: dict[str, str], tree: HtmlElement
) -> datetime | None:
    for obj in articles:
        for key in ("datePublished", "dateCreated", "uploadDate"):
            value = obj.get(key)
            if isinstance(value, str) and (parsed := parse_datetime(value)):
                return parsed
    for key in _DATE_META:
        if key in meta and (parsed := parse_datetime(meta[key])):
            return parsed
    for element in tree.iter("time"):
        marked = element.get("pubdate") is not None or "publish" in (element.get("class") or "")
        if marked and (parsed := parse_datetime(element.get("datetime"))):
            return parsed
    return None


def _htmldate(tree: HtmlElement, latest: datetime) -> datetime | None:
    from htmldate import find_date

    try:
        found = find_date(
            tree,
            extensive_search=False,
            original_date=True,
            outputformat="%Y-%m-%d",
            max_date=latest.strftime("%Y-%m-%d"),
        )
    except (ValueError, TypeError):
        return None
    return parse_datetime(found) if found else None


def header_clock(visible_text: str) -> date | None:
    """The date of a weekday-and-date clock at the top of the page's text, if there is one."""
    match = _HEADER_CLOCK.search(visible_text[:HEADER_CLOCK_CHARS])
    if not match:
        return None
    month_name = (match.group("m1") or match.group("m2") or "").lower()
    months = [m for m in _MONTHS.split() if m.startswith(month_name[:3])] if month_name else []
    if len(month_name) < 3 or not months:
        return None
    try:
        return date(
            int(match.group("y")),
            _MONTHS.split().index(months[0]) + 1,
            int(match.group("d1") or match.group("d2")),
        )
    except ValueError:
        return None


def page_metadata(
    tree: HtmlElement,
    *,
    url: str | None,
    latest: datetime,
    visible_top: Callable[[], str] = lambda: "",
) -> PageMeta:
    """Metadata of one page; `latest` is the fetch time (htmldate looks no later).

    `visible_top` gives the start of the page's visible text (only needed to spot a header
    clock, so only called when htmldate had to guess).
    """
    meta = _meta_values(tree)
    objects = _json_ld_objects(tree)
    articles = [obj for obj in objects if _is_article(obj)]

    sitename = meta.get("og:site_name") or meta.get("application-name")
    title = next(
        (_clean(obj["headline"]) for obj in articles if isinstance(obj.get("headline"), str)),
        None,
    )
    title = title or next((meta[k] for k in _TITLE_META if meta.get(k)), None)
    title = title or _page_title(tree, sitename)
    if title and len(title) > MAX_TITLE_CHARS:
        title = None

    author = None
    for obj in articles:
        for name in _names(obj.get("author")):
            author = author or _valid_author(name)
    for key in _AUTHOR_META:
        if not author and key in meta:
            author = _valid_author(meta[key])

    canonical = None
    for link in tree.iter("link"):
        if (link.get("rel") or "").strip().lower() == "canonical" and link.get("href"):
            canonical = link.get("href", "").strip()
            break
    canonical = canonical or meta.get("og:url")
    if canonical and not canonical.lower().startswith(("http://", "https://")):
        canonical = None

    published = _structured_date(articles, meta, tree)
    source = "structured" if published else None
    if published is None:
        published = _htmldate(tree, latest)
        source = "htmldate" if published else None
        clock = header_clock(visible_top()) if published else None
        if published is not None and clock == published.date():
            published, source = None, None

    description = next((meta[k] for k in _DESCRIPTION_META if meta.get(k)), None)
    og_type = meta.get("og:type", "").lower()
    is_article = (
        any(obj.get("@type") not in _PAGE_TYPES for obj in articles) or og_type in _ARTICLE_OG_TYPES
    )
    return PageMeta(
        title=title or None,
        published=published,
        author=author,
        url=canonical or url,
        sitename=sitename,
        description=description,
        date_source=source,
        is_article=is_article,
    )
