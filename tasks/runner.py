"""Streams one stage's Arrow batches through its pure function, on every core, with progress.

Input: an iterable of Arrow tables, a pure `<verb>_batch(table, cfg) -> Split` and where to write.
Output: the kept rows as a staged Parquet partition, the quarantined rows as another, and a
`StageResult` with counts and reason tallies. Batches go to worker processes (the stages are
CPU-bound and GIL-bound); results are written in input order, so a run is deterministic whatever
the scheduling.

A stage that passes a `Supervision` (extract, repair) has its documents watched one by one: a
worker runs the batch document by document and tells the parent which one it is on, so the
parent can stop what no code in the worker can (a C parser stuck for minutes, a segfault, the
kernel's OOM killer). Quarantined here, with the stage's own reason codes:
- the stage's timeout reason (`extraction_timeout`, `repair_timeout`): the document ran past the
  deadline; the parent killed the worker (SIGKILL: nothing can catch or block it), started a new
  one and ran the rest of the batch again there.
- `worker_crashed`: the worker process died on this document and died again when the document
  ran alone in a fresh worker (a document that only died in company is kept).
An exception `fn` raises is a programming error (stages turn bad data into quarantine rows) and
fails the task with `StageError`, a plain exception whose message names the document (doc_id,
source path) and the original exception, so it always crosses the process boundary.
"""

from __future__ import annotations

import contextlib
import math
import multiprocessing
import os
import signal
import time
import traceback
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from multiprocessing.connection import Connection
from multiprocessing.connection import wait as wait_for
from pathlib import Path
from typing import Any

import pyarrow as pa

from tasks import io
from tasks.progress import StageProgress
from tasks.schema import QUARANTINED, Split
from tasks.workers import exit_with_parent

BatchFn = Callable[[pa.Table, Any], Split]
Progress = Callable[[str], None]
Share = Callable[[float], None]


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
# Batches per worker at least, where the night is big enough: a batch is the unit of progress
# (a 601-document night in three batches of 256 said nothing for 19 s) and of load balance.
BATCHES_PER_WORKER = 4


def batch_rows_for(total: int, workers: int, ceiling: int) -> int:
    """Rows per batch: at most `ceiling`, small enough that every worker gets a few batches,
    and not below MIN_BATCH_ROWS (nor above the night's size)."""
    if total <= 0:
        return ceiling
    spread = math.ceil(total / max(1, workers * BATCHES_PER_WORKER))
    return max(1, min(ceiling, max(spread, min(MIN_BATCH_ROWS, total))))


class StageError(RuntimeError):
    """`fn` raised in a worker: a plain exception with the document and the original error."""


@dataclass(frozen=True)
class Supervision:
    """How a stage's documents are watched in its workers (see the module docstring)."""

    # Seconds one document may run in a worker before the worker is killed; None: no limit.
    deadline: float | None
    # (the document's one-row input table, reason, detail) -> its QUARANTINED rows; called in
    # the parent, for the documents the parent sets aside.
    reject: Callable[[pa.Table, str, str], pa.Table]
    timeout_reason: str
    crash_reason: str = "worker_crashed"


def _ordered_results(
    fn: BatchFn,
    cfg: Any,
    batches: Iterable[pa.Table],
    workers: int,
    tick: Callable[[], None] = lambda: None,
    supervision: Supervision | None = None,
    kept_schema: pa.Schema | None = None,
) -> Iterator[tuple[pa.Table, Split]]:
    if workers <= 0:
        # Inline: nothing can be watched from outside (a stage's own SIGALRM limit still works
        # on the main thread).
        for batch in batches:
            yield batch, fn(batch, cfg)
        return
    if supervision is not None and kept_schema is None:
        raise ValueError("a supervised stage needs its kept schema (for the rows it sets aside)")
    yield from _Scheduler(fn, cfg, workers, tick, supervision, kept_schema).run(batches)


# Worker -> parent messages.
_READY, _START, _DONE, _FAILED = "ready", "start", "done", "failed"


def _serve(conn: Connection, fn: BatchFn, cfg: Any, parent: int) -> None:
    """A worker process: runs the tables it is sent (whole, or one document at a time, saying
    which) until it is sent None."""
    exit_with_parent(parent)
    conn.send((_READY,))
    while True:
        task = conn.recv()
        if task is None:
            return
        table, one_by_one = task
        row: int | None = None
        try:
            if one_by_one:
                parts = []
                for row in range(table.num_rows):
                    conn.send((_START, row))
                    parts.append(fn(table.slice(row, 1), cfg))
                split = Split(
                    pa.concat_tables([p.kept for p in parts]).combine_chunks(),
                    pa.concat_tables([p.quarantined for p in parts]).combine_chunks(),
                )
            else:
                split = fn(table, cfg)
        except Exception as exc:
            # Only text leaves the worker: an exception object may not pickle (lxml's carry
            # their C error log) and must not lose which document it was.
            conn.send((_FAILED, _describe(exc, table, row)))
            continue
        conn.send((_DONE, split))


def _describe(exc: BaseException, table: pa.Table, row: int | None) -> str:
    where = _identity(table, row) if row is not None else f"a batch of {table.num_rows} rows"
    trace = "".join(traceback.format_exception(exc)[-8:]).rstrip()
    return f"{type(exc).__name__}: {exc} (on {where})\n{trace}"


def _rows(segment: _Segment) -> str:
    return f"{segment.stop - segment.start} rows"


def _identity(table: pa.Table, row: int) -> str:
    names = [n for n in ("doc_id", "source_path", "record_index") if n in table.column_names]
    return ", ".join(f"{n} {table.column(n)[row].as_py()!r}" for n in names) or f"row {row}"


@dataclass(eq=False)
class _Segment:
    """Rows [start, stop) of one batch, run as one task; `alone`: one document that ran in a
    worker that died, now run by itself."""

    batch: _Batch
    start: int
    stop: int
    alone: bool = False
    split: Split | None = None


@dataclass(eq=False)
class _Batch:
    table: pa.Table
    segments: list[_Segment] = field(default_factory=list)

    def done(self) -> bool:
        return all(s.split is not None for s in self.segments)

    def result(self, kept_schema: pa.Schema | None) -> Split:
        splits = [s.split for s in self.segments if s.split is not None]
        if len(splits) == 1:
            return splits[0]
        kept = [s.kept for s in splits if s.kept.num_rows]
        if not kept:
            kept = [kept_schema.empty_table() if kept_schema else splits[0].kept]
        return Split(pa.concat_tables(kept), pa.concat_tables([s.quarantined for s in splits]))

    def replace(self, old: _Segment, new: list[_Segment]) -> None:
        at = self.segments.index(old)
        self.segments[at : at + 1] = new


class _Worker:
    def __init__(self, context: Any, fn: BatchFn, cfg: Any) -> None:
        self.conn, child = context.Pipe()
        self.process = context.Process(
            target=_serve, args=(child, fn, cfg, os.getpid()), name="wiredesk-worker"
        )
        self.process.start()
        child.close()
        self.ready = False
        self.segment: _Segment | None = None
        # The row of `segment` it said it is on, and when the parent heard so.
        self.row: int | None = None
        self.since = 0.0

    def run(self, segment: _Segment, one_by_one: bool) -> None:
        self.segment, self.row = segment, None
        table = segment.batch.table
        if (segment.start, segment.stop) != (0, table.num_rows):
            # A copy: a pickled slice carries its parent's whole buffers.
            table = table.take(pa.array(range(segment.start, segment.stop), pa.int64()))
        with contextlib.suppress(OSError):
            # A worker that died meanwhile: its sentinel says so, and `_died` redoes the rows.
            self.conn.send((table, one_by_one))

    def stop(self) -> None:
        if self.process.is_alive() and self.ready and self.segment is None:
            with contextlib.suppress(OSError):
                self.conn.send(None)
            self.process.join(timeout=2.0)
        if self.process.is_alive():
            self.process.kill()
        self.process.join()
        self.conn.close()

    def exit_status(self) -> str:
        code = self.process.exitcode
        if code is not None and code < 0:
            with contextlib.suppress(ValueError):
                return f"killed by {signal.Signals(-code).name}"
        return f"exit code {code}"


# Worker processes that die with no document to blame (idle, or before their first task) are
# replaced; more than this many such deaths in one stage is a broken environment, not data.
MAX_UNEXPLAINED_DEATHS = 3


class _Scheduler:
    """The parent's side: batches in, splits out in input order; watches every document."""

    def __init__(
        self,
        fn: BatchFn,
        cfg: Any,
        workers: int,
        tick: Callable[[], None],
        supervision: Supervision | None,
        kept_schema: pa.Schema | None,
    ) -> None:
        self.fn, self.cfg, self.workers, self.tick = fn, cfg, workers, tick
        self.supervision = supervision
        self.kept_schema = kept_schema
        # spawn, not fork: the parent runs Prefect's threads and event loop, which must not be
        # forked mid-flight; spawned workers import only the stage module they need.
        self.context = multiprocessing.get_context("spawn")
        self.pool: list[_Worker] = []
        self.queue: deque[_Segment] = deque()
        self.unexplained = 0

    def run(self, batches: Iterable[pa.Table]) -> Iterator[tuple[pa.Table, Split]]:
        source = iter(batches)
        pending: deque[_Batch] = deque()
        window = self.workers * 2
        exhausted = False
        try:
            while True:
                while not exhausted and len(pending) < window:
                    table = next(source, None)
                    if table is None:
                        exhausted = True
                        break
                    batch = _Batch(table)
                    if table.num_rows:
                        batch.segments.append(_Segment(batch, 0, table.num_rows))
                        self.queue.append(batch.segments[0])
                    pending.append(batch)
                while pending and pending[0].done():
                    done = pending.popleft()
                    yield done.table, done.result(self.kept_schema)
                if exhausted and not pending:
                    return
                if pending and not pending[0].done():
                    self._step()
        finally:
            for worker in self.pool:
                worker.stop()

    def _step(self) -> None:
        """Start and feed workers, wait a little, then handle what they said or did."""
        idle = [w for w in self.pool if w.segment is None]
        for _ in range(min(self.workers - len(self.pool), len(self.queue) - len(idle))):
            self.pool.append(_Worker(self.context, self.fn, self.cfg))
        for worker in self.pool:
            if worker.ready and worker.segment is None and self.queue:
                worker.run(self.queue.popleft(), one_by_one=self.supervision is not None)
        wait_for(
            [w.conn for w in self.pool] + [w.process.sentinel for w in self.pool],
            timeout=self._timeout(),
        )
        for worker in list(self.pool):
            self._receive(worker)
        self._enforce_deadline()
        self.tick()

    def _timeout(self) -> float:
        timeout = TICK_SECONDS
        deadline = self.supervision.deadline if self.supervision else None
        if deadline is not None:
            now = time.monotonic()
            for worker in self.pool:
                if worker.row is not None:
                    timeout = min(timeout, max(0.0, worker.since + deadline - now))
        return timeout

    def _receive(self, worker: _Worker) -> None:
        while True:
            try:
                if not worker.conn.poll():
                    if not worker.process.is_alive():
                        self._died(worker)
                    return
                message = worker.conn.recv()
            except (EOFError, OSError):
                worker.process.join()
                self._died(worker)
                return
            kind = message[0]
            if kind == _READY:
                worker.ready = True
            elif kind == _START:
                worker.row, worker.since = message[1], time.monotonic()
            elif kind == _DONE and worker.segment is not None:
                worker.segment.split = message[1]
                worker.segment, worker.row = None, None
            elif kind == _FAILED:
                raise StageError(message[1])

    def _died(self, worker: _Worker) -> None:
        self.pool.remove(worker)
        status = worker.exit_status()
        worker.stop()
        segment = worker.segment
        if not worker.ready:
            raise StageError(f"a worker process died before it was ready ({status})")
        if self.supervision is None and segment is not None:
            # Unsupervised stages have no document to blame: a crash is a bug, as it always was.
            raise StageError(f"a worker process died on a batch of {_rows(segment)} ({status})")
        if segment is None or self.supervision is None:
            self.unexplained += 1
            if self.unexplained > MAX_UNEXPLAINED_DEATHS:
                raise StageError(f"worker processes keep dying while idle ({status})")
            return
        if segment.alone:
            self._set_aside(
                segment,
                self.supervision.crash_reason,
                f"the worker process died on this document ({status}), also when run alone",
            )
            return
        if worker.row is None:
            pieces = [
                _Segment(segment.batch, row, row + 1, alone=True)
                for row in range(segment.start, segment.stop)
            ]
        else:
            at = segment.start + worker.row
            pieces = [
                _Segment(segment.batch, segment.start, at),
                _Segment(segment.batch, at, at + 1, alone=True),
                _Segment(segment.batch, at + 1, segment.stop),
            ]
        self._redo(segment, pieces)

    def _enforce_deadline(self) -> None:
        deadline = self.supervision.deadline if self.supervision else None
        if deadline is None or self.supervision is None:
            return
        now = time.monotonic()
        for worker in list(self.pool):
            segment, row = worker.segment, worker.row
            if segment is None or row is None or now - worker.since <= deadline:
                continue
            # SIGKILL: a C extension blocking or ignoring signals cannot hold on to the worker.
            worker.process.kill()
            self.pool.remove(worker)
            worker.stop()
            at = segment.start + row
            stopped = _Segment(segment.batch, at, at + 1)
            self._set_aside(
                stopped,
                self.supervision.timeout_reason,
                f"no result after {deadline:g} s (the per-document limit): worker stopped",
            )
            # The rows before it ran in the killed worker too: their results went with it.
            self._redo(
                segment,
                [
                    _Segment(segment.batch, segment.start, at),
                    stopped,
                    _Segment(segment.batch, at + 1, segment.stop),
                ],
            )

    def _redo(self, old: _Segment, pieces: list[_Segment]) -> None:
        """`pieces` replace `old` in its batch; those still to run go first in the queue."""
        pieces = [p for p in pieces if p.stop > p.start]
        old.batch.replace(old, pieces)
        for piece in reversed(pieces):
            if piece.split is None:
                self.queue.appendleft(piece)

    def _set_aside(self, segment: _Segment, reason: str, detail: str) -> None:
        """A one-document segment becomes its quarantine row, made by the stage's `reject`."""
        assert self.supervision is not None and self.kept_schema is not None
        document = segment.batch.table.slice(segment.start, 1)
        rejected = self.supervision.reject(document, reason, detail)
        segment.split = Split(self.kept_schema.empty_table(), rejected)


# How often a stage waiting on its workers looks at the clock to report progress.
TICK_SECONDS = 0.5


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
    share: Share | None = None,
    supervision: Supervision | None = None,
) -> StageResult:
    """Run `fn` over `batches` in `workers` processes (0: inline in this thread) and write.

    `progress` gets a line (done of total, rate, ETA) every few seconds and at the end; `share`
    (the stage's Prefect progress artifact, see `progress_artifact`) the share done.

    With `supervision`, each document runs under the parent's eye (see the module docstring):
    its deadline holds whatever the document does, which only processes allow (SIGALRM only
    reaches a process's main thread, cannot stop C code, and Prefect runs tasks in threads).
    """
    started = time.monotonic()
    reasons: Counter[str] = Counter()
    bad_parts: list[pa.Table] = []
    seen = kept = 0
    report = StageProgress(stage, rows_in, progress, share=share)

    def kept_tables() -> Iterator[pa.Table]:
        nonlocal seen, kept
        for batch, split in _ordered_results(
            fn, cfg, batches, workers, report.tick, supervision, kept_schema
        ):
            seen += batch.num_rows
            kept += split.kept.num_rows
            if split.quarantined.num_rows:
                bad_parts.append(split.quarantined)
                reasons.update(split.quarantined.column("reason").to_pylist())
            report.update(seen, kept, sum(reasons.values()))
            yield split.kept

    written = io.write_partition(data_dir, kept_dir, kept_tables(), kept_schema)
    io.write_partition(data_dir, quarantine_dir, bad_parts, QUARANTINED)
    quarantined = sum(t.num_rows for t in bad_parts)
    report.finish()
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
    share: Share | None = None,
    supervision: Supervision | None = None,
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
        share=share,
        supervision=supervision,
    )
