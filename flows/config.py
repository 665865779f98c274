"""The one typed, frozen configuration of a run, built from flow parameters and the CLI.

Each stage receives only its slice (`IngestConfig`, `ExtractConfig`, ...). Environment variables
are read here and in the CLI, never inside `tasks/`.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

from tasks.dedup import DedupConfig
from tasks.extract import ExtractConfig
from tasks.ingest import IngestConfig
from tasks.repair import RepairConfig

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_EXPECTATIONS = PROJECT_ROOT / "expectations"
# Rows per batch for the per-document stages: big enough to amortise process hand-off, small
# enough that one batch of long pages stays well under a few hundred MB.
DEFAULT_BATCH_ROWS = 256


def default_workers() -> int:
    return max(
        1,
        len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1),
    )


@dataclass(frozen=True)
class RunConfig:
    inbox: Path
    data_dir: Path
    run_date: str
    run_id: str
    started_at: datetime
    workers: int
    batch_rows: int
    expectations_dir: Path
    ingest: IngestConfig
    extract: ExtractConfig
    repair: RepairConfig
    dedup: DedupConfig

    @classmethod
    def build(
        cls,
        *,
        inbox: str | Path,
        data_dir: str | Path,
        run_date: date | str | None = None,
        workers: int | None = None,
        batch_rows: int | None = None,
        expectations_dir: str | Path | None = None,
        now: datetime | None = None,
    ) -> RunConfig:
        started = (now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
        night = _night(run_date, started)
        run_id = f"{started:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"
        n_workers = workers if workers and workers > 0 else default_workers()
        rows = batch_rows if batch_rows and batch_rows > 0 else DEFAULT_BATCH_ROWS
        return cls(
            inbox=Path(inbox),
            data_dir=Path(data_dir),
            run_date=night,
            run_id=run_id,
            started_at=started,
            workers=n_workers,
            batch_rows=rows,
            expectations_dir=Path(expectations_dir) if expectations_dir else DEFAULT_EXPECTATIONS,
            ingest=IngestConfig(run_id=run_id, ingested_at=started),
            extract=ExtractConfig(run_id=run_id, run_started_at=started),
            repair=RepairConfig(run_id=run_id, run_started_at=started),
            dedup=DedupConfig(run_id=run_id),
        )


def _night(run_date: date | str | None, started: datetime) -> str:
    if run_date is None or run_date == "":
        return started.date().isoformat()
    if isinstance(run_date, date):
        return run_date.isoformat()
    try:
        return date.fromisoformat(run_date).isoformat()
    except ValueError:
        raise ValueError(f"run_date must be YYYY-MM-DD, got {run_date!r}") from None
