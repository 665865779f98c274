"""Report: run records -> what a person reads (terminal summary, Prefect artifacts, HTML report).

Input: run records (`runs/<run_id>.json`, written by the flow; a night may have several runs)
and, for a night's profile, the published tables of that night. Output: rows for the per-stage
table (in, kept, set aside by the stage and by the checks, top reasons), a markdown summary with
pass/warn/fail per expectation (failures first), the night's profile (text lengths, languages,
duplicate cluster sizes, quarantine reasons), the history of nights (one line per night, from
its latest run: documents in, articles, duplicates, quarantined, checks), a plain-text summary
and one self-contained HTML page (inline SVG and CSS, no script, nothing fetched) with that
history as a plot and tables, then one night's funnel, stages, checks and profile. Quarantines
nothing. Pure except the Prefect task at the bottom, which reads a night's tables through `io`,
and `write_report`, which reads the run records and writes the page through `io`.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

from tasks import htmlpage, io
from tasks.htmlpage import esc

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
    """Every expectation of every validated dataset with its status: failures first, then
    warnings, then passes (datasets in stage order within each)."""
    rows = []
    for dataset, report in record["validations"].items():
        for o in report["outcomes"]:
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
    return sorted(rows, key=lambda r: _ORDER.get(r["status"], 3))


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
        f"{plural(inv['input'], 'input document')} = {plural(inv['articles'], 'article')} + "
        f"{plural(inv['duplicates'], 'duplicate')} + {inv['quarantined']} quarantined"
    )


def plural(count: Any, word: str, many: str | None = None) -> str:
    """`1 article`, `2 articles`, `0 articles` (`many` for words that do not take an s)."""
    return f"{count} {word if count == 1 else (many or word + 's')}"


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


# --------------------------------------------------------------------------- nights

# One line per night, from the night's latest run; pass/warn/fail count its checks.
NIGHT_COLUMNS = [
    "night",
    "runs",
    "status",
    "input",
    "articles",
    "duplicates",
    "quarantined",
    "pass",
    "warn",
    "fail",
]
UNKNOWN = "-"  # a count the run never got to (a failed night publishes nothing)


def last_runs(records: list[dict[str, Any]], n: int) -> list[dict[str, Any]]:
    """The `n` most recent records, oldest first (ordered by start time, then run id)."""
    ordered = sorted(records, key=lambda r: (str(r.get("started_at", "")), r.get("run_id", "")))
    return ordered[-n:] if n > 0 else ordered


def by_night(records: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """The runs of each night, nights oldest first, each night's runs oldest first."""
    nights: dict[str, list[dict[str, Any]]] = {}
    for record in last_runs(records, 0):
        nights.setdefault(str(record["run_date"]), []).append(record)
    return dict(sorted(nights.items()))


def pick_night(nights: dict[str, list[dict[str, Any]]], night: str | None) -> str:
    """`night` if it has runs, else a ValueError naming the nights that do; None: the latest."""
    if night is None:
        if nights:
            return next(reversed(nights))
        raise ValueError("no runs recorded yet")
    if night not in nights:
        known = ", ".join(nights) if nights else "none, no runs recorded yet"
        raise ValueError(f"no run recorded for night {night}; nights with runs: {known}")
    return night


def run_line(record: dict[str, Any]) -> dict[str, Any]:
    inv = record.get("invariant") or {}
    statuses = Counter(r["status"] for r in expectation_rows(record))
    first_input = (record["stages"].get("ingest") or {}).get("rows_in", UNKNOWN)
    return {
        "run": record["run_id"],
        "night": record["run_date"],
        "status": record["status"],
        "input": inv.get("input", first_input),
        "articles": inv.get("articles", UNKNOWN),
        "duplicates": inv.get("duplicates", UNKNOWN),
        "quarantined": inv.get("quarantined", UNKNOWN),
        "checks": f"{statuses['pass']}/{statuses['warn']}/{statuses['fail']}",
        "pass": statuses["pass"],
        "warn": statuses["warn"],
        "fail": statuses["fail"],
    }


def night_line(night: str, runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The history line of one night: its latest run's counts and how many runs it had."""
    line = run_line(runs[-1])
    row = {c: line[c] for c in NIGHT_COLUMNS[2:]}
    return {"night": night, "runs": len(runs), **row, "run": line["run"]}


def night_rows(records: list[dict[str, Any]], n: int = 0) -> list[dict[str, Any]]:
    """The history lines of the `n` most recent nights (every night when `n` <= 0), oldest
    first."""
    items = list(by_night(records).items())
    if n > 0:
        items = items[-n:]
    return [night_line(night, runs) for night, runs in items]


def _history_title(rows: list[dict[str, Any]], total: int) -> str:
    span = rows[0]["night"] if len(rows) == 1 else f"{rows[0]['night']} to {rows[-1]['night']}"
    if len(rows) < total:
        return f"the last {len(rows)} of {total} nights, {span}"
    return f"{plural(len(rows), 'night')}, {span}"


def _status_counts(rows: list[dict[str, Any]]) -> str:
    counts = Counter(str(r["status"]) for r in rows)
    return ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))


# --------------------------------------------------------------------------- terminal


def _table(rows: list[dict[str, Any]], headers: list[str]) -> list[str]:
    widths = {h: max([len(h)] + [len(str(r.get(h, ""))) for r in rows]) for h in headers}
    out = ["  ".join(h.ljust(widths[h]) for h in headers).rstrip()]
    for r in rows:
        out.append("  ".join(str(r.get(h, "")).ljust(widths[h]) for h in headers).rstrip())
    return out


def terminal_summary(
    records: list[dict[str, Any]], night: str | None = None, nights: int = 0
) -> str:
    """The history of the last `nights` nights (one line each, oldest first), then the chosen
    night's (default: the latest) stages and its checks that did not pass, failures first."""
    grouped = by_night(records)
    if not grouped and night is None:
        return "no runs recorded yet"
    chosen = pick_night(grouped, night)
    rows = night_rows(records, nights)
    lines = [
        f"wiredesk: {_history_title(rows, len(grouped))} "
        "(latest run of each; checks: pass/warn/fail)"
    ]
    lines += _table(rows, NIGHT_COLUMNS)
    runs = grouped[chosen]
    latest = runs[-1]
    head = f"night {chosen}: {latest['status']}, run {latest['run_id']}"
    if len(runs) > 1:
        head += f" (the latest of {plural(len(runs), 'run')})"
    lines += ["", head]
    inv = latest.get("invariant")
    if inv:
        lines.append(f"{_accounting(inv)} ({'holds' if inv['holds'] else 'BROKEN'})")
    stages = stage_rows(latest)
    lines += _table(stages, [*STAGE_COLUMNS, "top reasons"]) if stages else ["no stage ran"]
    checks = expectation_rows(latest)
    counts = Counter(r["status"] for r in checks)
    lines += ["", f"checks: {counts['fail']} fail, {counts['warn']} warn, {counts['pass']} pass"]
    bad = [r for r in checks if r["status"] != "pass"]
    if bad:
        lines += _table(bad, ["dataset", "status", "expectation", "observed", "set aside"])
    if counts["pass"]:
        lines.append(f"{plural(counts['pass'], 'check')} passed (not listed)")
    if latest.get("error"):
        lines += ["", f"error: {latest['error']}"]
    return "\n".join(lines)


# --------------------------------------------------------------------------- HTML

_CSS = htmlpage.base_css(max_width=1100, h3_margin="1.25rem") + (
    """.pass,.completed{color:#1b7a3a}.warn{color:#a86400;font-weight:600}
.fail,.failed{color:#b3261e;font-weight:700}.skipped{color:#5d6b78}
tr.chosen td{background:#fff6d5}code{white-space:nowrap}
.grid{display:flex;flex-wrap:wrap;gap:1.5rem}
figure{margin:0}.grid figure{width:520px}figcaption{font-weight:600;margin-bottom:.25rem}
svg text{font-size:12px}
svg{max-width:100%;height:auto}
.muted{color:#5d6b78}
.legend{margin:.25rem 0;font-size:13px}
.key{display:inline-block;width:.9em;height:.9em;margin:0 .3em 0 1em;vertical-align:-.1em;
border:1px solid #8a99a8}
.key:first-child{margin-left:0}.k-articles{background:#3b6ea5}.k-duplicates{background:#c7d5e6}
.k-quarantined{background:#d9822b}
.k-failed{background:repeating-linear-gradient(45deg,#fbe3e0 0 3px,#b3261e 3px 5px)}
details{margin:.5rem 0}summary{cursor:pointer;color:#1b7a3a;font-weight:600}
"""
)

BAR = "#3b6ea5"
SHADE = "#c7d5e6"
QUARANTINED = "#d9822b"
FAILED = "#b3261e"
CHOSEN = "#fff6d5"
GRID = "#e3e8ee"
# Stacked from the bottom: what a night published, what it folded into clusters, what it set aside.
LAYERS = (("articles", BAR), ("duplicates", SHADE), ("quarantined", QUARANTINED))


def _hbars(
    items: list[tuple[str, int]],
    *,
    width: int = 520,
    label_width: int = 220,
    empty: str = "nothing to show",
) -> str:
    """Horizontal bar chart as inline SVG (one bar per item, value printed at its end)."""
    if not items:
        return f'<p class="muted">{esc(empty)}</p>'
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
            f'<text x="{label_width - 6}" y="{y + 15}" text-anchor="end">{esc(label)}</text>'
            f'<rect x="{label_width}" y="{y + 3}" width="{w:.1f}" height="{row - 6}" '
            f'fill="{BAR}"><title>{esc(label)}: {value}</title></rect>'
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
            drop = f" (+{plural(previous - value, 'duplicate')})" if previous > value else ""
        parts.append(
            f'<text x="150" y="{y + 19}" text-anchor="end">{esc(label)}</text>'
            f'<rect x="{centre - w / 2:.1f}" y="{y + 3}" width="{w:.1f}" height="{row - 6}" '
            f'fill="{BAR if i else SHADE}"><title>{esc(label)}: {value}</title></rect>'
            f'<text x="{width - 210}" y="{y + 19}">{value}{esc(drop)}</text>'
        )
        previous = value
    parts.append("</svg>")
    return "".join(parts)


def _columns(
    items: list[tuple[str, int]], *, width: int = 520, height: int = 200, empty: str = "nothing"
) -> str:
    """Vertical bars (a histogram) as inline SVG, labels under the bars."""
    if not items or not any(v for _, v in items):
        return f'<p class="muted">{esc(empty)}</p>'
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
            f'height="{h:.1f}" fill="{BAR}"><title>{esc(label)}: {value}</title></rect>'
            f'<text x="{x + step / 2:.1f}" y="{12 + plot - h:.1f}" text-anchor="middle">'
            f"{value if value else ''}</text>"
            f'<text x="{x + step / 2:.1f}" y="{height - 10}" text-anchor="middle">'
            f"{esc(label)}</text>"
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


def _ticks(peak: int) -> list[int]:
    """Axis values from 0 past `peak` in steps of 1, 2 or 5 times a power of ten (4-8 ticks)."""
    raw = max(peak, 1) / 4
    step = 1
    while step < raw:
        for factor in (2, 5, 10):
            if step * factor >= raw:
                step *= factor
                break
        else:
            step *= 10
    top = -(-max(peak, 1) // step) * step
    return list(range(0, top + 1, step))


def _compact(value: int) -> str:
    """`950`, `1.5k`, `15k`, `1.2M`: a total that fits above a narrow bar (exact in its title)."""
    for size, suffix in ((1_000_000, "M"), (1_000, "k")):
        if value >= size:
            text = f"{value / size:.1f}" if value < 10 * size else f"{value // size}"
            return text.removesuffix(".0") + suffix
    return str(value)


def _label_indices(n: int, every: int, chosen: int | None) -> set[int]:
    """Which nights get a date under their bar: every `every`-th counted back from the latest,
    and the chosen night, whose neighbours then give way so that no two dates overlap."""
    shown = set(range(n - 1, -1, -every))
    if chosen is not None and chosen not in shown:
        shown = {i for i in shown if abs(i - chosen) >= every} | {chosen}
    return shown


# Widest slot of one night: a few nights make a compact plot, not bars spread over the page.
NIGHT_SLOT = 110
# The history plot's height and margins (px): the axis values on the left, a night's total above
# its bar, its date and the failed mark below.
PLOT_HEIGHT = 280
PLOT_LEFT, PLOT_RIGHT, PLOT_TOP, PLOT_BOTTOM = 56, 8, 22, 46
PLOT_AREA = PLOT_HEIGHT - PLOT_TOP - PLOT_BOTTOM
BASELINE = PLOT_TOP + PLOT_AREA


@dataclass(frozen=True)
class _Slots:
    """How the nights fit across the history plot: `step` px each, bars `bar` px wide,
    `scale` px per document, axis values `ticks`, the whole plot `width` px wide."""

    width: int
    step: float
    bar: float
    ticks: list[int]
    scale: float


def _count(value: Any) -> int | None:
    """A count of a history line, None for one the run never got to (`UNKNOWN`)."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _night_total(row: dict[str, Any]) -> int:
    """The height of a night's bar: its documents in, or the sum of its layers if larger."""
    return max(_count(row["input"]) or 0, sum(_count(row[k]) or 0 for k, _ in LAYERS))


def _slots(nights: int, peak: int, max_width: int) -> _Slots:
    """Slots for `nights` nights within `max_width` px, an axis from 0 past `peak`."""
    step = min(float(NIGHT_SLOT), (max_width - PLOT_LEFT - PLOT_RIGHT) / nights)
    ticks = _ticks(peak)
    return _Slots(
        width=round(PLOT_LEFT + step * nights + PLOT_RIGHT),
        step=step,
        bar=min(56.0, step * 0.66),
        ticks=ticks,
        scale=PLOT_AREA / ticks[-1],
    )


def _dated(rows: list[dict[str, Any]], chosen: str, step: float) -> tuple[set[int], bool]:
    """Which nights get a date under their bar, and whether dates go without their year."""
    # Dates need about 80 px ("2026-03-14"), or 40 px without the year when all share one.
    short = len({r["night"][:4] for r in rows}) == 1 and step < 80
    nights = [r["night"] for r in rows]
    dated = _label_indices(
        len(rows),
        math.ceil((40 if short else 80) / step),
        nights.index(chosen) if chosen in nights else None,
    )
    return dated, short


def _plot_open(slots: _Slots) -> str:
    """The plot's `<svg>` with its title and the hatching of failed nights, then the axis
    values, each with its grid line."""
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{slots.width}" height="{PLOT_HEIGHT}" '
        f'role="img" viewBox="0 0 {slots.width} {PLOT_HEIGHT}" class="history">'
        "<title>documents per night: articles, duplicates, quarantined</title>"
        '<defs><pattern id="failed-hatch" width="6" height="6" patternUnits="userSpaceOnUse" '
        'patternTransform="rotate(45)"><rect width="6" height="6" fill="#fbe3e0"/>'
        f'<line x1="0" y1="0" x2="0" y2="6" stroke="{FAILED}" stroke-width="2"/></pattern></defs>'
    ]
    for value in slots.ticks:
        y = BASELINE - value * slots.scale
        parts.append(
            f'<line x1="{PLOT_LEFT}" y1="{y:.1f}" x2="{slots.width - PLOT_RIGHT}" y2="{y:.1f}" '
            f'stroke="{GRID}"/><text x="{PLOT_LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">'
            f"{value:,}</text>"
        )
    return "".join(parts)


def _night_bar(row: dict[str, Any], total: int, x: float, slots: _Slots) -> list[str]:
    """A night's bar from `x`: its layers stacked up from the baseline, or a dashed outline of
    its input when it failed (hatched) or recorded no published counts."""
    night = esc(row["night"])
    failed = row["status"] == "failed"
    layers = [(k, colour, _count(row[k])) for k, colour in LAYERS]
    if failed or any(v is None for _, _, v in layers):
        h = max(1.0, total * slots.scale) if total else 0.0
        fill = "url(#failed-hatch)" if failed else "none"
        return [
            f'<rect x="{x:.1f}" y="{BASELINE - h:.1f}" width="{slots.bar:.1f}" height="{h:.1f}" '
            f'fill="{fill}" stroke="{FAILED if failed else BAR}" stroke-dasharray="4 2">'
            f"<title>{night}: {esc(row['status'])}, {plural(total, 'document')} in, "
            f"{'nothing published' if failed else 'no published counts recorded'}"
            "</title></rect>"
        ]
    parts = []
    y = float(BASELINE)
    for key, colour, count in layers:
        if not count:
            continue
        h = max(1.0, count * slots.scale)
        y -= h
        parts.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{slots.bar:.1f}" height="{h:.1f}" '
            f'fill="{colour}"><title>{night}: {count} {key}</title></rect>'
        )
    return parts


def _night_texts(
    row: dict[str, Any], total: int, centre: float, slots: _Slots, *, date: str | None, bold: bool
) -> list[str]:
    """What is written at a night's slot (centred on `centre`): its total above the bar when it
    fits, its `date` below (None: no date; `bold` for the chosen night), and the failed mark."""
    parts = []
    label = f"{total:,}" if slots.step >= 7 * len(f"{total:,}") + 6 else _compact(total)
    if slots.step >= 7 * len(label) + 6:
        y_text = BASELINE - total * slots.scale - 4
        parts.append(f'<text x="{centre:.1f}" y="{y_text:.1f}" text-anchor="middle">{label}</text>')
    if date is not None:
        weight = ' font-weight="700"' if bold else ""
        parts.append(
            f'<text x="{centre:.1f}" y="{BASELINE + 16}" text-anchor="middle"{weight}>'
            f"{esc(date)}</text>"
        )
    if row["status"] == "failed":
        # "failed" needs about 44 px; narrower nights get a cross (the legend says hatched).
        mark = "failed" if slots.step >= 46 else "✕"
        parts.append(
            f'<text x="{centre:.1f}" y="{BASELINE + 32}" text-anchor="middle" '
            f'fill="{FAILED}" font-weight="700">{mark}</text>'
        )
    return parts


def _history_plot(rows: list[dict[str, Any]], chosen: str, *, max_width: int = 1000) -> str:
    """Documents in per night as stacked bars (articles, duplicates, quarantined), the night's
    total above; a failed night is a hatched outline of its input, marked under its date."""
    # 1. the frame: slots that fit `max_width`, an axis past the biggest night, the dates shown
    totals = [_night_total(r) for r in rows]
    slots = _slots(len(rows), max(totals, default=0), max_width)
    dated, short = _dated(rows, chosen, slots.step)
    parts = [_plot_open(slots)]
    # 2. each night: the chosen one shaded, then its bar, its total, its date, its failed mark
    for i, (row, total) in enumerate(zip(rows, totals, strict=True)):
        x0 = PLOT_LEFT + i * slots.step
        if row["night"] == chosen and len(rows) > 1:
            parts.append(
                f'<rect x="{x0:.1f}" y="{PLOT_TOP}" width="{slots.step:.1f}" '
                f'height="{PLOT_AREA}" fill="{CHOSEN}"/>'
            )
        parts += _night_bar(row, total, x0 + (slots.step - slots.bar) / 2, slots)
        date = (row["night"][5:] if short else row["night"]) if i in dated else None
        centre = x0 + slots.step / 2
        parts += _night_texts(row, total, centre, slots, date=date, bold=row["night"] == chosen)
    # 3. the baseline
    parts.append(
        f'<line x1="{PLOT_LEFT}" y1="{BASELINE}" x2="{slots.width - PLOT_RIGHT}" '
        f'y2="{BASELINE}" stroke="#8a99a8"/></svg>'
    )
    return "".join(parts)


def _legend(failed: bool) -> str:
    keys = [(k, k) for k, _ in LAYERS]
    if failed:
        keys.append(("failed", "failed night: documents in, nothing published"))
    return (
        '<p class="legend">'
        + "".join(f'<span class="key k-{k}"></span>{esc(text)} ' for k, text in keys)
        + "</p>"
    )


def _html_table(
    rows: list[dict[str, Any]],
    headers: list[str],
    status: str = "",
    *,
    chosen: str | None = None,
) -> str:
    """A table; the `status` column's cells take their value as class (pass, failed, ...), the
    fail and warn counts are coloured when not 0, and the rows of night `chosen` are marked."""
    out = ["<table><tr>", *(f"<th>{esc(h)}</th>" for h in headers), "</tr>"]
    for r in rows:
        attrs = f' title="{esc(r["why"])}"' if r.get("why") else ""
        if chosen is not None and r.get("night") == chosen:
            attrs += ' class="chosen"'
        out.append(f"<tr{attrs}>")
        for h in headers:
            cls = ""
            if h == status:
                cls = f' class="{esc(r[h])}"'
            elif h in ("fail", "warn") and isinstance(r.get(h), int) and r[h]:
                cls = f' class="{h}"'
            out.append(f"<td{cls}>{esc(r.get(h, ''))}</td>")
        out.append("</tr>")
    out.append("</table>")
    return "".join(out)


def _checks_html(record: dict[str, Any]) -> list[str]:
    rows = expectation_rows(record)
    counts = Counter(r["status"] for r in rows)
    headers = [*CHECK_COLUMNS, "set aside"]
    parts = [
        f"<h3>Checks: {counts['fail']} fail, {counts['warn']} warn, {counts['pass']} pass</h3>"
    ]
    bad = [r for r in rows if r["status"] != "pass"]
    passed = [r for r in rows if r["status"] == "pass"]
    if bad:
        parts.append(_html_table(bad, headers, status="status"))
    elif rows:
        parts.append('<p class="pass">No check failed or warned.</p>')
    else:
        parts.append('<p class="muted">No check ran.</p>')
    if passed:
        parts += [
            f"<details><summary>{plural(len(passed), 'check')} passed</summary>",
            _html_table(passed, headers, status="status"),
            "</details>",
        ]
    return parts


def _profile_html(night: str, runs: list[dict[str, Any]]) -> list[str]:
    latest = runs[-1]
    profiled = next((r for r in reversed(runs) if r.get("profile")), None)
    if profiled is None:
        return [
            f"<h3>Published profile of night {esc(night)}</h3>",
            f"<p>Night {esc(night)} has no published profile: no run of this night recorded "
            f"one ({plural(len(runs), 'run')}, the latest {esc(latest['status'])}).</p>",
        ]
    note = (
        ""
        if profiled is latest
        else f' <span class="muted">(recorded by run {esc(profiled["run_id"])}, an earlier '
        f"run of this night; the latest run, {esc(latest['run_id'])}, "
        f"{esc(latest['status'])} without one)</span>"
    )
    prof = profiled["profile"]
    lengths = [(_length_label(b["from"]), int(b["count"])) for b in prof["text_length_bins"]]
    return [
        f"<h3>Published profile of night {esc(night)}{note}</h3>",
        '<div class="grid">',
        "<figure><figcaption>quarantine reasons (stage: reason)</figcaption>",
        _hbars(list(prof["quarantine_reasons"].items()), empty="no document was quarantined"),
        "</figure>",
        "<figure><figcaption>duplicate cluster sizes (documents per story: clusters)</figcaption>",
        _columns(size_bins(prof["cluster_sizes"]), empty="no article was published"),
        "</figure>",
        "<figure><figcaption>languages of published articles</figcaption>",
        _hbars(
            [(k, int(v)) for k, v in prof["languages"].items()], empty="no article was published"
        ),
        "</figure>",
        "<figure><figcaption>text length of published articles (characters, bins from)"
        "</figcaption>",
        _columns(lengths, empty="no article was published"),
        "</figure>",
        "</div>",
    ]


def render_html(records: list[dict[str, Any]], night: str | None = None, nights: int = 0) -> str:
    """One self-contained page: the history of the last `nights` nights (plot and table), the
    chosen night's (default: the latest) funnel, stages, checks and profile, then every run."""
    grouped = by_night(records)
    if not grouped and night is None:
        body = "<h1>wiredesk</h1><p>No runs recorded yet.</p>"
        return htmlpage.page("wiredesk report", body, _CSS)
    chosen = pick_night(grouped, night)
    rows = night_rows(records, nights)
    shown = {r["night"] for r in rows}
    runs = grouped[chosen]
    latest = runs[-1]
    which = "the latest night" if chosen == rows[-1]["night"] else "picked with --night"
    parts = [
        f"<h1>wiredesk: {esc(_history_title(rows, len(grouped)))}</h1>",
        f"<p>Latest run of each night: {esc(_status_counts(rows))}. Below the history: night "
        f"{esc(chosen)} ({which}); <code>wiredesk report --night YYYY-MM-DD</code> shows "
        "another.</p>",
        "<h2>History of nights</h2>",
        "<figure><figcaption>documents in per night (latest run of each night)</figcaption>",
        _legend(any(r["status"] == "failed" for r in rows)),
        _history_plot(rows, chosen),
        "</figure>",
        _html_table(rows, NIGHT_COLUMNS, status="status", chosen=chosen),
    ]
    if chosen not in shown:
        parts.append(f'<p class="muted">Night {esc(chosen)} is older than the nights shown.</p>')
    state = "pass" if latest["status"] == "completed" else latest["status"]
    several = (
        f"; the latest of {plural(len(runs), 'run')} of this night (all under Runs)"
        if len(runs) > 1
        else ""
    )
    parts += [
        f'<h2>Night {esc(chosen)}: <span class="{esc(state)}">{esc(latest["status"])}</span></h2>',
        f'<p class="muted">run {esc(latest["run_id"])}, started {esc(latest["started_at"])}'
        f"{esc(several)}</p>",
    ]
    if latest.get("error"):
        parts.append(f'<p class="fail">{esc(latest["error"])}</p>')
    inv = latest.get("invariant")
    if inv:
        holds = "holds" if inv["holds"] else "BROKEN"
        parts.append(f"<p>{esc(_accounting(inv))} ({holds})</p>")
    parts += [
        "<h3>Documents per stage</h3>",
        _funnel(funnel_steps(latest)),
        _html_table(
            stage_rows(latest),
            [*STAGE_COLUMNS, "seconds", "top reasons"],
            status="checks",
        ),
        *_checks_html(latest),
        *_profile_html(chosen, runs),
    ]
    if latest.get("docs"):
        parts.append(f'<p class="muted">GX Data Docs: {esc(latest["docs"])}</p>')
    listed = [
        r for n, night_runs in grouped.items() if n in shown or n == chosen for r in night_runs
    ]
    parts += [
        f"<h2>Runs ({plural(len(listed), 'run')} of these nights, newest first)</h2>",
        _html_table(
            [run_line(r) for r in reversed(last_runs(listed, 0))],
            [*RUN_COLUMNS, "checks"],
            status="status",
            chosen=chosen,
        ),
    ]
    return htmlpage.page(f"wiredesk night {chosen}", "\n".join(parts), _CSS)


def write_report(
    data_dir: Path, out: Path | None, runs: int, night: str | None = None
) -> tuple[str, Path]:
    """Read the run records under `data_dir` and write the HTML report of the last `runs`
    nights (every night when `runs` <= 0) with the details of `night` (default: the latest);
    returns (terminal text, path). A night with no recorded run raises ValueError (nothing
    written) with the nights that have runs."""
    records = io.read_run_records(data_dir / "runs")
    if night is not None:
        pick_night(by_night(records), night)
    path = out or io.Layout(data_dir, "").docs / "report.html"
    io.write_text(path, render_html(records, night, runs))
    return terminal_summary(records, night, runs), path
