"""The `nightly-ingest` flow: wiring only, every stage's logic lives in `tasks/`.

fetch (web sources, if any) -> ingest -> validate(ingested) -> extract -> validate(extracted)
-> repair -> validate(repaired) -> dedup -> validate(deduped) -> validate(quarantined)
-> publish -> invariant check.

A run holds the data dir's lock from start to end, so two runs never write one data dir at once
(the second fails with a message naming the first, or waits `lock_wait` seconds). A night is
resumable (tasks/resume.py): each stage whose recorded output is still valid is reused, so a run
killed part-way is completed by the next run of the same night, and a night that is complete
and whose inputs did not change is left untouched. A failed `critical` expectation stops the
night before publish, so the curated tables stay as they were. Whatever happens, the run record
`runs/<run_id>.json` is written with the counts and validation results gathered so far.
"""

from __future__ import annotations

import os
import traceback
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact, create_table_artifact

from flows.config import RunConfig
from tasks import io, reingest, resume
from tasks.dedup import dedup_task
from tasks.extract import extract_task
from tasks.fetch import fetch_task
from tasks.ingest import ingest_task
from tasks.publish import publish_task
from tasks.repair import VOCABULARY_STATE, repair_task
from tasks.sitelines import LINES_STATE, PAGES_STATE, learn_site_lines_task
from tasks.validate import gate, validate_task

STAGES = ("ingest", "extract", "repair", "dedup")
# Stages whose quarantine goes into the night's quarantine table, in order.
QUARANTINE_STAGES = ("fetch", *STAGES)


class InvariantError(RuntimeError):
    """Documents were lost or doubled: input != articles + duplicates + quarantined."""


def check_invariant(rows_in: int, published: dict[str, int]) -> dict[str, Any]:
    unchanged = published.get("unchanged", 0)
    total = published["articles"] + published["duplicates"] + published["quarantined"] + unchanged
    outcome = {"input": rows_in, **published, "holds": total == rows_in}
    if total != rows_in:
        raise InvariantError(
            f"{rows_in} input documents but {published['articles']} articles + "
            f"{published['duplicates']} duplicates + {published['quarantined']} quarantined "
            f"+ {unchanged} unchanged = {total}"
        )
    return outcome


def _validate(cfg: RunConfig, dataset: str, paths: list[Path]) -> dict[str, Any]:
    rows = sum(io.dataset_rows(p) for p in paths)
    if rows == 0:
        # A night with nothing new is normal for a re-ingest; aggregate expectations (a mean, a
        # share) have no value on no rows and would fail it.
        return {"dataset": dataset, "suite": None, "rows": 0, "status": "empty", "outcomes": []}
    report = validate_task(
        dataset, [str(p) for p in paths], str(cfg.expectations_dir / f"{dataset}.json")
    )
    gate(report)
    return report.to_dict()


def stage_inputs(cfg: RunConfig, layout: io.Layout) -> dict[str, Any]:
    """Per stage, in order, what besides the stage before it determines its output."""
    code = resume.code_version()
    suites = io.fingerprint_files([cfg.expectations_dir], cfg.expectations_dir)
    history = io.fingerprint_files(reingest.history_paths(layout), cfg.data_dir)
    inputs: dict[str, Any] = {}
    if cfg.sources:
        # No code version: what the web answered that night is a fact, whatever code reads it.
        inputs["fetch"] = [list(cfg.sources)]
    inbox = io.stat_tree(cfg.inbox) if cfg.inbox is not None else None
    inputs["ingest"] = [code, suites, resume.settings(cfg.ingest), inbox, history]
    # Extract and repair also read state that earlier nights wrote (site boilerplate lines; the
    # vocabulary that protects names from typo repair).
    site_model = io.fingerprint_files(
        [
            path
            for name in (LINES_STATE, PAGES_STATE)
            for _, path in io.partitions_before(layout.state_history(name), layout.run_date)
        ],
        cfg.data_dir,
    )
    vocabulary = io.fingerprint_files(
        [
            path
            for _, path in io.partitions_before(
                layout.state_history(VOCABULARY_STATE), layout.run_date
            )
        ],
        cfg.data_dir,
    )
    inputs["extract"] = [code, suites, resume.settings(cfg.extract), site_model]
    inputs["repair"] = [code, suites, resume.settings(cfg.repair), vocabulary]
    inputs["dedup"] = [code, suites, resume.settings(cfg.dedup)]
    inputs["publish"] = [code, history]
    # Learns from the night's extracted pages on top of the last snapshot before the night.
    inputs["site_lines"] = [code, site_model]
    return inputs


def _default_night() -> date | None:
    """A deployment's run belongs to the night it was scheduled for, even when it starts late."""
    from prefect.context import FlowRunContext

    ctx = FlowRunContext.get()
    if ctx is None or ctx.flow_run is None or ctx.flow_run.deployment_id is None:
        return None
    expected = ctx.flow_run.expected_start_time
    return expected.astimezone(UTC).date() if expected is not None else None


@flow(name="nightly-ingest", validate_parameters=True)
def nightly_ingest(
    inbox: str | None = "data/inbox",
    data_dir: str = "data",
    run_date: date | None = None,
    sources: list[str] | None = None,
    workers: int | None = None,
    expectations_dir: str | None = None,
    lock_wait: float = 0.0,
) -> dict[str, Any]:
    """Fetch the sources and ingest the inbox, extract, repair, dedup, validate every stage and
    publish Parquet; only what is new or changed since the last night is processed."""
    cfg = RunConfig.build(
        inbox=inbox,
        data_dir=data_dir,
        run_date=run_date or _default_night(),
        sources=sources,
        workers=workers,
        expectations_dir=expectations_dir,
        lock_wait=lock_wait,
    )
    if cfg.inbox is not None and not cfg.inbox.is_dir():
        raise FileNotFoundError(f"inbox {cfg.inbox} does not exist or is not a directory")
    layout = io.Layout(cfg.data_dir, cfg.run_date)
    logger = get_run_logger()
    record: dict[str, Any] = {
        "run_id": cfg.run_id,
        "night_run_id": None,
        "run_date": cfg.run_date,
        "status": "running",
        "started_at": cfg.started_at.isoformat(),
        "inbox": str(cfg.inbox) if cfg.inbox is not None else None,
        "sources": list(cfg.sources),
        "data_dir": str(cfg.data_dir),
        "stages": {},
        "validations": {},
        "reused": [],
        "published": None,
        "invariant": None,
        "error": None,
    }
    holder = f"pid {os.getpid()}, run {cfg.run_id}, night {cfg.run_date}, since {cfg.started_at}"
    try:
        with io.DataDirLock(cfg.data_dir, holder=holder, wait_seconds=cfg.lock_wait):
            _run_night(cfg, layout, record, logger)
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


def _run_night(cfg: RunConfig, layout: io.Layout, record: dict[str, Any], logger: Any) -> None:
    cleared = io.clear_scratch(cfg.data_dir)
    if cleared:
        logger.info("removed %d half-written parts left by a killed run", cleared)
    night = resume.Night.open(
        layout, stage_inputs(cfg, layout), run_id=cfg.run_id, started_at=cfg.started_at
    )
    record["night_run_id"] = night.run_id
    if night.complete:
        for name, entry in night.record["stages"].items():
            record["stages"][name] = entry["result"]
            record["validations"].update(entry["validations"])
        record.update(night.record.get("summary", {}), reused=list(night.record["stages"]))
        record["status"] = "skipped"
        logger.info(
            "night %s is complete and nothing it depends on changed: nothing to do",
            cfg.run_date,
        )
        return
    # Rows carry the night's identity: a resumed night keeps the run id it started with.
    cfg = cfg.with_identity(night.run_id, night.started_at)
    night.begin(record["run_id"])
    logger.info(
        "run %s for night %s (rows carry %s): inbox %s, %d sources -> %s (%d workers)",
        record["run_id"],
        cfg.run_date,
        cfg.run_id,
        cfg.inbox,
        len(cfg.sources),
        cfg.data_dir,
        cfg.workers,
    )

    def stage(
        name: str,
        run: Callable[[], Any],
        outputs: list[Path],
        checks: tuple[tuple[str, list[Path]], ...] = (),
    ) -> dict[str, Any]:
        entry = night.reuse(name)
        if entry is not None:
            logger.info("%s: done by an earlier run of this night, reused", name)
            record["reused"].append(name)
            result: dict[str, Any] = entry["result"]
            validations: dict[str, Any] = entry["validations"]
        else:
            outcome = run()
            result = outcome if isinstance(outcome, dict) else outcome.to_dict()
            validations = {}
            record["stages"][name] = result
            for dataset, paths in checks:
                validations[dataset] = _validate(cfg, dataset, paths)
                record["validations"][dataset] = validations[dataset]
            night.done(name, outputs, result, validations)
        record["stages"][name] = result
        record["validations"].update(validations)
        return result

    quarantines = [layout.staged_quarantine(s) for s in QUARANTINE_STAGES]
    if cfg.sources:
        stage("fetch", lambda: fetch_task(list(cfg.sources), layout, cfg.fetch), [layout.raw])
    inbox = str(cfg.inbox) if cfg.inbox is not None else None
    ingest = stage(
        "ingest",
        lambda: ingest_task(inbox, layout, cfg.ingest, pages=bool(cfg.sources)),
        [
            layout.staged("ingested"),
            layout.staged_quarantine("ingest"),
            layout.staged_quarantine("fetch"),
            layout.staged("sources"),
        ],
        (("ingested", [layout.staged("ingested")]),),
    )
    stage(
        "extract",
        lambda: extract_task(layout, cfg.extract, cfg.workers, cfg.batch_rows),
        [layout.staged("extracted"), layout.staged_quarantine("extract")],
        (("extracted", [layout.staged("extracted")]),),
    )
    stage(
        "repair",
        lambda: repair_task(layout, cfg.repair, cfg.workers, cfg.batch_rows),
        [layout.staged("repaired"), layout.staged_quarantine("repair")],
        (("repaired", [layout.staged("repaired")]),),
    )
    stage(
        "dedup",
        lambda: dedup_task(layout, cfg.dedup),
        [layout.staged("deduped"), layout.staged_quarantine("dedup")],
        (("deduped", [layout.staged("deduped")]), ("quarantined", quarantines)),
    )
    rows_in = ingest["rows_in"] + ingest["extra"].get("failed_fetches", 0)
    published = stage(
        "publish",
        lambda: publish_task(layout, list(QUARANTINE_STAGES)),
        [
            layout.curated("articles"),
            layout.curated("duplicates"),
            layout.quarantine,
            layout.state_partition("sources"),
            layout.state_partition("revisions"),
        ],
    )
    record["published"] = dict(published)
    record["invariant"] = check_invariant(rows_in, published)
    # What the night's pages teach about each site's boilerplate, for the nights after it.
    stage(
        "site_lines",
        lambda: learn_site_lines_task(layout),
        [layout.state_partition(LINES_STATE), layout.state_partition(PAGES_STATE)],
    )
    record["status"] = "completed"
    night.finish({"published": record["published"], "invariant": record["invariant"]})


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
