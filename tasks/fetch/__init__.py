"""The fetch stage: the night's web sources -> FETCHED exchanges under `raw/` (see `crawl.py`
for the contract and the reason codes). `crawl.py` runs the night; it builds on `urls.py`,
`http.py` (the client), `retry.py` (the retry policy), `robots.py` (robots.txt), `listings.py`
(feeds and sitemaps) and `config.py` (`FetchConfig`); `task.py` alone imports Prefect."""
