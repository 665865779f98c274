"""State that cannot silently lie: a committed state partition of an earlier night that is
missing or altered stops the next night before any stage runs, naming the partition and the
command that writes it again; running that night again restores it byte for byte."""

from __future__ import annotations

import shutil

import pytest

from flows import cli
from flows.nightly import nightly_ingest
from flows.resume import StateError, verify_history
from tasks import io
from tests.conftest import SAMPLE_INBOX

pytestmark = [pytest.mark.flow, pytest.mark.usefixtures("prefect_api")]

FIRST, SECOND = "2026-03-13", "2026-03-14"


def _night(inbox, data, night):
    return nightly_ingest(inbox=str(inbox), data_dir=str(data), run_date=night, workers=1)


def test_damaged_state_stops_the_next_night_and_rerunning_its_night_repairs_it(tmp_path):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for name in ("plain/velmora-barrier-cpa.txt", "html/velmora-library-reopens.html"):
        shutil.copy(SAMPLE_INBOX / name, inbox / name.split("/")[1])
    data = tmp_path / "data"
    assert _night(inbox, data, FIRST)["status"] == "completed"
    keys = data / "state" / "dedup" / "keys" / f"run_date={FIRST}"
    (part,) = keys.glob("*.parquet")
    original = part.read_bytes()
    layout = io.Layout(data, SECOND)
    verify_history(layout)  # intact: no error

    # Each kind of damage is named: a partition gone, a file changed, a file added.
    shutil.rmtree(keys)
    with pytest.raises(
        StateError, match=rf"partition state/dedup/keys/run_date={FIRST} is missing"
    ):
        verify_history(layout)
    keys.mkdir()
    part.write_bytes(original[:-1] + bytes([original[-1] ^ 1]))  # same size, other bytes
    with pytest.raises(StateError, match=r"has changed \(its sha256 differs"):
        verify_history(layout)
    part.write_bytes(original)
    (keys / "part-00001.parquet").write_bytes(original)
    with pytest.raises(StateError, match="was not written by its night"):
        verify_history(layout)
    (keys / "part-00001.parquet").unlink()
    verify_history(layout)
    # A night is not checked against itself or later nights.
    verify_history(io.Layout(data, FIRST))

    # Through the flow: the next night stops before any stage, naming what and how to fix it.
    shutil.rmtree(keys)
    with pytest.raises(StateError) as caught:
        _night(inbox, data, SECOND)
    message = str(caught.value)
    assert f"state/dedup/keys/run_date={FIRST} is missing" in message
    assert f"wiredesk rebuild-state --run-date {FIRST} --data-dir {data}" in message
    assert not (data / "curated" / "articles" / f"run_date={SECOND}").exists()
    # Running the damaged night again writes its state again, byte for byte; then the next
    # night runs.
    assert _night(inbox, data, FIRST)["status"] == "completed"
    assert [p.read_bytes() for p in keys.glob("*.parquet")] == [original]
    assert _night(inbox, data, SECOND)["status"] == "completed"


def _state_files(data):
    return {
        str(p.relative_to(data)): p.read_bytes()
        for p in sorted((data / "state").rglob("*"))
        if p.is_file() and "nights" not in p.relative_to(data).parts
    }


def test_rebuild_state_writes_a_damaged_night_again_from_its_tables_without_the_inbox(
    tmp_path, capsys
):
    inbox = tmp_path / "inbox"
    shutil.copytree(SAMPLE_INBOX, inbox)
    data = tmp_path / "data"
    assert _night(inbox, data, FIRST)["status"] == "completed"
    before = _state_files(data)
    assert any(k.startswith("state/dedup/keys/") for k in before)
    # Every state partition of the night gone, and the inbox too.
    for part in sorted((data / "state").rglob(f"run_date={FIRST}")):
        shutil.rmtree(part)
    shutil.rmtree(inbox)

    status = cli.main(["rebuild-state", "--run-date", FIRST, "--data-dir", str(data)])
    out = capsys.readouterr().out
    assert status == cli.EXIT_OK, out
    assert "checked against its record" in out
    assert _state_files(data) == before  # byte for byte
    verify_history(io.Layout(data, SECOND))

    # Without the staged tables it cannot, and says what to do instead; nothing is written.
    shutil.rmtree(data / "staged" / "extracted")
    status = cli.main(["rebuild-state", "--run-date", FIRST, "--data-dir", str(data)])
    err = capsys.readouterr().err
    assert status == cli.EXIT_NOT_PUBLISHED
    assert f"staged/extracted/run_date={FIRST}" in err and "is missing" in err
    assert f"wiredesk run --run-date {FIRST}" in err
    assert _state_files(data) == before
    # A night that never ran is refused by name.
    status = cli.main(["rebuild-state", "--run-date", "2026-01-01", "--data-dir", str(data)])
    assert status == cli.EXIT_NOT_PUBLISHED
    assert "has no record" in capsys.readouterr().err
