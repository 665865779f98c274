"""The retry policy of one fetch, as tenacity strategies: which answers are tried again (a
timeout, a broken connection, 429 and 5xx), how long to wait (backoff_seconds * 2**n, so 1, 2,
4 s, or the server's Retry-After in seconds when longer, capped at max_retry_after), and when
to stop (after `retries` retries, after `timeout_retries` retries of a timeout, or when the wait
would not leave the URL any of its `url_seconds`). Input: the answers of one request, one at a
time; output: the last answer, with a 5xx/429 that outlived the retries named `http_error`.
Nothing is quarantined here; sleeping and the clock are injected, so tests count the waits."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Protocol, TypeVar

import tenacity
from tenacity import RetryCallState

from tasks.fetch.config import FetchConfig

TRANSIENT = (429, 500, 502, 503, 504)
# Retry-After as delta-seconds (RFC 9110); an HTTP-date is ignored, the backoff stands. ASCII
# digits only: str.isdigit() also takes "²", which float() refuses.
_SECONDS = re.compile(r"[0-9]{1,12}")


class Answer(Protocol):
    """What the policy reads of an answer (an `http.Exchange`)."""

    reason: str | None
    detail: str | None
    status: int | None
    headers: dict[str, str]
    attempts: int


A = TypeVar("A", bound=Answer)


class Budget:
    """What is left of one URL's `url_seconds`; the per-host delay does not count."""

    def __init__(self, seconds: float, clock: Callable[[], float]) -> None:
        self.clock = clock
        self.until = clock() + seconds

    def left(self) -> float:
        return self.until - self.clock()

    def extend(self, seconds: float) -> None:
        self.until += seconds


def is_transient(answer: Answer) -> bool:
    return answer.reason in ("timeout", "connection_failed") or (
        answer.reason is None and answer.status in TRANSIENT
    )


def _answer(state: RetryCallState) -> Answer:
    # Attempts return answers; an exception is a programming error and is never retried.
    assert state.outcome is not None and not state.outcome.failed
    answer: Answer = state.outcome.result()
    return answer


class wait_backoff_or_retry_after(tenacity.wait.wait_base):
    """backoff * 2**n after the n-th retry, or the answer's Retry-After when longer; capped."""

    def __init__(self, backoff: float, cap: float) -> None:
        self.backoff = tenacity.wait_exponential(multiplier=backoff, exp_base=2)
        self.cap = cap

    def __call__(self, state: RetryCallState) -> float:
        wait = float(self.backoff(state))
        said = _answer(state).headers.get("retry-after", "").strip()
        if _SECONDS.fullmatch(said):
            wait = max(wait, float(said))
        return min(wait, self.cap)


class stop_after_timeouts(tenacity.stop.stop_base):
    """Stop at the (limit + 1)-th timeout. Counts the answers it is shown (tenacity asks once
    per attempt it would retry), so it is built afresh for each call of `retrying`."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.timeouts = 0

    def __call__(self, state: RetryCallState) -> bool:
        self.timeouts += _answer(state).reason == "timeout"
        return self.timeouts > self.limit


class stop_when_out_of_time(tenacity.stop.stop_base):
    """Stop when the coming wait is as long as what the URL has left (or it has nothing left:
    an attempt that found the budget spent is a timeout and ends here). The wait is computed
    again rather than read from tenacity's state, which older tenacity fills after `stop`."""

    def __init__(self, budget: Budget, wait: tenacity.wait.wait_base) -> None:
        self.budget = budget
        self.wait = wait

    def __call__(self, state: RetryCallState) -> bool:
        return self.wait(state) >= self.budget.left()


def retrying(cfg: FetchConfig, budget: Budget, sleep: Callable[[float], None]) -> tenacity.Retrying:
    """The policy for one request of a URL (one redirect hop); the last answer is returned
    whether it succeeded or the policy gave up."""
    wait = wait_backoff_or_retry_after(cfg.backoff_seconds, cfg.max_retry_after)
    return tenacity.Retrying(
        retry=tenacity.retry_if_result(is_transient),
        wait=wait,
        # Any of them ends the hop; `stop_any` may skip the later ones once one is true, which
        # costs `stop_after_timeouts` no count it needs.
        stop=(
            tenacity.stop_after_attempt(cfg.retries + 1)
            | stop_after_timeouts(cfg.timeout_retries)
            | stop_when_out_of_time(budget, wait)
        ),
        sleep=sleep,
        retry_error_callback=_answer,
    )


def with_retries(
    attempt: Callable[[], A], cfg: FetchConfig, budget: Budget, sleep: Callable[[float], None]
) -> A:
    """`attempt` under the policy; a 5xx/429 still failing at the end becomes `http_error`."""
    answer: A = retrying(cfg, budget, sleep)(attempt)
    if answer.reason is None and answer.status in TRANSIENT:
        answer.reason = "http_error"
        answer.detail = f"HTTP {answer.status} after {answer.attempts} tries"
    return answer
