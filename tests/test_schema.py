import pyarrow as pa
import pytest

from tasks import schema


def _leaves(t: pa.DataType):
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        yield from _leaves(t.value_type)
    elif pa.types.is_struct(t):
        for i in range(t.num_fields):
            yield from _leaves(t.field(i).type)
    else:
        yield t


@pytest.mark.parametrize("name", sorted(schema.DATASETS))
def test_types_every_reader_loads(name):
    for field in schema.DATASETS[name]:
        for leaf in _leaves(field.type):
            assert not pa.types.is_large_string(leaf), field.name
            assert not pa.types.is_unsigned_integer(leaf), field.name
            if pa.types.is_timestamp(leaf):
                # Spark cannot read nanoseconds; naive timestamps are ambiguous across readers.
                assert leaf.unit == "us" and leaf.tz == "UTC", field.name


@pytest.mark.parametrize("name", ["articles", "duplicates", "quarantined"])
def test_published_tables_do_not_store_the_partition_key(name):
    assert "run_date" not in schema.DATASETS[name].names


def test_articles_have_the_contract_columns():
    required = {
        "doc_id",
        "source_path",
        "url",
        "site",
        "title",
        "text",
        "lang",
        "published_at",
        "source_attribution",
        "cluster_id",
        "content_sha256",
        "run_id",
        "ingested_at",
    }
    assert required <= set(schema.ARTICLES.names)
    assert {"cluster_id", "duplicate_of", "similarity", "method"} <= set(schema.DUPLICATES.names)
    assert {"stage", "reason"} <= set(schema.QUARANTINED.names)


def test_conform_rejects_a_missing_column():
    table = pa.table({"doc_id": ["a"]})
    with pytest.raises(KeyError, match="source_path"):
        schema.conform(table, schema.QUARANTINED)
