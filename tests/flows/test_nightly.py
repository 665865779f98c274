"""The nightly-ingest flow end to end on the bundled sample inbox and on the seeds."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pyarrow.dataset as ds
import pytest

from flows.nightly import nightly_ingest
from tasks.schema import ARTICLES, DUPLICATES, QUARANTINED
from tasks.validate.suites import QualityGateError
from tests.conftest import ROOT, SAMPLE_INBOX

pytestmark = [pytest.mark.flow, pytest.mark.usefixtures("prefect_api")]

NIGHT = "2026-03-14"


def _published(data: Path) -> dict[str, bytes]:
    """Every published file (curated tables and quarantine), byte for byte."""
    return _files(data / "curated") | {f"q/{k}": v for k, v in _files(data / "quarantine").items()}


def _suites_with(tmp: Path, dataset: str, expectation: dict) -> Path:
    """A copy of the project's suites with one more (critical) expectation in `dataset`'s."""
    suites = tmp / "suites"
    shutil.copytree(ROOT / "expectations", suites)
    spec = json.loads((suites / f"{dataset}.json").read_text())
    spec["expectations"].append(expectation | {"severity": "critical"})
    (suites / f"{dataset}.json").write_text(json.dumps(spec))
    return suites


def _sample_night(data: Path, **kwargs: object) -> dict:
    return nightly_ingest(
        inbox=str(SAMPLE_INBOX), data_dir=str(data), run_date=NIGHT, workers=1, **kwargs
    )


def _files(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


@pytest.fixture(scope="module")
def sample_run(tmp_path_factory, prefect_api):
    data = tmp_path_factory.mktemp("data")
    record = nightly_ingest(
        inbox=str(SAMPLE_INBOX),
        data_dir=str(data),
        run_date=NIGHT,
        workers=2,
    )
    return data, record


def test_sample_night_publishes_the_contract(sample_run):
    data, record = sample_run
    assert record["status"] == "completed"
    for table, schema in (
        ("curated/articles", ARTICLES),
        ("curated/duplicates", DUPLICATES),
        ("quarantine", QUARANTINED),
    ):
        parts = sorted((data / table / f"run_date={NIGHT}").glob("part-*.parquet"))
        assert parts, table
        loaded = ds.dataset(data / table, format="parquet", partitioning="hive")
        assert loaded.schema.names == [*schema.names, "run_date"]
    run_file = data / "runs" / f"{record['run_id']}.json"
    saved = json.loads(run_file.read_text())
    assert saved["status"] == "completed" and saved["invariant"]["holds"]
    assert set(saved["validations"]) == {
        "ingested",
        "extracted",
        "repaired",
        "deduped",
        "quarantined",
    }
    assert not (data / ".tmp").exists() or not any((data / ".tmp").iterdir())
    # The night's pages went into the site statistics, as the night's own snapshot.
    assert saved["stages"]["site_lines"]["night"] == NIGHT
    for name in ("site_lines", "site_pages", "vocabulary"):
        assert (data / "state" / name / f"run_date={NIGHT}").is_dir()


def test_every_input_document_is_accounted_for(sample_run):
    data, record = sample_run
    inv = record["invariant"]
    assert inv["input"] == 12  # 10 single-document files + 2 JSONL lines + 2 WARC responses - 2
    assert inv["articles"] + inv["duplicates"] + inv["quarantined"] == inv["input"]
    quarantine = ds.dataset(data / "quarantine", partitioning="hive").to_table().to_pylist()
    assert sorted((q["source_path"], q["reason"]) for q in quarantine) == [
        ("archive/islandferry-crawl.warc.gz", "warc_not_document"),
        ("misc/truncated-upload.html.gz", "bad_gzip"),
    ]


def test_copies_are_linked_and_different_reports_kept(sample_run):
    data, _ = sample_run
    rows = (
        ds.dataset(data / "curated/articles", partitioning="hive").to_table().to_pylist()
        + ds.dataset(data / "curated/duplicates", partitioning="hive").to_table().to_pylist()
    )
    cluster = {(r["source_path"], r["record_index"]): r["cluster_id"] for r in rows}
    method = {(r["source_path"], r["record_index"]): r.get("method") for r in rows}
    barrier = {
        cluster[("plain/velmora-barrier-cpa.txt", 0)],
        cluster[("html/harbourdaily-velmora-barrier.html", 0)],
        cluster[("feeds/partner-feed.jsonl", 0)],
        cluster[("html/velmora-barrier-fr.html", 0)],  # the French translation
    }
    assert method[("html/velmora-barrier-fr.html", 0)] == "translation"
    library = {
        cluster[("html/velmora-library-reopens.html", 0)],
        cluster[("feeds/partner-feed.jsonl", 1)],
    }
    protest = {
        cluster[("plain/velmora-fishers-protest.txt", 0)],
        cluster[("plain/velmora-fishers-protest-copy.txt.gz", 0)],
    }
    assert len(barrier) == len(library) == len(protest) == 1
    assert len(barrier | library | protest) == 3
    assert cluster[("plain/velmora-budget-mojibake.txt", 0)] not in barrier | library | protest


def test_readers_load_the_whole_history(sample_run):
    data, _ = sample_run
    import duckdb
    import pandas as pd
    import polars as pl

    glob = str(data / "curated" / "articles" / "**" / "*.parquet")
    n_duck = duckdb.sql(
        f"select count(*), min(run_date) from read_parquet('{glob}', hive_partitioning=true)"
    ).fetchall()[0]
    n_polars = pl.scan_parquet(glob, hive_partitioning=True).select(pl.len()).collect().item()
    frame = pd.read_parquet(data / "curated" / "articles")
    assert n_duck[0] == n_polars == len(frame) > 0
    assert str(n_duck[1]) == NIGHT
    assert "run_date" in frame.columns


def test_repairs_and_extraction_show_in_the_output(sample_run):
    data, _ = sample_run
    rows = {
        r["source_path"]: r
        for r in ds.dataset(data / "curated/articles", partitioning="hive").to_table().to_pylist()
    }
    budget = rows["plain/velmora-budget-mojibake.txt"]
    assert "council’s" in budget["text"] and "Renée" in budget["text"]
    assert "â€" not in budget["text"] and budget["mojibake_score"] == 0.0
    assert {r["kind"] for r in budget["repairs"]} == {"encoding"}
    library = rows["html/velmora-library-reopens.html"]
    assert "Zoë Marchetti" in library["text"] and "Brück" in library["text"]
    protest = rows["plain/velmora-fishers-protest.txt"]
    assert protest["source_attribution"] == "Velmora Herald"
    for junk in (
        "Subscribe",
        "Please enter",
        "More Articles",
        "mainly concerned",
        "Saturday, March 14",
    ):
        assert junk not in protest["text"]
    copies = ds.dataset(data / "curated/duplicates", partitioning="hive").to_table().to_pylist()
    french = [r for r in copies if r["source_path"] == "html/velmora-barrier-fr.html"]
    assert [r["lang"] for r in french] == ["fr"]  # linked as a translation of the report


def test_a_critical_failure_publishes_nothing_and_names_the_expectation(tmp_path, sample_run):
    data_src, _ = sample_run
    data = tmp_path / "data"
    shutil.copytree(data_src, data)
    before = _published(data)
    suites = _suites_with(
        tmp_path,
        "extracted",
        {
            "type": "expect_column_max_to_be_between",
            "kwargs": {"column": "text_length", "max_value": 10},
            "meta": {"why": "test: every text is longer, so this must fail"},
        },
    )
    with pytest.raises(QualityGateError, match=r"expect_column_max_to_be_between\(text_length\)"):
        _sample_night(data, expectations_dir=str(suites))
    assert _published(data) == before
    failed = [json.loads(p.read_text()) for p in (data / "runs").glob("*.json")]
    assert any(r["status"] == "failed" and "text_length" in r["error"] for r in failed)


def test_a_night_stopped_after_dedup_leaves_no_state_for_later_nights(tmp_path):
    suites = _suites_with(
        tmp_path,
        "deduped",
        {
            "type": "expect_table_row_count_to_be_between",
            "kwargs": {"max_value": 1},
            "meta": {"why": "test: the sample night has more rows, so this must fail"},
        },
    )
    data = tmp_path / "data"
    with pytest.raises(QualityGateError, match="expect_table_row_count_to_be_between"):
        _sample_night(data, expectations_dir=str(suites))
    # Dedup ran, but its state stays staged: no later night can match unpublished documents,
    # nor count their words among the names typo repair protects.
    assert any((data / "staged" / "dedup_documents").rglob("*.parquet"))
    assert not (data / "state" / "dedup").exists()
    assert any((data / "staged" / "vocabulary").rglob("*.parquet"))
    assert not (data / "state" / "vocabulary").exists()
    assert not (data / "curated").exists()


# Text whose bytes a decoder lost: U+FFFD where letters were (written here, fictional).
LOST = "The Velmora ferry board met on Tuesday to discuss the winter timetable and the new crew."


def _lost_text(n: int) -> str:
    return LOST.replace("e", "\ufffd") + f" Notice {n}.\n"


def _inbox_with(tmp: Path, broken: int, *, sample: bool) -> Path:
    inbox = tmp / "inbox"
    if sample:
        shutil.copytree(SAMPLE_INBOX, inbox)
    for i in range(broken):
        path = inbox / "lost" / f"notice-{i}.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(_lost_text(i), "utf-8")
    return inbox


def test_a_few_bad_rows_are_quarantined_and_the_rest_published(tmp_path, sample_run):
    _, sample_record = sample_run
    data = tmp_path / "data"
    record = nightly_ingest(
        inbox=str(_inbox_with(tmp_path, 1, sample=True)),
        data_dir=str(data),
        run_date=NIGHT,
        workers=1,
    )
    assert record["status"] == "completed"
    inv = record["invariant"]
    assert inv["input"] == 13 and inv["holds"]
    assert (inv["articles"], inv["duplicates"]) == (
        sample_record["invariant"]["articles"],
        sample_record["invariant"]["duplicates"],
    )
    quarantine = ds.dataset(data / "quarantine", partitioning="hive").to_table().to_pylist()
    caught = [q for q in quarantine if q["stage"] == "validate"]
    assert [(q["source_path"], q["reason"], q["expectation"]) for q in caught] == [
        (
            "lost/notice-0.txt",
            "undecodable_text",
            "expect_column_values_to_be_between(replacement_rate)",
        )
    ]
    published = ds.dataset(data / "curated/articles", partitioning="hive").to_table()
    assert "lost/notice-0.txt" not in published.column("source_path").to_pylist()
    # The next stage never saw the row: it was removed from the staged dataset.
    repaired = ds.dataset(data / f"staged/repaired/run_date={NIGHT}").to_table()
    assert "lost/notice-0.txt" not in repaired.column("source_path").to_pylist()
    assert record["validations"]["extracted"]["quarantined"] == 1
    assert record["validations"]["extracted"]["status"] == "pass"


def test_a_night_of_undecodable_text_publishes_nothing(tmp_path, sample_run):
    data_src, _ = sample_run
    data = tmp_path / "data"
    shutil.copytree(data_src, data)
    before = _published(data)
    with pytest.raises(
        QualityGateError, match=r"expect_column_values_to_be_between\(replacement_rate\)"
    ):
        nightly_ingest(
            inbox=str(_inbox_with(tmp_path, 4, sample=False)),
            data_dir=str(data),
            run_date=NIGHT,
            workers=1,
        )
    assert _published(data) == before
    failed = [json.loads(p.read_text()) for p in (data / "runs").glob("*.json")]
    failed = [r for r in failed if r["status"] == "failed"]
    assert len(failed) == 1 and "replacement_rate" in failed[0]["error"]
    assert failed[0]["validations"]["extracted"]["status"] == "fail"


def test_results_docs_and_artifacts_show_the_night(sample_run):
    data, record = sample_run
    for dataset, report in record["validations"].items():
        stored = json.loads(Path(report["result_path"]).read_text())
        assert stored["suite_name"] == dataset
        assert len(stored["results"]) == len(report["outcomes"]) - 1  # + arrow_schema_exact
        assert Path(report["result_path"]).is_relative_to(data / "runs")
    index = (data / "docs" / "index.html").read_text()
    assert record["run_id"] in index
    pages = list((data / "docs" / "validations").rglob("*.html"))
    assert {p.parent.parent.parent.name for p in pages} >= set(record["validations"])

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    with get_client(sync_client=True) as client:
        found = {
            a.key: a
            for a in client.read_artifacts(
                artifact_filter=ArtifactFilter(
                    key=ArtifactFilterKey(any_=["nightly-stages", "nightly-summary"])
                )
            )
            if record["run_id"] in (a.description or "")
        }
    assert set(found) == {"nightly-stages", "nightly-summary"}
    summary = str(found["nightly-summary"].data)
    assert "| extracted | pass | critical | `expect_column_values_to_be_unique(doc_id)`" in summary
    stages = json.loads(found["nightly-stages"].data)
    assert [r["stage"] for r in stages] == ["ingest", "extract", "repair", "dedup"]
    assert stages[0]["top reasons"] == "bad_gzip (1), warc_not_document (1)"


def test_report_command_summarises_the_runs(sample_run, capsys):
    from flows.cli import main

    data, record = sample_run
    assert main(["report", "--data-dir", str(data)]) == 0
    out = capsys.readouterr().out
    assert record["run_id"] in out and "completed" in out
    page = (data / "docs" / "report.html").read_text()
    assert (
        "<svg" in page
        and "<script" not in page
        and "http" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")
    )


def test_seed_reports(tmp_path, seeds_dir):
    record = nightly_ingest(inbox=str(seeds_dir), data_dir=str(tmp_path), run_date=NIGHT)
    assert record["status"] == "completed"
    rows = {
        table: {
            r["source_path"][:3]: r
            for r in ds.dataset(tmp_path / "curated" / table, partitioning="hive")
            .to_table()
            .to_pylist()
        }
        for table in ("articles", "duplicates")
    }
    # 000, 001 and 003 are different reports of one visit: three separate articles.
    assert {"000", "001", "002", "003"} == set(rows["articles"])
    assert len({rows["articles"][k]["cluster_id"] for k in ("000", "001", "002", "003")}) == 4
    # 004 is 002 in French: one report; 002 is canonical (no dates: the original language wins).
    french = rows["duplicates"]["004"]
    assert french["lang"] == "fr" and french["method"] == "translation"
    assert french["cluster_id"] == rows["articles"]["002"]["cluster_id"]
    assert french["duplicate_of"] == rows["articles"]["002"]["doc_id"]
    rows = {**rows["articles"], **rows["duplicates"]}
    for key, row in rows.items():
        for junk in (
            "Leave a Reply",
            "Your email address will not be published",
            "Subscribe",
            "Please enter your comment!",
            "Please enter your name here",
            "More Articles",
            "Back to top button",
            "Friends of SyriaLatest",
            "mainly concerned",
            "date 2018-09",
            "Friday, October 7, 2022",
            "Source:",
            "\u00a0",
        ):
            assert junk not in row["text"], (key, junk)
    assert rows["003"]["source_attribution"] == "Islamic Republic News Agency - IRNA"
    assert rows["004"]["source_attribution"] == "PressTV"
    assert rows["000"]["text"].startswith("Iranian Minister of Defense")
    text_000 = rows["000"]["text"]
    assert "contrrol" in text_000 or "in control of terrorists" in text_000


def test_the_next_night_learns_from_the_first(tmp_path, sample_run):
    data_src, _ = sample_run
    data = tmp_path / "data"
    shutil.copytree(data_src, data)
    record = nightly_ingest(
        inbox=str(SAMPLE_INBOX),
        data_dir=str(data),
        run_date="2026-03-15",
        workers=1,
    )
    assert record["status"] == "completed"
    # Night two read night one's snapshot; a page seen again adds nothing.
    assert record["stages"]["site_lines"]["based_on"] == NIGHT
    assert record["stages"]["site_lines"]["pages_added"] == 0
