"""Fetch under load and under attack: the peak memory of a night of large pages, and the seconds
and memory each hostile URL costs with the default FetchConfig (targets: under 500 MB whatever
the number of pages; under 70 s a hostile URL).

A loopback server in this process serves N generated pages of 15 MiB (random bytes as hex, so
that compression does not help) listed by one sitemap, and the hostile URLs: headers one byte
every 10 s, `Content-Encoding: gzip, gzip` over a 4 GiB bomb, a plain gzip bomb of 4 GiB, an
endless fast body, an endless body of 100 bytes a second, a redirect to a path robots.txt
disallows, a redirect to another port, a feed of javascript:/file: links, a 503 that always
says Retry-After: 120, and a redirect loop. Each measurement runs in a child process (this
script with --child), so the peak RSS it reports (getrusage ru_maxrss) is the fetch's own; the
night of pages writes its raw partition to a scratch data dir, as the fetch task does. The
night of pages runs with no per-host delay (the default 1 s would only add N seconds); every
hostile URL with the default config, its robots.txt and the 1 s delay after it included.

    .venv/bin/python benchmarks/fetch.py [--pages 10,60] [--page-mib 15] [--no-hostile]
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.webserver import (  # noqa: E402
    Raw,
    endless_body,
    gzip_bomb,
    rss,
    serve_site,
    sitemap,
    slow_headers,
)

MIB = 1 << 20


def peak_rss_mb() -> float:
    # Linux reports ru_maxrss in KiB.
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def generated_page(seed: int, size: int) -> Raw:
    """A 200 of about `size` bytes of HTML, generated as it is sent (the server keeps none)."""
    head = b"<!doctype html><html><head><title>Page %d</title></head><body><p>" % seed
    tail = b"</p></body></html>"
    pieces = max(1, (size - len(head) - len(tail)) // MIB)

    def write(out: BinaryIO) -> None:
        out.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n")
        out.write(b"Content-Length: %d\r\n\r\n" % (len(head) + pieces * MIB + len(tail)))
        out.write(head)
        rng = random.Random(seed)
        for _ in range(pieces):
            out.write(rng.randbytes(MIB // 2).hex().encode())
        out.write(tail)

    return write


# --------------------------------------------------------------------------- children


def child_pages(sitemap_url: str, data_dir: str) -> dict[str, Any]:
    from dataclasses import replace

    from tasks import io
    from tasks.fetch.config import FetchConfig
    from tasks.fetch.crawl import fetch_night

    baseline = peak_rss_mb()
    layout = io.Layout(Path(data_dir), "2026-03-14")
    cfg = replace(FetchConfig(), host_delay_seconds=0.0)
    started = time.monotonic()
    result = fetch_night([sitemap_url], layout, cfg)
    seconds = time.monotonic() - started
    on_disk = sum(p.stat().st_size for p in layout.raw.glob("*.parquet"))
    return {
        "seconds": round(seconds, 1),
        "outcomes": result.outcomes,
        "baseline_mb": baseline,
        "peak_mb": peak_rss_mb(),
        "raw_mb": round(on_disk / MIB, 1),
    }


def child_url(url: str) -> dict[str, Any]:
    from tasks.fetch.config import FetchConfig
    from tasks.fetch.crawl import fetch_sources, quarantined
    from tasks.fetch.http import Fetcher

    cfg = FetchConfig()
    started = time.monotonic()
    with Fetcher(cfg) as fetcher:
        table = fetch_sources([url], {}, cfg, fetcher)
    seconds = time.monotonic() - started
    rows = table.to_pylist()
    first = rows[0]
    bad = quarantined(table, run_id="bench", at=datetime.now(UTC))
    return {
        "seconds": round(seconds, 1),
        "reason": first["reason"],
        "attempts": first["attempts"],
        "detail": (first["detail"] or "")[:70],
        "rows": {r["url"][:40]: r["reason"] or r["outcome"] for r in rows[1:]},
        "quarantined_urls": sorted({u for u in bad.column("url").to_pylist() if u is not None}),
        "peak_mb": peak_rss_mb(),
    }


def run_child(*args: str) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", *args], capture_output=True, text=True, check=False
    )
    if out.returncode != 0:
        raise RuntimeError(f"child {args} failed:\n{out.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


# --------------------------------------------------------------------------- parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", default="10,60", help="night sizes to measure, in pages")
    parser.add_argument("--page-mib", type=float, default=15.0)
    parser.add_argument("--no-hostile", action="store_true")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, *rest = args.child
        result = child_pages(*rest) if kind == "pages" else child_url(*rest)
        print(json.dumps(result))
        return 0

    counts = [int(n) for n in args.pages.split(",") if n]
    size = int(args.page_mib * MIB)
    print("building the bombs ...", flush=True)
    double_bomb = gzip_bomb(4 << 30, 2)
    single_bomb = gzip_bomb(4 << 30, 1)
    with serve_site() as other, serve_site() as site:
        other.put("/a.html", b"<p>another port</p>")
        site.put("/robots.txt", "User-agent: *\nDisallow: /private/\n", content_type="text/plain")
        for n in range(max(counts)):
            site.put(f"/big/{n}.html", b"", raw=generated_page(n, size))
        for count in counts:
            links = [f"/big/{n}.html" for n in range(count)]
            site.put(f"/sitemap-{count}.xml", sitemap(site.base, links), content_type="text/xml")

        print(f"\nnight of large pages ({args.page_mib:g} MiB each, generated, no host delay)")
        print(f"{'pages':>6} {'GiB in':>7} {'seconds':>8} {'baseline MB':>12} {'peak RSS MB':>12}")
        for count in counts:
            work = Path(tempfile.mkdtemp(prefix="wiredesk-fetch-bench-"))
            try:
                r = run_child("pages", site.url(f"/sitemap-{count}.xml"), str(work / "data"))
            finally:
                shutil.rmtree(work, ignore_errors=True)
            gib = count * size / (1 << 30)
            print(
                f"{count:>6} {gib:>7.2f} {r['seconds']:>8} {r['baseline_mb']:>12} "
                f"{r['peak_mb']:>12}   {r['outcomes']}  raw {r['raw_mb']} MiB",
                flush=True,
            )
        if args.no_hostile:
            return 0

        odd = ["javascript:alert(1)", "file:///etc/passwd"]
        items = "".join(f"<item><link>{link}</link></item>" for link in odd)
        hostile: dict[str, tuple[str, dict[str, Any]]] = {
            "headers 1 byte / 10 s": ("/slow-headers", {"raw": slow_headers(10.0, 600.0)}),
            "gzip, gzip bomb (4 GiB)": (
                "/double-bomb",
                {"body": double_bomb, "headers": {"Content-Encoding": "gzip, gzip"}},
            ),
            "gzip bomb (4 GiB)": (
                "/bomb",
                {"body": single_bomb, "headers": {"Content-Encoding": "gzip"}},
            ),
            "endless body, fast": ("/endless", {"raw": endless_body(b"x" * 65536)}),
            "endless body, 100 B/s": ("/trickle", {"raw": endless_body(b"x" * 100, 1.0)}),
            "redirect to disallowed path": ("/hop", {"redirect": "/private/secret.html"}),
            "redirect to another port": ("/to-port", {"redirect": other.url("/a.html")}),
            "feed of javascript:/file: links": (
                "/feed.xml",
                {"body": rss(site.base, []).replace("</channel>", items + "</channel>")},
            ),
            "503, Retry-After: 120, always": (
                "/busy",
                {"failures": [503] * 100, "headers": {"Retry-After": "120"}},
            ),
            "redirect loop": ("/loop", {"redirect": "/loop"}),
        }
        site.put("/private/secret.html", b"<p>secret</p>")
        for path, spec in hostile.values():
            spec = dict(spec)
            site.put(path, spec.pop("body", b""), **spec)

        print("\nhostile URLs, default FetchConfig (one child process each)")
        print(f"{'case':<32} {'seconds':>8} {'peak RSS MB':>12} {'tries':>6}  reason")
        for name, (path, _spec) in hostile.items():
            r = run_child("url", site.url(path))
            extra = f"  listed: {r['rows']}" if r["rows"] else ""
            if r["quarantined_urls"]:
                extra += f"  quarantine urls: {r['quarantined_urls']}"
            print(
                f"{name:<32} {r['seconds']:>8} {r['peak_mb']:>12} {r['attempts']:>6}  "
                f"{r['reason']} ({r['detail']}){extra}",
                flush=True,
            )
        print(f"\nrequests the other port's server answered: {len(other.log)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
