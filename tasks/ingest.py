"""Ingest: inbox files (RAW) -> one row per document (INGESTED).

Input: RAW batches (relative path, bytes as read, read error; or a fetched page: its URL as the
path, its bytes, `fetched_at` and the response's media type), less what `tasks/reingest.py`
found unchanged since the last night. Output: INGESTED rows with the
document body as bytes (still undecoded: charset is the extract stage's business), the sha256 of
the bytes as they arrived, a stable `doc_id`, and `url`/`site`/`fetched_at` where the container
says them. `.txt` and `.html`/`.htm` files (each optionally `.gz`) are one document; `.jsonl` has
one document per line (`url`, `html` or `text`, optional `fetched_at`); `.warc`/`.warc.gz` yields
one document per HTTP response record (warcio reads it); a fetched page is one document whose
media type (HTML, XHTML or plain text) and charset come from its response. The task also turns
the night's failed fetches into quarantine rows of stage `fetch` (reasons in `tasks/fetch.py`).

Quarantined, with these reasons:
- `unreadable`, `not_a_regular_file`, `symlink_outside_inbox`: the file system refused the file.
- `too_large`: the file, a decompressed body or a record exceeds the configured byte limit.
- `unsupported_type`: a file name ending wiredesk does not ingest.
- `empty_file`: no bytes, or only whitespace.
- `binary_content`: NUL bytes in what should be text or HTML.
- `bad_gzip`: the gzip stream is corrupt or truncated.
- `bad_jsonl_line`: a line is not a JSON object with a string `html` or `text`.
- `bad_warc`: the WARC stream cannot be parsed (records read before the damage are kept).
- `warc_not_document`: a response record that is not a 2xx text/HTML page.
- `too_many_records`: a container holds more documents than the configured limit.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from io import BytesIO
from itertools import chain
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pyarrow as pa
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from tasks import io
from tasks.fetch import quarantined as fetch_quarantined
from tasks.reingest import SourceSelection, fetched_pages, previous_sources
from tasks.runner import StageResult, run_stage
from tasks.schema import FETCHED, INGESTED, QUARANTINED, SOURCES_STATE, Split, quarantine_rows

STAGE = "ingest"

HTML_SUFFIXES = (".html", ".htm", ".xhtml")
TEXT_SUFFIXES = (".txt",)
# Sniff this many leading bytes for NUL bytes: binary files show them early.
SNIFF_BYTES = 8192


@dataclass(frozen=True)
class IngestConfig:
    run_id: str
    ingested_at: datetime
    # Per file on disk; io reads at most this much. 64 MiB holds any real article page or a
    # modest WARC, and bounds memory per batch.
    max_file_bytes: int = 64 * 1024 * 1024
    # Per document after decompression: a gzip bomb stops here.
    max_doc_bytes: int = 16 * 1024 * 1024
    max_records_per_file: int = 100_000
    read_batch_bytes: int = 32 * 1024 * 1024


@dataclass
class _Collector:
    cfg: IngestConfig
    rows: list[dict[str, Any]] = field(default_factory=list)
    bad: list[dict[str, Any]] = field(default_factory=list)

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
        self.bad.append(
            {
                "doc_id": make_doc_id(source_path, record_index or 0, raw_sha) if raw_sha else None,
                "source_path": source_path,
                "record_index": record_index,
                "url": url,
                "reason": reason,
                "detail": detail,
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
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    host = parts.hostname.lower()
    return host[4:] if host.startswith("www.") else host


def parse_time(value: Any) -> datetime | None:
    """ISO 8601 (or WARC's `...Z`) to an aware UTC datetime; None when absent or unparseable."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip().replace("Z", "+00:00")
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _gunzip(data: bytes, limit: int) -> bytes:
    """Decompress every gzip member of `data`, refusing more than `limit` bytes of output."""
    out = bytearray()
    rest = data
    while rest:
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        out += inflater.decompress(rest, limit + 1 - len(out))
        if len(out) > limit:
            raise OverflowError(f"decompresses past the limit of {limit} bytes")
        if not inflater.eof:
            raise EOFError("gzip stream is truncated")
        rest = inflater.unused_data.lstrip(b"\x00")
    return bytes(out)


def _looks_binary(body: bytes) -> bool:
    head = body[:SNIFF_BYTES]
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):  # UTF-16 text carries NULs legitimately
        return False
    return b"\x00" in head


def _kind_of(name: str) -> tuple[str | None, bool]:
    """(kind, gzipped) for a file name; kind is html, text, jsonl, warc or None."""
    lower = name.lower()
    if lower.endswith((".warc", ".warc.gz")):
        return "warc", False  # warcio reads per-record gzip itself
    gz = lower.endswith(".gz")
    if gz:
        lower = lower[:-3]
    if lower.endswith(HTML_SUFFIXES):
        return "html", gz
    if lower.endswith(TEXT_SUFFIXES):
        return "text", gz
    if lower.endswith(".jsonl"):
        return "jsonl", gz
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


def _ingest_jsonl(col: _Collector, path: str, data: bytes) -> None:
    count = 0
    for index, line in enumerate(data.splitlines()):
        if not line.strip():
            continue
        count += 1
        if count > col.cfg.max_records_per_file:
            col.reject(path, "too_many_records", f"more than {col.cfg.max_records_per_file}")
            return
        try:
            obj = json.loads(line)
        except (ValueError, UnicodeDecodeError) as exc:
            col.reject(
                path, "bad_jsonl_line", f"line {index + 1}: {exc}", record_index=index, raw=line
            )
            continue
        if not isinstance(obj, dict):
            col.reject(
                path,
                "bad_jsonl_line",
                f"line {index + 1}: not an object",
                record_index=index,
                raw=line,
            )
            continue
        html, text = obj.get("html"), obj.get("text")
        url = obj.get("url") if isinstance(obj.get("url"), str) else None
        if isinstance(html, str) and html.strip():
            body, kind = html.encode("utf-8", "surrogatepass"), "html"
        elif isinstance(text, str) and text.strip():
            body, kind = text.encode("utf-8", "surrogatepass"), "text"
        else:
            col.reject(
                path,
                "bad_jsonl_line",
                f"line {index + 1}: no string `html` or `text`",
                record_index=index,
                raw=line,
                url=url,
            )
            continue
        if len(body) > col.cfg.max_doc_bytes:
            col.reject(
                path,
                "too_large",
                f"line {index + 1}: {len(body)} bytes",
                record_index=index,
                raw=line,
                url=url,
            )
            continue
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


def _ingest_warc(col: _Collector, path: str, data: bytes) -> None:
    # Imported here: warcio is only needed when a WARC arrives, and its import is not free.
    from warcio.archiveiterator import ArchiveIterator
    from warcio.exceptions import ArchiveLoadFailed

    index = -1
    try:
        for record in ArchiveIterator(BytesIO(data)):
            if not str(record.format).startswith("warc"):
                # warcio falls back to the older ARC format on anything that is not WARC, and
                # then reads arbitrary text as a header; wiredesk only takes WARC.
                raise ValueError(f"not a WARC record (read as {record.format})")
            if record.rec_type != "response":
                continue
            index += 1
            if index >= col.cfg.max_records_per_file:
                col.reject(path, "too_many_records", f"more than {col.cfg.max_records_per_file}")
                return
            url = record.rec_headers.get_header("WARC-Target-URI")
            body = record.content_stream().read(col.cfg.max_doc_bytes + 1)
            if len(body) > col.cfg.max_doc_bytes:
                col.reject(
                    path,
                    "too_large",
                    f"record {index}: over {col.cfg.max_doc_bytes}",
                    record_index=index,
                    url=url,
                    size=len(body),
                )
                continue
            status = record.http_headers.get_statuscode() if record.http_headers else None
            ctype = (
                (record.http_headers.get_header("Content-Type") or "")
                if record.http_headers
                else ""
            )
            mime = ctype.partition(";")[0]
            mime = mime.strip().lower()
            if not (status or "").startswith("2") or mime not in (
                "text/html",
                "application/xhtml+xml",
                "text/plain",
            ):
                col.reject(
                    path,
                    "warc_not_document",
                    f"record {index}: status {status}, {mime}",
                    record_index=index,
                    raw=body,
                    url=url,
                )
                continue
            if not body.strip():
                col.reject(
                    path,
                    "empty_file",
                    f"record {index}: empty body",
                    record_index=index,
                    raw=body,
                    url=url,
                )
                continue
            _, charset = _media(ctype)
            kind = "text" if mime == "text/plain" else "html"
            col.keep(
                path,
                index,
                body,
                body,
                kind,
                url=url,
                fetched_at=parse_time(record.rec_headers.get_header("WARC-Date")),
                declared_charset=charset,
            )
    except (ArchiveLoadFailed, OSError, EOFError, zlib.error, ValueError) as exc:
        col.reject(
            path,
            "bad_warc",
            f"after {index + 1} response records: {exc}",
            raw=data if index < 0 else None,
            size=len(data),
        )


def ingest_batch(raw: pa.Table, cfg: IngestConfig) -> Split:
    """Turn RAW file rows into INGESTED document rows; see the module docstring for reasons."""
    col = _Collector(cfg)
    for row in raw.to_pylist():
        path: str = row["source_path"]
        error: str | None = row["read_error"]
        data: bytes | None = row["content"]
        if error is not None or data is None:
            reason, _, detail = (error or "unreadable: no content").partition(":")
            col.reject(path, reason.strip(), detail.strip() or None, size=row["size_bytes"])
            continue
        url: str | None = row.get("url")
        charset: str | None = None
        if url is not None:  # a fetched page: its response says what it is, not its name
            (kind, charset), gz = _media(row.get("media_type")), False
        else:
            kind, gz = _kind_of(path)
        if kind is None:
            what = row.get("media_type") if url else f"file name ending not ingested: {path}"
            col.reject(path, "unsupported_type", what, raw=data, url=url)
            continue
        body = data
        if gz:
            try:
                body = _gunzip(data, cfg.max_doc_bytes)
            except OverflowError as exc:
                col.reject(path, "too_large", str(exc), raw=data)
                continue
            except (EOFError, OSError, zlib.error, gzip.BadGzipFile) as exc:
                col.reject(path, "bad_gzip", str(exc) or type(exc).__name__, raw=data)
                continue
        elif len(body) > cfg.max_doc_bytes:
            col.reject(path, "too_large", f"{len(body)} bytes > {cfg.max_doc_bytes}", raw=data)
            continue
        if kind == "warc":
            _ingest_warc(col, path, body)
            continue
        if not body.strip():
            col.reject(path, "empty_file", None, raw=data)
            continue
        if _looks_binary(body):
            col.reject(path, "binary_content", "NUL bytes in the first 8 KiB", raw=data)
            continue
        if kind == "jsonl":
            _ingest_jsonl(col, path, body)
        else:
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
    kept = pa.Table.from_pylist(col.rows, schema=INGESTED)
    bad = quarantine_rows(col.bad, stage=STAGE, run_id=cfg.run_id, at=cfg.ingested_at)
    return Split(kept, bad)


# --------------------------------------------------------------------------- Prefect task


# NO_CACHE: the inbox changes between nights while the arguments do not; caching on arguments
# would return last night's result. Re-running is cheap and deterministic.
@task(name="ingest", cache_policy=NO_CACHE)
def ingest_task(
    inbox: str | None, layout: io.Layout, cfg: IngestConfig, pages: bool = False
) -> StageResult:
    """Ingest the inbox (None: no inbox) and, with `pages`, the night's fetched pages; what
    an earlier night already saw with the same bytes is skipped (see tasks/reingest.py)."""
    logger = get_run_logger()
    root = Path(inbox) if inbox else None
    files = io.list_inbox(root) if root is not None else []
    logger.info("ingest: %d files under %s", len(files), root)
    selection = SourceSelection(previous_sources(layout))
    batches = selection.filter(
        chain(
            io.read_raw_batches(
                root, files, max_bytes=cfg.max_file_bytes, batch_bytes=cfg.read_batch_bytes
            )
            if root is not None
            else [],
            fetched_pages(layout) if pages else [],
        )
    )
    failed_fetches = (
        fetch_quarantined(
            io.read_table(layout.raw).cast(FETCHED), run_id=cfg.run_id, at=cfg.ingested_at
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
        progress=logger.info,
    )
    io.write_partition(layout.data_dir, layout.staged("sources"), [selection.seen()], SOURCES_STATE)
    result.extra.update(
        files=len(files),
        pages=selection.pages,
        unchanged_sources=selection.unchanged,
        failed_fetches=failed_fetches.num_rows,
    )
    logger.info("ingest: %d sources unchanged since the last night skipped", selection.unchanged)
    # Containers (JSONL, WARC) hold several documents: the night's input is what came out.
    result.rows_in = result.kept + result.quarantined
    return result
