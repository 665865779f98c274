"""The only module of wiredesk that reads or writes files.

Input: the inbox tree, staged and curated Parquet datasets, JSON records. Output: RAW batches of
inbox files, Parquet parts written aside and then renamed into place (a reader sees a partition
complete or not at all), JSON written atomically. Nothing here quarantines: a file it cannot read
becomes a RAW row with `read_error` set, and the ingest stage turns that into a reason.

Untrusted input is bounded here: a file is read to at most `max_bytes + 1` bytes, and symlinks
that point outside the inbox are reported instead of followed.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from tasks.schema import RAW

PART_NAME = "part-{index:05d}.parquet"
# Parquet row groups of this many rows keep per-batch reads cheap without producing tiny groups.
ROW_GROUP_ROWS = 4096


# --------------------------------------------------------------------------- inbox


def list_inbox(inbox: Path) -> list[str]:
    """Every file under `inbox`, recursively, as sorted POSIX paths relative to it."""
    if not inbox.is_dir():
        raise FileNotFoundError(f"inbox {inbox} does not exist or is not a directory")
    found: list[str] = []
    for dirpath, dirnames, filenames in os.walk(inbox, followlinks=False):
        dirnames.sort()
        for name in filenames:
            found.append(Path(dirpath, name).relative_to(inbox).as_posix())
    return sorted(found)


def read_raw_batches(
    inbox: Path, rel_paths: list[str], *, max_bytes: int, batch_bytes: int
) -> Iterator[pa.Table]:
    """RAW tables of the given inbox files, each batch holding about `batch_bytes` of content."""
    root = inbox.resolve()
    cols: dict[str, list[Any]] = {name: [] for name in RAW.names}
    held = 0
    for rel in rel_paths:
        path = inbox / rel
        content: bytes | None = None
        error: str | None = None
        size = 0
        try:
            real = path.resolve()
            if path.is_symlink() and not real.is_relative_to(root):
                error = "symlink_outside_inbox"
            elif not real.is_file():
                error = "not_a_regular_file"
            else:
                size = real.stat().st_size
                if size > max_bytes:
                    error = f"too_large: {size} bytes > limit {max_bytes}"
                else:
                    with real.open("rb") as fh:
                        content = fh.read(max_bytes + 1)
                    if len(content) > max_bytes:
                        error, content = f"too_large: grew past limit {max_bytes}", None
        except OSError as exc:
            error = f"unreadable: {exc.strerror or exc}"
        cols["source_path"].append(rel)
        cols["size_bytes"].append(size)
        cols["content"].append(content)
        cols["read_error"].append(error)
        held += len(content or b"")
        if held >= batch_bytes:
            yield pa.Table.from_pydict(cols, schema=RAW)
            cols = {name: [] for name in RAW.names}
            held = 0
    if cols["source_path"]:
        yield pa.Table.from_pydict(cols, schema=RAW)


# --------------------------------------------------------------------------- datasets


def partition_dir(root: Path, dataset: str, run_date: str) -> Path:
    """`<root>/<dataset>/run_date=<run_date>`: the Hive partition of one night."""
    return root / dataset / f"run_date={run_date}"


def _scratch(data_dir: Path) -> Path:
    # Scratch space lives beside the datasets (same filesystem, so renames are atomic) but outside
    # every dataset folder, so that no reader's glob ever sees a half-written part.
    path = data_dir / ".tmp" / uuid.uuid4().hex
    path.mkdir(parents=True, exist_ok=False)
    return path


@dataclass
class WriteResult:
    path: str
    rows: int
    files: int


def write_partition(
    data_dir: Path, final_dir: Path, tables: Iterable[pa.Table], schema: pa.Schema
) -> WriteResult:
    """Write `tables` as Parquet parts aside, then swap them in at `final_dir` in one rename.

    An existing partition (a re-run of the night) is replaced: it is renamed aside first and
    removed only after the new one is in place. A partition with no rows still gets one empty
    part, so that readers see the schema and "nothing tonight" differs from "not run".
    """
    scratch = _scratch(data_dir)
    staging = scratch / "new"
    staging.mkdir()
    rows = files = 0
    writer: pq.ParquetWriter | None = None
    try:
        for table in tables:
            if table.num_rows == 0:
                continue
            if table.schema != schema:
                table = table.select(schema.names).cast(schema)
            if writer is None:
                writer = pq.ParquetWriter(staging / PART_NAME.format(index=files), schema)
                files += 1
            writer.write_table(table, row_group_size=ROW_GROUP_ROWS)
            rows += table.num_rows
        if writer is None:
            pq.write_table(schema.empty_table(), staging / PART_NAME.format(index=0))
            files = 1
        else:
            writer.close()
            writer = None
        _fsync_dir(staging)
        swap_in(scratch, staging, final_dir)
    finally:
        if writer is not None:
            writer.close()
        shutil.rmtree(scratch, ignore_errors=True)
    return WriteResult(str(final_dir), rows, files)


def swap_in(scratch: Path, staging: Path, final_dir: Path) -> None:
    final_dir.parent.mkdir(parents=True, exist_ok=True)
    if final_dir.exists():
        old = scratch / "old"
        os.replace(final_dir, old)
    os.replace(staging, final_dir)
    _fsync_dir(final_dir.parent)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def dataset_rows(path: Path) -> int:
    """Row count of a Parquet dataset folder, from footers only; 0 when it does not exist."""
    if not path.exists():
        return 0
    return int(ds.dataset(path, format="parquet").count_rows())


def iter_batches(
    path: Path, *, columns: list[str] | None = None, batch_rows: int = 1024
) -> Iterator[pa.Table]:
    """Stream a Parquet dataset folder as tables of at most `batch_rows` rows, in file order."""
    if not path.exists():
        return
    dataset = ds.dataset(path, format="parquet")
    for batch in dataset.to_batches(columns=columns, batch_size=batch_rows):
        if batch.num_rows:
            yield pa.Table.from_batches([batch])


def read_table(path: Path, *, columns: list[str] | None = None) -> pa.Table:
    """A whole Parquet dataset folder as one table (for per-night globals such as dedup)."""
    return ds.dataset(path, format="parquet").to_table(columns=columns)


def partition_values(root: Path, key: str = "run_date") -> list[str]:
    """Sorted values of the Hive partitions `<root>/<key>=<value>` that hold a complete part."""
    if not root.is_dir():
        return []
    prefix = f"{key}="
    return sorted(
        child.name[len(prefix) :]
        for child in root.iterdir()
        if child.is_dir() and child.name.startswith(prefix) and any(child.glob("*.parquet"))
    )


def _night_files(root: Path, nights: list[str], key: str) -> list[str]:
    files: list[str] = []
    for night in nights:
        files.extend(str(p) for p in sorted((root / f"{key}={night}").glob("*.parquet")))
    return files


def read_filtered(
    root: Path,
    *,
    nights: list[str],
    equals: dict[str, Any] | None = None,
    columns: list[str] | None = None,
    key: str = "run_date",
) -> pa.Table:
    """Rows of the given Hive partitions of `root` whose columns equal `equals`.

    An equality filter on a column the files are sorted by reads only the row groups whose
    statistics can hold the value (Parquet row-group pruning), so a bucket of a large history
    costs the bucket, not the history.
    """
    files = _night_files(root, nights, key)
    if not files:
        raise FileNotFoundError(f"no parts under {root} for {nights}")
    dataset = ds.dataset(files, format="parquet")
    expr = None
    for name, value in (equals or {}).items():
        term = ds.field(name) == value
        expr = term if expr is None else expr & term
    return dataset.to_table(columns=columns, filter=expr)


def read_rows_by_key(root: Path, *, nights: list[str], column: str, values: list[str]) -> pa.Table:
    """Rows of the given Hive partitions whose string `column` is in `values`.

    Files must be sorted by `column`: only the row groups whose min/max statistics bracket one
    of the values are read, so fetching a few thousand documents from a history of millions
    reads a few thousand row groups at most.
    """
    import bisect

    wanted = sorted(set(values))
    parts: list[pa.Table] = []
    for path in _night_files(root, nights, "run_date"):
        pf = pq.ParquetFile(path)
        index = pf.schema_arrow.get_field_index(column)
        groups = []
        for g in range(pf.metadata.num_row_groups):
            stats = pf.metadata.row_group(g).column(index).statistics
            if stats is None or not stats.has_min_max:
                groups.append(g)
                continue
            at = bisect.bisect_left(wanted, stats.min)
            if at < len(wanted) and wanted[at] <= stats.max:
                groups.append(g)
        if groups:
            table = pf.read_row_groups(groups)
            mask = pc.is_in(table.column(column), value_set=pa.array(wanted, pa.string()))
            parts.append(table.filter(mask))
    if not parts:
        return pa.table({column: pa.array([], pa.string())})
    return pa.concat_tables(parts)


def remove_tree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


# --------------------------------------------------------------------------- JSON


def write_json(path: Path, obj: Any) -> None:
    """Write JSON aside and rename it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    tmp.write_text(json.dumps(obj, indent=2, sort_keys=False, default=str) + "\n", "utf-8")
    os.replace(tmp, path)


def read_json(path: Path) -> Any:
    return json.loads(path.read_text("utf-8"))


def read_text(path: Path) -> str:
    return path.read_text("utf-8")


# --------------------------------------------------------------------------- layout


@dataclass(frozen=True)
class Layout:
    """Where each dataset of one night lives under the data dir (see data/README.md)."""

    data_dir: Path
    run_date: str

    def staged(self, dataset: str) -> Path:
        return partition_dir(self.data_dir / "staged", dataset, self.run_date)

    def staged_quarantine(self, stage: str) -> Path:
        return partition_dir(self.data_dir / "staged" / "quarantined", stage, self.run_date)

    def curated(self, table: str) -> Path:
        return partition_dir(self.data_dir / "curated", table, self.run_date)

    @property
    def quarantine(self) -> Path:
        return self.data_dir / "quarantine" / f"run_date={self.run_date}"

    @property
    def state(self) -> Path:
        return self.data_dir / "state"

    def dedup_state(self, table: str, run_date: str | None = None) -> Path:
        """`state/dedup/<table>`, or one night's partition of it."""
        root = self.state / "dedup" / table
        return root if run_date is None else root / f"run_date={run_date}"

    def run_record(self, run_id: str) -> Path:
        return self.data_dir / "runs" / f"{run_id}.json"
