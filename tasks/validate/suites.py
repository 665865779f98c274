"""Validate: one Great Expectations 1.x suite per dataset, wiredesk's own severity gate, and the
rows the checks set aside.

Input: a staged dataset (its Arrow table, with the `tasks.validate.metrics` metric columns appended
for text datasets), its suite (`expectations/<dataset>.json`) and the run-time suite parameters
(`run_started_at`, `expected_languages`, `rows_in`: the rows the producing stage read,
`sources_in`: the input files behind them).
Output: a `ValidationReport` (one outcome per expectation: passed or not, severity, what GX
observed, how many rows it caught) and a `Split`: the rows to keep and the rows set aside.

Two kinds of check. Batch-level: a failed `critical` expectation stops the night before anything
is published (`gate` raises `QualityGateError` naming it); a failed `warning` is reported only.
GX's own `success` flag ignores severity, so the gate decides itself. Row-level: an expectation
whose `meta.quarantine` names a reason code sets aside exactly the rows GX lists as unexpected
(result format COMPLETE), with `stage` `validate`, that reason and the expectation's label.
Such checks are `warning`s: one bad file, or one container of bad records, never stops a night;
with `meta.stops_night_from_files: N` the caught rows stop the night when they come from N or
more input files (a critical outcome "... from N+ input files" is added). Rows are never set
aside from `deduped` (dropping a canonical row would orphan its copies) nor from `quarantined`.
Before GX runs, the dataset's Parquet schema is compared with its Arrow schema
(`arrow_schema_exact`, critical): GX only sees the scalar columns, so it cannot check types.

Reasons a check sets rows aside (each suite's `meta.quarantine` values): `text_too_long`,
`no_words`, `undecodable_text`, `published_in_future`, `mojibake_after_repair`.

Suites load whole or not at all: GX 1.x drops an expectation whose name it does not know with a
log line only, so `load_suite` counts what GX kept and raises `SuiteError` naming what it
dropped; it also refuses a column the dataset does not have, a `$PARAMETER` the run does not
provide, and a `meta.quarantine` on an expectation that cannot name rows. Each validation result
is also kept in GX's own format next to the run record (`runs/validations/`, written by GX's
store at the path `io.Layout` gives). `build_docs` renders the results of every run kept there
as wiredesk's own Data Docs under `docs/` (`tasks/validate/datadocs.py`: plain HTML that works
offline,
read from the stored JSON, GX not imported): an index of every run, a page per result and a page
per suite.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from tasks import io
from tasks.schema import (
    DATASETS,
    QUARANTINED,
    TEXT_DATASETS,
    Split,
    quarantine_rows,
    validated_schema,
)
from tasks.validate import datadocs
from tasks.validate.metrics import QualityConfig, with_metrics

STAGE = "validate"

SEVERITIES = ("critical", "warning", "info")

# Rows of these datasets are never set aside by a check (see the module docstring).
NO_ROW_QUARANTINE = ("deduped", "quarantined")

# The suite parameters every validation provides (`$PARAMETER` names in the suites). `sources_in`:
# the input files (or fetched URLs) behind the rows the producing stage read, so that a check can
# ask how many of the night's files came through, which one container cannot sway.
PARAMETERS = ("run_started_at", "expected_languages", "rows_in", "sources_in")

# `meta.stops_night_from_files: N` on a row-level check of severity `warning`: when the check
# fails (its `mostly` share missed) and the rows it caught come from at least N input files, the
# night stops, through one more outcome of severity `critical` named after the check ("... from
# N+ input files"). Rows from fewer files are only set aside: one bad file, or one container of
# bad records, never stops a night, while the same problem in many files is systematic.
STOP_NIGHT_KEY = "stops_night_from_files"

# The stage each dataset comes out of: what it set aside and what it kept are what it read.
PRODUCED_BY = {
    "ingested": "ingest",
    "extracted": "extract",
    "repaired": "repair",
    "deduped": "dedup",
}

SCHEMA_CHECK = "arrow_schema_exact"

_SNAKE = re.compile(r"^[a-z][a-z0-9_]*$")
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# GX result keys that list every unexpected value or row: kept in memory to pick rows, but not
# written to the stored results (a column that fails everywhere would copy the whole column).
_BULKY = ("unexpected_list", "unexpected_index_list", "unexpected_index_query")


class SuiteError(ValueError):
    """A suite file that does not load whole or does not fit its dataset's schema."""


class QualityGateError(RuntimeError):
    """A critical expectation failed; the message names it."""


@dataclass(frozen=True)
class ValidateConfig:
    run_id: str
    run_started_at: datetime
    quality: QualityConfig = field(default_factory=QualityConfig)


@dataclass
class Outcome:
    expectation: str
    severity: str
    success: bool
    observed: Any = None
    unexpected_count: int | None = None
    why: str | None = None
    quarantine: str | None = None
    quarantined: int = 0
    rows: list[int] = field(default_factory=list, repr=False)

    @property
    def status(self) -> str:
        if self.success:
            return "pass"
        return "fail" if self.severity == "critical" else "warn"

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        del out["rows"]
        out["status"] = self.status
        return out


@dataclass
class ValidationReport:
    dataset: str
    suite: str
    rows: int
    outcomes: list[Outcome] = field(default_factory=list)
    parameters: dict[str, Any] = field(default_factory=dict)
    quarantined: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    result_path: str | None = None

    @property
    def critical_failures(self) -> list[Outcome]:
        return [o for o in self.outcomes if not o.success and o.severity == "critical"]

    @property
    def warnings(self) -> list[Outcome]:
        return [o for o in self.outcomes if not o.success and o.severity != "critical"]

    @property
    def status(self) -> str:
        if self.rows == 0 and not self.outcomes:
            return "empty"
        if self.critical_failures:
            return "fail"
        return "warn" if self.warnings else "pass"

    def to_dict(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset,
            "suite": self.suite,
            "rows": self.rows,
            "status": self.status,
            "quarantined": self.quarantined,
            "reasons": dict(self.reasons),
            "seconds": self.seconds,
            "parameters": {k: _plain(v) for k, v in self.parameters.items()},
            "result_path": self.result_path,
            "outcomes": [o.to_dict() for o in self.outcomes],
        }


# --------------------------------------------------------------------------- suites


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


def _parameters_named(value: Any) -> set[str]:
    if isinstance(value, dict):
        if "$PARAMETER" in value:
            return set(_IDENT.findall(str(value["$PARAMETER"])))
        return set().union(*(_parameters_named(v) for v in value.values()))
    if isinstance(value, list):
        return set().union(*(_parameters_named(v) for v in value))
    return set()


def _is_row_level(expectation_type: str) -> bool:
    from great_expectations.expectations.expectation import ColumnMapExpectation
    from great_expectations.expectations.registry import get_expectation_impl

    try:
        return issubclass(get_expectation_impl(expectation_type), ColumnMapExpectation)
    except Exception:  # unknown names are reported by the dropped-expectation check below
        return True


def load_suite(spec: dict[str, Any], schema: pa.Schema) -> Any:
    """A GX ExpectationSuite from its JSON dict; raises SuiteError unless it loads whole.

    `schema` is what the suite sees (`tasks.schema.validated_schema` of its dataset).
    """
    import great_expectations as gx

    name = spec.get("name")
    expected = spec.get("expectations")
    if not isinstance(name, str) or not isinstance(expected, list) or not expected:
        raise SuiteError("a suite needs a `name` and a non-empty `expectations` list")
    for item in expected:
        kind = item.get("type")
        severity = item.get("severity", "critical")
        if severity not in SEVERITIES:
            raise SuiteError(f"{name}: {kind} has severity {severity!r}")
        meta = item.get("meta") or {}
        if not meta.get("why"):
            raise SuiteError(f"{name}: {kind} has no meta.why")
        kwargs = item.get("kwargs", {})
        unknown = [c for c in _columns_named(kwargs) if c not in schema.names]
        if unknown:
            raise SuiteError(
                f"{name}: {kind} names columns {unknown} that the dataset's schema does not have"
            )
        missing = sorted(_parameters_named(kwargs) - set(PARAMETERS))
        if missing:
            raise SuiteError(
                f"{name}: {kind} uses suite parameters {missing}; a run provides {PARAMETERS}"
            )
        reason = meta.get("quarantine")
        if reason is not None:
            if not isinstance(reason, str) or not _SNAKE.match(reason):
                raise SuiteError(f"{name}: {kind} has meta.quarantine {reason!r} (not snake_case)")
            if name in NO_ROW_QUARANTINE:
                raise SuiteError(f"{name}: rows of `{name}` are never set aside ({kind})")
            if not isinstance(kwargs.get("column"), str) or not _is_row_level(str(kind)):
                raise SuiteError(
                    f"{name}: {kind} cannot name rows, so it cannot carry meta.quarantine"
                )
        files = meta.get(STOP_NIGHT_KEY)
        if files is not None and (
            reason is None or not isinstance(files, int) or isinstance(files, bool) or files < 2
        ):
            raise SuiteError(
                f"{name}: {kind} has meta.{STOP_NIGHT_KEY} {files!r}: it needs meta.quarantine "
                "and a number of input files of at least 2 (one bad file never stops a night)"
            )
    # The label is taken before GX substitutes suite parameters, so that it names the rule
    # ("min rows_in * 0.5"), not tonight's value, and stays the same from night to night.
    expected = [
        {
            **item,
            "meta": {
                **item["meta"],
                "label": _raw_label(str(item["type"]), item.get("kwargs") or {}),
            },
        }
        for item in expected
    ]
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


def suite_parameters(cfg: ValidateConfig, rows_in: int, sources_in: int) -> dict[str, Any]:
    """The run-time values of the suites' `$PARAMETER`s."""
    return {
        "run_started_at": cfg.run_started_at,
        "expected_languages": list(cfg.quality.expected_languages),
        "rows_in": rows_in,
        "sources_in": sources_in,
    }


# --------------------------------------------------------------------------- checking


def _gx_context(results_dir: Path | None = None) -> Any:
    """An ephemeral GX context; with a file store for validation results when given."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    config = DataContextConfig(store_backend_defaults=InMemoryStoreBackendDefaults())
    if results_dir is not None:
        config.stores[config.validation_results_store_name]["store_backend"] = {
            "class_name": "TupleFilesystemStoreBackend",
            "base_directory": str(results_dir),
        }
    context = gx.get_context(mode="ephemeral", project_config=config)
    # GX 1.x reads this variable, not TQDM_DISABLE, to decide on progress bars.
    context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    return context


@lru_cache(maxsize=1)
def _batch_definition() -> Any:
    source = _gx_context().data_sources.add_pandas("wiredesk")
    asset = source.add_dataframe_asset("batch")
    return asset.add_batch_definition_whole_dataframe("whole")


def _scalar_columns(schema: pa.Schema) -> list[str]:
    # GX checks scalar columns; binary bodies and nested lists are not worth converting.
    return [
        f.name
        for f in schema
        if not (
            pa.types.is_binary(f.type)
            or pa.types.is_large_binary(f.type)
            or pa.types.is_list(f.type)
            or pa.types.is_large_list(f.type)
            or pa.types.is_struct(f.type)
        )
    ]


def _label(config: Any) -> str:
    """`type(column)`; table-level expectations show their bounds as written in the suite."""
    label = (config.meta or {}).get("label")
    if isinstance(label, str):
        return label
    return _raw_label(str(config.type), config.kwargs or {})


def _raw_label(kind: str, kwargs: dict[str, Any]) -> str:
    column = kwargs.get("column") or kwargs.get("column_list")
    if column:
        return f"{kind}({column})"
    bounds = [
        f"{key.removesuffix('_value')} {_bound(kwargs[key])}"
        for key in ("min_value", "max_value")
        if kwargs.get(key) is not None
    ]
    return f"{kind}[{', '.join(bounds)}]" if bounds else kind


def _bound(value: Any) -> str:
    if isinstance(value, dict) and "$PARAMETER" in value:
        return str(value["$PARAMETER"])
    return str(value)


def schema_outcome(actual: pa.Schema, expected: pa.Schema) -> Outcome:
    """`arrow_schema_exact`: the written schema has exactly the expected fields, types, order."""
    problems: list[str] = []
    missing = [n for n in expected.names if n not in actual.names]
    extra = [n for n in actual.names if n not in expected.names]
    if missing:
        problems.append(f"missing {missing}")
    if extra:
        problems.append(f"extra {extra}")
    for f in expected:
        if f.name in actual.names and not actual.field(f.name).type.equals(f.type):
            problems.append(f"{f.name}: {actual.field(f.name).type} instead of {f.type}")
    if not problems and actual.names != expected.names:
        problems.append("column order differs")
    return Outcome(
        expectation=SCHEMA_CHECK,
        severity="critical",
        success=not problems,
        observed="; ".join(problems) or "exact",
        why="Readers load the Arrow schema of tasks/schema.py; GX sees only scalar columns.",
    )


def validate_table(
    table: pa.Table, suite: Any, dataset: str, parameters: dict[str, Any] | None = None
) -> tuple[ValidationReport, Any]:
    """Run `suite` on `table` (metric columns already appended); the report and GX's result.

    Every outcome carries its severity; a row-level outcome also the positions of the rows it
    caught (`Outcome.rows`).
    """
    frame = table.select(_scalar_columns(table.schema)).to_pandas()
    batch = _batch_definition().get_batch(batch_parameters={"dataframe": frame})
    result = batch.validate(
        suite, result_format="COMPLETE", expectation_parameters=parameters or None
    )
    report = ValidationReport(
        dataset=dataset, suite=suite.name, rows=table.num_rows, parameters=dict(parameters or {})
    )
    systematic: list[Outcome] = []
    for item in result.results:
        config = item.expectation_config
        res = item.result or {}
        severity = getattr(config.severity, "value", config.severity) or "critical"
        meta = config.meta or {}
        if item.exception_info and item.exception_info.get("raised_exception"):
            # An expectation that raised (a bad kwarg, a type it cannot compare) is a broken
            # check; it must not pass quietly.
            raise SuiteError(
                f"{suite.name}: {_label(config)} raised: "
                f"{item.exception_info.get('exception_message')}"
            )
        outcome = Outcome(
            expectation=_label(config),
            severity=str(severity),
            success=bool(item.success),
            observed=_plain(res.get("observed_value")),
            unexpected_count=res.get("unexpected_count"),
            why=meta.get("why"),
            quarantine=meta.get("quarantine"),
        )
        if outcome.quarantine:
            outcome.rows = sorted(int(i) for i in res.get("unexpected_index_list") or [])
        report.outcomes.append(outcome)
        files = meta.get(STOP_NIGHT_KEY)
        if files and not outcome.success:
            stop = _systematic(outcome, table, int(files))
            if stop is not None:
                systematic.append(stop)
    # First, like wiredesk's other own checks: they are not in GX's result.
    report.outcomes[:0] = systematic
    return report, result


def _systematic(outcome: Outcome, table: pa.Table, files: int) -> Outcome | None:
    """The critical outcome that stops the night when `outcome`'s rows span `files` input files
    or more (see STOP_NIGHT_KEY); None when they do not."""
    if not outcome.rows or "source_path" not in table.column_names:
        return None
    caught = table.column("source_path").take(pa.array(outcome.rows, pa.int64()))
    spread = pc.count_distinct(caught).as_py()
    if spread < files:
        return None
    return Outcome(
        expectation=f"{outcome.expectation} from {files}+ input files",
        severity="critical",
        success=False,
        observed=f"{len(outcome.rows)} of {table.num_rows} rows, from {spread} input files",
        why=(
            f"The check caught more rows than its `mostly` share allows, in {spread} input files "
            f"(at least {files}): not one bad file but a systematic problem. {outcome.why or ''}"
        ).strip(),
    )


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value][:20]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in list(value.items())[:20]}
    return str(value)


def rows_to_set_aside(report: ValidationReport) -> dict[int, Outcome]:
    """Row position -> the first row-level outcome (in suite order) that caught it."""
    caught: dict[int, Outcome] = {}
    if report.critical_failures:
        return caught  # the night stops; the staged data stays as it was, for inspection
    for outcome in report.outcomes:
        for row in outcome.rows:
            caught.setdefault(row, outcome)
    return caught


def split_rows(
    table: pa.Table,
    report: ValidationReport,
    cfg: ValidateConfig,
    checked: pa.Table | None = None,
) -> Split:
    """(kept, quarantined) of `table` by the row-level outcomes of `report`; counts them.

    `checked` is the table the suite saw (with the metric columns), for the caught values.
    """
    seen = checked if checked is not None else table
    caught = rows_to_set_aside(report)
    report.quarantined = len(caught)
    report.reasons = {}
    if not caught:
        return Split(table, QUARANTINED.empty_table())
    bad: list[dict[str, Any]] = []
    for position in sorted(caught):
        outcome = caught[position]
        outcome.quarantined += 1
        reason = str(outcome.quarantine)
        report.reasons[reason] = report.reasons.get(reason, 0) + 1
        row = {
            name: table.column(name)[position].as_py()
            for name in ("doc_id", "source_path", "record_index", "url", "raw_sha256")
            if name in table.column_names
        }
        column = outcome.expectation.partition("(")[2].rstrip(")")
        value = seen.column(column)[position].as_py() if column in seen.column_names else None
        bad.append(
            row
            | {
                "reason": reason,
                "detail": f"{report.dataset}.{column} = {_plain(value)!s}"[:300],
                "expectation": outcome.expectation,
                "size_bytes": (
                    table.column("body_bytes")[position].as_py()
                    if "body_bytes" in table.column_names
                    else None
                ),
            }
        )
    report.reasons = dict(sorted(report.reasons.items()))
    mask = pa.array([i not in caught for i in range(table.num_rows)], pa.bool_())
    quarantined = quarantine_rows(bad, stage=STAGE, run_id=cfg.run_id, at=cfg.run_started_at)
    return Split(table.filter(mask), quarantined)


def validate_batch(
    table: pa.Table,
    suite: Any,
    dataset: str,
    cfg: ValidateConfig,
    rows_in: int,
    sources_in: int | None = None,
) -> tuple[ValidationReport, Split, Any]:
    """Metrics, suite and row split for one dataset: the pure core of `validate_task`.

    `sources_in` defaults to the input files of `table` itself (no file lost).
    """
    if sources_in is None:
        sources_in = _distinct_sources(table)
    checked = with_metrics(table, cfg.quality) if dataset in TEXT_DATASETS else table
    parameters = suite_parameters(cfg, rows_in, sources_in)
    report, result = validate_table(checked, suite, dataset, parameters)
    return report, split_rows(table, report, cfg, checked), result


def _distinct_sources(table: pa.Table) -> int:
    if "source_path" not in table.column_names:
        return 0
    return int(pc.count_distinct(table.column("source_path")).as_py())


def gate(report: ValidationReport) -> None:
    """Raise QualityGateError naming every failed critical expectation of `report`."""
    failures = report.critical_failures
    if failures:
        names = ", ".join(f"{o.expectation} (observed {o.observed!r})" for o in failures)
        raise QualityGateError(
            f"critical expectation failed on `{report.dataset}` (suite {report.suite}): {names}"
        )


# --------------------------------------------------------------------------- results, Data Docs


def _result_key(suite: str, dataset: str, run_id: str, started: datetime) -> Any:
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
        ValidationResultIdentifier,
    )

    return ValidationResultIdentifier(
        ExpectationSuiteIdentifier(suite),
        RunIdentifier(run_name=run_id, run_time=started),
        dataset,
    )


def store_result(result: Any, layout: io.Layout, cfg: ValidateConfig, dataset: str) -> str:
    """Keep GX's validation result (without the bulky row lists) next to the run record."""
    for item in result.results:
        for key in _BULKY:
            (item.result or {}).pop(key, None)
    key = _result_key(result.suite_name, dataset, cfg.run_id, cfg.run_started_at)
    store = _gx_context(results_dir=layout.validation_results).validation_results_store
    store.set(key, result)
    written = sorted((layout.validation_results / dataset / cfg.run_id).rglob("*.json"))
    return str(written[-1]) if written else ""


def build_docs(
    layout: io.Layout,
    cfg: ValidateConfig,
    datasets: list[str],
    expectations_dir: Path | None = None,
) -> str:
    """Render every stored run as Data Docs (`tasks/validate/datadocs.py`); returns the index's
    path.

    The whole history is rendered, from the run records and the stored results (no GX import).
    Raises FileNotFoundError when a page of this run's `datasets` (results stored under
    `cfg.run_id`) was not written, rather than leave tonight out of the docs unnoticed.
    """
    written = datadocs.build_site(
        layout.docs, layout.data_dir / "runs", layout.validation_results, expectations_dir
    )
    tonight = {
        page.split("/")[-1].removesuffix(".html")
        for page in written
        if page.count("/") == 4 and page.split("/")[2] == cfg.run_id
    }
    missing = sorted(set(datasets) - tonight)
    if missing:
        raise FileNotFoundError(
            f"no stored validation result of run {cfg.run_id} for {missing} "
            f"under {layout.validation_results}"
        )
    return str(layout.docs / datadocs.INDEX)


# --------------------------------------------------------------------------- Prefect task


def _read(dataset: str, paths: list[Path]) -> tuple[pa.Table, list[Outcome]]:
    schema = DATASETS[dataset]
    columns = _scalar_columns(schema)
    parts: list[pa.Table] = []
    checks: list[Outcome] = []
    for path in paths:
        if not path.exists():
            continue
        checks.append(schema_outcome(ds.dataset(path, format="parquet").schema, schema))
        if checks[-1].success:
            parts.append(io.read_table(path, columns=columns))
    target = pa.schema([schema.field(name) for name in columns])
    table = pa.concat_tables(parts) if parts else target.empty_table()
    failed = [c for c in checks if not c.success]
    return table, failed or checks[:1] or [schema_outcome(schema, schema)]


def _rewrite_without(layout: io.Layout, dataset: str, doc_ids: list[str]) -> int:
    """Drop the set-aside documents from the staged dataset, streaming (bodies can be large)."""
    path = layout.staged(dataset)
    drop = pa.array(doc_ids, pa.string())

    def kept() -> Any:
        for batch in io.iter_batches(path, batch_rows=1024):
            yield batch.filter(pc.invert(pc.is_in(batch.column("doc_id"), value_set=drop)))

    return io.write_partition(layout.data_dir, path, kept(), DATASETS[dataset]).rows


def validate_dataset(
    dataset: str,
    paths: list[str],
    suite_path: str,
    layout: io.Layout,
    cfg: ValidateConfig,
    rows_in: int,
    log: Callable[..., None] = lambda *args: None,
) -> ValidationReport:
    """Validate the staged dataset (the union of `paths`); set aside the rows checks caught.

    Caught rows are removed from the staged dataset and written to the staged quarantine of
    `validate_<dataset>`, so the next stage never reads them and publish gathers them.
    """
    started = time.monotonic()
    suite = load_suite(io.read_json(Path(suite_path)), validated_schema(dataset))
    table, schema_checks = _read(dataset, [Path(p) for p in paths])
    if table.num_rows == 0 and rows_in == 0:
        # A night with nothing new is normal for a re-ingest. Aggregate expectations (a mean, a
        # share) have no value on no rows and would fail it, so an empty dataset is reported as
        # such (only its schema checked) and whatever an earlier run of the night set aside is
        # replaced by nothing. (Rows in but none out is a stage that lost everything: checked.)
        report = ValidationReport(dataset=dataset, suite=suite.name, rows=0)
        report.outcomes[:0] = [o for o in schema_checks if not o.success]
        if dataset not in NO_ROW_QUARANTINE:
            io.write_partition(
                layout.data_dir,
                layout.staged_quarantine(quarantine_stage(dataset)),
                [],
                QUARANTINED,
            )
        log("validate %s: no rows tonight", dataset)
        return report
    sources_in = _sources_in(layout, dataset, table)
    report, split, result = validate_batch(table, suite, dataset, cfg, rows_in, sources_in)
    report.outcomes[:0] = schema_checks
    if split.quarantined.num_rows:
        _rewrite_without(layout, dataset, split.quarantined.column("doc_id").to_pylist())
    if dataset not in NO_ROW_QUARANTINE:
        # Written even when empty: a re-run of the night must replace what an earlier run set
        # aside, or publish would gather stale rows.
        io.write_partition(
            layout.data_dir,
            layout.staged_quarantine(quarantine_stage(dataset)),
            [split.quarantined],
            QUARANTINED,
        )
    report.result_path = store_result(result, layout, cfg, dataset)
    report.seconds = round(time.monotonic() - started, 3)
    log(
        "validate %s: %s (%d rows, %d expectations, %d critical failures, %d warnings, "
        "%d rows set aside)",
        dataset,
        report.status,
        report.rows,
        len(report.outcomes),
        len(report.critical_failures),
        len(report.warnings),
        report.quarantined,
    )
    return report


def _sources_in(layout: io.Layout, dataset: str, table: pa.Table) -> int:
    """Input files behind the rows the stage producing `dataset` read: those of the rows it kept
    and of the rows it set aside (its staged quarantine)."""
    paths = set(table.column("source_path").to_pylist()) if table.num_rows else set()
    stage = PRODUCED_BY.get(dataset)
    rejected = layout.staged_quarantine(stage) if stage else None
    if rejected is not None and rejected.exists():
        paths.update(io.read_table(rejected, columns=["source_path"]).column(0).to_pylist())
    return len(paths)


def quarantine_stage(dataset: str) -> str:
    """The staged-quarantine folder name of rows a check set aside from `dataset`."""
    return f"{STAGE}_{dataset}"
