"""Prefect task of the fetch stage: wiring only, the logic is in the pure modules beside it
(`crawl.py` runs the night)."""

from __future__ import annotations

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.tasks import exponential_backoff

from tasks import io
from tasks.fetch.config import FetchConfig
from tasks.fetch.crawl import FetchResult, fetch_night


# The only task with retries: a night whose whole fetch failed (say the disk filled up) is worth
# another go; single URLs are already retried inside `Fetcher`, and a URL that fails is a row,
# never an error. NO_CACHE: the web changes while the arguments do not.
@task(
    name="fetch",
    cache_policy=NO_CACHE,
    retries=2,
    retry_delay_seconds=exponential_backoff(backoff_factor=30),
)
def fetch_task(sources: list[str], layout: io.Layout, cfg: FetchConfig) -> FetchResult:
    return fetch_night(sources, layout, cfg, log=get_run_logger().info)
