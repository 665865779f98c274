"""Validate: one Great Expectations 1.x suite per dataset, with wiredesk's own severity gate.

Input: a dataset's Arrow table and its suite (the JSON in `expectations/<dataset>.json`).
Output: a `ValidationReport`: one outcome per expectation (passed or not, its severity, what GX
observed) and the list of failed `critical` expectations. GX's own `success` flag ignores
severity, so `ValidationReport.critical_failures` is what the flow gates on: any entry stops the
night before anything is published. `warning` failures are reported only.

Suites load whole or not at all: GX 1.x drops an expectation whose name it does not know with a
log line only, so `load_suite` counts what GX kept and raises `SuiteError` naming what it
dropped, and also when an expectation names a column its dataset's schema does not have.
Quarantines nothing (row-level problems are the stages' business).
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import pyarrow as pa
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from tasks import io
from tasks.schema import DATASETS

STAGE = "validate"

SEVERITIES = ("critical", "warning", "info")


class SuiteError(ValueError):
    """A suite file that does not load whole or does not fit its dataset's schema."""


class QualityGateError(RuntimeError):
    """A critical expectation failed; the message names it."""


@dataclass
class Outcome:
    expectation: str
    severity: str
    success: bool
    observed: Any = None
    unexpected_count: int | None = None
    why: str | None = None


@dataclass
class ValidationReport:
    dataset: str
    suite: str
    rows: int
    outcomes: list[Outcome] = field(default_factory=list)

    @property
    def critical_failures(self) -> list[Outcome]:
        return [o for o in self.outcomes if not o.success and o.severity == "critical"]

    @property
    def warnings(self) -> list[Outcome]:
        return [o for o in self.outcomes if not o.success and o.severity != "critical"]

    @property
    def status(self) -> str:
        if self.critical_failures:
            return "fail"
        return "warn" if self.warnings else "pass"

    def to_dict(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset,
            "suite": self.suite,
            "rows": self.rows,
            "status": self.status,
            "outcomes": [asdict(o) for o in self.outcomes],
        }


def _columns_named(kwargs: dict[str, Any]) -> list[str]:
    names = []
    for key in ("column", "column_A", "column_B"):
        if isinstance(kwargs.get(key), str):
            names.append(kwargs[key])
    for key in ("column_list", "column_set"):
        value = kwargs.get(key)
        if isinstance(value, list | tuple | set):
            names.extend(str(v) for v in value)
    return names


def load_suite(spec: dict[str, Any], schema: pa.Schema) -> Any:
    """A GX ExpectationSuite from its JSON dict; raises SuiteError unless it loads whole."""
    import great_expectations as gx

    name = spec.get("name")
    expected = spec.get("expectations")
    if not isinstance(name, str) or not isinstance(expected, list) or not expected:
        raise SuiteError("a suite needs a `name` and a non-empty `expectations` list")
    for item in expected:
        severity = item.get("severity", "critical")
        if severity not in SEVERITIES:
            raise SuiteError(f"{name}: {item.get('type')} has severity {severity!r}")
        if not (item.get("meta") or {}).get("why"):
            raise SuiteError(f"{name}: {item.get('type')} has no meta.why")
        unknown = [c for c in _columns_named(item.get("kwargs", {})) if c not in schema.names]
        if unknown:
            raise SuiteError(
                f"{name}: {item.get('type')} names columns {unknown} that the "
                "dataset's schema does not have"
            )
    # GX logs and drops expectations it cannot build; silence the log, then count.
    gx_logger = logging.getLogger("great_expectations.core.expectation_suite")
    level = gx_logger.level
    gx_logger.setLevel(logging.CRITICAL)
    try:
        suite = gx.ExpectationSuite(name=name, expectations=expected, meta=spec.get("meta"))
    finally:
        gx_logger.setLevel(level)
    kept = [e.expectation_type for e in suite.expectations]
    if len(kept) != len(expected):
        wanted = [item.get("type") for item in expected]
        dropped = [t for t in wanted if t not in kept] or wanted
        raise SuiteError(
            f"{name}: GX dropped {len(expected) - len(kept)} expectation(s): {dropped}"
        )
    return suite


@lru_cache(maxsize=1)
def _batch_definition() -> Any:
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    source = context.data_sources.add_pandas("wiredesk")
    asset = source.add_dataframe_asset("batch")
    return asset.add_batch_definition_whole_dataframe("whole")


def _frame(table: pa.Table) -> Any:
    # GX checks scalar columns; binary bodies and nested lists are not worth converting.
    scalar = [
        f.name
        for f in table.schema
        if not (
            pa.types.is_binary(f.type)
            or pa.types.is_large_binary(f.type)
            or pa.types.is_list(f.type)
            or pa.types.is_struct(f.type)
        )
    ]
    return table.select(scalar).to_pandas()


def _label(config: Any) -> str:
    kwargs = config.kwargs or {}
    column = kwargs.get("column") or kwargs.get("column_list")
    return f"{config.type}({column})" if column else str(config.type)


def validate_table(table: pa.Table, suite: Any, dataset: str) -> ValidationReport:
    """Run `suite` on `table` and return every outcome with its severity."""
    batch = _batch_definition().get_batch(batch_parameters={"dataframe": _frame(table)})
    result = batch.validate(suite, result_format="SUMMARY")
    report = ValidationReport(dataset=dataset, suite=suite.name, rows=table.num_rows)
    for item in result.results:
        config = item.expectation_config
        res = item.result or {}
        severity = getattr(config.severity, "value", config.severity) or "critical"
        report.outcomes.append(
            Outcome(
                expectation=_label(config),
                severity=str(severity),
                success=bool(item.success),
                observed=_plain(res.get("observed_value")),
                unexpected_count=res.get("unexpected_count"),
                why=(config.meta or {}).get("why"),
            )
        )
    return report


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value][:20]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in list(value.items())[:20]}
    return str(value)


def gate(report: ValidationReport) -> None:
    """Raise QualityGateError naming every failed critical expectation of `report`."""
    failures = report.critical_failures
    if failures:
        names = ", ".join(f"{o.expectation} (observed {o.observed!r})" for o in failures)
        raise QualityGateError(
            f"critical expectation failed on `{report.dataset}` (suite {report.suite}): {names}"
        )


# --------------------------------------------------------------------------- Prefect task


# NO_CACHE: the staged data behind `path` changes between runs while the arguments do not.
@task(name="validate", cache_policy=NO_CACHE)
def validate_task(dataset: str, paths: list[str], suite_path: str) -> ValidationReport:
    """Validate the staged dataset (the union of the partitions at `paths`) with its suite."""
    schema = DATASETS[dataset]
    suite = load_suite(io.read_json(Path(suite_path)), schema)
    columns = [
        f.name
        for f in schema
        if not (pa.types.is_binary(f.type) or pa.types.is_large_binary(f.type))
    ]
    parts = [io.read_table(Path(p), columns=columns) for p in paths if Path(p).exists()]
    target = pa.schema([schema.field(name) for name in columns])
    table = (
        pa.concat_tables([p.select(columns).cast(target) for p in parts])
        if parts
        else target.empty_table()
    )
    report = validate_table(table, suite, dataset)
    get_run_logger().info(
        "validate %s: %s (%d rows, %d expectations, %d critical failures, %d warnings)",
        dataset,
        report.status,
        report.rows,
        len(report.outcomes),
        len(report.critical_failures),
        len(report.warnings),
    )
    return report
