"""Data Docs (tasks/validate/datadocs.py) on results the validate task stored for tiny tables
over two nights and four runs, and the pages in headless Chromium (offline)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import unquote, urlsplit

import lxml.html
import pyarrow as pa
import pytest

from tasks import io
from tasks.schema import EXTRACTED, INGESTED, QUARANTINED
from tasks.validate import datadocs
from tasks.validate.suites import ValidateConfig, build_docs, validate_dataset
from tests.browser import console_errors, screenshot_dir
from tests.builders import extracted, extracted_row, quarantine_like
from tests.conftest import ROOT

SUITES = ROOT / "expectations"
NIGHT_1, NIGHT_2 = "2026-03-13", "2026-03-14"
RUN_A = "20260313T020000Z-aaaa0001"  # night 1, completed, one warning
RUN_B = "20260314T020000Z-bbbb0002"  # night 2, failed on a critical check
RUN_C = "20260314T031500Z-cccc0003"  # night 2 again: skipped, lists B's results
RUN_D = "20260314T040000Z-dddd0004"  # killed before it wrote its record: results only
# A value a check catches, as scraped pages carry them.
SCRAPED = "<script>alert('wiredesk')</script> & \"Velmora\" <b>harbour</b>"
STORY = (
    "The Velmora harbour board approved the new ferry timetable on Tuesday, after a month of "
    "complaints from island commuters about cancelled morning crossings. The first boat will "
    "now leave at six, and a second crew joins the service in April."
)


def _started(run_id: str) -> datetime:
    return datetime.strptime(run_id[:16], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)


def _validate(
    data: Path, night: str, run_id: str, dataset: str, table: pa.Table, schema: pa.Schema
) -> dict:
    """What the flow does for one dataset: stage the table, run the validate task, keep its
    report (GX's result is stored under `run_id`, as for a night)."""
    layout = io.Layout(data, night)
    staged = (
        layout.staged_quarantine("ingest") if dataset == "quarantined" else layout.staged(dataset)
    )
    io.write_partition(data, staged, [table], schema)
    cfg = ValidateConfig(run_id=run_id, run_started_at=_started(run_id))
    report = validate_dataset(
        dataset, [str(staged)], str(SUITES / f"{dataset}.json"), layout, cfg, table.num_rows
    )
    return report.to_dict()


def _record(run_id: str, night: str, status: str, validations: dict, **extra: object) -> dict:
    return {
        "run_id": run_id,
        "night_run_id": extra.pop("night_run_id", run_id),
        "run_date": night,
        "status": status,
        "started_at": _started(run_id).isoformat(),
        "finished_at": _started(run_id).replace(minute=30).isoformat(),
        "stages": {},
        "validations": validations,
        **extra,
    }


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, dict]]:
    """The data dir after four runs, with the docs built once (as the run of night 2 does)."""
    data = tmp_path_factory.mktemp("data")
    residue = [extracted_row(f"doc{i}", f"{STORY} Item {i}.\nBack to top") for i in range(5)]
    bad = quarantine_like(3)
    bad = bad.set_column(
        bad.schema.get_field_index("reason"),
        "reason",
        pa.array(["unsupported_type", SCRAPED, "unsupported_type"], pa.string()),
    )
    a = {
        "ingested": _validate(data, NIGHT_1, RUN_A, "ingested", INGESTED.empty_table(), INGESTED),
        "extracted": _validate(data, NIGHT_1, RUN_A, "extracted", extracted(residue), EXTRACTED),
        "quarantined": _validate(
            data, NIGHT_1, RUN_A, "quarantined", quarantine_like(3), QUARANTINED
        ),
    }
    b = {"quarantined": _validate(data, NIGHT_2, RUN_B, "quarantined", bad, QUARANTINED)}
    _validate(data, NIGHT_2, RUN_D, "extracted", extracted(residue[:3]), EXTRACTED)
    records = {
        RUN_A: _record(RUN_A, NIGHT_1, "completed", a),
        RUN_B: _record(
            RUN_B,
            NIGHT_2,
            "failed",
            b,
            error=f"QualityGateError: critical expectation failed on `quarantined`: {SCRAPED}",
        ),
        RUN_C: _record(RUN_C, NIGHT_2, "skipped", b, night_run_id=RUN_B),
    }
    layout = io.Layout(data, NIGHT_2)
    for run_id, record in records.items():
        io.write_json(layout.run_record(run_id), record)
    cfg = ValidateConfig(run_id=RUN_B, run_started_at=_started(RUN_B))
    index = build_docs(layout, cfg, ["quarantined"], SUITES)
    assert index == str(data / "docs" / "index.html")
    return data / "docs", records


def _tree(path: Path) -> lxml.html.HtmlElement:
    return lxml.html.fromstring(path.read_text("utf-8"))


def _text(element: lxml.html.HtmlElement) -> str:
    return " ".join(element.text_content().split())


def _dd(tree: lxml.html.HtmlElement, term: str) -> str:
    found = tree.xpath(f"//dt[text()='{term}']/following-sibling::dd[1]")
    assert found, term
    return _text(found[0])


def _page_of(docs: Path, report: dict) -> Path:
    key = datadocs.result_key(report["result_path"])
    assert key is not None
    return docs / f"validations/{key.removesuffix('.json')}.html"


# --------------------------------------------------------------------------- index


def test_the_index_lists_every_run_newest_first_with_its_validations(site):
    docs, records = site
    tree = _tree(docs / "index.html")
    sections = tree.xpath("//section")
    headings = [_text(s.xpath("h2")[0]) for s in sections]
    assert headings == [
        f"Run {RUN_C} · night {NIGHT_2} · skipped",
        f"Run {RUN_B} · night {NIGHT_2} · failed",
        f"Run {RUN_A} · night {NIGHT_1} · completed",
    ]
    for section, run_id in zip(sections, (RUN_C, RUN_B, RUN_A), strict=True):
        record = records[run_id]
        rows = section.xpath(".//tr[td]")
        assert [_text(r.xpath("td[1]")[0]).split()[0] for r in rows] == list(record["validations"])
        for row, report in zip(rows, record["validations"].values(), strict=True):
            cells = [_text(td) for td in row.xpath("td")]
            counts = Counter(o["status"] for o in report["outcomes"])
            assert cells[2:8] == [
                report["status"],
                str(counts["pass"]),
                str(counts["warn"]),
                str(counts["fail"]),
                str(report["rows"]),
                str(report["quarantined"]),
            ]
            links = row.xpath("td[1]/a/@href")
            if report["status"] == "empty":
                assert not links and "no rows" in cells[0]
            else:
                assert (docs / unquote(links[0])) == _page_of(docs, report)
    # C is a later run of B's night: it says whose results it lists.
    assert f"continues the night's run {RUN_B}" in _text(sections[0])
    # D never wrote a record; its stored result is still shown, under its own run id.
    orphans = tree.xpath("//h2[starts-with(., 'Stored results that no run')]/following::table[1]")
    assert RUN_D in _text(orphans[0]) and orphans[0].xpath(".//a[text()='extracted']")


def test_counts_follow_wiredesk_severity_not_gx_success(site):
    docs, records = site
    extracted_a = records[RUN_A]["validations"]["extracted"]
    assert extracted_a["status"] == "warn"
    page = _tree(_page_of(docs, extracted_a))
    counts = Counter(o["status"] for o in extracted_a["outcomes"])
    assert counts["warn"] == 1 and counts["fail"] == 0
    assert _dd(page, "Outcome") == (
        f"warn: {counts['pass']} pass, {counts['warn']} warn, {counts['fail']} fail"
    )
    # GX calls the same result unsuccessful: a warning counts against its own flag.
    n = len(extracted_a["outcomes"]) - 1  # arrow_schema_exact is wiredesk's, not GX's
    assert _dd(page, "GX").startswith(f"{n - 1} of {n} expectations succeeded")
    assert _dd(page, "Did not pass") == "warn expect_column_values_to_be_between(boilerplate_hits)"
    failed_b = _tree(_page_of(docs, records[RUN_B]["validations"]["quarantined"]))
    assert _dd(failed_b, "Outcome").startswith("fail: ")


# --------------------------------------------------------------------------- result pages


def test_each_result_page_shows_the_real_run_id_and_every_expectation(site):
    docs, records = site
    for record in records.values():
        for report in record["validations"].values():
            if report["status"] == "empty":
                continue
            tree = _tree(_page_of(docs, report))
            assert _dd(tree, "Run") == record["night_run_id"]
            assert _dd(tree, "Night") == record["run_date"]
            rows = tree.xpath("//h2[text()='Expectations']/following::table[1]//tr[td]")
            assert len(rows) == len(report["outcomes"])
            for row, outcome in zip(rows, report["outcomes"], strict=True):
                cells = row.xpath("td")
                assert _text(cells[1]).startswith(outcome["expectation"])
                assert [_text(cells[2]), _text(cells[3])] == [
                    outcome["status"],
                    outcome["severity"],
                ]
                assert _text(cells[6]) == " ".join(outcome["why"].split())
                if outcome["unexpected_count"] is not None:
                    assert _text(cells[5]).startswith(str(outcome["unexpected_count"]))
            assert tree.xpath("//nav/a/@href") == ["../../../../index.html"]
            suite = tree.xpath("//dt[text()='Suite']/following-sibling::dd[1]/a/@href")
            assert suite == [f"../../../../expectations/{report['suite']}.html"]
    for page in docs.rglob("*.html"):
        assert "__none__" not in page.read_text("utf-8"), page


def test_the_observed_column_list_and_the_row_count_are_shown(site):
    docs, records = site
    report = records[RUN_A]["validations"]["extracted"]
    tree = _tree(_page_of(docs, report))
    row = tree.xpath(
        "//tr[td[2]/code[text()='expect_table_row_count_to_be_between[min rows_in * 0.5]']]"
    )
    assert _text(row[0].xpath("td[5]")[0]) == "5"
    assert "min_value: 2" in _text(row[0].xpath("td[2]")[0])  # rows_in 5 * 0.5, as GX ran it
    assert _dd(tree, "Rows") == "5"
    assert '"rows_in": 5' in _dd(tree, "Suite parameters")


def test_scraped_text_is_escaped_everywhere(site):
    docs, records = site
    page = _page_of(docs, records[RUN_B]["validations"]["quarantined"])
    raw = page.read_text("utf-8")
    assert SCRAPED not in raw
    assert "&lt;script&gt;alert(&#x27;wiredesk&#x27;)&lt;/script&gt;" in raw
    regex = _tree(page).xpath(
        "//tr[td[2]/code[text()='expect_column_values_to_match_regex(reason)']]"
    )
    cells = regex[0].xpath("td")
    assert [_text(cells[2]), _text(cells[3])] == ["fail", "critical"]
    assert _text(cells[5]) == "1 (33.3 %)"
    assert f"unexpected, e.g. {SCRAPED}" in cells[4].text_content()  # the caught value, as text
    index = (docs / "index.html").read_text("utf-8")
    assert SCRAPED not in index
    assert SCRAPED in _tree(docs / "index.html").text_content()  # the run's error
    for html_file in docs.rglob("*.html"):
        text = html_file.read_text("utf-8")
        assert "<script" not in text and "<b>harbour" not in text, html_file


# --------------------------------------------------------------------------- suite pages


def test_each_suite_page_shows_every_expectation_with_kwargs_severity_and_why(site):
    docs, _ = site
    for suite_file in sorted(SUITES.glob("*.json")):
        spec = json.loads(suite_file.read_text("utf-8"))
        tree = _tree(docs / "expectations" / f"{suite_file.stem}.html")
        assert _text(tree.xpath("//h1")[0]) == f"Suite {spec['name']}"
        rows = tree.xpath("//table[1]//tr[td]")
        assert len(rows) == len(spec["expectations"])
        for row, item in zip(rows, spec["expectations"], strict=True):
            cells = [_text(td) for td in row.xpath("td")]
            assert cells[1].startswith(item["type"])
            for name in item["kwargs"]:
                assert f"{name}: " in cells[2]
            assert cells[3] == item.get("severity", "critical")
            assert cells[4] == " ".join(item["meta"]["why"].split())
            if item["meta"].get("quarantine"):
                assert f"sets rows aside as {item['meta']['quarantine']}" in cells[1]
    extracted_page = _tree(docs / "expectations" / "extracted.html")
    assert '{"$PARAMETER": "rows_in * 0.5"}' in _text(extracted_page)  # the rule, not tonight's
    results = extracted_page.xpath("//h2[starts-with(., 'Stored results')]/following::table[1]")
    assert [_text(a) for a in results[0].xpath(".//a")] == [RUN_D, RUN_A]


def test_without_suite_files_the_suite_pages_come_from_the_stored_results(site, tmp_path):
    docs, _ = site
    data = docs.parent
    written = datadocs.build_site(
        tmp_path / "docs", data / "runs", data / "runs" / "validations", None
    )
    assert "expectations/extracted.html" in written
    page = _tree(tmp_path / "docs" / "expectations" / "extracted.html")
    assert f"no suite file; as they ran in {RUN_D}" in _text(page)
    assert _broken_links(tmp_path / "docs") == []


# --------------------------------------------------------------------------- self-contained


def _broken_links(docs: Path) -> list[str]:
    """Every link of every page that is absolute, leaves docs/, or points at nothing."""
    broken = []
    ids: dict[Path, set[str]] = {}
    pages = sorted(docs.rglob("*.html"))
    for page in pages:
        ids[page.resolve()] = set(_tree(page).xpath("//@id"))
    for page in pages:
        for href in _tree(page).xpath("//a/@href"):
            parts = urlsplit(href)
            if parts.scheme or parts.netloc or href.startswith("/"):
                broken.append(f"{page.name}: {href} is not relative")
                continue
            target = (page.parent / unquote(parts.path)).resolve() if parts.path else page
            if not target.is_relative_to(docs.resolve()) or not target.is_file():
                broken.append(f"{page.relative_to(docs)}: {href} points at nothing")
            elif parts.fragment and unquote(parts.fragment) not in ids.get(target, set()):
                broken.append(f"{page.relative_to(docs)}: {href} has no such anchor")
    return broken


def test_every_link_resolves_and_nothing_is_loaded_from_elsewhere(site):
    docs, _ = site
    assert _broken_links(docs) == []
    pages = sorted(docs.rglob("*.html"))
    assert len(pages) == 1 + 4 + 5  # index, a page per stored result, a page per suite
    for page in pages:
        tree = _tree(page)
        assert tree.xpath("//script | //iframe | //img | //object | //@src") == []
        assert tree.xpath("//link/@href") == ["data:,"]
        assert tree.xpath("//link/@rel") == ["icon"]
        css = " ".join(tree.xpath("//style/text()"))
        assert "url(" not in css and "@import" not in css
        assert tree.xpath("//title/text()") and tree.xpath("//h1")


def test_build_docs_reads_the_stored_json_without_importing_gx(site, tmp_path):
    docs, _ = site
    data = tmp_path / "data"
    shutil.copytree(docs.parent / "runs", data / "runs")
    script = (
        "import sys\n"
        "from datetime import UTC, datetime\n"
        "from pathlib import Path\n"
        "from tasks import io\n"
        "from tasks.validate.suites import ValidateConfig, build_docs\n"
        f"cfg = ValidateConfig(run_id={RUN_B!r}, run_started_at=datetime.now(UTC))\n"
        f"print(build_docs(io.Layout(Path({str(data)!r}), {NIGHT_2!r}), cfg, ['quarantined'],"
        f" Path({str(SUITES)!r})))\n"
        "assert 'great_expectations' not in sys.modules, 'GX was imported'\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(data / "docs" / "index.html")
    assert (data / "docs" / "index.html").read_text() == (docs / "index.html").read_text()


def test_build_docs_fails_when_tonights_result_is_missing(site, tmp_path):
    docs, _ = site
    data = tmp_path / "data"
    shutil.copytree(docs.parent / "runs", data / "runs")
    cfg = ValidateConfig(run_id="20260315T020000Z-eeee0005", run_started_at=datetime.now(UTC))
    with pytest.raises(FileNotFoundError, match=r"20260315T020000Z-eeee0005 for \['extracted'\]"):
        build_docs(io.Layout(data, "2026-03-15"), cfg, ["extracted"], SUITES)


# --------------------------------------------------------------------------- headless Chromium


@pytest.mark.browser
def test_the_docs_work_offline_in_headless_chromium(site, browser):
    docs, records = site
    index = (docs / "index.html").as_uri()
    browser.get(index)
    assert console_errors(browser) == []
    assert browser.title == "wiredesk Data Docs"
    shown = browser.find_element("tag name", "body").text
    night = browser.find_element("id", datadocs.run_anchor(RUN_B)).text
    assert f"Run {RUN_B} · night {NIGHT_2} · failed" in night
    for dataset, report in records[RUN_B]["validations"].items():
        counts = Counter(o["status"] for o in report["outcomes"])
        assert (
            f"{dataset} {report['suite']} fail {counts['pass']} {counts['warn']} {counts['fail']}"
        ) in night
    assert all(run_id in shown for run_id in (RUN_A, RUN_B, RUN_C, RUN_D))
    assert browser.save_screenshot(str(screenshot_dir() / "datadocs-index.png"))

    # A click on the night's result opens its page.
    browser.find_element("css selector", f"#{datadocs.run_anchor(RUN_B)} td a").click()
    assert browser.current_url.endswith("/quarantined.html")
    assert browser.find_element("tag name", "h1").text == "Validation of quarantined · fail"
    assert console_errors(browser) == []

    # Then every link of every page reached from the index, each page once.
    seen: set[str] = set()
    queue = [index]
    while queue:
        url = queue.pop(0)
        page = url.split("#")[0]
        if page in seen:
            continue
        seen.add(page)
        browser.get(page)
        assert console_errors(browser) == [], page
        assert browser.title and browser.find_element("tag name", "h1").text, page
        queue += [a.get_attribute("href") for a in browser.find_elements("tag name", "a")]
    assert all(url.startswith("file://") for url in seen)
    assert {unquote(urlsplit(u).path) for u in seen} == {str(p) for p in docs.rglob("*.html")}
