"""Golden tests for the text rules, in the "must contain / must not contain" form."""

from pathlib import Path

import pytest

from tasks.extract.linerules import clean_lines, junk_reason
from tests.conftest import SEED_MUST_NOT

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


# ----------------------------------------------------------------------------- HTML-side rules


def _links(table: dict[str, tuple[float, bool]]):
    return lambda line: table.get(line.strip(), (0.0, False))


ARTICLE = [
    "The ferry company of the fictional island of Brannock said on Tuesday that it would add "
    "a second boat to the morning crossing from April.",
    "Passengers had complained for months about queues at the pier, where cars waited up to "
    "two hours in the summer season.",
    "The company did not say how much the second boat would cost.",
]


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("Read more: Brannock pier to close for repairs", "related_links"),
        ("Lea también: El puerto de Brannock cierra por obras", "related_links"),
        ("Lesen Sie auch: Fähre nach Brannock fällt aus", "related_links"),
        ("Sign up for our free newsletter and get the news in your inbox.", "subscribe_prompt"),
        ("Additional reporting by Mara Quill; editing by Tom Vell", "contributor"),
        ("Write to Mara Quill at mara.quill@example.org", "contributor"),
        ("© Brannock Gazette / Jo Penn", "image_credit"),
        ("The new ferry at the pier in Brannock.Reuters", "image_credit"),
        ("Copyright 2026 Brannock Gazette. All rights reserved.", "image_credit"),
        ("This copy is for your personal, non-commercial use only.", "disclaimer"),
        ("Comments are moderated and will appear after approval by our moderators.", "disclaimer"),
        ("https://brannock.example/ferry-2026", "url_line"),
        ("2026-03-10T08:00:00+01:00", "url_line"),
        ("Tags", "tag_list"),
        ("Filed under: Ferries, Brannock |", "tag_list"),
        ("[button link=/subscribe] Send us your story[/button]", "shortcode"),
        ("Thank you", "widget_message"),
        ("| Home | Ferries | Weather | Sport |"[2:-2], "nav_crumbs"),
    ],
)
def test_html_junk_lines(line: str, reason: str):
    assert junk_reason(line) == reason


@pytest.mark.parametrize(
    "line",
    [
        *ARTICLE,
        "| 1 | Kyle Mann | 5040 | 5 |",  # a table row, not a menu
        "Avec la crise, la compagnie a réduit ses horaires en hiver.",
        "The roadmap for the new pier includes a second ramp and a bigger waiting room.",
        "He said the company would sign up two more captains before the summer.",
        "「新しいフェリー」はiPhoneのiOSアプリで予約できる。",
    ],
)
def test_article_sentences_are_not_junk(line: str):
    assert junk_reason(line) is None


def test_a_link_line_goes_but_a_sentence_with_a_link_stays():
    links = {"Brannock pier closes for repairs": (1.0, True), ARTICLE[2]: (0.2, False)}
    out = clean_lines(
        "\n".join([*ARTICLE, "Brannock pier closes for repairs"]),
        title="Second ferry for Brannock",
        links=_links(links),
    )
    assert ARTICLE[2] in out.text
    assert "link_line: Brannock pier closes for repairs" in out.stripped


def test_teasers_after_a_related_heading_go_until_prose_resumes():
    teasers = ["Pier closes for repairs", "Storm warning for the coast"]
    text = "\n".join([ARTICLE[0], "Related articles", *teasers, ARTICLE[1]])
    out = clean_lines(text, links=_links({t: (1.0, True) for t in teasers}))
    assert ARTICLE[0] in out.text and ARTICLE[1] in out.text
    for teaser in teasers:
        assert teaser not in out.text
    assert "related_links: Related articles" in out.stripped


def test_a_tail_of_linked_teasers_goes_but_not_a_single_linked_last_sentence():
    teasers = [
        "Pier closes for repairs  The council will shut the pier for two weeks in May.",
        "Storm warning  Forecasters expect gales on Thursday.",
    ]
    info = {t: (0.4, True) for t in teasers}
    out = clean_lines("\n".join([*ARTICLE, *teasers]), links=_links(info))
    assert out.text == "\n".join(ARTICLE[1:]) or all(t not in out.text for t in teasers)
    single = clean_lines("\n".join(ARTICLE), links=_links({ARTICLE[2]: (0.4, True)}))
    assert ARTICLE[2] in single.text


def test_headline_byline_and_stamp_under_it_move_into_fields():
    text = "\n".join(
        [
            "Second ferry for Brannock",
            "By Mara Quill",
            "Published 10 March 2026, 08:00",
            *ARTICLE,
            "Second ferry for Brannock",
        ]
    )
    out = clean_lines(text, title="Second ferry for Brannock | Brannock Gazette")
    assert out.text == "\n".join(ARTICLE)
    assert out.author == "Mara Quill"
    assert out.date_text == "Published 10 March 2026, 08:00"
    assert [s.split(":")[0] for s in out.stripped] == [
        "headline",
        "byline",
        "date_line",
        "title_repeat",
    ]


def test_site_boilerplate_lines_go_with_their_own_reason():
    from tasks.extract.sitelines import line_key

    footer = "Brannock Gazette, 4 Quay Street. Call us on 0100 200."
    out = clean_lines("\n".join([*ARTICLE, footer]), boilerplate={line_key(footer)})
    assert footer not in out.text and f"site_boilerplate: {footer}" in out.stripped
