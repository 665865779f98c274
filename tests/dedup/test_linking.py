import numpy as np

from tasks.dedup.keylists import KeyLists, Vocabulary
from tasks.dedup.linking import (
    UnionFind,
    candidate_pairs,
    containment,
    containments,
    near_verdict,
    overlap,
    position_agreement,
    translation_matches,
    unlikely_near,
)


def _u(values):
    return np.array(sorted(values), dtype=np.uint64)


def test_candidate_pairs_star_and_chain_within_each_key():
    keys = np.array([7, 7, 7, 7, 9, 9, 5], dtype=np.uint64)
    owners = np.array([3, 1, 2, 0, 4, 1, 6], dtype=np.int64)
    pairs = {tuple(p) for p in candidate_pairs(keys, owners).tolist()}
    # key 7 held by 0,1,2,3: star from 0 and chain; key 9 by 1,4; key 5 alone.
    assert pairs == {(0, 1), (0, 2), (0, 3), (1, 2), (2, 3), (1, 4)}
    assert candidate_pairs(np.array([1, 1], dtype=np.uint64), np.array([2, 2])).size == 0


def test_overlap_and_containment():
    a, b = _u(range(0, 100)), _u(range(50, 300))
    assert overlap(a, b) == overlap(b, a) == 50
    assert containment(a, b) == 0.5
    assert containment(a, _u([])) == 0.0
    # Hashes past the larger set's last one, and the largest 64-bit values, match nothing.
    top = 2**64 - 1
    assert overlap(_u([5, 400, 500]), b) == 0 and overlap(_u([7, top]), _u([1, 2, 3, 7])) == 1
    assert overlap(_u([top - 1, top]), _u([1, top])) == 1


def test_containments_are_each_sets_containment_in_the_reference():
    rng = np.random.default_rng(5)
    ref = np.unique(rng.integers(0, 400, 150, dtype=np.uint64))
    sets = [np.unique(rng.integers(0, 400, k, dtype=np.uint64)) for k in (0, 1, 40, 300, 0, 7)]
    sets.append(_u([2**64 - 1]))
    assert containments(sets, ref) == [containment(s, ref) for s in sets]
    assert containments(sets, _u([])) == [0.0] * len(sets)
    assert containments([], ref) == []


def test_a_pair_is_unlikely_near_only_when_its_keys_are_far_too_few_for_its_sizes():
    floors = {"min_containment": 0.5, "min_shared": 20, "min_larger_share": 0.25}

    def unlikely(keys, small, large, tail=1e-3):
        return unlikely_near(keys, small, large, rate=8, tail=tail, **floors)

    # Two 400-shingle texts: a copy shares 200 shingles or more, ~25 keys; 1 or 10 is too few.
    assert unlikely(1, 400, 400) and unlikely(10, 400, 400)
    assert not unlikely(18, 400, 400) and not unlikely(25, 400, 400)
    # A short text needs only 20 shared shingles (2.5 keys): one shared key is plenty.
    assert not unlikely(1, 30, 30) and not unlikely(0, 30, 30)
    # The larger text's floor counts too: a short text against a 4,000-shingle page.
    assert unlikely(3, 30, 4000) and not unlikely(3, 30, 100)
    assert not unlikely(1, 400, 400, tail=0.0)
    # Long texts: many keys, a mean of 850 (no underflow of the Poisson terms).
    assert not unlikely(800, 13_600, 13_600) and unlikely(700, 13_600, 13_600)


def test_near_verdict_needs_containment_size_and_a_share_of_the_larger_text():
    article = _u(range(1000, 1200))
    truncated = _u(range(1000, 1100))  # half of it
    padded = _u([*range(1000, 1200), *range(5000, 5100)])  # junk lines added
    kwargs = {"min_containment": 0.5, "min_shared": 20, "min_larger_share": 0.25}
    assert near_verdict(article, truncated, **kwargs) == 1.0
    assert near_verdict(article, padded, **kwargs) == 1.0
    junk = _u([*range(5000, 5030), *range(9000, 9020)])  # a short text of junk lines
    assert near_verdict(padded, junk, **kwargs) is None  # 30 shared < 25% of 300
    few = _u(range(1000, 1010))
    assert near_verdict(article, few, **kwargs) is None  # 10 shared < 20
    other = _u([*range(1000, 1060), *range(2000, 2140)])
    assert near_verdict(article, other, **kwargs) is None  # containment 0.3


def test_union_find_roots_are_smallest_members():
    uf = UnionFind(5)
    assert uf.union(3, 1) and uf.union(4, 3) and not uf.union(1, 4)
    assert uf.find(4) == 1
    assert uf.groups() == {0: [0], 1: [1, 3, 4], 2: [2]}


def keys(profiles):
    """Key sets as `KeyLists` (ids of one vocabulary)."""
    return Vocabulary().lists([sorted(p) for p in profiles])


def _filler(n):
    # Groups with keys of their own, so that the shared keys are rare (IDF over the groups).
    return [frozenset({f"f{i}a", f"f{i}b"}) for i in range(n)]


def test_translation_matches_link_mutual_best_of_different_languages():
    report = frozenset({"#42", "ostmere", "tollefsen", "~harbo", "~ferri", "~budge"})
    translation = frozenset({"#42", "ostmere", "tollefsen", "~harbo", "~ferri", "~autom"})
    # Another report of the same story: the same names and number, other words.
    other = frozenset({"#42", "ostmere", "tollefsen", "~prote", "~moori"})
    profiles = [report, translation, other, *_filler(40)]
    langs = ["en", "fr", "en", *["de"] * 40]
    found = translation_matches(
        keys(profiles), langs, max_df_share=0.1, min_shared=4, min_cosine=0.2
    )
    assert [(a, b) for a, b, _ in found] == [(0, 1)]
    assert 0.2 <= found[0][2] <= 1


def test_translation_matches_need_different_languages_and_enough_shared_keys():
    same = frozenset({"#42", "ostmere", "tollefsen", "~harbo"})
    profiles = [same, same, same - {"~harbo"}, *_filler(40)]
    langs = ["en", "en", "fr", *["de"] * 40]
    # 0 and 1 share a language; 2 shares only 3 keys with either.
    assert (
        translation_matches(keys(profiles), langs, max_df_share=0.1, min_shared=4, min_cosine=0.2)
        == []
    )
    assert translation_matches(
        keys(profiles), langs, max_df_share=0.1, min_shared=3, min_cosine=0.2
    )
    # A group without a language is never linked.
    assert not translation_matches(
        keys(profiles),
        ["en", None, None, *["de"] * 40],
        max_df_share=0.1,
        min_shared=3,
        min_cosine=0.2,
    )


def test_translation_matches_link_every_group_tied_for_best():
    # Two groups of copies of one report (which near verification kept apart) score the same
    # against its translation: both are its best match.
    report = frozenset({"#42", "ostmere", "tollefsen", "~harbo", "~ferri"})
    profiles = [report, report, report | {"~autom"}, *_filler(40)]
    langs = ["en", "en", "fr", *["de"] * 40]
    found = translation_matches(
        keys(profiles), langs, max_df_share=0.1, min_shared=4, min_cosine=0.2
    )
    assert [(a, b) for a, b, _ in found] == [(0, 2), (1, 2)]


def test_position_agreement_forgives_local_swaps_not_another_order():
    original = ["velmora", "#412", "~milli", "arlen", "ilse", "varnholt", "#2020", "~publi"]
    swapped = ["#412", "velmora", "arlen", "~milli", "ilse", "#2020", "varnholt", "~publi"]
    assert position_agreement(original, original) == 1.0
    assert position_agreement(original, swapped) == 1.0
    other_report = ["#2020", "~publi", "varnholt", "ilse", "velmora", "arlen", "#412"]
    assert position_agreement(original, other_report) < 0.5
    # Keys of one side only do not count; nothing in common agrees on nothing.
    assert position_agreement([*original, "x"], ["y", *original]) == 1.0
    assert position_agreement(["a"], ["b"]) == 0.0


def test_pairs_sharing_keys_are_counted_as_every_pair_of_holders_would():
    import itertools
    import random

    from tasks.dedup.linking import _sharing_pairs

    rng = random.Random(7)
    profiles = [sorted(rng.sample(range(40), rng.randint(0, 25))) for _ in range(60)]
    langs = [rng.choice(["en", "fr", "de", None]) for _ in profiles]
    weight = np.array([rng.random() for _ in range(40)])
    for min_shared in (1, 4, 9):
        expected = [
            (a, b, sum(weight[k] for k in set(profiles[a]) & set(profiles[b])))
            for a, b in itertools.combinations(range(len(profiles)), 2)
            if None not in (langs[a], langs[b])
            and langs[a] != langs[b]
            and len(set(profiles[a]) & set(profiles[b])) >= min_shared
        ]
        a, b, shared = _sharing_pairs(KeyLists.of(profiles), langs, weight, min_shared)
        assert list(zip(a.tolist(), b.tolist(), strict=True)) == [(x, y) for x, y, _ in expected]
        assert np.allclose(shared, [w for _, _, w in expected])
        assert len(expected) > 5
