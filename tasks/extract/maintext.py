"""Main text of an HTML page: trafilatura, with link information and fallbacks around it.

Input: the decoded HTML of one page (untrusted: parsed by lxml, never executed, nothing fetched).
Output: `PageText`, the candidate lines of the article with, for each line, how much of it was
link text on the page and whether it starts with a link (what tells a list of teasers or a menu
from prose, see `tasks.extract.linerules`), plus the page's visible text and which extractor
produced the
lines. Nothing is quarantined here; the extract stage decides what an empty result means.

How: the page is parsed once (`lxml.html.document_fromstring`, which also accepts pages with junk
before `<html>` that trafilatura's own loader rejects as "not HTML"), after the characters XML
forbids are taken out (lxml refuses them in any text it is given later, so one vertical tab made
a whole page fail); a page with no element at all (only a comment, a doctype, whitespace) is an
empty document, not an error. `markup_shape` measures, with a cheap scan before any parser sees
the page, what makes parsers super-linear: the attributes of one tag (libxml2 compares each new
attribute with every earlier one of its tag) and the number of tags. Every link's text is wrapped
in two marker characters that survive trafilatura's cleaning; trafilatura (comments off, its
per-process dedup cache off) extracts the main text from the marked tree, and the markers are then
read off line by line and removed. When trafilatura returns nothing or very little, its
`baseline` extractor (every text block of the page) is the fallback; the text rules then strip
that block list like any other. Which extractor runs when is the extract stage's decision.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache

import lxml.html
from lxml import etree
from lxml.html import HtmlElement, HTMLParser

# U+2983 / U+2984 (white curly brackets): printable, so trafilatura keeps them, and so rare in
# running text that a page containing one is simply extracted without link information.
LINK_OPEN = "\u2983"
LINK_CLOSE = "\u2984"
_MARKERS = str.maketrans("", "", LINK_OPEN + LINK_CLOSE)

# The same parser settings as trafilatura's own loader: no ids collected, comments and
# processing instructions dropped.
_PARSER = HTMLParser(
    collect_ids=False,
    default_doctype=False,
    encoding="utf-8",
    remove_comments=True,
    remove_pis=True,
)
_WS = re.compile(r"\s+")
_LIST_MARKS = "-•*–·"
_MARKER_SPLIT = re.compile(f"([{LINK_OPEN}{LINK_CLOSE}])")
_NON_SPACE = re.compile(r"\S")
_INVISIBLE = frozenset(["script", "style", "noscript", "template", "svg"])


@dataclass
class PageText:
    text: str
    # Per line (stripped): share of link text (0..1) and whether it starts with a link.
    links: dict[str, tuple[float, bool]] = field(default_factory=dict)
    extractor: str = "trafilatura"


# Characters XML 1.0 forbids (C0 controls but tab, newline and carriage return; U+FFFE, U+FFFF;
# lone surrogates): lxml raises ValueError when trafilatura or `mark_links` set a text holding
# one, browsers show nothing for them. Vertical tab and form feed are spaces to a reader.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")
_EMPTY_PAGE = b"<html><body></body></html>"


def xml_safe(html: str) -> str:
    """`html` without the characters XML forbids (vertical tab and form feed become spaces)."""
    # A regex, not str.translate: one scan in C (translate took 11 ms on a 130 KB page).
    return _NOT_XML.sub(_xml_replacement, html)


def _xml_replacement(match: re.Match[str]) -> str:
    return " " if match.group() in "\x0b\x0c" else ""


def parse_html(html: str) -> HtmlElement:
    """The page as an lxml tree; always a whole document with `<html>` and `<body>`."""
    data = xml_safe(html).encode("utf-8")
    try:
        tree: HtmlElement = lxml.html.document_fromstring(data, parser=_PARSER)
    except etree.ParserError:
        # "Document is empty": only a comment, a doctype, a processing instruction or nothing.
        tree = lxml.html.document_fromstring(_EMPTY_PAGE, parser=_PARSER)
    return tree


@dataclass(frozen=True)
class MarkupShape:
    # `<` characters: the tags, opening and closing (and any `<` in scripts or text).
    tags: int
    # The most attributes one tag has, counted only in tags long enough to exceed `cap` (0 when
    # none is); an estimate from the bytes, not the parser's count.
    attributes: int


_RAW_TEXT = re.compile(r"<(/?)(script|style)\b", re.IGNORECASE)
_QUOTED = re.compile(r"\"[^\"]*\"|'[^']*'")
_ATTRIBUTE_SEP = re.compile(r"[\s/]+")


def markup_shape(html: str, cap: int) -> MarkupShape:
    """How many tags the page has and whether one tag has more than `cap` attributes.

    Linear and cheap (about 0.9 ms for the average 133,000-character page of the shared
    benchmarks): only tags of at least `2 * cap` characters are looked at, outside scripts and
    styles (a parser reads those as raw text), with quoted values left out. It cannot see what a
    parser would: a `>` inside a quoted value ends a tag here, not in libxml2, so a page built to
    slip past it meets the stage's time limit instead.
    """
    most = 0
    raw: list[tuple[int, int]] | None = None
    for match in _long_tag(cap).finditer(html):
        if raw is None:
            raw = _raw_text_ranges(html)
        at = bisect_right(raw, (match.start(), len(html)))
        if at and raw[at - 1][0] <= match.start() < raw[at - 1][1]:
            continue
        most = max(most, _attributes(match.group(), cap))
        if most > cap:
            break
    return MarkupShape(tags=html.count("<"), attributes=most)


@lru_cache(maxsize=4)
def _long_tag(cap: int) -> re.Pattern[str]:
    # A tag with more than `cap` attributes is longer than this: a separator and a name each.
    return re.compile(rf"<[A-Za-z][^<>]{{{2 * cap},}}")


def _raw_text_ranges(html: str) -> list[tuple[int, int]]:
    """(start, end) of every script's and style's content, in order."""
    ranges: list[tuple[int, int]] = []
    inside: str | None = None
    start = 0
    for match in _RAW_TEXT.finditer(html):
        name = match.group(2).lower()
        if inside is None and not match.group(1):
            inside, start = name, match.end()
        elif inside == name and match.group(1):
            ranges.append((start, match.start()))
            inside = None
    if inside is not None:
        ranges.append((start, len(html)))
    return ranges


def _attributes(tag: str, cap: int) -> int:
    """Attribute names in the start of one tag (`<name a=1 b c="x"`), counting up to `cap + 1`."""
    count = 0
    value_next = False
    # A quoted value becomes one token (`q`): its spaces and slashes separate nothing.
    for token in _ATTRIBUTE_SEP.split(_QUOTED.sub(" q ", tag))[1:]:
        if not token:
            continue
        if value_next or token.startswith("="):
            # `a= 1` or `a =1`: the token is a value, or the value follows a lone `=`.
            value_next = token == "=" or (value_next and token.endswith("="))
            continue
        count += 1
        if count > cap:
            break
        value_next = token.endswith("=")
    return count


def visible_text(tree: HtmlElement, limit: int | None = None) -> str:
    """Text a reader of the page could see (no scripts, styles, templates), whitespace-collapsed.

    Link markers, if the tree has them, are left out. With `limit`, stops after about that many
    characters (the top of the page is enough to find its header clock).
    """
    body = tree.find("body")
    if body is None:
        return ""
    parts: list[str] = []
    size = skip = 0
    # iterwalk's start/end events put each element's tail after its children, in C.
    for event, element in etree.iterwalk(body, events=("start", "end")):
        hidden = not isinstance(element.tag, str) or element.tag in _INVISIBLE
        if event == "start":
            skip += hidden
            piece = None if skip else element.text
        else:
            skip -= hidden
            piece = None if skip or element is body else element.tail
        if piece:
            parts.append(piece)
            size += len(piece)
            if limit is not None and size > limit:
                break
    return _WS.sub(" ", " ".join(parts).translate(_MARKERS)).strip()


def shown_text(tree: HtmlElement) -> str:
    """The page's visible text, whitespace-collapsed, fast; removes scripts and styles in place.

    For the end of a page's processing, when the tree is no longer needed for extraction:
    lxml drops the invisible elements and serialises the text in C.
    """
    body = tree.find("body")
    if body is None:
        return ""
    etree.strip_elements(body, *_INVISIBLE, with_tail=False)
    text = etree.tostring(body, method="text", encoding=str)
    return _WS.sub(" ", text.translate(_MARKERS)).strip()


def visible_chars(tree: HtmlElement) -> int:
    """About how many non-space characters a reader sees on the page (cheaper than the text).

    lxml serialises the body's text in C; the text of scripts and styles is subtracted.
    """
    body = tree.find("body")
    if body is None:
        return 0
    text = etree.tostring(body, method="text", encoding=str)
    hidden = sum(non_space(el.text or "") for el in body.iter(*_INVISIBLE))
    return max(0, non_space(text) - hidden)


def non_space(text: str) -> int:
    return len(text) - sum(text.count(ch) for ch in " \n\t\r\xa0")


def mark_links(tree: HtmlElement, html: str) -> bool:
    """Wrap the text of every `<a>` in marker characters, in place; False if the page has some.

    `html` is the page's source, where a marker character already on the page would show.
    """
    if LINK_OPEN in html or LINK_CLOSE in html:
        return False
    for anchor in tree.iter("a"):
        anchor.text = LINK_OPEN + (anchor.text or "")
        if len(anchor):
            last = anchor[-1]
            last.tail = (last.tail or "") + LINK_CLOSE
        else:
            anchor.text += LINK_CLOSE
    return True


def split_marked(text: str) -> tuple[str, dict[str, tuple[float, bool]]]:
    """Remove the link markers; per stripped line, its link share and whether a link leads it.

    A link can span lines (an `<a>` around a whole teaser block), so the inside/outside state
    carries over from one line to the next.
    """
    lines: list[str] = []
    info: dict[str, tuple[float, bool]] = {}
    depth = 0
    for raw in text.split("\n"):
        if depth == 0 and LINK_OPEN not in raw and LINK_CLOSE not in raw:
            key = raw.strip()
            info.setdefault(key, (0.0, False))
            lines.append(raw)
            continue
        linked = total = 0
        leads: bool | None = None
        for piece in _MARKER_SPLIT.split(raw):
            if piece == LINK_OPEN:
                depth += 1
            elif piece == LINK_CLOSE:
                depth = max(0, depth - 1)
            elif piece:
                chars = len(_NON_SPACE.findall(piece))
                total += chars
                if depth:
                    linked += chars
                if leads is None and piece.strip(_LIST_MARKS + " \t"):
                    leads = depth > 0
        line = raw.translate(_MARKERS)
        key = line.strip()
        ratio = linked / total if total else 0.0
        old_ratio, old_leads = info.get(key, (0.0, False))
        info[key] = (max(ratio, old_ratio), bool(leads) or old_leads)
        lines.append(line)
    return "\n".join(lines), info


def _trafilatura(tree: HtmlElement, url: str | None, *, fast: bool) -> str:
    import trafilatura

    doc = trafilatura.bare_extraction(
        tree,
        url=url,
        fast=fast,
        include_comments=False,
        include_tables=True,
        # trafilatura's LRU dedup cache makes output depend on what the process saw before.
        deduplicate=False,
        with_metadata=False,
    )
    return str(getattr(doc, "text", None) or "") if doc is not None else ""


def _baseline(tree: HtmlElement) -> str:
    import trafilatura

    _body, text, _length = trafilatura.baseline(tree)
    return str(text or "")


# The extractors `page_text` runs: trafilatura's own extractor alone ("fast": no comparison
# with readability and jusText), trafilatura's whole cascade, and its baseline (every text block).
EXTRACTORS = ("trafilatura_fast", "trafilatura", "baseline")


def page_text(tree: HtmlElement, url: str | None, extractor: str, *, marked: bool) -> PageText:
    """The page's main text by one of `EXTRACTORS`, with link information if `marked`.

    trafilatura works on a copy, so the same (marked) tree serves several extractors.
    """
    if extractor == "baseline":
        raw = _baseline(tree)
    elif extractor in EXTRACTORS:
        raw = _trafilatura(tree, url, fast=extractor == "trafilatura_fast")
    else:
        raise ValueError(f"unknown extractor {extractor!r}")
    if marked:
        text, links = split_marked(raw)
    else:
        text, links = raw, {}
    return PageText(text=text, links=links, extractor=extractor)


def lead_paragraph(description: str | None, visible: Callable[[], str], text: str) -> str | None:
    """The page's lead paragraph when the extracted text lacks it.

    Sites put their lead (standfirst) in the meta description and show it above the article
    body, where trafilatura often leaves it out. It is restored only when the description is a
    complete sentence (a headline-style summary is not a lead), is shown on the page word for
    word, and is not in the text already.
    """
    if not description:
        return None
    lead = _WS.sub(" ", description).strip()
    if not re.search(r"[.!?\"”»…]$", lead):
        return None
    lead = lead.rstrip(".…").rstrip()
    if len(lead.split()) < MIN_LEAD_WORDS:
        return None
    key = lead[:LEAD_KEY_CHARS]
    if key in _WS.sub(" ", text):
        return None
    shown = visible()
    if key not in shown:
        return None
    start = shown.find(key)
    if shown[start : start + len(lead)] != lead:
        return None
    end = start + len(lead)
    # The description may stop short of the lead's last sentence end: finish the sentence.
    tail = re.match(r"[^.!?]{0,200}[.!?]", shown[end:])
    return shown[start : end + (tail.end() if tail else 0)].strip()


# A lead is a sentence or more; the first characters identify it on the page.
MIN_LEAD_WORDS = 8
LEAD_KEY_CHARS = 60
