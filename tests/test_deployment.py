"""The deployment `nightly-ingest/nightly` end to end, as a user runs it: a real `prefect server
start` on a free loopback port, `wiredesk serve`, `prefect deployment run`, the flow run followed
through the API to Completed, and the Parquet it wrote. Everything started here is stopped here
(serve before the server, which the session fixture stops)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from datetime import UTC
from pathlib import Path

import pyarrow.dataset as ds
import pytest

from flows.deployments import DEFAULT_CRON, FULL_NAME
from tests.prefect_server import background, client_env

pytestmark = [pytest.mark.flow]

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_INBOX = ROOT / "data" / "inbox"
BIN = Path(sys.executable).parent
# Generous: the machine is shared; these bound waits, they assert nothing about speed.
DEPLOYMENT_WAIT = 600.0
RUN_WAIT = 1800.0
FINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}


def _client(api_url: str):
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings({PREFECT_API_URL: api_url}):
        return get_client(sync_client=True)


def _wait_for(what: str, probe, timeout: float, serve=None, log: Path | None = None):
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if serve is not None and serve.poll() is not None:
            tail = log.read_text(errors="replace")[-3000:] if log else ""
            raise AssertionError(f"wiredesk serve exited with {serve.returncode}: {tail}")
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what} after {timeout:g} s")
        time.sleep(2.0)


def test_prefect_deployment_run_completes_and_writes_its_night(prefect_server, tmp_path):
    from prefect.exceptions import ObjectNotFound

    data = tmp_path / "data"
    env = client_env(prefect_server, tmp_path / "home")
    env["COLUMNS"] = "250"  # keep the CLI's rich output on one line per field
    log = tmp_path / "serve.log"
    serve_cmd = [
        str(BIN / "wiredesk"),
        "serve",
        "--inbox",
        str(SAMPLE_INBOX),
        "--data-dir",
        str(data),
        "--workers",
        "2",
    ]
    client = _client(prefect_server)
    with client, background(serve_cmd, env=env, log=log) as serve:

        def deployment():
            try:
                return client.read_deployment_by_name(FULL_NAME)
            except ObjectNotFound:
                return None

        dep = _wait_for("the deployment", deployment, DEPLOYMENT_WAIT, serve, log)
        assert dep.parameters["data_dir"] == str(data)
        assert dep.parameters["inbox"] == str(SAMPLE_INBOX)
        schema_props = dep.parameter_openapi_schema["properties"]
        assert {"inbox", "sources", "data_dir", "run_date"} <= set(schema_props)
        (schedule,) = dep.schedules
        assert schedule.schedule.cron == DEFAULT_CRON and schedule.schedule.timezone == "UTC"

        # No run_date: the run fills the night it was scheduled for (here: now, UTC).
        started = subprocess.run(
            [str(BIN / "prefect"), "deployment", "run", FULL_NAME, "--param", "workers=2"],
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert started.returncode == 0, started.stdout + started.stderr
        match = re.search(r"UUID: ([0-9a-f-]{36})", started.stdout)
        assert match, started.stdout
        run_id = match.group(1)

        def finished():
            run = client.read_flow_run(run_id)
            return run if run.state is not None and run.state.type.value in FINAL else None

        run = _wait_for("the flow run to finish", finished, RUN_WAIT, serve, log)
        assert run.state.type.value == "COMPLETED", (run.state, log.read_text()[-3000:])
        night = run.expected_start_time.astimezone(UTC).date().isoformat()

        # The cron schedule made the next nights' runs on the server, at 02:00 UTC.
        from prefect.client.schemas.filters import (
            DeploymentFilter,
            DeploymentFilterId,
            FlowRunFilter,
            FlowRunFilterState,
            FlowRunFilterStateType,
        )
        from prefect.client.schemas.objects import StateType

        def scheduled():
            return client.read_flow_runs(
                deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[dep.id])),
                flow_run_filter=FlowRunFilter(
                    state=FlowRunFilterState(
                        type=FlowRunFilterStateType(any_=[StateType.SCHEDULED])
                    )
                ),
            )

        upcoming = _wait_for("scheduled runs", scheduled, DEPLOYMENT_WAIT, serve, log)
        times = {r.expected_start_time.astimezone(UTC) for r in upcoming}
        assert {(t.hour, t.minute) for t in times} == {(2, 0)}

    assert serve.poll() is not None  # stopped before the server

    articles = ds.dataset(data / "curated" / "articles", partitioning="hive").to_table()
    assert articles.num_rows == 5  # the French translation is linked to its original
    assert {str(d) for d in articles.column("run_date").to_pylist()} == {night}
    records = [json.loads(p.read_text()) for p in (data / "runs").glob("*.json")]
    assert [r["status"] for r in records] == ["completed"]
    assert records[0]["invariant"]["holds"]
