"""URLs as the crawl judges them: which may be fetched at all (http(s), a host, a port that
parses), and the origin (scheme, host without `www.`, port) that a redirect or a listed link
must share with the URL it came from. Pure functions of strings; nothing quarantined here, the
reasons (`not_http`, `bad_url`) are returned to the caller."""

from __future__ import annotations

from urllib.parse import urljoin, urlsplit

import httpx

DEFAULT_PORTS = {"http": 80, "https": 443}


def url_problem(url: str) -> tuple[str, str] | None:
    """(reason, detail) when `url` must not be fetched at all, else None."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError as exc:
        return "bad_url", str(exc)
    if parts.scheme not in ("http", "https"):
        return "not_http", f"scheme {parts.scheme or '(none)'!r}"
    if not host:
        return "bad_url", "no host"
    try:
        httpx.URL(url)
    except (httpx.InvalidURL, ValueError) as exc:
        return "bad_url", str(exc)
    return None


def host_of(url: str) -> str:
    host = (urlsplit(url).hostname or "").lower()
    return host[4:] if host.startswith("www.") else host


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def site_of(url: str) -> tuple[str, str, int | None]:
    """(scheme, host without `www.`, port) of an http(s) URL: what a redirect or a listed link
    must share with the URL it came from."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    return scheme, host_of(url), parts.port or DEFAULT_PORTS.get(scheme)


def absolute(base: str, link: str) -> str:
    """`link` resolved against `base`; as it stands when it cannot be (url_problem says why)."""
    try:
        return urljoin(base, link)
    except ValueError:
        return link
