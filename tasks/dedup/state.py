"""Dedup step 8, commit: tonight's staged dedup state becomes state that later nights read.

Input: the data dir's `state/dedup` (earlier nights' tables and `format.json`) and tonight's
staged state datasets (`staged_state`). Output: `state/dedup/<table>/run_date=D` for each
DEDUP_STATE table, and `format.json` (`STATE_FORMAT`). State of another format is refused
(`StateFormatError`), never mixed. Files through `tasks.io` only; quarantines nothing.
"""

from __future__ import annotations

from pathlib import Path

from tasks import io
from tasks.dedup.crosslingual import ANCHORS_VERSION
from tasks.schema import DEDUP_STATE

# What the stored state is: written beside the state tables when a night commits, checked before
# a night reads earlier nights. State without it predates versioning (anchors version 1).
STATE_FORMAT = {"anchors": ANCHORS_VERSION}


class StateFormatError(RuntimeError):
    """The dedup state of earlier nights was written by code that stores other keys."""


def format_path(layout: io.Layout) -> Path:
    return layout.state / "dedup" / "format.json"


def check_state_format(layout: io.Layout) -> None:
    """Refuse to match tonight against state of another format (its keys mean something else:
    mixing them would silently lose links, or make wrong ones)."""
    nights = earlier_nights(layout, "documents")
    if not nights:
        return
    path = format_path(layout)
    found = io.read_json(path) if io.exists(path) else {"anchors": 1}
    if found != STATE_FORMAT:
        raise StateFormatError(
            f"dedup state under {layout.state / 'dedup'} has format {found} (nights "
            f"{nights[0]}..{nights[-1]}); this code reads and writes {STATE_FORMAT}. Rebuild "
            "it: move state/dedup aside and re-run the nights in order from their raw inputs."
        )


def earlier_nights(layout: io.Layout, table: str) -> list[str]:
    return [
        night for night in io.partition_values(layout.dedup_state(table)) if night < layout.run_date
    ]


def staged_state(name: str) -> str:
    """The staged dataset holding tonight's dedup state table `name` until publish."""
    return f"dedup_{name}"


def commit_state(layout: io.Layout) -> dict[str, int]:
    """After publish: tonight's staged dedup state becomes `state/dedup/<table>/run_date=D`
    (replacing what an earlier run of the night committed). Rows per table."""
    rows = {}
    check_state_format(layout)
    io.write_json(format_path(layout), STATE_FORMAT)
    for name, schema in DEDUP_STATE.items():
        rows[name] = io.promote_partition(
            layout.data_dir,
            layout.staged(staged_state(name)),
            layout.dedup_state(name, layout.run_date),
            schema,
        )
    return rows
