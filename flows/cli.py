"""The `wiredesk` console script: parses options and calls the flows. It holds no stage logic.

Each subcommand is a pair: `_add_<name>(subparsers)` declares its options and
`_cmd_<name>(args) -> int` runs it; `COMMANDS` lists them.

`wiredesk run [--inbox DIR] [--data-dir DIR] [--run-date YYYY-MM-DD] [--workers N]` runs the
`nightly-ingest` flow in this process against Prefect's local ephemeral API (or the server
PREFECT_API_URL points at) and prints a per-stage summary.

`wiredesk repair-text [--lang LANG]` reads UTF-8 text on stdin and writes it repaired on stdout,
line for line, with the repair stage's own code (language detected when not given).

`wiredesk serve [--cron EXPR] [--timezone TZ] [run options]` serves the deployment
`nightly-ingest/nightly` against the Prefect server PREFECT_API_URL points at, until interrupted.

`wiredesk extract --input DIR --out FILE.jsonl` runs the extract stage alone (its pure function,
no Prefect) over every `.html`, `.html.gz`, `.txt` file under DIR.

`wiredesk report [--data-dir DIR] [--runs N] [--out FILE]` prints the last runs' summary and
writes one self-contained HTML report (default `DATA_DIR/docs/report.html`).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

# Prefect's ephemeral API server takes 10-25 s to start on a loaded 2-core machine, past the
# default timeout; give it room unless the user chose a value.
EPHEMERAL_STARTUP_TIMEOUT = "120"


def _prefect_defaults() -> None:
    os.environ.setdefault(
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", EPHEMERAL_STARTUP_TIMEOUT
    )


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
    run = sub.add_parser("run", help="run the nightly-ingest flow once, in this process")
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
    from tasks import io

    urls = list(args.sources)
    if args.sources_file:
        for line in io.read_text(Path(args.sources_file)).splitlines():
            line = line.split("#", 1)[0].strip()
            if line:
                urls.append(line)
    return urls


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
        print(
            f"\npublished night {record['run_date']}: {published['articles']} articles, "
            f"{published['duplicates']} duplicates, {published['quarantined']} quarantined, "
            f"{published.get('unchanged', 0)} already published "
            f"(input {record['invariant']['input']} documents: all accounted for)"
        )
    for dataset, report in record["validations"].items():
        bad = [o["expectation"] for o in report["outcomes"] if not o["success"]]
        print(f"  checks {dataset:<12} {report['status']:<5} {', '.join(bad)}")
    print(f"run record: {record['data_dir']}/runs/{record['run_id']}.json")


def _cmd_run(args: argparse.Namespace) -> int:
    from flows.nightly import nightly_ingest
    from tasks.io import DataDirBusy
    from tasks.validate import QualityGateError

    _ensure_prefect_api()
    try:
        record = nightly_ingest(
            inbox=args.inbox,
            data_dir=args.data_dir,
            run_date=args.run_date,
            sources=_sources(args),
            workers=args.workers,
            expectations_dir=args.expectations_dir,
            lock_wait=args.lock_wait,
        )
    except DataDirBusy as exc:
        print(f"wiredesk: {exc}", file=sys.stderr)
        return 3
    except QualityGateError as exc:
        print(f"wiredesk: night not published: {exc}", file=sys.stderr)
        return 2
    except FileNotFoundError as exc:
        print(f"wiredesk: {exc}", file=sys.stderr)
        return 2
    print_summary(record)
    return 0


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

    from tasks.extract import detect_lang
    from tasks.repair import RepairConfig, repair_lines

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
    from flows.deployments import DEFAULT_CRON, DEFAULT_TIMEZONE, FULL_NAME

    serve = sub.add_parser(
        "serve",
        help=f"serve the deployment {FULL_NAME} (cron schedule and `prefect deployment run`)",
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
    serve(nightly_deployment(parameters=params, cron=args.cron, timezone=args.timezone))
    return 0


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
        "report", help="summarise the last runs and write a self-contained HTML report"
    )
    report.add_argument(
        "--data-dir", default="data", help="the data dir the runs wrote to (default: data)"
    )
    report.add_argument(
        "--runs", type=int, default=10, help="how many recent runs to show (default: 10)"
    )
    report.add_argument(
        "--out", default=None, help="HTML file to write (default: DATA_DIR/docs/report.html)"
    )


def _cmd_report(args: argparse.Namespace) -> int:
    from pathlib import Path

    from tasks.report import write_report

    text, path = write_report(
        Path(args.data_dir), Path(args.out) if args.out else None, max(1, args.runs)
    )
    print(text)
    print(f"\nHTML report: {path}")
    return 0


# --------------------------------------------------------------------------- wiring

COMMANDS: dict[str, tuple[Callable[[Any], None], Callable[[argparse.Namespace], int]]] = {
    "run": (_add_run, _cmd_run),
    "repair-text": (_add_repair_text, _cmd_repair_text),
    "serve": (_add_serve, _cmd_serve),
    "extract": (_add_extract, _cmd_extract),
    "report": (_add_report, _cmd_report),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="wiredesk", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for add, _ in COMMANDS.values():
        add(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _prefect_defaults()
    return COMMANDS[args.command][1](args)


if __name__ == "__main__":
    sys.exit(main())
