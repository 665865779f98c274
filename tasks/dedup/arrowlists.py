"""Arrow list columns of 64-bit hashes as per-row numpy arrays, and back.

Input: a `list<uint64>` (or `list<int64>`) Arrow column, or per-row numpy arrays. Output: one
numpy view per row (no Python int per hash), or the Arrow column built from one concatenated
buffer. No I/O; quarantines nothing.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa

from tasks.dedup.keylists import KeyLists, Vocabulary
from tasks.hashing import U64


def list_arrays(column: pa.ChunkedArray) -> list[U64]:
    """A list<uint64> column as one numpy array per row (views of its buffers); a list<int64>
    column (hashes stored signed, as `template_tags`) as the same 64 bits, unsigned."""
    out: list[U64] = []
    for chunk in column.chunks:
        # flatten() and offsets both follow a sliced chunk; offsets count from its first value.
        values = chunk.flatten().to_numpy(zero_copy_only=False).astype(np.uint64, copy=False)
        offsets = chunk.offsets.to_numpy()
        bounds = (offsets - offsets[0]).tolist()
        out += [values[bounds[i] : bounds[i + 1]] for i in range(len(chunk))]
    return out


def hash_lists(arrays: Sequence[U64], field: pa.Field) -> pa.Array:
    """A list<uint64> column from per-row arrays, built from one concatenated buffer (a Python
    list of every hash first costs more than the rest of the table)."""
    offsets = np.zeros(len(arrays) + 1, dtype=np.int32)
    np.cumsum([len(a) for a in arrays], out=offsets[1:])
    values = np.concatenate(arrays) if arrays else np.empty(0, np.uint64)
    return pa.ListArray.from_arrays(
        pa.array(offsets, pa.int32()), pa.array(values.astype(np.uint64, copy=False), pa.uint64())
    ).cast(field.type)


def key_string_lists(lists: KeyLists, vocab: Vocabulary, field: pa.Field) -> pa.Array:
    """A list<string> column of key lists, taken from the vocabulary's strings in Arrow."""
    strings = pa.array(vocab.strings, pa.string()).take(pa.array(lists.ids, pa.int64()))
    return pa.ListArray.from_arrays(pa.array(lists.bounds, pa.int32()), strings).cast(field.type)
