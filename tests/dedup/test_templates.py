import numpy as np

from tasks.dedup.templates import core_shingles, tag_hash_groups
from tasks.hashing import page_tags, tag_hashes


def template_groups(sites, tags=None):
    return tag_hash_groups(sites, None if tags is None else [tag_hashes(t) for t in tags])


def test_groups_are_sites_with_more_than_one_page():
    assert template_groups(["a.example", None, "b.example", "a.example", ""]) == [
        0,
        None,
        None,
        0,
        None,
    ]


def test_core_drops_what_pages_of_one_site_share_and_nothing_else():
    sidebar = list(range(100, 150))
    one = np.array(sorted([*range(0, 40), *sidebar]), dtype=np.uint64)
    two = np.array(sorted([*range(60, 90), *sidebar]), dtype=np.uint64)
    copy_elsewhere = np.array(sorted(range(0, 40)), dtype=np.uint64)
    core = core_shingles([one, two, copy_elsewhere], [0, 0, None])
    assert core[0].tolist() == list(range(0, 40))
    assert core[1].tolist() == list(range(60, 90))
    assert core[2].tolist() == list(range(0, 40))


def test_core_equals_set_arithmetic_on_random_groups():
    # Groups of 1-4 documents, empty ones, values shared by three, the largest 64-bit values.
    rng = np.random.default_rng(3)
    top = 2**64 - 1
    sets = [
        {int(v) for v in rng.choice(50, size=rng.integers(0, 20), replace=False)}
        | ({top} if rng.random() < 0.3 else set())
        for _ in range(40)
    ]
    groups = [int(g) if g < 12 else None for g in rng.integers(0, 16, size=len(sets))]
    arrays = [np.array(sorted(s), dtype=np.uint64) for s in sets]
    core = core_shingles(arrays, groups)
    for i, own in enumerate(sets):
        others = set().union(
            *(
                sets[j]
                for j in range(len(sets))
                if j != i and groups[j] is not None and groups[j] == groups[i]
            )
        )
        assert core[i].dtype == np.uint64 and core[i].tolist() == sorted(own - others), i


def _page(article: str, own_url: str) -> bytes:
    nav = "".join(f'<li><a href="/section/{i}">Section {i}</a></li>' for i in range(12))
    return (
        f'<html><head><link rel="canonical" href="{own_url}"><link rel="stylesheet" '
        f'href="/static/gazette.css"></head><body><ul class="gazette-nav">{nav}</ul>'
        f'<div class="story"><p>{article}</p></div><div class="gazette-sidebar">Most read</div>'
        "</body></html>"
    ).encode()


def test_pages_with_one_template_are_grouped_without_a_site():
    one = page_tags(_page("The pier was approved.", "https://gazette.example/a"))
    two = page_tags(_page("Fishers protested.", "https://gazette.example/b"))
    other = page_tags(b'<html><body><div class="main"><a href="/home">Home</a></div></body></html>')
    assert '<div class="gazette-sidebar">' in one and '<a href="/section/3">' in one
    groups = template_groups([None, None, None], [one, two, other])
    assert groups[0] == groups[1] is not None and groups[2] is None
    assert template_groups([None, None], [[], []]) == [None, None]


def test_pair_overlaps_at_once_equal_one_pair_at_a_time():
    from tasks.dedup.linking import overlap
    from tasks.dedup.templates import _overlaps

    rng = np.random.default_rng(11)
    pool = rng.integers(0, 2**63, 60).astype(np.uint64)
    sets = [np.unique(rng.choice(pool, int(rng.integers(0, 30)))) for _ in range(40)]
    sets[3] = np.empty(0, np.uint64)
    pairs = np.array(sorted({tuple(sorted(rng.choice(40, 2, replace=False))) for _ in range(300)}))
    want = [overlap(sets[a], sets[b]) for a, b in pairs.tolist()]
    assert _overlaps(sets, pairs).tolist() == want
    assert sum(want) > 100 and 0 in want
    assert _overlaps(sets, np.zeros((0, 2), np.int64)).tolist() == []
