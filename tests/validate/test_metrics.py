import pyarrow as pa
import pytest

from tasks.schema import QUALITY_METRICS
from tasks.validate.metrics import (
    QualityConfig,
    boilerplate_hits,
    replacement_rate,
    with_metrics,
    word_count,
)
from tests.builders import extracted, extracted_row


def test_word_count_sees_words_in_any_script_and_nothing_in_symbols():
    assert word_count("The Velmora council met.") == 4
    assert word_count("Conseil de Velmora — réunion") == 4
    assert word_count("— · — | ***") == 0
    assert word_count("") == 0


def test_replacement_rate_counts_lost_characters_per_thousand():
    assert replacement_rate("clean text") == 0.0
    assert replacement_rate("") == 0.0
    assert replacement_rate("ab\ufffd\ufffd" + "x" * 996) == 2.0
    # Mojibake is not a lost character: repair can still fix it.
    assert replacement_rate("The councilâ€™s plan") == 0.0


@pytest.mark.parametrize(
    "text",
    [
        "The ferry returns on Monday.\nBack to top",
        "The ferry returns on Monday. Leave a Reply Cancel reply",
        "Share this article\nThe ferry returns on Monday.",
        "The ferry returns on Monday. Your email address will not be published.",
    ],
)
def test_residue_phrases_are_found_even_glued_to_prose(text):
    assert boilerplate_hits(text) >= 1


@pytest.mark.parametrize(
    "text",
    [
        "Readers who subscribe to the Velmora Herald get the ferry timetable.",
        "The council will read more petitions on Monday.",
        "Copyright law was debated; the topic of back-to-school costs came up.",
        "She asked them to leave a message at the harbour office.",
    ],
)
def test_prose_is_not_residue(text):
    assert boilerplate_hits(text) == 0


def test_each_occurrence_counts_and_the_list_is_configurable():
    text = "Back to top\nA paragraph.\nback  to  TOP"
    assert boilerplate_hits(text) == 2
    assert boilerplate_hits("Velmora harbour news", ("harbour news",)) == 1


def test_with_metrics_appends_typed_columns_and_replaces_stale_ones():
    table = extracted(
        [
            extracted_row("a", "The ferry returns on Monday.\nBack to top"),
            extracted_row("b", "Caf\ufffd reopens"),
            extracted_row("c", "— · —"),
        ]
    )
    out = with_metrics(table, QualityConfig())
    assert out.schema.names == table.schema.names + QUALITY_METRICS.names
    for field in QUALITY_METRICS:
        assert out.schema.field(field.name).type == field.type
    assert out.column("word_count").to_pylist() == [8, 2, 0]
    assert out.column("boilerplate_hits").to_pylist() == [1, 0, 0]
    assert out.column("replacement_rate").to_pylist()[1] == pytest.approx(1000 / 12, rel=1e-3)
    again = with_metrics(
        out.set_column(out.num_columns - 1, "boilerplate_hits", pa.array([9, 9, 9], pa.int32())),
        QualityConfig(),
    )
    assert again.column("boilerplate_hits").to_pylist() == [1, 0, 0]
    assert again.num_columns == out.num_columns


def test_with_metrics_needs_text():
    with pytest.raises(KeyError, match="text"):
        with_metrics(pa.table({"doc_id": ["a"]}), QualityConfig())
