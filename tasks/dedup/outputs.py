"""Dedup step 7, tables: the DEDUPED rows and tonight's DEDUP_DOCUMENTS state rows.

Input: the night's REPAIRED table, its `NightTable` rows and signatures, and each document's
fields and state (`tasks.dedup.assign`). Output: DEDUPED (the rows as they came, Arrow columns
untouched, plus the dedup columns) and DEDUP_DOCUMENTS (sorted by doc_id). No I/O; quarantines
nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from tasks.dedup.arrowlists import hash_lists, key_string_lists
from tasks.dedup.assign import State
from tasks.dedup.sign import Signed
from tasks.schema import DEDUP_DOCUMENTS, DEDUPED


def deduped_table(table: pa.Table, fields: Sequence[dict[str, Any]]) -> pa.Table:
    """The night's rows as they came (Arrow columns, untouched) plus the dedup columns."""
    columns = [
        table.column(f.name).cast(f.type)
        if f.name in table.column_names
        else pa.array([row[f.name] for row in fields], f.type)
        for f in DEDUPED
    ]
    return pa.Table.from_arrays(columns, schema=DEDUPED)


def documents_table(
    table: pa.Table,
    rows: Sequence[dict[str, Any]],
    states: Sequence[State],
    signed: Signed,
    run_id: str,
) -> pa.Table:
    """DEDUP_DOCUMENTS rows of the night's documents (`states[i]`: row i's cluster, its first
    night, canonical and the canonical's date, language and length), sorted by doc_id. Each
    column is built whole, then taken in that order; the list columns are built in that order
    (taking rows of them, shingles above all, costs more than building them)."""
    order = pc.sort_indices(table.column("doc_id")).to_numpy()
    rank = order.tolist()
    cluster, first, canonical, meta = zip(*states, strict=True) if states else ([],) * 4
    published, lang, length = zip(*meta, strict=True) if meta else ([],) * 3
    values: dict[str, Any] = {
        "cluster_id": cluster,
        "cluster_run_date": first,
        "canonical_doc_id": canonical,
        "canonical_published_at": published,
        "canonical_lang": lang,
        "canonical_text_length": length,
        "content_sha256": signed.content_sha256,
        "site": signed.sites,
        "run_id": [run_id] * len(rows),
        "source": [row["source"] for row in rows],
    }
    columns = []
    for f in DEDUP_DOCUMENTS:
        if f.name in ("shingles", "template_tags"):
            arrays = getattr(signed, f.name)
            columns.append(hash_lists([arrays[i] for i in rank], f))
        elif f.name == "anchors":
            columns.append(key_string_lists(signed.anchors.take(order), signed.vocab, f))
        elif f.name in values:
            columns.append(pa.array(values[f.name], f.type).take(order))
        else:
            columns.append(table.column(f.name).cast(f.type).take(order).combine_chunks())
    return pa.Table.from_arrays(columns, schema=DEDUP_DOCUMENTS)
