"""Which URLs the crawl may fetch at all, and the reasons it names for those it may not."""

from __future__ import annotations

from tasks.fetch.urls import url_problem


def test_url_problems_are_named():
    assert url_problem("https://example.org/a") is None
    assert url_problem("file:///etc/passwd")[0] == "not_http"
    assert url_problem("javascript:alert(1)")[0] == "not_http"
    assert url_problem("ftp://host/x")[0] == "not_http"
    assert url_problem("http:///nohost")[0] == "bad_url"
    assert url_problem("http://h:99999/x")[0] == "bad_url"
    assert url_problem("http://[::1/x")[0] == "bad_url"
