"""A disk that fills after publish: the night fails, but its run record is on disk and says why,
the published tables are whole, and the next run of the night (space freed) completes it."""

from __future__ import annotations

import errno
import json
from pathlib import Path

import pytest

from flows.nightly import nightly_ingest
from tasks import io
from tests.conftest import SAMPLE_INBOX

pytestmark = [pytest.mark.flow, pytest.mark.usefixtures("prefect_api")]

NIGHT = "2026-03-14"


def test_a_disk_that_fills_after_publish_still_leaves_a_run_record(tmp_path, monkeypatch):
    data = tmp_path / "data"
    full = {"now": False}
    real_partition, real_json, real_text = io.write_partition, io.write_json, io.write_text

    def no_space(*args: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    def write_partition(data_dir: Path, final_dir: Path, *args: object, **kwargs: object):
        if full["now"]:
            no_space()
        written = real_partition(data_dir, final_dir, *args, **kwargs)
        if final_dir == io.Layout(data, NIGHT).state_partition("revisions"):
            full["now"] = True  # publish's last write went through; the disk is full from here
        return written

    def write_json(path: Path, obj: object) -> None:
        if full["now"]:
            no_space()
        real_json(path, obj)

    def write_text(path: Path, text: str) -> None:
        if full["now"]:
            no_space()
        real_text(path, text)

    monkeypatch.setattr(io, "write_partition", write_partition)
    monkeypatch.setattr(io, "write_json", write_json)
    monkeypatch.setattr(io, "write_text", write_text)
    with pytest.raises(OSError, match="No space left"):
        nightly_ingest(inbox=str(SAMPLE_INBOX), data_dir=str(data), run_date=NIGHT, workers=1)
    assert full["now"], "the fault never fired: publish did not reach its last write"

    records = sorted((data / "runs").glob("*.json"))
    assert len(records) == 1
    record = json.loads(records[0].read_text("utf-8"))
    assert record["status"] == "failed"
    assert "No space left" in record["error"]
    assert record["stages"]["publish"]["articles"] > 0  # what publish wrote, before the fault
    assert (data / "curated" / "articles" / f"run_date={NIGHT}").is_dir()
    # Publish and the state commits are one transaction in Prefect's cache: publish completed,
    # but the night failed inside the transaction, so only the four stages before it are cached.
    cached = [p for p in (data / "state" / "prefect-cache").iterdir() if p.is_file()]
    assert len(cached) == 4, sorted(p.name for p in cached)

    monkeypatch.undo()
    again = nightly_ingest(inbox=str(SAMPLE_INBOX), data_dir=str(data), run_date=NIGHT, workers=1)
    assert again["status"] == "completed"
    assert again["invariant"]["holds"]
    assert again["published"] == record["stages"]["publish"]
