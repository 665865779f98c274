"""The `nightly-ingest` flow: wiring only, every stage's logic lives in `tasks/`.

fetch (web sources, if any) -> ingest -> validate(ingested) -> extract -> validate(extracted)
-> repair -> validate(repaired) -> dedup -> validate(deduped) -> validate(quarantined)
-> publish -> invariant check -> site lines -> profile.

A run holds the data dir's lock from start to end, so two runs never write one data dir at once
(the second fails with a message naming the first, or waits `lock_wait` seconds). A night is
resumable (flows/resume.py): each stage whose recorded output is still valid is reused, so a run
killed part-way is completed by the next run of the same night, and a night that is complete
and whose inputs did not change is left untouched. A failed `critical` expectation stops the
night before publish, so the curated tables stay as they were; rows a row-level check caught are
removed from the staged dataset before the next stage reads it, and published with the night's
quarantine. Whatever happens, the run record `runs/<run_id>.json` is written with the counts and
validation results gathered so far, the Data Docs under `docs/` are rendered again over every
run (`tasks/validate/datadocs.py`), and Prefect artifacts show the night
(`tasks/report/records.py`).
"""

from __future__ import annotations

import os
import traceback
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.transactions import transaction

from flows import cache, preflight, resume
from flows.config import RunConfig
from flows.names import FLOW_NAME
from tasks import io, revisions
from tasks.dedup.night import staged_state
from tasks.dedup.task import commit_state_task, dedup_task
from tasks.extract.sitelines import LINES_STATE, PAGES_STATE
from tasks.extract.task import extract_task, learn_site_lines_task
from tasks.fetch.task import fetch_task
from tasks.ingest.task import ingest_task
from tasks.publish.task import publish_task
from tasks.repair.task import commit_vocabulary_task, repair_task
from tasks.repair.text import VOCABULARY_STATE
from tasks.report import records as reports
from tasks.report.task import profile_task
from tasks.schema import DEDUP_STATE
from tasks.validate.suites import ValidationReport, gate, quarantine_stage
from tasks.validate.task import docs_task, validate_task

STAGES = ("ingest", "extract", "repair", "dedup")
# Where the night's rejects are gathered from, in pipeline order: each stage's own, then what
# the checks of its dataset set aside (never any from `deduped`, see tasks/validate/suites.py).
QUARANTINE_SOURCES = (
    "fetch",
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


def check_invariant(
    rows_in: int, published: dict[str, int], counted: dict[str, int] | None = None
) -> dict[str, Any]:
    """`rows_in` is the night's input as counted while it was read (`counted`: io's walk of the
    inbox, its records per container, the fetched pages; plus failed fetches), never as any
    stage's output, so that a document lost anywhere, ingest included, shows here."""
    unchanged = published.get("unchanged", 0)
    total = published["articles"] + published["duplicates"] + published["quarantined"] + unchanged
    outcome: dict[str, Any] = {"input": rows_in, **published, "holds": total == rows_in}
    if counted is not None:
        outcome["counted"] = counted
    if total != rows_in:
        raise InvariantError(
            f"{rows_in} input documents but {published['articles']} articles + "
            f"{published['duplicates']} duplicates + {published['quarantined']} quarantined "
            f"+ {unchanged} unchanged = {total}"
        )
    return outcome


def _validate(
    cfg: RunConfig, layout: io.Layout, dataset: str, paths: list[Path], rows_in: int
) -> ValidationReport:
    return validate_task(
        dataset,
        [str(p) for p in paths],
        str(cfg.expectations_dir / f"{dataset}.json"),
        layout,
        cfg.validate,
        rows_in,
    )


def stage_inputs(
    cfg: RunConfig, layout: io.Layout, inbox_digests: dict[str, list[Any]] | None = None
) -> dict[str, Any]:
    """Per stage, in order, what besides the stage before it determines its output.

    The inbox counts by content (`io.digest_tree`): touching its files redoes nothing. Give
    `inbox_digests` (a dict, filled here) to reuse and keep the digests of files whose size and
    mtime did not change since they were last read."""
    code = resume.code_version()
    suites = io.fingerprint_files([cfg.expectations_dir], cfg.expectations_dir)
    history = io.fingerprint_files(revisions.history_paths(layout), cfg.data_dir)
    inputs: dict[str, Any] = {}
    if cfg.sources:
        # No code version: what the web answered that night is a fact, whatever code reads it.
        inputs["fetch"] = [list(cfg.sources)]
    inbox = None
    if cfg.inbox is not None:
        known = dict(inbox_digests or {})
        inbox, digests = io.digest_tree(cfg.inbox, known)
        if inbox_digests is not None:
            inbox_digests.clear()
            inbox_digests.update(digests)
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
    # Dedup matches against every earlier night's committed state: its partitions are written
    # whole and renamed into place, so their names, sizes and times say whether they changed
    # (hashing a history of millions of documents every night would cost more than the stage).
    dedup_history = io.stat_files(
        [
            path
            for name in DEDUP_STATE
            for _, path in io.partitions_before(layout.dedup_state(name), layout.run_date)
        ],
        cfg.data_dir,
    )
    inputs["dedup"] = [code, suites, resume.settings(cfg.dedup), dedup_history]
    inputs["publish"] = [code, history]
    inputs["dedup_state"] = [code]
    inputs["vocabulary_state"] = [code]
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


@flow(name=FLOW_NAME, validate_parameters=True)
def nightly_ingest(
    inbox: str | None = "data/inbox",
    data_dir: str = "data",
    run_date: date | None = None,
    sources: list[str] | None = None,
    workers: int | None = None,
    expectations_dir: str | None = None,
    lock_wait: float = 0.0,
    expected_languages: list[str] | None = None,
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
        expected_languages=expected_languages,
    )
    # A deployment's parameters never went through the CLI: the same checks, before any work.
    preflight.check_inbox(cfg.inbox)
    preflight.check_data_dir(cfg.data_dir)
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
            # Before any work: a disk that fills during the night still leaves a record.
            io.reserve_record(layout.run_record(cfg.run_id), record)
            _run_night(cfg, layout, record, logger)
    except BaseException as exc:
        record["status"] = "failed"
        record["error"] = f"{type(exc).__name__}: {exc}"
        record["traceback"] = traceback.format_exc(limit=8)
        raise
    finally:
        record["finished_at"] = datetime.now(UTC).isoformat()
        # Written before the docs too: they list every run from the records on disk.
        io.write_record(layout.run_record(cfg.run_id), record)
        record["docs"] = _docs(cfg, layout, record)
        io.write_record(layout.run_record(cfg.run_id), record)
        _artifacts(record)
    return record


def _run_night(cfg: RunConfig, layout: io.Layout, record: dict[str, Any], logger: Any) -> None:
    cleared = io.clear_scratch(cfg.data_dir)
    if cleared:
        logger.info("removed %d half-written parts left by a killed run", cleared)
    # Before anything reads it: the state of earlier nights is what their records say it is.
    resume.verify_history(layout, str(cfg.data_dir))
    digests = resume.inbox_digests(layout)
    night = resume.Night.open(
        layout, stage_inputs(cfg, layout, digests), run_id=cfg.run_id, started_at=cfg.started_at
    )
    night.keep_inbox_digests(digests)
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
    record["night_started_at"] = night.started_at.isoformat()
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

    cache_dir = layout.state / cache.CACHE_DIR
    storage = cache.result_storage(cache_dir)  # one block for the night's stages

    def stage(
        name: str,
        call: tuple[Any, tuple[Any, ...], dict[str, Any]],
        outputs: list[Path],
        checks: tuple[tuple[str, list[Path]], ...] = (),
    ) -> dict[str, Any]:
        """Run the stage's task `call` = (task, args, kwargs) through Prefect's cache under
        the key the night's record gives it (flows/cache.py), then its checks."""
        entry = night.reuse(name)
        task, args, kwargs = call
        outcome, cached = cache.run_stage_task(
            task,
            args,
            kwargs,
            key=night.key(name),
            reuse=entry is not None,
            cache_dir=cache_dir,
            storage=storage,
        )
        if entry is not None and cached:
            logger.info("%s: done by an earlier run of this night, reused (cached)", name)
            record["reused"].append(name)
            result: dict[str, Any] = entry["result"]
            validations: dict[str, Any] = entry["validations"]
        else:
            result = outcome if isinstance(outcome, dict) else outcome.to_dict()
            validations = {}
            record["stages"][name] = result
            for dataset, paths in checks:
                # Row checks compare with what entered the stage; the quarantine table with
                # itself.
                rows_in = (
                    sum(io.dataset_rows(p) for p in paths)
                    if dataset == "quarantined"
                    else result["rows_in"]
                )
                report = _validate(cfg, layout, dataset, paths, rows_in)
                validations[dataset] = record["validations"][dataset] = report.to_dict()
                gate(report)  # after recording: the run record shows what failed
            night.done(name, outputs, result, validations)
        record["stages"][name] = result
        record["validations"].update(validations)
        return result

    quarantines = [layout.staged_quarantine(s) for s in QUARANTINE_SOURCES]
    if cfg.sources:
        stage("fetch", (fetch_task, (list(cfg.sources), layout, cfg.fetch), {}), [layout.raw])
    inbox = str(cfg.inbox) if cfg.inbox is not None else None
    ingest = stage(
        "ingest",
        (ingest_task, (inbox, layout, cfg.ingest), {"pages": bool(cfg.sources)}),
        [
            layout.staged("ingested"),
            layout.staged_quarantine("ingest"),
            layout.staged_quarantine("fetch"),
            layout.staged("sources"),
            layout.staged_quarantine(quarantine_stage("ingested")),
        ],
        (("ingested", [layout.staged("ingested")]),),
    )
    stage(
        "extract",
        (extract_task, (layout, cfg.extract, cfg.workers, cfg.batch_rows), {}),
        [
            layout.staged("extracted"),
            layout.staged_quarantine("extract"),
            layout.staged_quarantine(quarantine_stage("extracted")),
        ],
        (("extracted", [layout.staged("extracted")]),),
    )
    stage(
        "repair",
        (repair_task, (layout, cfg.repair, cfg.workers, cfg.batch_rows), {}),
        [
            layout.staged("repaired"),
            layout.staged_quarantine("repair"),
            layout.staged_quarantine(quarantine_stage("repaired")),
            layout.staged(VOCABULARY_STATE),
        ],
        (("repaired", [layout.staged("repaired")]),),
    )
    stage(
        "dedup",
        (dedup_task, (layout, cfg.dedup), {}),
        [
            layout.staged("deduped"),
            layout.staged_quarantine("dedup"),
            *(layout.staged(staged_state(name)) for name in DEDUP_STATE),
        ],
        (("deduped", [layout.staged("deduped")]), ("quarantined", quarantines)),
    )
    # The input as io counted it while reading (tasks/io.py `InputCount`); a night record from
    # before that count existed has only the stage's own `rows_in`.
    counted = ingest["extra"].get("input")
    rows_in = (counted["documents"] if counted else ingest["rows_in"]) + ingest["extra"].get(
        "failed_fetches", 0
    )
    # Publish and the state commits are one unit in Prefect's cache: their cached results are
    # written when all of them completed (a transaction), so a night that failed between them
    # serves none of them from the cache; the files they wrote are replaced whole by the rerun.
    with transaction():
        published = stage(
            "publish",
            (publish_task, (layout, list(QUARANTINE_SOURCES)), {}),
            [
                layout.curated("articles"),
                layout.curated("duplicates"),
                layout.quarantine,
                layout.state_partition("sources"),
                layout.state_partition("revisions"),
            ],
        )
        record["published"] = dict(published)
        record["invariant"] = check_invariant(rows_in, published, counted)
        # Only a published night's documents may be matched by later nights.
        stage(
            "dedup_state",
            (commit_state_task, (layout,), {}),
            [layout.dedup_state(name, layout.run_date) for name in DEDUP_STATE],
        )
        stage(
            "vocabulary_state",
            (commit_vocabulary_task, (layout,), {}),
            [layout.state_partition(VOCABULARY_STATE)],
        )
        # What the night's pages teach about each site's boilerplate, for the nights after it.
        stage(
            "site_lines",
            (learn_site_lines_task, (layout,), {}),
            [layout.state_partition(LINES_STATE), layout.state_partition(PAGES_STATE)],
        )
    record["status"] = "completed"
    night.finish({"published": record["published"], "invariant": record["invariant"]})
    record["profile"] = _profile(layout)


def _profile(layout: io.Layout) -> dict[str, Any] | None:
    try:
        return profile_task(layout)
    except Exception as exc:  # the profile is a report, never a reason to fail the night
        get_run_logger().warning("could not profile the published night: %s", exc)
        return None


def _docs(cfg: RunConfig, layout: io.Layout, record: dict[str, Any]) -> str | None:
    if record["status"] == "skipped":
        # Nothing ran, so nothing new to show, and a skipped night changes no file.
        return None
    # Rendered even when no dataset had rows: the index lists every run, this one too.
    datasets = [d for d, v in record["validations"].items() if v.get("status") != "empty"]
    if record.get("night_run_id") and record.get("night_started_at"):
        # The results were stored under the night's identity (kept across resumed runs).
        started = datetime.fromisoformat(record["night_started_at"])
        cfg = cfg.with_identity(record["night_run_id"], started)
    try:
        return docs_task(layout, cfg.validate, datasets, str(cfg.expectations_dir))
    except Exception as exc:  # Data Docs are a report, never a reason to fail the night
        get_run_logger().warning("could not build the Data Docs: %s", exc)
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
