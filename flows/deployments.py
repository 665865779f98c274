"""Deployment definitions: `nightly-ingest/nightly`, the nightly re-ingest, served by
`wiredesk serve` (a long-running process that polls the Prefect API for runs of it, whether the
cron schedule made them or `prefect deployment run 'nightly-ingest/nightly'` did).

Parameters are named as the `wiredesk run` options (`inbox`, `sources`, `data_dir`, `run_date`,
...); the values given to `wiredesk serve` become the deployment's defaults, and each
`prefect deployment run --param` overrides them for one run. Paths are made absolute when the
deployment is defined, because a served run's working directory is the serve process's, which
the person typing `prefect deployment run` may not know.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect.schedules import Cron

from flows.nightly import nightly_ingest

DEPLOYMENT_NAME = "nightly"
FULL_NAME = f"{nightly_ingest.name}/{DEPLOYMENT_NAME}"
# 02:00 UTC: after the evening's stories are up on every time zone from the Americas to Europe,
# and before people in Europe read the morning's tables.
DEFAULT_CRON = "0 2 * * *"
DEFAULT_TIMEZONE = "UTC"


def deployment_parameters(
    *,
    inbox: str | None,
    data_dir: str,
    sources: list[str] | None = None,
    workers: int | None = None,
    expectations_dir: str | None = None,
    lock_wait: float = 0.0,
) -> dict[str, Any]:
    """The deployment's default parameters; `run_date` is left out: each run takes the night it
    was scheduled for (see `flows.nightly._default_night`)."""
    params: dict[str, Any] = {
        "inbox": str(Path(inbox).resolve()) if inbox else None,
        "data_dir": str(Path(data_dir).resolve()),
        "sources": list(sources or []),
        "lock_wait": lock_wait,
    }
    if workers:
        params["workers"] = workers
    if expectations_dir:
        params["expectations_dir"] = str(Path(expectations_dir).resolve())
    return params


def nightly_deployment(
    *,
    parameters: dict[str, Any],
    cron: str = DEFAULT_CRON,
    timezone: str = DEFAULT_TIMEZONE,
) -> Any:
    """The `nightly-ingest/nightly` deployment (a prefect RunnerDeployment)."""
    return nightly_ingest.to_deployment(
        name=DEPLOYMENT_NAME,
        schedules=[Cron(cron, timezone=timezone)],
        parameters=parameters,
        description="wiredesk nightly re-ingest: new or changed documents -> curated Parquet",
        tags=["wiredesk"],
    )


def serve(deployment: Any) -> None:
    """Serve until interrupted. One run at a time: a second run waits for the first (the
    data-dir lock would refuse it anyway)."""
    from prefect import serve as prefect_serve

    prefect_serve(deployment, limit=1)
