"""Dedup step 7, tables: a night's candidate keys as DEDUP_KEYS rows, for later nights to join.

Input: per document its doc_id and candidate keys (`tasks.dedup.sign`), and each document's
cluster. Output: the rows sorted by bucket, key, then doc_id (`key_rows`, one bucket per
contiguous run of rows), and the DEDUP_KEYS table of them (`keys_table`). No I/O; quarantines
nothing.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from tasks.hashing import U64
from tasks.schema import DEDUP_KEYS

# Keys are spread over this many buckets; a night joins the history one bucket at a time, so
# the state held in memory at once is 1/KEY_BUCKETS of the stored keys.
KEY_BUCKETS = 64


def bucket_of(keys: U64) -> np.ndarray:
    shift = 64 - (KEY_BUCKETS.bit_length() - 1)
    return (keys >> np.uint64(shift)).astype(np.int32)


@dataclass(frozen=True)
class KeyRows:
    """Documents' candidate keys in DEDUP_KEYS order (by bucket, key, then doc_id: one bucket
    per contiguous run of rows): each row's key and document (its row number in `doc_ids`)."""

    doc_ids: pa.Array
    keys: U64
    owners: npt.NDArray[np.int64]

    @functools.cached_property
    def columns(self) -> list[pa.Array]:
        """DEDUP_KEYS's bucket, key and doc_id columns, taken once for both tables of a night:
        the one that matches earlier nights and tonight's state."""
        return [
            pa.array(bucket_of(self.keys), pa.int32()),
            pa.array(self.keys, pa.uint64()),
            self.doc_ids.take(self.owners),
        ]


def key_rows(doc_ids: Sequence[str], keys: Sequence[U64]) -> KeyRows:
    """`KeyRows` of documents (`keys[i]` held by `doc_ids[i]`): sorted in numpy on the key and
    the document's rank; the strings are taken once, in that order, by `keys_table`."""
    values = np.concatenate(keys) if keys else np.empty(0, np.uint64)
    owners = np.repeat(np.arange(len(doc_ids), dtype=np.int64), [len(k) for k in keys])
    ids = pa.array(doc_ids, pa.string())
    rank = np.empty(len(doc_ids), np.int64)
    rank[pc.sort_indices(ids).to_numpy()] = np.arange(len(doc_ids))
    # The bucket is the key's top bits: sorting by key sorts by bucket too.
    order = np.lexsort((rank[owners], values))
    return KeyRows(ids, values[order], owners[order])


def keys_table(rows: KeyRows, cluster_ids: Sequence[str]) -> pa.Table:
    """DEDUP_KEYS rows of `rows`, each document's cluster `cluster_ids[i]`."""
    if not len(rows.keys):
        return DEDUP_KEYS.empty_table()
    return pa.Table.from_arrays(
        [*rows.columns, pa.array(cluster_ids, pa.string()).take(rows.owners)], schema=DEDUP_KEYS
    )
