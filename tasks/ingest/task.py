"""Prefect task of the ingest stage: wiring only, the logic is in `tasks/ingest/documents.py`."""

from __future__ import annotations

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from tasks import io
from tasks.ingest.documents import IngestConfig, ingest_night
from tasks.runner import StageResult


# NO_CACHE: the inbox changes between nights while the arguments do not; caching on arguments
# would return last night's result. Re-running is cheap and deterministic.
@task(name="ingest", cache_policy=NO_CACHE)
def ingest_task(
    inbox: str | None, layout: io.Layout, cfg: IngestConfig, pages: bool = False
) -> StageResult:
    return ingest_night(inbox, layout, cfg, pages, log=get_run_logger().info)
