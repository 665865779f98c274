"""Site-level boilerplate: keys, learning across nights, the model, and the state on disk."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from tasks import io
from tasks.extract.sitelines import (
    SITE_LINES,
    SITE_PAGES,
    boilerplate_model,
    learn,
    learn_night,
    line_key,
    load_boilerplate,
    page_line_keys,
)
from tasks.schema import EXTRACTED
from tests.builders import extracted_row

FOOTER = "Ostmere Chronicle, 4 Quay Street, Ostmere. Call the newsroom on 0100 200."
MENU = "Coast · Harbour · Weather"


def _page(n: int) -> str:
    return f"Story number {n} about the harbour and its ferries, told in full.\n{MENU}\n{FOOTER}"


def _empty() -> tuple[pa.Table, pa.Table]:
    return SITE_LINES.empty_table(), SITE_PAGES.empty_table()


def test_line_keys_ignore_case_spacing_and_punctuation_but_not_words():
    assert line_key("Share  this story!") == line_key("share this story")
    assert line_key("Share this story") != line_key("Share this storm")
    # blake2b, not Python's salted hash: the same key in every process and on every night.
    assert line_key("Coast · Harbour · Weather") == line_key("coast harbour weather")


def test_a_line_on_many_pages_of_a_site_becomes_boilerplate_and_articles_do_not():
    pages = [
        ("ostmere.example", f"https://ostmere.example/{n}", page_line_keys(_page(n), []))
        for n in range(6)
    ]
    lines, site_pages = learn(*_empty(), pages, "2026-03-01")
    model = boilerplate_model(lines, site_pages)
    keys = model.for_site("ostmere.example")
    assert line_key(FOOTER) in keys and line_key(MENU) in keys
    assert line_key(_page(0).split("\n")[0]) not in keys
    assert model.for_site("other.example") == frozenset() and model.for_site(None) == frozenset()


def test_a_page_fetched_again_counts_once():
    keys = page_line_keys(_page(1), [])
    again = [("ostmere.example", "https://ostmere.example/1", keys)] * 9
    lines, site_pages = learn(*_empty(), again, "2026-03-01")
    lines, site_pages = learn(lines, site_pages, again, "2026-03-02")
    assert site_pages.num_rows == 1
    assert set(lines.column("pages").to_pylist()) == {1}
    assert len(boilerplate_model(lines, site_pages)) == 0


def test_a_line_on_few_pages_of_a_big_site_stays():
    # Seen on 5 pages out of 40: under MIN_SHARE, so a quote repeated in a few stories stays.
    quote = "The harbour master said the channel would stay open."
    pages = [
        (
            "big.example",
            f"https://big.example/{n}",
            page_line_keys(f"Report {n}\n{quote}" if n < 5 else f"Report {n}", []),
        )
        for n in range(40)
    ]
    model = boilerplate_model(*learn(*_empty(), pages, "2026-03-01"))
    assert line_key(quote) not in model.for_site("big.example")


def test_stripped_lines_count_too_but_partial_strips_do_not():
    keys = page_line_keys(
        "Body text of the story.",
        ["share_bar: Share this", "agency_dateline: CPA –", "headline: A headline"],
    )
    assert line_key("Share this") in keys and line_key("A headline") in keys
    assert line_key("CPA –") not in keys


def test_old_single_page_lines_are_pruned_and_learning_is_deterministic():
    one = [("s.example", "https://s.example/a", {line_key("only here")})]
    lines, pages = learn(*_empty(), one, "2026-01-01")
    later = [("s.example", "https://s.example/b", {line_key("elsewhere")})]
    lines2, pages2 = learn(lines, pages, later, "2026-03-01")
    assert line_key("only here") not in lines2.column("line_key").to_pylist()
    again, again_pages = learn(lines, pages, later, "2026-03-01")
    assert again.equals(lines2) and again_pages.equals(pages2)


def _night(data: Path, night: str, n_pages: int) -> io.Layout:
    layout = io.Layout(data, night)
    rows = []
    for n in range(n_pages):
        row = extracted_row(f"{night}-{n}", _page(n))
        row.update(url=f"https://ostmere.example/{night}/{n}", site="ostmere.example")
        rows.append(row)
    table = pa.Table.from_pylist(rows, schema=EXTRACTED)
    io.write_partition(data, layout.staged("extracted"), [table], EXTRACTED)
    return layout


def test_state_snapshots_per_night_and_each_night_reads_only_earlier_ones(tmp_path: Path):
    first = _night(tmp_path, "2026-03-01", 6)
    assert len(load_boilerplate(first)) == 0
    result = learn_night(first)
    assert result.based_on is None and result.pages_added == 6
    assert result.boilerplate_lines == 2  # the menu and the footer
    # Re-running the first night still reads no snapshot: same input, same output.
    assert len(load_boilerplate(first)) == 0
    second = _night(tmp_path, "2026-03-02", 2)
    model = load_boilerplate(second)
    assert line_key(FOOTER) in model.for_site("ostmere.example")
    assert learn_night(second).based_on == "2026-03-01"
    assert [n for n, _ in io.state_snapshots(tmp_path / "state", "site_lines")] == [
        "2026-03-01",
        "2026-03-02",
    ]
