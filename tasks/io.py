"""The only module of wiredesk that reads or writes files.

Input: the inbox tree, staged and curated Parquet datasets, JSON records. Output: RAW batches of
inbox files, Parquet parts written aside and then renamed into place (a reader sees a partition
complete or not at all), JSON written atomically. Nothing here quarantines: a file it cannot read
becomes a RAW row with `read_error` set, and the ingest stage turns that into a reason.

Untrusted input is bounded here: a file is read to at most `max_bytes + 1` bytes, and symlinks
that point outside the inbox are reported instead of followed.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import time
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
        for name in ("url", "fetched_at", "media_type"):  # said only by fetched pages
            cols[name].append(None)
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
    data_dir: Path,
    final_dir: Path,
    tables: Iterable[pa.Table],
    schema: pa.Schema,
    *,
    compression: str = "snappy",
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
                writer = pq.ParquetWriter(
                    staging / PART_NAME.format(index=files), schema, compression=compression
                )
                files += 1
            writer.write_table(table, row_group_size=ROW_GROUP_ROWS)
            rows += table.num_rows
        if writer is None:
            pq.write_table(
                schema.empty_table(),
                staging / PART_NAME.format(index=0),
                compression=compression,
            )
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


def promote_partition(data_dir: Path, staged_dir: Path, final_dir: Path, schema: pa.Schema) -> int:
    """Copy a staged partition into its final place (written aside, swapped in: see
    `write_partition`), e.g. a night's state once the night is published. Returns its rows."""
    table = read_table(staged_dir)
    write_partition(data_dir, final_dir, [table], schema)
    return table.num_rows


def read_table(path: Path, *, columns: list[str] | None = None) -> pa.Table:
    """A whole Parquet dataset folder as one table (for per-night globals such as dedup)."""
    return ds.dataset(path, format="parquet").to_table(columns=columns)


def read_partitions_before(
    root: Path, run_date: str, *, columns: list[str] | None = None
) -> list[pa.Table]:
    """Each `<root>/run_date=D` partition with D < `run_date`, oldest first (state of earlier
    nights; a later night never changes what an earlier one reads)."""
    return [read_table(path, columns=columns) for _, path in partitions_before(root, run_date)]


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


def partitions_before(root: Path, run_date: str | None) -> list[tuple[str, Path]]:
    """(night, folder) of every `run_date=...` partition under `root` strictly before `run_date`
    (every one when it is None), oldest first. Reading only earlier nights is what makes a night
    re-runnable: its own writes never change what it reads."""
    if not root.is_dir():
        return []
    found = []
    for child in root.iterdir():
        key, _, night = child.name.partition("=")
        if key == "run_date" and child.is_dir() and (run_date is None or night < run_date):
            found.append((night, child))
    return sorted(found)


def read_history(root: Path, run_date: str, schema: pa.Schema) -> pa.Table:
    """Every partition before `run_date` as one table, plus a string column `run_date`."""
    parts = []
    for night, folder in partitions_before(root, run_date):
        table = ds.dataset(folder, format="parquet").to_table().select(schema.names).cast(schema)
        parts.append(
            table.append_column("run_date", pa.array([night] * table.num_rows, pa.string()))
        )
    if not parts:
        empty = schema.empty_table()
        return empty.append_column("run_date", pa.array([], pa.string()))
    return pa.concat_tables(parts)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def fingerprint_files(paths: Iterable[Path], root: Path) -> list[list[Any]]:
    """[relative path, size, sha256] of every file in `paths` (folders walked), sorted; what a
    stage's output was, to tell later whether it is still there unchanged."""
    out: list[list[Any]] = []
    for path in paths:
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for file in files:
            if file.exists():
                out.append(
                    [file.relative_to(root).as_posix(), file.stat().st_size, file_sha256(file)]
                )
    return sorted(out)


def stat_files(paths: Iterable[Path], root: Path) -> list[list[Any]]:
    """[relative path, size, mtime_ns] of every file in `paths` (folders walked), sorted: a
    cheap fingerprint for files that are only ever replaced whole, never edited in place."""
    out: list[list[Any]] = []
    for path in paths:
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for file in files:
            try:
                st = file.stat()
            except OSError:
                continue
            out.append([file.relative_to(root).as_posix(), st.st_size, st.st_mtime_ns])
    return sorted(out)


def stat_tree(root: Path) -> list[list[Any]]:
    """[relative path, size, mtime_ns] of every file under `root`, sorted (cheap: no reads)."""
    out: list[list[Any]] = []
    for rel in list_inbox(root):
        try:
            st = (root / rel).stat()
            out.append([rel, st.st_size, st.st_mtime_ns])
        except OSError:
            out.append([rel, None, None])
    return out


def clear_scratch(data_dir: Path) -> int:
    """Remove what killed runs left in `.tmp` (call only while holding the data-dir lock)."""
    scratch = data_dir / ".tmp"
    if not scratch.is_dir():
        return 0
    leftovers = list(scratch.iterdir())
    for path in leftovers:
        shutil.rmtree(path, ignore_errors=True)
    return len(leftovers)


# --------------------------------------------------------------------------- lock


class DataDirBusy(RuntimeError):
    """Another run holds the data dir; the message says which and what to do."""


class DataDirLock:
    """An exclusive lock on one data dir for the length of a run.

    flock, not a marker file: the kernel drops the lock when its process dies, so a run killed
    with SIGKILL never leaves a stale lock behind. The holder writes who it is into the lock file
    so that the run it blocks can say so. (flock is advisory and local: NFS does not honour it.)
    """

    def __init__(self, data_dir: Path, *, holder: str, wait_seconds: float = 0.0) -> None:
        self.path = data_dir / ".lock"
        self.holder = holder
        self.wait_seconds = wait_seconds
        self._fd: int | None = None

    def __enter__(self) -> DataDirLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        deadline = time.monotonic() + self.wait_seconds
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    other = os.pread(fd, 4096, 0).decode("utf-8", "replace").strip()
                    os.close(fd)
                    waited = f" after waiting {self.wait_seconds:g} s" if self.wait_seconds else ""
                    raise DataDirBusy(
                        f"data dir {self.path.parent} is in use by another wiredesk run "
                        f"({other or 'holder unknown'}){waited}; let it finish, or wait for it "
                        "with --lock-wait SECONDS"
                    ) from None
                time.sleep(0.5)
        os.ftruncate(fd, 0)
        os.pwrite(fd, self.holder.encode("utf-8"), 0)
        self._fd = fd
        return self

    def __exit__(self, *exc: object) -> None:
        if self._fd is not None:
            os.ftruncate(self._fd, 0)
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


# --------------------------------------------------------------------------- state


def state_snapshots(state_dir: Path, name: str) -> list[tuple[str, Path]]:
    """`(night, path)` of every snapshot `state/<name>/run_date=<night>`, oldest first."""
    return partitions_before(state_dir / name, None)


# --------------------------------------------------------------------------- JSON


def write_json(path: Path, obj: Any) -> None:
    """Write JSON aside and rename it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    tmp.write_text(json.dumps(obj, indent=2, sort_keys=False, default=str) + "\n", "utf-8")
    os.replace(tmp, path)


def exists(path: Path) -> bool:
    return path.exists()


def read_json(path: Path) -> Any:
    return json.loads(path.read_text("utf-8"))


def read_text(path: Path) -> str:
    return path.read_text("utf-8")


def write_text(path: Path, text: str) -> None:
    """Write UTF-8 text aside and rename it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    tmp.write_text(text, "utf-8")
    os.replace(tmp, path)


def read_run_records(runs_dir: Path) -> list[dict[str, Any]]:
    """Every run record (`<run_id>.json`) directly under `runs_dir`; unreadable ones skipped."""
    records: list[dict[str, Any]] = []
    if not runs_dir.is_dir():
        return records
    for path in sorted(runs_dir.glob("*.json")):
        try:
            obj = json.loads(path.read_text("utf-8"))
        except (OSError, ValueError):
            continue  # a record being written by a running night, or damaged: not a run to show
        if isinstance(obj, dict) and "run_id" in obj and "stages" in obj:
            records.append(obj)
    return records


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

    @property
    def raw(self) -> Path:
        """The night's fetch: every HTTP exchange, with the bytes of what changed."""
        return self.data_dir / "raw" / f"run_date={self.run_date}"

    def state_history(self, name: str) -> Path:
        """Root of a state dataset with one partition per night (`state/<name>/run_date=D`)."""
        return self.state / name

    def state_partition(self, name: str) -> Path:
        return partition_dir(self.state, name, self.run_date)

    @property
    def night_record(self) -> Path:
        """What is known about this night's progress: identity, fingerprint, finished stages."""
        return self.state / "nights" / f"{self.run_date}.json"

    @property
    def validation_results(self) -> Path:
        """GX validation results, beside the run records (`<suite>/<run_id>/<time>/...json`)."""
        return self.data_dir / "runs" / "validations"

    @property
    def docs(self) -> Path:
        """GX Data Docs (static HTML) and the wiredesk report."""
        return self.data_dir / "docs"
