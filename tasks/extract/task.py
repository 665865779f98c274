"""Prefect tasks of the extract stage: wiring only, the logic is in `tasks/extract/page.py` and
`tasks/extract/sitelines.py`."""

from __future__ import annotations

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from tasks import io
from tasks.artifacts import progress_artifact
from tasks.extract.page import STAGE, ExtractConfig, extract_night
from tasks.extract.sitelines import LearnResult, learn_night
from tasks.runner import StageResult


# NO_CACHE: output depends on the staged input files and the state, not on these arguments.
@task(name="extract", cache_policy=NO_CACHE)
def extract_task(
    layout: io.Layout, cfg: ExtractConfig, workers: int, batch_rows: int
) -> StageResult:
    return extract_night(
        layout, cfg, workers, batch_rows, log=get_run_logger().info, share=progress_artifact(STAGE)
    )


# NO_CACHE: the output depends on the staged extracted data and the state folder.
@task(name="learn-site-lines", cache_policy=NO_CACHE)
def learn_site_lines_task(layout: io.Layout) -> LearnResult:
    """After the night is published: learn from it (see `learn_night`)."""
    result = learn_night(layout)
    get_run_logger().info("site lines: %s", result.to_dict())
    return result
