"""Start and stop real Prefect processes for the flow tests: `prefect server start` (SQLite in a
temporary PREFECT_HOME) on a free 127.0.0.1 port, and long-running commands such as
`wiredesk serve`. Each runs in its own process group, so stopping it stops its children too."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

BIN = Path(sys.executable).parent
# The machine is shared and loaded: the server has taken over a minute to come up here.
START_TIMEOUT = 600.0
STOP_TIMEOUT = 60.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _healthy(api_url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{api_url}/health", timeout=10) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the process group, then SIGKILL if it has not gone after STOP_TIMEOUT."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=STOP_TIMEOUT)
    except ProcessLookupError:
        pass


@contextmanager
def background(
    args: list[str], *, env: dict[str, str], log: Path
) -> Iterator[subprocess.Popen[bytes]]:
    """Run `args` in its own process group for the length of the block, output to `log`."""
    with log.open("wb") as out:
        process = subprocess.Popen(
            args, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            yield process
        finally:
            stop(process)


@contextmanager
def running_server(home: Path, *, ui: bool = False) -> Iterator[str]:
    """A Prefect server on a free loopback port; yields its API URL. With `ui`, it serves the UI
    too, at the API URL without `/api`; PREFECT_UI_API_URL tells the UI's pages where the API
    is, because `--port` alone does not (they would ask port 4200: "Can't connect to Server
    API")."""
    port = free_port()
    api_url = f"http://127.0.0.1:{port}/api"
    env = {
        **os.environ,
        "PREFECT_HOME": str(home),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_UI_ENABLED": "true" if ui else "false",
        "PREFECT_UI_API_URL": api_url,
        # The scheduler makes the cron deployment's runs; every 5 s instead of every 60 s so
        # that the test sees them soon.
        "PREFECT_SERVER_SERVICES_SCHEDULER_LOOP_SECONDS": "5",
    }
    env.pop("PREFECT_API_URL", None)
    args = [str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)]
    with background(args, env=env, log=home / "server.log") as server:
        deadline = time.monotonic() + START_TIMEOUT
        while not _healthy(api_url):
            if server.poll() is not None:
                raise RuntimeError(
                    f"prefect server exited with {server.returncode}: "
                    + (home / "server.log").read_text(errors="replace")[-2000:]
                )
            if time.monotonic() > deadline:
                raise RuntimeError(f"prefect server not healthy after {START_TIMEOUT:g} s")
            time.sleep(1.0)
        yield api_url


def client_env(api_url: str, home: Path) -> dict[str, str]:
    """Environment for a process that talks to the test server (its own PREFECT_HOME)."""
    home.mkdir(parents=True, exist_ok=True)
    return {
        **os.environ,
        "PREFECT_API_URL": api_url,
        "PREFECT_HOME": str(home),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    }
