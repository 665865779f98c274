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

import asyncio
import contextlib
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any, cast
from uuid import UUID

from prefect.runner import Runner
from prefect.schedules import Cron

from flows.names import DEFAULT_CRON, DEFAULT_TIMEZONE, DEPLOYMENT_NAME, FULL_NAME
from flows.nightly import nightly_ingest

__all__ = ["DEFAULT_CRON", "DEFAULT_TIMEZONE", "DEPLOYMENT_NAME", "FULL_NAME"]


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


# `wiredesk serve` stops within this long of SIGTERM or Ctrl-C whatever the API's state: inside
# docker's 10 s before SIGKILL. Prefect's own shutdown retries its API calls (pausing the
# schedule) for about 70 s when the server is gone. Measured here (tests/flows/test_deployment.py):
# idle 0.6-1.2 s with the server up, 1.1-1.7 s with it gone; with a run in progress 1.3-2.8 s.
STOP_DEADLINE_SECONDS = 4.0
# A flow run in progress gets this long to exit on SIGTERM before SIGKILL; the night does not
# need it (a killed night is resumed by the next run), it lets the run's own process tell the
# API it crashed while it can.
RUN_GRACE_SECONDS = 1.0
# Pausing the schedule on the way out: an API that has not answered in this long is taken
# for gone.
API_CALL_SECONDS = 1.0
# Exit status when a run in progress was stopped: the shell's for "killed by SIGTERM".
EXIT_RUN_STOPPED = 128 + signal.SIGTERM


class _ServeRunner(Runner):
    """Prefect's Runner with a prompt stop: on SIGTERM or SIGINT it stops polling, kills a run
    in progress, pauses the schedule if the API answers within API_CALL_SECONDS, and exits;
    whatever is not done by STOP_DEADLINE_SECONDS is abandoned (os._exit)."""

    exit_code = 0
    _loop: asyncio.AbstractEventLoop | None = None
    _stop_task: asyncio.Task[None] | None = None
    _stopping = False
    deployment_id: UUID | None = None

    async def start(self, run_once: bool = False, webserver: bool | None = None) -> None:
        self._loop = asyncio.get_running_loop()
        await super().start(run_once=run_once, webserver=webserver)

    def handle_sigterm(self, signum: int = signal.SIGTERM, *_: Any) -> None:
        # Replaces Prefect's handler (installed by `start`), which pauses the schedule inline
        # with the client's retries and then exits 0 even with a run in progress.
        if self._stopping:
            return
        self._stopping = True
        name = signal.Signals(signum).name
        print(f"wiredesk serve: {name} received, stopping", file=sys.stderr, flush=True)
        threading.Thread(target=self._deadline, name="wiredesk-stop-deadline", daemon=True).start()
        if self._loop is None:  # before `start`: nothing runs yet
            os._exit(self.exit_code)
        self._loop.call_soon_threadsafe(self._begin_stop)

    def _begin_stop(self) -> None:
        self._stop_task = asyncio.ensure_future(self._stop())

    def _runs_in_progress(self) -> list[Any]:
        """The processes of the flow runs this runner started that are still alive (Prefect 3.8
        keeps them in `Runner._process_manager`; `tests/flows/test_deployment.py` fails if that
        changes)."""
        manager = self._process_manager
        handles = (manager.get(flow_run_id) for flow_run_id in manager.flow_run_ids())
        return [h for h in handles if h is not None and h.pid is not None and h.is_alive()]

    async def _stop(self) -> None:
        self.stopping = True  # the poller submits no new run from now on
        runs = self._runs_in_progress()
        if runs:
            self.exit_code = EXIT_RUN_STOPPED
            print(
                "wiredesk serve: stopping the flow run in progress (pid "
                f"{', '.join(str(h.pid) for h in runs)}); the next run of its night resumes it",
                file=sys.stderr,
                flush=True,
            )
            await _kill(runs, RUN_GRACE_SECONDS)
        if self.deployment_id is not None:
            try:
                async with asyncio.timeout(API_CALL_SECONDS):
                    await self._client.pause_deployment(self.deployment_id)
            except Exception as exc:  # the API may be gone: stopping matters more
                print(
                    f"wiredesk serve: the schedule is not paused, the API did not answer "
                    f"({type(exc).__name__}); the next `wiredesk serve` takes it over as it is",
                    file=sys.stderr,
                    flush=True,
                )
                # Prefect's teardown would retry its own calls (a killed run's Crashed state)
                # for a minute: with no API there is nothing left to tell it.
                os._exit(self.exit_code)
        # With the API up, the runner's teardown marks a killed run Crashed and returns.
        self._loops_task_group.cancel_scope.cancel()

    def _deadline(self) -> None:
        time.sleep(STOP_DEADLINE_SECONDS)
        runs = self._runs_in_progress()
        if runs:
            self.exit_code = EXIT_RUN_STOPPED
        for handle in runs:
            with contextlib.suppress(OSError):
                handle.hard_kill()
        print(
            f"wiredesk serve: not stopped cleanly within {STOP_DEADLINE_SECONDS:g} s "
            "(the Prefect API does not answer); exiting",
            file=sys.stderr,
            flush=True,
        )
        os._exit(self.exit_code)


async def _kill(runs: list[Any], grace: float) -> None:
    """SIGTERM, up to `grace` seconds to exit, then SIGKILL. A run's stage workers exit on their
    own within a second of it (tasks/workers.py)."""
    for handle in runs:
        with contextlib.suppress(OSError):
            handle.graceful_kill()
    deadline = time.monotonic() + grace
    while any(h.is_alive() for h in runs) and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    for handle in runs:
        if handle.is_alive():
            with contextlib.suppress(OSError):
                handle.hard_kill()


def serve(deployment: Any) -> int:
    """Serve until SIGTERM or Ctrl-C, one run at a time (a second run waits for the first; the
    data-dir lock would refuse it anyway). Returns the exit status.

    Stopping takes at most STOP_DEADLINE_SECONDS, whether the Prefect server is up, gone or
    slow. When no run is in progress the schedule is paused (if the API answers; the next
    `wiredesk serve` resumes it) and the status is 0. A run in progress is killed (SIGTERM,
    then SIGKILL after RUN_GRACE_SECONDS) and the status is EXIT_RUN_STOPPED (143): the API
    shows that run Crashed if it answered in time, else it stays Running there (Prefect has no
    process left to report it). Its night is not lost: everything a killed run wrote is either
    complete and recorded or left in `.tmp/`, and the next run of that night, scheduled or
    `prefect deployment run --param run_date=D`, resumes it from the first unfinished stage
    (flows/resume.py); the data-dir lock died with the run.
    """
    from prefect.settings import get_current_settings

    runner = _ServeRunner(limit=1, pause_on_shutdown=False)
    # Called outside an event loop, Prefect's dispatch runs it synchronously.
    runner.deployment_id = cast(UUID, runner.add_deployment(deployment))
    # Before anything is printed: a SIGTERM that comes as soon as serve says it is up must be
    # handled, not left to the default action (Prefect's `start` installs the same handler).
    signal.signal(signal.SIGTERM, runner.handle_sigterm)
    settings = get_current_settings()
    # PREFECT_UI_URL, else derived by Prefect from PREFECT_API_URL (without its `/api`): the
    # base of the "View at .../runs/flow-run/<id>" line each run logs.
    ui = settings.ui_url
    print(f"wiredesk serve: serving {FULL_NAME} from {settings.api.url or 'no PREFECT_API_URL'}")
    if ui:
        print(f"  deployment: {ui}/deployments/deployment/{runner.deployment_id}")
        print(f"  its runs:   {ui}/runs/flow-run/<flow-run-id> (each run logs its own link)")
    print(f"  run now:    prefect deployment run '{FULL_NAME}'", flush=True)
    # A job started with `&` by a script without job control inherits SIGINT ignored (bash's
    # rule, so that Ctrl-C in the script's terminal leaves it alone): kept so.
    if signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:
        signal.signal(signal.SIGINT, runner.handle_sigterm)
    asyncio.run(runner.start())
    return runner.exit_code
