"""What the fetch tests share: fast configs, a fake clock that counts waits, and a night of
fetches against a loopback site."""

from __future__ import annotations

import time
from dataclasses import replace

import pyarrow as pa

from tasks.fetch.config import FetchConfig
from tasks.fetch.crawl import fetch_sources
from tasks.fetch.http import Fetcher
from tasks.schema import FETCHED
from tests.webserver import Site

FAST = FetchConfig(host_delay_seconds=0.0, backoff_seconds=0.01, retries=2, read_timeout=5.0)
# A short deadline so that the misbehaving cases end fast; the bounds in the tests are that
# deadline times the attempts allowed, plus a generous margin for a loaded machine (not a
# benchmark).
HOSTILE = replace(FAST, request_seconds=1.0, url_seconds=10.0, max_bytes=1 << 20)
MARGIN = 4.0


class Clock:
    """A fake monotonic clock: sleeping advances it, so waits are counted, not slept."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(round(seconds, 3))
        self.now += seconds


def rows_by_url(table: pa.Table) -> dict[str, dict]:
    return {r["url"]: r for r in table.to_pylist()}


def night(site: Site, sources: list[str], previous=None, cfg: FetchConfig = FAST) -> pa.Table:
    with Fetcher(cfg) as fetcher:
        table = fetch_sources(sources, previous or {}, cfg, fetcher)
    assert table.schema == FETCHED
    return table


def timed(site: Site, paths: list[str], cfg: FetchConfig = HOSTILE) -> tuple[dict, float]:
    started = time.monotonic()
    table = night(site, [site.url(p) for p in paths], cfg=cfg)
    return {r["url"].removeprefix(site.base): r for r in table.to_pylist()}, (
        time.monotonic() - started
    )
