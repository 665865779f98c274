"""Dedup step 5, cluster: near groups -> clusters, joined by translation links.

Input: the verified near links (`tasks.dedup.verify.Links`) over one `NightTable`, and the
cross-lingual keys (`tasks.dedup.sign.Signed.anchors`; the earlier documents' as stored). The
near groups (copies in one language) are profiled by the keys at least half of their documents
carry, without the keys that a page of the same site template carries on another night; groups
of different languages are linked as translations when `translation_matches` pairs them (mutual
best, IDF-weighted cosine) and `translation_verdict` keeps the pair (cosine, or the band with
enough shared keys in the same order). Output: the near groups, each group's best translation
score, and the links added to the union-find, whose components are the clusters. Pure;
quarantines nothing.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from tasks.dedup.config import DedupConfig
from tasks.dedup.crosslingual import template_free
from tasks.dedup.keylists import KeyLists
from tasks.dedup.linking import position_agreement, translation_matches
from tasks.dedup.nighttable import NightTable
from tasks.dedup.sign import Signed
from tasks.dedup.templates import tag_hash_groups
from tasks.dedup.verify import Links
from tasks.hashing import sorted_counts


@dataclass(frozen=True)
class NearGroups:
    """The near groups (components of the near links) by root, and each node's group root."""

    members: dict[int, list[int]]
    group_of: dict[int, int]


def near_groups(links: Links) -> NearGroups:
    groups = links.uf.groups()
    return NearGroups(groups, {node: root for root, nodes in groups.items() for node in nodes})


def link_translations(
    links: Links, groups: NearGroups, night: NightTable, signed: Signed, cfg: DedupConfig
) -> dict[int, float]:
    """Join the near groups that are translations of each other (in `links`); each linked
    group's best translation score. Only groups with something new tonight can gain a
    translation link tonight."""
    keys = template_free_across_nights(signed, night)
    roots = sorted(groups.members)
    profiles = component_profiles(keys, [groups.members[r] for r in roots])
    position = {r: i for i, r in enumerate(roots)}
    langs = {r: group_lang(night, groups.members[r]) for r in roots}
    n, scores = night.n, dict[int, float]()
    for a, b, score in translation_links(roots, profiles, langs, cfg):
        if a >= n and b >= n:
            continue
        shared = set(profiles[position[a]].tolist()) & set(profiles[position[b]].tolist())
        order = position_agreement(
            group_order(keys, groups.members[a], shared),
            group_order(keys, groups.members[b], shared),
        )
        if not translation_verdict(score, order, len(shared), cfg):
            links.stats["translation_rejected"] += 1
            continue
        if links.uf.union(a, b):
            links.stats["translation_links"] += 1
        for g in (a, b):
            scores[g] = max(scores.get(g, 0.0), score)
    return scores


def group_lang(night: NightTable, members: Sequence[int]) -> str | None:
    """A group's most common language (ties: the smallest code)."""
    counts = Counter(lang for x in members if (lang := night.doc(x)["lang"]))
    return min(counts, key=lambda k: (-counts[k], k)) if counts else None


def group_order(keys: KeyLists, members: Sequence[int], shared: set[int]) -> list[int]:
    """The order of a group's keys: that of its document holding most of the `shared` keys."""

    def held(node: int) -> int:
        return sum(1 for key in keys[node].tolist() if key in shared)

    node = min(members, key=lambda x: (-held(x), x))
    order: list[int] = keys[node].tolist()
    return order


def template_free_across_nights(signed: Signed, night: NightTable) -> KeyLists:
    """Cross-lingual keys of tonight's documents, then of the earlier ones (ids of
    `signed.vocab`, in text order), without the keys that a page of the same site template on
    another night also carries (`tasks.dedup.crosslingual.template_free` over tonight's and the
    earlier pages together).

    Within a night `sign` already drops a template's keys, but a site with one page tonight
    and one on an earlier night kept its chrome on both: on syndication `large` cut into 4
    nights, two copies of different reports in one site's chrome shared 119 keys (cosine 0.67)
    and were linked as translations. An earlier page from the same source as one of tonight's
    (a revision of the page, `tasks.revisions`) is left out: what the two share is the report.
    """
    if not night.earlier:
        return signed.anchors
    sources = {row["source"] for row in night.tonight}
    tags = list(signed.template_tags)
    sites = list(signed.sites)
    none = np.empty(0, np.uint64)
    for row in night.earlier:
        revision = row.get("source") in sources
        sites.append(None if revision else row.get("site"))
        tags.append(none if revision else row["template_tags"])
    groups = tag_hash_groups(sites, tags)
    before = signed.vocab.lists([row["anchors"] or [] for row in night.earlier])
    return template_free(KeyLists.concat([signed.anchors, before]), groups)


def component_profiles(keys: KeyLists, groups: Sequence[Sequence[int]]) -> KeyLists:
    """Per group (of documents of `keys`) the keys that at least half of its documents carry,
    in id order: a site's chrome (one copy's footer, another's nav) drops out, the report's own
    numbers and names stay. A document's keys are distinct, so a key's count in a group is the
    number of its documents that carry it (exact copies count once each)."""
    sizes = np.fromiter(map(len, groups), np.int64, len(groups))
    taken = keys.take(np.concatenate(groups) if groups else np.zeros(0, np.int64))
    if not len(taken.ids):
        return KeyLists(taken.ids, np.zeros(len(groups) + 1, np.int64))
    group = np.repeat(np.arange(len(groups), dtype=np.int64), sizes)[taken.owners()]
    width = int(taken.ids.max()) + 1
    values, counts = sorted_counts(group * width + taken.ids)
    values = values[counts >= (sizes[values // width] + 1) // 2]
    owner = values // width
    return KeyLists(values % width, np.searchsorted(owner, np.arange(len(groups) + 1)))


def translation_links(
    groups: Sequence[int],
    profiles: KeyLists,
    langs: dict[int, str | None],
    cfg: DedupConfig,
) -> list[tuple[int, int, float]]:
    """Candidate (group, group, cosine) links between groups of different languages
    (`tasks.dedup.linking.translation_matches` with the thresholds of `cfg`; `profiles[i]` is group
    `groups[i]`'s): those under `translation_min_cosine` still need the order check of
    `translation_verdict`."""
    found = translation_matches(
        profiles,
        [langs[g] for g in groups],
        max_df_share=cfg.anchor_max_df_share,
        min_shared=cfg.translation_min_shared,
        min_cosine=cfg.translation_band_cosine,
        idf_prior=cfg.translation_idf_prior,
    )
    return [(groups[i], groups[j], score) for i, j, score in found]


def translation_verdict(score: float, order: float, shared: int, cfg: DedupConfig) -> bool:
    """Whether a candidate translation link (mutual best, `score` its cosine, `shared` keys in
    common) is kept: at `translation_min_cosine`, or in the band from `translation_band_cosine`
    with enough shared keys in the same order in both texts (`order`:
    `tasks.dedup.linking.position_agreement`)."""
    if score >= cfg.translation_min_cosine:
        return True
    return (
        score >= cfg.translation_band_cosine
        and order >= cfg.translation_min_order
        and shared >= cfg.translation_band_min_shared
    )
