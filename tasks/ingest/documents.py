"""Ingest: inbox documents and fetched pages (RAW) -> one row per document (INGESTED).

Input: RAW batches from `io.read_inbox`, each row one document (a single-document file with its
bytes as read; a JSONL line or a WARC response record, `record_index` set, read out of a
container that io streams) or one reason (`read_error`) why a file, a directory or the rest of a
container yields none; or a fetched page (its URL as the path, its bytes, `fetched_at` and the
response's media type). What `tasks/revisions.py` found unchanged since the last night is not
read. Output: INGESTED rows with the document body as bytes (still undecoded: charset is the
extract stage's business, except UTF-16/32 text, which is re-encoded as UTF-8 here because
detecting it is what tells it from binary), the sha256 of the bytes as they arrived, a stable
`doc_id`, and `url`/`site`/`fetched_at` where the container says them. `.txt` and
`.html`/`.htm` files (each optionally `.gz`) are one document; `.jsonl` has one document per line
(`url`, `html` or `text`, optional `fetched_at`); `.warc`/`.warc.gz` one per HTTP response record
(framed by io, parsed by warcio); a fetched page is one document whose media type (HTML, XHTML or
plain text) and charset come from its response. A RAW row holding a whole container in memory
(tests, `flows/extractfiles.py`) is framed here by the same code. Every RAW row that is not a
whole container becomes exactly one output row, kept or quarantined: the night's invariant
compares the published rows with io's independent count of them. The task also turns the
night's failed fetches into quarantine rows of stage `fetch` (reasons in `tasks/fetch/crawl.py`).

Only http(s) URLs are ever published in `url`: a document whose container gives any other URL
(`javascript:`, `file:`, malformed, not valid Unicode) is quarantined as `bad_url` rather than
kept with the URL dropped, because a hostile or broken record is not a document to publish
unseen, and in quarantine nothing is lost (the record is named by path and index, its URL
escaped in `detail`). A `fetched_at` or `WARC-Date` that cannot be read or lies outside
[EARLIEST_FETCH, LATEST_FETCH) is dropped (null), the document kept: a date is not the document.

Quarantined, with these reasons (`detail` names the exception class and message where one was
raised):
- `unreadable`, `not_a_regular_file`, `symlink_outside_inbox`, `broken_symlink` (dangling or a
  loop): the file system refused the file. `bad_file_name`: the name is not UTF-8.
- `unreadable_directory`: a directory could not be listed (the row's path is the directory).
- `symlink_directory`: a symlink to a directory, never followed (inside the inbox it would read
  files twice under two names, outside it would leave the inbox; neither can loop).
- `too_large`: a file, a document (decompressed body, JSONL line, WARC record) or a container's
  decompressed bytes exceed the configured limit.
- `unsupported_type`: a file name ending wiredesk does not ingest.
- `empty_file`: no bytes, or only whitespace.
- `binary_content`: NUL bytes in what should be text or HTML, and not UTF-16/32 text.
- `bad_gzip`: the gzip stream is corrupt or truncated. `too_many_gzip_members`: more members
  than the configured limit (each costs time, even when empty).
- `bad_jsonl_line`: a line is not a JSON object with a string `html` or `text` (nesting too
  deep to parse is one of these).
- `bad_url`: the document's URL is not an http(s) URL.
- `bad_warc`: the WARC stream cannot be framed (records read before the damage are kept) or a
  record cannot be parsed.
- `truncated_record`: a WARC record ends before its `Content-Length`, or says `WARC-Truncated`.
- `warc_not_document`: a response record that is not a 2xx text/HTML page.
- `no_documents`: a container that holds no document (only blank lines, only requests).
- `too_many_records`: a container holds more documents than the configured limit (one row for
  the rest of the file).
"""

from __future__ import annotations

import codecs
import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from io import BytesIO
from itertools import chain
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pyarrow as pa

from tasks import io
from tasks.fetch.crawl import OUTCOME_COLUMNS as FETCH_OUTCOME_COLUMNS
from tasks.fetch.crawl import quarantined as fetch_quarantined
from tasks.revisions import SourceSelection, fetched_pages, previous_sources
from tasks.runner import StageResult, run_stage
from tasks.schema import INGESTED, QUARANTINED, SOURCES_STATE, Split, quarantine_rows

STAGE = "ingest"

HTML_SUFFIXES = (".html", ".htm", ".xhtml")
TEXT_SUFFIXES = (".txt",)
# Sniff this many leading bytes for NUL bytes: binary files show them early.
SNIFF_BYTES = 8192
# UTF-16/32 text without a BOM: at least this share of the sniffed characters must be printable
# or whitespace. Binary read as UTF-16 decodes to U+0000 (from its runs of zero bytes) or to
# unassigned and control code points far below this; real text is at 1.0 but for a few odd
# characters. Fewer sniffed bytes than WIDE_TEXT_MIN_BYTES say too little: they stay binary.
WIDE_TEXT_SHARE = 0.95
WIDE_TEXT_MIN_BYTES = 32
# fetched_at is kept only inside these bounds: nothing was fetched from the web before 1990,
# and a date past 2200 is a typo or a placeholder (9999-12-31); both bounds are also inside what
# every reader's timestamp type holds (pandas' nanoseconds end in 2262).
EARLIEST_FETCH = datetime(1990, 1, 1, tzinfo=UTC)
LATEST_FETCH = datetime(2200, 1, 1, tzinfo=UTC)
# Longer URLs are not links people publish (browsers and CDNs stop at 8 KiB or before).
MAX_URL_CHARS = 8192
# `detail` is for a person reading the quarantine table: exception messages and echoed input
# are cut here.
MAX_DETAIL_CHARS = 500
WEB_MIMES = ("text/html", "application/xhtml+xml", "text/plain")
# What no URL holds unescaped: whitespace (Unicode's too) and control characters.
_URL_JUNK = re.compile(r"[\s\x00-\x1f\x7f]")


@dataclass(frozen=True)
class IngestConfig:
    run_id: str
    ingested_at: datetime
    # A single-document file as stored (a .gz one is read whole before gunzip). 64 MiB holds
    # any real article page and bounds memory per batch.
    max_file_bytes: int = 64 * 1024 * 1024
    # Per document (a file after decompression, a JSONL line, a WARC record): a gzip bomb or a
    # runaway record stops here.
    max_doc_bytes: int = 16 * 1024 * 1024
    # Documents per container: 5 million is a 1 GB JSONL of 200-byte records; it bounds one
    # file's share of a night, not memory (containers are streamed).
    max_records_per_file: int = 5_000_000
    # A container's bytes after gunzip (or on disk): bounds the time one file can take.
    max_container_bytes: int = 8 * 1024 * 1024 * 1024
    # Gzip members per file: each costs a few microseconds even when empty (800,000 empty
    # members, a known way to stall readers, take about 2 s here); a per-record gzipped WARC has
    # two or three members per document.
    max_gzip_members: int = 5_000_000
    read_batch_bytes: int = 32 * 1024 * 1024

    def limits(self) -> io.ReadLimits:
        return io.ReadLimits(
            max_file_bytes=self.max_file_bytes,
            max_doc_bytes=self.max_doc_bytes,
            max_records=self.max_records_per_file,
            max_container_bytes=self.max_container_bytes,
            max_gzip_members=self.max_gzip_members,
        )


def _text(value: str) -> str:
    """`value` as a string Arrow can hold: lone surrogates (from JSON escapes, from file names
    Python decoded with surrogateescape) become backslash escapes."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return value.encode("utf-8", "backslashreplace").decode("utf-8")
    return value


def _detail(value: str | None) -> str | None:
    if value is None:
        return None
    value = _text(value)
    return value if len(value) <= MAX_DETAIL_CHARS else value[: MAX_DETAIL_CHARS - 3] + "..."


def _exc(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


@dataclass
class _Collector:
    cfg: IngestConfig
    rows: list[dict[str, Any]] = field(default_factory=list)
    bad: list[dict[str, Any]] = field(default_factory=list)

    @property
    def produced(self) -> int:
        return len(self.rows) + len(self.bad)

    def keep(
        self,
        source_path: str,
        record_index: int,
        body: bytes,
        raw: bytes,
        content_type: str,
        *,
        url: str | None = None,
        fetched_at: datetime | None = None,
        declared_charset: str | None = None,
    ) -> None:
        raw_sha = hashlib.sha256(raw).hexdigest()
        source_path = _text(source_path)
        self.rows.append(
            {
                "doc_id": make_doc_id(source_path, record_index, raw_sha),
                "source_path": source_path,
                "record_index": record_index,
                "url": url,
                "site": site_of(url),
                "content_type": content_type,
                "raw_sha256": raw_sha,
                "fetched_at": fetched_at,
                "run_id": self.cfg.run_id,
                "ingested_at": self.cfg.ingested_at,
                "body": body,
                "declared_charset": declared_charset,
                "body_bytes": len(body),
            }
        )

    def reject(
        self,
        source_path: str,
        reason: str,
        detail: str | None = None,
        *,
        record_index: int | None = None,
        raw: bytes | None = None,
        size: int | None = None,
        url: str | None = None,
    ) -> None:
        raw_sha = hashlib.sha256(raw).hexdigest() if raw is not None else None
        source_path = _text(source_path)
        self.bad.append(
            {
                "doc_id": make_doc_id(source_path, record_index or 0, raw_sha) if raw_sha else None,
                "source_path": source_path,
                "record_index": record_index,
                "url": url,
                "reason": reason,
                "detail": _detail(detail),
                "raw_sha256": raw_sha,
                "size_bytes": size if size is not None else (len(raw) if raw is not None else None),
            }
        )


def make_doc_id(source_path: str, record_index: int, raw_sha256: str) -> str:
    """Stable id: the same bytes at the same place always get the same id, across nights."""
    key = f"{source_path}\x1f{record_index}\x1f{raw_sha256}".encode()
    return hashlib.sha256(key).hexdigest()[:24]


def site_of(url: str | None) -> str | None:
    if not url:
        return None
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not host:
        return None
    host = host.lower()
    return host[4:] if host.startswith("www.") else host


def check_url(value: Any) -> tuple[str | None, str | None]:
    """(url, None) for an http(s) URL, (None, None) when there is none, (None, why) otherwise."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None, None
    if not isinstance(value, str):
        return None, f"not a string: {type(value).__name__}"
    url = value.strip()
    shown = ascii(url[:200])
    try:
        url.encode("utf-8")
    except UnicodeEncodeError:
        return None, f"not valid Unicode (lone surrogate): {shown}"
    if len(url) > MAX_URL_CHARS:
        return None, f"longer than {MAX_URL_CHARS} characters"
    if _URL_JUNK.search(url):
        return None, f"holds whitespace or control characters: {shown}"
    try:
        parts = urlsplit(url)
        host = parts.hostname
        _ = parts.port  # raises ValueError on a port out of range
    except ValueError as exc:
        return None, f"{_exc(exc)}: {shown}"
    if parts.scheme.lower() not in ("http", "https"):
        return None, f"scheme {parts.scheme or 'none'!r} is not http(s): {shown}"
    if not host:
        return None, f"no host: {shown}"
    return parts.scheme.lower() + url[len(parts.scheme) :], None


def parse_time(value: Any) -> datetime | None:
    """ISO 8601 (or WARC's `...Z`) to an aware UTC datetime. Never raises: None when absent,
    unparseable, not representable in UTC (`9999-12-31T23:59:59-23:59`) or outside
    [EARLIEST_FETCH, LATEST_FETCH)."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    if not text or len(text) > 64:
        return None
    if text[-1] in "Zz":
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        parsed = parsed.astimezone(UTC)
    except (ValueError, OverflowError):
        return None
    return parsed if EARLIEST_FETCH <= parsed < LATEST_FETCH else None


def _wide_codec(head: bytes) -> str | None:
    """The UTF-16/32 codec `head` is text in, when it carries NUL bytes for that reason: a
    UTF-32 BOM, or no BOM and text that decodes cleanly. UTF-16 with a BOM is left to extract
    (it decodes those itself); None for everything else."""
    if head.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        return "utf-32"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) or b"\x00" not in head:
        return None
    if len(head) < WIDE_TEXT_MIN_BYTES:
        return None
    best: tuple[tuple[float, float], str] | None = None
    for codec, unit in (("utf-32-le", 4), ("utf-32-be", 4), ("utf-16-le", 2), ("utf-16-be", 2)):
        cut = head[: len(head) - len(head) % unit]
        try:
            text = cut.decode(codec)
        except UnicodeDecodeError:
            try:  # the sniff may have cut a surrogate pair in two
                text = cut[:-unit].decode(codec)
            except UnicodeDecodeError:
                continue
        if not text or "\x00" in text:
            continue
        texty = sum(1 for ch in text if ch.isprintable() or ch.isspace()) / len(text)
        # Latin text in UTF-16-BE also decodes as UTF-16-LE, to CJK-looking characters: of
        # the readings that look like text, the one with the most Latin letters wins.
        latin = sum(1 for ch in text if ch < "\u0250") / len(text)
        if texty >= WIDE_TEXT_SHARE and (best is None or (texty, latin) > best[0]):
            best = ((texty, latin), codec)
    return best[1] if best is not None else None


def _kind_of(name: str) -> tuple[str | None, bool]:
    """(kind, gzipped) for a file name; kind is html, text, jsonl, warc or None. Containers are
    gunzipped by io when their bytes are gzip, whatever the name."""
    container = io.container_kind(name)
    if container is not None:
        return container, False
    lower = name.lower()
    gz = lower.endswith(".gz")
    if gz:
        lower = lower[:-3]
    if lower.endswith(HTML_SUFFIXES):
        return "html", gz
    if lower.endswith(TEXT_SUFFIXES):
        return "text", gz
    return None, gz


def _media(content_type: str | None) -> tuple[str | None, str | None]:
    """(kind, declared charset) of an HTTP Content-Type; kind None when not a document."""
    mime, _, params = (content_type or "").partition(";")
    mime = mime.strip().lower()
    charset = None
    for param in params.split(";"):
        key, _, value = param.partition("=")
        if key.strip().lower() == "charset":
            charset = value.strip().strip("\"'").lower() or None
    if mime in ("text/html", "application/xhtml+xml", ""):
        return "html", charset  # no media type: servers that omit it serve HTML
    if mime == "text/plain":
        return "text", charset
    return None, charset


def _jsonl_line(col: _Collector, path: str, index: int, line: bytes) -> None:
    where = f"line {index + 1}"
    try:
        obj = json.loads(line)
    except (ValueError, RecursionError) as exc:
        # RecursionError: brackets nested past the interpreter's depth; the C parser unwinds
        # cleanly, so the line is simply not JSON wiredesk can read.
        col.reject(path, "bad_jsonl_line", f"{where}: {_exc(exc)}", record_index=index, raw=line)
        return
    if not isinstance(obj, dict):
        what = f"{where}: not an object but {type(obj).__name__}"
        col.reject(path, "bad_jsonl_line", what, record_index=index, raw=line)
        return
    html, text = obj.get("html"), obj.get("text")
    if isinstance(html, str) and html.strip():
        body, kind = html.encode("utf-8", "surrogatepass"), "html"
    elif isinstance(text, str) and text.strip():
        body, kind = text.encode("utf-8", "surrogatepass"), "text"
    else:
        what = f"{where}: no string `html` or `text`"
        col.reject(path, "bad_jsonl_line", what, record_index=index, raw=line)
        return
    url, problem = check_url(obj.get("url"))
    if problem is not None:
        col.reject(path, "bad_url", f"{where}: {problem}", record_index=index, raw=line)
        return
    if len(body) > col.cfg.max_doc_bytes:
        what = f"{where}: {len(body)} bytes"
        col.reject(path, "too_large", what, record_index=index, raw=line, url=url)
        return
    col.keep(
        path,
        index,
        body,
        line,
        kind,
        url=url,
        fetched_at=parse_time(obj.get("fetched_at")),
        declared_charset="utf-8",
    )


def _warc_record(col: _Collector, path: str, index: int, data: bytes) -> None:
    """One WARC response record, framed by io (its exact header and block bytes)."""
    # Imported here: warcio is only needed when a WARC arrives, and its import is not free.
    from warcio.archiveiterator import ArchiveIterator

    where = f"record {index}"
    limit = col.cfg.max_doc_bytes
    try:
        # One block for the whole record: warcio's line reader then never concatenates pieces.
        records = ArchiveIterator(BytesIO(data), block_size=max(len(data), 16384))
        record = next(records)
        headers = record.rec_headers
        target = headers.get_header("WARC-Target-URI")
        date = headers.get_header("WARC-Date")
        truncated = headers.get_header("WARC-Truncated")
        http = record.http_headers
        status = http.get_statuscode() if http else None
        ctype = (http.get_header("Content-Type") or "") if http else ""
        body = record.content_stream().read(limit + 1) if http else b""
    except Exception as exc:
        # warcio on hostile bytes raises what its parsers happen to raise (parser exceptions,
        # ValueError, IndexError, zlib and chunking errors, StopIteration): all are this
        # record's damage, none a reason to stop the file.
        col.reject(path, "bad_warc", f"{where}: {_exc(exc)}", record_index=index, raw=data)
        return
    if truncated:
        what = f"{where}: WARC-Truncated: {truncated}"
        col.reject(path, "truncated_record", what, record_index=index, raw=body or data)
        return
    if len(body) > limit:
        what = f"{where}: over {limit} bytes decoded"
        col.reject(path, "too_large", what, record_index=index, size=len(body))
        return
    mime = ctype.partition(";")[0].strip().lower()
    if http is None or not (status or "").startswith("2") or mime not in WEB_MIMES:
        what = f"{where}: status {status}, {mime or 'no media type'}"
        col.reject(path, "warc_not_document", what, record_index=index, raw=body or data)
        return
    url, problem = check_url(target)
    if problem is not None:
        col.reject(path, "bad_url", f"{where}: {problem}", record_index=index, raw=body)
        return
    if not body.strip():
        col.reject(path, "empty_file", f"{where}: empty body", record_index=index, raw=body)
        return
    _, charset = _media(ctype)
    col.keep(
        path,
        index,
        body,
        body,
        "text" if mime == "text/plain" else "html",
        url=url,
        fetched_at=parse_time(date),
        declared_charset=charset,
    )


def _document(col: _Collector, path: str, kind: str, record_index: int, content: bytes) -> None:
    """A document read out of a container: a JSONL line or a WARC response record."""
    if kind == "jsonl":
        _jsonl_line(col, path, record_index, content)
    elif kind == "warc":
        _warc_record(col, path, record_index, content)
    else:
        raise ValueError(f"RAW row {path} has a record_index but is not a container")


def _read_error(col: _Collector, path: str, error: str, row: dict[str, Any]) -> None:
    reason, _, detail = error.partition(":")
    col.reject(
        path,
        reason.strip(),
        detail.strip() or None,
        record_index=row.get("record_index"),
        size=row.get("size_bytes"),
    )


def _container(col: _Collector, path: str, kind: str, data: bytes) -> None:
    """A whole container held in memory (a RAW row from `io.read_raw_batches`, or a test)."""
    if not data:
        col.reject(path, "empty_file", "0 bytes", raw=data)
        return
    for unit in io.frame_container(BytesIO(data), kind, col.cfg.limits()):
        if unit.error is not None:
            reason, _, detail = unit.error.partition(":")
            col.reject(
                path, reason, detail.strip() or None, record_index=unit.record_index, size=unit.size
            )
        else:
            assert unit.content is not None and unit.record_index is not None
            _document(col, path, kind, unit.record_index, unit.content)


def _single(col: _Collector, row: dict[str, Any], data: bytes) -> None:
    """A single-document file, or a fetched page."""
    path: str = row["source_path"]
    url: str | None = row.get("url")
    charset: str | None = None
    if url is not None:  # a fetched page: its response says what it is, not its name
        (kind, charset), gz = _media(row.get("media_type")), False
        url, problem = check_url(url)
        if problem is not None:
            col.reject(path, "bad_url", problem, raw=data)
            return
    else:
        kind, gz = _kind_of(path)
    if kind is None:
        what = row.get("media_type") if url else f"file name ending not ingested: {path}"
        col.reject(path, "unsupported_type", what, raw=data, url=url)
        return
    body = data
    if gz:
        try:
            limits = col.cfg.limits()
            body = io.gunzip(data, limit=limits.max_doc_bytes, max_members=limits.max_gzip_members)
        except io.InboxError as exc:
            col.reject(path, exc.reason, exc.detail, raw=data)
            return
    elif len(body) > col.cfg.max_doc_bytes:
        col.reject(path, "too_large", f"{len(body)} bytes > {col.cfg.max_doc_bytes}", raw=data)
        return
    head = body[:SNIFF_BYTES]
    codec = _wide_codec(head)
    if codec is not None:
        body = body.decode(codec, errors="replace").encode("utf-8")
        charset = "utf-8"
        if len(body) > col.cfg.max_doc_bytes:  # CJK grows by half from UTF-16 to UTF-8
            what = f"{len(body)} bytes as UTF-8 > {col.cfg.max_doc_bytes}"
            col.reject(path, "too_large", what, raw=data, url=url)
            return
    elif b"\x00" in head and not head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        col.reject(path, "binary_content", "NUL bytes in the first 8 KiB", raw=data, url=url)
        return
    if not body.strip():
        col.reject(path, "empty_file", None, raw=data, url=url)
        return
    col.keep(
        path,
        0,
        body,
        data,
        kind,
        url=url,
        fetched_at=row.get("fetched_at"),
        declared_charset=charset,
    )


def ingest_batch(raw: pa.Table, cfg: IngestConfig) -> Split:
    """Turn RAW rows into INGESTED document rows; see the module docstring for reasons.

    Each RAW row gives exactly one output row, except a whole container held in memory, which
    gives one per unit its framing yields (at least one)."""
    col = _Collector(cfg)
    for row in raw.to_pylist():
        path: str = row["source_path"]
        error: str | None = row["read_error"]
        data: bytes | None = row["content"]
        record_index: int | None = row.get("record_index")
        before = col.produced
        if error is not None or data is None:
            _read_error(col, path, error or "unreadable: no content", row)
        elif record_index is not None:
            kind, _ = _kind_of(path)
            _document(col, path, kind or "", record_index, data)
        elif row.get("url") is None and io.container_kind(path) is not None:
            _container(col, path, io.container_kind(path) or "", data)
            continue
        else:
            _single(col, row, data)
        if col.produced != before + 1:
            raise RuntimeError(f"ingest made {col.produced - before} rows of one RAW row {path}")
    kept = pa.Table.from_pylist(col.rows, schema=INGESTED)
    bad = quarantine_rows(col.bad, stage=STAGE, run_id=cfg.run_id, at=cfg.ingested_at)
    return Split(kept, bad)


def ingest_night(
    inbox: str | None,
    layout: io.Layout,
    cfg: IngestConfig,
    pages: bool = False,
    log: Callable[..., None] = lambda *args: None,
) -> StageResult:
    """Ingest the inbox (None: no inbox) and, with `pages`, the night's fetched pages; what
    an earlier night already saw with the same bytes is skipped (see tasks/revisions.py).

    `rows_in` and `extra["input"]` are what io counted while walking and reading (files,
    directories, records per container, rows owed), never what ingest made of it: the night's
    invariant checks the published tables against that count."""
    root = Path(inbox) if inbox else None
    selection = SourceSelection(previous_sources(layout))
    count = io.InputCount()
    inbox_batches = (
        io.read_inbox(
            root,
            cfg.limits(),
            batch_bytes=cfg.read_batch_bytes,
            count=count,
            wanted=selection.wants,
        )
        if root is not None
        else iter(())
    )
    batches = chain(inbox_batches, selection.filter(fetched_pages(layout)) if pages else [])
    failed_fetches = (
        fetch_quarantined(
            # Not the bodies: a night's pages can be gigabytes, and only failures are needed.
            io.read_table(layout.raw, columns=FETCH_OUTCOME_COLUMNS),
            run_id=cfg.run_id,
            at=cfg.ingested_at,
        )
        if pages
        else QUARANTINED.empty_table()
    )
    io.write_partition(
        layout.data_dir, layout.staged_quarantine("fetch"), [failed_fetches], QUARANTINED
    )
    result = run_stage(
        stage=STAGE,
        dataset="ingested",
        fn=ingest_batch,
        cfg=cfg,
        batches=batches,
        rows_in=None,
        kept_schema=INGESTED,
        data_dir=layout.data_dir,
        kept_dir=layout.staged("ingested"),
        quarantine_dir=layout.staged_quarantine(STAGE),
        workers=0,
        progress=log,
    )
    io.write_partition(layout.data_dir, layout.staged("sources"), [selection.seen()], SOURCES_STATE)
    counted: dict[str, int] = {**count.to_dict(), "pages": selection.pages}
    counted["documents"] = count.rows + selection.pages
    result.extra.update(
        files=count.files,
        pages=selection.pages,
        unchanged_sources=count.unchanged_files,
        failed_fetches=failed_fetches.num_rows,
        input=counted,
    )
    log(
        "ingest: %d files in %d directories under %s (%d unchanged since the last night, "
        "skipped), %d container records, %d pages: %d rows owed, %d made",
        count.files,
        count.directories,
        root,
        count.unchanged_files,
        count.records,
        selection.pages,
        counted["documents"],
        result.kept + result.quarantined,
    )
    result.rows_in = counted["documents"]
    return result
