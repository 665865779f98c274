"""Dedup: REPAIRED documents of a night -> clusters of copies, linked to earlier nights (DEDUPED).

Input: the night's REPAIRED rows, and the dedup state of earlier nights (`data/state/dedup/`,
see `tasks.schema.DEDUP_STATE`). Output: DEDUPED rows (the same rows plus `content_sha256`,
`cluster_id`, `is_canonical`, `duplicate_of`, `similarity`, `method`) and tonight's state
partitions (signatures, keys, cluster merges, canonical changes).

Method. Text is normalised (NFKC, casefolded, word tokens) and cut into word 5-gram shingles,
hashed to 64 bits (`tasks.dedup.signatures`). Candidates are documents sharing a key: the normalised
text hash (exact copies) or a consistently sampled shingle (one in `sample_rate`), which finds
copies that were cut short, padded with junk lines or edited, whose Jaccard similarity is too
low for banded MinHash. Each candidate pair is verified on the exact shingle sets: containment
(shared shingles over the smaller set) >= `near_containment` with at least `min_shared` shared
shingles; that link is `near` (`exact` when the normalised texts are equal). The night's
documents are matched the same way against every earlier night through the stored keys. Groups
of copies in different languages are then linked as `translation` when their cross-lingual keys
(`tasks.dedup.crosslingual`: numbers, Latin-script names, cognate stems; keys of a site template dropped,
within the night and shared with earlier nights' pages of it) reach an IDF-weighted cosine of
`translation_min_cosine` (or of `translation_band_cosine` with at least
`translation_band_min_shared` shared keys in the same order in both texts) and each group is
the other's best match, among the documents of the last `translation_window_days` nights.
Clusters are the connected components of verified links (`tasks.dedup.linking`). The state's format
(`STATE_FORMAT`) is recorded beside it; earlier state of another format is refused
(`StateFormatError`).

Canonical policy, within a new cluster: the earliest `published_at` (unknown dates last), then a
document in the cluster's original language (the language of its earliest document, else its
most common one), then the longest text, then the smallest `doc_id`. A cluster published on an
earlier night keeps its `cluster_id` and canonical; tonight's copies join it as duplicates, and a
copy that the policy would prefer is recorded in the `canonical` state table instead. A night
that links two published clusters keeps the oldest id and records the other in `merges`.

Quarantines nothing: every row comes out, as a canonical document or as a linked copy.
"""

from __future__ import annotations

import functools
import gc
import hashlib
import multiprocessing
import os
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Generic, ParamSpec, TypeVar

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from tasks import io
from tasks.dedup.crosslingual import ANCHORS_VERSION, KeyLists, Vocabulary, end_night, template_free
from tasks.dedup.linking import (
    UnionFind,
    candidate_pairs,
    containments,
    near_verdict,
    position_agreement,
    translation_matches,
    unlikely_near,
)
from tasks.dedup.signatures import (
    U64,
    anchor_chunk,
    sample_threshold,
    shingle_chunk,
    sorted_counts,
)
from tasks.dedup.templates import (
    core_shingles,
    same_template,
    tag_hash_groups,
)
from tasks.progress import plural
from tasks.runner import StageResult, run_stage
from tasks.schema import (
    DEDUP_CANONICAL,
    DEDUP_DOCUMENTS,
    DEDUP_KEYS,
    DEDUP_MERGES,
    DEDUP_STATE,
    DEDUPED,
    QUARANTINED,
    Split,
)
from tasks.workers import exit_with_parent

STAGE = "dedup"
P = ParamSpec("P")
R = TypeVar("R")
# Keys are spread over this many buckets; a night joins the history one bucket at a time, so
# the state held in memory at once is 1/KEY_BUCKETS of the stored keys.
KEY_BUCKETS = 64
# Documents per signing task: big enough that process hand-off is a small share of the work,
# small enough that the two processes finish close together (a worker is handed one chunk at a
# time, so this process waits at most for the one it is signing).
# On syndication `large` in 2 processes (dedup_night, best of 4): 250 3.64 s, 500 3.73 s,
# 1,000 3.58 s (the same within the noise).
SIGN_CHUNK = 500
# Nights smaller than this sign in one process: a spawned worker takes 0.3 s or more to reach
# its first task (more on a loaded machine), while signing takes about 0.1 ms a document. On
# the first documents of syndication `large`, `dedup_night` in one and two processes (best of 4):
# 2,500 0.65 and 0.67 s, 5,000 1.30 and 1.18 s, 10,000 2.38 and 1.92 s.
PARALLEL_MIN_DOCS = 5_000


@dataclass(frozen=True)
class DedupConfig:
    run_id: str
    shingle_words: int = 5
    # One shingle in 8 becomes a candidate key: a 150-word article gets ~18 keys, so a copy
    # that keeps half of it still shares ~9 with the original (P(no shared key) < 0.1%).
    sample_rate: int = 8
    # Calibrated on the shared `small` syndication set: true copies (truncated to half, lead or
    # paragraphs dropped, junk lines added) reach containment 0.47-1.0; different reports of the
    # same story, including the hard negatives, stay below 0.35 (the benchmark's builder keeps
    # different articles under 20% 4-gram containment). 0.5 sits between the two.
    near_containment: float = 0.5
    # A few shared shingles (a common phrase, a junk line) never make a copy on their own: 20
    # is about one sentence of shared wording.
    min_shared: int = 20
    # The shared part must also be a fair share of the larger text. A copy keeps at least half
    # of its report, so even a half copy of a page carrying as much chrome again as article
    # shares ~25% of it; unrelated pages sharing junk lines share under 20% (`small` and
    # `large` syndication sets, measured on the false links that 0.5 containment alone let in).
    min_larger_share: float = 0.25
    # Translations (`tasks.dedup.linking.translation_matches`): groups of copies in different
    # languages whose cross-lingual keys (`tasks.dedup.crosslingual`) share at least
    # `translation_min_shared` keys, each the other's best match, are linked when the
    # IDF-weighted cosine of their keys reaches `translation_min_cosine`, or when it reaches
    # `translation_band_cosine` and the shared keys come in the same order in both
    # (`position_agreement` >= `translation_min_order`). Calibrated on the shared `small` and
    # `large` syndication sets (extracted and repaired text) with their gold groups. Cosine
    # alone: on `large`, 0.2 links 0.82 of the translation pairs and merges no hard-negative
    # cluster pair; 0.18 links 0.83 but merges 3 of 156 (different reports of one story share
    # names, numbers and topic words), 0.22 links 0.73; on `small`, 0.64 at 0.2. The order
    # check on the band 0.1-0.2 adds translations told in the same order (large 0.85, small
    # 0.74) and still merges no hard negative at 0.9 (at 0.7 it merged one on `large`). A
    # minimum of 4 shared keys (3 lets in pairs that share a few numbers only) and the
    # mutual-best rule (a margin over the second best did not separate hard negatives, which
    # are mutual best matches with wide margins) were chosen on the same runs.
    translation_min_cosine: float = 0.2
    translation_band_cosine: float = 0.1
    translation_min_order: float = 0.9
    translation_min_shared: int = 4
    # The order check is evidence only when a chance order would rarely pass it: with the
    # rank slack of `position_agreement` (1 for up to 19 shared keys), a random order of 4
    # shared keys passes 0.9 one time in 5 (5 of 24 orders), of 6 one in 55, of 7 one in 240.
    # On `large` cut into 4 nights, 5 of the 10 wrong band links shared 4-7 keys, and no right
    # one fewer than 9: cross-language pair precision 0.826 -> 0.852 (one night 0.987 -> 0.989),
    # translation recall unchanged (0.819 -> 0.820; one night 0.853), the same for 6 to 10.
    translation_band_min_shared: int = 7
    # IDF as if this many more groups carried none of the keys: a night of five documents
    # weighs keys like a night of hundreds (the figures above do not move between 0 and 300).
    translation_idf_prior: int = 100
    # Keys that more than this share of the groups carry ("#2019", `~gover`) say nothing.
    anchor_max_df_share: float = 0.05
    # Translations are looked for among the documents of the last 7 nights (arrival, not the
    # page's `published_at`: on the syndication sets the dates that pages show for one report
    # differ by years, the page's chrome date more often than the report's; a 7-day veto on
    # them lost 0.33 of the translation recall on `large`).
    translation_window_days: int = 7
    # A candidate pair with an earlier night's document that shares so few sampled keys that a
    # copy would share that few with probability under this (`tasks.dedup.linking.unlikely_near`) is
    # not verified. On syndication `large` cut into 3 nights, 90% of the third night's 137k
    # history pairs failed verification, most sharing one or two keys with a long document;
    # 1e-3 skips 57% of those, and the passing pairs' own probabilities were all above 0.03.
    history_key_tail: float = 1e-3
    # Processes for the signatures (0 or 1: in this process).
    workers: int = 0


# --------------------------------------------------------------------------- signatures


# The REPAIRED columns that clustering reads row by row (source, canonical policy, state).
ROW_COLUMNS = [
    "doc_id",
    "source_path",
    "record_index",
    "url",
    "site",
    "lang",
    "published_at",
    "text_length",
]


@dataclass
class Signed:
    """Per-document signatures of a set of documents, in input order. `shingles` are the core
    shingles (site template removed, see `tasks.dedup.templates`); `groups` the template groups.

    The cross-lingual keys come last: a worker process computes them while this one clusters
    on the shingles, and `vocab` and `anchors` wait for them (this process takes the chunks
    left). Use as a context manager, or `close` it: that stops the worker if they were never
    asked for."""

    shingles: list[U64]
    keys: list[U64]
    content_sha256: list[str]
    groups: list[int | None]
    sites: list[str | None]
    template_tags: list[U64]
    signing: _Signing | None = field(default=None, repr=False)
    cross: tuple[Vocabulary, KeyLists] | None = field(default=None, repr=False)

    @property
    def vocab(self) -> Vocabulary:
        return self._cross()[0]

    @property
    def anchors(self) -> KeyLists:
        """The cross-lingual keys (ids into `vocab`) in the order the text first uses them,
        without those of its site template."""
        return self._cross()[1]

    def _cross(self) -> tuple[Vocabulary, KeyLists]:
        if self.cross is None:
            if self.signing is None:
                raise RuntimeError("the cross-lingual keys were asked for after close()")
            vocab, found = self.signing.anchors()
            self.close()
            self.cross = (vocab, template_free(found, self.groups))
        return self.cross

    def close(self) -> None:
        if self.signing is not None:
            self.signing.close()
            self.signing = None

    def __enter__(self) -> Signed:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def exact_key(sha256_hex: str) -> int:
    """The 64-bit candidate key of a normalised-text hash (its first 8 bytes)."""
    return int(sha256_hex[:16], 16)


def _candidate_keys(core: Sequence[U64], shas: Sequence[str], rate: int) -> list[U64]:
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


def _without_gc(fn: Callable[P, R]) -> Callable[P, R]:
    """Run `fn` with Python's cyclic garbage collector paused (restored after, also on error).

    Dedup allocates millions of small containers (anchor sets, rows, links), none of them in a
    reference cycle, and each collection walks them all again: on syndication `large` the
    collector took 0.7-1.4 s of a night's 10.3-11.7 s of CPU. Nothing is leaked: what is
    garbage is freed by reference counting as usual, and collection resumes on return.
    """

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        was_enabled = gc.isenabled()
        gc.disable()
        try:
            return fn(*args, **kwargs)
        finally:
            if was_enabled:
                gc.enable()

    return wrapper


def _in_thread(fn: Callable[[], R]) -> Future[R]:
    """`fn()` run in a thread of its own, beside this one (numpy's sorts and Arrow's kernels
    release the GIL while they work)."""
    side = ThreadPoolExecutor(max_workers=1)
    try:
        return side.submit(fn)
    finally:
        side.shutdown(wait=False)  # the thread ends with `fn`


@contextmanager
def _main_module_hidden() -> Iterator[None]:
    """Processes spawned meanwhile do not re-import the main module: under the `wiredesk` CLI
    that is the CLI, hence Prefect (3-4 s before a worker's first task; measured with
    `run_dedup` on syndication `large`, two processes were then no faster than one)."""
    main = sys.modules["__main__"]
    path = main.__dict__.pop("__file__", None)
    try:
        yield
    finally:
        if path is not None:
            main.__file__ = path


Anchored = tuple[str, KeyLists]
T = TypeVar("T")


class _Signing:
    """The per-document signatures of a night's texts, in two passes over chunks of its
    distinct texts (`SIGN_CHUNK` each): `shingles` (normalised-text hash and shingles,
    `tasks.dedup.signatures.shingle_chunk`) with the template groups (`tasks.dedup.templates.
    tag_hash_groups` of the sites and page tag hashes), then `anchors` (the cross-lingual keys,
    `tasks.dedup.signatures.anchor_chunk`).

    With `workers` > 1 and a big night, `workers - 1` spawned processes take the templates and
    the chunks of each pass first to last, while this process takes chunks from the last one
    back until every chunk is taken: both share the work, and the result is the same. The
    second pass starts in the workers as soon as the first is done, while this process
    clusters on the shingles; it takes the chunks left when `anchors` is called (on
    syndication `large`, the clustering up to the translations took 0.9 s, alone on one core
    before). Each process's chunks share what they meet (the night token). A text that occurs
    more than once (exact copies: 2,300 of the 20,000 texts of syndication `large`) is signed
    once, and its copies get the same signatures (the same objects; nothing changes them)."""

    def __init__(self, texts: Sequence[str], shingle_words: int, workers: int) -> None:
        self.texts = texts
        self.night = uuid.uuid4().hex
        self.size = shingle_words
        self.workers = workers - 1 if workers > 1 and len(texts) >= PARALLEL_MIN_DOCS else 0
        self.pool: ProcessPoolExecutor | None = None
        # Each text's number among the distinct texts, and those in chunks (`_find_copies`).
        self.index: list[int] = []
        self.chunks: list[list[str]] = []
        # Per chunk its texts' NFKC forms, once the shingles are done.
        self.normal: list[list[str]] | None = None
        # The passes' chunks handed to the workers (none in one process).
        self.fronts: list[_Front[Any]] = []
        self.second: _Front[Anchored] | None = None

    def shingles(
        self, sites: Sequence[str | None], tags: Sequence[U64] | None
    ) -> tuple[list[str], list[U64], list[int | None]]:
        """Per text its normalised-text hash and shingles, and its template group."""
        size, night = self.size, self.night
        if not self.workers:
            chunks = self._find_copies()
            parts = {i: shingle_chunk(chunk, size, night) for i, chunk in enumerate(chunks)}
            groups = tag_hash_groups(sites, tags)
        else:
            # spawn, not fork: see tasks.runner. The tasks live in `tasks.dedup.signatures` and
            # `tasks.dedup.templates`, so a worker imports those light modules, not this one (which
            # imports Prefect: seconds).
            self.pool = ProcessPoolExecutor(
                max_workers=self.workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=exit_with_parent,
                initargs=(os.getpid(),),
            )
            # A worker starts at its first submit (the first one before this process looks
            # for copies); they need nothing from the main module.
            with _main_module_hidden():
                grouping = self.pool.submit(tag_hash_groups, sites, tags)
            chunks = self._find_copies()
            with _main_module_hidden():
                first = _Front(
                    self.pool, shingle_chunk, [(c, size, night) for c in chunks], self.workers
                )
            self.fronts.append(first)
            parts = first.finish(lambda i: shingle_chunk(chunks[i], size, night))
            groups = grouping.result()
        shas: list[str] = []
        shingles: list[U64] = []
        self.normal = []
        for i, chunk in enumerate(chunks):
            shas += parts[i][0]
            shingles += parts[i][1]
            changed = parts[i][2]
            self.normal.append([changed.get(k, text) for k, text in enumerate(chunk)])
        if self.pool is not None:
            args = [(normal, night) for normal in self.normal]
            self.second = _Front(self.pool, anchor_chunk, args, self.workers)
            self.fronts.append(self.second)
        return [shas[k] for k in self.index], [shingles[k] for k in self.index], groups

    def _find_copies(self) -> list[list[str]]:
        slot: dict[str, int] = {}
        self.index = [slot.setdefault(text, len(slot)) for text in self.texts]
        distinct = list(slot)
        self.chunks = [distinct[i : i + SIGN_CHUNK] for i in range(0, len(distinct), SIGN_CHUNK)]
        return self.chunks

    def anchors(self) -> tuple[Vocabulary, KeyLists]:
        """Per text its cross-lingual keys in text order (after `shingles`)."""
        normal = self.normal
        if normal is None:
            raise RuntimeError("the cross-lingual keys come after the shingles")

        def here(i: int) -> Anchored:
            return anchor_chunk(normal[i], self.night)

        if self.second is None:
            parts = {i: here(i) for i in range(len(self.chunks))}
        else:
            parts = self.second.finish(here)
        vocab, found = _joined(parts)
        return vocab, found.take(self.index)

    def close(self) -> None:
        """Stop the workers (a chunk under way ends on its own) and let the night go."""
        for front in self.fronts:
            front.stop()
        if self.pool is not None:
            # Not waited for: a worker ends its chunk under way, then exits.
            self.pool.shutdown(wait=False, cancel_futures=True)
            self.pool = None
        end_night(self.night)


class _Front(Generic[T]):
    """The chunks the workers take, first to last, handed out one at a time per worker: each
    finished chunk submits the next (a pool queues what it is given past cancelling, and the
    last chunks a worker had queued made this process wait on it for up to three chunks)."""

    def __init__(
        self,
        pool: Executor,
        fn: Callable[..., T],
        args: Sequence[tuple[Any, ...]],
        n: int,
    ) -> None:
        self._pool, self._fn, self._args = pool, fn, args
        self._lock = threading.Lock()
        self._next, self._end = 0, len(args)
        self._futures: dict[int, Future[T]] = {}
        for _ in range(n):
            self._submit()

    def _submit(self, done: Future[T] | None = None) -> None:
        if done is not None and done.exception() is not None:
            return  # raised by `finish`
        with self._lock:
            if self._next >= self._end:
                return
            i, self._next = self._next, self._next + 1
            future = self._pool.submit(self._fn, *self._args[i])
            self._futures[i] = future
        future.add_done_callback(self._submit)

    def take_last(self) -> int | None:
        """The last chunk nobody took (for this process), or None when all are taken."""
        with self._lock:
            if self._next >= self._end:
                return None
            self._end -= 1
            return self._end

    def finish(self, here: Callable[[int], T]) -> dict[int, T]:
        """Every chunk's result: those nobody took yet by `here` in this process, last first,
        then the workers'."""
        parts: dict[int, T] = {}
        while (i := self.take_last()) is not None:
            parts[i] = here(i)
        parts.update({i: future.result() for i, future in sorted(self._futures.items())})
        return parts

    def stop(self) -> None:
        """Hand out no more chunks."""
        with self._lock:
            self._end = self._next


def _joined(parts: dict[int, Anchored]) -> tuple[Vocabulary, KeyLists]:
    """The chunks' cross-lingual keys in chunk order, renumbered into one vocabulary in the
    order the chunks first use them (the same ids whichever process signed which chunk). The
    chunks' key strings are split and matched in Arrow (a dictionary encoding): a dict lookup
    per string took 0.15 s of a `large` night, with both processes waiting on it."""
    joined: list[str] = []
    lists: list[KeyLists] = []
    count = 0
    for i in sorted(parts):
        words, found = parts[i]
        lists.append(KeyLists(found.ids + count, found.bounds))
        if words:  # no key is empty: "" is a chunk without keys
            joined.append(words)
            count += words.count("\x00") + 1
    strings = pc.list_flatten(pc.split_pattern(pa.array(joined, pa.large_string()), "\x00"))
    encoded = strings.dictionary_encode()
    number = encoded.indices.to_numpy().astype(np.int64)
    found = KeyLists.concat(lists)
    vocab = Vocabulary(encoded.dictionary.to_pylist())
    return vocab, KeyLists(number[found.ids], found.bounds)


@_without_gc
def sign(
    texts: Sequence[str],
    cfg: DedupConfig,
    *,
    sites: Sequence[str | None] | None = None,
    tags: Sequence[U64] | None = None,
) -> Signed:
    """Signatures of a night's texts; with `cfg.workers` > 1 and enough texts, the per-document
    part uses that many processes (same result: it is per document; see `_Signing`). `tags`:
    per text the hashes of its page's tags (`template_tags`), for the pages whose site is
    unknown. The cross-lingual keys may still be under way: close the result (`Signed`)."""
    site_list = list(sites or [None] * len(texts))
    tag_sets = list(tags) if tags is not None else [np.empty(0, np.uint64)] * len(texts)
    signing = _Signing(texts, cfg.shingle_words, cfg.workers)
    try:
        shas, full, groups = signing.shingles(site_list, tags)
        core = core_shingles(full, groups)
        keys = _candidate_keys(core, shas, cfg.sample_rate)
    except BaseException:
        signing.close()
        raise
    return Signed(
        shingles=core,
        keys=keys,
        content_sha256=shas,
        groups=groups,
        sites=site_list,
        template_tags=tag_sets,
        signing=signing,
    )


def sign_table(table: pa.Table, cfg: DedupConfig) -> Signed:
    """`sign` of a night's REPAIRED rows: their texts, sites and page templates."""
    return sign(
        table.column("text").to_pylist(),
        cfg,
        sites=table.column("site").to_pylist(),
        tags=page_templates(table),
    )


# --------------------------------------------------------------------------- earlier nights


@dataclass
class Earlier:
    """Documents of earlier nights that tonight's keys matched (DEDUP_DOCUMENTS rows), plus the
    candidate pairs (tonight's index, index in `rows`) found by the key join."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    pairs: list[tuple[int, int]] = field(default_factory=list)
    # The sampled keys each pair shares (a pair missing here is always verified).
    shared_keys: dict[tuple[int, int], int] = field(default_factory=dict)


def source_key(row: dict[str, Any]) -> str:
    """The source of a document across nights: its URL, else its inbox path and record."""
    return row.get("url") or f"{row['source_path']}#{row['record_index']}"


def cluster_id_for(canonical_doc_id: str) -> str:
    return "c" + hashlib.sha256(f"cluster\x1f{canonical_doc_id}".encode()).hexdigest()[:20]


def _original_lang(langs: Sequence[str | None], dates: Sequence[datetime | None]) -> str | None:
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


@dataclass
class NightResult:
    deduped: pa.Table
    documents: pa.Table
    keys: pa.Table
    merges: pa.Table
    canonical: pa.Table
    stats: dict[str, int]


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
    `dedup_night`."""
    found = translation_matches(
        profiles,
        [langs[g] for g in groups],
        max_df_share=cfg.anchor_max_df_share,
        min_shared=cfg.translation_min_shared,
        min_cosine=cfg.translation_band_cosine,
        idf_prior=cfg.translation_idf_prior,
    )
    return [(groups[i], groups[j], score) for i, j, score in found]


def _template_free_across_nights(
    signed: Signed, rows: Sequence[dict[str, Any]], earlier: Sequence[dict[str, Any]]
) -> KeyLists:
    """Cross-lingual keys of tonight's documents, then of the `earlier` ones (ids of
    `signed.vocab`, in text order), without the keys that a page of the same site template on
    another night also carries (`tasks.dedup.crosslingual.template_free` over tonight's and the earlier
    pages together).

    Within a night `sign` already drops a template's keys, but a site with one page tonight
    and one on an earlier night kept its chrome on both: on syndication `large` cut into 4
    nights, two copies of different reports in one site's chrome shared 119 keys (cosine 0.67)
    and were linked as translations. An earlier page from the same source as one of tonight's
    (a revision of the page, `tasks.revisions`) is left out: what the two share is the report.
    """
    if not earlier:
        return signed.anchors
    sources = {source_key(row) for row in rows}
    tags = list(signed.template_tags)
    sites = list(signed.sites)
    for row in earlier:
        revision = row.get("source") in sources
        sites.append(None if revision else row.get("site"))
        tags.append(np.empty(0, np.uint64) if revision else _earlier_tags(row))
    groups = tag_hash_groups(sites, tags)
    before = signed.vocab.lists([row["anchors"] or [] for row in earlier])
    return template_free(KeyLists.concat([signed.anchors, before]), groups)


def _earlier_tags(row: dict[str, Any]) -> U64:
    """An earlier night's document's page tag hashes (DEDUP_DOCUMENTS `template_tags`)."""
    return np.asarray(row.get("template_tags") or [], dtype=np.uint64)


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


@_without_gc
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
    (`signed`, `ordered`: the rows' `sign_table` and `key_rows`, if already made; the caller
    closes a `signed` it gives)."""
    if signed is None:
        # Signed first: a worker process starts as soon as there is something to give it.
        with sign_table(table, cfg) as signed:
            return dedup_night(
                table, cfg, run_date=run_date, earlier=earlier, signed=signed, ordered=ordered
            )
    earlier = earlier or Earlier()
    # As Python rows, only the columns the clustering reads (not the text: tens of MB a night).
    rows = table.select(ROW_COLUMNS).to_pylist()
    n, m = len(rows), len(earlier.rows)
    stats: Counter[str] = Counter()

    # Nodes 0..n-1 are tonight's documents, n..n+m-1 the matched earlier ones.
    uf = UnionFind(n + m)
    by_cluster: dict[str, int] = {}
    for j, er in enumerate(earlier.rows):
        first = by_cluster.setdefault(er["cluster_id"], n + j)
        uf.union(first, n + j)
    link_score: dict[int, float] = {}

    def shingles_of(node: int) -> U64:
        if node < n:
            return signed.shingles[node]
        return np.asarray(earlier.rows[node - n]["shingles"], dtype=np.uint64)

    def sha_of(node: int) -> str:
        return signed.content_sha256[node] if node < n else earlier.rows[node - n]["content_sha256"]

    def template_of(node: int) -> tuple[str | None, U64]:
        if node < n:
            return signed.sites[node], signed.template_tags[node]
        row = earlier.rows[node - n]
        return row.get("site"), _earlier_tags(row)

    def source_of(node: int) -> str | None:
        return source_key(rows[node]) if node < n else earlier.rows[node - n].get("source")

    groups = signed.groups
    near = functools.partial(
        near_verdict,
        min_containment=cfg.near_containment,
        min_shared=cfg.min_shared,
        min_larger_share=cfg.min_larger_share,
    )

    def verdict(a: int, b: int) -> float | None:
        """The score of a and b as near copies (1.0 for the same text), or None."""
        if sha_of(a) == sha_of(b):
            return 1.0
        return near(shingles_of(a), shingles_of(b))

    def link(a: int, b: int, score: float) -> None:
        uf.union(a, b)
        stats["near_links"] += 1
        for node in (a, b):
            link_score[node] = max(link_score.get(node, 0.0), score)

    def verify(a: int, b: int) -> None:
        """Link tonight's a and an earlier b (b >= n) if they pass."""
        if uf.find(a) == uf.find(b):
            stats["pairs_skipped_same_cluster"] += 1
        elif source_of(a) == source_of(b):
            # A changed page at the same URL (or file at the same path) is a new revision of
            # the earlier one (tasks/revisions.py numbers it), not a copy of it.
            stats["pairs_same_source"] += 1
        elif same_template(*template_of(a), *template_of(b)):
            # The same across nights: an earlier page of tonight's page's template.
            stats["pairs_same_site"] += 1
        else:
            stats["pairs_verified"] += 1
            score = verdict(a, b)
            if score is not None:
                link(a, b, score)

    if n:
        owners = np.repeat(np.arange(n, dtype=np.int64), [len(k) for k in signed.keys])
        pairs = candidate_pairs(np.concatenate(signed.keys), owners)
        stats["candidate_pairs"] += len(pairs)
        # Tonight's pairs (50,000-70,000 a night), their checks written out: `verify` per pair
        # cost more than the verdicts.
        find, shas, shingles = uf.find, signed.content_sha256, signed.shingles
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
                link(a, b, 1.0)
            elif (score := near(shingles[a], shingles[b])) is not None:
                link(a, b, score)
        for stat, count in (
            ("pairs_skipped_same_cluster", skipped),
            ("pairs_same_site", same_site),
            ("pairs_verified", verified),
        ):
            if count:
                stats[stat] += count
    for i, j in sorted(earlier.pairs):
        stats["candidate_pairs_earlier"] += 1
        keys_shared = earlier.shared_keys.get((i, j))
        if keys_shared is not None and unlikely_near(
            keys_shared,
            *sorted((len(shingles_of(i)), len(shingles_of(n + j)))),
            rate=cfg.sample_rate,
            min_containment=cfg.near_containment,
            min_shared=cfg.min_shared,
            min_larger_share=cfg.min_larger_share,
            tail=cfg.history_key_tail,
        ):
            stats["pairs_too_few_keys"] += 1
            continue
        verify(i, n + j)

    # Near groups (copies in one language) -> translation links between groups.
    near_groups = uf.groups()
    group_of = {node: root for root, members in near_groups.items() for node in members}

    def lang_of(node: int) -> str | None:
        return rows[node]["lang"] if node < n else earlier.rows[node - n]["lang"]

    def date_of(node: int) -> datetime | None:
        return rows[node]["published_at"] if node < n else earlier.rows[node - n]["published_at"]

    translation_score: dict[int, float] = {}

    def cluster_outputs(
        members: list[int],
    ) -> tuple[dict[int, dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
        """A cluster's fields for each of tonight's documents in it, the earlier clusters it
        merges, and the change of canonical it would make."""
        out_fields: dict[int, dict[str, Any]] = {}
        merges: list[dict[str, Any]] = []
        changes: list[dict[str, Any]] = []
        tonight = [x for x in members if x < n]
        if not tonight:
            return out_fields, merges, changes
        old = [x for x in members if x >= n]
        original = _original_lang([lang_of(x) for x in members], [date_of(x) for x in members])

        def key(node: int, original: str | None = original) -> tuple[Any, ...]:
            r = rows[node]
            return canonical_key(
                r["published_at"], r["lang"], r["text_length"], r["doc_id"], original
            )

        best_tonight = min(tonight, key=key)
        if old:
            old_clusters = sorted(
                {
                    (earlier.rows[x - n]["cluster_run_date"], earlier.rows[x - n]["cluster_id"]): x
                    for x in old
                }.items()
            )
            (first_night, cluster), keeper = old_clusters[0]
            ref = earlier.rows[keeper - n]
            canonical_doc = ref["canonical_doc_id"]
            canonical_node = None
            canon_sha = None
            canon_lang = ref["canonical_lang"]
            canonical_meta = (
                ref["canonical_published_at"],
                ref["canonical_lang"],
                ref["canonical_text_length"],
            )
            for (_, other), _node in old_clusters[1:]:
                merges.append(
                    {
                        "cluster_id": other,
                        "merged_into": cluster,
                        "via_doc_id": rows[min(tonight)]["doc_id"],
                        "run_id": cfg.run_id,
                    }
                )
            for x in old:
                if earlier.rows[x - n]["doc_id"] == canonical_doc:
                    canon_sha = earlier.rows[x - n]["content_sha256"]
            if key(best_tonight) < canonical_key(
                canonical_meta[0], canonical_meta[1], canonical_meta[2], canonical_doc, original
            ):
                changes.append(
                    {
                        "cluster_id": cluster,
                        "published_canonical": canonical_doc,
                        "preferred_canonical": rows[best_tonight]["doc_id"],
                        "reason": _why_better(rows[best_tonight], canonical_meta, original),
                        "run_id": cfg.run_id,
                    }
                )
        else:
            canonical_node = best_tonight
            canonical_doc = rows[best_tonight]["doc_id"]
            cluster = cluster_id_for(canonical_doc)
            first_night = run_date
            canon_sha = signed.content_sha256[best_tonight]
            canon_lang = rows[best_tonight]["lang"]
            r = rows[best_tonight]
            canonical_meta = (r["published_at"], r["lang"], r["text_length"])
        canon_group = group_of[canonical_node] if canonical_node is not None else None
        if canon_group is None:
            # The canonical is an earlier document: its near group is the one holding the
            # earlier documents of the kept cluster.
            canon_group = group_of[keeper]
        near_copies: list[int] = []
        for x in tonight:
            is_canonical = x == canonical_node
            fields: dict[str, Any] = {
                "content_sha256": signed.content_sha256[x],
                "cluster_id": cluster,
                "is_canonical": is_canonical,
                "duplicate_of": None,
                "similarity": None,
                "method": None,
                "_state": (cluster, first_night, canonical_doc, canonical_meta),
            }
            if not is_canonical:
                fields["duplicate_of"] = canonical_doc
                if canon_sha is not None and signed.content_sha256[x] == canon_sha:
                    fields.update(similarity=1.0, method="exact")
                elif group_of[x] != canon_group and lang_of(x) != canon_lang:
                    fields.update(
                        method="translation",
                        similarity=round(
                            max(
                                translation_score.get(group_of[x], 0.0),
                                translation_score.get(canon_group, 0.0),
                            ),
                            4,
                        ),
                    )
                elif canonical_node is not None:
                    near_copies.append(x)  # its containment in the canonical, below
                else:
                    sim = link_score.get(x, 0.0)
                    fields.update(method="near", similarity=round(min(1.0, sim), 4))
            out_fields[x] = fields
        if canonical_node is not None and near_copies:
            sims = containments(
                [signed.shingles[x] for x in near_copies], signed.shingles[canonical_node]
            )
            for x, sim in zip(near_copies, sims, strict=True):
                out_fields[x].update(method="near", similarity=round(min(1.0, sim), 4))
        return out_fields, merges, changes

    # Each near group's outputs as if it were a cluster of its own, as most stay: worked out
    # while a worker may still be computing the cross-lingual keys that translations need.
    ready = {root: cluster_outputs(members) for root, members in near_groups.items()}

    # Each night's stored keys are free of that night's site templates; across nights, keys
    # that tonight's pages share with earlier pages of their template are dropped too.
    matching_keys = _template_free_across_nights(signed, rows, earlier.rows)
    # The keys table's sort (0.1 s on syndication `large`) in a thread beside the translations:
    # numpy sorts without the GIL, and the worker has left the second core by now.
    sorting = _in_thread(lambda: ordered or key_rows([row["doc_id"] for row in rows], signed.keys))

    def group_order(root: int, shared: set[int]) -> list[int]:
        # The group's document that holds most of the shared keys speaks for its order.
        def held(node: int) -> int:
            return sum(1 for key in matching_keys[node].tolist() if key in shared)

        node = min(near_groups[root], key=lambda x: (-held(x), x))
        order: list[int] = matching_keys[node].tolist()
        return order

    roots = sorted(near_groups)
    profiles = component_profiles(matching_keys, [near_groups[r] for r in roots])
    position = {r: i for i, r in enumerate(roots)}
    langs: dict[int, str | None] = {}
    for r in roots:
        counts = Counter(lang_of(x) for x in near_groups[r] if lang_of(x))
        langs[r] = min(counts, key=lambda k: (-counts[k], k)) if counts else None
    # Only groups with something new tonight can gain a translation link tonight.
    for a, b, score in translation_links(roots, profiles, langs, cfg):
        if a >= n and b >= n:
            continue
        shared = set(profiles[position[a]].tolist()) & set(profiles[position[b]].tolist())
        order = position_agreement(group_order(a, shared), group_order(b, shared))
        if not translation_verdict(score, order, len(shared), cfg):
            stats["translation_rejected"] += 1
            continue
        if uf.union(a, b):
            stats["translation_links"] += 1
        for g in (a, b):
            translation_score[g] = max(translation_score.get(g, 0.0), score)

    clusters = uf.groups()
    out_fields: dict[int, dict[str, Any]] = {}
    merges: list[dict[str, Any]] = []
    changes: list[dict[str, Any]] = []
    for root, members in clusters.items():
        # A cluster that is one near group (most) was worked out above.
        alone = len(members) == len(near_groups.get(root, ()))
        fields, merged, changed = ready[root] if alone else cluster_outputs(members)
        out_fields.update(fields)
        merges += merged
        changes += changed

    deduped_rows = []
    states = []
    for i in range(n):
        f = out_fields[i]
        states.append(f.pop("_state"))
        deduped_rows.append(f)
    stats["clusters_new"] = sum(1 for f in deduped_rows if f["is_canonical"])
    stats["merges"] = len(merges)
    stats["canonical_changes"] = len(changes)
    return NightResult(
        deduped=_deduped_table(table, deduped_rows),
        documents=_documents_table(table, rows, states, signed, cfg.run_id),
        keys=keys_table(sorting.result(), [state[0] for state in states]),
        merges=pa.Table.from_pylist(merges, schema=DEDUP_MERGES),
        canonical=pa.Table.from_pylist(changes, schema=DEDUP_CANONICAL),
        stats=dict(stats),
    )


def _deduped_table(table: pa.Table, fields: list[dict[str, Any]]) -> pa.Table:
    """The night's rows as they came (Arrow columns, untouched) plus the dedup columns."""
    columns = [
        table.column(f.name).cast(f.type)
        if f.name in table.column_names
        else pa.array([row[f.name] for row in fields], f.type)
        for f in DEDUPED
    ]
    return pa.Table.from_arrays(columns, schema=DEDUPED)


def _why_better(row: dict[str, Any], meta: tuple[Any, ...], original: str | None) -> str:
    published, lang, length = meta
    if row["published_at"] is not None and (published is None or row["published_at"] < published):
        return "earlier_publication"
    if original is not None and lang != original and row["lang"] == original:
        return "original_language"
    if row["text_length"] > length:
        return "more_complete"
    return "tie_break"


def _hash_lists(arrays: Sequence[U64], field: pa.Field) -> pa.Array:
    """A list<uint64> column from per-row arrays, built from one concatenated buffer (a Python
    list of every hash first costs more than the rest of the table)."""
    offsets = np.zeros(len(arrays) + 1, dtype=np.int32)
    np.cumsum([len(a) for a in arrays], out=offsets[1:])
    values = np.concatenate(arrays) if arrays else np.empty(0, np.uint64)
    return pa.ListArray.from_arrays(
        pa.array(offsets, pa.int32()), pa.array(values.astype(np.uint64, copy=False), pa.uint64())
    ).cast(field.type)


def _documents_table(
    table: pa.Table,
    rows: Sequence[dict[str, Any]],
    states: Sequence[tuple[str, str, str, tuple[Any, ...]]],
    signed: Signed,
    run_id: str,
) -> pa.Table:
    """DEDUP_DOCUMENTS rows of the night's documents (`states[i]`: row i's cluster, its first
    night, canonical and the canonical's date, language and length), sorted by doc_id. Each
    column is built whole, then taken in that order; the list columns are built in that order
    (taking rows of them, shingles above all, costs more than building them)."""
    order = pc.sort_indices(table.column("doc_id")).to_numpy()
    rank = order.tolist()
    cluster, first, canonical, meta = zip(*states, strict=True) if states else ([],) * 4
    published, lang, length = zip(*meta, strict=True) if meta else ([],) * 3
    values: dict[str, Any] = {
        "cluster_id": cluster,
        "cluster_run_date": first,
        "canonical_doc_id": canonical,
        "canonical_published_at": published,
        "canonical_lang": lang,
        "canonical_text_length": length,
        "content_sha256": signed.content_sha256,
        "site": signed.sites,
        "run_id": [run_id] * len(rows),
        "source": [source_key(row) for row in rows],
    }
    columns = []
    for f in DEDUP_DOCUMENTS:
        if f.name in ("shingles", "template_tags"):
            arrays = getattr(signed, f.name)
            columns.append(_hash_lists([arrays[i] for i in rank], f))
        elif f.name == "anchors":
            columns.append(_anchor_column(signed.anchors.take(order), signed.vocab, f))
        elif f.name in values:
            columns.append(pa.array(values[f.name], f.type).take(order))
        else:
            columns.append(table.column(f.name).cast(f.type).take(order).combine_chunks())
    return pa.Table.from_arrays(columns, schema=DEDUP_DOCUMENTS)


def _anchor_column(lists: KeyLists, vocab: Vocabulary, field: pa.Field) -> pa.Array:
    """A list<string> column of key lists, taken from the vocabulary's strings in Arrow."""
    strings = pa.array(vocab.strings, pa.string()).take(pa.array(lists.ids, pa.int64()))
    return pa.ListArray.from_arrays(pa.array(lists.bounds, pa.int32()), strings).cast(field.type)


def bucket_of(keys: U64) -> np.ndarray:
    shift = 64 - (KEY_BUCKETS.bit_length() - 1)
    return (keys >> np.uint64(shift)).astype(np.int32)


@dataclass(frozen=True)
class KeyRows:
    """Documents' candidate keys in DEDUP_KEYS order (by bucket, key, then doc_id: one bucket
    per contiguous run of rows): each row's key and document (its row number in `doc_ids`)."""

    doc_ids: pa.Array
    keys: U64
    owners: npt.NDArray[np.int64]

    @functools.cached_property
    def columns(self) -> list[pa.Array]:
        """DEDUP_KEYS's bucket, key and doc_id columns, taken once for both tables of a night:
        the one that matches earlier nights and tonight's state."""
        return [
            pa.array(bucket_of(self.keys), pa.int32()),
            pa.array(self.keys, pa.uint64()),
            self.doc_ids.take(self.owners),
        ]


def key_rows(doc_ids: Sequence[str], keys: Sequence[U64]) -> KeyRows:
    """`KeyRows` of documents (`keys[i]` held by `doc_ids[i]`): sorted in numpy on the key and
    the document's rank; the strings are taken once, in that order, by `keys_table`."""
    values = np.concatenate(keys) if keys else np.empty(0, np.uint64)
    owners = np.repeat(np.arange(len(doc_ids), dtype=np.int64), [len(k) for k in keys])
    ids = pa.array(doc_ids, pa.string())
    rank = np.empty(len(doc_ids), np.int64)
    rank[pc.sort_indices(ids).to_numpy()] = np.arange(len(doc_ids))
    # The bucket is the key's top bits: sorting by key sorts by bucket too.
    order = np.lexsort((rank[owners], values))
    return KeyRows(ids, values[order], owners[order])


def keys_table(rows: KeyRows, cluster_ids: Sequence[str]) -> pa.Table:
    """DEDUP_KEYS rows of `rows`, each document's cluster `cluster_ids[i]`."""
    if not len(rows.keys):
        return DEDUP_KEYS.empty_table()
    return pa.Table.from_arrays(
        [*rows.columns, pa.array(cluster_ids, pa.string()).take(rows.owners)], schema=DEDUP_KEYS
    )


def dedup_batch(batch: pa.Table, cfg: DedupConfig) -> Split:
    """DEDUPED rows for all REPAIRED rows of a night with no history (dedup needs the night
    whole; the task wrapper adds the earlier nights)."""
    result = dedup_night(batch, cfg, run_date="")
    return Split(result.deduped, QUARANTINED.empty_table())


# --------------------------------------------------------------------------- earlier-night join


def _list_arrays(column: pa.ChunkedArray) -> list[U64]:
    """A list<uint64> column as one numpy array per row (views of its buffers); a list<int64>
    column (hashes stored signed, as `template_tags`) as the same 64 bits, unsigned."""
    out: list[U64] = []
    for chunk in column.chunks:
        # flatten() and offsets both follow a sliced chunk; offsets count from its first value.
        values = chunk.flatten().to_numpy(zero_copy_only=False).astype(np.uint64, copy=False)
        offsets = chunk.offsets.to_numpy()
        bounds = (offsets - offsets[0]).tolist()
        out += [values[bounds[i] : bounds[i + 1]] for i in range(len(chunk))]
    return out


def match_earlier(
    keys: pa.Table, history: Iterable[pa.Table], *, per_cluster: int = 2
) -> list[tuple[str, str, int]]:
    """(tonight doc_id, earlier doc_id, keys they share) candidates: tonight's DEDUP_KEYS joined
    with one bucket of the history at a time. For each tonight document and earlier cluster only
    the `per_cluster` earlier documents sharing the most keys are kept (ties: the smallest
    doc_id): verifying one copy of a cluster is enough to join it.

    Counted with Arrow's group-by, bucket by bucket: a copy of a report republished a hundred
    times joins thousands of key rows, which a Python loop took seconds over (5 s of a 15 s
    night on syndication `large` cut into 4 nights)."""
    names = ["doc_id", "cluster_id", "doc_id_earlier"]
    counted: list[pa.Table] = []
    for part in history:
        if part.num_rows == 0:
            continue
        joined = keys.select(["key", "doc_id"]).join(
            part.select(["key", "doc_id", "cluster_id"]),
            keys="key",
            join_type="inner",
            right_suffix="_earlier",
        )
        if joined.num_rows:
            counted.append(joined.group_by(names).aggregate([("key", "count")]))
    if not counted:
        return []
    # A pair that shares keys in several buckets: its counts add up.
    shared = pa.concat_tables(counted).group_by(names).aggregate([("key_count", "sum")])
    ranked = shared.sort_by(
        [
            ("doc_id", "ascending"),
            ("cluster_id", "ascending"),
            ("key_count_sum", "descending"),
            ("doc_id_earlier", "ascending"),
        ]
    )
    tonight = ranked.column("doc_id").to_numpy(zero_copy_only=False)
    cluster = ranked.column("cluster_id").to_numpy(zero_copy_only=False)
    earlier = ranked.column("doc_id_earlier").to_pylist()
    counts = ranked.column("key_count_sum").to_pylist()
    # Rank of each row within its (tonight doc, earlier cluster) run.
    new_run = np.ones(len(tonight), dtype=bool)
    new_run[1:] = (tonight[1:] != tonight[:-1]) | (cluster[1:] != cluster[:-1])
    run_start = np.maximum.accumulate(np.where(new_run, np.arange(len(tonight)), 0))
    keep = (np.arange(len(tonight)) - run_start) < per_cluster
    return [(str(tonight[i]), earlier[i], counts[i]) for i in np.flatnonzero(keep).tolist()]


# --------------------------------------------------------------------------- Prefect task


def page_templates(table: pa.Table) -> list[U64]:
    """Per REPAIRED row the hashes of its page's opening tags (`template_tags`, taken by the
    extract stage), which group the pages of one site whose URL is unknown; empty for plain text
    and for pages whose site is known (the site already groups them)."""
    hashes = _list_arrays(table.column("template_tags"))
    empty = np.empty(0, np.uint64)
    return [
        empty if site else tags
        for site, tags in zip(table.column("site").to_pylist(), hashes, strict=True)
    ]


# What the stored state is: written beside the state tables when a night commits, checked before
# a night reads earlier nights. State without it predates versioning (anchors version 1).
STATE_FORMAT = {"anchors": ANCHORS_VERSION}


class StateFormatError(RuntimeError):
    """The dedup state of earlier nights was written by code that stores other keys."""


def _format_path(layout: io.Layout) -> Path:
    return layout.state / "dedup" / "format.json"


def check_state_format(layout: io.Layout) -> None:
    """Refuse to match tonight against state of another format (its keys mean something else:
    mixing them would silently lose links, or make wrong ones)."""
    nights = _earlier_nights(layout, "documents")
    if not nights:
        return
    path = _format_path(layout)
    found = io.read_json(path) if io.exists(path) else {"anchors": 1}
    if found != STATE_FORMAT:
        raise StateFormatError(
            f"dedup state under {layout.state / 'dedup'} has format {found} (nights "
            f"{nights[0]}..{nights[-1]}); this code reads and writes {STATE_FORMAT}. Rebuild "
            "it: move state/dedup aside and re-run the nights in order from their raw inputs."
        )


def _earlier_nights(layout: io.Layout, table: str) -> list[str]:
    return [
        night for night in io.partition_values(layout.dedup_state(table)) if night < layout.run_date
    ]


def _earlier_documents(
    layout: io.Layout, cfg: DedupConfig, doc_ids: Sequence[str], tonight_keys: pa.Table
) -> Earlier:
    """The earlier nights' documents that tonight's keys (DEDUP_KEYS of `doc_ids`) match, with
    the candidate pairs, and every earlier document of the translation window."""
    key_nights = _earlier_nights(layout, "keys")
    matches: list[tuple[str, str, int]] = []
    if key_nights:
        buckets = tonight_keys.column("bucket")
        history = (
            io.read_filtered(
                layout.dedup_state("keys"), nights=key_nights, equals={"bucket": bucket}
            )
            for bucket in sorted(set(buckets.to_pylist()))
        )
        matches = match_earlier(tonight_keys, history)
    earlier = Earlier()
    if matches:
        wanted = sorted({b for _, b, _ in matches})
        found = io.read_rows_by_key(
            layout.dedup_state("documents"),
            nights=_earlier_nights(layout, "documents"),
            column="doc_id",
            values=wanted,
        )
        index_of: dict[str, int] = {}
        # The shingle hashes as one numpy array per row, sliced from the column's buffer (as
        # Python lists they cost more than verifying the pairs).
        shingles = _list_arrays(found.column("shingles"))
        rows = found.drop_columns(["shingles"]).to_pylist()
        for row, hashes in zip(rows, shingles, strict=True):
            # A document seen on two nights: the oldest row speaks for it.
            if row["doc_id"] not in index_of:
                index_of[row["doc_id"]] = len(earlier.rows)
                earlier.rows.append({**row, "shingles": hashes})
        position = {d: i for i, d in enumerate(doc_ids)}
        for a, b, shared in matches:
            if b in index_of:
                # A document stored under two clusters: the larger count, to be safe.
                pair = (position[a], index_of[b])
                earlier.shared_keys[pair] = max(shared, earlier.shared_keys.get(pair, 0))
        earlier.pairs = sorted(earlier.shared_keys)
    # Translations close in time: every earlier document of the window, anchors only.
    window_start = (
        date.fromisoformat(layout.run_date) - timedelta(days=cfg.translation_window_days)
    ).isoformat()
    recent = [n for n in _earlier_nights(layout, "documents") if n >= window_start]
    if recent:
        seen = {r["doc_id"] for r in earlier.rows}
        for row in io.read_filtered(
            layout.dedup_state("documents"),
            nights=recent,
            columns=[c for c in DEDUP_DOCUMENTS.names if c != "shingles"],
        ).to_pylist():
            if row["doc_id"] not in seen:
                seen.add(row["doc_id"])
                earlier.rows.append({**row, "shingles": []})
    return earlier


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
    with sign_table(night, cfg) as signed:
        doc_ids = night.column("doc_id").to_pylist()
        ordered = key_rows(doc_ids, signed.keys)
        # Meanwhile a worker computes the cross-lingual keys (`Signed`).
        earlier = _earlier_documents(layout, cfg, doc_ids, keys_table(ordered, [""] * len(doc_ids)))
        progress(
            f"dedup: {plural(len(earlier.rows), 'document')} of earlier nights share keys with"
            f" tonight's ({plural(len(earlier.pairs), 'candidate pair')} across nights)"
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


def staged_state(name: str) -> str:
    """The staged dataset holding tonight's dedup state table `name` until publish."""
    return f"dedup_{name}"


def commit_state(layout: io.Layout) -> dict[str, int]:
    """After publish: tonight's staged dedup state becomes `state/dedup/<table>/run_date=D`
    (replacing what an earlier run of the night committed). Rows per table."""
    rows = {}
    check_state_format(layout)
    io.write_json(_format_path(layout), STATE_FORMAT)
    for name, schema in DEDUP_STATE.items():
        rows[name] = io.promote_partition(
            layout.data_dir,
            layout.staged(staged_state(name)),
            layout.dedup_state(name, layout.run_date),
            schema,
        )
    return rows


def _passthrough(batch: pa.Table, cfg: Any) -> Split:
    return Split(batch, QUARANTINED.empty_table())
