"""Linking for dedup: candidate pairs from shared keys, their verification, and union-find.

Input: per document its sorted shingle hashes, its candidate keys (sampled shingles and the
normalised-text hash) and its cross-lingual keys (numbers, names, cognate stems:
`tasks.dedup.crosslingual`). Output: the verified links between documents (`near` from shingle
containment, `translation` from the cosine of IDF-weighted cross-lingual keys between groups
of different languages, each the other's best match, see `translation_matches`) and the
connected components they form.

Candidates: documents that share a key. A key shared by many documents (a big cluster of
copies, or a junk line that many plain-text copies carry) is not expanded into all its pairs:
each holder is paired with the first holder and with the previous one (sorted), and a pair
whose ends are already in one component is not verified at all. The components are the same as
if every pair had been verified (skipping an edge inside a component changes no component), and
the work stays linear in the number of keys. Pure: no I/O, deterministic; quarantines nothing.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Hashable, Sequence

import numpy as np
import numpy.typing as npt

from tasks.dedup.keylists import KeyLists
from tasks.hashing import U64, sorted_counts

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]


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
    # Holders of a key come in increasing document order, so both pairs of a member are
    # already (smaller, larger).
    members = np.flatnonzero(k[1:] == k[:-1]) + 1
    first = np.ones(len(k), dtype=bool)
    first[members] = False
    group_start = np.maximum.accumulate(np.where(first, np.arange(len(k)), 0))
    # One int64 per pair, ordered as (a, b): sorting it is many times faster than
    # np.unique(axis=0), which sorts rows as structured values.
    width = int(o.max()) + 1
    hi = o[members]
    code = np.concatenate((o[group_start[members]] * width + hi, o[members - 1] * width + hi))
    code = sorted_counts(code)[0]
    return np.stack([code // width, code % width], axis=1)


def overlap(a: U64, b: U64) -> int:
    """Number of shingles two sorted unique hash arrays share."""
    if len(a) > len(b):
        a, b = b, a
    if len(a) == 0:
        return 0
    # Where each of the smaller set's hashes would sit in the larger one; one past its end is
    # clipped to its last hash, which is smaller, so no match. Called 50,000-150,000 times a
    # night: array methods, not numpy's module functions (a microsecond less per call).
    return int(np.count_nonzero(b.take(b.searchsorted(a), mode="clip") == a))


def containment(a: U64, b: U64) -> float:
    """Shared shingles over the smaller set: 1.0 for a copy cut short or padded with junk."""
    small = min(len(a), len(b))
    return overlap(a, b) / small if small else 0.0


def containments(sets: Sequence[U64], ref: U64) -> list[float]:
    """`containment(s, ref)` of each of `sets` (sorted unique hash arrays), their values looked
    up in `ref` at once: a cluster's copies against its canonical, 15,000-20,000 a night, cost
    half as much as one call each."""
    sizes = np.fromiter(map(len, sets), np.int64, len(sets))
    if not len(ref) or not sizes.any():
        return [0.0] * len(sets)
    values = np.concatenate(sets)
    hit = ref.take(ref.searchsorted(values), mode="clip") == values
    held = np.zeros(len(values) + 1, np.int64)
    np.cumsum(hit, out=held[1:])
    ends = np.cumsum(sizes)
    shared = (held[ends] - held[ends - sizes]).tolist()
    small = np.minimum(sizes, len(ref)).tolist()
    return [s / m if m else 0.0 for s, m in zip(shared, small, strict=True)]


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
    # They share at most the smaller set: sizes alone can rule a pair out, before any search.
    if small == 0 or small < min_shared or small < min_larger_share * large:
        return None
    shared = overlap(a, b)
    if shared < min_shared or shared < min_larger_share * large:
        return None
    score = shared / small
    return score if score >= min_containment else None


def unlikely_near(
    shared_keys: int,
    small: int,
    large: int,
    *,
    rate: int,
    min_containment: float,
    min_shared: int,
    min_larger_share: float,
    tail: float,
) -> bool:
    """Whether a pair of shingle sets of sizes `small` and `large` that share only `shared_keys`
    sampled keys (`tasks.dedup.signatures.sample_keys` at 1/`rate`) is too unlikely to pass
    `near_verdict` to be worth verifying.

    A pair that passes shares at least `need` shingles (the largest of the verdict's three
    floors), of which a consistent sample keeps about one in `rate`: the shared keys are
    Binomial(shared, 1/rate), whose lower tail is no heavier than Poisson(need / rate)'s. The
    pair is skipped when that Poisson probability of `shared_keys` or fewer is under `tail`.
    Candidate generation already accepts the same risk at zero keys (a short copy with 20
    shared shingles has no shared key with probability e**-2.5, 8%); `tail` is far smaller.
    """
    if tail <= 0:
        return False
    mean = max(min_shared, min_containment * small, min_larger_share * large) / rate
    # At or below its mean a count is never rare (the usual case: copies share many keys).
    return mean > shared_keys and mean > _least_unlikely_mean(shared_keys, tail)


@functools.lru_cache(maxsize=1024)
def _least_unlikely_mean(keys: int, tail: float) -> float:
    """The Poisson mean above which `keys` or fewer occur with probability under `tail` (the
    probability falls as the mean grows): found by bisection once per count."""

    def log_at_most(mean: float) -> float:
        # In logarithms: e**-mean underflows past a mean of 745, where counts still matter.
        logs = [k * math.log(mean) - math.lgamma(k + 1) for k in range(keys + 1)]
        top = max(logs)
        return -mean + top + math.log(sum(math.exp(x - top) for x in logs))

    limit = math.log(tail)
    low, high = max(float(keys), 1e-9), 2.0 * keys + 8.0
    while log_at_most(high) >= limit:
        low, high = high, 2.0 * high
    for _ in range(40):
        mid = (low + high) / 2
        if log_at_most(mid) < limit:
            high = mid
        else:
            low = mid
    return high


# --------------------------------------------------------------------------- translations


# Below 100 groups, 5% of them is under 5 documents: too few to call a key common. A key that at
# most 5 groups carry is always kept (on a night of the five seed reports, the cap of 2 that a
# 5% share gives dropped every key that three reports of one visit share with the translation).
MIN_MAX_DF = 5
_TIE = 1e-9


def translation_matches(
    profiles: KeyLists,
    langs: Sequence[str | None],
    *,
    max_df_share: float,
    min_shared: int,
    min_cosine: float,
    idf_prior: int = 0,
) -> list[tuple[int, int, float]]:
    """Verified (i, j, cosine) translation links, i < j, between profiles of different languages.

    `profiles[i]` holds the cross-lingual keys of group i (`tasks.dedup.crosslingual`, as ids; each
    key once), `langs[i]` its language (a group without one is never linked). Keys are weighted by
    inverse document frequency over the groups, counted as if `idf_prior` more groups carried none
    of them (on a night of a handful of documents every shared key would otherwise weigh less than a
    key of one document, and a translation would score below an unrelated pair of a big night); keys
    that more than `max_df_share` of them (and more than `MIN_MAX_DF`) carry are dropped (a year, a
    common stem). Candidates share at least `min_shared` keys; their score is the cosine of the
    weighted key sets. A pair is linked when it reaches `min_cosine` and each is the other's best
    candidate in any other language: a different report of the same story shares the names and
    numbers, but a translation of a report shares more with it, and so does the report with its
    translation. Counted in numpy over the key ids; the sums run in the order of the ids, the same
    on every run.
    """
    n = len(profiles)
    if not len(profiles.ids):
        return []
    df = np.bincount(profiles.ids)
    max_df = max(MIN_MAX_DF, int(max_df_share * n))
    by_count = np.array([0.0] + [math.log((n + idf_prior + 1) / c) for c in range(1, max_df + 1)])
    weight = by_count[np.minimum(df, max_df)]
    rare = profiles.where(df[profiles.ids] <= max_df)
    norm = np.bincount(rare.owners(), weights=weight[rare.ids], minlength=n)
    a, b, common = _sharing_pairs(rare, langs, weight, max(1, min_shared))
    score = common / np.sqrt(norm[a] * norm[b])
    # Each group's best score; candidates that tie with it (copies of one report that stayed in
    # two groups score the same) are all its best.
    best = np.zeros(n)
    np.maximum.at(best, a, score)
    np.maximum.at(best, b, score)
    linked = (score >= min_cosine) & (score >= best[a] - _TIE) & (score >= best[b] - _TIE)
    return list(zip(a[linked].tolist(), b[linked].tolist(), score[linked].tolist(), strict=True))


def _sharing_pairs(
    profiles: KeyLists,
    langs: Sequence[str | None],
    weight: F64,
    min_shared: int,
) -> tuple[I64, I64, F64]:
    """Pairs (a, b), a < b, sorted, of profiles in two different languages (neither None) that
    share at least `min_shared` keys, and the sum of the `weight` of the keys each pair shares.
    Counted in numpy: every pair of holders of each key (a night's profiles hold a million such
    pairs on syndication `large`; a Python loop step each cost half a second)."""
    lang_id = {lang: i for i, lang in enumerate(sorted({x for x in langs if x is not None}))}
    lang = np.array([-1 if x is None else lang_id[x] for x in langs], np.int64)
    none = np.zeros(0, np.int64)
    owner = profiles.owners()
    has = lang[owner] >= 0
    if not has.any():
        return none, none, np.zeros(0)
    # Holders of one key side by side, in profile order (the owners come in increasing order).
    order = np.argsort(profiles.ids[has], kind="stable")
    key, doc = profiles.ids[has][order], owner[has][order]
    start = np.flatnonzero(np.concatenate(([True], key[1:] != key[:-1])))
    size = np.diff(np.append(start, len(key)))
    # After each holder, how many holders of its key follow it.
    after = np.repeat(start + size, size) - np.arange(len(key)) - 1
    # Holder at position p pairs with p + k for k = 1..after[p]: positions by `after`, longest
    # first, so that each step k takes a prefix.
    by_after = np.argsort(-after, kind="stable")
    active = np.searchsorted(-after[by_after], -np.arange(1, int(after.max()) + 1), side="right")
    n = len(profiles)
    codes, weights = [], []
    for k, count in enumerate(active.tolist(), start=1):
        first = by_after[:count]
        a, b = doc[first], doc[first + k]
        differ = lang[a] != lang[b]
        codes.append(a[differ] * n + b[differ])
        weights.append(weight[key[first[differ]]])
    code = np.concatenate(codes) if codes else none
    if not len(code):
        return none, none, np.zeros(0)
    shared = np.concatenate(weights)
    order = np.argsort(code, kind="stable")
    code, shared = code[order], shared[order]
    start = np.flatnonzero(np.concatenate(([True], code[1:] != code[:-1])))
    enough = np.diff(np.append(start, len(code))) >= min_shared
    total = np.add.reduceat(shared, start)[enough]
    code = code[start[enough]]
    return code // n, code % n, total


def position_agreement(a: Sequence[Hashable], b: Sequence[Hashable]) -> float:
    """Share of the keys two sequences have in common that sit at about the same rank in both
    (ranks among the common keys, within max(1, 10%) of their count): a translation keeps its
    original's order up to local swaps ("412 millions" / "412 million", "l'estuaire de Velmora"
    / "the Velmora estuary"); another report of the story brings the names in another order."""
    common = set(a) & set(b)
    if not common:
        return 0.0
    ranks_a = [key for key in dict.fromkeys(a) if key in common]
    ranks_b = {key: i for i, key in enumerate(k for k in dict.fromkeys(b) if k in common)}
    slack = max(1.0, 0.1 * len(common))
    near = sum(1 for i, key in enumerate(ranks_a) if abs(i - ranks_b[key]) <= slack)
    return near / len(common)
