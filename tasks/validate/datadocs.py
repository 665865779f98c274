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

from tasks import htmlpage, io
from tasks.htmlpage import esc

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

_CSS = htmlpage.base_css(max_width=1200, h3_margin="1.5rem") + (
    """td.n{text-align:right;font-variant-numeric:tabular-nums}
code{font:12px/1.4 ui-monospace,monospace;white-space:pre-wrap;overflow-wrap:anywhere}
table.wide{width:100%}table.wide td:nth-child(2){min-width:16rem;max-width:24rem}
.pass,.completed{color:#1b7a3a}.warn,.running{color:#a86400;font-weight:600}
.fail,.failed{color:#b3261e;font-weight:700}.empty,.skipped,.muted{color:#5d6b78}
nav{margin-bottom:1rem}nav a{margin-right:1rem}dl{display:grid;grid-template-columns:max-content
auto;gap:.15rem 1rem}dt{font-weight:600}dd{margin:0}section{margin-bottom:1.5rem}
"""
)


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


def _show(value: Any, width: int = OBSERVED_CHARS) -> str:
    """A value as short escaped text (JSON for lists and dicts)."""
    if value is None:
        return ""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return esc(text if len(text) <= width else text[: width - 1] + "\u2026")


def _kwargs(kwargs: dict[str, Any]) -> str:
    """Keyword arguments one per line, `name: value` (values as JSON)."""
    return "<br>".join(
        f"<code>{esc(k)}: {_show(v)}</code>" for k, v in kwargs.items() if k != "batch_id"
    )


def _href(src: str, dst: str, fragment: str = "") -> str:
    """A relative, URL-quoted, escaped link from page `src` to page `dst` (both under docs/)."""
    rel = posixpath.relpath(dst, posixpath.dirname(src) or ".")
    return esc(quote(rel) + (f"#{quote(fragment)}" if fragment else ""))


def _link(src: str, dst: str, text: str, fragment: str = "") -> str:
    return f'<a href="{_href(src, dst, fragment)}">{esc(text)}</a>'


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
    return f'<span class="{esc(status)}">{esc(status)}</span>'


def _page(title: str, body: str, here: str) -> str:
    nav = "" if here == INDEX else f"<nav>{_link(here, INDEX, BACK)}</nav>"
    return htmlpage.page(title, nav + body, _CSS)


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


def _index_head(records: list[dict[str, Any]], n_results: int, suites: list[str]) -> list[str]:
    """The index's title, what it counts, and a link to every suite."""
    return [
        "<h1>wiredesk Data Docs</h1>",
        f'<p class="muted">{len(records)} runs, {n_results} stored validation results. '
        "Counts use wiredesk's severity: <b>fail</b> is a failed critical expectation (it stops "
        "the night), <b>warn</b> a failed warning or info one.</p>",
        "<p>Suites: "
        + (", ".join(_link(INDEX, suite_page(s), s) for s in suites) or "none")
        + "</p>",
    ]


def _run_when(record: dict[str, Any], run_id: str) -> str:
    """When a run started and finished, and the night's run id its results carry if another."""
    when = f"started {esc(record.get('started_at') or '?')}"
    if record.get("finished_at"):
        when += f", finished {esc(record['finished_at'])}"
    night_run = record.get("night_run_id")
    if night_run and night_run != run_id:
        when += f"; continues the night's run {esc(night_run)}, whose id its results carry"
    return when


def _validation_row(dataset: str, report: dict[str, Any], results: dict[str, StoredResult]) -> str:
    """One validation of a run on the index: its result page (when stored), suite, counts."""
    key = result_key(str(report.get("result_path") or ""))
    name = (
        _link(INDEX, results[key].page, dataset)
        if key in results
        else f"{esc(dataset)} "
        + (
            '<span class="muted">(no rows, nothing stored)</span>'
            if report.get("status") == "empty"
            else '<span class="muted">(result not stored)</span>'
        )
    )
    suite = str(report.get("suite") or dataset)
    return (
        f"<tr><td>{name}</td><td>{_link(INDEX, suite_page(suite), suite)}</td>"
        f"<td>{_badge(report.get('status'))}</td>"
        f"{_counts_cells(outcome_status(o) for o in report.get('outcomes') or [])}"
        f'<td class="n">{esc(report.get("rows", ""))}</td>'
        f'<td class="n">{esc(report.get("quarantined", 0))}</td></tr>'
    )


def _run_section(record: dict[str, Any], results: dict[str, StoredResult]) -> list[str]:
    """One run on the index: its id, night, status and times, its error, its validations."""
    run_id = str(record.get("run_id"))
    parts = [
        f'<section id="{esc(run_anchor(run_id))}">',
        f"<h2>Run {esc(run_id)} \u00b7 night {esc(record.get('run_date'))} \u00b7 "
        f"{_badge(record.get('status'))}</h2>",
        f'<p class="muted">{_run_when(record, run_id)}</p>',
    ]
    if record.get("error"):
        parts.append(f'<p class="fail">{_show(record["error"])}</p>')
    validations = record.get("validations") or {}
    if not validations:
        return [*parts, '<p class="muted">No validations in this run.</p>', "</section>"]
    parts.append(
        "<table><tr><th>dataset</th><th>suite</th><th>status</th><th>pass</th><th>warn</th>"
        "<th>fail</th><th>rows</th><th>set aside</th></tr>"
    )
    parts += [_validation_row(dataset, report, results) for dataset, report in validations.items()]
    return [*parts, "</table>", "</section>"]


def _orphans_section(orphans: list[StoredResult]) -> list[str]:
    """The stored results that no run record lists (none: nothing)."""
    if not orphans:
        return []
    parts = [
        "<h2>Stored results that no run record lists</h2>",
        '<p class="muted">A run killed before it wrote its record leaves these.</p>',
        "<table><tr><th>run</th><th>validated</th><th>dataset</th><th>suite</th>"
        "<th>status</th><th>pass</th><th>warn</th><th>fail</th></tr>",
    ]
    for result in orphans:
        statuses = [c.status for c in result_checks(result)]
        parts.append(
            f"<tr><td>{esc(result.run_name)}</td><td>{esc(_run_time(result.run_time))}</td>"
            f"<td>{_link(INDEX, result.page, result.dataset)}</td>"
            f"<td>{_link(INDEX, suite_page(result.suite), result.suite)}</td>"
            f"<td>{_badge(overall(statuses))}</td>{_counts_cells(statuses)}</tr>"
        )
    return [*parts, "</table>"]


def render_index(
    records: list[dict[str, Any]],
    results: dict[str, StoredResult],
    suites: list[str],
    unreadable: Iterable[str] = (),
) -> str:
    """Every run, newest first, with its validations; then the results no run record lists,
    and the stored results that could not be read."""
    # 1. what the site holds
    parts = _index_head(records, len(results), suites)
    # 2. every run, newest first
    if not records:
        parts.append("<p>No runs recorded yet.</p>")
    for record in _newest_first(records):
        parts += _run_section(record, results)
    # 3. what no run lists: a run killed before its record
    listed = _uses(records, results)
    orphans = sorted((r for k, r in results.items() if k not in listed), key=lambda r: r.key)
    parts += _orphans_section(orphans)
    # 4. what could not be read
    unread = sorted(unreadable)
    if unread:
        parts.append(
            '<p class="fail">Stored results that could not be read: '
            + ", ".join(esc(k) for k in unread)
            + "</p>"
        )
    return _page("wiredesk Data Docs", "\n".join(parts), INDEX)


def _run_name(result: StoredResult, uses: list[tuple[dict[str, Any], dict[str, Any]]]) -> str:
    """The run id a result was stored under; one stored without (GX's `__none__`) is named by
    the runs that list it."""
    if result.run_name != "__none__":
        return result.run_name
    return ", ".join(str(r.get("run_id")) for r, _ in uses) or "unknown"


def _failed_fact(checks: list[Check], here: str) -> list[tuple[str, str]]:
    """A link to every check that did not pass (none: no fact)."""
    failed = [(n, c) for n, c in enumerate(checks, 1) if c.status != "pass"]
    if not failed:
        return []
    links = "<br>".join(
        f"{_badge(c.status)} <code>{_link(here, here, c.label, f'c{n}')}</code>" for n, c in failed
    )
    return [("Did not pass", links)]


def _report_facts(report: dict[str, Any] | None) -> list[tuple[str, str]]:
    """What the run record's report of the dataset adds: rows, set aside and why, parameters."""
    if report is None:
        return []
    reasons = report.get("reasons") or {}
    aside = ", ".join(f"{esc(k)} {esc(v)}" for k, v in reasons.items())
    return [
        ("Rows", esc(report.get("rows", ""))),
        ("Set aside", esc(report.get("quarantined", 0)) + (f" ({aside})" if aside else "")),
        ("Suite parameters", f"<code>{_show(report.get('parameters') or {})}</code>"),
    ]


def _listed_fact(
    uses: list[tuple[dict[str, Any], dict[str, Any]]], here: str
) -> list[tuple[str, str]]:
    """Links to the runs on the index that list the result (none: no fact)."""
    if not uses:
        return []
    links = ", ".join(
        _link(
            here,
            INDEX,
            f"{r.get('run_id')} ({r.get('status')})",
            run_anchor(str(r.get("run_id"))),
        )
        for r, _ in uses
    )
    return [("Listed by runs", links)]


def _gx_fact(result: StoredResult) -> list[tuple[str, str]]:
    """GX's own count of succeeded expectations (no statistics stored: no fact)."""
    stats = result.data.get("statistics") or {}
    if not stats:
        return []
    text = (
        f"{stats.get('successful_expectations')} of "
        f"{stats.get('evaluated_expectations')} expectations succeeded "
        "(GX's own flag, which ignores severity)"
    )
    return [("GX", esc(text))]


def _check_row(number: int, check: Check) -> str:
    """One expectation of a result page: label and what it is, status, observed, why."""
    extra = []
    if check.kwargs:
        extra.append(_kwargs(check.kwargs))
    if not check.by_gx:
        extra.append('<span class="muted">checked by wiredesk on the Parquet schema</span>')
    if check.quarantine:
        extra.append(f"sets rows aside as <code>{esc(check.quarantine)}</code>")
    observed = [f"<code>{_show(check.observed)}</code>"] if check.observed is not None else []
    if check.sample:
        observed.append(
            "unexpected, e.g. "
            + "; ".join(f"<code>{_show(v, SAMPLE_CHARS)}</code>" for v in check.sample)
        )
    return (
        f'<tr id="c{number}"><td class="n">{number}</td><td><code>{esc(check.label)}</code>'
        + "".join(f"<br>{e}" for e in extra)
        + f"</td><td>{_badge(check.status)}</td><td>{esc(check.severity)}</td>"
        f"<td>{'<br>'.join(observed)}</td>"
        f'<td class="n">{esc(check.unexpected)}</td><td>{esc(check.why)}</td></tr>'
    )


def render_validation(
    result: StoredResult, uses: list[tuple[dict[str, Any], dict[str, Any]]]
) -> str:
    """One stored result: what ran, under which run id, and every expectation's outcome."""
    here = result.page
    # 1. the checks, with the run record's own ones (the newest run that lists the result)
    report = uses[0][1] if uses else None
    checks = result_checks(result, report)
    status = overall(c.status for c in checks)
    counts = Counter(c.status for c in checks)
    run_name = _run_name(result, uses)
    nights = sorted({str(r.get("run_date")) for r, _ in uses})
    # 2. the facts: what ran, when, under which run, with which outcome
    facts = [
        ("Run", esc(run_name)),
        ("Night", esc(", ".join(nights) or "unknown (no run record lists this result)")),
        ("Validated", esc(_run_time(result.run_time))),
        ("Dataset", esc(result.dataset)),
        ("Suite", _link(here, suite_page(result.suite), result.suite)),
        (
            "Outcome",
            f"{_badge(status)}: {counts['pass']} pass, {counts['warn']} warn, "
            f"{counts['fail']} fail",
        ),
        *_failed_fact(checks, here),
        *_report_facts(report),
        *_listed_fact(uses, here),
        *_gx_fact(result),
    ]
    # 3. every expectation
    parts = [
        f"<h1>Validation of {esc(result.dataset)} \u00b7 {_badge(status)}</h1>",
        "<dl>" + "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in facts) + "</dl>",
        "<h2>Expectations</h2>",
        '<table class="wide"><tr><th>#</th><th>expectation</th><th>status</th>'
        "<th>severity</th><th>observed</th><th>unexpected</th><th>why</th></tr>",
        *(_check_row(number, check) for number, check in enumerate(checks, 1)),
        "</table>",
    ]
    title = f"{result.dataset}: {status} \u00b7 run {run_name}"
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
        f"<h1>Suite {esc(name)}</h1>",
        f'<p class="muted">{len(items)} expectations, {esc(origin)}.</p>',
        '<table class="wide"><tr><th>#</th><th>expectation</th><th>kwargs</th>'
        "<th>severity</th><th>why</th></tr>",
    ]
    for number, item in enumerate(items, 1):
        meta = item.get("meta") or {}
        kind = str(item.get("type") or item.get("expectation_type") or "expectation")
        kwargs = item.get("kwargs") or {}
        quarantine = (
            f"<br>sets rows aside as <code>{esc(meta['quarantine'])}</code>"
            if meta.get("quarantine")
            else ""
        )
        parts.append(
            f'<tr id="e{number}"><td class="n">{number}</td><td><code>{esc(kind)}</code>'
            f"{quarantine}</td><td>{_kwargs(kwargs)}</td>"
            f"<td>{esc(item.get('severity') or 'critical')}</td>"
            f"<td>{esc(meta.get('why') or '')}</td></tr>"
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
                f"<td>{esc(_run_time(result.run_time))}</td><td>{esc(result.dataset)}</td>"
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
