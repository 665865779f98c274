"""Prefect task of the publish stage: wiring only, the logic is in `tasks/publish/tables.py`."""

from __future__ import annotations

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from tasks import io
from tasks.publish.tables import publish_night


# NO_CACHE: publishing is a side effect on the curated tables; it must run every time.
@task(name="publish", cache_policy=NO_CACHE)
def publish_task(layout: io.Layout, stages: list[str]) -> dict[str, int]:
    return publish_night(layout, stages, log=get_run_logger().info)
