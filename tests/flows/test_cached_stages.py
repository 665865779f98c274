"""A night that failed part-way is finished by its next run through Prefect's cache: the stages
it had done are Cached task runs (what the UI shows), the rest run, and the result is the
night an uninterrupted run publishes."""

from __future__ import annotations

import asyncio
import errno
from pathlib import Path

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

from flows.nightly import nightly_ingest
from tasks import io
from tests.conftest import SAMPLE_INBOX

pytestmark = [pytest.mark.flow, pytest.mark.usefixtures("prefect_api")]

NIGHT = "2026-03-14"


async def _task_states(flow_run_id: object) -> dict[str, str]:
    async with get_client() as client:
        runs = await client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id]))
        )
    return {run.name.rsplit("-", 1)[0]: run.state.name for run in runs if run.state}


def test_a_resumed_night_shows_its_done_stages_as_cached(tmp_path, monkeypatch):
    data = tmp_path / "data"
    real = io.write_partition

    def publish_fails(data_dir: Path, final_dir: Path, *args: object, **kwargs: object):
        if "curated" in final_dir.parts:
            raise OSError(errno.EIO, "Input/output error")
        return real(data_dir, final_dir, *args, **kwargs)

    monkeypatch.setattr(io, "write_partition", publish_fails)
    with pytest.raises(OSError):
        nightly_ingest(inbox=str(SAMPLE_INBOX), data_dir=str(data), run_date=NIGHT, workers=1)
    monkeypatch.undo()

    state = nightly_ingest(
        inbox=str(SAMPLE_INBOX), data_dir=str(data), run_date=NIGHT, workers=1, return_state=True
    )
    record = state.result()
    assert record["status"] == "completed"
    assert record["reused"] == ["ingest", "extract", "repair", "dedup"]
    states = asyncio.run(_task_states(state.state_details.flow_run_id))
    assert {name: states[name] for name in ("ingest", "extract", "repair", "dedup")} == {
        "ingest": "Cached",
        "extract": "Cached",
        "repair": "Cached",
        "dedup": "Cached",
    }, states
    assert states["publish"] == "Completed"

    whole = nightly_ingest(
        inbox=str(SAMPLE_INBOX), data_dir=str(tmp_path / "whole"), run_date=NIGHT, workers=1
    )
    assert record["published"] == whole["published"]
