from tasks.runner import MIN_BATCH_ROWS, batch_rows_for


def test_small_nights_stay_in_one_batch_large_ones_spread_over_workers():
    assert batch_rows_for(12, workers=2, ceiling=256) == 12  # one worker, one batch
    assert batch_rows_for(10_000, workers=2, ceiling=256) == 256
    assert batch_rows_for(300, workers=2, ceiling=256) == 150  # both workers busy
    assert batch_rows_for(100, workers=4, ceiling=256) == MIN_BATCH_ROWS
    assert batch_rows_for(0, workers=2, ceiling=256) == 256
