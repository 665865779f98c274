"""The report module on hand-written run records, and the HTML page in headless Chromium."""

from __future__ import annotations

import copy
import re
import shutil
import tempfile
from pathlib import Path

import pyarrow as pa
import pytest

from tasks.report import (
    expectation_rows,
    funnel_steps,
    last_runs,
    profile,
    render_html,
    size_bins,
    stage_rows,
    summary_markdown,
    terminal_summary,
)


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


def test_stage_rows_count_what_the_checks_set_aside_under_their_stage():
    rows = {r["stage"]: r for r in stage_rows(record())}
    assert rows["extract"]["kept"] == 9 and rows["extract"]["by checks"] == 1
    assert rows["extract"]["top reasons"] == "undecodable_text (1)"
    assert rows["ingest"]["top reasons"] == "bad_gzip (1), warc_not_document (1)"
    assert rows["dedup"]["duplicates"] == 3 and rows["ingest"]["duplicates"] == ""
    assert rows["extract"]["checks"] == "warn" and rows["repair"]["checks"] == ""


def test_expectations_are_listed_failures_first_with_pass_warn_fail():
    rows = expectation_rows(failed_record())
    assert [r["status"] for r in rows] == ["pass", "fail", "warn", "pass"]
    assert rows[1]["expectation"] == "expect_column_values_to_be_unique(doc_id)"
    md = summary_markdown(failed_record())
    assert "checks: 2 pass, 1 warn, 1 fail" in md
    assert "| extracted | **FAIL** | critical | `expect_column_values_to_be_unique(doc_id)`" in md
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


def test_terminal_summary_shows_the_last_runs_and_what_did_not_pass():
    text = terminal_summary(last_runs([failed_record(), record()], 5))
    lines = text.splitlines()
    assert lines[2].startswith("20260314T020000Z-aaaa0001")  # oldest first
    assert lines[3].startswith("20260315T020000Z-bbbb0002")
    assert "latest run 20260315T020000Z-bbbb0002 (failed)" in text
    assert "fail    expect_column_values_to_be_unique(doc_id)" in text
    assert "error: QualityGateError" in text
    assert terminal_summary([]) == "no runs recorded yet"
    assert [r["run_id"] for r in last_runs([failed_record(), record()], 1)] == [
        "20260315T020000Z-bbbb0002"
    ]


def _external_references(page: str) -> list[str]:
    page = page.replace('xmlns="http://www.w3.org/2000/svg"', "")
    return re.findall(r"(?:https?:)?//[\w.-]+|<script|<link(?![^>]*data:,)[^>]*>", page)


def test_html_is_self_contained_and_escapes_what_it_shows():
    page = render_html([record()])
    assert _external_references(page) == []
    assert page.count("<svg") == 5  # funnel, reasons, cluster sizes, languages, lengths
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    # A failed night shows its error, and the profile of the last published night.
    page = render_html([record(), failed_record()])
    assert "QualityGateError" in page and "from the last published night" in page
    assert "No runs recorded yet" in render_html([])


# --------------------------------------------------------------------------- headless Chromium

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
# Flags that work on the offline CI machine: without the background-networking ones Chromium's
# own connections are refused by the closed network and logged.
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1200,2400",
)


@pytest.fixture
def browser():
    """Debian's chromium driven through its matching chromium-driver (selenium, no download)."""
    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
        pytest.skip("chromium and chromium-driver are not installed (.ci/run installs them)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile_dir = tempfile.mkdtemp(prefix="wiredesk-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (*FLAGS, f"--user-data-dir={profile_dir}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile_dir, ignore_errors=True)


def _errors(driver) -> list[dict]:
    return [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]


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


def test_report_renders_in_headless_chromium_without_console_errors(browser, tmp_path):
    page = tmp_path / "report.html"
    page.write_text(render_html([copy.deepcopy(failed_record()), record()]), "utf-8")
    browser.get(page.as_uri())
    assert _errors(browser) == []
    assert browser.title == "wiredesk night 2026-03-14"
    assert len(browser.find_elements("css selector", "svg")) == 5
    shot = tmp_path / "report.png"
    assert browser.save_screenshot(str(shot))
    assert shot.stat().st_size > 10_000


def test_cli_has_the_report_command():
    from flows import cli

    args = cli.build_parser().parse_args(["report", "--data-dir", "d", "--runs", "3"])
    assert (args.command, args.data_dir, args.runs, args.out) == ("report", "d", 3, None)
