"""Report: run records -> what a person reads (terminal summary, Prefect artifacts, HTML report).

Input: run records (`runs/<run_id>.json`, written by the flow) and, for a night's profile, the
published tables of that night. Output: rows for the per-stage table (in, kept, set aside by the
stage and by the checks, top reasons), a markdown summary with pass/warn/fail per expectation,
the night's profile (text lengths, languages, duplicate cluster sizes, quarantine reasons), a
plain-text summary of the last runs, and one self-contained HTML page (inline SVG and CSS, no
script, nothing fetched) with the documents-per-stage funnel and the profile plots. Quarantines
nothing. Pure except the Prefect task at the bottom, which reads a night's tables through `io`.
"""

from __future__ import annotations

import html
from collections import Counter
from pathlib import Path
from typing import Any

import pyarrow as pa
from prefect import task
from prefect.cache_policies import NO_CACHE

from tasks import io

STAGES = ("ingest", "extract", "repair", "dedup")
# The dataset each stage writes: its checks' row counts belong to that stage's line.
DATASET_OF = {
    "ingest": "ingested",
    "extract": "extracted",
    "repair": "repaired",
    "dedup": "deduped",
}
STAGE_COLUMNS = ["stage", "in", "kept", "quarantined", "by checks", "duplicates", "checks"]
CHECK_COLUMNS = ["dataset", "status", "severity", "expectation", "observed", "unexpected"]
RUN_COLUMNS = ["run", "night", "status", "input", "articles", "duplicates", "quarantined"]

# Text-length histogram: bins doubling from 128 characters, so a 200-character stub and a
# 30,000-character feature are both visible on one axis.
LENGTH_EDGES = (0, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768, 65536)
TOP_REASONS = 3


# --------------------------------------------------------------------------- per-run tables


def _top(reasons: dict[str, int], n: int = TOP_REASONS) -> str:
    items = sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))[:n]
    return ", ".join(f"{k} ({v})" for k, v in items)


def stage_rows(record: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per stage: documents in, kept after its checks, set aside, top reasons."""
    rows = []
    for stage in STAGES:
        result = record["stages"].get(stage)
        if not result:
            continue
        check = record["validations"].get(DATASET_OF[stage]) or {}
        caught = int(check.get("quarantined") or 0)
        reasons = Counter(result.get("reasons") or {})
        reasons.update(check.get("reasons") or {})
        rows.append(
            {
                "stage": stage,
                "in": result["rows_in"],
                "kept": result["kept"] - caught,
                "quarantined": result["quarantined"],
                "by checks": caught,
                "duplicates": (result.get("extra") or {}).get("duplicates", "")
                if stage == "dedup"
                else "",
                "checks": check.get("status", ""),
                "seconds": result["seconds"],
                "top reasons": _top(dict(reasons)),
            }
        )
    return rows


def expectation_rows(record: dict[str, Any]) -> list[dict[str, Any]]:
    """Every expectation of every validated dataset with its status (pass, warn, fail)."""
    rows = []
    for dataset, report in record["validations"].items():
        for o in sorted(report["outcomes"], key=lambda o: _ORDER.get(_status(o), 3)):
            status = _status(o)
            rows.append(
                {
                    "dataset": dataset,
                    "expectation": o["expectation"],
                    "severity": o["severity"],
                    "status": status,
                    "observed": _short(o.get("observed")),
                    "unexpected": ""
                    if o.get("unexpected_count") is None
                    else o["unexpected_count"],
                    "set aside": o.get("quarantined", 0),
                    "why": o.get("why") or "",
                }
            )
    return rows


def _blank(value: Any) -> Any:
    return "" if value is None else value


_ORDER = {"fail": 0, "warn": 1, "pass": 2}


def _status(outcome: dict[str, Any]) -> str:
    if outcome.get("status"):
        return str(outcome["status"])
    if outcome["success"]:
        return "pass"
    return "fail" if outcome["severity"] == "critical" else "warn"


def _short(value: Any, width: int = 60) -> str:
    text = "" if value is None else str(value)
    return text if len(text) <= width else text[: width - 1] + "…"


def _accounting(inv: dict[str, Any]) -> str:
    """The night's invariant as a sentence: input = articles + duplicates + quarantined."""
    return (
        f"{inv['input']} input documents = {inv['articles']} articles + "
        f"{inv['duplicates']} duplicates + {inv['quarantined']} quarantined"
    )


def summary_markdown(record: dict[str, Any]) -> str:
    """The night at a glance: status, the invariant, pass/warn/fail of every expectation."""
    lines = [f"# wiredesk night {record['run_date']}: {record['status']}", ""]
    lines.append(f"run `{record['run_id']}`")
    inv = record.get("invariant")
    if inv:
        lines.append(f"\n{_accounting(inv)}")
    if record.get("error"):
        lines += ["", f"**error**: {record['error']}"]
    rows = expectation_rows(record)
    counts = Counter(r["status"] for r in rows)
    lines += [
        "",
        f"checks: {counts['pass']} pass, {counts['warn']} warn, {counts['fail']} fail",
        "",
        "| dataset | status | severity | expectation | observed | set aside |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    mark = {"pass": "pass", "warn": "**warn**", "fail": "**FAIL**"}
    for r in rows:
        observed = r["observed"].replace("|", "\\|")
        lines.append(
            f"| {r['dataset']} | {mark[r['status']]} | {r['severity']} | `{r['expectation']}` "
            f"| {observed} | {r['set aside'] or ''} |"
        )
    if record.get("docs"):
        lines += ["", f"GX Data Docs: `{record['docs']}`"]
    return "\n".join(lines)


# --------------------------------------------------------------------------- profile


def profile(articles: pa.Table, duplicates: pa.Table, quarantine: pa.Table) -> dict[str, Any]:
    """A night's published profile: lengths, languages, cluster sizes, quarantine reasons."""
    lengths = [int(v) for v in articles.column("text_length").to_pylist() if v is not None]
    bins = [0] * len(LENGTH_EDGES)
    for value in lengths:
        index = 0
        while index + 1 < len(LENGTH_EDGES) and value >= LENGTH_EDGES[index + 1]:
            index += 1
        bins[index] += 1
    langs = Counter(v or "unknown" for v in articles.column("lang").to_pylist())
    copies = Counter(duplicates.column("cluster_id").to_pylist())
    sizes = Counter(1 + copies.get(c, 0) for c in articles.column("cluster_id").to_pylist())
    reasons = Counter(
        f"{s}: {r}"
        for s, r in zip(
            quarantine.column("stage").to_pylist(),
            quarantine.column("reason").to_pylist(),
            strict=True,
        )
    )
    return {
        "text_length_bins": [
            {"from": LENGTH_EDGES[i], "count": bins[i]} for i in range(len(LENGTH_EDGES))
        ],
        "languages": dict(langs.most_common()),
        "cluster_sizes": {str(k): v for k, v in sorted(sizes.items())},
        "quarantine_reasons": dict(reasons.most_common()),
    }


# --------------------------------------------------------------------------- terminal


def _table(rows: list[dict[str, Any]], headers: list[str]) -> list[str]:
    widths = {h: max([len(h)] + [len(str(r.get(h, ""))) for r in rows]) for h in headers}
    out = ["  ".join(h.ljust(widths[h]) for h in headers).rstrip()]
    for r in rows:
        out.append("  ".join(str(r.get(h, "")).ljust(widths[h]) for h in headers).rstrip())
    return out


def run_line(record: dict[str, Any]) -> dict[str, Any]:
    inv = record.get("invariant") or {}
    statuses = Counter(r["status"] for r in expectation_rows(record))
    first_input = (record["stages"].get("ingest") or {}).get("rows_in", "")
    return {
        "run": record["run_id"],
        "night": record["run_date"],
        "status": record["status"],
        "input": inv.get("input", first_input),
        "articles": inv.get("articles", ""),
        "duplicates": inv.get("duplicates", ""),
        "quarantined": inv.get("quarantined", ""),
        "checks": f"{statuses['pass']}/{statuses['warn']}/{statuses['fail']}",
    }


def terminal_summary(records: list[dict[str, Any]]) -> str:
    """The last runs (oldest first), then the latest run's stages and non-passing checks."""
    if not records:
        return "no runs recorded yet"
    lines = ["last runs (checks: pass/warn/fail)"]
    lines += _table(
        [run_line(r) for r in records],
        [*RUN_COLUMNS, "checks"],
    )
    latest = records[-1]
    lines += ["", f"latest run {latest['run_id']} ({latest['status']})"]
    lines += _table(
        stage_rows(latest),
        [*STAGE_COLUMNS, "top reasons"],
    )
    bad = [r for r in expectation_rows(latest) if r["status"] != "pass"]
    if bad:
        lines += ["", "checks not passing"]
        lines += _table(bad, ["dataset", "status", "expectation", "observed", "set aside"])
    if latest.get("error"):
        lines += ["", f"error: {latest['error']}"]
    return "\n".join(lines)


# --------------------------------------------------------------------------- HTML

_CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:1100px;color:#1d2733;
padding:0 1rem}
h1{font-size:1.5rem}h2{font-size:1.15rem;margin-top:2rem;border-bottom:1px solid #d5dbe1}
table{border-collapse:collapse;margin:.5rem 0;font-size:13px}
td,th{border:1px solid #d5dbe1;padding:.25rem .5rem;text-align:left;vertical-align:top}
th{background:#eef2f6}.pass{color:#1b7a3a}.warn{color:#a86400;font-weight:600}
.fail{color:#b3261e;font-weight:700}.grid{display:flex;flex-wrap:wrap;gap:1.5rem}
figure{margin:0}figcaption{font-weight:600;margin-bottom:.25rem}svg text{font-size:12px}
.muted{color:#5d6b78}
"""

BAR = "#3b6ea5"
SHADE = "#c7d5e6"


def _esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _hbars(items: list[tuple[str, int]], *, width: int = 520, label_width: int = 220) -> str:
    """Horizontal bar chart as inline SVG (one bar per item, value printed at its end)."""
    if not items:
        return '<p class="muted">nothing to show</p>'
    row = 22
    height = row * len(items) + 8
    top = max(v for _, v in items) or 1
    span = width - label_width - 60
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'role="img" viewBox="0 0 {width} {height}">'
    ]
    for i, (label, value) in enumerate(items):
        y = 4 + i * row
        w = max(1.0, span * value / top) if value else 0
        parts.append(
            f'<text x="{label_width - 6}" y="{y + 15}" text-anchor="end">{_esc(label)}</text>'
            f'<rect x="{label_width}" y="{y + 3}" width="{w:.1f}" height="{row - 6}" '
            f'fill="{BAR}"><title>{_esc(label)}: {value}</title></rect>'
            f'<text x="{label_width + w + 4:.1f}" y="{y + 15}">{value}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _funnel(steps: list[tuple[str, int]], *, width: int = 720) -> str:
    """Documents per stage as a centred funnel; the drop from the step above is printed."""
    if not steps:
        return '<p class="muted">no stage ran</p>'
    row = 30
    height = row * len(steps) + 8
    top = max(v for _, v in steps) or 1
    centre = 160 + (width - 160 - 220) / 2
    span = width - 160 - 220
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'role="img" viewBox="0 0 {width} {height}">'
    ]
    previous: int | None = None
    for i, (label, value) in enumerate(steps):
        y = 4 + i * row
        w = max(2.0, span * value / top)
        drop = "" if previous is None or previous == value else f" (−{previous - value})"
        if label == "canonical articles" and previous is not None:
            drop = f" (+{previous - value} duplicates)"
        parts.append(
            f'<text x="150" y="{y + 19}" text-anchor="end">{_esc(label)}</text>'
            f'<rect x="{centre - w / 2:.1f}" y="{y + 3}" width="{w:.1f}" height="{row - 6}" '
            f'fill="{BAR if i else SHADE}"><title>{_esc(label)}: {value}</title></rect>'
            f'<text x="{width - 210}" y="{y + 19}">{value}{_esc(drop)}</text>'
        )
        previous = value
    parts.append("</svg>")
    return "".join(parts)


def _columns(items: list[tuple[str, int]], *, width: int = 520, height: int = 200) -> str:
    """Vertical bars (a histogram) as inline SVG, labels under the bars."""
    if not items or not any(v for _, v in items):
        return '<p class="muted">nothing to show</p>'
    top = max(v for _, v in items) or 1
    plot = height - 40
    step = (width - 20) / len(items)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'role="img" viewBox="0 0 {width} {height}">'
    ]
    for i, (label, value) in enumerate(items):
        h = plot * value / top
        x = 10 + i * step
        parts.append(
            f'<rect x="{x + 2:.1f}" y="{14 + plot - h:.1f}" width="{step - 4:.1f}" '
            f'height="{h:.1f}" fill="{BAR}"><title>{_esc(label)}: {value}</title></rect>'
            f'<text x="{x + step / 2:.1f}" y="{12 + plot - h:.1f}" text-anchor="middle">'
            f"{value if value else ''}</text>"
            f'<text x="{x + step / 2:.1f}" y="{height - 10}" text-anchor="middle">'
            f"{_esc(label)}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def funnel_steps(record: dict[str, Any]) -> list[tuple[str, int]]:
    """Documents remaining after each stage (and its checks), then what was published."""
    steps: list[tuple[str, int]] = []
    first = record["stages"].get("ingest")
    if first:
        steps.append(("input documents", int(first["rows_in"])))
    for row in stage_rows(record):
        steps.append((f"after {row['stage']}", int(row["kept"])))
    inv = record.get("invariant")
    if inv:
        steps.append(("canonical articles", int(inv["articles"])))
    return steps


# Cluster sizes drawn in these bins: a night of wire copies has clusters of 1 to 150 documents
# (the large syndication set), too many sizes for one bar each.
SIZE_BINS = ((1, 1), (2, 2), (3, 3), (4, 5), (6, 10), (11, 20), (21, 50), (51, 100))


def size_bins(sizes: dict[str, int]) -> list[tuple[str, int]]:
    """(label, clusters) per cluster-size bin, the last bin open-ended."""
    counts = [0] * (len(SIZE_BINS) + 1)
    for size, clusters in sizes.items():
        index = next(
            (i for i, (lo, hi) in enumerate(SIZE_BINS) if lo <= int(size) <= hi), len(SIZE_BINS)
        )
        counts[index] += int(clusters)
    labels = [str(lo) if lo == hi else f"{lo}-{hi}" for lo, hi in SIZE_BINS]
    labels.append(f"{SIZE_BINS[-1][1] + 1}+")
    return list(zip(labels, counts, strict=True))


def _length_label(start: int) -> str:
    return f"{start // 1024}k" if start >= 1024 else str(start)


def _html_table(rows: list[dict[str, Any]], headers: list[str], status: str = "") -> str:
    out = ["<table><tr>", *(f"<th>{_esc(h)}</th>" for h in headers), "</tr>"]
    for r in rows:
        out.append(f'<tr title="{_esc(r["why"])}">' if r.get("why") else "<tr>")
        for h in headers:
            cls = f' class="{_esc(r[h])}"' if h == status else ""
            out.append(f"<td{cls}>{_esc(r.get(h, ''))}</td>")
        out.append("</tr>")
    out.append("</table>")
    return "".join(out)


def render_html(records: list[dict[str, Any]]) -> str:
    """One self-contained page: the last runs, the latest run's funnel, checks and profile."""
    if not records:
        body = "<h1>wiredesk</h1><p>No runs recorded yet.</p>"
        return _page("wiredesk report", body)
    latest = records[-1]
    profiled = next((r for r in reversed(records) if r.get("profile")), None)
    parts = [
        f"<h1>wiredesk night {_esc(latest['run_date'])}: "
        f'<span class="{"pass" if latest["status"] == "completed" else "fail"}">'
        f"{_esc(latest['status'])}</span></h1>",
        f'<p class="muted">run {_esc(latest["run_id"])}, started {_esc(latest["started_at"])}</p>',
    ]
    if latest.get("error"):
        parts.append(f'<p class="fail">{_esc(latest["error"])}</p>')
    inv = latest.get("invariant")
    if inv:
        parts.append(f"<p>{_accounting(inv)} ({'holds' if inv['holds'] else 'BROKEN'})</p>")
    parts += [
        "<h2>Documents per stage</h2>",
        '<div class="grid"><figure><figcaption>funnel</figcaption>',
        _funnel(funnel_steps(latest)),
        "</figure></div>",
        _html_table(
            stage_rows(latest),
            [*STAGE_COLUMNS, "seconds", "top reasons"],
            status="checks",
        ),
    ]
    if profiled is not None:
        prof = profiled["profile"]
        note = (
            ""
            if profiled is latest
            else f' <span class="muted">(from the last published night, '
            f"{_esc(profiled['run_date'])}, run {_esc(profiled['run_id'])})</span>"
        )
        lengths = [(_length_label(b["from"]), int(b["count"])) for b in prof["text_length_bins"]]
        parts += [
            f"<h2>Published night profile{note}</h2>",
            '<div class="grid">',
            "<figure><figcaption>quarantine reasons (stage: reason)</figcaption>",
            _hbars(list(prof["quarantine_reasons"].items())),
            "</figure>",
            "<figure><figcaption>duplicate cluster sizes (documents per story: clusters)"
            "</figcaption>",
            _columns(size_bins(prof["cluster_sizes"])),
            "</figure>",
            "<figure><figcaption>languages of published articles</figcaption>",
            _hbars([(k, int(v)) for k, v in prof["languages"].items()]),
            "</figure>",
            "<figure><figcaption>text length of published articles (characters, bins from)"
            "</figcaption>",
            _columns(lengths),
            "</figure>",
            "</div>",
        ]
    rows = expectation_rows(latest)
    counts = Counter(r["status"] for r in rows)
    parts += [
        f"<h2>Checks: {counts['pass']} pass, {counts['warn']} warn, {counts['fail']} fail</h2>",
        _html_table(
            rows,
            [*CHECK_COLUMNS, "set aside"],
            status="status",
        ),
        "<h2>Last runs</h2>",
        _html_table(
            [run_line(r) for r in reversed(records)],
            [*RUN_COLUMNS, "checks"],
        ),
    ]
    if latest.get("docs"):
        parts.append(f'<p class="muted">GX Data Docs: {_esc(latest["docs"])}</p>')
    return _page(f"wiredesk night {latest['run_date']}", "\n".join(parts))


def _page(title: str, body: str) -> str:
    # The empty data: icon stops the browser from asking for /favicon.ico.
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<link rel="icon" href="data:,"><title>{_esc(title)}</title>'
        f"<style>{_CSS}</style></head><body>\n{body}\n</body></html>\n"
    )


def last_runs(records: list[dict[str, Any]], n: int) -> list[dict[str, Any]]:
    """The `n` most recent records, oldest first (ordered by start time, then run id)."""
    ordered = sorted(records, key=lambda r: (str(r.get("started_at", "")), r.get("run_id", "")))
    return ordered[-n:] if n > 0 else ordered


# --------------------------------------------------------------------------- Prefect task


# NO_CACHE: reads the tables this run just published.
@task(name="profile", cache_policy=NO_CACHE)
def profile_task(layout: io.Layout) -> dict[str, Any]:
    return profile(
        io.read_table(layout.curated("articles"), columns=["text_length", "lang", "cluster_id"]),
        io.read_table(layout.curated("duplicates"), columns=["cluster_id"]),
        io.read_table(layout.quarantine, columns=["stage", "reason"]),
    )


def write_report(data_dir: Path, out: Path | None, runs: int) -> tuple[str, Path]:
    """Read the run records under `data_dir`, write the HTML report; (terminal text, path)."""
    records = last_runs(io.read_run_records(data_dir / "runs"), runs)
    path = out or io.Layout(data_dir, "").docs / "report.html"
    io.write_text(path, render_html(records))
    return terminal_summary(records), path
