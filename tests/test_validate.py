import copy
import json
from pathlib import Path

import pyarrow as pa
import pytest

from tasks.schema import DATASETS
from tasks.validate import QualityGateError, SuiteError, gate, load_suite, validate_table
from tests.builders import quarantine_like

SUITES = Path(__file__).resolve().parent.parent / "expectations"


def _spec(name: str) -> dict:
    return json.loads((SUITES / f"{name}.json").read_text("utf-8"))


def test_there_is_a_suite_for_every_staged_dataset():
    names = {p.stem for p in SUITES.glob("*.json")}
    assert {"ingested", "extracted", "repaired", "deduped", "quarantined"} <= names


@pytest.mark.parametrize("path", sorted(SUITES.glob("*.json")), ids=lambda p: p.stem)
def test_every_suite_loads_whole_and_names_only_schema_columns(path):
    spec = json.loads(path.read_text("utf-8"))
    assert spec["name"] == path.stem
    suite = load_suite(spec, DATASETS[path.stem])
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
    return validate_table(table, load_suite(spec, DATASETS["quarantined"]), "quarantined")


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
