import os
import signal
import subprocess
import sys
from io import BytesIO
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


def _warc(rec_type: str, block: bytes, *, length: str | None = None) -> bytes:
    n = str(len(block)) if length is None else length
    head = f"WARC/1.0\r\nWARC-Type: {rec_type}\r\nContent-Length: {n}\r\n\r\n".encode()
    return head + block + b"\r\n\r\n"


class _FailingRead(BytesIO):
    """A stream whose reads fail once `after` bytes are read (a disk going away mid-file)."""

    def __init__(self, data: bytes, after: int) -> None:
        super().__init__(data)
        self.after = after

    def readline(self, size: int | None = -1) -> bytes:
        if self.tell() >= self.after:
            raise OSError(5, "Input/output error")
        return super().readline(size)

    def read(self, size: int | None = -1) -> bytes:
        if self.tell() >= self.after:
            raise OSError(5, "Input/output error")
        return super().read(size)


def _frames(stream: BytesIO) -> tuple[list[tuple], tuple[int, int]]:
    limits = io.ReadLimits(
        max_file_bytes=1 << 20,
        max_doc_bytes=1000,
        max_records=3,
        max_container_bytes=1 << 20,
        max_gzip_members=10,
    )
    count = io.InputCount()
    units = io.frame_container(stream, "warc", limits, count)
    framed = [(u.record_index, u.content, u.error, u.size) for u in units]
    return framed, (count.records, count.skipped_records)


def test_warc_framing_keeps_what_came_before_the_first_record_it_cannot_frame():
    ok = _warc("response", b"<p>a</p>")
    unit = ok.removesuffix(b"\r\n\r\n")  # a response's unit: its exact header and block
    request = _warc("request", b"GET / HTTP/1.1\r\n")
    assert _frames(BytesIO(request + b"\r\n" + ok)) == ([(0, unit, None, len(unit))], (1, 1))
    # Too large: one unit, its block read past, and framing goes on (unless the file ends in it).
    big = _warc("response", b"x" * 2000)
    too_large = (0, None, "too_large: record 0: 2000 bytes > 1000", 2000)
    assert _frames(BytesIO(big + ok))[0] == [too_large, (1, unit, None, len(unit))]
    assert _frames(BytesIO(big[:-500] + ok))[0] == [too_large]
    after_one = "after 1 response records"
    cases = {
        _warc("response", b"y" * 300)[:-100]: (
            0,
            "truncated_record: record 0: the file ends after 204 of its 300 bytes",
        ),
        ok + ok[:20]: (
            None,
            f"truncated_record: {after_one}: the file ends inside a record header",
        ),
        ok + _warc("request", b"z" * 300)[:-100]: (
            None,
            f"truncated_record: {after_one}: the file ends inside a b'request' record",
        ),
        ok + b"WARC/1.0\r\n" + b"X-Pad: aaaaaaaaaaaaaaaaaaaaaaaa\r\n" * 9000: (
            None,
            f"bad_warc: {after_one}: a record header over {io.MAX_WARC_HEADER_BYTES} bytes",
        ),
        ok + _warc("response", b"q", length="1x"): (
            None,
            f"bad_warc: {after_one}: a record without a valid Content-Length (b'1x')",
        ),
        ok + b"garbage\r\n": (None, f"bad_warc: {after_one}: not a WARC record: b'garbage\\r\\n'"),
        ok * 5: (
            None,
            "too_many_records: more than 3 response records; the rest of the file not read",
        ),
    }
    for data, (index, error) in cases.items():
        units, _ = _frames(BytesIO(data))
        assert units[-1][:3] == (index, None, error)
        assert [u[2] for u in units[:-1]] == [None] * (len(units) - 1)  # kept before the damage
    # A read that fails inside a response names the record; between records, how many came.
    failing = _FailingRead(big.replace(b"x" * 2000, b"x" * 900) + ok, after=200)
    assert _frames(failing)[0][-1] == (
        0,
        None,
        "unreadable: record 0: OSError: Input/output error",
        0,
    )
    units, _ = _frames(_FailingRead(ok + ok, after=len(ok)))
    assert units[-1] == (None, None, "unreadable: after 1 records: OSError: Input/output error", 0)
