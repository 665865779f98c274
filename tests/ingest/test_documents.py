import gzip
import hashlib
import io
import json

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from tasks.ingest.documents import IngestConfig, ingest_batch, make_doc_id, site_of
from tests.builders import raw_table
from tests.conftest import RUN_ID, STARTED

CFG = IngestConfig(run_id=RUN_ID, ingested_at=STARTED)
PAGE = b"<html><body><p>A report about a harbour.</p></body></html>"


def _warc(records: list[tuple[str, str, bytes]]) -> bytes:
    buffer = io.BytesIO()
    writer = WARCWriter(buffer, gzip=True)
    for url, status, body in records:
        headers = StatusAndHeaders(
            status, [("Content-Type", "text/html; charset=ISO-8859-1")], protocol="HTTP/1.1"
        )
        writer.write_record(
            writer.create_warc_record(
                url,
                "response",
                payload=io.BytesIO(body),
                http_headers=headers,
                warc_headers_dict={"WARC-Date": "2026-03-13T20:00:01Z"},
            )
        )
    return buffer.getvalue()


def _by_path(table):
    return {(r["source_path"], r["record_index"]): r for r in table.to_pylist()}


def test_every_supported_format_becomes_documents():
    files = {
        "a.txt": b"Plain report text.",
        "b.html.gz": gzip.compress(PAGE),
        "c.HTM": PAGE,
        "feed.jsonl": (
            json.dumps(
                {
                    "url": "https://www.example.org/x",
                    "html": "<p>x</p>",
                    "fetched_at": "2026-03-13T10:00:00Z",
                }
            )
            + "\n\n"
            + json.dumps({"text": "only text"})
            + "\n"
        ).encode(),
        "crawl.warc.gz": _warc([("https://news.example/a", "200 OK", PAGE)]),
    }
    split = ingest_batch(raw_table(files), CFG)
    assert split.quarantined.num_rows == 0
    docs = _by_path(split.kept)
    assert set(docs) == {
        ("a.txt", 0),
        ("b.html.gz", 0),
        ("c.HTM", 0),
        ("feed.jsonl", 0),
        ("feed.jsonl", 2),
        ("crawl.warc.gz", 0),
    }
    assert docs[("b.html.gz", 0)]["body"] == PAGE
    assert docs[("b.html.gz", 0)]["content_type"] == "html"
    assert docs[("feed.jsonl", 0)]["site"] == "example.org"
    assert docs[("feed.jsonl", 0)]["fetched_at"].isoformat() == "2026-03-13T10:00:00+00:00"
    assert docs[("feed.jsonl", 2)]["content_type"] == "text"
    warc = docs[("crawl.warc.gz", 0)]
    assert warc["url"] == "https://news.example/a" and warc["declared_charset"] == "iso-8859-1"
    assert warc["body"] == PAGE


def test_doc_id_is_stable_and_depends_on_place_and_bytes():
    one = ingest_batch(raw_table({"a.txt": b"same"}), CFG).kept.column("doc_id")[0].as_py()
    two = ingest_batch(raw_table({"a.txt": b"same"}), CFG).kept.column("doc_id")[0].as_py()
    other = ingest_batch(raw_table({"b.txt": b"same"}), CFG).kept.column("doc_id")[0].as_py()
    assert one == two != other
    assert one == make_doc_id("a.txt", 0, hashlib.sha256(b"same").hexdigest())


def test_bad_inputs_are_quarantined_with_reasons_and_never_lost():
    bomb = gzip.compress(b"a" * 5000)
    files = {
        "empty.txt": b"   \n",
        "bin.html": b"\x00\x01\x02PNG",
        "doc.pdf": b"%PDF-1.7",
        "broken.html.gz": gzip.compress(PAGE)[:20],
        "bomb.txt.gz": bomb,
        "bad.jsonl": (
            b'{"url": "https://u.example/", "html": "<p>ok</p>"}\nnot json\n[1]\n{"url": "v"}\n'
        ),
        "bad.warc": b"this is not a warc file at all",
        "crawl.warc.gz": _warc([("https://x.example/gone", "404 Not Found", b"missing")]),
        "unreadable.txt": None,
    }
    small = IngestConfig(run_id=RUN_ID, ingested_at=STARTED, max_doc_bytes=1000)
    split = ingest_batch(
        raw_table(files, {"unreadable.txt": "unreadable: Permission denied"}), small
    )
    reasons = sorted((r["source_path"], r["reason"]) for r in split.quarantined.to_pylist())
    assert reasons == sorted(
        [
            ("empty.txt", "empty_file"),
            ("bin.html", "binary_content"),
            ("doc.pdf", "unsupported_type"),
            ("broken.html.gz", "bad_gzip"),
            ("bomb.txt.gz", "too_large"),
            ("bad.jsonl", "bad_jsonl_line"),
            ("bad.jsonl", "bad_jsonl_line"),
            ("bad.jsonl", "bad_jsonl_line"),
            ("bad.warc", "bad_warc"),
            ("crawl.warc.gz", "warc_not_document"),
            ("unreadable.txt", "unreadable"),
        ]
    )
    assert [r["source_path"] for r in split.kept.to_pylist()] == ["bad.jsonl"]
    assert set(split.quarantined.column("stage").to_pylist()) == {"ingest"}


def test_site_of_only_for_web_urls():
    assert site_of("https://WWW.Example.com/a?b") == "example.com"
    assert site_of("file:///etc/passwd") is None
    assert site_of("javascript:alert(1)") is None
    assert site_of(None) is None


def test_a_fetched_page_is_a_document_typed_by_its_response():
    import pyarrow as pa

    from tasks.schema import RAW

    fetched_at = STARTED
    rows = [
        {
            "source_path": "https://velmora.test/story",
            "size_bytes": 40,
            "content": b"<html><body><p>Harbour news</p></body></html>",
            "url": "https://velmora.test/story",
            "fetched_at": fetched_at,
            "media_type": "text/html; charset=ISO-8859-1",
        },
        {
            "source_path": "https://velmora.test/notes",
            "size_bytes": 11,
            "content": b"Plain notes",
            "url": "https://velmora.test/notes",
            "fetched_at": fetched_at,
            "media_type": "text/plain",
        },
        {
            "source_path": "https://velmora.test/report.pdf",
            "size_bytes": 8,
            "content": b"%PDF-1.7",
            "url": "https://velmora.test/report.pdf",
            "fetched_at": fetched_at,
            "media_type": "application/pdf",
        },
    ]
    split = ingest_batch(pa.Table.from_pylist(rows, schema=RAW), CFG)
    kept = {r["url"]: r for r in split.kept.to_pylist()}
    story = kept["https://velmora.test/story"]
    assert (story["content_type"], story["declared_charset"]) == ("html", "iso-8859-1")
    assert story["site"] == "velmora.test" and story["fetched_at"] == fetched_at
    assert story["source_path"] == story["url"]
    assert kept["https://velmora.test/notes"]["content_type"] == "text"
    bad = split.quarantined.to_pylist()
    assert [(b["url"], b["reason"]) for b in bad] == [
        ("https://velmora.test/report.pdf", "unsupported_type")
    ]
