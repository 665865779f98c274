import copy
import json
import re
from pathlib import Path

import pyarrow as pa
import pytest

from tasks.schema import DATASETS, validated_schema
from tasks.validate.suites import QualityGateError, SuiteError, gate, load_suite, validate_table
from tests.builders import quarantine_like

SUITES = Path(__file__).resolve().parents[2] / "expectations"


def _spec(name: str) -> dict:
    return json.loads((SUITES / f"{name}.json").read_text("utf-8"))


def test_there_is_a_suite_for_every_staged_dataset():
    names = {p.stem for p in SUITES.glob("*.json")}
    assert {"ingested", "extracted", "repaired", "deduped", "quarantined"} <= names


@pytest.mark.parametrize("path", sorted(SUITES.glob("*.json")), ids=lambda p: p.stem)
def test_every_suite_loads_whole_and_names_only_schema_columns(path):
    spec = json.loads(path.read_text("utf-8"))
    assert spec["name"] == path.stem
    suite = load_suite(spec, validated_schema(path.stem))
    assert len(suite.expectations) == len(spec["expectations"])
    for item in spec["expectations"]:
        assert item["meta"]["why"]
        assert item.get("severity", "critical") in ("critical", "warning", "info")


def test_a_misspelled_expectation_fails_loudly():
    spec = _spec("quarantined")
    spec["expectations"].append(
        {
            "type": "expect_column_values_to_not_be_nul",
            "kwargs": {"column": "reason"},
            "meta": {"why": "typo"},
        }
    )
    with pytest.raises(SuiteError, match="expect_column_values_to_not_be_nul"):
        load_suite(spec, DATASETS["quarantined"])


def test_a_column_outside_the_schema_fails_loudly():
    spec = _spec("quarantined")
    spec["expectations"][1]["kwargs"]["column"] = "no_such_column"
    with pytest.raises(SuiteError, match="no_such_column"):
        load_suite(spec, DATASETS["quarantined"])


def _report_for(spec: dict, table: pa.Table):
    return validate_table(table, load_suite(spec, DATASETS["quarantined"]), "quarantined")[0]


def test_critical_failure_gates_and_names_the_expectation_warning_does_not():
    table = quarantine_like(3)
    bad = table.set_column(
        table.schema.get_field_index("reason"),
        "reason",
        pa.array(["ok_reason", "Bad Reason", "ok"], pa.string()),
    )
    spec = _spec("quarantined")
    report = _report_for(spec, bad)
    assert report.status == "fail"
    with pytest.raises(QualityGateError, match=r"expect_column_values_to_match_regex\(reason\)"):
        gate(report)

    relaxed = copy.deepcopy(spec)
    for item in relaxed["expectations"]:
        item["severity"] = "warning"
    report = _report_for(relaxed, bad)
    assert report.status == "warn" and not report.critical_failures
    gate(report)  # warnings never stop the night


def test_a_clean_table_passes():
    assert _report_for(_spec("quarantined"), quarantine_like(2)).status == "pass"


# --------------------------------------------------------------------------- row-level checks

from datetime import UTC, datetime  # noqa: E402

from tasks.validate.suites import (  # noqa: E402
    ValidateConfig,
    schema_outcome,
    validate_batch,
)
from tests.builders import extracted, extracted_row, repaired  # noqa: E402
from tests.conftest import RUN_ID, STARTED  # noqa: E402

CFG = ValidateConfig(run_id=RUN_ID, run_started_at=STARTED)
STORY = (
    "The Velmora harbour board approved the new ferry timetable on Tuesday, after a "
    "month of complaints from island commuters about cancelled morning crossings. The "
    "first boat will now leave at six, and a second crew joins the service in April."
)


def _suite(name: str):
    return load_suite(_spec(name), validated_schema(name))


def _night(n: int) -> list[dict]:
    return [extracted_row(f"doc{i}", f"{STORY} Item {i}.") for i in range(n)]


def test_a_few_bad_rows_are_set_aside_with_reason_and_expectation_and_the_rest_kept():
    rows = _night(8)
    rows[2]["text"] = rows[2]["text"].replace("a", "\ufffd")
    rows[5]["published_at"] = datetime(2027, 1, 1, tzinfo=UTC)
    table = extracted(rows)
    report, split, _ = validate_batch(table, _suite("extracted"), "extracted", CFG, rows_in=8)
    gate(report)  # two rows in eight is below the critical share: the night goes on
    assert split.kept.column("doc_id").to_pylist() == [
        f"doc{i}" for i in range(8) if i not in (2, 5)
    ]
    assert split.kept.schema == table.schema
    bad = {r["doc_id"]: r for r in split.quarantined.to_pylist()}
    assert set(bad) == {"doc2", "doc5"}
    assert bad["doc2"]["reason"] == "undecodable_text"
    assert bad["doc2"]["expectation"] == "expect_column_values_to_be_between(replacement_rate)"
    assert re.fullmatch(r"extracted\.replacement_rate = \d+\.\d+", bad["doc2"]["detail"])
    assert bad["doc5"]["reason"] == "published_in_future"
    assert "2027-01-01" in bad["doc5"]["detail"]
    assert {r["stage"] for r in bad.values()} == {"validate"}
    assert {r["run_id"] for r in bad.values()} == {RUN_ID}
    assert report.quarantined == 2
    assert report.reasons == {"published_in_future": 1, "undecodable_text": 1}


def test_a_text_column_full_of_lost_characters_stops_the_night_and_sets_nothing_aside():
    rows = _night(5)
    for row in rows:
        row["text"] = row["text"].replace("e", "\ufffd")
    report, split, _ = validate_batch(
        extracted(rows), _suite("extracted"), "extracted", CFG, rows_in=5
    )
    assert report.status == "fail"
    with pytest.raises(
        QualityGateError, match=r"expect_column_values_to_be_between\(replacement_rate\)"
    ):
        gate(report)
    assert split.quarantined.num_rows == 0 and split.kept.num_rows == 5


def test_a_duplicated_doc_id_stops_the_night():
    rows = _night(4)
    rows[3]["doc_id"] = rows[0]["doc_id"]
    report, _, _ = validate_batch(extracted(rows), _suite("extracted"), "extracted", CFG, 4)
    with pytest.raises(QualityGateError, match=r"expect_column_values_to_be_unique\(doc_id\)"):
        gate(report)


def test_too_few_input_files_out_of_extraction_stops_the_night():
    # 3 of 10 input files came out with text: extraction is broken.
    report, _, _ = validate_batch(
        extracted(_night(3)), _suite("extracted"), "extracted", CFG, rows_in=10, sources_in=10
    )
    failed = [o.expectation for o in report.critical_failures]
    assert failed == ["expect_column_unique_value_count_to_be_between(source_path)"]
    assert [o.expectation for o in report.warnings] == [
        "expect_table_row_count_to_be_between[min rows_in * 0.5]",
        "expect_table_row_count_to_be_between[min rows_in * 0.9]",
    ]


def test_one_container_of_empty_pages_or_a_small_night_does_not_stop_the_night():
    # 4 good files beside one JSONL whose 30 pages all came out empty: 4 rows of 34 documents,
    # but 4 of 5 input files.
    report, _, _ = validate_batch(
        extracted(_night(4)), _suite("extracted"), "extracted", CFG, rows_in=34, sources_in=5
    )
    gate(report)
    assert "expect_table_row_count_to_be_between[min rows_in * 0.5]" in {
        o.expectation for o in report.warnings
    }
    # A night of two files, one of them empty: half lost, still no systematic breakage.
    report, _, _ = validate_batch(
        extracted(_night(1)), _suite("extracted"), "extracted", CFG, rows_in=2, sources_in=2
    )
    gate(report)
    # Four files of four lost: that is systematic.
    report, _, _ = validate_batch(
        extracted(_night(0)), _suite("extracted"), "extracted", CFG, rows_in=4, sources_in=4
    )
    assert report.status == "fail"


def test_a_row_level_check_stops_the_night_only_when_its_rows_span_three_input_files():
    lost = STORY.replace("e", "\ufffd")
    # One undecodable text of one: set aside, the night goes on (GX: a warning).
    rows = _night(1)
    rows[0]["text"] = lost
    report, split, _ = validate_batch(extracted(rows), _suite("extracted"), "extracted", CFG, 1)
    gate(report)
    assert split.quarantined.column("reason").to_pylist() == ["undecodable_text"]
    # Thirty undecodable records of one container beside four good files: set aside, no stop.
    rows = _night(4) + [extracted_row(f"rec{i}", lost) for i in range(30)]
    for i, row in enumerate(rows[4:]):
        row["source_path"], row["record_index"] = "feeds/broken.jsonl", i
    report, split, _ = validate_batch(extracted(rows), _suite("extracted"), "extracted", CFG, 34)
    gate(report)
    assert split.quarantined.num_rows == 30 and split.kept.num_rows == 4
    assert [o.expectation for o in report.warnings] == [
        "expect_column_values_to_be_between(replacement_rate)"
    ]
    # Three undecodable files of four: systematic, the night stops and nothing is set aside.
    rows = _night(4)
    for row in rows[:3]:
        row["text"] = lost
    report, split, _ = validate_batch(extracted(rows), _suite("extracted"), "extracted", CFG, 4)
    [stop] = report.critical_failures
    assert stop.expectation == (
        "expect_column_values_to_be_between(replacement_rate) from 3+ input files"
    )
    assert stop.observed == "3 of 4 rows, from 3 input files"
    assert report.outcomes[0] is stop  # wiredesk's own checks come first, as in the Data Docs
    assert split.quarantined.num_rows == 0


def test_texts_repair_made_too_long_or_wordless_are_set_aside_not_a_stop():
    rows = _night(5)
    rows[1]["text"] = "ffi" * 700_000  # ligatures expanded by repair: 2,100,000 characters
    rows[1]["text_length"] = len(rows[1]["text"])
    rows[3]["text"] = "<> &"  # '&lt;&gt; &amp;' after repair: no word left
    rows[3]["text_length"] = 4
    report, split, _ = validate_batch(repaired(rows), _suite("repaired"), "repaired", CFG, 5)
    gate(report)
    bad = {r["doc_id"]: r["reason"] for r in split.quarantined.to_pylist()}
    assert bad == {"doc1": "text_too_long", "doc3": "no_words"}
    assert split.kept.column("doc_id").to_pylist() == ["doc0", "doc2", "doc4"]


def test_a_suite_refuses_a_night_stop_on_one_file_or_without_rows():
    spec = _spec("extracted")
    for item in spec["expectations"]:
        if item["meta"].get("stops_night_from_files"):
            item["meta"]["stops_night_from_files"] = 1
    with pytest.raises(SuiteError, match="stops_night_from_files"):
        load_suite(spec, validated_schema("extracted"))
    spec = _spec("extracted")
    spec["expectations"][-1]["meta"]["stops_night_from_files"] = 3  # no meta.quarantine
    with pytest.raises(SuiteError, match="stops_night_from_files"):
        load_suite(spec, validated_schema("extracted"))


def test_no_critical_check_a_single_row_can_trip():
    # One bad row of each kind in a night of one: set aside or warned about, never a stop.
    for name, build in (("extracted", extracted), ("repaired", repaired)):
        for column, value in (
            ("text", "\ufffd" * 50),
            ("text", "…"),
            ("text_length", 2_500_000),
            ("published_at", datetime(2027, 1, 1, tzinfo=UTC)),
            ("mojibake_score", 50.0),
        ):
            if column == "mojibake_score" and name == "extracted":
                continue
            rows = _night(1)
            rows[0][column] = value
            report, _, _ = validate_batch(build(rows), _suite(name), name, CFG, 1)
            assert not report.critical_failures, (name, column, report.critical_failures)


def test_mojibake_left_after_repair_is_set_aside():
    rows = _night(6)
    scores = [0.0, 0.0, 12.5, 0.0, 0.0, 0.0]
    for row, score in zip(rows, scores, strict=True):
        row["mojibake_score"] = score
    report, split, _ = validate_batch(repaired(rows), _suite("repaired"), "repaired", CFG, 6)
    gate(report)
    assert [r["reason"] for r in split.quarantined.to_pylist()] == ["mojibake_after_repair"]
    assert split.quarantined.column("doc_id").to_pylist() == ["doc2"]


def test_language_mix_and_residue_are_warnings_only():
    rows = _night(5)
    for row in rows:
        row["text"] += "\nBack to top"
    report, split, _ = validate_batch(extracted(rows), _suite("extracted"), "extracted", CFG, 5)
    assert [o.expectation for o in report.warnings] == [
        "expect_column_values_to_be_between(boilerplate_hits)"
    ]
    gate(report)
    assert split.quarantined.num_rows == 0


def test_schema_outcome_names_missing_extra_and_retyped_columns():
    expected = pa.schema([("a", pa.string()), ("b", pa.int32())])
    assert schema_outcome(expected, expected).success
    bad = schema_outcome(pa.schema([("a", pa.large_string()), ("c", pa.int32())]), expected)
    assert not bad.success and bad.severity == "critical"
    assert "missing ['b']" in bad.observed and "extra ['c']" in bad.observed
    assert "a: large_string" in bad.observed
    swapped = schema_outcome(pa.schema([("b", pa.int32()), ("a", pa.string())]), expected)
    assert swapped.observed == "column order differs"


def test_suite_checks_fail_loudly_on_parameters_and_misplaced_quarantine():
    spec = _spec("extracted")
    spec["expectations"].append(
        {
            "type": "expect_column_values_to_be_between",
            "kwargs": {"column": "text_length", "max_value": {"$PARAMETER": "max_len"}},
            "meta": {"why": "typo in a parameter"},
        }
    )
    with pytest.raises(SuiteError, match="max_len"):
        load_suite(spec, validated_schema("extracted"))

    spec = _spec("extracted")
    spec["expectations"].append(
        {
            "type": "expect_column_mean_to_be_between",
            "kwargs": {"column": "text_length", "min_value": 1},
            "meta": {"why": "a mean cannot name rows", "quarantine": "short"},
        }
    )
    with pytest.raises(SuiteError, match="cannot name rows"):
        load_suite(spec, validated_schema("extracted"))

    spec = _spec("deduped")
    spec["expectations"][1]["meta"]["quarantine"] = "orphan"
    with pytest.raises(SuiteError, match="never set aside"):
        load_suite(spec, validated_schema("deduped"))


def test_every_quarantine_reason_is_listed_in_the_module_docstring():
    import tasks.validate.suites as module

    reasons = {
        item["meta"]["quarantine"]
        for path in SUITES.glob("*.json")
        for item in json.loads(path.read_text("utf-8"))["expectations"]
        if item["meta"].get("quarantine")
    }
    assert reasons
    for reason in reasons:
        assert f"`{reason}`" in module.__doc__
