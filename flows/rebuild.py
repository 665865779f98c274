"""Rebuild state: write a complete night's `state/` partitions again from what the night kept.

Input: a data dir and a night whose record (`state/nights/<D>.json`) says it is complete. What
later nights read of it (the sources it saw, the documents it published, its dedup signatures
and keys, its vocabulary, the site lines learned from its pages) is derived from the night's
published tables and its staged tables (`staged/<dataset>/run_date=D`, kept after the night),
so when those are still as the record says, byte for byte, the state is written again from them
with the same functions the night used, and checked against the record: the result is the
state the night committed, or an error. Output: the partitions rewritten. When a table it needs
is gone or altered, nothing is written and the error says so and names the other way back
(running the night again with its inbox). Needs no Prefect and no inbox; the caller holds the
data dir's lock.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flows.resume import STATE_STAGES, partition_problems
from tasks import io
from tasks.dedup.night import commit_state
from tasks.extract.sitelines import learn_night
from tasks.publish.tables import write_state
from tasks.repair.text import commit_vocabulary

# Stages whose kept outputs (staged tables, curated tables, fetched pages) the state is derived
# from; their `state/` outputs are what is rebuilt.
SOURCE_STAGES = ("fetch", "ingest", "extract", "repair", "dedup", "publish")


class RebuildError(RuntimeError):
    """The night cannot be rebuilt from what it kept; the message says why and what to do."""


def rebuild_state(data_dir: Path, run_date: str, data_dir_option: str | None = None) -> list[str]:
    """Write night `run_date`'s state partitions again; returns them (relative paths)."""
    layout = io.Layout(data_dir, run_date)
    data = f" --data-dir {data_dir_option}" if data_dir_option else ""
    rerun = (
        f"run the night again with its inbox (`wiredesk run --run-date {run_date}{data} "
        "--inbox DIR`)"
    )
    record = _complete_record(layout, rerun)
    stages = record["stages"]
    # 1. Everything the state is derived from is as the night left it.
    changed = [
        problem
        for name in SOURCE_STAGES
        if name in stages
        for problem in _kept_problems(data_dir, stages[name])
    ]
    if changed:
        more = f" and {len(changed) - 1} more" if len(changed) > 1 else ""
        raise RebuildError(
            f"night {run_date} cannot be rebuilt from what it kept: {changed[0]}{more}; {rerun}"
        )
    # 2. The same writes as the night's own, in its order.
    articles = io.read_table(layout.curated("articles"))
    duplicates = io.read_table(layout.curated("duplicates"))
    write_state(layout, articles, duplicates)
    commit_state(layout)
    commit_vocabulary(layout)
    learn_night(layout)
    # 3. What was written is what the night recorded.
    problems = [
        problem
        for name in STATE_STAGES
        if name in stages
        for problem in partition_problems(data_dir, stages[name], recorded_ns=0)
    ]
    if problems:
        raise RebuildError(
            f"night {run_date}'s state was written again but differs from its record: "
            f"{problems[0]}; {rerun}"
        )
    return sorted(
        path
        for name in STATE_STAGES
        if name in stages
        for path in stages[name]["paths"]
        if path.startswith("state/")
    )


def _complete_record(layout: io.Layout, rerun: str) -> dict[str, Any]:
    if not layout.night_record.exists():
        raise RebuildError(f"night {layout.run_date} has no record in this data dir: {rerun}")
    record: dict[str, Any] = io.read_json(layout.night_record)
    if record.get("status") != "complete":
        raise RebuildError(
            f"night {layout.run_date} did not complete, so it has no state to rebuild: "
            f"run it again to finish it (`wiredesk run --run-date {layout.run_date} --inbox DIR`)"
        )
    return record


def _kept_problems(root: Path, entry: dict[str, Any]) -> list[str]:
    """What differs between the non-state files a stage recorded and those on disk now."""
    want = {f[0]: f for f in entry["files"] if not f[0].startswith("state/")}
    paths = [root / p for p in entry["paths"] if not p.startswith("state/")]
    now = {f[0]: f for f in io.fingerprint_files(paths, root)}
    problems = [f"{rel} is missing" for rel in sorted(set(want) - set(now))]
    problems += [f"{rel} was not written by the night" for rel in sorted(set(now) - set(want))]
    problems += [
        f"{rel} has changed" for rel in sorted(set(want) & set(now)) if want[rel] != now[rel]
    ]
    return problems
