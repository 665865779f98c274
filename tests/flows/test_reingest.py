"""Re-ingest end to end, against a real Prefect server and a loopback web site: two nights of
feeds and sitemaps, the same night twice, a run killed with SIGKILL and resumed, two runs on one
data dir. All stories are fictional and written for these tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from flows.nightly import nightly_ingest
from tasks.io import DataDirBusy, DataDirLock
from tests.prefect_server import client_env, stop
from tests.webserver import page, rss, serve_site, sitemap

pytestmark = [pytest.mark.flow]

ROOT = Path(__file__).resolve().parents[2]
SAMPLE_INBOX = ROOT / "data" / "inbox"
NIGHT1, NIGHT2 = "2026-03-14", "2026-03-15"
# Columns that say which run wrote a row and when; everything else must match to the byte.
PROVENANCE = {"run_id", "ingested_at", "quarantined_at"}

STORIES = {
    "/news/harbour-crane.html": (
        "Harbour crane returns to service in Velmora",
        [
            "The main container crane at the Velmora harbour returned to service on Friday "
            "after three weeks of repairs to its hoist motor, the port authority said.",
            "Dock workers had moved cargo with two smaller mobile cranes since the breakdown, "
            "and shipping agents reported delays of up to two days for some vessels.",
            "Harbour master Ilse Moreau said the repaired motor passed its load tests on "
            "Thursday night and that the backlog should clear by the middle of next week.",
        ],
    ),
    "/news/orchard-frost.html": (
        "Late frost damages orchards on the Velmora hills",
        [
            "Growers on the southern hills of Velmora counted the cost of a late frost that "
            "settled over the orchards on Tuesday night and lasted until mid-morning.",
            "Apricot blossom was hit hardest, according to the growers' cooperative, which "
            "estimated that a third of this year's crop could be lost on the higher slopes.",
            "The cooperative asked the regional council for an early assessment so that "
            "members can apply for the frost relief fund before the end of the month.",
        ],
    ),
    "/news/tram-line.html": (
        "Velmora council approves the eastern tram extension",
        [
            "The Velmora city council voted by nineteen to six on Wednesday to extend the "
            "eastern tram line by four stops to the new hospital campus.",
            "Construction is expected to begin next spring and to take two years, with the "
            "busiest junction rebuilt during the summer holidays to limit disruption.",
            "Opponents argued that the money would be better spent on more frequent buses, "
            "while supporters said the hospital needed a reliable link to the centre.",
        ],
    ),
}
UPDATE = (
    "Update: the port authority said on Saturday that a second crane would be inspected next "
    "month, and that no further closures were planned before the autumn season."
)
NEW_STORY = (
    "Velmora library extends its opening hours",
    [
        "The central library of Velmora will stay open until ten at night on weekdays from "
        "next month, the culture department announced on Monday.",
        "Students had asked for longer hours during the examination period, and a trial last "
        "winter drew more than four hundred visitors on an average evening.",
        "The extra hours will be staffed by two new librarians and a team of volunteers from "
        "the university, the department said.",
    ],
)


def _table(data: Path, name: str, night: str) -> list[dict]:
    path = data / name / f"run_date={night}"
    if not path.exists():
        return []
    return ds.dataset(path, format="parquet").to_table().to_pylist()


def _published(data: Path, night: str) -> list[dict]:
    return _table(data, "curated/articles", night) + _table(data, "curated/duplicates", night)


def _snapshot(data: Path) -> dict[str, tuple[bytes, int]]:
    """Every file of the data dir (except run records) with its bytes and mtime."""
    return {
        str(p.relative_to(data)): (p.read_bytes(), p.stat().st_mtime_ns)
        for p in sorted(data.rglob("*"))
        if p.is_file() and "runs" not in p.relative_to(data).parts and p.name != ".lock"
    }


def _comparable(rows: list[dict]) -> list[dict]:
    return sorted(
        ({k: v for k, v in r.items() if k not in PROVENANCE} for r in rows),
        key=lambda r: (r.get("doc_id") or "", r["source_path"], r.get("reason") or ""),
    )


def test_two_nights_of_feeds_give_one_new_revision_and_one_new_article(on_prefect_server, tmp_path):
    data = tmp_path / "data"
    with serve_site() as site:
        for path, (title, paragraphs) in STORIES.items():
            site.put(path, page(title, paragraphs))
        site.put(
            "/feed.xml",
            rss(site.base, ["/news/harbour-crane.html", "/news/orchard-frost.html"]),
            content_type="application/rss+xml",
        )
        site.put(
            "/sitemap.xml",
            sitemap(site.base, ["/news/orchard-frost.html", "/news/tram-line.html"]),
            content_type="application/xml",
        )
        sources = [site.url("/feed.xml"), site.url("/sitemap.xml"), site.url("/news/gone.html")]

        night1 = nightly_ingest(
            inbox=None, sources=sources, data_dir=str(data), run_date=NIGHT1, workers=1
        )
        # Night 2: the crane story is updated at the same URL, and the feed lists a new one.
        title, paragraphs = STORIES["/news/harbour-crane.html"]
        site.put("/news/harbour-crane.html", page(title, [*paragraphs, UPDATE]))
        site.put("/news/library-hours.html", page(*NEW_STORY))
        site.put(
            "/feed.xml",
            rss(
                site.base,
                [
                    "/news/harbour-crane.html",
                    "/news/orchard-frost.html",
                    "/news/library-hours.html",
                ],
            ),
            content_type="application/rss+xml",
        )
        site.clear_log()
        night2 = nightly_ingest(
            inbox=None, sources=sources, data_dir=str(data), run_date=NIGHT2, workers=1
        )
        log = list(site.log)
        # Night 2 again: its fetch is what that night saw, so nothing is asked of the site.
        site.clear_log()
        files = _snapshot(data)
        again = nightly_ingest(
            inbox=None, sources=sources, data_dir=str(data), run_date=NIGHT2, workers=1
        )
        assert again["status"] == "skipped" and site.log == []
        assert _snapshot(data) == files

    assert night1["status"] == night2["status"] == "completed"
    first = {r["url"].removeprefix(site.base): r for r in _published(data, NIGHT1)}
    assert sorted(first) == sorted(STORIES)
    assert {r["revision"] for r in first.values()} == {1}
    assert [q["reason"] for q in _table(data, "quarantine", NIGHT1)] == ["http_error"]
    assert night1["invariant"] == {**night1["invariant"], "input": 4, "holds": True}

    second = {r["url"].removeprefix(site.base): r for r in _published(data, NIGHT2)}
    assert sorted(second) == ["/news/harbour-crane.html", "/news/library-hours.html"]
    crane = second["/news/harbour-crane.html"]
    assert crane["revision"] == 2
    assert crane["revises"] == first["/news/harbour-crane.html"]["doc_id"]
    assert "second crane would be inspected" in crane["text"]
    assert second["/news/library-hours.html"]["revision"] == 1
    assert second["/news/library-hours.html"]["revises"] is None
    # The first revision stays published in its own night, untouched.
    assert "second crane" not in first["/news/harbour-crane.html"]["text"]

    # The server saw conditional requests for everything night 1 had fetched.
    asked = {h.path: (h.conditional, h.status) for h in log}
    assert asked == {
        "/feed.xml": (True, 200),
        "/sitemap.xml": (True, 304),
        "/news/harbour-crane.html": (True, 200),
        "/news/orchard-frost.html": (True, 304),
        "/news/tram-line.html": (True, 304),
        "/news/library-hours.html": (False, 200),
        "/news/gone.html": (False, 404),  # failed on night 1: nothing to be conditional on
        "/robots.txt": (False, 404),  # read once a night; none here, so everything is allowed
    }
    assert night2["stages"]["ingest"]["rows_in"] == 2

    # Raw pages are stored compressed, and only what changed carries bytes.
    raw = data / "raw" / f"run_date={NIGHT2}"
    meta = pq.ParquetFile(next(raw.glob("*.parquet"))).metadata
    assert meta.row_group(0).column(0).compression == "ZSTD"
    with_bytes = {
        r["url"].removeprefix(site.base)
        for r in _table(data, "raw", NIGHT2)
        if r["content"] is not None
    }
    assert with_bytes == {
        "/feed.xml",
        "/news/harbour-crane.html",
        "/news/library-hours.html",
    }


KILLER = """
import os, signal, sys
from pathlib import Path
from tasks import io

target, inbox, data_dir, night = sys.argv[1:5]
write_partition = io.write_partition


def dying(data_dir_, final_dir, tables, schema, **kwargs):
    # Kill this process once the first part of `target` is half written: the Parquet file is
    # open in .tmp with no footer, and (for a stage) the next batch is not yet processed.
    if Path(final_dir).as_posix().endswith(target):
        def then_die(parts):
            for table in parts:
                yield table
                os.kill(os.getpid(), signal.SIGKILL)
        tables = then_die(tables)
    return write_partition(data_dir_, final_dir, tables, schema, **kwargs)


io.write_partition = dying
from flows.nightly import nightly_ingest

nightly_ingest(inbox=inbox, data_dir=data_dir, run_date=night, workers=2)
"""


def _killed_run(target: str, data: Path, api_url: str, home: Path) -> None:
    log = home / f"killed-{target.split('/')[1]}.log"
    home.mkdir(parents=True, exist_ok=True)
    args = [sys.executable, "-c", KILLER, target, str(SAMPLE_INBOX), str(data), NIGHT1]
    with log.open("wb") as out:
        run = subprocess.Popen(
            args,
            env=client_env(api_url, home),
            cwd=str(ROOT),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            returncode = run.wait(timeout=1800)
        finally:
            stop(run)
    assert returncode == -signal.SIGKILL, log.read_text(errors="replace")[-3000:]
    # The pool workers of the killed run notice and exit on their own (tasks/runner.py).
    deadline = time.monotonic() + 120
    while _group_alive(run.pid) and time.monotonic() < deadline:
        time.sleep(1.0)
    if _group_alive(run.pid):
        os.killpg(run.pid, signal.SIGKILL)
        raise AssertionError("workers of the killed run outlived it")
    leftovers = list((data / ".tmp").rglob("part-*.parquet"))
    assert leftovers, "the kill should leave a half-written part behind"


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def test_a_night_killed_mid_write_then_rerun_equals_an_uninterrupted_night(
    on_prefect_server, tmp_path
):
    whole = tmp_path / "whole"
    uninterrupted = nightly_ingest(
        inbox=str(SAMPLE_INBOX), data_dir=str(whole), run_date=NIGHT1, workers=2
    )
    assert uninterrupted["status"] == "completed"

    # Running the same night again publishes nothing new and changes no file.
    before = _snapshot(whole)
    again = nightly_ingest(inbox=str(SAMPLE_INBOX), data_dir=str(whole), run_date=NIGHT1, workers=2)
    assert again["status"] == "skipped"
    assert again["published"] == uninterrupted["published"]
    assert _snapshot(whole) == before

    # Killed while extraction writes its first batch, then while publish writes duplicates
    # (articles already swapped in), then run to the end.
    resumed = tmp_path / "resumed"
    home = tmp_path / "client-home"
    _killed_run("staged/extracted/run_date=" + NIGHT1, resumed, on_prefect_server, home)
    assert not (resumed / "curated").exists()
    _killed_run("curated/duplicates/run_date=" + NIGHT1, resumed, on_prefect_server, home)
    assert (resumed / "curated" / "articles" / f"run_date={NIGHT1}").exists()
    final = nightly_ingest(
        inbox=str(SAMPLE_INBOX), data_dir=str(resumed), run_date=NIGHT1, workers=2
    )
    assert final["status"] == "completed"
    assert final["reused"] == ["ingest", "extract", "repair", "dedup"]
    assert final["invariant"] == uninterrupted["invariant"]
    assert not any((resumed / ".tmp").iterdir())

    for table in ("curated/articles", "curated/duplicates", "quarantine", "state/revisions"):
        got, want = _table(resumed, table, NIGHT1), _table(whole, table, NIGHT1)
        assert got and _comparable(got) == _comparable(want), table
    # Every row of the resumed night carries the identity of the run that started it.
    night_run = final["night_run_id"]
    rows = _published(resumed, NIGHT1) + _table(resumed, "quarantine", NIGHT1)
    assert {r["run_id"] for r in rows} == {night_run} and night_run != final["run_id"]


def test_a_second_run_on_a_busy_data_dir_fails_with_a_clear_message(on_prefect_server, tmp_path):
    data = tmp_path / "data"
    busy = pytest.raises(DataDirBusy, match=r"in use by another wiredesk run \(pid 4242")
    with DataDirLock(data, holder="pid 4242, run 20260314T020000Z-first"), busy:
        nightly_ingest(inbox=str(SAMPLE_INBOX), data_dir=str(data), run_date=NIGHT1)
    assert not (data / "curated").exists() and not (data / "staged").exists()
