"""Golden tests for the text rules, in the "must contain / must not contain" form."""

from pathlib import Path

import pytest

from tasks.textrules import clean_lines, junk_reason

SCRAPED = """HomeWorldCoastBusinessSport

Harbour pilots vote to accept new contract

MNA – Harbour pilots in the fictional port of Ostmere voted on Monday to accept a new
three-year contract.

The vote ends a dispute that had delayed ships for two weeks.

Source: Ostmere Wire

Share this:
Leave a Reply
Your email address will not be published. Required fields are marked *
Back to top button

The Ostmere Chronicle is mainly concerned with news from the northern coast.
"""


def test_scraped_text_keeps_the_article_and_moves_metadata():
    out = clean_lines(SCRAPED)
    assert out.title == "Harbour pilots vote to accept new contract"
    assert out.text.startswith("Harbour pilots in the fictional port of Ostmere")
    assert out.source_attribution == "MNA; Ostmere Wire"
    for junk in (
        "HomeWorld",
        "Share this",
        "Leave a Reply",
        "Your email address",
        "Back to top",
        "mainly concerned",
        "Source:",
        "MNA –",
    ):
        assert junk not in out.text
    reasons = {line.split(":")[0] for line in out.stripped}
    assert {
        "nav_crumbs",
        "share_bar",
        "comment_form",
        "back_to_top",
        "site_blurb",
        "source_line",
        "agency_dateline",
        "headline",
    } <= reasons


def test_render_date_is_not_a_publication_date_but_a_bare_date_line_is():
    rendered = clean_lines("Friday, October 7, 2022\nA headline\nFirst sentence of it.")
    assert (
        rendered.published_at is None
        and "render_date: Friday, October 7, 2022" in rendered.stripped
    )
    dated = clean_lines("March 3, 2026\nA headline\nFirst sentence of it.")
    assert dated.published_at is not None and dated.published_at.date().isoformat() == "2026-03-03"
    assert dated.date_text == "March 3, 2026"


@pytest.mark.parametrize(
    "line",
    [
        "Subscribe",
        "› Subscribe",
        "Please enter your comment!",
        "Please enter your name here",
        "More Articles",
        "Back to top",
        "|\u00a0\u00a0|\u00a0",
        "Related articles",
        "Home | World | Politics | Sport",
        "We use cookies to improve your experience.",
    ],
)
def test_junk_lines(line):
    assert junk_reason(line) is not None


@pytest.mark.parametrize(
    "line",
    [
        "The minister said readers could subscribe to the bulletin for free from next week.",
        "McDonald's opens in the port",
        'Asked about the plan, he said: "More articles of the treaty will follow."',
    ],
)
def test_article_lines_are_kept(line):
    assert junk_reason(line) is None


# The seed reports: what must be gone and what must stay (issue 3's list).
SEED_MUST_NOT = [
    "Friends of SyriaLatest developments",
    "Leave a Reply",
    "Your email address will not be published",
    "Back to top button",
    "Subscribe",
    "Please enter your comment!",
    "Please enter your name here",
    "More Articles",
    "|\u00a0\u00a0|",
    "News Gazette is mainly concerned",
    "date 2018-09",
    "Friday, October 7, 2022",
    "Source:",
]


def test_seed_reports(seeds_dir: Path):
    firsts = {
        "000": "Iranian Minister of Defense, Brigadier General Amir Hatami stressed",
        "001": "Iranian Defense Minister Brigadier General Amir Hatami made a visit",
        "002": "Iran’s defence minister says victories in Syria",
        "003": "Damascus, Syrian Defense Minister Lieutenant General Ali Ayyoub",
        "004": "Le général Amir Hatami, ministre iranien de la Défense",
    }
    attributions = {"000": "MNA", "003": "Islamic Republic News Agency - IRNA", "004": "PressTV"}
    for path in sorted(seeds_dir.glob("*.txt")):
        key = path.name[:3]
        out = clean_lines(path.read_text("utf-8"))
        assert out.text.startswith(firsts[key]), key
        for junk in SEED_MUST_NOT:
            assert junk not in out.text, (key, junk)
        assert out.source_attribution == attributions.get(key), key
        assert "contrrol" not in out.text or key == "000"
