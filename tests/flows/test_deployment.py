"""The deployment `nightly-ingest/nightly` end to end, as a user runs it: a real `prefect server
start` on a free loopback port, `wiredesk serve`, `prefect deployment run`, the flow run followed
through the API to Completed, and the Parquet it wrote; `wiredesk serve` stopped by SIGTERM
within STOP_WITHIN seconds with the server up or gone, idle or mid-run; and the telemetry
defaults the CLI sets. Everything started here is stopped here (serve before the server, which
the session fixture stops)."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from datetime import UTC
from pathlib import Path

import pyarrow.dataset as ds
import pytest

from flows.cli import TELEMETRY_DEFAULTS
from flows.deployments import DEFAULT_CRON, EXIT_RUN_STOPPED, FULL_NAME
from tests.prefect_server import background, client_env, running_server

ROOT = Path(__file__).resolve().parents[2]
SAMPLE_INBOX = ROOT / "data" / "inbox"
BIN = Path(sys.executable).parent
# Generous: the machine is shared; these bound waits, they assert nothing about speed.
DEPLOYMENT_WAIT = 600.0
RUN_WAIT = 1800.0
FINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}
# What the user was promised: `wiredesk serve` is gone this long after SIGTERM, whatever the
# server's state (flows.deployments.STOP_DEADLINE_SECONDS is 4 s; Prefect's own stop took 70 s
# with the server gone).
STOP_WITHIN = 5.0


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


def _serve_cmd(data: Path) -> list[str]:
    return [
        str(BIN / "wiredesk"),
        "serve",
        "--inbox",
        str(SAMPLE_INBOX),
        "--data-dir",
        str(data),
        "--workers",
        "2",
    ]


@pytest.mark.flow
def test_prefect_deployment_run_completes_and_writes_its_night(prefect_server, tmp_path):
    from prefect.exceptions import ObjectNotFound

    data = tmp_path / "data"
    env = client_env(prefect_server, tmp_path / "home")
    env["COLUMNS"] = "250"  # keep the CLI's rich output on one line per field
    log = tmp_path / "serve.log"
    client = _client(prefect_server)
    with client, background(_serve_cmd(data), env=env, log=log) as serve:

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
        # Addresses a user can click: the deployment's page, printed by serve, and the run's
        # own page, logged by the run ("View at ..."), both on the server's UI.
        ui = prefect_server.removesuffix("/api")
        text = log.read_text()
        assert f"{ui}/deployments/deployment/{dep.id}" in text
        assert f"View at {ui}/runs/flow-run/{run_id}" in text
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


def _group_alive(pgid: int) -> list[str]:
    """The processes of a process group that have not exited (zombies excluded: nobody may reap
    them in a container), as "pid command"."""
    alive = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        state, _ppid, group = text.rsplit(")", 1)[1].split()[:3]
        if int(group) == pgid and state != "Z":
            alive.append(f"{stat.parent.name} {text.split(')')[0].split('(', 1)[1]}")
    return alive


def _stop_and_time(serve: subprocess.Popen[bytes]) -> float:
    """SIGTERM to serve alone (as systemd and docker send it), seconds until it has exited."""
    started = time.monotonic()
    os.kill(serve.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):  # `background` kills it later
        serve.wait(timeout=STOP_WITHIN * 6)
    return time.monotonic() - started


@pytest.mark.flow
@pytest.mark.parametrize("mid_run", [False, True], ids=["idle", "mid-run"])
@pytest.mark.parametrize("server", ["up", "gone"])
def test_serve_stops_promptly_on_sigterm(prefect_server, tmp_path, server, mid_run):
    """Server up: the schedule is paused and a killed run shows Crashed. Server gone: nothing can
    be told to it, serve exits anyway. Mid-run: the run's processes are gone too, and the status
    is EXIT_RUN_STOPPED (the night is resumed by its next run, flows/resume.py)."""
    # Two stacks: the server's own is closed mid-test to take it away, and on a failure it is
    # closed after serve has been stopped.
    with contextlib.ExitStack() as server_stack, contextlib.ExitStack() as stack:
        if server == "gone":
            home = tmp_path / "server"
            home.mkdir()
            api_url = server_stack.enter_context(running_server(home))
        else:
            api_url = prefect_server
        env = client_env(api_url, tmp_path / "home")
        env["COLUMNS"] = "250"
        log = tmp_path / "serve.log"
        client = stack.enter_context(_client(api_url))
        serve = stack.enter_context(background(_serve_cmd(tmp_path / "data"), env=env, log=log))

        def registered():
            return "run now:" in log.read_text(errors="replace")

        _wait_for("serve to register the deployment", registered, DEPLOYMENT_WAIT, serve, log)
        dep = client.read_deployment_by_name(FULL_NAME)
        run_id = None
        if mid_run:
            run_id = client.create_flow_run_from_deployment(dep.id, parameters={"workers": 2}).id

            def in_extract():
                # Past the start: the stage's pool of worker processes is up.
                if "Task run 'extract" in log.read_text(errors="replace"):
                    return True
                state = client.read_flow_run(run_id).state
                if state is not None and state.type.value in FINAL:
                    raise AssertionError(f"the run ended first: {state} {log.read_text()[-3000:]}")
                return False

            _wait_for("the run to reach extract", in_extract, RUN_WAIT, serve, log)
        if server == "gone":
            server_stack.close()
        seconds = _stop_and_time(serve)
        text = log.read_text(errors="replace")
        assert serve.returncode is not None, f"still running {seconds:.1f} s after SIGTERM"
        assert seconds < STOP_WITHIN, (seconds, text[-3000:])
        assert serve.returncode == (EXIT_RUN_STOPPED if mid_run else 0), text[-3000:]
        print(f"serve stopped in {seconds:.2f} s (server {server}, mid_run={mid_run})")

        deadline = time.monotonic() + 5.0  # stage workers exit within a second of their run
        while _group_alive(serve.pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not _group_alive(serve.pid), (_group_alive(serve.pid), text[-3000:])

        if server == "up":
            assert client.read_deployment_by_name(FULL_NAME).paused
            if run_id is not None:
                state = client.read_flow_run(run_id).state
                assert state is not None and state.type.value == "CRASHED", state
        else:
            assert "the schedule is not paused, the API did not answer" in text


# Runs in a fresh interpreter, as `wiredesk` does: the defaults must be in place before Prefect is
# imported (its SDK analytics read DO_NOT_TRACK at import).
TELEMETRY_PROBE = """
import json, os, sys
from flows import cli
cli.build_parser()
imported_early = "prefect" in sys.modules
cli._prefect_defaults()
from prefect.settings import get_current_settings
settings = get_current_settings()
print(json.dumps({
    "imported_early": imported_early,
    "server_analytics": settings.server.analytics_enabled,
    "cloud_telemetry": settings.cloud.enable_orchestration_telemetry,
    "do_not_track": os.environ.get("DO_NOT_TRACK"),
}))
"""


def _telemetry_probe(tmp_path: Path, **env: str) -> dict:
    base = {k: v for k, v in os.environ.items() if k not in TELEMETRY_DEFAULTS}
    base["PREFECT_HOME"] = str(tmp_path / "home")
    done = subprocess.run(
        [sys.executable, "-c", TELEMETRY_PROBE],
        cwd=ROOT,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_cli_turns_prefect_telemetry_off_before_prefect_loads(tmp_path):
    probe = _telemetry_probe(tmp_path)
    assert probe == {
        "imported_early": False,
        "server_analytics": False,
        "cloud_telemetry": False,
        "do_not_track": "1",
    }


def test_cli_keeps_telemetry_settings_the_user_chose(tmp_path):
    probe = _telemetry_probe(
        tmp_path,
        PREFECT_SERVER_ANALYTICS_ENABLED="true",
        PREFECT_CLOUD_ENABLE_ORCHESTRATION_TELEMETRY="true",
        DO_NOT_TRACK="0",
    )
    assert (probe["server_analytics"], probe["cloud_telemetry"]) == (True, True)
    assert probe["do_not_track"] == "0"
