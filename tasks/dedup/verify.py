"""Dedup step 4, verify: candidate pairs -> near-copy links, the components they form.

Input: the candidate pairs (`tasks.dedup.candidates`) over one `NightTable`, and the thresholds
of `DedupConfig`. Output: `Links`: a union-find over the table's nodes (earlier documents of one
published cluster joined from the start), each node's best link score, and the counts of what
was skipped and why. A pair is linked when the two texts are equal (score 1.0) or their core
shingles pass `tasks.dedup.linking.near_verdict`; a pair already in one component is not
verified (no component changes), nor one of a site's pages (what they share is its template),
nor across nights a new revision of the same source. Pure; quarantines nothing.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from tasks.dedup.config import DedupConfig
from tasks.dedup.linking import UnionFind, near_verdict
from tasks.dedup.nighttable import NightTable
from tasks.dedup.sign import Signed
from tasks.dedup.templates import same_template
from tasks.hashing import I64, U64


@dataclass
class Links:
    """Verified links over a night's nodes: the components, each node's best score, counts."""

    uf: UnionFind
    score: dict[int, float] = field(default_factory=dict)
    stats: Counter[str] = field(default_factory=Counter)

    def link(self, a: int, b: int, score: float) -> None:
        self.uf.union(a, b)
        self.stats["near_links"] += 1
        for node in (a, b):
            self.score[node] = max(self.score.get(node, 0.0), score)


def start_links(night: NightTable) -> Links:
    """No link verified yet; the earlier documents of each published cluster already one
    component."""
    n = night.n
    uf = UnionFind(len(night))
    by_cluster: dict[str, int] = {}
    for j, row in enumerate(night.earlier):
        uf.union(by_cluster.setdefault(row["cluster_id"], n + j), n + j)
    return Links(uf)


def near(cfg: DedupConfig) -> Callable[[U64, U64], float | None]:
    """`near_verdict` with the thresholds of `cfg`."""
    return functools.partial(
        near_verdict,
        min_containment=cfg.near_containment,
        min_shared=cfg.min_shared,
        min_larger_share=cfg.min_larger_share,
    )


def verify_tonight(links: Links, pairs: I64, signed: Signed, cfg: DedupConfig) -> None:
    """Verify tonight's pairs (50,000-70,000 a night: the checks written out, a call per pair
    cost more than the verdicts)."""
    find, groups = links.uf.find, signed.groups
    shas, shingles, verdict = signed.content_sha256, signed.shingles, near(cfg)
    skipped = same_site = verified = 0
    for a, b in pairs.tolist():
        if find(a) == find(b):
            skipped += 1
            continue
        group = groups[a]
        if group is not None and group == groups[b]:
            # One site's pages: what they share is its template (tasks.dedup.templates).
            same_site += 1
            continue
        verified += 1
        if shas[a] == shas[b]:
            links.link(a, b, 1.0)
        elif (score := verdict(shingles[a], shingles[b])) is not None:
            links.link(a, b, score)
    for stat, count in (
        ("pairs_skipped_same_cluster", skipped),
        ("pairs_same_site", same_site),
        ("pairs_verified", verified),
    ):
        if count:
            links.stats[stat] += count


def verify_earlier(
    links: Links, pairs: Iterable[tuple[int, int]], night: NightTable, cfg: DedupConfig
) -> None:
    """Verify pairs of a tonight's node and an earlier one, in order."""
    stats, verdict = links.stats, near(cfg)
    for a, b in pairs:
        doc_a, doc_b = night.doc(a), night.doc(b)
        if links.uf.find(a) == links.uf.find(b):
            stats["pairs_skipped_same_cluster"] += 1
        elif doc_a["source"] == doc_b.get("source"):
            # A changed page at the same URL (or file at the same path) is a new revision of
            # the earlier one (tasks/revisions.py numbers it), not a copy of it.
            stats["pairs_same_source"] += 1
        elif same_template(
            doc_a["site"], doc_a["template_tags"], doc_b.get("site"), doc_b["template_tags"]
        ):
            # The same across nights: an earlier page of tonight's page's template.
            stats["pairs_same_site"] += 1
        else:
            stats["pairs_verified"] += 1
            if doc_a["content_sha256"] == doc_b["content_sha256"]:
                links.link(a, b, 1.0)
            elif (score := verdict(doc_a["shingles"], doc_b["shingles"])) is not None:
                links.link(a, b, score)
