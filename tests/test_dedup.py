from datetime import UTC, datetime

from tasks.dedup import DedupConfig, dedup_batch
from tests.builders import extracted_row, repaired
from tests.conftest import RUN_ID

CFG = DedupConfig(run_id=RUN_ID)

REPORT = (
    "The harbour board of the fictional town of Ostmere approved a new pier on Tuesday after "
    "a debate that lasted most of the afternoon. Board members said the pier would let two "
    "ferries berth at once during the summer season, when the island crossings are busiest. "
    "Work is expected to start in the autumn and to take eighteen months, the chair said, "
    "adding that the cost would be shared with the regional transport fund."
)
OTHER = (
    "Fishers in Ostmere protested on Tuesday against the new pier, saying the construction "
    "would close their mooring for two seasons. Their cooperative asked the harbour board to "
    "move the works to the winter months, when fewer boats go out, and to pay for temporary "
    "berths on the eastern quay while the pier is being built."
)


def _run(rows):
    table = dedup_batch(repaired(rows), CFG).kept
    return {r["doc_id"]: r for r in table.to_pylist()}


def test_exact_near_and_different_reports():
    rows = [
        extracted_row("a", REPORT, published_at=datetime(2026, 3, 10, tzinfo=UTC)),
        extracted_row("b", REPORT.upper().replace(".", " .")),  # same words: exact
        extracted_row("c", REPORT.replace("eighteen months", "a year and a half")),  # near
        extracted_row("d", OTHER),  # same event, different report
    ]
    out = _run(rows)
    assert out["a"]["is_canonical"] and out["a"]["duplicate_of"] is None
    assert out["b"]["method"] == "exact" and out["b"]["similarity"] == 1.0
    assert out["c"]["method"] == "near" and 0.7 <= out["c"]["similarity"] < 1.0
    assert out["b"]["duplicate_of"] == out["c"]["duplicate_of"] == "a"
    assert out["a"]["cluster_id"] == out["b"]["cluster_id"] == out["c"]["cluster_id"]
    assert out["d"]["is_canonical"] and out["d"]["cluster_id"] != out["a"]["cluster_id"]


def test_canonical_is_earliest_then_longest_then_smallest_id():
    longer = REPORT + " The board meets again in May."
    out = _run([extracted_row("x", REPORT), extracted_row("y", longer)])
    assert out["y"]["is_canonical"]  # no dates: the most complete text wins
    dated = extracted_row("x", REPORT, published_at=datetime(2026, 1, 1, tzinfo=UTC))
    out = _run([dated, extracted_row("y", longer)])
    assert out["x"]["is_canonical"]  # a known earlier date wins over length


def test_every_row_comes_out_once_and_nothing_is_quarantined():
    rows = [extracted_row(str(i), f"{OTHER} Paragraph number {i}.") for i in range(6)]
    split = dedup_batch(repaired(rows), CFG)
    assert sorted(split.kept.column("doc_id").to_pylist()) == sorted(str(i) for i in range(6))
    assert split.quarantined.num_rows == 0
