"""Linking for dedup: candidate pairs from shared keys, their verification, and union-find.

Input: per document its sorted shingle hashes, its candidate keys (sampled shingles and the
normalised-text hash) and its anchors (numbers and names, see `tasks.signatures`). Output: the
verified links between documents (`near` from shingle containment, `translation` from anchor
agreement between groups of different languages) and the connected components they form.

Candidates: documents that share a key. A key shared by many documents (a big cluster of
copies, or a junk line that many plain-text copies carry) is not expanded into all its pairs:
each holder is paired with the first holder and with the previous one (sorted), and a pair
whose ends are already in one component is not verified at all. The components are the same as
if every pair had been verified (skipping an edge inside a component changes no component), and
the work stays linear in the number of keys. Pure: no I/O, deterministic; quarantines nothing.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from datetime import datetime, timedelta

import numpy as np
import numpy.typing as npt

from tasks.signatures import U64

I64 = npt.NDArray[np.int64]


class UnionFind:
    """Union-find over 0..n-1; the root of a set is its smallest member (deterministic)."""

    def __init__(self, n: int) -> None:
        self.parent = list(range(n))

    def find(self, item: int) -> int:
        parent = self.parent
        root = item
        while parent[root] != root:
            root = parent[root]
        while parent[item] != root:
            parent[item], item = root, parent[item]
        return root

    def union(self, a: int, b: int) -> bool:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return False
        if ra < rb:
            self.parent[rb] = ra
        else:
            self.parent[ra] = rb
        return True

    def groups(self) -> dict[int, list[int]]:
        out: dict[int, list[int]] = {}
        for item in range(len(self.parent)):
            out.setdefault(self.find(item), []).append(item)
        return out


def candidate_pairs(keys: U64, owners: I64) -> I64:
    """(k x 2) document pairs (a < b) that share a key: star and chain within each key group.

    `keys[i]` is held by document `owners[i]`. Within a group of holders sorted by document,
    each holder is paired with the group's first and with its predecessor.
    """
    if len(keys) == 0:
        return np.empty((0, 2), dtype=np.int64)
    order = np.lexsort((owners, keys))
    k, o = keys[order], owners[order]
    # Drop a document holding the same key twice (the exact-text key of a short text can also
    # be a sampled shingle): it would pair with itself.
    keep = np.ones(len(k), dtype=bool)
    keep[1:] = (k[1:] != k[:-1]) | (o[1:] != o[:-1])
    k, o = k[keep], o[keep]
    same_as_prev = np.zeros(len(k), dtype=bool)
    same_as_prev[1:] = k[1:] == k[:-1]
    starts = np.flatnonzero(~same_as_prev)
    group_start = starts[np.searchsorted(starts, np.arange(len(k)), side="right") - 1]
    members = np.flatnonzero(same_as_prev)
    star = np.stack([o[group_start[members]], o[members]], axis=1)
    chain = np.stack([o[members - 1], o[members]], axis=1)
    pairs = np.concatenate([star, chain])
    lo, hi = pairs.min(axis=1), pairs.max(axis=1)
    keep = lo != hi
    lo, hi = lo[keep], hi[keep]
    # One int64 per pair, ordered as (a, b): np.unique on it is many times faster than
    # np.unique(axis=0), which sorts rows as structured values.
    width = int(hi.max()) + 1 if len(hi) else 1
    code = np.unique(lo * width + hi)
    return np.stack([code // width, code % width], axis=1)


def overlap(a: U64, b: U64) -> int:
    """Number of shingles two sorted unique hash arrays share."""
    if len(a) == 0 or len(b) == 0:
        return 0
    if len(a) > len(b):
        a, b = b, a
    pos = np.searchsorted(b, a)
    pos[pos == len(b)] = 0
    return int(np.count_nonzero(b[pos] == a))


def containment(a: U64, b: U64) -> float:
    """Shared shingles over the smaller set: 1.0 for a copy cut short or padded with junk."""
    small = min(len(a), len(b))
    return overlap(a, b) / small if small else 0.0


def near_verdict(
    a: U64, b: U64, *, min_containment: float, min_shared: int, min_larger_share: float
) -> float | None:
    """The containment of a verified near-duplicate pair, or None when it is not one.

    Three conditions: the shared shingles are at least `min_containment` of the smaller set
    (a copy cut short or padded still passes), at least `min_larger_share` of the larger set
    (a short text made of junk lines that a long page also carries does not), and at least
    `min_shared` in number.
    """
    small, large = sorted((len(a), len(b)))
    if small == 0:
        return None
    shared = overlap(a, b)
    if shared < min_shared or shared < min_larger_share * large:
        return None
    score = shared / small
    return score if score >= min_containment else None


# --------------------------------------------------------------------------- translations


class AnchorIndex:
    """Inverse document frequency of anchors over the groups compared (rare anchors weigh more)."""

    def __init__(self, profiles: Sequence[frozenset[str]]) -> None:
        self.df: Counter[str] = Counter()
        for profile in profiles:
            self.df.update(profile)
        self.n = max(1, len(profiles))

    def weight(self, anchor: str) -> float:
        return math.log((self.n + 1) / self.df.get(anchor, 1))

    def agreement(self, a: frozenset[str], b: frozenset[str]) -> tuple[float, float, int]:
        """IDF-weighted share of the smaller and of the larger profile found in the other, and
        the shared count."""
        shared = a & b
        if not shared:
            return 0.0, 0.0, 0
        wa = sum(self.weight(x) for x in a)
        wb = sum(self.weight(x) for x in b)
        ws = sum(self.weight(x) for x in shared)
        small, large = min(wa, wb), max(wa, wb)
        return (ws / small if small > 0 else 0.0), (ws / large if large > 0 else 0.0), len(shared)


def close_in_time(a: datetime | None, b: datetime | None, window: timedelta) -> bool:
    """Unknown dates do not rule a pair out (many pages carry none)."""
    if a is None or b is None:
        return True
    return abs(a - b) <= window
