"""Dedup: REPAIRED documents of a night -> clusters of copies, linked to earlier nights (DEDUPED).

Input: the night's REPAIRED rows, and the dedup state of earlier nights (`data/state/dedup/`,
see `tasks.schema.DEDUP_STATE`). Output: DEDUPED rows (the same rows plus `content_sha256`,
`cluster_id`, `is_canonical`, `duplicate_of`, `similarity`, `method`) and tonight's state
partitions (signatures, keys, cluster merges, canonical changes).

Method. Text is normalised (NFKC, casefolded, word tokens) and cut into word 5-gram shingles, hashed
to 64 bits (`tasks.dedup.signatures`). Candidates are documents sharing a key: the normalised text
hash (exact copies) or a consistently sampled shingle (one in `sample_rate`), which finds copies
that were cut short, padded with junk lines or edited, whose Jaccard similarity is too low for
banded MinHash. Each candidate pair is verified on the exact shingle sets: containment (shared
shingles over the smaller set) >= `near_containment` with at least `min_shared` shared shingles;
that link is `near` (`exact` when the normalised texts are equal). The night's documents are matched
the same way against every earlier night through the stored keys. Groups of copies in different
languages are then linked as `translation` when their cross-lingual keys
(`tasks.dedup.crosslingual`: numbers, Latin-script names, cognate stems; keys of a site template
dropped, within the night and shared with earlier nights' pages of it) reach an IDF-weighted cosine
of `translation_min_cosine` (or of `translation_band_cosine` with at least
`translation_band_min_shared` shared keys in the same order in both texts) and each group is the
other's best match, among the documents of the last `translation_window_days` nights. Clusters are
the connected components of verified links (`tasks.dedup.linking`). The state's format
(`STATE_FORMAT`) is recorded beside it; earlier state of another format is refused
(`StateFormatError`).

Canonical policy, within a new cluster: the earliest `published_at` (unknown dates last), then a
document in the cluster's original language (the language of its earliest document, else its
most common one), then the longest text, then the smallest `doc_id`. A cluster published on an
earlier night keeps its `cluster_id` and canonical; tonight's copies join it as duplicates, and a
copy that the policy would prefer is recorded in the `canonical` state table instead. A night
that links two published clusters keeps the oldest id and records the other in `merges`.

The steps, one module each, run in this order by `dedup_night` over one night's table
(`tasks.dedup.nighttable`): signatures (`sign`), the earlier nights' documents that share keys
(`history`), candidates (`candidates`), verification (`verify`), clusters with translations
(`cluster`), canonical and fields (`assign`), the tables (`outputs`, `keys`); `commit_state`
(`state`) makes tonight's state the history of later nights after publish. This module holds the
entry points: `dedup_night`, `dedup_batch` (the stage contract) and `run_dedup` (files in, files
out, through `tasks.io`).

Quarantines nothing: every row comes out, as a canonical document or as a linked copy.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from tasks import io
from tasks.dedup.assign import Scores, assign
from tasks.dedup.candidates import earlier_pairs, tonight_pairs
from tasks.dedup.cluster import link_translations, near_groups
from tasks.dedup.config import DedupConfig
from tasks.dedup.history import Earlier, earlier_documents, match_earlier
from tasks.dedup.keys import KeyRows, key_rows, keys_table
from tasks.dedup.nighttable import night_table
from tasks.dedup.outputs import deduped_table, documents_table
from tasks.dedup.sign import Signed, sign, sign_table
from tasks.dedup.state import (
    STATE_FORMAT,
    StateFormatError,
    check_state_format,
    commit_state,
    staged_state,
)
from tasks.dedup.verify import start_links, verify_earlier, verify_tonight
from tasks.progress import plural
from tasks.runner import StageResult, run_stage
from tasks.schema import (
    DEDUP_CANONICAL,
    DEDUP_MERGES,
    DEDUP_STATE,
    DEDUPED,
    QUARANTINED,
    Split,
)

# The entry points' names, for the Prefect task, the flows and the benchmarks.
__all__ = [
    "STAGE",
    "STATE_FORMAT",
    "DedupConfig",
    "Earlier",
    "NightResult",
    "Signed",
    "StateFormatError",
    "check_state_format",
    "commit_state",
    "dedup_batch",
    "dedup_night",
    "match_earlier",
    "run_dedup",
    "sign",
    "sign_table",
    "staged_state",
]

STAGE = "dedup"


@dataclass
class NightResult:
    deduped: pa.Table
    documents: pa.Table
    keys: pa.Table
    merges: pa.Table
    canonical: pa.Table
    stats: dict[str, int]


def dedup_night(
    table: pa.Table,
    cfg: DedupConfig,
    *,
    run_date: str,
    earlier: Earlier | None = None,
    signed: Signed | None = None,
    ordered: KeyRows | None = None,
) -> NightResult:
    """Cluster the night's REPAIRED rows, matched against `earlier` nights' documents
    (`signed`, `ordered`: the rows' `sign_table` and `key_rows`, if already made): the steps
    of the module docstring, in order."""
    signed = signed or sign_table(table, cfg)
    earlier = earlier or Earlier()
    night = night_table(table, signed, earlier.rows)
    links = start_links(night)
    if night.n:
        pairs = tonight_pairs(signed.keys)
        links.stats["candidate_pairs"] += len(pairs)
        verify_tonight(links, pairs, signed, cfg)
    verify_earlier(links, earlier_pairs(night, earlier, cfg, links.stats), night, cfg)
    # Near groups (copies in one language) -> translation links between groups.
    groups = near_groups(links)
    translation = link_translations(links, groups, night, signed, cfg)
    scores = Scores(links.score, translation)
    done = assign(links.uf.groups(), night, groups, scores, run_date, cfg.run_id)
    fields = [done.fields[i] for i in range(night.n)]
    states = [done.states[i] for i in range(night.n)]
    stats = links.stats
    stats["clusters_new"] = sum(1 for f in fields if f["is_canonical"])
    stats["merges"] = len(done.merges)
    stats["canonical_changes"] = len(done.changes)
    doc_ids = [row["doc_id"] for row in night.tonight]
    return NightResult(
        deduped=deduped_table(table, fields),
        documents=documents_table(table, night.tonight, states, signed, cfg.run_id),
        keys=keys_table(ordered or key_rows(doc_ids, signed.keys), [s[0] for s in states]),
        merges=pa.Table.from_pylist(done.merges, schema=DEDUP_MERGES),
        canonical=pa.Table.from_pylist(done.changes, schema=DEDUP_CANONICAL),
        stats=dict(stats),
    )


def dedup_batch(batch: pa.Table, cfg: DedupConfig) -> Split:
    """DEDUPED rows for all REPAIRED rows of a night with no history (dedup needs the night
    whole; the task wrapper adds the earlier nights)."""
    result = dedup_night(batch, cfg, run_date="")
    return Split(result.deduped, QUARANTINED.empty_table())


def run_dedup(layout: io.Layout, cfg: DedupConfig, progress: Callable[[str], None]) -> StageResult:
    """Dedup the night's staged `repaired` dataset against the state of earlier nights; write
    the staged `deduped` dataset and tonight's state partitions (replacing a previous run's)."""
    started = time.monotonic()
    check_state_format(layout)
    source = layout.staged("repaired")
    total = io.dataset_rows(source)
    progress(f"dedup: clustering {plural(total, 'document')}")
    # Dedup compares every document with every other, so it reads the night whole.
    night = io.read_table(source)
    signed = sign_table(night, cfg)
    doc_ids = night.column("doc_id").to_pylist()
    ordered = key_rows(doc_ids, signed.keys)
    earlier = earlier_documents(layout, cfg, doc_ids, keys_table(ordered, [""] * len(doc_ids)))
    progress(
        f"dedup: {plural(len(earlier.rows), 'document')} of earlier nights share keys with"
        f" tonight's ({plural(len(earlier.shared_keys), 'candidate pair')} across nights)"
    )
    result = dedup_night(
        night, cfg, run_date=layout.run_date, earlier=earlier, signed=signed, ordered=ordered
    )
    stage = run_stage(
        stage=STAGE,
        dataset="deduped",
        fn=_passthrough,
        cfg=None,
        batches=[result.deduped],
        rows_in=total,
        kept_schema=DEDUPED,
        data_dir=layout.data_dir,
        kept_dir=layout.staged("deduped"),
        quarantine_dir=layout.staged_quarantine(STAGE),
        workers=0,
        # Only writes the clustered rows: the stage's own line below says what it did.
        progress=lambda _line: None,
    )
    # Tonight's state is staged, not yet state: later nights must only ever match against
    # published nights, so `commit_state` moves it into `state/dedup` after publish.
    for name, table in (
        ("documents", result.documents),
        ("keys", result.keys),
        ("merges", result.merges),
        ("canonical", result.canonical),
    ):
        io.write_partition(
            layout.data_dir, layout.staged(staged_state(name)), [table], DEDUP_STATE[name]
        )
    # The stage's time is the whole of it (signatures, history, clustering, writes), not only
    # the final write that run_stage timed.
    stage.seconds = round(time.monotonic() - started, 3)
    methods = Counter(m for m in result.deduped.column("method").to_pylist() if m)
    clusters = sum(result.deduped.column("is_canonical").to_pylist())
    progress(
        f"dedup: {plural(total, 'document')} -> {plural(clusters, 'story', 'stories')} and "
        f"{plural(sum(methods.values()), 'duplicate')}"
        + (f" ({', '.join(f'{n:,} {m}' for m, n in sorted(methods.items()))})" if methods else "")
        + f" in {stage.seconds:.1f} s"
    )
    stage.extra.update(
        clusters=clusters,
        duplicates=sum(methods.values()),
        methods=dict(sorted(methods.items())),
        **result.stats,
    )
    return stage


def _passthrough(batch: pa.Table, cfg: Any) -> Split:
    return Split(batch, QUARANTINED.empty_table())
