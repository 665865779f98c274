"""Dedup: REPAIRED documents of a night -> clusters of copies with one canonical each (DEDUPED).

Input: REPAIRED rows. Output: the same rows plus `content_sha256` (sha256 of the normalised
text: NFKC, casefolded, word tokens joined by one space), `cluster_id`, `is_canonical`,
`duplicate_of` (the canonical `doc_id`), `similarity` and `method` (`exact` when the normalised
text equals the canonical's, `near` otherwise).

Method: documents with the same `content_sha256` are exact copies. One representative per hash
gets a MinHash signature over word 5-gram shingles (datasketch); MinHash LSH proposes candidate
pairs, and each candidate is verified on the exact shingle sets (Jaccard >= `near_threshold`)
before it links two documents. Clusters are the connected components of verified links
(union-find). Canonical policy: earliest `published_at` (unknown dates last), then the longest
text, then the smallest `doc_id`, so the choice is deterministic.

Quarantines nothing: every row comes out, as a canonical document or as a linked copy.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pyarrow as pa
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from tasks import io
from tasks.runner import StageResult, run_stage
from tasks.schema import DEDUPED, QUARANTINED, Split

STAGE = "dedup"

_WORD = re.compile(r"\w+", re.UNICODE)


@dataclass(frozen=True)
class DedupConfig:
    run_id: str
    num_perm: int = 128
    shingle_words: int = 5
    # LSH is tuned below the verification threshold so that it proposes the pairs verification
    # will accept (an LSH threshold equal to the verified one loses pairs just above it).
    lsh_threshold: float = 0.5
    # Word 5-gram Jaccard of 0.7 is the near-duplicate threshold the syndication baselines use.
    near_threshold: float = 0.7
    seed: int = 1


def normalise(text: str) -> list[str]:
    """Word tokens of the NFKC-normalised, casefolded text."""
    return _WORD.findall(unicodedata.normalize("NFKC", text).casefold())


def content_hash(tokens: list[str]) -> str:
    return hashlib.sha256(" ".join(tokens).encode("utf-8")).hexdigest()


def shingles(tokens: list[str], size: int) -> set[str]:
    if len(tokens) < size:
        return {" ".join(tokens)} if tokens else set()
    return {" ".join(tokens[i : i + size]) for i in range(len(tokens) - size + 1)}


def jaccard(a: set[str], b: set[str]) -> float:
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)


class _UnionFind:
    def __init__(self, items: list[str]) -> None:
        self.parent = {item: item for item in items}

    def find(self, item: str) -> str:
        root = item
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[item] != root:
            self.parent[item], item = root, self.parent[item]
        return root

    def union(self, a: str, b: str) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def _canonical_key(row: dict[str, Any]) -> tuple[Any, ...]:
    published: datetime | None = row["published_at"]
    return (published is None, published or datetime.min, -row["text_length"], row["doc_id"])


def cluster_id_for(canonical_doc_id: str) -> str:
    return "c" + hashlib.sha256(f"cluster\x1f{canonical_doc_id}".encode()).hexdigest()[:20]


def link_documents(rows: list[dict[str, Any]], cfg: DedupConfig) -> dict[str, dict[str, Any]]:
    """doc_id -> dedup fields for every row (see the module docstring)."""
    from datasketch import MinHash, MinHashLSH

    tokens = {row["doc_id"]: normalise(row["text"]) for row in rows}
    hashes = {doc: content_hash(toks) for doc, toks in tokens.items()}
    uf = _UnionFind(sorted(tokens))

    representative: dict[str, str] = {}
    for doc in sorted(tokens):
        rep = representative.setdefault(hashes[doc], doc)
        if rep != doc:
            uf.union(rep, doc)

    shingle_sets = {
        doc: shingles(tokens[doc], cfg.shingle_words) for doc in representative.values()
    }
    lsh = MinHashLSH(threshold=cfg.lsh_threshold, num_perm=cfg.num_perm)
    signatures = {}
    for doc in sorted(shingle_sets):
        sig = MinHash(num_perm=cfg.num_perm, seed=cfg.seed)
        sig.update_batch([s.encode("utf-8") for s in shingle_sets[doc]])
        signatures[doc] = sig
        lsh.insert(doc, sig)
    for doc in sorted(signatures):
        for other in sorted(lsh.query(signatures[doc])):
            if other <= doc:
                continue
            if jaccard(shingle_sets[doc], shingle_sets[other]) >= cfg.near_threshold:
                uf.union(doc, other)

    by_id = {row["doc_id"]: row for row in rows}
    members: dict[str, list[str]] = {}
    for doc in sorted(tokens):
        members.setdefault(uf.find(doc), []).append(doc)

    out: dict[str, dict[str, Any]] = {}
    for group in members.values():
        canonical = min(group, key=lambda d: _canonical_key(by_id[d]))
        cluster = cluster_id_for(canonical)
        canon_shingles = shingle_sets.get(representative[hashes[canonical]], set())
        for doc in group:
            fields: dict[str, Any] = {
                "content_sha256": hashes[doc],
                "cluster_id": cluster,
                "is_canonical": doc == canonical,
                "duplicate_of": None,
                "similarity": None,
                "method": None,
            }
            if doc != canonical:
                if hashes[doc] == hashes[canonical]:
                    fields.update(duplicate_of=canonical, similarity=1.0, method="exact")
                else:
                    own = shingle_sets[representative[hashes[doc]]]
                    fields.update(
                        duplicate_of=canonical,
                        method="near",
                        similarity=round(jaccard(own, canon_shingles), 4),
                    )
            out[doc] = fields
    return out


def dedup_batch(batch: pa.Table, cfg: DedupConfig) -> Split:
    """DEDUPED rows for all REPAIRED rows of a night (dedup needs the whole night at once)."""
    rows = batch.to_pylist()
    links = link_documents(rows, cfg)
    for row in rows:
        row.update(links[row["doc_id"]])
    return Split(pa.Table.from_pylist(rows, schema=DEDUPED), QUARANTINED.empty_table())


# --------------------------------------------------------------------------- Prefect task


# NO_CACHE: output depends on the staged input files, not on these arguments.
@task(name="dedup", cache_policy=NO_CACHE)
def dedup_task(layout: io.Layout, cfg: DedupConfig) -> StageResult:
    logger = get_run_logger()
    source = layout.staged("repaired")
    total = io.dataset_rows(source)
    logger.info("dedup: clustering %d documents", total)
    # Dedup compares every document with every other, so it reads the night whole.
    result = run_stage(
        stage=STAGE,
        dataset="deduped",
        fn=dedup_batch,
        cfg=cfg,
        batches=[io.read_table(source)],
        rows_in=total,
        kept_schema=DEDUPED,
        data_dir=layout.data_dir,
        kept_dir=layout.staged("deduped"),
        quarantine_dir=layout.staged_quarantine(STAGE),
        workers=0,
        progress=logger.info,
    )
    canonical = io.read_table(layout.staged("deduped"), columns=["is_canonical", "method"])
    methods = canonical.column("method").drop_null().to_pylist()
    result.extra.update(
        clusters=sum(canonical.column("is_canonical").to_pylist()),
        duplicates=len(methods),
        methods={m: methods.count(m) for m in sorted(set(methods))},
    )
    return result
