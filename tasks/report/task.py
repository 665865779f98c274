"""Prefect task of the report family: wiring only, the logic is in `tasks/report/records.py`."""

from __future__ import annotations

from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE

from tasks import io
from tasks.report.records import profile


# NO_CACHE: reads the tables this run just published.
@task(name="profile", cache_policy=NO_CACHE)
def profile_task(layout: io.Layout) -> dict[str, Any]:
    return profile(
        io.read_table(layout.curated("articles"), columns=["text_length", "lang", "cluster_id"]),
        io.read_table(layout.curated("duplicates"), columns=["cluster_id"]),
        io.read_table(layout.quarantine, columns=["stage", "reason"]),
    )
