"""robots.txt as RFC 9309 reads it, through protego: for each origin, its robots.txt is fetched
once a night (before the origin's first URL) and its group for our product token (`wiredesk`,
else `*`) decides: the longest matching rule wins, `Allow` on a tie, with `*` and `$` patterns;
a Crawl-delay longer than the per-host delay spaces that host's requests (up to
`max_crawl_delay`). A robots.txt answered 4xx, or redirected off its origin or too often,
allows everything; one that cannot be read (timeout, connection failure, 5xx after the
retries, any other answer) closes the origin tonight. Output: a refusal (reason, detail) per
URL, or None: `robots_disallowed`, or the unreadable robots.txt's own reason (`timeout`,
`connection_failed`, `http_error`, ...) with a detail naming robots.txt."""

from __future__ import annotations

from protego import Protego

from tasks.fetch.config import FetchConfig
from tasks.fetch.http import Exchange, Fetcher, Refusal
from tasks.fetch.urls import host_of, origin_of

# What a robots.txt exchange means for its origin: rules to match, everything allowed (None),
# or nothing allowed (the exchange that failed).
Rules = Protego | Exchange | None


def rules_of(ex: Exchange, max_bytes: int) -> Rules:
    """RFC 9309's reading of the answer to `/robots.txt` (its first `max_bytes` parsed)."""
    if ex.reason in ("redirect_off_host", "too_many_redirects") or (
        ex.reason is None and ex.status is not None and 400 <= ex.status < 500
    ):
        return None  # unavailable: RFC 9309 allows everything
    if ex.reason is not None or ex.status != 200 or ex.body is None:
        return ex  # unreachable: RFC 9309 disallows everything
    return Protego.parse(ex.body[:max_bytes].decode("utf-8", errors="replace"))


class Robots:
    """The night's robots.txt verdicts, one fetch per origin through `fetcher` (which also
    learns each host's Crawl-delay)."""

    def __init__(self, cfg: FetchConfig, fetcher: Fetcher) -> None:
        self.cfg = cfg
        self.fetcher = fetcher
        self._rules: dict[str, Rules] = {}

    def refusal(self, url: str) -> Refusal:
        """(reason, detail) when the origin's robots.txt keeps us from `url`, else None."""
        if not self.cfg.obey_robots:
            return None
        origin = origin_of(url)
        if origin not in self._rules:
            self._rules[origin] = self._read(origin)
        rules = self._rules[origin]
        if isinstance(rules, Exchange):
            reason = rules.reason or "http_error"
            return reason, f"robots.txt unreadable: {rules.detail or f'HTTP {rules.status}'}"
        if rules is not None and not rules.can_fetch(url, self.cfg.product_token):
            return "robots_disallowed", f"{origin}/robots.txt"
        return None

    def _read(self, origin: str) -> Rules:
        # No check on its redirects: a robots.txt redirected to a path it disallows still counts.
        rules = rules_of(self.fetcher.get(f"{origin}/robots.txt", None), self.cfg.robots_max_bytes)
        if isinstance(rules, Protego):
            delay = rules.crawl_delay(self.cfg.product_token)
            if delay is not None and delay > self.cfg.host_delay_seconds:
                self.fetcher.set_host_delay(host_of(origin), min(delay, self.cfg.max_crawl_delay))
        return rules
