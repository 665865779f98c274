"""Line rules that strip scraper junk from article text and move metadata lines into fields.

Input: article text as lines (a scraped `.txt` report, or what trafilatura returned for a page).
Output: `CleanText` with the text left for readers, a headline when the first line is one, the
"Source: X" / agency dateline attribution, a date seen in the text, and `stripped`: every removed
line as `"<reason>: <line>"`, so nothing disappears unexplained. Nothing is quarantined here.

Reasons (the prefix in `stripped`): `comment_form`, `subscribe_prompt`, `back_to_top`,
`related_links`, `share_bar`, `cookie_prompt`, `advertisement`, `decoration`, `nav_crumbs`,
`render_date`, `date_line`, `date_prefix`, `source_line`, `agency_dateline`, `site_blurb`,
`headline` (moved to `title`, not lost).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime

# Junk rules only look at short lines: a real sentence that happens to contain "subscribe" is
# longer than any widget label. 120 characters covers every label in the seeds and the
# syndication benchmark's junk lines while no article paragraph there is that short and matches.
MAX_JUNK_LINE = 120

_JUNK_RULES: list[tuple[str, str]] = [
    (
        "comment_form",
        r"leave a (reply|comment)|cancel reply|post (a )?comment|add (a )?comment"
        r"|please enter your (comment|name( here)?|e-?mail( address)?( here)?)"
        r"|you have entered an incorrect email address"
        r"|your e-?mail address will not be published.*|required fields are marked.*"
        r"|save my name,? e-?mail.*|notify me of (follow-up comments|new posts).*"
        r"|comments? (are )?closed|\d+ comments?|no comments( yet)?|be the first to comment"
        r"|name \*?|e-?mail \*?|website|comment \*?"
        r"|laisser un commentaire|r[ée]pondre"
        r"|votre adresse (e-?mail|de messagerie) ne sera pas publi[ée]e.*"
        r"|kommentar (hinterlassen|schreiben)|deja un comentario|dejar un comentario",
    ),
    (
        "subscribe_prompt",
        r"subscribe( now| today| here| for free| to (our|the) newsletter)?"
        r"|sign up (for|to) (our|the) newsletter|join our newsletter|newsletter( sign-?up)?"
        r"|abonnez-vous|s'abonner|abonnieren|jetzt abonnieren|suscr[ií]bete|suscribirse",
    ),
    (
        "back_to_top",
        r"back to top( button)?|scroll to top|to top|retour en haut|nach oben"
        r"|volver arriba",
    ),
    (
        "related_links",
        r"more articles|more stories|related( articles| posts| stories| news| content)?"
        r"|read more|read also|see also|you (may|might) also like|recommended( for you)?"
        r"|most (read|popular|viewed)|latest (news|stories)|trending( now)?"
        r"|lire aussi|articles similaires|[àa] lire aussi|mehr zum thema|weitere artikel"
        r"|art[ií]culos relacionados|lee tambi[ée]n",
    ),
    (
        "share_bar",
        r"share( this( article| story| post)?)?( on (facebook|twitter|x|whatsapp|linkedin))?"
        r"|tweet|print( this( article)?)?|e-?mail( this( article)?)?|facebook|twitter"
        r"|whatsapp|linkedin|telegram|pinterest|like this|loading\.*|partager|teilen|compartir",
    ),
    (
        "cookie_prompt",
        r"(we|this (site|website)) uses? cookies.*|accept( all)? cookies|cookie (policy|settings)"
        r"|manage cookies",
    ),
    ("advertisement", r"advertisement|advertising|sponsored( content)?|publicit[ée]|anzeige"),
]

_JUNK = [(reason, re.compile(rf"(?:{pattern})", re.IGNORECASE)) for reason, pattern in _JUNK_RULES]

# Leading bullets and arrows widgets put before labels ("› Subscribe", "» Read more").
_LABEL_EDGE = re.compile(r"^[\s›»>•·|*\-–—→]+|[\s!.:…»›→*|]+$")

_HAS_WORD = re.compile(r"\w", re.UNICODE)

# A lowercase letter directly followed by an uppercase one: nav labels glued by a scraper
# ("Middle EastOthersWorld News"). Names such as "McDonald" or "iPhone" give at most one.
_GLUE = re.compile(r"[a-zà-ÿ][A-ZÀ-Þ]")
_SENTENCE_END = re.compile(r"[.!?\"”»)]\s*$")
_NAV_SEPARATORS = re.compile(r"\s*(?:\||»|›|>|/|•|·)\s*")

_WEEKDAYS = (
    r"monday|tuesday|wednesday|thursday|friday|saturday|sunday"
    r"|lundi|mardi|mercredi|jeudi|vendredi|samedi|dimanche"
    r"|montag|dienstag|mittwoch|donnerstag|freitag|samstag|sonntag"
    r"|lunes|martes|mi[ée]rcoles|jueves|viernes|s[áa]bado|domingo"
)
_MONTHS_EN = "january|february|march|april|may|june|july|august|september|october|november|december"
_MONTH_ABBR = r"jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec"
_MONTH = rf"(?:{_MONTHS_EN}|(?:{_MONTH_ABBR})\.?)"
_TIME = r"(?:,?\s*(?:at\s+)?\d{1,2}:\d{2}(?::\d{2})?\s*(?:[ap]\.?m\.?)?(?:\s*[A-Z]{2,4})?)?"
_DATE_BODY = (
    rf"(?:{_MONTH}\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+\d{{4}}"
    rf"|\d{{1,2}}(?:st|nd|rd|th)?\s+{_MONTH},?\s+\d{{4}}"
    rf"|\d{{4}}-\d{{2}}-\d{{2}}|\d{{4}}/\d{{2}}/\d{{2}})"
)
_DATE_LINE = re.compile(
    rf"^(?P<weekday>(?:{_WEEKDAYS}),?\s+)?(?P<date>{_DATE_BODY}){_TIME}$", re.IGNORECASE
)
_DATE_PREFIX = re.compile(
    r"^\s*(?:date|published|posted(?: on)?|updated|publi[ée](?: le)?)\s*:?\s*"
    r"(?P<date>\d{4}-\d{2}(?:-\d{2})?|\d{1,2}/\d{1,2}/\d{4})\s+(?=\S)",
    re.IGNORECASE,
)
_SOURCE_LINE = re.compile(
    r"^(?:source|sources|quelle|fuente|fonte|źródło|kaynak|источник)\s*:\s*(?P<who>\S.{0,150})$",
    re.IGNORECASE,
)
# "MNA – Iranian Minister ..." or "TEHRAN (Reuters) - ..." at the start of the first paragraph.
_AGENCY_DATELINE = re.compile(
    r"^(?:(?P<agency>[A-Z]{2,6})"
    r"|(?P<place>[A-Z][A-Za-z .'-]{1,30}?),?\s*\((?P<agency2>[^)]{2,30})\))"
    r"\s*[–—-]{1,2}\s+(?=\S)"
)
_BLURB = re.compile(
    r"\b(?:is|are) (?:mainly |primarily |mostly )?(?:concerned|dedicated|committed|devoted) "
    r"(?:with|to)\b|\b(?:its|our) (?:main |primary )?(?:objective|mission|aim|goal) is\b"
    r"|all rights reserved|^(?:©|copyright\b)|\bwas founded in \d{4}\b",
    re.IGNORECASE,
)
_HEADLINE_MAX = 200

_MONTH_NUMBERS = {name: index + 1 for index, name in enumerate(_MONTHS_EN.split("|"))}


@dataclass
class CleanText:
    text: str
    title: str | None = None
    source_attribution: str | None = None
    date_text: str | None = None
    published_at: datetime | None = None
    stripped: list[str] = field(default_factory=list)


def _label(line: str) -> str:
    return " ".join(_LABEL_EDGE.sub("", line).split())


def junk_reason(line: str) -> str | None:
    """The reason a single line is scraper junk, or None when it may be article text."""
    stripped = line.strip()
    if not stripped:
        return None
    if not _HAS_WORD.search(stripped):
        return "decoration"
    if len(stripped) > MAX_JUNK_LINE:
        return None
    label = _label(stripped)
    if not label:
        return "decoration"
    for reason, pattern in _JUNK:
        if pattern.fullmatch(label):
            return reason
    if is_nav_crumbs(stripped):
        return "nav_crumbs"
    return None


def is_nav_crumbs(line: str) -> bool:
    if len(line) > 200 or _SENTENCE_END.search(line):
        return False
    if len(_GLUE.findall(line)) >= 2 and len(line.split()) <= 20:
        return True
    parts = [p for p in _NAV_SEPARATORS.split(line) if p]
    return len(parts) >= 3 and all(len(p.split()) <= 4 for p in parts)


def parse_date(text: str) -> datetime | None:
    """A full calendar date in `text` (English month names or ISO), as UTC midnight."""
    match = re.search(
        rf"(?P<m1>{_MONTH})\s+(?P<d1>\d{{1,2}})(?:st|nd|rd|th)?,?\s+(?P<y1>\d{{4}})"
        rf"|(?P<d2>\d{{1,2}})(?:st|nd|rd|th)?\s+(?P<m2>{_MONTH}),?\s+(?P<y2>\d{{4}})"
        r"|(?P<y3>\d{4})[-/](?P<m3>\d{2})[-/](?P<d3>\d{2})",
        text,
        re.IGNORECASE,
    )
    if not match:
        return None
    g = match.groupdict()
    try:
        if g["y3"]:
            year, month, day = int(g["y3"]), int(g["m3"]), int(g["d3"])
        else:
            name = (g["m1"] or g["m2"]).lower().rstrip(".")
            month = next(v for k, v in _MONTH_NUMBERS.items() if k.startswith(name[:3]))
            year, day = int(g["y1"] or g["y2"]), int(g["d1"] or g["d2"])
        return datetime(year, month, day, tzinfo=UTC)
    except (ValueError, StopIteration):
        return None


def _looks_like_headline(line: str, rest: list[str]) -> bool:
    return (
        bool(rest)
        and len(line) <= _HEADLINE_MAX
        and len(line.split()) <= 30
        and not re.search(r"[.,;:]\s*$", line)
    )


def clean_lines(text: str, *, title: str | None = None, detect_headline: bool = True) -> CleanText:
    """Strip junk lines from `text` and lift headline, attribution and date lines into fields.

    `title`, when given (HTML metadata), is kept, and a first line repeating it is removed.
    """
    out = CleanText(text="", title=title)
    lines = [line.strip() for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    lines = [line for line in lines if line]
    kept: list[str] = []
    for position, line in enumerate(lines):
        reason = junk_reason(line)
        if reason is None:
            source = _SOURCE_LINE.match(line)
            if source:
                who = source.group("who").strip()
                out.source_attribution = _join(out.source_attribution, who)
                reason = "source_line"
            else:
                date = _DATE_LINE.match(line)
                if date and position < 3 and not kept:
                    if date.group("weekday"):
                        # A "Friday, October 7, 2022" line above the headline is the site's
                        # header clock (the day the page was rendered), not the report's date.
                        reason = "render_date"
                    else:
                        reason = "date_line"
                        out.date_text = out.date_text or line
                        out.published_at = out.published_at or parse_date(line)
        if reason is not None:
            out.stripped.append(f"{reason}: {line}")
            continue
        kept.append(line)

    if kept:
        prefix = _DATE_PREFIX.match(kept[0])
        if prefix:
            out.date_text = out.date_text or prefix.group("date")
            out.stripped.append(f"date_prefix: {prefix.group(0).strip()}")
            kept[0] = kept[0][prefix.end() :]

    # Trailing site blurbs: walk back from the end while paragraphs describe the site.
    while len(kept) > 2 and _BLURB.search(kept[-1]):
        out.stripped.append(f"site_blurb: {kept.pop()}")

    if kept and title and _same_words(kept[0], title):
        out.stripped.append(f"headline: {kept.pop(0)}")
    elif kept and detect_headline and title is None and _looks_like_headline(kept[0], kept[1:]):
        out.title = kept.pop(0)
        out.stripped.append(f"headline: {out.title}")

    if kept:
        dateline = _AGENCY_DATELINE.match(kept[0])
        if dateline:
            agency = (dateline.group("agency") or dateline.group("agency2") or "").strip()
            out.source_attribution = _join(agency, out.source_attribution)
            out.stripped.append(f"agency_dateline: {dateline.group(0).strip()}")
            kept[0] = kept[0][dateline.end() :]

    out.text = "\n".join(kept)
    return out


def _join(first: str | None, second: str | None) -> str | None:
    if first and second and first != second:
        return f"{first}; {second}"
    return first or second


def _same_words(a: str, b: str) -> bool:
    return re.findall(r"\w+", a.casefold()) == re.findall(r"\w+", b.casefold())
