"""Dedup step 3, candidates: the document pairs worth verifying, tonight's and across nights.

Input: tonight's candidate keys (`tasks.dedup.sign`) and the earlier-night pairs of the key
join (`tasks.dedup.history.Earlier`, with the sampled keys each shares). Output: tonight's
pairs (documents sharing a key: star and chain per key, `tasks.dedup.linking.candidate_pairs`)
and the pairs across nights as `NightTable` nodes, without those sharing too few keys for their
sizes to pass verification (`tasks.dedup.linking.unlikely_near`). Pure; quarantines nothing.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence

import numpy as np

from tasks.dedup.config import DedupConfig
from tasks.dedup.history import Earlier
from tasks.dedup.linking import candidate_pairs, unlikely_near
from tasks.dedup.nighttable import NightTable
from tasks.hashing import I64, U64


def tonight_pairs(keys: Sequence[U64]) -> I64:
    """(k x 2) pairs (a < b) of tonight's documents that share a candidate key."""
    owners = np.repeat(np.arange(len(keys), dtype=np.int64), [len(k) for k in keys])
    return candidate_pairs(np.concatenate(keys), owners)


def earlier_pairs(
    night: NightTable, earlier: Earlier, cfg: DedupConfig, stats: Counter[str]
) -> Iterator[tuple[int, int]]:
    """(tonight's node, earlier node) pairs to verify, in (tonight, earlier) order, counted in
    `stats` as they are handed out."""
    n = night.n
    for i, j in earlier.pairs:
        stats["candidate_pairs_earlier"] += 1
        keys_shared = earlier.shared_keys.get((i, j))
        small, large = sorted((len(night.doc(i)["shingles"]), len(night.doc(n + j)["shingles"])))
        if keys_shared is not None and unlikely_near(
            keys_shared,
            small,
            large,
            rate=cfg.sample_rate,
            min_containment=cfg.near_containment,
            min_shared=cfg.min_shared,
            min_larger_share=cfg.min_larger_share,
            tail=cfg.history_key_tail,
        ):
            stats["pairs_too_few_keys"] += 1
            continue
        yield i, n + j
