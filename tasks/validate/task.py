"""Prefect tasks of validation: wiring only, the logic is in `tasks/validate/suites.py`."""

from __future__ import annotations

from pathlib import Path

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from tasks import io
from tasks.validate.suites import ValidateConfig, ValidationReport, build_docs, validate_dataset


# NO_CACHE: the staged data behind `paths` changes between runs while the arguments do not.
@task(name="validate", cache_policy=NO_CACHE)
def validate_task(
    dataset: str,
    paths: list[str],
    suite_path: str,
    layout: io.Layout,
    cfg: ValidateConfig,
    rows_in: int,
) -> ValidationReport:
    """Validate the staged dataset (the union of `paths`); set aside the rows checks caught
    (see `tasks.validate.suites.validate_dataset`)."""
    return validate_dataset(
        dataset, paths, suite_path, layout, cfg, rows_in, log=get_run_logger().info
    )


# NO_CACHE: the docs reflect files on disk written by this run and the runs before it.
@task(name="data-docs", cache_policy=NO_CACHE)
def docs_task(
    layout: io.Layout,
    cfg: ValidateConfig,
    datasets: list[str],
    expectations_dir: str | None = None,
) -> str:
    return build_docs(
        layout, cfg, datasets, Path(expectations_dir) if expectations_dir is not None else None
    )
