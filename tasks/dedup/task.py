"""Prefect tasks of the dedup stage: wiring only, the logic is in `tasks/dedup/night.py`."""

from __future__ import annotations

from typing import Any

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from tasks import io
from tasks.dedup.night import DedupConfig, commit_state, run_dedup
from tasks.runner import StageResult


# NO_CACHE: output depends on the staged input files and the state, not on these arguments.
@task(name="dedup", cache_policy=NO_CACHE)
def dedup_task(layout: io.Layout, cfg: DedupConfig) -> StageResult:
    return run_dedup(layout, cfg, get_run_logger().info)


# NO_CACHE: a side effect on the state folder; it must run every time it is asked to.
@task(name="commit-dedup-state", cache_policy=NO_CACHE)
def commit_state_task(layout: io.Layout) -> dict[str, Any]:
    rows = commit_state(layout)
    get_run_logger().info("dedup state of night %s committed: %s", layout.run_date, rows)
    return {"rows": rows}
