"""Which stages of a night can be reused, and whose identity a night keeps (flows/resume.py)."""

from __future__ import annotations

from datetime import UTC, datetime

from flows.resume import Night, code_version, settings
from tasks import io
from tasks.dedup.night import DedupConfig

NIGHT = "2026-03-14"
T1 = datetime(2026, 3, 14, 2, 0, tzinfo=UTC)
T2 = datetime(2026, 3, 14, 3, 0, tzinfo=UTC)


def _inputs(extra: str = "x") -> dict:
    return {"fetch": ["http://h/feed"], "ingest": ["code", extra], "extract": ["code"]}


def _write(layout: io.Layout, name: str, data: bytes) -> list:
    path = layout.staged(name)
    path.mkdir(parents=True, exist_ok=True)
    (path / "part-00000.parquet").write_bytes(data)
    return [path]


def _run_all(layout: io.Layout, inputs: dict, run_id: str, started: datetime) -> Night:
    night = Night.open(layout, inputs, run_id=run_id, started_at=started)
    night.begin(run_id)
    for stage in inputs:
        if night.reuse(stage) is None:
            night.done(stage, _write(layout, stage, stage.encode()), {"stage": stage})
    night.finish({"published": {}})
    return night


def test_an_unfinished_night_is_resumed_under_its_first_identity(tmp_path):
    layout = io.Layout(tmp_path, NIGHT)
    first = Night.open(layout, _inputs(), run_id="run-1", started_at=T1)
    first.begin("run-1")
    first.done("fetch", _write(layout, "fetch", b"f"), {"n": 1})
    first.done("ingest", _write(layout, "ingest", b"i"), {"n": 2})
    # killed here, before extract
    again = Night.open(layout, _inputs(), run_id="run-2", started_at=T2)
    assert (again.run_id, again.started_at) == ("run-1", T1)
    assert again.reuse("fetch") == {**again.record["stages"]["fetch"]}
    assert again.reuse("ingest")["result"] == {"n": 2}
    assert again.reuse("extract") is None and not again.complete


def test_a_changed_or_missing_output_is_redone_and_so_is_everything_after_it(tmp_path):
    layout = io.Layout(tmp_path, NIGHT)
    night = Night.open(layout, _inputs(), run_id="run-1", started_at=T1)
    night.begin("run-1")
    night.done("fetch", _write(layout, "fetch", b"f"), {})
    night.done("ingest", _write(layout, "ingest", b"i"), {})
    night.done("extract", _write(layout, "extract", b"e"), {})
    (layout.staged("ingest") / "part-00000.parquet").write_bytes(b"half a file")
    again = Night.open(layout, _inputs(), run_id="run-2", started_at=T2)
    assert again.reusable == {"fetch"}


def test_a_changed_input_redoes_its_stage(tmp_path):
    layout = io.Layout(tmp_path, NIGHT)
    night = Night.open(layout, _inputs("x"), run_id="run-1", started_at=T1)
    night.begin("run-1")
    night.done("fetch", _write(layout, "fetch", b"f"), {})
    night.done("ingest", _write(layout, "ingest", b"i"), {})
    again = Night.open(layout, _inputs("y"), run_id="run-2", started_at=T2)
    assert again.reusable == {"fetch"} and again.run_id == "run-1"


def test_a_complete_night_is_left_alone_until_its_inputs_change(tmp_path):
    layout = io.Layout(tmp_path, NIGHT)
    _run_all(layout, _inputs(), "run-1", T1)
    before = layout.night_record.read_bytes()
    same = Night.open(layout, _inputs(), run_id="run-2", started_at=T2)
    assert same.complete and same.run_id == "run-1"
    assert layout.night_record.read_bytes() == before  # opening writes nothing
    changed = Night.open(layout, _inputs("new inbox"), run_id="run-3", started_at=T2)
    assert not changed.complete
    # A new night under a new identity; only the web's answers of that night are kept.
    assert changed.run_id == "run-3" and changed.reusable == {"fetch"}


def test_settings_leave_out_the_identity_and_code_version_is_stable():
    assert "run_id" not in settings(DedupConfig(run_id="a"))
    assert settings(DedupConfig(run_id="a")) == settings(DedupConfig(run_id="b"))
    assert code_version() == code_version() and len(code_version()) == 64
