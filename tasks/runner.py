"""Streams one stage's Arrow batches through its pure function, on every core, with progress.

Input: an iterable of Arrow tables, a pure `<verb>_batch(table, cfg) -> Split` and where to write.
Output: the kept rows as a staged Parquet partition, the quarantined rows as another, and a
`StageResult` with counts and reason tallies. Batches go to a pool of processes (the stages are
CPU-bound and GIL-bound); results are written in input order, so a run is deterministic whatever
the scheduling. Nothing is quarantined here: a worker that crashes is a programming error and
fails the task.
"""

from __future__ import annotations

import math
import multiprocessing
import os
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from tasks import io
from tasks.schema import QUARANTINED, Split
from tasks.workers import exit_with_parent

BatchFn = Callable[[pa.Table, Any], Split]
Progress = Callable[[str], None]


@dataclass
class StageResult:
    """What a stage task returns to the flow: references and counts, never the data."""

    stage: str
    dataset: str
    rows_in: int
    kept: int
    quarantined: int
    kept_path: str
    quarantine_path: str
    seconds: float
    reasons: dict[str, int] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# A worker process costs seconds to start (imports, the spellers of the repair stage), so a
# batch smaller than this is not worth a process of its own: a night of a dozen documents runs in
# one worker, a night of thousands in all of them.
MIN_BATCH_ROWS = 64


def batch_rows_for(total: int, workers: int, ceiling: int) -> int:
    """Rows per batch: at most `ceiling`, small enough that every worker gets some work, and
    not below MIN_BATCH_ROWS (nor above the night's size)."""
    if total <= 0:
        return ceiling
    spread = math.ceil(total / max(1, workers))
    return max(1, min(ceiling, max(spread, min(MIN_BATCH_ROWS, total))))


def _ordered_results(
    fn: BatchFn, cfg: Any, batches: Iterable[pa.Table], workers: int
) -> Iterator[tuple[pa.Table, Split]]:
    if workers <= 0:
        for batch in batches:
            yield batch, fn(batch, cfg)
        return
    # spawn, not fork: the parent runs Prefect's threads and event loop, which must not be
    # forked mid-flight; spawned workers import only the stage module they need.
    context = multiprocessing.get_context("spawn")
    window = workers * 2
    with ProcessPoolExecutor(
        max_workers=workers,
        mp_context=context,
        initializer=exit_with_parent,
        initargs=(os.getpid(),),
    ) as pool:
        pending: list[tuple[pa.Table, Future[Split]]] = []
        for batch in batches:
            pending.append((batch, pool.submit(fn, batch, cfg)))
            if len(pending) >= window:
                head, fut = pending.pop(0)
                yield head, fut.result()
        for head, fut in pending:
            yield head, fut.result()


def run_stage(
    *,
    stage: str,
    dataset: str,
    fn: BatchFn,
    cfg: Any,
    batches: Iterable[pa.Table],
    rows_in: int | None,
    kept_schema: pa.Schema,
    data_dir: Path,
    kept_dir: Path,
    quarantine_dir: Path,
    workers: int,
    progress: Progress,
) -> StageResult:
    """Run `fn` over `batches` in `workers` processes (0: inline in this thread) and write.

    Stages that rely on a per-document time limit need processes: SIGALRM only reaches a
    process's main thread, and Prefect runs tasks in worker threads.
    """
    started = time.monotonic()
    reasons: Counter[str] = Counter()
    bad_parts: list[pa.Table] = []
    seen = kept = 0
    last_report = 0.0

    def kept_tables() -> Iterator[pa.Table]:
        nonlocal seen, kept, last_report
        for batch, split in _ordered_results(fn, cfg, batches, workers):
            seen += batch.num_rows
            kept += split.kept.num_rows
            if split.quarantined.num_rows:
                bad_parts.append(split.quarantined)
                reasons.update(split.quarantined.column("reason").to_pylist())
            now = time.monotonic()
            if now - last_report >= 2.0 or (rows_in is not None and seen >= rows_in):
                last_report = now
                total = f"/{rows_in}" if rows_in is not None else ""
                pct = f" ({100 * seen // rows_in}%)" if rows_in else ""
                progress(
                    f"{stage}: {seen}{total} in{pct}, {kept} kept, "
                    f"{sum(reasons.values())} quarantined"
                )
            yield split.kept

    written = io.write_partition(data_dir, kept_dir, kept_tables(), kept_schema)
    io.write_partition(data_dir, quarantine_dir, bad_parts, QUARANTINED)
    quarantined = sum(t.num_rows for t in bad_parts)
    return StageResult(
        stage=stage,
        dataset=dataset,
        rows_in=rows_in if rows_in is not None else seen,
        kept=written.rows,
        quarantined=quarantined,
        kept_path=str(kept_dir),
        quarantine_path=str(quarantine_dir),
        seconds=round(time.monotonic() - started, 3),
        reasons=dict(sorted(reasons.items())),
    )


def run_staged(
    *,
    stage: str,
    source: str,
    dataset: str,
    fn: BatchFn,
    cfg: Any,
    kept_schema: pa.Schema,
    layout: io.Layout,
    workers: int,
    batch_rows: int,
    progress: Progress,
) -> StageResult:
    """Run a per-batch stage from the staged `source` dataset to the staged `dataset`."""
    src = layout.staged(source)
    total = io.dataset_rows(src)
    rows = batch_rows_for(total, workers, batch_rows)
    return run_stage(
        stage=stage,
        dataset=dataset,
        fn=fn,
        cfg=cfg,
        batches=io.iter_batches(src, batch_rows=rows),
        rows_in=total,
        kept_schema=kept_schema,
        data_dir=layout.data_dir,
        kept_dir=layout.staged(dataset),
        quarantine_dir=layout.staged_quarantine(stage),
        workers=max(1, min(workers, -(-total // rows))),
        progress=progress,
    )
