from tasks.runner import BATCHES_PER_WORKER, MIN_BATCH_ROWS, batch_rows_for


def test_small_nights_stay_in_one_batch_large_ones_spread_over_workers():
    assert batch_rows_for(12, workers=2, ceiling=256) == 12  # one worker, one batch
    assert batch_rows_for(10_000, workers=2, ceiling=256) == 256
    assert batch_rows_for(100, workers=4, ceiling=256) == MIN_BATCH_ROWS
    assert batch_rows_for(0, workers=2, ceiling=256) == 256


def test_a_middle_sized_night_gives_every_worker_several_batches():
    # A batch is the unit of progress: 601 documents in three batches of 256 said nothing for
    # 19 s; now each of 2 workers gets BATCHES_PER_WORKER of them.
    rows = batch_rows_for(601, workers=2, ceiling=256)
    assert rows == 76 and -(-601 // rows) == 2 * BATCHES_PER_WORKER
    assert batch_rows_for(300, workers=2, ceiling=256) == MIN_BATCH_ROWS


def exiting_batch(batch, cfg):
    import os

    os._exit(3)


def test_an_unsupervised_worker_that_dies_fails_the_stage_with_a_plain_error(tmp_path):
    # Stages without per-document supervision (no document to blame) fail as before, but with
    # an error that names what happened instead of BrokenProcessPool.
    import pytest

    from tasks.runner import StageError, run_stage
    from tasks.schema import INGESTED
    from tests.builders import ingested, ingested_row

    with pytest.raises(StageError, match=r"died on a batch of 2 rows \(exit code 3\)"):
        run_stage(
            stage="extract",
            dataset="extracted",
            fn=exiting_batch,
            cfg=None,
            batches=[ingested([ingested_row("a", "x"), ingested_row("b", "y")])],
            rows_in=2,
            kept_schema=INGESTED,
            data_dir=tmp_path,
            kept_dir=tmp_path / "kept",
            quarantine_dir=tmp_path / "bad",
            workers=1,
            progress=lambda _line: None,
        )
