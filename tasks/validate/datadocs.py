"""Data Docs: wiredesk's own static pages of every stored validation result.

Input: the run records (`runs/<run_id>.json`), the validation results GX stored beside them
(`runs/validations/<suite>/<run_id>/<run_time>/<dataset>.json`, see `tasks.validate.suites`) and the
suite files (`expectations/<suite>.json`). Output: HTML under `docs/`: `index.html` (every run,
newest first, named by its run id, night and status, with its validations: pass/warn/fail counts
by wiredesk's severity, rows, links), one page per stored result
(`validations/<suite>/<run_id>/<run_time>/<dataset>.html`: every expectation with its status,
severity, observed value, unexpected count and why, under the run id it was stored with) and one
per suite (`expectations/<suite>.html`: every expectation with its kwargs, severity and why).
Every page stands alone offline: inline CSS, no script, nothing loaded from another host, every
link relative and to a page that is written, every value HTML-escaped (results quote scraped
text). Quarantines nothing. Pure except `build_site`, which reads and writes through `io`; Great
Expectations is not imported: the stored JSON says everything, and importing GX takes seconds.
"""

from __future__ import annotations

import html
import json
import posixpath
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path, PurePath
from typing import Any
from urllib.parse import quote

from tasks import io

INDEX = "index.html"
BACK = "\u2190 all runs"
STATUSES = ("pass", "warn", "fail")

# A value shown in a cell is cut to this many characters: a suite's column list fits, a page of
# scraped text does not belong in a table.
OBSERVED_CHARS = 400
# GX keeps up to 20 unexpected values per expectation; a few say what went wrong.
SAMPLE_VALUES = 5
SAMPLE_CHARS = 120

_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")

_CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:1200px;color:#1d2733;
padding:0 1rem}
h1{font-size:1.5rem}h2{font-size:1.15rem;margin-top:2rem;border-bottom:1px solid #d5dbe1}
h3{font-size:1rem;margin:1.5rem 0 .25rem}
table{border-collapse:collapse;margin:.5rem 0;font-size:13px}
td,th{border:1px solid #d5dbe1;padding:.25rem .5rem;text-align:left;vertical-align:top}
th{background:#eef2f6}td.n{text-align:right;font-variant-numeric:tabular-nums}
code{font:12px/1.4 ui-monospace,monospace;white-space:pre-wrap;overflow-wrap:anywhere}
table.wide{width:100%}table.wide td:nth-child(2){min-width:16rem;max-width:24rem}
.pass,.completed{color:#1b7a3a}.warn,.running{color:#a86400;font-weight:600}
.fail,.failed{color:#b3261e;font-weight:700}.empty,.skipped,.muted{color:#5d6b78}
nav{margin-bottom:1rem}nav a{margin-right:1rem}dl{display:grid;grid-template-columns:max-content
auto;gap:.15rem 1rem}dt{font-weight:600}dd{margin:0}section{margin-bottom:1.5rem}
"""


# --------------------------------------------------------------------------- stored results


@dataclass(frozen=True)
class StoredResult:
    """One GX validation result as stored: its key under `runs/validations` and its JSON."""

    key: str  # "<suite>/<run_id>/<run_time>/<dataset>.json"
    data: dict[str, Any] = field(repr=False)

    @property
    def suite(self) -> str:
        return self.key.split("/")[0]

    @property
    def run_name(self) -> str:
        return self.key.split("/")[1]

    @property
    def run_time(self) -> str:
        return self.key.split("/")[2]

    @property
    def dataset(self) -> str:
        return self.key.split("/")[3].removesuffix(".json")

    @property
    def page(self) -> str:
        return f"validations/{self.key.removesuffix('.json')}.html"


def result_key(path: str) -> str | None:
    """The key of a stored result from its path (`result_path` of a run record), or None."""
    parts = PurePath(path).parts
    return "/".join(parts[-4:]) if len(parts) >= 4 and path.endswith(".json") else None


@dataclass(frozen=True)
class Check:
    """One expectation of one result, as a page shows it."""

    label: str
    status: str
    severity: str
    observed: Any = None
    unexpected: str = ""
    sample: tuple[Any, ...] = ()
    why: str = ""
    quarantine: str = ""
    kwargs: dict[str, Any] = field(default_factory=dict)
    by_gx: bool = True


def status_of(success: bool, severity: str) -> str:
    """wiredesk's status: a failed `critical` fails the night, any other failure warns."""
    if success:
        return "pass"
    return "fail" if severity == "critical" else "warn"


def overall(statuses: Iterable[str]) -> str:
    seen = set(statuses)
    return next((s for s in ("fail", "warn", "pass") if s in seen), "empty")


def _label(kind: str, kwargs: dict[str, Any]) -> str:
    column = kwargs.get("column") or kwargs.get("column_list")
    return f"{kind}({column})" if column else kind


def _unexpected(result: dict[str, Any]) -> str:
    count = result.get("unexpected_count")
    if count is None:
        return ""
    share = result.get("unexpected_percent")
    return f"{count} ({share:.1f} %)" if isinstance(share, int | float) and count else str(count)


def result_checks(result: StoredResult, report: dict[str, Any] | None = None) -> list[Check]:
    """The checks of a stored result in suite order, after the ones wiredesk ran itself (the
    Arrow schema check) that the run record's `report` lists and GX's result does not."""
    checks: list[Check] = []
    for item in result.data.get("results") or []:
        config = item.get("expectation_config") or {}
        meta = config.get("meta") or {}
        res = item.get("result") or {}
        kind = str(config.get("type") or config.get("expectation_type") or "expectation")
        kwargs = {k: v for k, v in (config.get("kwargs") or {}).items() if k != "batch_id"}
        severity = str(config.get("severity") or "critical")
        checks.append(
            Check(
                label=str(meta.get("label") or _label(kind, kwargs)),
                status=status_of(bool(item.get("success")), severity),
                severity=severity,
                observed=res.get("observed_value"),
                unexpected=_unexpected(res),
                sample=tuple((res.get("partial_unexpected_list") or [])[:SAMPLE_VALUES]),
                why=str(meta.get("why") or ""),
                quarantine=str(meta.get("quarantine") or ""),
                kwargs=kwargs,
            )
        )
    by_gx = {c.label for c in checks}
    own = [
        Check(
            label=str(o.get("expectation")),
            status=outcome_status(o),
            severity=str(o.get("severity") or "critical"),
            observed=o.get("observed"),
            unexpected="" if o.get("unexpected_count") is None else str(o["unexpected_count"]),
            why=str(o.get("why") or ""),
            quarantine=str(o.get("quarantine") or ""),
            by_gx=False,
        )
        for o in (report or {}).get("outcomes") or []
        if o.get("expectation") not in by_gx
    ]
    return own + checks


def outcome_status(outcome: dict[str, Any]) -> str:
    """The status of one outcome of a run record (older records may lack the field)."""
    status = outcome.get("status")
    if status in STATUSES:
        return str(status)
    return status_of(bool(outcome.get("success")), str(outcome.get("severity") or "critical"))


# --------------------------------------------------------------------------- HTML helpers


def _esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _show(value: Any, width: int = OBSERVED_CHARS) -> str:
    """A value as short escaped text (JSON for lists and dicts)."""
    if value is None:
        return ""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return _esc(text if len(text) <= width else text[: width - 1] + "\u2026")


def _kwargs(kwargs: dict[str, Any]) -> str:
    """Keyword arguments one per line, `name: value` (values as JSON)."""
    return "<br>".join(
        f"<code>{_esc(k)}: {_show(v)}</code>" for k, v in kwargs.items() if k != "batch_id"
    )


def _href(src: str, dst: str, fragment: str = "") -> str:
    """A relative, URL-quoted, escaped link from page `src` to page `dst` (both under docs/)."""
    rel = posixpath.relpath(dst, posixpath.dirname(src) or ".")
    return _esc(quote(rel) + (f"#{quote(fragment)}" if fragment else ""))


def _link(src: str, dst: str, text: str, fragment: str = "") -> str:
    return f'<a href="{_href(src, dst, fragment)}">{_esc(text)}</a>'


def safe_name(name: str) -> str:
    """A file name for `name`: letters, digits, `_`, `.`, `-` only, never hidden."""
    return _UNSAFE.sub("_", name).lstrip(".") or "_"


def suite_page(suite: str) -> str:
    return f"expectations/{safe_name(suite)}.html"


def run_anchor(run_id: str) -> str:
    return f"run-{safe_name(run_id)}"


def _run_time(value: str) -> str:
    try:
        return datetime.strptime(value, "%Y%m%dT%H%M%S.%fZ").strftime("%Y-%m-%d %H:%M:%S UTC")
    except ValueError:
        return value


def _badge(status: Any) -> str:
    return f'<span class="{_esc(status)}">{_esc(status)}</span>'


def _page(title: str, body: str, here: str) -> str:
    # The empty data: icon stops the browser from asking for /favicon.ico.
    nav = "" if here == INDEX else f"<nav>{_link(here, INDEX, BACK)}</nav>"
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<link rel="icon" href="data:,"><title>{_esc(title)}</title>'
        f"<style>{_CSS}</style></head><body>\n{nav}{body}\n</body></html>\n"
    )


def _counts_cells(statuses: Iterable[str]) -> str:
    counts = Counter(statuses)
    return "".join(
        f'<td class="n{" " + s if counts[s] and s != "pass" else ""}">{counts[s]}</td>'
        for s in STATUSES
    )


# --------------------------------------------------------------------------- pages


def _newest_first(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(
        records,
        key=lambda r: (str(r.get("started_at") or ""), str(r.get("run_id") or "")),
        reverse=True,
    )


def _uses(
    records: list[dict[str, Any]], results: dict[str, StoredResult]
) -> dict[str, list[tuple[dict[str, Any], dict[str, Any]]]]:
    """Result key -> (run record, its report of that dataset) of every run that lists it."""
    uses: dict[str, list[tuple[dict[str, Any], dict[str, Any]]]] = {}
    for record in _newest_first(records):
        for report in (record.get("validations") or {}).values():
            key = result_key(str(report.get("result_path") or ""))
            if key in results:
                uses.setdefault(key, []).append((record, report))
    return uses


def render_index(
    records: list[dict[str, Any]],
    results: dict[str, StoredResult],
    suites: list[str],
    unreadable: Iterable[str] = (),
) -> str:
    """Every run, newest first, with its validations; then the results no run record lists,
    and the stored results that could not be read."""
    here = INDEX
    listed = _uses(records, results)
    parts = [
        "<h1>wiredesk Data Docs</h1>",
        f'<p class="muted">{len(records)} runs, {len(results)} stored validation results. '
        "Counts use wiredesk's severity: <b>fail</b> is a failed critical expectation (it stops "
        "the night), <b>warn</b> a failed warning or info one.</p>",
        "<p>Suites: "
        + (", ".join(_link(here, suite_page(s), s) for s in suites) or "none")
        + "</p>",
    ]
    if not records:
        parts.append("<p>No runs recorded yet.</p>")
    for record in _newest_first(records):
        run_id = str(record.get("run_id"))
        parts += [
            f'<section id="{_esc(run_anchor(run_id))}">',
            f"<h2>Run {_esc(run_id)} \u00b7 night {_esc(record.get('run_date'))} \u00b7 "
            f"{_badge(record.get('status'))}</h2>",
        ]
        when = f"started {_esc(record.get('started_at') or '?')}"
        if record.get("finished_at"):
            when += f", finished {_esc(record['finished_at'])}"
        night_run = record.get("night_run_id")
        if night_run and night_run != run_id:
            when += f"; continues the night's run {_esc(night_run)}, whose id its results carry"
        parts.append(f'<p class="muted">{when}</p>')
        if record.get("error"):
            parts.append(f'<p class="fail">{_show(record["error"])}</p>')
        validations = record.get("validations") or {}
        if not validations:
            parts += ['<p class="muted">No validations in this run.</p>', "</section>"]
            continue
        parts.append(
            "<table><tr><th>dataset</th><th>suite</th><th>status</th><th>pass</th><th>warn</th>"
            "<th>fail</th><th>rows</th><th>set aside</th></tr>"
        )
        for dataset, report in validations.items():
            key = result_key(str(report.get("result_path") or ""))
            name = (
                _link(here, results[key].page, dataset)
                if key in results
                else f"{_esc(dataset)} "
                + (
                    '<span class="muted">(no rows, nothing stored)</span>'
                    if report.get("status") == "empty"
                    else '<span class="muted">(result not stored)</span>'
                )
            )
            suite = str(report.get("suite") or dataset)
            parts.append(
                f"<tr><td>{name}</td><td>{_link(here, suite_page(suite), suite)}</td>"
                f"<td>{_badge(report.get('status'))}</td>"
                f"{_counts_cells(outcome_status(o) for o in report.get('outcomes') or [])}"
                f'<td class="n">{_esc(report.get("rows", ""))}</td>'
                f'<td class="n">{_esc(report.get("quarantined", 0))}</td></tr>'
            )
        parts += ["</table>", "</section>"]
    orphans = sorted((r for k, r in results.items() if k not in listed), key=lambda r: r.key)
    if orphans:
        parts += [
            "<h2>Stored results that no run record lists</h2>",
            '<p class="muted">A run killed before it wrote its record leaves these.</p>',
            "<table><tr><th>run</th><th>validated</th><th>dataset</th><th>suite</th>"
            "<th>status</th><th>pass</th><th>warn</th><th>fail</th></tr>",
        ]
        for result in orphans:
            statuses = [c.status for c in result_checks(result)]
            parts.append(
                f"<tr><td>{_esc(result.run_name)}</td><td>{_esc(_run_time(result.run_time))}</td>"
                f"<td>{_link(here, result.page, result.dataset)}</td>"
                f"<td>{_link(here, suite_page(result.suite), result.suite)}</td>"
                f"<td>{_badge(overall(statuses))}</td>{_counts_cells(statuses)}</tr>"
            )
        parts.append("</table>")
    unread = sorted(unreadable)
    if unread:
        parts.append(
            '<p class="fail">Stored results that could not be read: '
            + ", ".join(_esc(k) for k in unread)
            + "</p>"
        )
    return _page("wiredesk Data Docs", "\n".join(parts), here)


def render_validation(
    result: StoredResult, uses: list[tuple[dict[str, Any], dict[str, Any]]]
) -> str:
    """One stored result: what ran, under which run id, and every expectation's outcome."""
    here = result.page
    report = uses[0][1] if uses else None
    checks = result_checks(result, report)
    status = overall(c.status for c in checks)
    counts = Counter(c.status for c in checks)
    run_name = result.run_name
    if run_name == "__none__":  # stored without a run id: name it by the runs that list it
        run_name = ", ".join(str(r.get("run_id")) for r, _ in uses) or "unknown"
    nights = sorted({str(r.get("run_date")) for r, _ in uses})
    title = f"{result.dataset}: {status} \u00b7 run {run_name}"
    rows = [
        ("Run", _esc(run_name)),
        ("Night", _esc(", ".join(nights) or "unknown (no run record lists this result)")),
        ("Validated", _esc(_run_time(result.run_time))),
        ("Dataset", _esc(result.dataset)),
        ("Suite", _link(here, suite_page(result.suite), result.suite)),
        (
            "Outcome",
            f"{_badge(status)}: {counts['pass']} pass, {counts['warn']} warn, "
            f"{counts['fail']} fail",
        ),
    ]
    failed = [(n, c) for n, c in enumerate(checks, 1) if c.status != "pass"]
    if failed:
        rows.append(
            (
                "Did not pass",
                "<br>".join(
                    f"{_badge(c.status)} <code>{_link(here, here, c.label, f'c{n}')}</code>"
                    for n, c in failed
                ),
            )
        )
    if report is not None:
        reasons = report.get("reasons") or {}
        aside = ", ".join(f"{_esc(k)} {_esc(v)}" for k, v in reasons.items())
        rows += [
            ("Rows", _esc(report.get("rows", ""))),
            ("Set aside", _esc(report.get("quarantined", 0)) + (f" ({aside})" if aside else "")),
            ("Suite parameters", f"<code>{_show(report.get('parameters') or {})}</code>"),
        ]
    if uses:
        rows.append(
            (
                "Listed by runs",
                ", ".join(
                    _link(
                        here,
                        INDEX,
                        f"{r.get('run_id')} ({r.get('status')})",
                        run_anchor(str(r.get("run_id"))),
                    )
                    for r, _ in uses
                ),
            )
        )
    stats = result.data.get("statistics") or {}
    if stats:
        rows.append(
            (
                "GX",
                _esc(
                    f"{stats.get('successful_expectations')} of "
                    f"{stats.get('evaluated_expectations')} expectations succeeded "
                    "(GX's own flag, which ignores severity)"
                ),
            )
        )
    parts = [
        f"<h1>Validation of {_esc(result.dataset)} \u00b7 {_badge(status)}</h1>",
        "<dl>" + "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in rows) + "</dl>",
        "<h2>Expectations</h2>",
        '<table class="wide"><tr><th>#</th><th>expectation</th><th>status</th>'
        "<th>severity</th><th>observed</th><th>unexpected</th><th>why</th></tr>",
    ]
    for number, check in enumerate(checks, 1):
        extra = []
        if check.kwargs:
            extra.append(_kwargs(check.kwargs))
        if not check.by_gx:
            extra.append('<span class="muted">checked by wiredesk on the Parquet schema</span>')
        if check.quarantine:
            extra.append(f"sets rows aside as <code>{_esc(check.quarantine)}</code>")
        observed = [f"<code>{_show(check.observed)}</code>"] if check.observed is not None else []
        if check.sample:
            observed.append(
                "unexpected, e.g. "
                + "; ".join(f"<code>{_show(v, SAMPLE_CHARS)}</code>" for v in check.sample)
            )
        parts.append(
            f'<tr id="c{number}"><td class="n">{number}</td><td><code>{_esc(check.label)}</code>'
            + "".join(f"<br>{e}" for e in extra)
            + f"</td><td>{_badge(check.status)}</td><td>{_esc(check.severity)}</td>"
            f"<td>{'<br>'.join(observed)}</td>"
            f'<td class="n">{_esc(check.unexpected)}</td><td>{_esc(check.why)}</td></tr>'
        )
    parts.append("</table>")
    return _page(title, "\n".join(parts), here)


def render_suite(
    name: str, spec: dict[str, Any] | None, results: list[StoredResult], source: str = ""
) -> str:
    """One suite: every expectation with its kwargs, severity and why; then its results.

    `spec` is the suite file; without one (a suite no longer in the expectations folder) the
    expectations are those of its newest stored result, as they ran.
    """
    here = suite_page(name)
    newest = sorted(results, key=lambda r: (r.run_time, r.key), reverse=True)
    if spec is not None:
        items = list(spec.get("expectations") or [])
        origin = f"from the suite file {source}" if source else "from the suite file"
    elif newest:
        items = [
            item.get("expectation_config") or {} for item in newest[0].data.get("results") or []
        ]
        origin = f"no suite file; as they ran in {newest[0].run_name} (parameters substituted)"
    else:
        items, origin = [], "no suite file and no stored result"
    parts = [
        f"<h1>Suite {_esc(name)}</h1>",
        f'<p class="muted">{len(items)} expectations, {_esc(origin)}.</p>',
        '<table class="wide"><tr><th>#</th><th>expectation</th><th>kwargs</th>'
        "<th>severity</th><th>why</th></tr>",
    ]
    for number, item in enumerate(items, 1):
        meta = item.get("meta") or {}
        kind = str(item.get("type") or item.get("expectation_type") or "expectation")
        kwargs = item.get("kwargs") or {}
        quarantine = (
            f"<br>sets rows aside as <code>{_esc(meta['quarantine'])}</code>"
            if meta.get("quarantine")
            else ""
        )
        parts.append(
            f'<tr id="e{number}"><td class="n">{number}</td><td><code>{_esc(kind)}</code>'
            f"{quarantine}</td><td>{_kwargs(kwargs)}</td>"
            f"<td>{_esc(item.get('severity') or 'critical')}</td>"
            f"<td>{_esc(meta.get('why') or '')}</td></tr>"
        )
    parts += ["</table>", "<h2>Stored results of this suite, newest first</h2>"]
    if not newest:
        parts.append('<p class="muted">none yet</p>')
    else:
        parts.append(
            "<table><tr><th>run</th><th>validated</th><th>dataset</th><th>status</th>"
            "<th>pass</th><th>warn</th><th>fail</th></tr>"
        )
        for result in newest:
            statuses = [c.status for c in result_checks(result)]
            parts.append(
                f"<tr><td>{_link(here, result.page, result.run_name)}</td>"
                f"<td>{_esc(_run_time(result.run_time))}</td><td>{_esc(result.dataset)}</td>"
                f"<td>{_badge(overall(statuses))}</td>{_counts_cells(statuses)}</tr>"
            )
        parts.append("</table>")
    return _page(f"suite {name}", "\n".join(parts), here)


def site_pages(
    records: list[dict[str, Any]],
    results: dict[str, StoredResult],
    suites: dict[str, dict[str, Any]],
    suites_source: str = "",
    unreadable: Iterable[str] = (),
) -> dict[str, str]:
    """Every page of the site: its path under docs/ -> its HTML.

    `suites` maps a suite name to its file's JSON; a suite that a result or a run names but that
    has no file still gets its page (see `render_suite`), so that every link resolves.
    """
    uses = _uses(records, results)
    named = set(suites) | {r.suite for r in results.values()}
    for record in records:
        for dataset, report in (record.get("validations") or {}).items():
            named.add(str(report.get("suite") or dataset))
    pages = {INDEX: render_index(records, results, sorted(named), unreadable)}
    for key, result in results.items():
        pages[result.page] = render_validation(result, uses.get(key, []))
    for name in sorted(named):
        own = [r for r in results.values() if r.suite == name]
        source = f"{suites_source}/{name}.json" if suites_source and name in suites else ""
        pages[suite_page(name)] = render_suite(name, suites.get(name), own, source)
    return pages


# --------------------------------------------------------------------------- files


def read_results(results_dir: Path) -> tuple[dict[str, StoredResult], list[str]]:
    """Every stored result under `results_dir` by key, and the keys that could not be read."""
    results: dict[str, StoredResult] = {}
    unreadable: list[str] = []
    for rel in io.list_files(results_dir, ".json"):
        if rel.count("/") != 3:
            continue  # not a result key (`<suite>/<run_id>/<run_time>/<dataset>.json`)
        try:
            data = io.read_json(results_dir / rel)
        except (OSError, ValueError):
            unreadable.append(rel)
            continue
        if isinstance(data, dict):
            results[rel] = StoredResult(rel, data)
    return results, unreadable


def read_suites(expectations_dir: Path | None) -> dict[str, dict[str, Any]]:
    """Suite name (file stem) -> suite JSON, for every `*.json` directly in the folder."""
    if expectations_dir is None:
        return {}
    suites: dict[str, dict[str, Any]] = {}
    for rel in io.list_files(expectations_dir, ".json"):
        if "/" not in rel:
            suites[rel.removesuffix(".json")] = io.read_json(expectations_dir / rel)
    return suites


def build_site(
    docs_dir: Path, runs_dir: Path, results_dir: Path, expectations_dir: Path | None
) -> list[str]:
    """Render every run record and stored result as pages under `docs_dir`; the paths written
    (relative to it). An unreadable result (being written, or damaged) is left out and named on
    the index."""
    results, unreadable = read_results(results_dir)
    pages = site_pages(
        io.read_run_records(runs_dir),
        results,
        read_suites(expectations_dir),
        str(expectations_dir) if expectations_dir is not None else "",
        unreadable,
    )
    for rel, text in pages.items():
        io.write_text(docs_dir / rel, text)
    return sorted(pages)
