"""The retry policy (tenacity): attempts, waits (backoff, Retry-After, caps) and stops (retries,
one retry of a timeout, the URL's time budget), on scripted answers and against a loopback site.
Waits are counted on a fake clock, never slept."""

from __future__ import annotations

from dataclasses import replace

import pytest

from tasks.fetch.config import FetchConfig
from tasks.fetch.crawl import fetch_sources
from tasks.fetch.http import Exchange, Fetcher
from tasks.fetch.retry import Budget, with_retries
from tests.fetch.helpers import FAST, Clock, rows_by_url
from tests.webserver import page, serve_site


def test_transient_failures_are_retried_with_backoff():
    clock = Clock()
    cfg = FetchConfig(host_delay_seconds=0.0, backoff_seconds=1.0, retries=3)
    with serve_site() as site:
        site.put("/flaky.html", page("Flaky", ["Up at last."]), failures=[503, 503])
        site.put("/down.html", page("Down", ["Never."]), failures=[500] * 10)
        with Fetcher(cfg, sleep=clock.sleep, clock=clock) as fetcher:
            table = fetch_sources(
                [site.url("/flaky.html"), site.url("/down.html")], {}, cfg, fetcher
            )
    rows = rows_by_url(table)
    flaky, down = rows[site.url("/flaky.html")], rows[site.url("/down.html")]
    assert (flaky["outcome"], flaky["attempts"]) == ("new", 3)
    assert (down["outcome"], down["reason"], down["attempts"]) == ("failed", "http_error", 4)
    assert clock.sleeps == [1.0, 2.0, 1.0, 2.0, 4.0]  # 1, 2 s; then 1, 2, 4 s


def test_a_url_gets_its_time_budget_for_all_its_retries():
    clock = Clock()
    cfg = replace(FAST, retries=5, backoff_seconds=1.0, url_seconds=10.0)
    with serve_site() as site:
        site.put(
            "/busy.html",
            page("Busy", ["Later."]),
            failures=[503] * 10,
            headers={"Retry-After": "4"},
        )
        with Fetcher(cfg, sleep=clock.sleep, clock=clock) as fetcher:
            table = fetch_sources([site.url("/busy.html")], {}, cfg, fetcher)
    row = table.to_pylist()[0]
    assert (row["reason"], row["attempts"]) == ("http_error", 3)
    assert clock.sleeps == [4.0, 4.0]  # a third wait of 4 s would pass the 10 s


# --------------------------------------------------------------------------- the policy alone

POLICY = FetchConfig(backoff_seconds=1.0, retries=3, timeout_retries=1, max_retry_after=60.0)


def _ok() -> Exchange:
    return Exchange(status=200, body=b"ok")


def _status(code: int, retry_after: str | None = None) -> Exchange:
    return Exchange(status=code, headers={"retry-after": retry_after} if retry_after else {})


def _timeout() -> Exchange:
    return Exchange(reason="timeout", detail="no complete response within 30 s")


def _run(answers: list[Exchange], cfg: FetchConfig = POLICY, seconds: float | None = None):
    """The policy over scripted answers, each taking one second; (last answer, waits, tries)."""
    clock = Clock()
    budget = Budget(cfg.url_seconds if seconds is None else seconds, clock)
    script = iter(answers)
    tries = 0

    def attempt() -> Exchange:
        nonlocal tries
        tries += 1
        clock.now += 1.0
        answer = next(script)
        answer.attempts = tries
        return answer

    last = with_retries(attempt, cfg, budget, clock.sleep)
    return last, clock.sleeps, tries


def test_5xx_and_429_are_retried_after_1_2_4_seconds_then_named_http_error():
    last, waits, tries = _run([_status(503), _status(429), _ok()])
    assert (last.status, last.reason, tries, waits) == (200, None, 3, [1.0, 2.0])
    last, waits, tries = _run([_status(500)] * 10)
    assert (last.reason, last.detail) == ("http_error", "HTTP 500 after 4 tries")
    assert (tries, waits) == (4, [1.0, 2.0, 4.0])


@pytest.mark.parametrize("status", [400, 403, 404, 501, 304, 301])
def test_other_answers_are_never_retried(status):
    last, waits, tries = _run([_status(status)])
    assert (last.status, last.reason, tries, waits) == (status, None, 1, [])


@pytest.mark.parametrize(
    ("retry_after", "waits"),
    [
        ("7", [7.0, 7.0, 7.0]),  # longer than the backoff: the server's word
        ("0", [1.0, 2.0, 4.0]),  # shorter: the backoff
        ("120", [60.0, 60.0, 60.0]),  # capped
        ("Wed, 21 Oct 2026 07:28:00 GMT", [1.0, 2.0, 4.0]),  # a date: ignored
        ("\xb2", [1.0, 2.0, 4.0]),  # "²" is a digit to str.isdigit, not to float()
        ("-3", [1.0, 2.0, 4.0]),
        ("1e9", [1.0, 2.0, 4.0]),
    ],
)
def test_retry_after_in_seconds_lengthens_the_wait_up_to_its_cap(retry_after, waits):
    last, seen, tries = _run([_status(503, retry_after)] * 10, seconds=1000.0)
    assert (last.reason, tries, seen) == ("http_error", 4, waits)


def test_a_timeout_is_retried_once_and_counts_among_the_retries():
    last, waits, tries = _run([_timeout(), _timeout(), _ok()])
    assert (last.reason, tries, waits) == ("timeout", 2, [1.0])
    last, waits, tries = _run([_timeout(), _status(503), _ok()])
    assert (last.status, tries, waits) == (200, 3, [1.0, 2.0])
    last, waits, tries = _run([_timeout()], cfg=replace(POLICY, retries=0))
    assert (last.reason, tries, waits) == ("timeout", 1, [])


def test_connection_failures_are_retried_like_5xx():
    broken = [Exchange(reason="connection_failed", detail="ConnectError") for _ in range(5)]
    last, waits, tries = _run(broken)
    assert (last.reason, tries, waits) == ("connection_failed", 4, [1.0, 2.0, 4.0])


def test_no_wait_outlasts_what_the_url_has_left():
    # 10 s: attempt (1 s), wait 1, attempt, wait 2, attempt: 4 s are left, and a wait of 4 s
    # would leave no time for the next attempt.
    last, waits, tries = _run([_status(503)] * 10, cfg=replace(POLICY, retries=9), seconds=10.0)
    assert (last.reason, tries, waits) == ("http_error", 3, [1.0, 2.0])
    last, waits, tries = _run([_status(503)] * 10, seconds=3.5)
    assert (last.reason, tries, waits) == ("http_error", 2, [1.0])


def test_an_exception_is_a_programming_error_and_is_not_retried():
    calls = []

    def attempt() -> Exchange:
        calls.append(1)
        raise RuntimeError("bug")

    with pytest.raises(RuntimeError, match="bug"):
        with_retries(attempt, POLICY, Budget(60.0, Clock()), Clock().sleep)
    assert calls == [1]


def test_a_retry_after_that_is_no_number_does_not_stop_the_night():
    clock = Clock()
    cfg = replace(FAST, backoff_seconds=1.0)
    with serve_site() as site:
        site.put("/odd.html", page("Odd", ["Later."]), failures=[503], headers={"Retry-After": "²"})
        with Fetcher(cfg, sleep=clock.sleep, clock=clock) as fetcher:
            table = fetch_sources([site.url("/odd.html")], {}, cfg, fetcher)
    row = table.to_pylist()[0]
    assert (row["outcome"], row["attempts"]) == ("new", 2)
    assert clock.sleeps == [1.0]
