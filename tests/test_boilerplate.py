import numpy as np

from tasks.boilerplate import core_shingles, template_groups


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
