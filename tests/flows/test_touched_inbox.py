"""A night counts its inbox by content: touching the files (a copy tool, a backup restore, `touch`)
redoes nothing and changes no published or state file; changing one file's bytes redoes the
night."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from flows.nightly import nightly_ingest
from tests.conftest import SAMPLE_INBOX

pytestmark = [pytest.mark.flow, pytest.mark.usefixtures("prefect_api")]

NIGHT = "2026-03-14"


def _tables(data: Path) -> dict[str, tuple[bytes, int]]:
    """Published and state files with bytes and mtime (not the run records, lock or night
    records: those say that a run looked)."""
    return {
        str(p.relative_to(data)): (p.read_bytes(), p.stat().st_mtime_ns)
        for p in sorted(data.rglob("*"))
        if p.is_file()
        and p.relative_to(data).parts[0] in ("curated", "quarantine", "state")
        and "nights" not in p.relative_to(data).parts
    }


def test_touching_the_inbox_redoes_nothing_and_changing_a_file_redoes_the_night(tmp_path):
    inbox = tmp_path / "inbox"
    shutil.copytree(SAMPLE_INBOX, inbox)
    data = tmp_path / "data"
    first = nightly_ingest(inbox=str(inbox), data_dir=str(data), run_date=NIGHT, workers=1)
    assert first["status"] == "completed"
    before = _tables(data)

    later = 2_000_000_000_000_000_000  # 2033, in ns: every file newer than the night
    for path in inbox.rglob("*"):
        if path.is_file():
            os.utime(path, ns=(later, later))
    touched = nightly_ingest(inbox=str(inbox), data_dir=str(data), run_date=NIGHT, workers=1)
    assert touched["status"] == "skipped", touched["stages"]
    assert _tables(data) == before

    changed = sorted((inbox / "plain").glob("*.txt"))[0]
    changed.write_text(changed.read_text(encoding="utf-8") + "\nA line added later.\n")
    again = nightly_ingest(inbox=str(inbox), data_dir=str(data), run_date=NIGHT, workers=1)
    assert again["status"] == "completed"
    assert "ingest" not in again["reused"]
