"""Prefect's cache for the night's stages: a reused stage is a Cached task run in Prefect.

Input: a stage's Prefect task, its arguments, and its key from the night's record (`flows.resume`:
the sha256 of the code, the stage's settings, its outside inputs and the files the stage before
it wrote), with whether the night's record allows reusing its output (same key, and every file
the stage wrote still there byte for byte). Output: the task's result and whether Prefect
served it from its cache. Prefect's result records are kept by key under the data dir
(`state/prefect-cache/<key>`), the pickled results beside them (`state/prefect-cache/results/`,
a local-file-system block saved on the Prefect API the run uses, named after the data dir), so a
data dir carries its cache to another API or machine. A reusable stage asks Prefect for its
cached result only when it can be read back; otherwise, and whenever the night's record says
no, the task runs and its result replaces the cached one (`refresh_cache`): the cache never
serves what the night's record would not.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prefect import Task
from prefect.cache_policies import CachePolicy
from prefect.filesystems import LocalFileSystem
from prefect.results import ResultStore

CACHE_DIR = "prefect-cache"


@dataclass
class StageKey(CachePolicy):
    """The key the night's record gives a stage, whatever the task's arguments (a data dir's
    layout and configs: what they point at is in the key, not their values)."""

    key: str = ""

    def compute_key(
        self,
        task_ctx: Any,
        inputs: dict[str, Any],
        flow_parameters: dict[str, Any],
        **kwargs: Any,
    ) -> str | None:
        return self.key or None


def run_stage_task(
    task: Task[Any, Any],
    args: Sequence[Any],
    kwargs: Mapping[str, Any],
    *,
    key: str,
    reuse: bool,
    cache_dir: Path,
    storage: LocalFileSystem,
) -> tuple[Any, bool]:
    """Run `task(*args, **kwargs)` under `key`, its result kept in `storage` (see
    `result_storage`, saved once a night); returns (result, served from Prefect's cache)."""
    served = reuse and readable(cache_dir, key, storage)
    keyed = task.with_options(
        cache_policy=StageKey(key=key, key_storage=cache_dir),
        persist_result=True,
        result_storage=storage,
        refresh_cache=not served,
    )
    state = keyed(*args, return_state=True, **kwargs)
    return state.result(), bool(state.is_completed() and state.name == "Cached")


def result_storage(cache_dir: Path) -> LocalFileSystem:
    """The block results of this data dir go to, saved on the current API (Prefect stores
    results only through saved blocks)."""
    results = cache_dir / "results"
    results.mkdir(parents=True, exist_ok=True)
    name = "wiredesk-results-" + hashlib.sha256(str(results).encode()).hexdigest()[:16]
    block = LocalFileSystem(basepath=str(results))
    block.save(name, overwrite=True)
    return block


def readable(cache_dir: Path, key: str, storage: LocalFileSystem) -> bool:
    """Whether Prefect holds a result for `key` that it can read back."""
    if not (cache_dir / key).is_file():
        return False
    store = ResultStore(
        metadata_storage=LocalFileSystem(basepath=str(cache_dir)), result_storage=storage
    )
    try:
        store.read(key)
    except Exception:  # a missing or unreadable result: the stage runs again
        return False
    return True
