from datetime import UTC, datetime

from tasks.extract.page import ExtractConfig, detect_lang, extract_batch
from tests.builders import ingested, ingested_row
from tests.conftest import RUN_ID, SEED_MUST_NOT, STARTED

CFG = ExtractConfig(run_id=RUN_ID, run_started_at=STARTED)

PARAGRAPHS = [
    "The harbour board of the fictional town of Ostmere approved a new pier on Tuesday, "
    "after a debate that lasted most of the afternoon.",
    "Board members said the pier would let two ferries berth at once during the summer "
    "season, when the island crossings are busiest.",
    "Work is expected to start in the autumn and to take eighteen months.",
]

PAGE = f"""<html><head><title>Ostmere approves new pier</title>
<meta property="article:published_time" content="2026-03-10T08:00:00Z"></head>
<body><nav><a href="/">Home</a> | <a href="/coast">Coast</a> | <a href="/sport">Sport</a></nav>
<article><h1>Ostmere approves new pier</h1>
{"".join(f"<p>{p}</p>" for p in PARAGRAPHS)}
</article>
<div class="share">Share this:</div>
<section><h3>Leave a Reply</h3><p>Your email address will not be published.</p></section>
<footer>© 2026 Ostmere Chronicle. All rights reserved.</footer></body></html>"""


def test_html_page_gives_article_text_title_and_date():
    split = extract_batch(ingested([ingested_row("p1", PAGE, content_type="html")]), CFG)
    assert split.quarantined.num_rows == 0
    row = split.kept.to_pylist()[0]
    assert row["title"] == "Ostmere approves new pier"
    for paragraph in PARAGRAPHS:
        assert paragraph in row["text"]
    for junk in ("Home", "Share this", "Leave a Reply", "All rights reserved", "email address"):
        assert junk not in row["text"]
    assert row["published_at"] == datetime(2026, 3, 10, 8, 0, tzinfo=UTC)
    assert row["lang"] == "en"
    assert row["text_length"] == len(row["text"])


def test_pages_without_a_site_carry_their_template_tags_for_dedup():
    from tasks.hashing import page_tags, tag_hashes

    rows = [
        ingested_row("p1", PAGE, content_type="html"),
        ingested_row("t1", PARAGRAPHS[0] * 3),
        {**ingested_row("p2", PAGE, content_type="html"), "url": "https://chronicle.example/pier"},
    ]
    out = {r["doc_id"]: r for r in extract_batch(ingested(rows), CFG).kept.to_pylist()}
    expected = tag_hashes(page_tags(PAGE.encode())).view("int64").tolist()
    # The nav links, the share box: what the site's template repeats.
    assert out["p1"]["site"] is None and len(expected) >= 5
    assert out["p1"]["template_tags"] == expected
    assert out["t1"]["template_tags"] == []
    # A page whose site is known is grouped by its site: its tags are not needed.
    assert out["p2"]["site"] == "chronicle.example" and out["p2"]["template_tags"] == []


def test_a_publication_date_after_the_fetch_is_dropped():
    future = PAGE.replace("2026-03-10T08:00:00Z", "2027-01-01T00:00:00Z")
    row = extract_batch(
        ingested([ingested_row("p1", future, content_type="html")]), CFG
    ).kept.to_pylist()[0]
    assert row["published_at"] is None
    text = "March 3, 2027\nOstmere approves new pier\n" + "\n".join(PARAGRAPHS)
    row = extract_batch(ingested([ingested_row("t1", text)]), CFG).kept.to_pylist()[0]
    assert row["published_at"] is None and row["date_text"] == "March 3, 2027"
    assert any(s.startswith("future_date") for s in row["stripped"])


def test_empty_and_junk_only_documents_are_quarantined():
    rows = [
        ingested_row(
            "e1", "<html><body><nav>Home | News | Sport</nav></body></html>", content_type="html"
        ),
        ingested_row("e2", "Leave a Reply\nSubscribe\nBack to top\n"),
        ingested_row("ok", "\n".join(PARAGRAPHS)),
    ]
    split = extract_batch(ingested(rows), CFG)
    assert split.kept.column("doc_id").to_pylist() == ["ok"]
    assert split.quarantined.column("reason").to_pylist() == ["empty_text", "empty_text"]


def test_oversized_html_is_quarantined_before_parsing():
    cfg = ExtractConfig(run_id=RUN_ID, run_started_at=STARTED, max_html_chars=100)
    split = extract_batch(ingested([ingested_row("big", PAGE, content_type="html")]), cfg)
    assert split.quarantined.column("reason").to_pylist() == ["html_too_large"]


def test_scripts_in_untrusted_html_are_never_text():
    page = PAGE.replace("<article>", "<article><script>document.write('INJECTED')</script>")
    row = extract_batch(
        ingested([ingested_row("p", page, content_type="html")]), CFG
    ).kept.to_pylist()[0]
    assert "INJECTED" not in row["text"]


def test_language_is_detected_per_document():
    french = (
        "La ville portuaire a inauguré vendredi son nouveau barrage, en présence de "
        "plusieurs milliers d'habitants venus de toute la région."
    )
    assert detect_lang(french) == "fr"
    assert detect_lang("Too short") is None


# ----------------------------------------------------------------------------- the seeds

SEED_STARTS = {
    "000": ("Hatami: Victory over terrorism", "Iranian Minister of Defense, Brigadier General"),
    "001": ("Iranian DM Visits Base of Resistance Forces", "Iranian Defense Minister Brigadier"),
    "002": ("Iran Says Full Coordination Needed", "Iran’s defence minister says victories"),
    "003": ("Iran, Syrian defense ministers discuss", "Damascus, Syrian Defense Minister"),
    "004": (None, "Le général Amir Hatami, ministre iranien de la Défense"),
}
SEED_SOURCES = {
    "000": "MNA",
    "003": "Islamic Republic News Agency - IRNA",
    "004": "PressTV",
}


def test_seed_reports_through_the_extract_stage(seeds_dir):
    from pathlib import Path

    paths = sorted(Path(seeds_dir).glob("*.txt"))
    rows = [ingested_row(p.name[:3], p.read_bytes()) for p in paths]
    split = extract_batch(ingested(rows), CFG)
    assert split.quarantined.num_rows == 0
    out = {row["doc_id"]: row for row in split.kept.to_pylist()}
    assert set(out) == set(SEED_STARTS)
    for key, (headline, first) in SEED_STARTS.items():
        row = out[key]
        # The headline moved to `title`, so the text starts with the first sentence.
        assert row["text"].startswith(first), key
        if headline:
            assert row["title"].startswith(headline), key
        for junk in SEED_MUST_NOT:
            assert junk not in row["text"], (key, junk)
        assert row["source_attribution"] == SEED_SOURCES.get(key), key
        # Nothing disappears unexplained: every removed line is listed with its reason.
        assert all(": " in entry for entry in row["stripped"]), key
    assert out["002"]["published_at"] is None
    assert "render_date: Friday, October 7, 2022" in out["002"]["stripped"]
    assert out["004"]["lang"] == "fr" and out["000"]["lang"] == "en"


# ----------------------------------------------------------------------------- HTML paths


def test_site_boilerplate_from_earlier_nights_is_stripped_with_its_reason():
    from dataclasses import replace

    from tasks.extract.sitelines import SiteBoilerplate, line_key

    footer = "Ostmere Chronicle is published by the Quay Street Press cooperative."
    page = PAGE.replace("</article>", f"<p>{footer}</p></article>")
    row = ingested_row("p1", page, content_type="html", url="https://ostmere.example/pier")
    plain = extract_batch(ingested([row]), CFG).kept.to_pylist()[0]
    assert footer in plain["text"]
    model = SiteBoilerplate({"ostmere.example": frozenset({line_key(footer)})})
    cfg = replace(CFG, site_boilerplate=model)
    learned = extract_batch(ingested([row]), cfg).kept.to_pylist()[0]
    assert footer not in learned["text"]
    assert f"site_boilerplate: {footer}" in learned["stripped"]
    assert learned["site"] == "ostmere.example"


def test_a_short_article_gets_a_second_opinion_and_says_so():
    article = PAGE.replace("<head>", '<head><meta property="og:type" content="article">')
    row = extract_batch(
        ingested([ingested_row("p1", article, content_type="html")]), CFG
    ).kept.to_pylist()[0]
    # The article is under 1,000 characters: trafilatura's whole cascade ran too.
    assert row["stripped"][0].startswith("extractor: trafilatura (fast pass kept")
    # A page not marked up as an article goes through the whole cascade at once.
    plain = extract_batch(
        ingested([ingested_row("p2", PAGE, content_type="html")]), CFG
    ).kept.to_pylist()[0]
    assert not any(s.startswith("extractor:") for s in plain["stripped"])
    assert plain["text"] == row["text"]


def test_text_trafilatura_cannot_find_comes_from_the_baseline_extractor():
    # No paragraphs, just line breaks in a table cell: trafilatura keeps too little.
    cell = "<br>".join(PARAGRAPHS)
    page = f"<html><body><table><tr><td>{cell}</td></tr></table></body></html>"
    row = extract_batch(
        ingested([ingested_row("t1", page, content_type="html")]), CFG
    ).kept.to_pylist()[0]
    for paragraph in PARAGRAPHS:
        assert paragraph in row["text"]
