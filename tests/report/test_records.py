"""The report module on hand-written run records (several nights, one of them run twice), and
the HTML page in headless Chromium."""

from __future__ import annotations

import html
import json
import re

import pyarrow as pa
import pytest

from tasks.report.records import (
    NIGHT_COLUMNS,
    expectation_rows,
    funnel_steps,
    last_runs,
    night_rows,
    plural,
    profile,
    render_html,
    size_bins,
    stage_rows,
    summary_markdown,
    terminal_summary,
    write_report,
)
from tests.browser import console_errors, screenshot_dir


def _outcome(expectation, severity="critical", success=True, **extra):
    status = "pass" if success else ("fail" if severity == "critical" else "warn")
    return {
        "expectation": expectation,
        "severity": severity,
        "success": success,
        "observed": extra.pop("observed", None),
        "unexpected_count": extra.pop("unexpected_count", 0),
        "why": "because",
        "quarantine": extra.pop("quarantine", None),
        "quarantined": extra.pop("quarantined", 0),
        "status": status,
    }


def _stage(rows_in, kept, quarantined=0, reasons=None, **extra):
    return {
        "rows_in": rows_in,
        "kept": kept,
        "quarantined": quarantined,
        "seconds": 1.5,
        "reasons": reasons or {},
        "extra": extra,
    }


def record(run_id="20260314T020000Z-aaaa0001", status="completed", started="2026-03-14T02:00"):
    return {
        "run_id": run_id,
        "run_date": "2026-03-14",
        "status": status,
        "started_at": started,
        "data_dir": "data",
        "stages": {
            "ingest": _stage(12, 10, 2, {"bad_gzip": 1, "warc_not_document": 1}),
            "extract": _stage(10, 10),
            "repair": _stage(9, 9),
            "dedup": _stage(9, 9, duplicates=3),
        },
        "validations": {
            "ingested": {
                "status": "pass",
                "rows": 10,
                "quarantined": 0,
                "reasons": {},
                "outcomes": [_outcome("arrow_schema_exact", observed="exact")],
            },
            "extracted": {
                "status": "warn",
                "rows": 10,
                "quarantined": 1,
                "reasons": {"undecodable_text": 1},
                "outcomes": [
                    _outcome("expect_column_values_to_be_unique(doc_id)"),
                    _outcome(
                        "expect_column_values_to_be_between(replacement_rate)",
                        unexpected_count=1,
                        quarantine="undecodable_text",
                        quarantined=1,
                    ),
                    _outcome(
                        "expect_column_values_to_be_between(boilerplate_hits)",
                        "warning",
                        False,
                        unexpected_count=4,
                    ),
                ],
            },
        },
        "invariant": {"input": 12, "articles": 6, "duplicates": 3, "quarantined": 3, "holds": True},
        "profile": {
            "text_length_bins": [
                {"from": 0, "count": 0},
                {"from": 512, "count": 4},
                {"from": 1024, "count": 2},
            ],
            "languages": {"en": 5, "fr": 1},
            "cluster_sizes": {"1": 4, "2": 1, "3": 1},
            "quarantine_reasons": {
                "ingest: bad_gzip": 1,
                "validate: undecodable_text": 1,
                "ingest: <script>alert(1)</script>": 1,
            },
        },
        "error": None,
    }


def failed_record():
    rec = record(run_id="20260315T020000Z-bbbb0002", status="failed", started="2026-03-15T02:00")
    rec["run_date"] = "2026-03-15"
    rec["invariant"] = None
    rec["profile"] = None
    rec["error"] = "QualityGateError: critical expectation failed on `extracted`"
    rec["validations"]["extracted"]["outcomes"][0] = _outcome(
        "expect_column_values_to_be_unique(doc_id)", success=False, unexpected_count=2
    )
    rec["validations"]["extracted"]["status"] = "fail"
    return rec


def night_record(night, tag, counts, *, status="completed", hour=2, passing=3):
    """A run of `night` whose invariant is `counts` (input, articles, duplicates, quarantined),
    with `passing` more passing checks on `deduped`."""
    inp, articles, duplicates, quarantined = counts
    rec = record(
        run_id=f"{night.replace('-', '')}T{hour:02d}0000Z-{tag}",
        status=status,
        started=f"{night}T{hour:02d}:00",
    )
    rec["run_date"] = night
    kept = articles + duplicates
    rec["stages"] = {
        "ingest": _stage(
            inp, inp - quarantined, quarantined, {"bad_gzip": quarantined} if quarantined else None
        ),
        "extract": _stage(inp - quarantined, kept),
        "repair": _stage(kept, kept),
        "dedup": _stage(kept, kept, duplicates=duplicates),
    }
    extracted = rec["validations"]["extracted"]
    extracted.update(quarantined=0, reasons={})
    extracted["outcomes"][1]["quarantined"] = 0
    rec["validations"]["deduped"] = {
        "status": "pass",
        "rows": kept,
        "quarantined": 0,
        "reasons": {},
        "outcomes": [_outcome(f"expect_check_{i:02d}") for i in range(passing)],
    }
    rec["invariant"] = {
        "input": inp,
        "articles": articles,
        "duplicates": duplicates,
        "quarantined": quarantined,
        "holds": True,
    }
    rec["profile"] = {
        "text_length_bins": [
            {"from": 512, "count": articles // 2},
            {"from": 1024, "count": articles - articles // 2},
        ],
        "languages": {"en": articles},
        "cluster_sizes": {"1": articles - 1, str(1 + duplicates): 1}
        if duplicates
        else {"1": articles},
        "quarantine_reasons": {"ingest: bad_gzip": quarantined} if quarantined else {},
    }
    return rec


def nights():
    """Six nights, given out of order: a big one, a 2-document one, one that failed and was run
    again, the usual `record()`, one whose latest run was skipped, and a failed one."""
    retried_failure = night_record("2026-03-12", "cccc0001", (40, 0, 0, 0), status="failed")
    retried_failure.update(invariant=None, profile=None, error="OSError: disk full")
    skipped = night_record("2026-03-13", "dddd0002", (30, 1, 1, 28), status="skipped", hour=5)
    skipped["profile"] = None
    return [
        failed_record(),
        night_record("2026-03-12", "cccc0002", (40, 25, 10, 5), hour=6, passing=57),
        record(),
        night_record("2026-03-10", "aaaa0000", (120, 80, 25, 15)),
        retried_failure,
        night_record("2026-03-11", "bbbb0001", (2, 2, 0, 0), passing=0),
        night_record("2026-03-13", "dddd0001", (30, 1, 1, 28)),
        skipped,
    ]


NIGHTS = ["2026-03-10", "2026-03-11", "2026-03-12", "2026-03-13", "2026-03-14", "2026-03-15"]


def _write_records(data_dir, records):
    runs = data_dir / "runs"
    runs.mkdir(parents=True)
    for rec in records:
        (runs / f"{rec['run_id']}.json").write_text(json.dumps(rec), "utf-8")
    return data_dir


def test_stage_rows_count_what_the_checks_set_aside_under_their_stage():
    rows = {r["stage"]: r for r in stage_rows(record())}
    assert rows["extract"]["kept"] == 9 and rows["extract"]["by checks"] == 1
    assert rows["extract"]["top reasons"] == "undecodable_text (1)"
    assert rows["ingest"]["top reasons"] == "bad_gzip (1), warc_not_document (1)"
    assert rows["dedup"]["duplicates"] == 3 and rows["ingest"]["duplicates"] == ""
    assert rows["extract"]["checks"] == "warn" and rows["repair"]["checks"] == ""


def test_expectations_are_listed_failures_first_then_warnings_then_passes():
    rows = expectation_rows(failed_record())
    assert [(r["dataset"], r["status"]) for r in rows] == [
        ("extracted", "fail"),
        ("extracted", "warn"),
        ("ingested", "pass"),
        ("extracted", "pass"),
    ]
    assert rows[0]["expectation"] == "expect_column_values_to_be_unique(doc_id)"
    md = summary_markdown(failed_record())
    assert "checks: 2 pass, 1 warn, 1 fail" in md
    assert "| extracted | **FAIL** | critical | `expect_column_values_to_be_unique(doc_id)`" in md
    assert md.index("**FAIL**") < md.index("**warn**") < md.index("| ingested | pass")
    assert "**error**: QualityGateError" in md


def test_funnel_follows_documents_to_the_canonical_articles():
    assert funnel_steps(record()) == [
        ("input documents", 12),
        ("after ingest", 10),
        ("after extract", 9),
        ("after repair", 9),
        ("after dedup", 9),
        ("canonical articles", 6),
    ]


def test_profile_bins_lengths_and_counts_cluster_sizes():
    articles = pa.table(
        {
            "text_length": pa.array([100, 300, 300, 5000], pa.int32()),
            "lang": ["en", "en", None, "fr"],
            "cluster_id": ["c1", "c2", "c3", "c4"],
        }
    )
    duplicates = pa.table({"cluster_id": ["c1", "c1", "c2"]})
    quarantine = pa.table({"stage": ["ingest", "validate"], "reason": ["bad_gzip", "no_words"]})
    prof = profile(articles, duplicates, quarantine)
    bins = {b["from"]: b["count"] for b in prof["text_length_bins"]}
    assert (bins[0], bins[256], bins[4096]) == (1, 2, 1)
    assert sum(bins.values()) == 4
    assert prof["languages"] == {"en": 2, "unknown": 1, "fr": 1}
    assert prof["cluster_sizes"] == {"1": 2, "2": 1, "3": 1}
    assert prof["quarantine_reasons"] == {"ingest: bad_gzip": 1, "validate: no_words": 1}


def test_cluster_sizes_are_drawn_in_bins():
    bins = dict(size_bins({"1": 4, "2": 1, "4": 2, "5": 1, "150": 1}))
    assert (bins["1"], bins["2"], bins["3"], bins["4-5"], bins["101+"]) == (4, 1, 0, 3, 1)
    assert sum(bins.values()) == 9


def test_history_has_one_line_per_night_from_its_latest_run():
    rows = night_rows(nights())
    assert [[r[c] for c in NIGHT_COLUMNS] for r in rows] == [
        ["2026-03-10", 1, "completed", 120, 80, 25, 15, 6, 1, 0],
        ["2026-03-11", 1, "completed", 2, 2, 0, 0, 3, 1, 0],
        ["2026-03-12", 2, "completed", 40, 25, 10, 5, 60, 1, 0],
        ["2026-03-13", 2, "skipped", 30, 1, 1, 28, 6, 1, 0],
        ["2026-03-14", 1, "completed", 12, 6, 3, 3, 3, 1, 0],
        ["2026-03-15", 1, "failed", 12, "-", "-", "-", 2, 1, 1],
    ]
    assert rows[2]["run"] == "20260312T060000Z-cccc0002"  # the retry, not the failed run
    assert [r["night"] for r in night_rows(nights(), 2)] == NIGHTS[-2:]


def _table_after(page: str, first_header: str) -> list[list[str]]:
    """The cells of each row of the first table whose first column is `first_header`."""
    start = page.index(f"<table><tr><th>{first_header}</th>")
    table = page[start : page.index("</table>", start)]
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", table)[1:]
    return [[html.unescape(c) for c in re.findall(r"<td[^>]*>(.*?)</td>", r)] for r in rows]


def test_page_shows_the_history_of_nights_above_the_nights_details():
    page = render_html(nights())
    assert "<h1>wiredesk: 6 nights, 2026-03-10 to 2026-03-15</h1>" in page
    assert _table_after(page, "night") == [
        ["2026-03-10", "1", "completed", "120", "80", "25", "15", "6", "1", "0"],
        ["2026-03-11", "1", "completed", "2", "2", "0", "0", "3", "1", "0"],
        ["2026-03-12", "2", "completed", "40", "25", "10", "5", "60", "1", "0"],
        ["2026-03-13", "2", "skipped", "30", "1", "1", "28", "6", "1", "0"],
        ["2026-03-14", "1", "completed", "12", "6", "3", "3", "3", "1", "0"],
        ["2026-03-15", "1", "failed", "12", "-", "-", "-", "2", "1", "1"],
    ]
    history, details = page.index("<h2>History of nights"), page.index("<h2>Night 2026-03-15")
    assert history < page.index('class="history"') < details  # the plot, before the details
    assert history < page.index("<table><tr><th>night</th>") < details
    # The plot: a stack per night from its latest run, the failed night marked (once).
    assert "<title>2026-03-11: 2 articles</title>" in page
    assert "<title>2026-03-12: 25 articles</title>" in page
    assert "<title>2026-03-12: 10 duplicates</title>" in page
    assert "<title>2026-03-10: 15 quarantined</title>" in page
    assert "<title>2026-03-15: failed, 12 documents in, nothing published</title>" in page
    assert page.count(">failed</text>") == 1
    # The latest night is the one detailed; every run of the nights is in the run table.
    assert '<tr class="chosen"><td>2026-03-15</td>' in page
    runs = [row[0] for row in _table_after(page, "run")]
    assert runs == sorted((r["run_id"] for r in nights()), reverse=True)
    assert {"20260312T020000Z-cccc0001", "20260312T060000Z-cccc0002"} <= set(runs)
    assert details < page.index("<table><tr><th>run</th>")


def test_night_picks_the_details_shown():
    page = render_html(nights(), night="2026-03-11")
    assert "<title>wiredesk night 2026-03-11</title>" in page
    details = page[page.index("<h2>Night 2026-03-11: ") : page.index("<h2>Runs")]
    assert "run 20260311T020000Z-bbbb0001" in details
    assert "2 input documents = 2 articles + 0 duplicates + 0 quarantined (holds)" in details
    assert _table_after(details, "stage")[0][:4] == ["ingest", "2", "2", "0"]
    assert '<tr class="chosen"><td>2026-03-11</td>' in page
    assert "QualityGateError" not in page  # the latest night's error is not this night's
    assert "Published profile of night 2026-03-11</h3>" in details
    # A night run twice: its latest run's details, its earlier run's profile said to be so.
    page = render_html(nights(), night="2026-03-13")
    assert "skipped</span></h2>" in page and "the latest of 2 runs of this night" in page
    assert "recorded by run 20260313T020000Z-dddd0001, an earlier run of this night" in page
    # A failed night says it has no profile and shows no other night's.
    page = render_html(nights(), night="2026-03-15")
    assert (
        "Night 2026-03-15 has no published profile: no run of this night recorded one "
        "(1 run, the latest failed)." in page
    )
    assert "languages of published articles" not in page
    assert page.count("<svg") == 2  # the history and the night's funnel


def test_terminal_summary_shows_the_history_and_the_chosen_night():
    text = terminal_summary(nights())
    lines = text.splitlines()
    assert lines[0].startswith("wiredesk: 6 nights, 2026-03-10 to 2026-03-15 (latest run of each")
    assert lines[1].split() == NIGHT_COLUMNS
    assert [line.split()[0] for line in lines[2:8]] == NIGHTS
    assert lines[4].split() == [
        "2026-03-12",
        "2",
        "completed",
        "40",
        "25",
        "10",
        "5",
        "60",
        "1",
        "0",
    ]
    assert lines[7].split() == ["2026-03-15", "1", "failed", "12", "-", "-", "-", "2", "1", "1"]
    assert "night 2026-03-15: failed, run 20260315T020000Z-bbbb0002" in text
    assert "checks: 1 fail, 1 warn, 2 pass" in text
    fail = text.index("fail    expect_column_values_to_be_unique(doc_id)")
    assert fail < text.index("warn    expect_column_values_to_be_between(boilerplate_hits)")
    assert "2 checks passed (not listed)" in text and "arrow_schema_exact" not in text
    assert "error: QualityGateError" in text
    text = terminal_summary(nights(), "2026-03-12")
    assert (
        "night 2026-03-12: completed, run 20260312T060000Z-cccc0002 (the latest of 2 runs)" in text
    )
    assert "40 input documents = 25 articles + 10 duplicates + 5 quarantined (holds)" in text
    assert re.search(r"^ingest +40 +35 +5 ", text, re.M)
    assert "60 checks passed (not listed)" in text and "error:" not in text
    assert terminal_summary(nights(), nights=2).startswith("wiredesk: the last 2 of 6 nights")
    assert terminal_summary([]) == "no runs recorded yet"
    assert [r["run_id"] for r in last_runs([failed_record(), record()], 1)] == [
        "20260315T020000Z-bbbb0002"
    ]


def test_write_report_picks_a_night_and_refuses_an_unknown_one(tmp_path):
    data = _write_records(tmp_path / "data", nights())
    text, path = write_report(data, None, 3, "2026-03-11")
    assert path == data / "docs" / "report.html"
    assert text.startswith("wiredesk: the last 3 of 6 nights, 2026-03-13 to 2026-03-15")
    assert "night 2026-03-11: completed" in text
    page = path.read_text("utf-8")
    assert [row[0] for row in _table_after(page, "night")] == NIGHTS[-3:]
    assert "Night 2026-03-11 is older than the nights shown." in page
    assert "<h2>Night 2026-03-11: " in page
    path.unlink()
    with pytest.raises(ValueError) as caught:
        write_report(data, None, 3, "2026-04-01")
    assert str(caught.value) == (
        "no run recorded for night 2026-04-01; nights with runs: " + ", ".join(NIGHTS)
    )
    assert not path.exists()
    with pytest.raises(ValueError, match="no runs recorded yet"):
        write_report(tmp_path / "empty", None, 3, "2026-03-14")
    text, _ = write_report(tmp_path / "empty", None, 3)
    assert text == "no runs recorded yet"


def test_failed_checks_come_first_and_passing_ones_are_folded():
    page = render_html(nights())
    fail = page.index("expect_column_values_to_be_unique(doc_id)")
    warn = page.index("expect_column_values_to_be_between(boilerplate_hits)")
    folded = page[page.index("<details>") : page.index("</details>")]
    assert fail < warn < page.index("<details>")
    assert "<summary>2 checks passed</summary>" in folded
    assert "arrow_schema_exact" in folded and "replacement_rate" in folded
    assert "unique(doc_id)" not in folded and "boilerplate_hits" not in folded
    page = render_html(nights(), night="2026-03-12")
    assert "<summary>60 checks passed</summary>" in page


def test_counts_take_the_right_plural():
    assert [plural(n, "article") for n in (0, 1, 2)] == ["0 articles", "1 article", "2 articles"]
    one = night_record("2026-03-20", "eeee0001", (3, 1, 1, 1), passing=1)
    one["validations"] = {"deduped": one["validations"]["deduped"]}
    text, page = terminal_summary([one]), render_html([one])
    for out in (text, page):
        assert "3 input documents = 1 article + 1 duplicate + 1 quarantined" in out
    assert text.startswith("wiredesk: 1 night, 2026-03-20 (")
    assert "1 check passed (not listed)" in text
    assert "<h1>wiredesk: 1 night, 2026-03-20</h1>" in page
    assert "<summary>1 check passed</summary>" in page
    assert "No check failed or warned." in page
    assert "(+1 duplicate)" in page  # the funnel's last step
    assert "1 run of these nights" in page


def _external_references(page: str) -> list[str]:
    page = page.replace('xmlns="http://www.w3.org/2000/svg"', "")
    return re.findall(r"(?:https?:)?//[\w.-]+|<script|<link(?![^>]*data:,)[^>]*>", page)


def test_html_is_self_contained_and_escapes_what_it_shows():
    page = render_html([record()])
    assert _external_references(page) == []
    # history, funnel, reasons, cluster sizes, languages, lengths
    assert page.count("<svg") == 6
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    bad = failed_record()
    bad["error"] = "ValueError: <img src=x onerror=alert(1)>"
    page = render_html([record(), bad])
    assert _external_references(page) == []
    assert "<img" not in page and "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "No runs recorded yet" in render_html([])


# --------------------------------------------------------------------------- headless Chromium


def _errors(driver) -> list[dict]:
    return console_errors(driver)


@pytest.mark.browser
def test_the_harness_sees_console_errors(browser, tmp_path):
    # The control: a page with a script error, a console error and a missing resource.
    bad = tmp_path / "bad.html"
    bad.write_text(
        '<html><head><link rel="icon" href="data:,"></head><body><img src="missing.png">'
        '<script>console.error("boom"); notDefined();</script></body></html>'
    )
    browser.get(bad.as_uri())
    sources = {e["source"] for e in _errors(browser)}
    assert {"network", "console-api", "javascript"} <= sources


def _overlapping_labels(driver, selector: str) -> list[tuple[str, str]]:
    boxes = driver.execute_script(
        "return [...document.querySelectorAll(arguments[0])].map(t => {"
        "const r = t.getBoundingClientRect();"
        "return [r.left, r.top, r.right, r.bottom, t.textContent]; });",
        selector,
    )
    return [
        (a[4], b[4])
        for i, a in enumerate(boxes)
        for b in boxes[i + 1 :]
        if a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]
    ]


@pytest.mark.browser
def test_report_renders_in_headless_chromium_without_console_errors(browser, tmp_path):
    data = _write_records(tmp_path / "data", nights())
    for night, name in ((None, "report.png"), ("2026-03-11", "report-night.png")):
        _, page = write_report(data, tmp_path / f"{name}.html", 10, night)
        browser.get(page.as_uri())
        assert _errors(browser) == []
        assert browser.title == f"wiredesk night {night or '2026-03-15'}"
        (plot,) = browser.find_elements("css selector", "svg.history")
        assert plot.size["height"] > 200 and plot.size["width"] > 600
        titles = [
            t.get_attribute("textContent")
            for t in plot.find_elements("css selector", "rect > title")
        ]
        assert sum(t.endswith(("article", "articles")) for t in titles) == 5
        assert sum("failed" in t for t in titles) == 1
        assert _overlapping_labels(browser, "svg.history text") == []
        history = browser.find_elements("css selector", "table")[0]
        assert len(history.find_elements("css selector", "tr")) == 1 + len(NIGHTS)
        # The passing checks are folded away: their summary shows, their table does not.
        summary = browser.find_element("css selector", "details > summary")
        assert summary.is_displayed() and summary.text.endswith("checks passed")
        assert not browser.find_element("css selector", "details table").is_displayed()
        height = browser.execute_script("return document.documentElement.scrollHeight")
        browser.set_window_size(1280, height + 150)
        shot = screenshot_dir() / name
        assert browser.save_screenshot(str(shot))
        assert shot.stat().st_size > 10_000


def test_cli_has_the_report_command():
    from flows import cli

    args = cli.build_parser().parse_args(["report", "--data-dir", "d", "--runs", "3"])
    assert (args.command, args.data_dir, args.runs, args.out) == ("report", "d", 3, None)
