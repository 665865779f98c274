"""HTML main text: robust parsing, link markers, visible text, extractors, lead recovery."""

from __future__ import annotations

from tasks.extract.maintext import (
    LINK_OPEN,
    lead_paragraph,
    mark_links,
    page_text,
    parse_html,
    shown_text,
    split_marked,
    visible_chars,
    visible_text,
)

PARAS = [
    "The harbour board of the fictional town of Ostmere approved a new pier on Tuesday, after "
    "a debate that lasted most of the afternoon.",
    "Board members said the pier would let two ferries berth at once during the summer season, "
    "when the island crossings are busiest.",
    "Work is expected to start in the autumn and to take eighteen months, the board said.",
]
PAGE = (
    "<html><head><title>Ostmere pier</title><script>var junk = 'SCRIPTED';</script></head><body>"
    "<nav><a href='/'>Home</a> <a href='/coast'>Coast</a></nav><article>"
    + "".join(f"<p>{p}</p>" for p in PARAS)
    + "<p>See the <a href='/map'>map of the pier</a> for details of the two berths.</p>"
    "</article><ul class='related'><li><a href='/a'>Storm gates close for winter</a></li>"
    "<li><a href='/b'>Ferry timetable changes in May</a></li></ul></body></html>"
)


def test_pages_with_junk_before_html_still_parse():
    # A crawler wrapper line before <html> makes trafilatura's own loader reject the page.
    tree = parse_html('<text id="x" encoding="utf-8">\n' + PAGE)
    page = page_text(tree, None, "trafilatura_fast", marked=False)
    assert PARAS[0] in page.text


def test_link_markers_give_each_line_its_link_share_and_leave_no_trace():
    tree = parse_html(PAGE)
    assert mark_links(tree, PAGE)
    page = page_text(tree, None, "trafilatura", marked=True)
    assert LINK_OPEN not in page.text
    lines = {line.strip() for line in page.text.split("\n") if line.strip()}
    assert PARAS[0] in lines and page.links[PARAS[0]] == (0.0, False)
    ratio, leads = page.links["See the map of the pier for details of the two berths."]
    assert 0.2 < ratio < 0.5 and not leads


def test_split_marked_carries_a_link_across_lines():
    text, info = split_marked(f"Intro line\n{LINK_OPEN}Teaser title\nteaser blurb\u2984 after")
    assert text == "Intro line\nTeaser title\nteaser blurb after"
    assert info["Teaser title"] == (1.0, True)
    assert info["Intro line"] == (0.0, False)
    ratio, leads = info["teaser blurb after"]
    assert leads and 0.6 < ratio < 1.0


def test_a_page_that_uses_the_marker_characters_is_not_marked():
    page = PAGE.replace("Ostmere pier</title>", "Ostmere \u2983pier\u2984</title>")
    assert not mark_links(parse_html(page), page)


def test_visible_text_leaves_out_scripts_and_styles():
    tree = parse_html(PAGE.replace("<nav>", "<nav><style>.x{color:red}</style>"))
    for text in (visible_text(tree), visible_text(tree, 40)):
        assert "SCRIPTED" not in text and "color" not in text
    assert PARAS[2] in visible_text(tree)
    assert len(visible_text(tree, 40)) < len(visible_text(tree))
    assert visible_chars(tree) > sum(len(p.replace(" ", "")) for p in PARAS)
    assert PARAS[1] in shown_text(tree) and "SCRIPTED" not in shown_text(tree)


def test_the_baseline_extractor_takes_every_text_block():
    page = page_text(parse_html(PAGE), None, "baseline", marked=False)
    assert page.extractor == "baseline"
    assert all(p in page.text for p in PARAS)


def test_a_lead_shown_on_the_page_comes_back_only_when_missing():
    lead = "The pier will be the first new berth in Ostmere for forty years, the board said."
    shown = f"Ostmere pier {lead} {PARAS[0]}"
    assert lead_paragraph(lead, lambda: shown, PARAS[0]) == lead
    # Already in the text, not shown on the page, or a headline-style summary: nothing.
    assert lead_paragraph(lead, lambda: shown, f"{lead}\n{PARAS[0]}") is None
    assert lead_paragraph(lead, lambda: PARAS[0], PARAS[0]) is None
    assert lead_paragraph("Ostmere gets a new pier", lambda: shown, PARAS[0]) is None
    # A description cut short with an ellipsis is completed from the page.
    cut = lead[:70] + "…"
    assert lead_paragraph(cut, lambda: shown, PARAS[0]) == lead
