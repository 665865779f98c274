"""The `nightly-ingest` flow: wiring only, every stage's logic lives in `tasks/`.

ingest -> validate(ingested) -> extract -> validate(extracted) -> repair -> validate(repaired)
-> dedup -> validate(deduped) -> validate(quarantined) -> publish -> invariant check -> profile.

A failed `critical` expectation stops the night before publish, so the curated tables stay as
they were; rows a row-level check caught are removed from the staged dataset before the next
stage reads it, and published with the night's quarantine. Whatever happens, the run record
`runs/<run_id>.json` is written with the counts and validation results gathered so far, GX Data
Docs are built under `docs/`, and Prefect artifacts show the night (`tasks/report.py`).
"""

from __future__ import annotations

import traceback
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact, create_table_artifact

from flows.config import RunConfig
from tasks import io
from tasks import report as reports
from tasks.dedup import dedup_task
from tasks.extract import extract_task
from tasks.ingest import ingest_task
from tasks.publish import publish_task
from tasks.repair import repair_task
from tasks.runner import StageResult
from tasks.validate import ValidationReport, docs_task, gate, quarantine_stage, validate_task

STAGES = ("ingest", "extract", "repair", "dedup")
# Where the night's rejects are gathered from, in pipeline order: each stage's own, then what
# the checks of its dataset set aside (never any from `deduped`, see tasks/validate.py).
QUARANTINE_SOURCES = (
    "ingest",
    quarantine_stage("ingested"),
    "extract",
    quarantine_stage("extracted"),
    "repair",
    quarantine_stage("repaired"),
    "dedup",
)


class InvariantError(RuntimeError):
    """Documents were lost or doubled: input != articles + duplicates + quarantined."""


def check_invariant(rows_in: int, published: dict[str, int]) -> dict[str, Any]:
    total = published["articles"] + published["duplicates"] + published["quarantined"]
    outcome = {"input": rows_in, **published, "holds": total == rows_in}
    if total != rows_in:
        raise InvariantError(
            f"{rows_in} input documents but {published['articles']} articles + "
            f"{published['duplicates']} duplicates + {published['quarantined']} quarantined "
            f"= {total}"
        )
    return outcome


def _validate(
    cfg: RunConfig,
    layout: io.Layout,
    dataset: str,
    paths: list[Path],
    record: dict[str, Any],
    rows_in: int,
) -> ValidationReport:
    report = validate_task(
        dataset,
        [str(p) for p in paths],
        str(cfg.expectations_dir / f"{dataset}.json"),
        layout,
        cfg.validate,
        rows_in,
    )
    record["validations"][dataset] = report.to_dict()
    gate(report)
    return report


@flow(name="nightly-ingest", validate_parameters=True)
def nightly_ingest(
    inbox: str = "data/inbox",
    data_dir: str = "data",
    run_date: date | None = None,
    workers: int | None = None,
    expectations_dir: str | None = None,
    expected_languages: list[str] | None = None,
) -> dict[str, Any]:
    """Ingest the inbox, extract, repair, dedup, validate every stage and publish Parquet."""
    cfg = RunConfig.build(
        inbox=inbox,
        data_dir=data_dir,
        run_date=run_date,
        workers=workers,
        expectations_dir=expectations_dir,
        expected_languages=expected_languages,
    )
    layout = io.Layout(cfg.data_dir, cfg.run_date)
    logger = get_run_logger()
    logger.info(
        "run %s for night %s: inbox %s -> %s (%d workers)",
        cfg.run_id,
        cfg.run_date,
        cfg.inbox,
        cfg.data_dir,
        cfg.workers,
    )
    record: dict[str, Any] = {
        "run_id": cfg.run_id,
        "run_date": cfg.run_date,
        "status": "running",
        "started_at": cfg.started_at.isoformat(),
        "inbox": str(cfg.inbox),
        "data_dir": str(cfg.data_dir),
        "stages": {},
        "validations": {},
        "published": None,
        "invariant": None,
        "error": None,
    }
    results: dict[str, StageResult] = {}
    try:
        results["ingest"] = ingest_task(str(cfg.inbox), layout, cfg.ingest)
        record["stages"]["ingest"] = results["ingest"].to_dict()
        _validate(
            cfg, layout, "ingested", [layout.staged("ingested")], record, results["ingest"].rows_in
        )

        results["extract"] = extract_task(layout, cfg.extract, cfg.workers, cfg.batch_rows)
        record["stages"]["extract"] = results["extract"].to_dict()
        _validate(
            cfg,
            layout,
            "extracted",
            [layout.staged("extracted")],
            record,
            results["extract"].rows_in,
        )

        results["repair"] = repair_task(layout, cfg.repair, cfg.workers, cfg.batch_rows)
        record["stages"]["repair"] = results["repair"].to_dict()
        _validate(
            cfg, layout, "repaired", [layout.staged("repaired")], record, results["repair"].rows_in
        )

        results["dedup"] = dedup_task(layout, cfg.dedup)
        record["stages"]["dedup"] = results["dedup"].to_dict()
        _validate(
            cfg, layout, "deduped", [layout.staged("deduped")], record, results["dedup"].rows_in
        )
        quarantined = [layout.staged_quarantine(source) for source in QUARANTINE_SOURCES]
        _validate(
            cfg,
            layout,
            "quarantined",
            quarantined,
            record,
            sum(io.dataset_rows(p) for p in quarantined),
        )

        published = publish_task(layout, list(QUARANTINE_SOURCES))
        record["published"] = published
        record["invariant"] = check_invariant(results["ingest"].rows_in, published)
        record["status"] = "completed"
        record["profile"] = _profile(layout)
    except BaseException as exc:
        record["status"] = "failed"
        record["error"] = f"{type(exc).__name__}: {exc}"
        record["traceback"] = traceback.format_exc(limit=8)
        raise
    finally:
        record["docs"] = _docs(cfg, layout, record)
        record["finished_at"] = datetime.now(UTC).isoformat()
        io.write_json(layout.run_record(cfg.run_id), record)
        _artifacts(record)
    return record


def _profile(layout: io.Layout) -> dict[str, Any] | None:
    try:
        return reports.profile_task(layout)
    except Exception as exc:  # the profile is a report, never a reason to fail the night
        get_run_logger().warning("could not profile the published night: %s", exc)
        return None


def _docs(cfg: RunConfig, layout: io.Layout, record: dict[str, Any]) -> str | None:
    try:
        return docs_task(layout, cfg.validate, list(record["validations"]))
    except Exception as exc:  # Data Docs are a report, never a reason to fail the night
        get_run_logger().warning("could not build GX Data Docs: %s", exc)
        return None


def stage_rows(record: dict[str, Any]) -> list[dict[str, Any]]:
    """One summary row per stage: documents in, kept, set aside, duplicates, top reasons."""
    return reports.stage_rows(record)


def _artifacts(record: dict[str, Any]) -> None:
    try:
        create_table_artifact(
            key="nightly-stages",
            table=stage_rows(record),
            description=f"wiredesk run {record['run_id']}: documents per stage",
        )
        create_markdown_artifact(
            key="nightly-summary",
            markdown=reports.summary_markdown(record),
            description=f"wiredesk run {record['run_id']}: every check, pass/warn/fail",
        )
    except Exception as exc:  # an artifact is a report, never a reason to fail the night
        get_run_logger().warning("could not publish Prefect artifacts: %s", exc)
