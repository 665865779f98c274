"""Stage progress lines: done of total, rate, time left, plurals; reported on time, not per
batch."""

from __future__ import annotations

from tasks.progress import StageProgress, duration, plural


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_plurals_and_durations():
    assert plural(1, "article") == "1 article"
    assert plural(0, "article") == "0 articles"
    assert plural(12_345, "story", "stories") == "12,345 stories"
    assert [duration(s) for s in (0.4, 59, 61, 3725)] == ["0 s", "59 s", "1 min 01 s", "1 h 02 min"]


def test_progress_reports_rate_and_time_left_every_few_seconds():
    clock, lines, shares = Clock(), [], []
    progress = StageProgress(
        "repair", 601, lines.append, share=shares.append, every=3.0, clock=clock
    )
    clock.now += 1.0
    progress.update(100, 99, 1)
    assert lines == []  # not due yet
    clock.now += 1.0
    progress.tick()
    assert lines == []
    clock.now += 2.0  # 4 s in: due while waiting for the next batch, even with no new rows
    progress.tick()
    assert lines == [
        "repair: 100 of 601 documents (16%), 25.0 documents/s, about 20 s left; "
        "99 kept, 1 quarantined"
    ]
    assert shares == [100 * 100 / 601]
    clock.now += 6.0
    progress.update(601, 598, 3)
    progress.finish()
    assert (
        lines[-1]
        == "repair: 601 of 601 documents (100%), 60.1 documents/s in 10 s; 598 kept, 3 quarantined"
    )
    assert shares[-1] == 100.0


def test_a_stage_that_has_done_nothing_yet_says_how_long_it_has_run():
    clock, lines = Clock(), []
    progress = StageProgress("extract", 10, lines.append, every=3.0, clock=clock)
    clock.now += 13.0
    progress.tick()
    assert lines == ["extract: 0 of 10 documents (0%), started 13 s ago; 0 kept, 0 quarantined"]


def test_unknown_totals_and_empty_nights():
    clock, lines = Clock(), []
    StageProgress("ingest", None, lines.append, clock=clock).finish()
    StageProgress("extract", 0, lines.append, clock=clock).finish()
    assert lines[0].startswith("ingest: 0 documents, ")
    assert lines[1].startswith("extract: 0 of 0 documents (100%)")


def test_an_empty_stage_moves_its_progress_to_done():
    shares = []
    StageProgress("extract", 0, lambda _line: None, share=shares.append, clock=Clock()).finish()
    assert shares == [100.0]
