from tasks.dedup.night import DedupConfig, dedup_batch
from tasks.publish.tables import gather_quarantine, split_curated
from tasks.revisions import revise
from tasks.schema import ARTICLES, DUPLICATES, QUARANTINED
from tests.builders import OTHER, REPORT, extracted_row, quarantine_like, repaired
from tests.conftest import RUN_ID


def test_every_deduped_row_lands_in_exactly_one_table():
    rows = [extracted_row("a", REPORT), extracted_row("b", REPORT), extracted_row("c", OTHER)]
    deduped = dedup_batch(repaired(rows), DedupConfig(run_id=RUN_ID)).kept
    articles, duplicates = split_curated(revise(deduped, {}).kept)
    assert articles.schema == ARTICLES and duplicates.schema == DUPLICATES
    assert sorted(
        articles.column("doc_id").to_pylist() + duplicates.column("doc_id").to_pylist()
    ) == ["a", "b", "c"]
    assert duplicates.column("duplicate_of").to_pylist() == ["a"]
    assert set(articles.column("revision").to_pylist()) == {1}


def test_quarantine_is_gathered_in_stage_order():
    table = gather_quarantine([quarantine_like(2), quarantine_like(1)])
    assert table.num_rows == 3 and table.schema == QUARANTINED
    assert gather_quarantine([]).num_rows == 0
