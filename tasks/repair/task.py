"""Prefect tasks of the repair stage: wiring only, the logic is in `tasks/repair/text.py`."""

from __future__ import annotations

from typing import Any

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from tasks import io
from tasks.artifacts import progress_artifact
from tasks.repair.text import STAGE, RepairConfig, commit_vocabulary, repair_night
from tasks.runner import StageResult


# NO_CACHE: output depends on the staged input files, not on these arguments.
@task(name="repair", cache_policy=NO_CACHE)
def repair_task(layout: io.Layout, cfg: RepairConfig, workers: int, batch_rows: int) -> StageResult:
    logger = get_run_logger()
    return repair_night(
        layout, cfg, workers, batch_rows, log=logger.info, share=progress_artifact(STAGE)
    )


# NO_CACHE: a side effect on the state folder; it must run every time it is asked to.
@task(name="commit-vocabulary", cache_policy=NO_CACHE)
def commit_vocabulary_task(layout: io.Layout) -> dict[str, Any]:
    words = commit_vocabulary(layout)
    get_run_logger().info("vocabulary of night %s committed: %d words", layout.run_date, words)
    return {"words": words}
