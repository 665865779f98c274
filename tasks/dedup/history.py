"""Dedup step 2 (history): the earlier nights' documents that tonight's documents may link to.

Input: tonight's DEDUP_KEYS rows (`tasks.dedup.keys`) and the committed dedup state of earlier
nights (`state/dedup/keys` and `documents`, read through `tasks.io` one key bucket at a time).
Output: `Earlier`: the earlier documents that share keys with tonight's (for each tonight
document and earlier cluster, the two sharing most), the candidate pairs with how many keys
each shares, and every earlier document of the translation window (cross-lingual keys only).
Quarantines nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import numpy as np
import pyarrow as pa

from tasks import io
from tasks.dedup.arrowlists import list_arrays
from tasks.dedup.config import DedupConfig
from tasks.dedup.state import earlier_nights
from tasks.schema import DEDUP_DOCUMENTS


@dataclass
class Earlier:
    """Documents of earlier nights (DEDUP_DOCUMENTS rows, `shingles` and `template_tags` as
    numpy arrays) that tonight's keys matched, then those of the translation window; and the
    candidate pairs (tonight's index, index in `rows`) found by the key join, with the sampled
    keys each pair shares."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    shared_keys: dict[tuple[int, int], int] = field(default_factory=dict)

    @property
    def pairs(self) -> list[tuple[int, int]]:
        return sorted(self.shared_keys)


def match_earlier(
    keys: pa.Table, history: Iterable[pa.Table], *, per_cluster: int = 2
) -> list[tuple[str, str, int]]:
    """(tonight doc_id, earlier doc_id, keys they share) candidates: tonight's DEDUP_KEYS joined
    with one bucket of the history at a time. For each tonight document and earlier cluster only
    the `per_cluster` earlier documents sharing the most keys are kept (ties: the smallest
    doc_id): verifying one copy of a cluster is enough to join it.

    Counted with Arrow's group-by, bucket by bucket: a copy of a report republished a hundred
    times joins thousands of key rows, which a Python loop took seconds over (5 s of a 15 s
    night on syndication `large` cut into 4 nights)."""
    names = ["doc_id", "cluster_id", "doc_id_earlier"]
    counted: list[pa.Table] = []
    for part in history:
        if part.num_rows == 0:
            continue
        joined = keys.select(["key", "doc_id"]).join(
            part.select(["key", "doc_id", "cluster_id"]),
            keys="key",
            join_type="inner",
            right_suffix="_earlier",
        )
        if joined.num_rows:
            counted.append(joined.group_by(names).aggregate([("key", "count")]))
    if not counted:
        return []
    # A pair that shares keys in several buckets: its counts add up.
    shared = pa.concat_tables(counted).group_by(names).aggregate([("key_count", "sum")])
    ranked = shared.sort_by(
        [
            ("doc_id", "ascending"),
            ("cluster_id", "ascending"),
            ("key_count_sum", "descending"),
            ("doc_id_earlier", "ascending"),
        ]
    )
    tonight = ranked.column("doc_id").to_numpy(zero_copy_only=False)
    cluster = ranked.column("cluster_id").to_numpy(zero_copy_only=False)
    earlier = ranked.column("doc_id_earlier").to_pylist()
    counts = ranked.column("key_count_sum").to_pylist()
    # Rank of each row within its (tonight doc, earlier cluster) run.
    new_run = np.ones(len(tonight), dtype=bool)
    new_run[1:] = (tonight[1:] != tonight[:-1]) | (cluster[1:] != cluster[:-1])
    run_start = np.maximum.accumulate(np.where(new_run, np.arange(len(tonight)), 0))
    keep = (np.arange(len(tonight)) - run_start) < per_cluster
    return [(str(tonight[i]), earlier[i], counts[i]) for i in np.flatnonzero(keep).tolist()]


def earlier_documents(
    layout: io.Layout, cfg: DedupConfig, doc_ids: Sequence[str], tonight_keys: pa.Table
) -> Earlier:
    """The earlier nights' documents that tonight's keys (DEDUP_KEYS of `doc_ids`) match, with
    the candidate pairs, and every earlier document of the translation window."""
    earlier = Earlier()
    key_nights = earlier_nights(layout, "keys")
    if key_nights:
        buckets = sorted(set(tonight_keys.column("bucket").to_pylist()))
        history = (
            io.read_filtered(layout.dedup_state("keys"), nights=key_nights, equals={"bucket": b})
            for b in buckets
        )
        matches = match_earlier(tonight_keys, history)
        if matches:
            _add_matched(earlier, layout, doc_ids, matches)
    _add_window(earlier, layout, cfg)
    return earlier


def _add_matched(
    earlier: Earlier, layout: io.Layout, doc_ids: Sequence[str], matches: list[tuple[str, str, int]]
) -> None:
    """The matched earlier documents (each once: a document seen on two nights, its oldest row)
    and the pairs they make with tonight's."""
    found = io.read_rows_by_key(
        layout.dedup_state("documents"),
        nights=earlier_nights(layout, "documents"),
        column="doc_id",
        values=sorted({b for _, b, _ in matches}),
    )
    index_of: dict[str, int] = {}
    # The hashes as one numpy array per row, sliced from the column's buffer (as Python lists
    # they cost more than verifying the pairs).
    shingles = list_arrays(found.column("shingles"))
    tags = list_arrays(found.column("template_tags"))
    rows = found.drop_columns(["shingles", "template_tags"]).to_pylist()
    for row, hashes, tag_hashes in zip(rows, shingles, tags, strict=True):
        if row["doc_id"] not in index_of:
            index_of[row["doc_id"]] = len(earlier.rows)
            earlier.rows.append({**row, "shingles": hashes, "template_tags": tag_hashes})
    position = {d: i for i, d in enumerate(doc_ids)}
    for a, b, shared in matches:
        if b in index_of:
            # A document stored under two clusters: the larger count, to be safe.
            pair = (position[a], index_of[b])
            earlier.shared_keys[pair] = max(shared, earlier.shared_keys.get(pair, 0))


def _add_window(earlier: Earlier, layout: io.Layout, cfg: DedupConfig) -> None:
    """Translations close in time: every earlier document of the window not met yet, without
    its shingles."""
    window_start = (
        date.fromisoformat(layout.run_date) - timedelta(days=cfg.translation_window_days)
    ).isoformat()
    recent = [n for n in earlier_nights(layout, "documents") if n >= window_start]
    if not recent:
        return
    found = io.read_filtered(
        layout.dedup_state("documents"),
        nights=recent,
        columns=[c for c in DEDUP_DOCUMENTS.names if c != "shingles"],
    )
    tags = list_arrays(found.column("template_tags"))
    seen = {r["doc_id"] for r in earlier.rows}
    none = np.empty(0, np.uint64)
    for row, tag_hashes in zip(
        found.drop_columns(["template_tags"]).to_pylist(), tags, strict=True
    ):
        if row["doc_id"] not in seen:
            seen.add(row["doc_id"])
            earlier.rows.append({**row, "shingles": none, "template_tags": tag_hashes})
