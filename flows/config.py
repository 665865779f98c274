"""The one typed, frozen configuration of a run, built from flow parameters and the CLI.

Each stage receives only its slice (`IngestConfig`, `ExtractConfig`, ...). Environment variables
are read here and in the CLI, never inside `tasks/`.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from flows.preflight import absolute, parse_run_date
from tasks.dedup.night import DedupConfig
from tasks.extract.page import ExtractConfig
from tasks.fetch.crawl import FetchConfig
from tasks.ingest.documents import IngestConfig
from tasks.repair.text import RepairConfig
from tasks.validate.metrics import DEFAULT_EXPECTED_LANGUAGES, QualityConfig
from tasks.validate.suites import ValidateConfig

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
    inbox: Path | None  # None: no inbox tonight, only `sources`
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
    validate: ValidateConfig
    # Web sources (page URLs, RSS/Atom feeds, sitemaps) and how they are fetched.
    sources: tuple[str, ...] = ()
    fetch: FetchConfig = field(default_factory=FetchConfig)
    # Seconds to wait for another run that holds the data dir before giving up (0: fail now).
    lock_wait: float = 0.0

    @classmethod
    def build(
        cls,
        *,
        inbox: str | Path | None,
        data_dir: str | Path,
        sources: list[str] | tuple[str, ...] | None = None,
        lock_wait: float | None = None,
        run_date: date | str | None = None,
        workers: int | None = None,
        batch_rows: int | None = None,
        expectations_dir: str | Path | None = None,
        expected_languages: list[str] | tuple[str, ...] | None = None,
        now: datetime | None = None,
    ) -> RunConfig:
        started = (now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
        night = _night(run_date, started)
        run_id = f"{started:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"
        n_workers = workers if workers and workers > 0 else default_workers()
        rows = batch_rows if batch_rows and batch_rows > 0 else DEFAULT_BATCH_ROWS
        return cls(
            # Absolute: GX and the spawned workers must not depend on the working directory.
            inbox=absolute(inbox) if inbox else None,
            data_dir=absolute(data_dir),
            run_date=night,
            run_id=run_id,
            started_at=started,
            workers=n_workers,
            batch_rows=rows,
            expectations_dir=absolute(expectations_dir)
            if expectations_dir
            else DEFAULT_EXPECTATIONS,
            ingest=IngestConfig(run_id=run_id, ingested_at=started),
            extract=ExtractConfig(run_id=run_id, run_started_at=started),
            repair=RepairConfig(run_id=run_id, run_started_at=started),
            dedup=DedupConfig(run_id=run_id, workers=n_workers),
            validate=ValidateConfig(
                run_id=run_id,
                run_started_at=started,
                quality=QualityConfig(
                    expected_languages=tuple(expected_languages or DEFAULT_EXPECTED_LANGUAGES)
                ),
            ),
            sources=tuple(s.strip() for s in sources or () if s.strip()),
            lock_wait=max(0.0, lock_wait or 0.0),
        )

    def with_identity(self, run_id: str, started_at: datetime) -> RunConfig:
        """The same run under another identity: a resumed night keeps the one it started with,
        and every slice that carries the run id or the start time gets it."""
        values = {"run_id": run_id, "run_started_at": started_at, "ingested_at": started_at}

        def slice_with(cfg: Any) -> Any:
            names = {f.name for f in fields(cfg)}
            return replace(cfg, **{k: v for k, v in values.items() if k in names})

        return replace(
            self,
            run_id=run_id,
            started_at=started_at,
            ingest=slice_with(self.ingest),
            extract=slice_with(self.extract),
            repair=slice_with(self.repair),
            dedup=slice_with(self.dedup),
            validate=slice_with(self.validate),
        )


def _night(run_date: date | str | None, started: datetime) -> str:
    return parse_run_date(run_date) or started.date().isoformat()
