"""The `nightly-ingest` flow: wiring only, every stage's logic lives in `tasks/`.

ingest -> validate(ingested) -> extract -> validate(extracted) -> repair -> validate(repaired)
-> dedup -> validate(deduped) -> validate(quarantined) -> publish -> invariant check.

A failed `critical` expectation stops the night before publish, so the curated tables stay as
they were. Whatever happens, the run record `runs/<run_id>.json` is written with the counts and
validation results gathered so far.
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
from tasks.dedup import dedup_task
from tasks.extract import extract_task
from tasks.ingest import ingest_task
from tasks.publish import publish_task
from tasks.repair import repair_task
from tasks.runner import StageResult
from tasks.sitelines import learn_site_lines_task
from tasks.validate import ValidationReport, gate, validate_task

STAGES = ("ingest", "extract", "repair", "dedup")


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
    cfg: RunConfig, layout: io.Layout, dataset: str, paths: list[Path], record: dict[str, Any]
) -> ValidationReport:
    report = validate_task(
        dataset, [str(p) for p in paths], str(cfg.expectations_dir / f"{dataset}.json")
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
) -> dict[str, Any]:
    """Ingest the inbox, extract, repair, dedup, validate every stage and publish Parquet."""
    cfg = RunConfig.build(
        inbox=inbox,
        data_dir=data_dir,
        run_date=run_date,
        workers=workers,
        expectations_dir=expectations_dir,
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
        _validate(cfg, layout, "ingested", [layout.staged("ingested")], record)

        results["extract"] = extract_task(layout, cfg.extract, cfg.workers, cfg.batch_rows)
        record["stages"]["extract"] = results["extract"].to_dict()
        _validate(cfg, layout, "extracted", [layout.staged("extracted")], record)

        results["repair"] = repair_task(layout, cfg.repair, cfg.workers, cfg.batch_rows)
        record["stages"]["repair"] = results["repair"].to_dict()
        _validate(cfg, layout, "repaired", [layout.staged("repaired")], record)

        results["dedup"] = dedup_task(layout, cfg.dedup)
        record["stages"]["dedup"] = results["dedup"].to_dict()
        _validate(cfg, layout, "deduped", [layout.staged("deduped")], record)
        _validate(
            cfg,
            layout,
            "quarantined",
            [layout.staged_quarantine(stage) for stage in STAGES],
            record,
        )

        published = publish_task(layout, list(STAGES))
        record["published"] = published
        record["invariant"] = check_invariant(results["ingest"].rows_in, published)
        record["site_lines"] = learn_site_lines_task(layout).to_dict()
        record["status"] = "completed"
    except BaseException as exc:
        record["status"] = "failed"
        record["error"] = f"{type(exc).__name__}: {exc}"
        record["traceback"] = traceback.format_exc(limit=8)
        raise
    finally:
        record["finished_at"] = datetime.now(UTC).isoformat()
        io.write_json(layout.run_record(cfg.run_id), record)
        _artifacts(record)
    return record


def stage_rows(record: dict[str, Any]) -> list[dict[str, Any]]:
    """One summary row per stage: documents in, kept, quarantined, duplicates, top reasons."""
    rows = []
    for stage in STAGES:
        result = record["stages"].get(stage)
        if not result:
            continue
        reasons = sorted(result["reasons"].items(), key=lambda kv: (-kv[1], kv[0]))[:3]
        rows.append(
            {
                "stage": stage,
                "in": result["rows_in"],
                "kept": result["kept"],
                "quarantined": result["quarantined"],
                "duplicates": result["extra"].get("duplicates", "") if stage == "dedup" else "",
                "seconds": result["seconds"],
                "top reasons": ", ".join(f"{k} ({v})" for k, v in reasons),
            }
        )
    return rows


def _artifacts(record: dict[str, Any]) -> None:
    try:
        create_table_artifact(
            key="nightly-stages",
            table=stage_rows(record),
            description=f"wiredesk run {record['run_id']}",
        )
        lines = [f"# wiredesk night {record['run_date']}: {record['status']}", ""]
        for dataset, report in record["validations"].items():
            lines.append(f"- **{dataset}**: {report['status']} ({report['rows']} rows)")
            for outcome in report["outcomes"]:
                if not outcome["success"]:
                    lines.append(
                        f"  - {outcome['severity']}: {outcome['expectation']} "
                        f"(observed {outcome['observed']})"
                    )
        if record["error"]:
            lines += ["", f"**error**: {record['error']}"]
        create_markdown_artifact(key="nightly-summary", markdown="\n".join(lines))
    except Exception as exc:  # an artifact is a report, never a reason to fail the night
        get_run_logger().warning("could not publish Prefect artifacts: %s", exc)
