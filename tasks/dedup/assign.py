"""Dedup step 6, assign: each cluster's canonical, and each of tonight's documents its fields.

Input: the clusters (components of `tasks.dedup.verify.Links` after translations) over one
`NightTable`, the near groups, the link and translation scores. Output (`Assignment`): per
tonight's document its DEDUPED fields (`cluster_id`, `is_canonical`, `duplicate_of`,
`similarity`, `method`) and its state (cluster, first night, canonical and the canonical's
date, language and length); the published clusters a night merges; the canonical changes it
would make. Canonical policy, within a new cluster: the earliest `published_at` (unknown dates
last), then a document in the cluster's original language (the language of its earliest
document, else its most common one), then the longest text, then the smallest `doc_id`. A
cluster published on an earlier night keeps its `cluster_id` and canonical; tonight's copies
join it, and a copy that the policy would prefer is recorded as a canonical change instead; a
night that links two published clusters keeps the oldest id and records the other as merged.
Pure; quarantines nothing.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tasks.dedup.cluster import NearGroups
from tasks.dedup.linking import containments
from tasks.dedup.nighttable import NightTable

# Per tonight's document: its cluster, the cluster's first night, its canonical doc_id and the
# canonical's (published_at, lang, text_length).
State = tuple[str, str, str, tuple[Any, ...]]


@dataclass
class Assignment:
    """What `assign` gives tonight's documents (by node) and the published clusters."""

    fields: dict[int, dict[str, Any]] = field(default_factory=dict)
    states: dict[int, State] = field(default_factory=dict)
    merges: list[dict[str, Any]] = field(default_factory=list)
    changes: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class Canonical:
    """A cluster's id and first night, its canonical (`node` None: an earlier night's document)
    with the canonical's text hash, language, (published_at, lang, text_length), and near group."""

    cluster: str
    first_night: str
    doc_id: str
    node: int | None
    sha: str | None
    lang: str | None
    meta: tuple[Any, ...]
    group: int


@dataclass(frozen=True)
class Scores:
    """The evidence for the fields: each node's best near link, each group's best translation."""

    link: dict[int, float]
    translation: dict[int, float]


def cluster_id_for(canonical_doc_id: str) -> str:
    return "c" + hashlib.sha256(f"cluster\x1f{canonical_doc_id}".encode()).hexdigest()[:20]


def original_lang(langs: Sequence[str | None], dates: Sequence[datetime | None]) -> str | None:
    """The language of the earliest dated document, else the most common one."""
    dated = [(d, lang) for d, lang in zip(dates, langs, strict=True) if d is not None and lang]
    if dated:
        return min(dated, key=lambda x: (x[0], x[1]))[1]
    counts = Counter(lang for lang in langs if lang)
    if not counts:
        return None
    return min(counts, key=lambda lang: (-counts[lang], lang))


def canonical_key(
    published_at: datetime | None,
    lang: str | None,
    text_length: int,
    doc_id: str,
    original: str | None,
) -> tuple[Any, ...]:
    """Sort key of the canonical policy: smallest wins (see the module docstring)."""
    return (
        published_at is None,
        published_at or datetime.min,
        original is not None and lang != original,
        -text_length,
        doc_id,
    )


def assign(
    clusters: dict[int, list[int]],
    night: NightTable,
    groups: NearGroups,
    scores: Scores,
    run_date: str,
    run_id: str,
) -> Assignment:
    """The fields of tonight's documents, cluster by cluster."""
    out = Assignment()
    for members in clusters.values():
        tonight = [x for x in members if x < night.n]
        if not tonight:
            continue
        old = [x for x in members if x >= night.n]
        docs = [night.doc(x) for x in members]
        original = original_lang([d["lang"] for d in docs], [d["published_at"] for d in docs])

        def key(node: int, original: str | None = original) -> tuple[Any, ...]:
            r = night.doc(node)
            return canonical_key(
                r["published_at"], r["lang"], r["text_length"], r["doc_id"], original
            )

        best = min(tonight, key=key)
        if old:
            canon = published(night, groups, old, tonight, out, run_id)
            published_at, lang, length = canon.meta
            published_key = canonical_key(published_at, lang, length, canon.doc_id, original)
            if key(best) < published_key:
                out.changes.append(change(night.doc(best), canon, original, run_id))
        else:
            canon = new_canonical(night, groups, best, run_date)
        document_fields(night, groups, scores, tonight, canon, out)
    return out


def new_canonical(night: NightTable, groups: NearGroups, best: int, run_date: str) -> Canonical:
    """A new cluster, its canonical tonight's `best`."""
    r = night.doc(best)
    return Canonical(
        cluster=cluster_id_for(r["doc_id"]),
        first_night=run_date,
        doc_id=r["doc_id"],
        node=best,
        sha=r["content_sha256"],
        lang=r["lang"],
        meta=(r["published_at"], r["lang"], r["text_length"]),
        group=groups.group_of[best],
    )


def published(
    night: NightTable,
    groups: NearGroups,
    old: list[int],
    tonight: list[int],
    out: Assignment,
    run_id: str,
) -> Canonical:
    """A cluster that holds earlier nights' documents: it keeps the oldest published cluster
    (and its canonical); the others it links are recorded as merged into it."""
    by_cluster = {(night.doc(x)["cluster_run_date"], night.doc(x)["cluster_id"]): x for x in old}
    old_clusters = sorted(by_cluster.items())
    (first_night, cluster), keeper = old_clusters[0]
    ref = night.doc(keeper)
    via = night.doc(min(tonight))["doc_id"]
    for (_, other), _node in old_clusters[1:]:
        out.merges.append(
            {"cluster_id": other, "merged_into": cluster, "via_doc_id": via, "run_id": run_id}
        )
    sha = None
    for x in old:
        if night.doc(x)["doc_id"] == ref["canonical_doc_id"]:
            sha = night.doc(x)["content_sha256"]
    return Canonical(
        cluster=cluster,
        first_night=first_night,
        doc_id=ref["canonical_doc_id"],
        node=None,
        sha=sha,
        lang=ref["canonical_lang"],
        meta=(ref["canonical_published_at"], ref["canonical_lang"], ref["canonical_text_length"]),
        # Its near group is the one holding the earlier documents of the kept cluster.
        group=groups.group_of[keeper],
    )


def change(
    row: dict[str, Any], canon: Canonical, original: str | None, run_id: str
) -> dict[str, Any]:
    """The canonical change that tonight's `row` would make to a published cluster."""
    return {
        "cluster_id": canon.cluster,
        "published_canonical": canon.doc_id,
        "preferred_canonical": row["doc_id"],
        "reason": why_better(row, canon.meta, original),
        "run_id": run_id,
    }


def why_better(row: dict[str, Any], meta: tuple[Any, ...], original: str | None) -> str:
    published_at, lang, length = meta
    if row["published_at"] is not None and (
        published_at is None or row["published_at"] < published_at
    ):
        return "earlier_publication"
    if original is not None and lang != original and row["lang"] == original:
        return "original_language"
    if row["text_length"] > length:
        return "more_complete"
    return "tie_break"


def document_fields(
    night: NightTable,
    groups: NearGroups,
    scores: Scores,
    tonight: list[int],
    canon: Canonical,
    out: Assignment,
) -> None:
    """Each of tonight's documents of a cluster: canonical, or a copy of it (exact, translation
    or near, with its similarity: a near copy's containment in a canonical of tonight, else its
    best near link)."""
    near_copies: list[int] = []
    group_of = groups.group_of
    for x in tonight:
        doc = night.doc(x)
        is_canonical = x == canon.node
        fields: dict[str, Any] = {
            "content_sha256": doc["content_sha256"],
            "cluster_id": canon.cluster,
            "is_canonical": is_canonical,
            "duplicate_of": None if is_canonical else canon.doc_id,
            "similarity": None,
            "method": None,
        }
        out.fields[x] = fields
        out.states[x] = (canon.cluster, canon.first_night, canon.doc_id, canon.meta)
        if is_canonical:
            continue
        if canon.sha is not None and doc["content_sha256"] == canon.sha:
            fields.update(similarity=1.0, method="exact")
        elif group_of[x] != canon.group and doc["lang"] != canon.lang:
            best = max(
                scores.translation.get(group_of[x], 0.0),
                scores.translation.get(canon.group, 0.0),
            )
            fields.update(method="translation", similarity=round(best, 4))
        elif canon.node is not None:
            near_copies.append(x)  # its containment in the canonical, below
        else:
            sim = scores.link.get(x, 0.0)
            fields.update(method="near", similarity=round(min(1.0, sim), 4))
    if canon.node is not None and near_copies:
        sims = containments(
            [night.doc(x)["shingles"] for x in near_copies], night.doc(canon.node)["shingles"]
        )
        for x, sim in zip(near_copies, sims, strict=True):
            out.fields[x].update(method="near", similarity=round(min(1.0, sim), 4))
