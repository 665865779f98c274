"""Main text of an HTML page: trafilatura, with link information and fallbacks around it.

Input: the decoded HTML of one page (untrusted: parsed by lxml, never executed, nothing fetched).
Output: `PageText`, the candidate lines of the article with, for each line, how much of it was
link text on the page and whether it starts with a link (what tells a list of teasers or a menu
from prose, see `tasks.textrules`), plus the page's visible text and which extractor produced the
lines. Nothing is quarantined here; the extract stage decides what an empty result means.

How: the page is parsed once (`lxml.html.document_fromstring`, which also accepts pages with junk
before `<html>` that trafilatura's own loader rejects as "not HTML"). Every link's text is wrapped
in two marker characters that survive trafilatura's cleaning; trafilatura (comments off, its
per-process dedup cache off) extracts the main text from the marked tree, and the markers are then
read off line by line and removed. When trafilatura returns nothing or very little, its
`baseline` extractor (every text block of the page) is the fallback; the text rules then strip
that block list like any other. Which extractor runs when is the extract stage's decision.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

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


def parse_html(html: str) -> HtmlElement:
    """The page as an lxml tree; always a whole document with `<html>` and `<body>`."""
    data = html.encode("utf-8", "surrogatepass")
    tree: HtmlElement = lxml.html.document_fromstring(data, parser=_PARSER)
    return tree


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
