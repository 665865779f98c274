"""Site templates for dedup: text a site repeats on its pages is its chrome, not a report.

Input: per document its `site` (from the URL, when known), the hashes of the opening tags of its
HTML page (`tasks.hashing.page_tags`, `tag_hashes`: the extract stage takes them; none for plain
text) and its sorted shingle hashes. Output: per document its "core" shingles: the shingles
minus those that another page of the same template group also has.

Why: when the extractor keeps part of a page's chrome (a sidebar story, a quote box, a footer
blurb), or returns the chrome alone, every page of that site carries the same block, and block
containment would merge unrelated reports that wear the same chrome (on the `large` syndication
set, before this rule, it chained the corpus into one cluster). A site does not publish the same
report twice, so text that two of its pages share is template. Template groups: pages with the
same `site`, joined with pages whose sets of opening tags mostly coincide (the same navigation
links, classes, scripts and fonts: the same site's template even when no URL names the site).
Pages with neither stay alone (grouping plain-text copies by shared junk lines was tried and
dropped: copies of one report that shared a generic line lost their whole text). Pure,
deterministic; quarantines nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise

import numpy as np
import numpy.typing as npt

from tasks.dedup.linking import UnionFind, candidate_pairs, overlap
from tasks.hashing import U64, sorted_unique

# A page's tags and their hashes live in the shared leaf `tasks.hashing` (the extract stage
# takes them); still importable from here for the callers that import them from dedup.
from tasks.hashing import page_tags as page_tags
from tasks.hashing import tag_hashes as tag_hashes

# Same-template pages of the `large` syndication set share 7-300 tags, 50-100% of them (each
# page's own URL and its #anchors differ); pages of two sites share a handful (social buttons, a
# CDN script, `<font size="3">`). 8 shared tags and 40% of the smaller set sits between the two;
# a page with fewer tags (a bare template with 7) must share all of them, and at least 3.
MIN_SHARED_LINKS = 8
MIN_LINK_CONTAINMENT = 0.4
MIN_LINKS = 3
# Across nights there is no night-wide count to drop everybody's tags with, so the share of the
# smaller set must be higher.
CROSS_NIGHT_TAG_CONTAINMENT = 0.5
# A link on more than this share of the night's pages (a CDN's jQuery, a share button) is
# everybody's, not one template's.
MAX_LINK_PAGES_SHARE = 0.05


def same_template(site_a: str | None, tags_a: U64, site_b: str | None, tags_b: U64) -> bool:
    """Whether two pages wear one site's template (across nights, without the night's DF
    filter: a stricter share of the smaller tag set, 0.5, than within a night)."""
    if site_a and site_a == site_b:
        return True
    small = min(len(tags_a), len(tags_b))
    if small == 0:
        return False
    shared = overlap(tags_a, tags_b)
    need = max(MIN_LINKS, min(MIN_SHARED_LINKS, small))
    return shared >= need and shared >= CROSS_NIGHT_TAG_CONTAINMENT * small


def tag_hash_groups(sites: Sequence[str | None], sets: Sequence[U64] | None) -> list[int | None]:
    """Group number per document (None: alone), from the pages' sites and tag hashes
    (`tag_hashes`, as the dedup state keeps them): pages with one `site`, joined with pages
    whose tag sets mostly coincide."""
    n = len(sites)
    uf = UnionFind(n)
    member = [False] * n
    first: dict[str, int] = {}
    for i, site in enumerate(sites):
        if site:
            j = first.setdefault(site, i)
            if j != i:
                uf.union(i, j)
                member[i] = member[j] = True
    if sets is not None and any(len(s) for s in sets):
        keys = np.concatenate(sets)
        owners = np.repeat(np.arange(n, dtype=np.int64), [len(s) for s in sets])
        values, counts = np.unique(keys, return_counts=True)
        pages = sum(1 for s in sets if len(s))
        common = values[counts > max(2, MAX_LINK_PAGES_SHARE * pages)]
        keep = ~np.isin(keys, common)
        # Each page's set without the common tags: one isin over all pages, split back.
        kept = keys[keep]
        bounds = np.searchsorted(owners[keep], np.arange(n + 1)).tolist()
        sets = [kept[bounds[i] : bounds[i + 1]] for i in range(n)]
        pairs = candidate_pairs(keys[keep], owners[keep])
        size = np.diff(bounds)
        small = np.minimum(size[pairs[:, 0]], size[pairs[:, 1]])
        shared = _overlaps(sets, pairs)
        need = np.maximum(MIN_LINKS, np.minimum(MIN_SHARED_LINKS, small))
        # Every passing pair is joined: one already in a group changes nothing.
        for a, b in pairs[(shared >= need) & (shared >= MIN_LINK_CONTAINMENT * small)].tolist():
            uf.union(a, b)
            member[a] = member[b] = True
    return [uf.find(i) if member[i] else None for i in range(n)]


def _overlaps(sets: Sequence[U64], pairs: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """`overlap` of each pair of sets (rows of `pairs`, sorted by their first set): a page's
    partners' sets are searched in it at once (on syndication `large`, 40,000 pairs of 3,400
    pages: a tenth of the calls)."""
    out = np.zeros(len(pairs), np.int64)
    if not len(pairs):
        return out
    first = pairs[:, 0]
    runs = np.flatnonzero(np.concatenate(([True], first[1:] != first[:-1])))
    edges = np.append(runs, len(pairs)).tolist()
    partners = pairs[:, 1].tolist()
    for lo, hi in pairwise(edges):
        own = sets[first[lo]]
        theirs = [sets[b] for b in partners[lo:hi]]
        lengths = np.fromiter(map(len, theirs), np.int64, hi - lo)
        if not len(own) or not lengths.sum():
            continue
        values = np.concatenate(theirs)
        hit = own.take(own.searchsorted(values), mode="clip") == values
        ends = np.cumsum(lengths)
        counts = np.concatenate(([0], np.cumsum(hit)))
        out[lo:hi] = counts[ends] - counts[ends - lengths]
    return out


def core_shingles(shingles: Sequence[U64], groups: Sequence[int | None]) -> list[U64]:
    """Each document's shingles minus those another document of its group also has."""
    out = list(shingles)
    by_group: dict[int, list[int]] = {}
    for i, group in enumerate(groups):
        if group is not None:
            by_group.setdefault(group, []).append(i)
    for docs in by_group.values():
        # Each document's shingles are distinct: a value met twice is in two documents.
        values = np.sort(np.concatenate([shingles[i] for i in docs]))
        template = sorted_unique(values[1:][values[1:] == values[:-1]])
        if len(template) == 0:
            continue
        for i in docs:
            # Membership by binary search: for a few hundred values, far cheaper than np.isin.
            own = shingles[i]
            out[i] = own[template.take(template.searchsorted(own), mode="clip") != own]
    return out
