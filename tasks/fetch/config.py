"""The fetch stage's options: one frozen `FetchConfig`, built by the flow's config and passed
to every fetch module (timeouts, size caps, the retry policy, politeness, robots.txt). No
input, no output, nothing quarantined: each limit says where it came from."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FetchConfig:
    # 10 s to connect and 20 s of silence are generous for news sites. A request (connect,
    # headers, body) must be complete within 30 s, which is 16 MiB at 560 KB/s, so a server
    # that trickles bytes (or headers) cannot hold a night; a URL, with its redirects, retries
    # and the waits between them, gets 65 s, so one timeout and its retry fit (30 + 1 + 30).
    connect_timeout: float = 10.0
    read_timeout: float = 20.0
    request_seconds: float = 30.0
    url_seconds: float = 65.0
    # Same cap as ingest's per-document limit: anything bigger is no article page.
    max_bytes: int = 16 * 1024 * 1024
    # Attempts after the first for transient failures; waits are backoff * 2**n (1, 2, 4 s), or
    # the server's Retry-After when it says one, capped. A timeout is tried again once only: a
    # server that did not answer in 30 s rarely does the third time, and each try costs 30 s.
    retries: int = 3
    timeout_retries: int = 1
    backoff_seconds: float = 1.0
    max_retry_after: float = 60.0
    # At least this long between two requests to one host (a polite crawler's usual second).
    host_delay_seconds: float = 1.0
    max_redirects: int = 5
    # Per feed or sitemap, and per night: bound the work a hostile listing can cause.
    max_listed: int = 5000
    max_urls: int = 20000
    # The product token robots.txt rules are matched against is the part before "/".
    user_agent: str = "wiredesk/0.1 (nightly news ingest)"
    obey_robots: bool = True
    # RFC 9309: crawlers must parse at least 500 KiB of a robots.txt; what follows is ignored.
    robots_max_bytes: int = 512 * 1024
    # A Crawl-delay longer than this is capped: one host cannot hold a night for hours.
    max_crawl_delay: float = 30.0

    @property
    def product_token(self) -> str:
        """What robots.txt `User-agent` lines are matched against (`wiredesk`): the whole
        header would also match groups named after its comment's words."""
        return self.user_agent.split("/", 1)[0].strip()
