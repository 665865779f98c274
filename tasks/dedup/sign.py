"""Dedup step 1, signatures: a night's REPAIRED rows -> per document what the other steps compare.

Input: the night's texts, sites and page template tags. Output (`Signed`, in input order): per
document the sha256 of its normalised text, its core shingles (`tasks.dedup.signatures`, minus
its site template's: `tasks.dedup.templates`), its candidate keys (sampled core shingles, then
the exact-text key), its template group, and its cross-lingual keys without its template's
(`tasks.dedup.crosslingual`, ids of `vocab`). A text that occurs more than once (exact copies:
2,300 of the 20,000 texts of syndication `large`) is signed once. Pure; quarantines nothing.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from tasks.dedup.arrowlists import list_arrays
from tasks.dedup.config import DedupConfig
from tasks.dedup.crosslingual import anchor_lists, template_free
from tasks.dedup.keylists import KeyLists, Vocabulary
from tasks.dedup.signatures import sample_threshold, shingle_sets
from tasks.dedup.templates import core_shingles, tag_hash_groups
from tasks.hashing import U64


@dataclass(frozen=True)
class Signed:
    """Per-document signatures of a night, in input order (see the module docstring)."""

    shingles: list[U64]
    keys: list[U64]
    content_sha256: list[str]
    groups: list[int | None]
    sites: list[str | None]
    template_tags: list[U64]
    vocab: Vocabulary
    # The cross-lingual keys in the order the text first uses them, without its template's.
    anchors: KeyLists


def exact_key(sha256_hex: str) -> int:
    """The 64-bit candidate key of a normalised-text hash (its first 8 bytes)."""
    return int(sha256_hex[:16], 16)


def candidate_keys(core: Sequence[U64], shas: Sequence[str], rate: int) -> list[U64]:
    """Per document its sampled core shingles (`sample_keys`, in order) then its exact key,
    laid out in one array for the whole night. Sampled one document at a time: the night's
    shingles in one array (and an owner for each) took twice as long, mostly to map in the
    memory of arrays of 8 million entries."""
    n = len(core)
    if n == 0:
        return []
    threshold = sample_threshold(rate)
    sampled = [c[c < threshold] for c in core]
    bounds = KeyLists.bounds_of(np.fromiter(map(len, sampled), np.int64, n) + 1)
    out = np.empty(int(bounds[-1]), np.uint64)
    ends = bounds[1:] - 1
    body = np.ones(len(out), bool)
    body[ends] = False
    out[body] = np.concatenate(sampled)
    out[ends] = np.fromiter((exact_key(sha) for sha in shas), np.uint64, n)
    edges = bounds.tolist()
    return [out[edges[d] : edges[d + 1]] for d in range(n)]


def sign(
    texts: Sequence[str],
    cfg: DedupConfig,
    *,
    sites: Sequence[str | None] | None = None,
    tags: Sequence[U64] | None = None,
) -> Signed:
    """Signatures of a night's texts. `tags`: per text the hashes of its page's tags
    (`page_templates`), for the pages whose site is unknown."""
    site_list = list(sites or [None] * len(texts))
    tag_sets = list(tags) if tags is not None else [np.empty(0, np.uint64)] * len(texts)
    # Each text's number among the distinct texts; those are NFKC-normalised once, for the
    # shingles and the cross-lingual keys.
    slot: dict[str, int] = {}
    index = [slot.setdefault(text, len(slot)) for text in texts]
    normal = [unicodedata.normalize("NFKC", text) for text in slot]
    shas, full = shingle_sets(normal, cfg.shingle_words, nfkc=True)
    strings, found = anchor_lists(normal, nfkc=True)
    groups = tag_hash_groups(site_list, tags)
    content_sha256 = [shas[k] for k in index]
    core = core_shingles([full[k] for k in index], groups)
    return Signed(
        shingles=core,
        keys=candidate_keys(core, content_sha256, cfg.sample_rate),
        content_sha256=content_sha256,
        groups=groups,
        sites=site_list,
        template_tags=tag_sets,
        vocab=Vocabulary(strings),
        anchors=template_free(found.take(index), groups),
    )


def page_templates(table: pa.Table) -> list[U64]:
    """Per REPAIRED row the hashes of its page's opening tags (`template_tags`, taken by the
    extract stage), which group the pages of one site whose URL is unknown; empty for plain text
    and for pages whose site is known (the site already groups them)."""
    hashes = list_arrays(table.column("template_tags"))
    empty = np.empty(0, np.uint64)
    return [
        empty if site else tags
        for site, tags in zip(table.column("site").to_pylist(), hashes, strict=True)
    ]


def sign_table(table: pa.Table, cfg: DedupConfig) -> Signed:
    """`sign` of a night's REPAIRED rows: their texts, sites and page templates."""
    return sign(
        table.column("text").to_pylist(),
        cfg,
        sites=table.column("site").to_pylist(),
        tags=page_templates(table),
    )
