"""The `wiredesk` console script: parses options and calls the flows. It holds no stage logic.

Each subcommand is a pair: `_add_<name>(subparsers)` declares its options and
`_cmd_<name>(args) -> int` runs it; `COMMANDS` lists them.

`wiredesk run [--inbox DIR] [--data-dir DIR] [--run-date YYYY-MM-DD] [--workers N]` runs the
`nightly-ingest` flow in this process against Prefect's local ephemeral API (or the server
PREFECT_API_URL points at) and prints a per-stage summary.

`wiredesk report [--data-dir DIR] [--runs N] [--out FILE]` prints the last runs' summary and
writes one self-contained HTML report (default `DATA_DIR/docs/report.html`).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

# Prefect's ephemeral API server takes 10-25 s to start on a loaded 2-core machine, past the
# default timeout; give it room unless the user chose a value.
EPHEMERAL_STARTUP_TIMEOUT = "120"


def _prefect_defaults() -> None:
    os.environ.setdefault(
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", EPHEMERAL_STARTUP_TIMEOUT
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


def print_summary(record: dict[str, Any]) -> None:
    from flows.nightly import stage_rows

    rows = stage_rows(record)
    headers = ["stage", "in", "kept", "quarantined", "duplicates", "seconds", "top reasons"]
    widths = {h: max(len(h), *(len(str(r[h])) for r in rows)) if rows else len(h) for h in headers}
    print()
    print("  ".join(h.ljust(widths[h]) for h in headers))
    for row in rows:
        print("  ".join(str(row[h]).ljust(widths[h]) for h in headers))
    published = record.get("published") or {}
    if published:
        print(
            f"\npublished night {record['run_date']}: {published['articles']} articles, "
            f"{published['duplicates']} duplicates, {published['quarantined']} quarantined "
            f"(input {record['invariant']['input']} documents: all accounted for)"
        )
    for dataset, report in record["validations"].items():
        bad = [o["expectation"] for o in report["outcomes"] if not o["success"]]
        print(f"  checks {dataset:<12} {report['status']:<5} {', '.join(bad)}")
    print(f"run record: {record['data_dir']}/runs/{record['run_id']}.json")


def _cmd_run(args: argparse.Namespace) -> int:
    from flows.nightly import nightly_ingest
    from tasks.validate import QualityGateError

    try:
        record = nightly_ingest(
            inbox=args.inbox,
            data_dir=args.data_dir,
            run_date=args.run_date,
            workers=args.workers,
            expectations_dir=args.expectations_dir,
        )
    except QualityGateError as exc:
        print(f"wiredesk: night not published: {exc}", file=sys.stderr)
        return 2
    except FileNotFoundError as exc:
        print(f"wiredesk: {exc}", file=sys.stderr)
        return 2
    print_summary(record)
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
