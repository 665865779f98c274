"""The `wiredesk` console script: parses options and calls the flows. It holds no stage logic.

Each subcommand is a pair: `_add_<name>(subparsers)` declares its options and
`_cmd_<name>(args) -> int` runs it; `COMMANDS` lists them. Arguments are checked
(`flows.preflight`) and the data dir's lock is taken before Prefect is imported, so a bad value
or a busy data dir answers in one line within a second or two; `--help` imports nothing heavy.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

DESCRIPTION = """\
wiredesk turns scraped news reports (HTML, text, JSONL, WARC, web feeds) into one clean,
de-duplicated Parquet table: it strips site chrome, repairs encodings and typos, links every
copy of a story to one article and sets aside what it cannot use, with a reason.

  wiredesk run                      run tonight's ingest on data/inbox, output under data/
  wiredesk run --inbox DIR --data-dir OUT --run-date 2026-03-14
  wiredesk report                   what the last nights did (and an HTML page)
  wiredesk serve                    run it every night as a Prefect deployment"""

EXIT_CODES = """\
exit status: 0 the night was published (or was complete already), 1 internal error,
2 not published (a bad argument, a missing inbox, a critical data-quality check failed,
damaged state of earlier nights),
3 the data dir is in use by another run."""

# Exit statuses (see EXIT_CODES).
EXIT_OK, EXIT_INTERNAL, EXIT_NOT_PUBLISHED, EXIT_BUSY = 0, 1, 2, 3

# Prefect's ephemeral API server takes 10-25 s to start on a loaded 2-core machine, past the
# default timeout; give it room unless the user chose a value.
EPHEMERAL_STARTUP_TIMEOUT = "120"


def _prefect_defaults() -> None:
    os.environ.setdefault(
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", EPHEMERAL_STARTUP_TIMEOUT
    )
    _telemetry_defaults()


# Prefect reports to Prefect's hosts unless told not to. The server, and the temporary API that
# `wiredesk run` starts, posts a heartbeat to sens-o-matic.prefect.io every 10 minutes, which
# offline logs `ERROR ... Failed to send telemetry` (prefect/server/services/telemetry.py); the
# SDK sends usage events (prefect/_internal/analytics, off with DO_NOT_TRACK, read when Prefect
# is imported, hence before any import of it); runs open OpenTelemetry spans for Prefect Cloud
# (prefect/telemetry/run_telemetry.py). Set in the environment so that flow-run processes and
# the temporary API inherit them; a variable the user set, to anything, is left as it is.
TELEMETRY_DEFAULTS = {
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "DO_NOT_TRACK": "1",
    "PREFECT_CLOUD_ENABLE_ORCHESTRATION_TELEMETRY": "false",
}


def _telemetry_defaults() -> None:
    for name, value in TELEMETRY_DEFAULTS.items():
        os.environ.setdefault(name, value)


# Attempts at starting Prefect's ephemeral API. Its start-up probe gives up on the first read
# timeout of a health request (httpx's 5 s default), whatever the startup timeout says, and a
# loaded machine answers that late now and then; a fresh attempt on a new port then succeeds.
EPHEMERAL_START_ATTEMPTS = 3


def _ensure_prefect_api() -> None:
    """Start the ephemeral API up front (with retries) unless PREFECT_API_URL names a server."""
    from prefect.settings import PREFECT_API_URL, PREFECT_SERVER_EPHEMERAL_ENABLED

    if PREFECT_API_URL.value() or not PREFECT_SERVER_EPHEMERAL_ENABLED.value():
        return
    import httpx
    from prefect.server.api.server import SubprocessASGIServer

    for attempt in range(1, EPHEMERAL_START_ATTEMPTS + 1):
        # The flow's client asks SubprocessASGIServer() for the same (port-less) instance and
        # finds it running.
        server = SubprocessASGIServer()
        try:
            server.start()
            return
        except (httpx.HTTPError, RuntimeError) as exc:
            server.stop()
            if attempt == EPHEMERAL_START_ATTEMPTS:
                raise
            print(
                f"wiredesk: Prefect's temporary API did not come up ({exc!s:.80}); retrying",
                file=sys.stderr,
            )


# --------------------------------------------------------------------------- run


def _add_run(sub: Any) -> None:
    run = sub.add_parser(
        "run",
        help="run one night: ingest, extract, repair, dedup, check and publish",
        description="Run one night of the nightly-ingest flow in this process (Prefect's "
        "temporary local API, or the server PREFECT_API_URL names) and print what each stage "
        "did. Relative paths are taken from the current folder.",
        epilog=EXIT_CODES,
    )
    run.add_argument(
        "--inbox",
        default="data/inbox",
        help="folder of reports to ingest (default: data/inbox, the bundled samples)",
    )
    run.add_argument(
        "--data-dir",
        default="data",
        help="where staged, curated, quarantine and run records go (default: data)",
    )
    run.add_argument(
        "--run-date",
        default=None,
        help="the night, YYYY-MM-DD (default: today, UTC); it names the Hive partition",
    )
    run.add_argument(
        "--workers",
        type=int,
        default=None,
        help="processes for the CPU-bound stages (default: every core)",
    )
    run.add_argument(
        "--expectations-dir",
        default=None,
        help="folder of GX suites (default: the project's expectations/)",
    )
    _add_source_options(run)
    _add_output_options(run)


def _add_output_options(parser: Any) -> None:
    """How much a command says while it works."""
    parser.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        help="print only warnings, errors and the final summary",
    )
    parser.add_argument(
        "--log-level",
        type=str.upper,
        choices=("DEBUG", "INFO", "WARNING", "ERROR"),
        default=None,
        help="level of the progress log (default: INFO; --quiet means WARNING)",
    )


def _configure_logging(args: argparse.Namespace) -> None:
    """Set Prefect's log level before Prefect is imported (it reads it at import)."""
    level = args.log_level or ("WARNING" if args.quiet else None)
    if level:
        os.environ["PREFECT_LOGGING_LEVEL"] = level


def _add_source_options(parser: Any) -> None:
    """Options of the re-ingest (issue 7): web sources, no inbox, the data-dir lock."""
    parser.add_argument(
        "--sources",
        nargs="+",
        action="extend",
        default=[],
        metavar="URL",
        help="page URLs, RSS/Atom feeds and sitemaps to fetch (http or https)",
    )
    parser.add_argument(
        "--sources-file",
        default=None,
        metavar="FILE",
        help="a file of source URLs, one per line (# starts a comment)",
    )
    parser.add_argument(
        "--no-inbox",
        dest="inbox",
        action="store_const",
        const=None,
        help="ingest no inbox folder, only --sources",
    )
    parser.add_argument(
        "--lock-wait",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="wait this long for another run holding the data dir (default: fail at once)",
    )


def _sources(args: argparse.Namespace) -> list[str]:
    from flows.preflight import read_sources

    return read_sources(list(args.sources), args.sources_file)


def print_summary(record: dict[str, Any]) -> None:
    from flows.nightly import stage_rows

    rows = stage_rows(record)
    headers = list(rows[0]) if rows else ["stage", "in", "kept", "quarantined", "seconds"]
    widths = {h: max(len(h), *(len(str(r[h])) for r in rows)) if rows else len(h) for h in headers}
    print()
    fetch = record["stages"].get("fetch")
    if fetch:
        print(f"fetch: {fetch['urls']} URLs: {fetch['outcomes']}")
    if record.get("reused"):
        print(f"reused from an earlier run of this night: {', '.join(record['reused'])}")
    if record.get("status") == "skipped":
        print(f"night {record['run_date']} is complete and its inputs are unchanged: nothing to do")
    print("  ".join(h.ljust(widths[h]) for h in headers))
    for row in rows:
        print("  ".join(str(row[h]).ljust(widths[h]) for h in headers))
    published = record.get("published") or {}
    if published:
        from tasks.progress import plural

        inv = record.get("invariant") or {}
        accounted = "all accounted for" if inv.get("holds") else "NOT all accounted for"
        print(
            f"\npublished night {record['run_date']}: "
            f"{plural(published['articles'], 'article')}, "
            f"{plural(published['duplicates'], 'duplicate')}, "
            f"{published['quarantined']:,} quarantined, "
            f"{published.get('unchanged', 0):,} already published "
            f"(input {plural(inv.get('input', 0), 'document')}: {accounted})"
        )
    for dataset, report in record["validations"].items():
        bad = [o["expectation"] for o in report["outcomes"] if not o["success"]]
        print(f"  checks {dataset:<12} {report['status']:<5} {', '.join(bad)}")
    print(f"run record: {record['data_dir']}/runs/{record['run_id']}.json")


def _preflight_run(args: argparse.Namespace) -> dict[str, Any]:
    """The flow's parameters from the options, checked (raises `UsageError`)."""
    from flows import preflight

    inbox = preflight.check_inbox(args.inbox)
    return {
        "inbox": str(inbox) if inbox is not None else None,
        "data_dir": str(preflight.check_data_dir(args.data_dir)),
        "run_date": preflight.parse_run_date(args.run_date),
        "sources": _sources(args),
        "workers": preflight.check_workers(args.workers),
        "expectations_dir": str(
            preflight.check_expectations(args.expectations_dir, _default_expectations())
        ),
        "lock_wait": preflight.check_lock_wait(args.lock_wait),
    }


def _default_expectations() -> Path:
    # The same folder as flows.config.DEFAULT_EXPECTATIONS, without importing the stages.
    return Path(__file__).resolve().parent.parent / "expectations"


def _cmd_run(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime

    from flows.preflight import UsageError
    from tasks.lock import DataDirBusy, DataDirLock

    try:
        params = _preflight_run(args)
    except UsageError as exc:
        return _fail(exc, EXIT_NOT_PUBLISHED)
    night = params["run_date"] or datetime.now(UTC).date().isoformat()
    holder = f"pid {os.getpid()}, night {night}, since {datetime.now(UTC):%Y-%m-%dT%H:%M:%SZ}"
    # Taken here, before Prefect starts, so that a busy data dir is reported at once; the flow's
    # own lock on the same data dir joins this one (tasks/lock.py).
    lock = DataDirLock(
        Path(params["data_dir"]), holder=holder, wait_seconds=params["lock_wait"], hand_over=True
    )
    try:
        with lock:
            return _run_night(params)
    except DataDirBusy as exc:
        return _fail(exc, EXIT_BUSY)


def _run_night(params: dict[str, Any]) -> int:
    from flows.nightly import nightly_ingest
    from flows.resume import StateError
    from tasks.io import DataDirBusy
    from tasks.validate.suites import QualityGateError

    try:
        _ensure_prefect_api()
        record = nightly_ingest(**params)
    except DataDirBusy as exc:
        return _fail(exc, EXIT_BUSY)
    except QualityGateError as exc:
        return _fail(f"night not published: {exc}", EXIT_NOT_PUBLISHED)
    except StateError as exc:
        return _fail(f"night not run: {exc}", EXIT_NOT_PUBLISHED)
    except (FileNotFoundError, ValueError) as exc:
        # The flow's own checks of its parameters (flows.preflight) raise these.
        return _fail(exc, EXIT_NOT_PUBLISHED)
    except KeyboardInterrupt:
        return _fail("interrupted; run the same command again to finish the night", 130)
    except Exception as exc:
        runs = Path(params["data_dir"]) / "runs"
        return _fail(
            f"internal error, night not published: {type(exc).__name__}: {exc} "
            f"(the traceback is in the newest run record under {runs})",
            EXIT_INTERNAL,
        )
    print_summary(record)
    return EXIT_OK


def _fail(message: object, status: int) -> int:
    """One line on stderr; returns the exit status."""
    text = " ".join(str(message).split())
    print(f"wiredesk: {text}", file=sys.stderr)
    return status


# --------------------------------------------------------------------------- repair-text


def _add_repair_text(sub: Any) -> None:
    cmd = sub.add_parser(
        "repair-text",
        help="repair UTF-8 text from stdin to stdout, line for line, as the repair stage does",
    )
    cmd.add_argument(
        "--lang",
        default=None,
        help="ISO 639-1 language of the text (default: detected as the extract stage does)",
    )


def _cmd_repair_text(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime

    from tasks.extract.page import detect_lang
    from tasks.repair.text import RepairConfig, repair_lines

    text = sys.stdin.buffer.read().decode("utf-8", errors="replace")
    lang = args.lang or detect_lang(text)
    # The whole input is one document: no corpus, so only its own repeated words are protected.
    cfg = RepairConfig(run_id="repair-text", run_started_at=datetime.now(UTC))
    out = "\n".join(repair_lines(text, lang, cfg))
    sys.stdout.buffer.write(out.encode("utf-8"))
    sys.stdout.flush()
    return 0


# --------------------------------------------------------------------------- serve


def _add_serve(sub: Any) -> None:
    from flows.names import DEFAULT_CRON, DEFAULT_TIMEZONE, FULL_NAME

    serve = sub.add_parser(
        "serve",
        help=f"serve the deployment {FULL_NAME} (cron schedule and `prefect deployment run`)",
        description=f"Register the deployment {FULL_NAME} with the Prefect server "
        "PREFECT_API_URL names and run its flow runs, one at a time, until Ctrl-C or SIGTERM "
        "(stops within 4 s, whatever the server's state). Prints the deployment's page in the "
        "Prefect UI; each run logs its own ('View at ...').",
        epilog="exit status: 0 stopped with no run in progress, 143 a run in progress was "
        "stopped (the next run of its night resumes it).",
    )
    serve.add_argument(
        "--cron", default=DEFAULT_CRON, help=f"schedule (default: {DEFAULT_CRON!r}, 02:00)"
    )
    serve.add_argument(
        "--timezone",
        default=DEFAULT_TIMEZONE,
        help=f"of the schedule (default: {DEFAULT_TIMEZONE})",
    )
    serve.add_argument("--inbox", default="data/inbox", help="default `inbox` parameter")
    serve.add_argument("--data-dir", default="data", help="default `data_dir` parameter")
    serve.add_argument("--workers", type=int, default=None, help="default `workers` parameter")
    serve.add_argument("--expectations-dir", default=None, help="default `expectations_dir`")
    _add_source_options(serve)


def _cmd_serve(args: argparse.Namespace) -> int:
    from flows.deployments import deployment_parameters, nightly_deployment, serve

    params = deployment_parameters(
        inbox=args.inbox,
        data_dir=args.data_dir,
        sources=_sources(args),
        workers=args.workers,
        expectations_dir=args.expectations_dir,
        lock_wait=args.lock_wait,
    )
    return serve(nightly_deployment(parameters=params, cron=args.cron, timezone=args.timezone))


# --------------------------------------------------------------------------- extract


def _add_extract(sub: Any) -> None:
    extract = sub.add_parser(
        "extract",
        help="run the extract stage on a folder of .html/.html.gz/.txt files (no Prefect)",
    )
    extract.add_argument("--input", required=True, help="folder searched recursively")
    extract.add_argument("--out", required=True, help="JSONL file, one object per input file")
    extract.add_argument(
        "--data-dir",
        default=None,
        help="use the site boilerplate learned under this data dir (default: none)",
    )


def _cmd_extract(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    from flows.extractfiles import extract_config, extract_files

    root = Path(args.input)
    if not root.is_dir():
        print(f"wiredesk: input {root} is not a folder", file=sys.stderr)
        return 2
    cfg = extract_config(Path(args.data_dir) if args.data_dir else None)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    count = quarantined = 0
    with out.open("w", encoding="utf-8") as fh:
        for record in extract_files(root, cfg):
            fh.write(json.dumps(record, ensure_ascii=False) + "\n")
            count += 1
            quarantined += record["quarantined"] is not None
    print(f"extracted {count} files ({quarantined} set aside) -> {out}")
    return 0


# --------------------------------------------------------------------------- report


def _add_report(sub: Any) -> None:
    report = sub.add_parser(
        "report",
        help="the history of nights and one night's details, in the terminal and as HTML",
    )
    report.add_argument(
        "--data-dir", default="data", help="the data dir the runs wrote to (default: data)"
    )
    report.add_argument(
        "--runs",
        type=int,
        default=10,
        metavar="N",
        help="how many recent nights the history shows (default: 10)",
    )
    report.add_argument(
        "--night",
        default=None,
        metavar="YYYY-MM-DD",
        help="the night whose stages, checks and profile are shown (default: the latest)",
    )
    report.add_argument(
        "--out", default=None, help="HTML file to write (default: DATA_DIR/docs/report.html)"
    )


def _cmd_report(args: argparse.Namespace) -> int:
    from flows.preflight import UsageError, absolute, parse_run_date

    try:
        night = parse_run_date(args.night)
    except UsageError as exc:
        return _fail(str(exc).replace("--run-date", "--night"), EXIT_NOT_PUBLISHED)
    data_dir = absolute(args.data_dir)
    if not (data_dir / "runs").is_dir():
        return _fail(
            f"no runs recorded under --data-dir {args.data_dir}: run `wiredesk run` first, or "
            "give the data dir a run wrote to",
            EXIT_NOT_PUBLISHED,
        )
    from tasks.report.records import write_report

    try:
        text, path = write_report(
            data_dir, absolute(args.out) if args.out else None, max(1, args.runs), night=night
        )
    except ValueError as exc:
        return _fail(exc, EXIT_NOT_PUBLISHED)
    print(text)
    print(f"\nHTML report: {path}")
    return EXIT_OK


# --------------------------------------------------------------------------- rebuild-state


def _add_rebuild_state(sub: Any) -> None:
    cmd = sub.add_parser(
        "rebuild-state",
        help="write a complete night's state again from the tables it kept (after damage)",
        description=(
            "Write the state partitions of one complete night (what later nights match against "
            "and learn from) again from its published and staged tables, and check them against "
            "the night's record. Use it when `wiredesk run` stops on damaged state; when the "
            "tables it needs are gone too, it says so and names the other way back."
        ),
    )
    cmd.add_argument("--run-date", required=True, metavar="YYYY-MM-DD", help="the night")
    cmd.add_argument("--data-dir", default="data", help="the data dir (default: data)")
    cmd.add_argument(
        "--lock-wait",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="wait this long for another run holding the data dir (default: fail at once)",
    )


def _cmd_rebuild_state(args: argparse.Namespace) -> int:
    from flows import preflight
    from flows.preflight import UsageError
    from tasks.lock import DataDirBusy, DataDirLock

    try:
        night = preflight.parse_run_date(args.run_date)
        data_dir = preflight.absolute(args.data_dir)
        wait = preflight.check_lock_wait(args.lock_wait)
        if not (data_dir / "state" / "nights").is_dir():
            raise UsageError(f"--data-dir {args.data_dir} holds no nights: nothing to rebuild")
    except UsageError as exc:
        return _fail(exc, EXIT_NOT_PUBLISHED)
    from flows.rebuild import RebuildError, rebuild_state

    try:
        with DataDirLock(
            data_dir, holder=f"pid {os.getpid()}, rebuild-state {night}", wait_seconds=wait
        ):
            written = rebuild_state(data_dir, str(night), args.data_dir)
    except DataDirBusy as exc:
        return _fail(exc, EXIT_BUSY)
    except RebuildError as exc:
        return _fail(exc, EXIT_NOT_PUBLISHED)
    print(
        f"night {night}: {len(written)} state partitions written again and checked against "
        "its record:"
    )
    for path in written:
        print(f"  {path}")
    return EXIT_OK


# --------------------------------------------------------------------------- wiring

COMMANDS: dict[str, tuple[Callable[[Any], None], Callable[[argparse.Namespace], int]]] = {
    "run": (_add_run, _cmd_run),
    "repair-text": (_add_repair_text, _cmd_repair_text),
    "serve": (_add_serve, _cmd_serve),
    "extract": (_add_extract, _cmd_extract),
    "report": (_add_report, _cmd_report),
    "rebuild-state": (_add_rebuild_state, _cmd_rebuild_state),
}


class _Parser(argparse.ArgumentParser):
    """argparse, with a usage error in one line (argparse prints the whole usage first)."""

    def error(self, message: str) -> Any:
        self.exit(EXIT_NOT_PUBLISHED, f"{self.prog}: {message} (see {self.prog} --help)\n")


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("wiredesk")
    except PackageNotFoundError:
        return "unknown"


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="wiredesk",
        description=DESCRIPTION,
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"wiredesk {_version()}")
    sub = parser.add_subparsers(
        dest="command", required=True, metavar="COMMAND", parser_class=_Parser
    )
    for add, _ in COMMANDS.values():
        add(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if hasattr(args, "quiet"):
        _configure_logging(args)
    _prefect_defaults()
    return COMMANDS[args.command][1](args)


if __name__ == "__main__":
    sys.exit(main())
