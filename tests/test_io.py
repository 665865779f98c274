import os
import signal
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tasks import io
from tasks.io import DataDirBusy, DataDirLock, partitions_before, read_history, write_partition
from tasks.schema import QUARANTINED


def test_list_inbox_is_recursive_sorted_and_relative(tmp_path):
    (tmp_path / "b" / "c").mkdir(parents=True)
    (tmp_path / "b" / "c" / "x.txt").write_text("x")
    (tmp_path / "a.html").write_text("a")
    assert io.list_inbox(tmp_path) == ["a.html", "b/c/x.txt"]


def test_list_inbox_missing_folder_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="inbox"):
        io.list_inbox(tmp_path / "nope")


def test_raw_batches_bound_size_and_report_escaping_symlinks(tmp_path):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "big.txt").write_bytes(b"x" * 100)
    (inbox / "ok.txt").write_bytes(b"fine")
    outside = tmp_path / "secret.txt"
    outside.write_text("do not read")
    os.symlink(outside, inbox / "link.txt")
    rows = []
    for batch in io.read_raw_batches(inbox, io.list_inbox(inbox), max_bytes=50, batch_bytes=1):
        rows.extend(batch.to_pylist())
    by_path = {r["source_path"]: r for r in rows}
    assert by_path["big.txt"]["content"] is None
    assert by_path["big.txt"]["read_error"].startswith("too_large")
    assert by_path["link.txt"]["read_error"] == "symlink_outside_inbox"
    assert by_path["link.txt"]["content"] is None
    assert by_path["ok.txt"]["content"] == b"fine"


def _quarantine_table(n: int) -> pa.Table:
    from tests.builders import quarantine_like

    return quarantine_like(n)


def test_write_partition_replaces_whole_and_leaves_no_scratch(tmp_path):
    final = io.partition_dir(tmp_path / "curated", "t", "2026-03-14")
    io.write_partition(tmp_path, final, [_quarantine_table(3)], QUARANTINED)
    assert pq.read_table(final).num_rows == 3
    result = io.write_partition(tmp_path, final, [_quarantine_table(1)], QUARANTINED)
    assert result.rows == 1 and pq.read_table(final).num_rows == 1
    assert list((tmp_path / ".tmp").iterdir()) == []


def test_empty_partition_still_carries_the_schema(tmp_path):
    final = tmp_path / "q" / "run_date=2026-03-14"
    io.write_partition(tmp_path, final, [], QUARANTINED)
    table = pq.read_table(final)
    assert table.num_rows == 0
    assert table.schema.names == QUARANTINED.names


def test_failed_write_leaves_the_old_partition_untouched(tmp_path):
    final = tmp_path / "q" / "run_date=2026-03-14"
    io.write_partition(tmp_path, final, [_quarantine_table(2)], QUARANTINED)
    before = {p.name: p.read_bytes() for p in final.iterdir()}

    def exploding():
        yield _quarantine_table(1)
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        io.write_partition(tmp_path, final, exploding(), QUARANTINED)
    assert {p.name: p.read_bytes() for p in final.iterdir()} == before


def test_a_second_run_on_the_data_dir_fails_with_a_clear_message(tmp_path):
    with (
        DataDirLock(tmp_path, holder="pid 1, run first"),
        pytest.raises(DataDirBusy, match=r"in use by another wiredesk run \(pid 1, run first\)"),
        DataDirLock(tmp_path, holder="second"),
    ):
        pass
    with DataDirLock(tmp_path, holder="third"):  # released on exit
        pass


def test_a_killed_holder_leaves_no_stale_lock(tmp_path):
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from pathlib import Path; from tasks.io import DataDirLock\n"
            f"with DataDirLock(Path({str(tmp_path)!r}), holder='doomed'):\n"
            "    print('held', flush=True); time.sleep(600)",
        ],
        stdout=subprocess.PIPE,
        text=True,
        cwd=str(Path(__file__).parent.parent),
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with pytest.raises(DataDirBusy, match="doomed"), DataDirLock(tmp_path, holder="me"):
            pass
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=60)
        with DataDirLock(tmp_path, holder="me", wait_seconds=30):
            pass
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait(timeout=60)


def test_history_reads_only_earlier_nights(tmp_path):
    schema = pa.schema([pa.field("k", pa.string())])
    for night in ("2026-03-12", "2026-03-13", "2026-03-14"):
        write_partition(
            tmp_path, tmp_path / "h" / f"run_date={night}", [pa.table({"k": [night]})], schema
        )
    assert [n for n, _ in partitions_before(tmp_path / "h", "2026-03-14")] == [
        "2026-03-12",
        "2026-03-13",
    ]
    table = read_history(tmp_path / "h", "2026-03-14", schema)
    assert table.column("run_date").to_pylist() == ["2026-03-12", "2026-03-13"]
    assert read_history(tmp_path / "nothing", "2026-03-14", schema).num_rows == 0


def test_a_lock_handed_over_is_joined_by_this_process_and_still_refuses_others(tmp_path):
    """The CLI takes the lock before Prefect starts (hand_over=True); the flow's own lock in the
    same process joins it instead of refusing it, and another process is still refused."""
    import subprocess
    import sys

    with DataDirLock(tmp_path, holder="cli", hand_over=True):
        with DataDirLock(tmp_path, holder="flow run abc"):
            assert (tmp_path / ".lock").read_text() == "flow run abc"
        other = subprocess.run(
            [
                sys.executable,
                "-c",
                "from pathlib import Path; from tasks.lock import DataDirLock\n"
                f"DataDirLock(Path({str(tmp_path)!r}), holder='x').__enter__()",
            ],
            capture_output=True,
            text=True,
        )
        assert "DataDirBusy" in other.stderr and "flow run abc" in other.stderr
        # A second hand-over lock is not joined: only the flow inside the CLI joins.
        with pytest.raises(DataDirBusy):
            DataDirLock(tmp_path, holder="x", hand_over=True).__enter__()
    with DataDirLock(tmp_path, holder="after"):  # released with the handed-over lock
        pass
