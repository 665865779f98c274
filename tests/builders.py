"""Tiny hand-written tables for the unit tests (three to ten rows, no third-party text)."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

import pyarrow as pa

from tasks.schema import EXTRACTED, INGESTED, QUARANTINED, REPAIRED, quarantine_rows
from tests.conftest import RUN_ID, STARTED

# Two reports written for the tests, the same as tests/dedup/test_night.py's: a long one and
# another story of the same town. Here so that tests outside dedup do not import a dedup test
# module (which breaks their collection whenever that module does).
REPORT = (
    "The harbour board of the fictional town of Ostmere approved a new pier on Tuesday after "
    "a debate that lasted most of the afternoon. Board members said the pier would let two "
    "ferries berth at once during the summer season, when the island crossings are busiest.\n"
    "Work is expected to start in the autumn and to take eighteen months, the chair, Maren "
    "Tollefsen, said, "
    "adding that the cost would be shared with the regional transport fund. The fund agreed "
    "to pay 4.2 million crowns of the 7.5 million crown budget, according to the minutes.\n"
    "Residents who spoke at the meeting asked for a footpath along the new quay and for the "
    "old ticket office to be kept as a waiting room, and the board promised to study both."
)
OTHER = (
    "Fishers in Ostmere protested on Tuesday against the new pier, saying the construction "
    "would close their mooring for two seasons. Their cooperative asked the harbour board to "
    "move the works to the winter months, when fewer boats go out, and to pay for temporary "
    "berths on the eastern quay while the pier is being built. About 40 boats use the mooring."
)


def raw_table(files: dict[str, bytes | None], errors: dict[str, str] | None = None) -> pa.Table:
    from tasks.schema import RAW

    errors = errors or {}
    rows = [
        {
            "source_path": path,
            "size_bytes": len(data or b""),
            "content": data,
            "read_error": errors.get(path),
        }
        for path, data in files.items()
    ]
    return pa.Table.from_pylist(rows, schema=RAW)


def ingested_row(
    doc_id: str,
    body: bytes | str,
    *,
    content_type: str = "text",
    url: str | None = None,
    charset: str | None = None,
    fetched_at: datetime | None = None,
) -> dict[str, Any]:
    data = body.encode("utf-8") if isinstance(body, str) else body
    return {
        "doc_id": doc_id,
        "source_path": f"{doc_id}.{'html' if content_type == 'html' else 'txt'}",
        "record_index": 0,
        "url": url,
        "site": None,
        "content_type": content_type,
        "raw_sha256": hashlib.sha256(data).hexdigest(),
        "fetched_at": fetched_at,
        "run_id": RUN_ID,
        "ingested_at": STARTED,
        "body": data,
        "declared_charset": charset,
        "body_bytes": len(data),
    }


def ingested(rows: list[dict[str, Any]]) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=INGESTED)


def extracted_row(
    doc_id: str,
    text: str,
    *,
    lang: str | None = "en",
    title: str | None = None,
    published_at: datetime | None = None,
) -> dict[str, Any]:
    row = {k: v for k, v in ingested_row(doc_id, text).items() if k in EXTRACTED.names}
    row.update(
        charset="utf-8",
        title=title,
        text=text,
        lang=lang,
        published_at=published_at,
        date_text=None,
        author=None,
        source_attribution=None,
        stripped=[],
        text_length=len(text),
    )
    return row


def extracted(rows: list[dict[str, Any]]) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=EXTRACTED)


def repaired(rows: list[dict[str, Any]]) -> pa.Table:
    for row in rows:
        row.setdefault("repairs", [])
        row.setdefault("mojibake_score", 0.0)
    return pa.Table.from_pylist(rows, schema=REPAIRED)


def quarantine_like(n: int) -> pa.Table:
    rows = [{"source_path": f"f{i}.bin", "reason": "unsupported_type"} for i in range(n)]
    table = quarantine_rows(rows, stage="ingest", run_id=RUN_ID, at=STARTED)
    assert table.schema == QUARANTINED
    return table
