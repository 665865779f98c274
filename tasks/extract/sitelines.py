"""Site-level boilerplate: lines a site repeats on many of its pages, learned night after night.

Input: the extracted rows of a night (their `site`, `url`, `text` and `stripped` lines) and the
statistics learned from all previous nights, one snapshot per night under `data/state/`
(`site_lines/run_date=<night>`: per site and line key, on how many distinct pages the line was
seen; `site_pages/run_date=<night>`: which pages each site has shown). Output: the night's
snapshot and, for the extract stage, a `SiteBoilerplate` model: per site, the keys of lines seen
on at least `MIN_PAGES` distinct pages that make up at least `MIN_SHARE` of the site's pages.
Deterministic: keys are blake2b hashes of normalised lines (not Python's salted `hash`), tables
are sorted, and night D only reads the newest snapshot of a night before D, so re-running a night
gives the same output. A page counts once per site however often it is fetched (its key is the
hash of its URL), so a story re-crawled every night does not turn its own paragraphs into
boilerplate. Nothing is quarantined here.
"""

from __future__ import annotations

import hashlib
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import pyarrow as pa

from tasks import io

# A line must recur on at least this many distinct pages of a site...
MIN_PAGES = 5
# ...and on at least this share of the site's pages seen so far. Both guard article text: a
# wire sentence quoted in four stories of one site, or a stock phrase ("did not respond to a
# request for comment") spread thinly over a big site, stays; a footer on every page goes.
MIN_SHARE = 0.2
# Lines this long are paragraphs; a paragraph repeated across a site's pages (a standard
# disclaimer) is boilerplate as much as a menu label is, so there is no upper limit, but very
# short fragments carry too little to key on.
MIN_LINE_CHARS = 3
# Statistics of lines seen on a single page are kept this many snapshots only (they are most of
# the table and rarely become boilerplate); lines seen twice or more are kept for good.
SINGLETON_TTL_NIGHTS = 30

_WORD = re.compile(r"\w+", re.UNICODE)
_REASON = re.compile(r"^[a-z_]+: ")
# Stripped entries that hold only part of a line (the rest stayed in the text).
_PARTIAL_REASONS = ("date_prefix", "agency_dateline")

SITE_LINES = pa.schema(
    [
        pa.field("site", pa.string(), nullable=False),
        pa.field("line_key", pa.int64(), nullable=False),
        pa.field("pages", pa.int32(), nullable=False),
        pa.field("last_seen", pa.string(), nullable=False),
    ]
)
SITE_PAGES = pa.schema(
    [
        pa.field("site", pa.string(), nullable=False),
        pa.field("page_key", pa.int64(), nullable=False),
        pa.field("first_seen", pa.string(), nullable=False),
    ]
)


def _hash64(text: str) -> int:
    digest = hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def line_key(line: str) -> int:
    """A stable 64-bit key of a line: its words, case-folded (punctuation and spacing ignored)."""
    return _hash64(" ".join(_WORD.findall(line.casefold())))


def page_key(url: str) -> int:
    return _hash64(url.strip())


@dataclass(frozen=True)
class SiteBoilerplate:
    """Per site, the keys of its boilerplate lines (what the extract stage receives as data)."""

    lines: Mapping[str, frozenset[int]] = field(default_factory=dict)

    def for_site(self, site: str | None) -> frozenset[int]:
        return self.lines.get(site, frozenset()) if site else frozenset()

    def __len__(self) -> int:
        return sum(len(keys) for keys in self.lines.values())


def candidate_lines(text: str, stripped: Iterable[str]) -> list[str]:
    """The lines a page showed the extractor: what was kept and what the rules removed."""
    lines = [line for line in text.split("\n") if line.strip()]
    for entry in stripped:
        match = _REASON.match(entry)
        if match and not entry.startswith(_PARTIAL_REASONS):
            lines.append(entry[match.end() :])
    return lines


def page_line_keys(text: str, stripped: Iterable[str]) -> set[int]:
    return {
        line_key(line)
        for line in candidate_lines(text, stripped)
        if len(line.strip()) >= MIN_LINE_CHARS and _WORD.search(line)
    }


def boilerplate_model(
    site_lines: pa.Table,
    site_pages: pa.Table,
    *,
    min_pages: int = MIN_PAGES,
    min_share: float = MIN_SHARE,
) -> SiteBoilerplate:
    """The boilerplate keys per site from the learned statistics."""
    totals: dict[str, int] = defaultdict(int)
    for site in site_pages.column("site").to_pylist():
        totals[site] += 1
    found: dict[str, set[int]] = defaultdict(set)
    cols = site_lines.select(["site", "line_key", "pages"]).to_pydict()
    for site, key, pages in zip(cols["site"], cols["line_key"], cols["pages"], strict=True):
        total = totals.get(site, 0)
        if total and pages >= min_pages and pages >= min_share * total:
            found[site].add(key)
    return SiteBoilerplate({site: frozenset(keys) for site, keys in sorted(found.items())})


def learn(
    site_lines: pa.Table,
    site_pages: pa.Table,
    pages: Iterable[tuple[str, str, set[int]]],
    night: str,
) -> tuple[pa.Table, pa.Table]:
    """Add one night's pages `(site, url, line keys)` to the statistics; returns the new tables.

    A page already seen on an earlier night (same site and URL) adds nothing. Lines seen on a
    single page and not for `SINGLETON_TTL_NIGHTS` snapshots are dropped, which bounds the state.
    """
    seen_pages = {
        (site, key)
        for site, key in zip(
            site_pages.column("site").to_pylist(),
            site_pages.column("page_key").to_pylist(),
            strict=True,
        )
    }
    counts: dict[tuple[str, int], tuple[int, str]] = {}
    columns = site_lines.to_pydict()
    for site, key, n, last in zip(
        columns["site"], columns["line_key"], columns["pages"], columns["last_seen"], strict=True
    ):
        counts[(site, key)] = (n, last)
    new_pages: list[tuple[str, int]] = []
    for site, url, keys in pages:
        pkey = (site, page_key(url))
        if pkey in seen_pages:
            continue
        seen_pages.add(pkey)
        new_pages.append(pkey)
        for key in keys:
            n, _last = counts.get((site, key), (0, night))
            counts[(site, key)] = (n + 1, night)
    cutoff = _nights_before(night, SINGLETON_TTL_NIGHTS)
    rows = sorted(
        (site, key, n, last) for (site, key), (n, last) in counts.items() if n > 1 or last >= cutoff
    )
    lines_table = pa.Table.from_pydict(
        {
            "site": [r[0] for r in rows],
            "line_key": [r[1] for r in rows],
            "pages": [r[2] for r in rows],
            "last_seen": [r[3] for r in rows],
        },
        schema=SITE_LINES,
    )
    page_rows = sorted(
        [
            (site, key, first)
            for site, key, first in zip(
                site_pages.column("site").to_pylist(),
                site_pages.column("page_key").to_pylist(),
                site_pages.column("first_seen").to_pylist(),
                strict=True,
            )
        ]
        + [(site, key, night) for site, key in new_pages]
    )
    pages_table = pa.Table.from_pydict(
        {
            "site": [r[0] for r in page_rows],
            "page_key": [r[1] for r in page_rows],
            "first_seen": [r[2] for r in page_rows],
        },
        schema=SITE_PAGES,
    )
    return lines_table, pages_table


def _nights_before(night: str, n: int) -> str:
    from datetime import date, timedelta

    return (date.fromisoformat(night) - timedelta(days=n)).isoformat()


# --------------------------------------------------------------------------- state and task

LINES_STATE = "site_lines"
PAGES_STATE = "site_pages"
# Snapshots kept besides the newest: enough to re-run the last week of nights exactly.
KEEP_SNAPSHOTS = 7


def load_statistics(layout: io.Layout) -> tuple[pa.Table, pa.Table, str | None]:
    """The statistics learned from the nights before `layout.run_date`, and the newest of them."""
    lines = [
        (n, p) for n, p in io.state_snapshots(layout.state, LINES_STATE) if n < layout.run_date
    ]
    pages = {n: p for n, p in io.state_snapshots(layout.state, PAGES_STATE)}
    for night, path in reversed(lines):
        if night in pages:
            return (
                io.read_table(path).cast(SITE_LINES),
                io.read_table(pages[night]).cast(SITE_PAGES),
                night,
            )
    return SITE_LINES.empty_table(), SITE_PAGES.empty_table(), None


def load_boilerplate(layout: io.Layout) -> SiteBoilerplate:
    """The site model the extract stage of night `layout.run_date` uses."""
    site_lines, site_pages, _night = load_statistics(layout)
    return boilerplate_model(site_lines, site_pages)


def night_pages(extracted: pa.Table) -> list[tuple[str, str, set[int]]]:
    """`(site, url, line keys)` of the night's extracted pages that have both a site and a URL."""
    out = []
    for row in extracted.select(["site", "url", "text", "stripped"]).to_pylist():
        if row["site"] and row["url"]:
            out.append(
                (row["site"], row["url"], page_line_keys(row["text"], row["stripped"] or []))
            )
    return out


@dataclass
class LearnResult:
    night: str
    based_on: str | None
    pages_added: int
    sites: int
    boilerplate_lines: int

    def to_dict(self) -> dict[str, object]:
        return dict(self.__dict__)


def learn_night(layout: io.Layout) -> LearnResult:
    """Add the night's extracted pages to the site statistics and write the night's snapshot."""
    site_lines, site_pages, based_on = load_statistics(layout)
    pages = night_pages(
        io.read_table(layout.staged("extracted"), columns=["site", "url", "text", "stripped"])
    )
    before = site_pages.num_rows
    site_lines, site_pages = learn(site_lines, site_pages, pages, layout.run_date)
    for name, table, schema in (
        (LINES_STATE, site_lines, SITE_LINES),
        (PAGES_STATE, site_pages, SITE_PAGES),
    ):
        io.write_partition(
            layout.data_dir, io.partition_dir(layout.state, name, layout.run_date), [table], schema
        )
        for _night, path in io.state_snapshots(layout.state, name)[: -KEEP_SNAPSHOTS - 1]:
            io.remove_tree(path)
    model = boilerplate_model(site_lines, site_pages)
    result = LearnResult(
        night=layout.run_date,
        based_on=based_on,
        pages_added=site_pages.num_rows - before,
        sites=len(set(site_pages.column("site").to_pylist())),
        boilerplate_lines=len(model),
    )
    return result
