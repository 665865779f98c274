"""Prefect progress artifacts for a stage's task (imported by the stages' `task.py` only)."""

from __future__ import annotations

import contextlib
from uuid import UUID

from prefect.artifacts import create_progress_artifact, update_progress_artifact

from tasks.runner import Share


def progress_artifact(stage: str, total: int | None = None) -> Share | None:
    """A Prefect progress artifact `<stage>-progress` for the running task, and the function
    that moves it; None outside a Prefect run or if the API refuses (progress is a report,
    never a reason to fail a stage)."""
    try:
        what = f" of {total:,} documents" if total is not None else ""
        artifact_id = create_progress_artifact(
            progress=0.0, key=f"{stage}-progress", description=f"{stage}: share done{what}"
        )
    except Exception:
        return None
    if not isinstance(artifact_id, UUID):
        return None

    def update(share: float) -> None:
        with contextlib.suppress(Exception):
            update_progress_artifact(artifact_id=artifact_id, progress=share)

    return update
