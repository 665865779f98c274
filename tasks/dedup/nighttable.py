"""One night's table for the dedup steps: tonight's documents and the earlier ones they meet.

Input: tonight's REPAIRED rows with their signatures (`tasks.dedup.sign`) and the earlier
nights' DEDUP_DOCUMENTS rows that tonight's keys matched or that fall in the translation window
(`tasks.dedup.history`). Output: `NightTable`, whose nodes 0..n-1 are tonight's documents and
n..n+m-1 the earlier ones, every node read through one accessor (`doc`) with the same field names
(`doc_id`, `lang`, `published_at`, `content_sha256`, `shingles`, `site`, `template_tags`,
`source`). No I/O; quarantines nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from tasks.dedup.sign import Signed

# The REPAIRED columns that clustering reads row by row (source, canonical policy, state).
ROW_COLUMNS = [
    "doc_id",
    "source_path",
    "record_index",
    "url",
    "site",
    "lang",
    "published_at",
    "text_length",
]


def source_key(row: dict[str, Any]) -> str:
    """The source of a document across nights: its URL, else its inbox path and record."""
    return row.get("url") or f"{row['source_path']}#{row['record_index']}"


@dataclass(frozen=True)
class NightTable:
    """Tonight's documents (`tonight`, nodes 0..n-1, in input order) and the earlier nights'
    (`earlier`, nodes n..n+m-1)."""

    tonight: list[dict[str, Any]]
    earlier: list[dict[str, Any]]

    @property
    def n(self) -> int:
        """How many of the nodes are tonight's."""
        return len(self.tonight)

    def __len__(self) -> int:
        return len(self.tonight) + len(self.earlier)

    def doc(self, node: int) -> dict[str, Any]:
        """The document of a node, tonight's or an earlier night's."""
        n = len(self.tonight)
        return self.tonight[node] if node < n else self.earlier[node - n]


def night_table(
    table: pa.Table, signed: Signed, earlier: Sequence[dict[str, Any]] = ()
) -> NightTable:
    """The `NightTable` of tonight's REPAIRED rows (as Python rows, only the columns the steps
    read: not the text, tens of MB a night) with their signatures, and the `earlier` rows."""
    rows = table.select(ROW_COLUMNS).to_pylist()
    for row, sha, shingles, tags in zip(
        rows, signed.content_sha256, signed.shingles, signed.template_tags, strict=True
    ):
        row.update(
            content_sha256=sha, shingles=shingles, template_tags=tags, source=source_key(row)
        )
    return NightTable(rows, list(earlier))
