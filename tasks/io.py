"""The only module of wiredesk that reads or writes files.

Input: the inbox tree, staged and curated Parquet datasets, JSON records. Output: RAW batches of
inbox files, Parquet parts written aside and then renamed into place (a reader sees a partition
complete or not at all), JSON written atomically. Nothing here quarantines: a file it cannot read
becomes a RAW row with `read_error` set, and the ingest stage turns that into a reason.

Untrusted input is bounded here: a single-document file is read to at most its limit + 1
bytes, containers (JSONL, WARC, gzipped or not) are streamed one document at a time with a limit
per document, gunzip is linear with caps on members and output, symlinks that point outside the
inbox and directory symlinks are reported instead of followed, and what was walked and read is
counted (`InputCount`) for the night's invariant.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import stat
import uuid
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from io import BufferedReader, BytesIO, RawIOBase
from pathlib import Path
from typing import Any, BinaryIO

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from tasks.schema import RAW

PART_NAME = "part-{index:05d}.parquet"
# Parquet row groups of this many rows keep per-batch reads cheap without producing tiny groups.
ROW_GROUP_ROWS = 4096


# --------------------------------------------------------------------------- inbox
# Walking the inbox and reading it as documents. A document is a single-document file, a JSONL
# line or a WARC response record: limits apply to documents, and containers (JSONL, WARC, either
# gzipped) are streamed, never held whole. Nothing here raises on what a file holds or on what
# the file system refuses: every entry yields RAW rows, each one document or one reason
# (`read_error`, `<reason>: <detail>`, with ingest's reason codes) why a file, a container's
# remainder or a directory yields none. `InputCount` counts what was walked and read, so the
# night's invariant compares its output with its input rather than with itself.

# Bytes read from a file, or handed to zlib, at a time while streaming.
READ_CHUNK = 1 << 16
# zlib hands back the input a member did not use as a new bytes object. Handing it the rest of
# the file each time made gunzip quadratic in the members (800,000 empty members: 290 s); fed a
# chunk at a time it is linear, and a member starts with this small feed, doubled on every call
# while it lasts (up to READ_CHUNK), so that a tiny member costs its own size rather than a
# chunk's copy (800,000 empty members: 3 to 6 s on this 2-core box, a third less than with whole
# chunks).
FIRST_FEED = 64
# RAW rows per batch at most: a JSONL of tiny records would otherwise gather hundreds of
# thousands of rows before reaching the batch's byte budget.
BATCH_ROWS = 8192
# A WARC header block (version line and named fields) longer than this is not a header: real
# ones are a few hundred bytes to a few KiB. Framing stops there instead of reading a "line" of
# gigabytes (warcio's own line reader is unbounded, and quadratic on a long line).
MAX_WARC_HEADER_BYTES = 256 * 1024
GZIP_MAGIC = b"\x1f\x8b"
CONTAINER_KINDS = (
    (".jsonl", "jsonl"),
    (".jsonl.gz", "jsonl"),
    (".warc", "warc"),
    (".warc.gz", "warc"),
)


class InboxError(Exception):
    """What a file or stream cannot give: `reason` is one of ingest's reason codes."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class ReadLimits:
    """What one inbox file may cost (see `IngestConfig` for the values and why)."""

    max_file_bytes: int  # a single-document file as stored (possibly gzipped)
    max_doc_bytes: int  # one document: a file after gunzip, a JSONL line, a WARC record
    max_records: int  # documents in one container
    max_container_bytes: int  # a container's bytes, after gunzip
    max_gzip_members: int


@dataclass
class InputCount:
    """The inbox as walked and read, counted independently of what ingest makes of it.

    `rows` is what ingest must account for, row for row: one per document read (file, JSONL
    line, WARC response record) and one per file, container remainder or directory that yields
    no document (why is in the row). Unchanged files (same bytes as on the last night that saw
    them) are not read, so they add to `unchanged_files` and to no row.
    """

    files: int = 0
    directories: int = 0
    unreadable_directories: int = 0
    symlink_directories: int = 0
    unchanged_files: int = 0
    containers: int = 0
    records: int = 0
    skipped_records: int = 0  # WARC records that are not responses: not documents
    rows: int = 0

    def to_dict(self) -> dict[str, int]:
        return asdict(self)


@dataclass(frozen=True)
class InboxEntry:
    """A file under the inbox (`problem` None), or a directory that was not walked, and why."""

    rel: str  # POSIX path relative to the inbox, as the OS spells it (see `display_path`)
    problem: str | None = None
    detail: str = ""


@dataclass(frozen=True)
class Framed:
    """One unit read out of a container: a document, or (`error`) why there is none."""

    record_index: int | None
    content: bytes | None
    error: str | None
    size: int


def display_path(rel: str) -> str:
    """`rel` as valid Unicode: Python carries the bytes of a file name that is not UTF-8 as
    surrogate escapes, which no Arrow string can hold; those bytes are shown as `\\xNN`."""
    try:
        rel.encode("utf-8")
    except UnicodeEncodeError:
        return os.fsencode(rel).decode("utf-8", "backslashreplace")
    return rel


def _safe_text(text: str) -> str:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


def _os_detail(exc: OSError) -> str:
    return f"{type(exc).__name__}: {exc.strerror or exc}"


def walk_inbox(inbox: Path, count: InputCount | None = None) -> list[InboxEntry]:
    """Every file under `inbox` and every directory that could not be walked, sorted by path.

    Directories are listed with `os.scandir` from an explicit stack (no recursion limit, no
    loop: directory symlinks are never followed). A directory that cannot be listed is an entry
    `unreadable_directory`; a symlink to a directory is an entry `symlink_directory`, inside the
    inbox or not: following one inside would read its files twice under two names, and one
    outside would leave the inbox. Symlinks to files are files (reading checks where they
    point). Raises only when `inbox` itself is not a directory.
    """
    if not inbox.is_dir():
        raise FileNotFoundError(f"inbox {inbox} does not exist or is not a directory")
    found: list[InboxEntry] = []
    stack = [""]
    while stack:
        rel_dir = stack.pop()
        try:
            with os.scandir(os.path.join(inbox, rel_dir) if rel_dir else inbox) as listing:
                children = list(listing)
        except OSError as exc:
            found.append(InboxEntry(rel_dir or ".", "unreadable_directory", _os_detail(exc)))
            continue
        if count is not None:
            count.directories += 1
        for child in children:
            rel = f"{rel_dir}/{child.name}" if rel_dir else child.name
            try:
                if child.is_dir(follow_symlinks=False):
                    stack.append(rel)
                    continue
                if child.is_symlink() and os.path.isdir(child.path):
                    target = os.readlink(child.path)
                    found.append(InboxEntry(rel, "symlink_directory", f"not followed: -> {target}"))
                    continue
            except OSError:
                pass  # an entry the OS cannot describe is read as a file, which says what it is
            found.append(InboxEntry(rel))
    return sorted(found, key=lambda entry: entry.rel)


def list_inbox(inbox: Path) -> list[str]:
    """Every file under `inbox`, recursively, as sorted POSIX paths relative to it."""
    return [entry.rel for entry in walk_inbox(inbox) if entry.problem is None]


def container_kind(name: str) -> str | None:
    """`jsonl` or `warc` for a container file name (either optionally `.gz`), else None."""
    lower = name.lower()
    for suffix, kind in CONTAINER_KINDS:
        if lower.endswith(suffix):
            return kind
    return None


def _within(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def _open_regular(path: str, root: str) -> tuple[BinaryIO, int]:
    """An open regular file and its size; InboxError when it is not one or cannot be opened."""
    try:
        st = os.lstat(path)
        if stat.S_ISLNK(st.st_mode):
            # realpath, not Path.resolve: resolve raises RuntimeError on a symlink loop.
            if not _within(os.path.realpath(path), root):
                raise InboxError("symlink_outside_inbox")
            try:
                st = os.stat(path)
            except OSError as exc:  # dangling, or a loop (ELOOP)
                raise InboxError("broken_symlink", _os_detail(exc)) from None
        if not stat.S_ISREG(st.st_mode):
            raise InboxError("not_a_regular_file", f"mode {stat.filemode(st.st_mode)}")
        # O_NONBLOCK: a FIFO put in the file's place since the check must not hang the night.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise InboxError("unreadable", _os_detail(exc)) from None
    fh = os.fdopen(fd, "rb", buffering=READ_CHUNK)
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        fh.close()
        raise InboxError("not_a_regular_file", f"mode {stat.filemode(st.st_mode)}")
    return fh, st.st_size


class _Gunzip(RawIOBase):
    """The gzip members of `raw`, one after another, decompressed as they are read.

    Linear in the input whatever the number of members (see FIRST_FEED), bounded in memory
    (zlib's `max_length`), and refusing more than `max_members` members or `max_bytes` bytes of
    output: InboxError `too_many_gzip_members` or `too_large`; `bad_gzip` when the data is not
    gzip, is corrupt or ends inside a member. Zero padding between members is skipped.
    """

    def __init__(self, raw: BinaryIO, *, max_members: int, max_bytes: int) -> None:
        super().__init__()
        self._raw = raw
        self._max_members = max_members
        self._max_bytes = max_bytes
        self._buf = b""
        self._pos = 0
        self._inflater: Any = None
        self._feed = FIRST_FEED
        self._members = 0
        self._produced = 0
        self._over = False
        self._ended = False

    def readable(self) -> bool:
        return True

    def _more(self) -> bool:
        if self._pos < len(self._buf):
            return True
        self._buf, self._pos = self._raw.read(READ_CHUNK), 0
        return bool(self._buf)

    def _next_member(self) -> bool:
        while True:
            if not self._more():
                return False
            if self._buf[self._pos] != 0:
                break
            rest = self._buf[self._pos :].lstrip(b"\x00")
            self._pos = len(self._buf) - len(rest)
        self._members += 1
        if self._members > self._max_members:
            raise InboxError("too_many_gzip_members", f"more than {self._max_members} members")
        self._inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        self._feed = FIRST_FEED
        return True

    def _too_large(self) -> InboxError:
        return InboxError("too_large", f"decompresses past {self._max_bytes} bytes")

    def readinto(self, buffer: Any) -> int:
        if self._over:
            raise self._too_large()
        want = len(buffer)
        while want and not self._ended:
            if self._inflater is None and not self._next_member():
                self._ended = True
                break
            view = memoryview(self._buf)[self._pos : self._pos + self._feed]
            if not len(view) and self._more():
                view = memoryview(self._buf)[self._pos : self._pos + self._feed]
            try:
                out = self._inflater.decompress(view, want)
            except zlib.error as exc:
                raise InboxError("bad_gzip", str(exc)) from None
            unused = len(self._inflater.unconsumed_tail) + len(self._inflater.unused_data)
            self._pos += len(view) - unused
            self._feed = min(self._feed * 2, READ_CHUNK)
            if self._inflater.eof:
                self._inflater = None
            elif not out and not len(view):
                raise InboxError("bad_gzip", "the gzip stream ends inside a member (truncated)")
            if out:
                # Output up to the limit is handed out first (a reader keeps the lines before
                # it); the read after that is refused.
                room = self._max_bytes - self._produced
                if len(out) > room:
                    self._over = True
                    out = out[:room]
                    if not out:
                        raise self._too_large()
                self._produced += len(out)
                buffer[: len(out)] = out
                return len(out)
        return 0


def gunzip_stream(raw: BinaryIO, *, max_members: int, max_bytes: int) -> BinaryIO:
    """`raw` (gzip, any number of members) as a decompressed, buffered stream; reads raise
    InboxError (see `_Gunzip`)."""
    return BufferedReader(_Gunzip(raw, max_members=max_members, max_bytes=max_bytes), READ_CHUNK)


def gunzip(data: bytes, *, limit: int, max_members: int) -> bytes:
    """Every gzip member of `data`, decompressed; InboxError past `limit` bytes or on damage."""
    return gunzip_stream(BytesIO(data), max_members=max_members, max_bytes=limit).read()


def _stream_error(exc: Exception, where: str) -> str:
    if isinstance(exc, InboxError):
        return f"{exc.reason}: {where}: {exc.detail}"
    assert isinstance(exc, OSError)
    return f"unreadable: {where}: {_os_detail(exc)}"


def _skip(stream: BinaryIO, length: int) -> int:
    done = 0
    while done < length:
        chunk = stream.read(min(READ_CHUNK, length - done))
        if not chunk:
            break
        done += len(chunk)
    return done


def _frame_jsonl(stream: BinaryIO, limits: ReadLimits, count: InputCount) -> Iterator[Framed]:
    """Lines of a JSONL stream (ending at `\\n`), blank ones skipped; a line over the document
    limit is read past in chunks, never held, and becomes one `too_large` unit."""
    limit = limits.max_doc_bytes
    index = -1
    documents = 0
    try:
        while True:
            line = stream.readline(limit + 1)
            if not line:
                return
            index += 1
            size = len(line)
            overlong = size > limit and not line.endswith(b"\n")
            while overlong and not line.endswith(b"\n"):
                line = stream.readline(READ_CHUNK)
                if not line:
                    break
                size += len(line)
            body = b"" if overlong else line.rstrip(b"\r\n")
            if not overlong and not body.strip():
                continue
            if documents == limits.max_records:
                yield Framed(
                    None,
                    None,
                    f"too_many_records: more than {limits.max_records} documents; "
                    f"line {index + 1} and those after it not read",
                    0,
                )
                return
            documents += 1
            count.records += 1
            if overlong:
                yield Framed(
                    index, None, f"too_large: line {index + 1}: {size} bytes > {limit}", size
                )
            else:
                yield Framed(index, body, None, len(body))
    except (InboxError, OSError) as exc:
        yield Framed(None, None, _stream_error(exc, f"after line {index + 1}"), 0)


@dataclass(frozen=True)
class _WarcHead:
    """A WARC record's header as read: its exact bytes, its `WARC-Type` and its block's length."""

    data: bytes
    rec_type: bytes | None
    length: int


def _warc_version_line(stream: BinaryIO) -> bytes:
    """The next line that is not blank (a record's version line); b"" at the end of the stream."""
    line = stream.readline(MAX_WARC_HEADER_BYTES)
    while line and not line.strip():
        line = stream.readline(MAX_WARC_HEADER_BYTES)
    return line


def _warc_head(stream: BinaryIO, first: bytes, where: str) -> _WarcHead | str:
    """The header that `first` (its version line) opens, read up to its blank line; or why it
    cannot be framed (too long, cut off, no valid `Content-Length`)."""
    head = [first]
    size = len(first)
    rec_type: bytes | None = None
    length_text: bytes | None = None
    while True:
        line = stream.readline(MAX_WARC_HEADER_BYTES)
        size += len(line)
        if size > MAX_WARC_HEADER_BYTES:
            return f"bad_warc: {where}: a record header over {MAX_WARC_HEADER_BYTES} bytes"
        if not line.endswith(b"\n"):
            return f"truncated_record: {where}: the file ends inside a record header"
        head.append(line)
        if not line.strip():
            break
        name, _, value = line.partition(b":")
        key = name.strip().lower()
        if key == b"warc-type":
            rec_type = value.strip()
        elif key == b"content-length":
            length_text = value.strip()
    if length_text is None or not length_text.isdigit() or len(length_text) > 18:
        return f"bad_warc: {where}: a record without a valid Content-Length ({length_text!r})"
    return _WarcHead(b"".join(head), rec_type, int(length_text))


def _warc_response(
    stream: BinaryIO, head: _WarcHead, index: int, limits: ReadLimits
) -> tuple[Framed, bool]:
    """The unit of response record `index` (its header `head` read, its block next), and
    whether framing can go on after it (False when the file ends inside the block)."""
    length = head.length
    if length > limits.max_doc_bytes:
        skipped = _skip(stream, length)
        error = f"too_large: record {index}: {length} bytes > {limits.max_doc_bytes}"
        return Framed(index, None, error, length), skipped >= length
    block = stream.read(length)
    if len(block) < length:
        error = (
            f"truncated_record: record {index}: the file ends "
            f"after {len(block)} of its {length} bytes"
        )
        return Framed(index, None, error, len(head.data) + len(block)), False
    return Framed(index, head.data + block, None, len(head.data) + length), True


def _frame_warc(stream: BinaryIO, limits: ReadLimits, count: InputCount) -> Iterator[Framed]:
    """WARC records framed by their `Content-Length` (ISO 28500: version line, named fields, a
    blank line, the block, two line ends); each response record's exact bytes (header and block,
    at most the document limit) are one unit, which ingest parses with warcio. Other records are
    not documents and are skipped. Framing stops at the first record it cannot frame; what came
    before is kept, and the damage is one unit."""
    responses = 0
    current: int | None = None
    try:
        while True:
            # 1. the next record's version line (the blank lines between records skipped)
            current = None
            line = _warc_version_line(stream)
            if not line:
                return
            where = f"after {responses} response records"
            if not line.startswith(b"WARC/"):
                yield Framed(None, None, f"bad_warc: {where}: not a WARC record: {line[:40]!r}", 0)
                return
            # 2. its header
            head = _warc_head(stream, line, where)
            if isinstance(head, str):
                yield Framed(None, None, head, 0)
                return
            # 3. a record that is not a response: read past its block
            if head.rec_type != b"response":
                count.skipped_records += 1
                if _skip(stream, head.length) < head.length:
                    yield Framed(
                        None,
                        None,
                        f"truncated_record: {where}: the file ends inside a "
                        f"{head.rec_type!r} record",
                        0,
                    )
                    return
                continue
            # 4. a response: one unit, unless the file holds too many
            if responses == limits.max_records:
                yield Framed(
                    None,
                    None,
                    f"too_many_records: more than {limits.max_records} "
                    "response records; the rest of the file not read",
                    0,
                )
                return
            current = responses
            responses += 1
            count.records += 1
            unit, more = _warc_response(stream, head, current, limits)
            yield unit
            if not more:
                return
    except (InboxError, OSError) as exc:
        where = f"record {current}" if current is not None else f"after {responses} records"
        yield Framed(current, None, _stream_error(exc, where), 0)


def frame_container(
    stream: BinaryIO, kind: str, limits: ReadLimits, count: InputCount | None = None
) -> Iterator[Framed]:
    """The units of a container (`kind` jsonl or warc) read from `stream` (seekable, at its
    start; gunzipped when it starts like gzip, whatever its name says): at least one, a
    `no_documents` unit when it holds no document. Never raises on what the stream holds."""
    tally = count if count is not None else InputCount()
    units = 0
    try:
        magic = stream.read(2)
        stream.seek(0)
    except OSError as exc:
        yield Framed(None, None, _stream_error(exc, "at the start"), 0)
        return
    source = (
        gunzip_stream(
            stream, max_members=limits.max_gzip_members, max_bytes=limits.max_container_bytes
        )
        if magic == GZIP_MAGIC
        else stream
    )
    framer = _frame_jsonl if kind == "jsonl" else _frame_warc
    for unit in framer(source, limits, tally):
        units += 1
        yield unit
    if not units:
        what = "non-blank line" if kind == "jsonl" else "WARC response record"
        yield Framed(None, None, f"no_documents: the file holds no {what}", 0)


def _raw_row(
    path: str,
    *,
    size: int = 0,
    content: bytes | None = None,
    error: str | None = None,
    record_index: int | None = None,
) -> dict[str, Any]:
    return {
        "source_path": path,
        "size_bytes": size,
        "content": content,
        "read_error": _safe_text(error) if error is not None else None,
        "url": None,  # url, fetched_at, media_type: said only by fetched pages
        "fetched_at": None,
        "media_type": None,
        "record_index": record_index,
    }


class _RawRows:
    """RAW rows gathered into tables of about `batch_bytes` (and at most BATCH_ROWS rows)."""

    def __init__(self, batch_bytes: int) -> None:
        self.batch_bytes = batch_bytes
        self._reset()

    def _reset(self) -> None:
        self.cols: dict[str, list[Any]] = {name: [] for name in RAW.names}
        self.held = 0
        self.rows = 0

    def add(self, row: dict[str, Any]) -> pa.Table | None:
        for name in RAW.names:
            self.cols[name].append(row[name])
        self.held += len(row["content"] or b"")
        self.rows += 1
        return self.take() if self.held >= self.batch_bytes or self.rows >= BATCH_ROWS else None

    def take(self) -> pa.Table:
        table = pa.Table.from_pydict(self.cols, schema=RAW)
        self._reset()
        return table


def _file_rows(
    fh: BinaryIO,
    size: int,
    shown: str,
    limits: ReadLimits,
    count: InputCount,
    wanted: Callable[[str, str], bool] | None,
) -> Iterator[dict[str, Any]]:
    kind = container_kind(shown)
    if kind is None:  # one document: read whole, bounded
        limit = limits.max_file_bytes if shown.lower().endswith(".gz") else limits.max_doc_bytes
        if size > limit:
            yield _raw_row(shown, size=size, error=f"too_large: {size} bytes > limit {limit}")
            return
        content = fh.read(limit + 1)
        if len(content) > limit:
            yield _raw_row(shown, size=len(content), error=f"too_large: grew past limit {limit}")
            return
        if wanted is not None and not wanted(shown, hashlib.sha256(content).hexdigest()):
            count.unchanged_files += 1
            return
        yield _raw_row(shown, size=len(content), content=content)
        return
    count.containers += 1
    if size > limits.max_container_bytes:
        yield _raw_row(
            shown, size=size, error=f"too_large: {size} bytes > {limits.max_container_bytes}"
        )
        return
    if size == 0:
        yield _raw_row(shown, error="empty_file: 0 bytes")
        return
    if wanted is not None:
        digest = hashlib.sha256()
        for chunk in iter(lambda: fh.read(READ_CHUNK), b""):
            digest.update(chunk)
        fh.seek(0)
        if not wanted(shown, digest.hexdigest()):
            count.unchanged_files += 1
            return
    for unit in frame_container(fh, kind, limits, count):
        yield _raw_row(
            shown,
            size=unit.size,
            content=unit.content,
            error=unit.error,
            record_index=unit.record_index,
        )


def _entry_rows(
    inbox: Path,
    root: str,
    entry: InboxEntry,
    limits: ReadLimits,
    count: InputCount,
    wanted: Callable[[str, str], bool] | None,
) -> Iterator[dict[str, Any]]:
    shown = display_path(entry.rel)
    if entry.problem is not None:
        if entry.problem == "unreadable_directory":
            count.unreadable_directories += 1
        else:
            count.symlink_directories += 1
        yield _raw_row(shown, error=f"{entry.problem}: {entry.detail}")
        return
    count.files += 1
    if shown != entry.rel:
        # Quarantined rather than published under an escaped name: `source_path` is the key a
        # document is known by across nights, and `\xNN` could also be a real name's spelling.
        yield _raw_row(shown, error="bad_file_name: the name is not UTF-8 (rename the file)")
        return
    try:
        fh, size = _open_regular(os.path.join(inbox, entry.rel), root)
    except InboxError as exc:
        yield _raw_row(shown, error=str(exc))
        return
    with fh:
        produced = 0
        try:
            for row in _file_rows(fh, size, shown, limits, count, wanted):
                produced += 1
                yield row
        except OSError as exc:  # the disk failed while a single document or a hash was read
            if not produced:
                yield _raw_row(shown, size=size, error=f"unreadable: {_os_detail(exc)}")


def read_inbox(
    inbox: Path,
    limits: ReadLimits,
    *,
    batch_bytes: int,
    count: InputCount,
    wanted: Callable[[str, str], bool] | None = None,
) -> Iterator[pa.Table]:
    """RAW batches of every document under `inbox`, counted in `count` as they are read.

    A single-document file is one row with its bytes (at most `max_doc_bytes`, or
    `max_file_bytes` when gzipped: ingest gunzips it); a container is streamed, one row per JSONL
    line or WARC response record with `record_index` set, plus one row for damage that ends it
    early. `wanted(source_path, sha256)` says whether a readable file is to be read tonight (re-
    ingest skips files whose bytes an earlier night saw); files that cannot be read are always
    reported. Never raises on what the inbox holds.
    """
    entries = walk_inbox(inbox, count)
    root = os.path.realpath(inbox)
    rows = _RawRows(batch_bytes)
    for entry in entries:
        for row in _entry_rows(inbox, root, entry, limits, count, wanted):
            count.rows += 1
            table = rows.add(row)
            if table is not None:
                yield table
    if rows.rows:
        yield rows.take()


def read_raw_batches(
    inbox: Path, rel_paths: list[str], *, max_bytes: int, batch_bytes: int
) -> Iterator[pa.Table]:
    """RAW tables of the given inbox files, one row per file with its bytes whole (at most
    `max_bytes`), each batch holding about `batch_bytes` of content. Containers are not split
    (ingest frames them in memory); `read_inbox` streams them instead."""
    root = os.path.realpath(inbox)
    rows = _RawRows(batch_bytes)
    for rel in rel_paths:
        shown = display_path(rel)
        row: dict[str, Any]
        if shown != rel:
            row = _raw_row(shown, error="bad_file_name: the name is not UTF-8 (rename the file)")
        else:
            try:
                fh, size = _open_regular(os.path.join(inbox, rel), root)
                with fh:
                    if size > max_bytes:
                        row = _raw_row(
                            shown, size=size, error=f"too_large: {size} bytes > limit {max_bytes}"
                        )
                    else:
                        content = fh.read(max_bytes + 1)
                        if len(content) > max_bytes:
                            row = _raw_row(
                                shown, size=size, error=f"too_large: grew past limit {max_bytes}"
                            )
                        else:
                            row = _raw_row(shown, size=size, content=content)
            except InboxError as exc:
                row = _raw_row(shown, error=str(exc))
            except OSError as exc:
                row = _raw_row(shown, error=f"unreadable: {_os_detail(exc)}")
        table = rows.add(row)
        if table is not None:
            yield table
    if rows.rows:
        yield rows.take()


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


def digest_tree(
    root: Path, known: Mapping[str, Sequence[Any]] | None = None
) -> tuple[list[list[Any]], dict[str, list[Any]]]:
    """([relative path, size, sha256] of every file under `root`, sorted; a directory that was
    not walked or a file that is not a readable regular file is [path, None, why]) and the
    digests to pass as `known` next time: {path: [size, mtime_ns, sha256]}.

    What the files hold, not when they were written, so touching them changes nothing; a file
    whose size and mtime are those in `known` is not read again (a night re-reads only the
    files that were touched or changed since the last time it looked)."""
    known = known or {}
    listing: list[list[Any]] = []
    digests: dict[str, list[Any]] = {}
    for entry in walk_inbox(root):
        if entry.problem is not None:
            listing.append([entry.rel, None, entry.problem])
            continue
        path = root / entry.rel
        try:
            st = path.stat()
            if not stat.S_ISREG(st.st_mode):
                listing.append([entry.rel, None, stat.filemode(st.st_mode)])
                continue
            seen = known.get(entry.rel)
            if seen is not None and list(seen[:2]) == [st.st_size, st.st_mtime_ns]:
                sha = str(seen[2])
            else:
                sha = file_sha256(path)
        except OSError as exc:
            listing.append([entry.rel, None, _os_detail(exc)])
            continue
        listing.append([entry.rel, st.st_size, sha])
        digests[entry.rel] = [st.st_size, st.st_mtime_ns, sha]
    return sorted(listing), digests


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

# The lock lives in its own light module (no pyarrow), so that the CLI can take it before the
# heavy imports and tell a user at once that the data dir is in use; re-exported here.
from tasks.lock import DataDirBusy, DataDirLock  # noqa: E402, F401

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


# Bytes set aside for a run record when the run starts: a full night's record is about 40 KB
# (syndication `large`, 20,000 documents), and a disk that fills during the night must still
# leave one that says what happened.
RECORD_RESERVE_BYTES = 256 * 1024


def _json_bytes(obj: Any) -> bytes:
    return (json.dumps(obj, indent=2, sort_keys=False, default=str) + "\n").encode("utf-8")


def reserve_record(path: Path, obj: Any, reserve: int = RECORD_RESERVE_BYTES) -> None:
    """Write the JSON record `obj` padded with spaces to `reserve` bytes and flushed to disk,
    so that `write_record` can later write into blocks the file already owns."""
    data = _json_bytes(obj)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    with tmp.open("wb") as fh:
        fh.write(data + b" " * max(0, reserve - len(data)))
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def write_record(path: Path, obj: Any) -> None:
    """Write a run record aside and rename it into place; when that fails for want of space
    (ENOSPC, EDQUOT), write it over the bytes `reserve_record` set aside (JSON allows the
    trailing spaces). Raises only if neither works."""
    try:
        write_json(path, obj)
        return
    except OSError as exc:
        if exc.errno not in (errno.ENOSPC, errno.EDQUOT):
            raise
        failure = exc
    for leftover in path.parent.glob(f".{path.name}.*.tmp"):
        leftover.unlink(missing_ok=True)
    data = _json_bytes(obj)
    size = path.stat().st_size if path.exists() else 0
    if len(data) > size:
        raise failure
    with path.open("r+b") as fh:
        fh.write(data + b" " * (size - len(data)))
        fh.flush()
        os.fsync(fh.fileno())


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


def list_files(root: Path, suffix: str) -> list[str]:
    """Every file under `root` whose name ends with `suffix` and does not start with a dot
    (files being written aside), as sorted POSIX paths relative to it; [] when it is absent."""
    if not root.is_dir():
        return []
    return [
        rel
        for rel in list_inbox(root)
        if rel.endswith(suffix) and not rel.rpartition("/")[2].startswith(".")
    ]


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
