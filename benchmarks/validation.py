"""What validation costs next to the processing of the same batch (target: under 10%).

Runs the `nightly-ingest` flow once on the first N documents (default 10,000) of the large
syndication set (../shared/data/syndication/large/docs, copied into a scratch inbox), then reads
the run record: processing = the seconds of the four stages (ingest, extract, repair, dedup);
validation = the seconds of every validation task (suite loading, reading the staged data,
quality metrics, Great Expectations, setting rows aside, storing the GX result). Data Docs are
rebuilt once afterwards and timed on their own. Prints the figures and the ratio; asserts
nothing (timings on a shared machine are noisy: compare ratios measured in one run).

    .venv/bin/python benchmarks/validation.py [--docs 10000] [--workers N] [--keep DIR]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DEFAULT_SOURCE = ROOT.parent / "shared" / "data" / "syndication" / "large" / "docs"


def make_inbox(source: Path, inbox: Path, n: int) -> int:
    files = sorted(p for p in source.iterdir() if p.is_file())[:n]
    inbox.mkdir(parents=True)
    for path in files:
        try:
            os.link(path, inbox / path.name)
        except OSError:
            shutil.copyfile(path, inbox / path.name)
    return len(files)


def gx_import_seconds() -> float:
    code = (
        "import time; t = time.monotonic(); import great_expectations; print(time.monotonic() - t)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=10_000)
    parser.add_argument("--source", default=str(DEFAULT_SOURCE))
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--keep", default=None, help="work here and keep it (default: a tmp dir)")
    args = parser.parse_args()
    source = Path(args.source)
    if not source.is_dir():
        print(f"no documents at {source}", file=sys.stderr)
        return 1
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")

    from flows.nightly import nightly_ingest
    from tasks import io
    from tasks.validate.suites import ValidateConfig, build_docs

    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="wiredesk-bench-"))
    try:
        count = make_inbox(source, work / "inbox", args.docs)
        print(f"inbox: {count} documents from {source}")
        started = time.monotonic()
        record = nightly_ingest(
            inbox=str(work / "inbox"), data_dir=str(work / "data"), workers=args.workers
        )
        wall = time.monotonic() - started
        # The four processing stages (the record also holds publish and state summaries).
        stages = {
            s: record["stages"][s]["seconds"] for s in ("ingest", "extract", "repair", "dedup")
        }
        checks = {d: r["seconds"] for d, r in record["validations"].items()}
        processing = sum(stages.values())
        validation = sum(checks.values())

        layout = io.Layout(Path(record["data_dir"]), record["run_date"])
        docs_cfg = ValidateConfig(
            run_id=record["run_id"], run_started_at=datetime.fromisoformat(record["started_at"])
        )
        t0 = time.monotonic()
        # Only datasets with a stored GX result (an empty one has none), as the flow does.
        stored = [d for d, r in record["validations"].items() if r.get("status") != "empty"]
        build_docs(layout, docs_cfg, stored)
        docs = time.monotonic() - t0

        rows = {d: r["rows"] for d, r in record["validations"].items()}
        print(f"status: {record['status']}, invariant: {record['invariant']}")
        print(f"{'stage':<10} {'seconds':>9}    {'validation':<12} {'rows':>6} {'seconds':>9}")
        pairs = list(zip(stages.items(), list(checks.items())[: len(stages)], strict=False))
        for (stage, secs), (dataset, vsecs) in pairs:
            print(f"{stage:<10} {secs:>9.2f}    {dataset:<12} {rows[dataset]:>6} {vsecs:>9.2f}")
        for dataset, vsecs in list(checks.items())[len(stages) :]:
            print(f"{'':<10} {'':>9}    {dataset:<12} {rows[dataset]:>6} {vsecs:>9.2f}")
        print(f"processing (4 stages): {processing:.1f} s")
        print(f"validation (5 datasets): {validation:.1f} s")
        print(f"validation / processing: {100 * validation / processing:.2f} %")
        print(f"GX Data Docs rebuild for the run: {docs:.1f} s")
        print(
            f"GX import in a fresh process: {gx_import_seconds():.1f} s "
            "(paid once per run, inside the first validation)"
        )
        print(f"flow wall time: {wall:.1f} s")
        _record(args.docs, count, stages, checks, docs, wall)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    return 0


def _record(
    n: int,
    count: int,
    stages: dict[str, float],
    checks: dict[str, float],
    docs: float,
    wall: float,
) -> None:
    """`benchmarks/results/validation_<N>.json`: the share validation takes (a cost with the
    target of 10 % as its ceiling) and the seconds it is made of (information)."""
    from benchmarks.results import record

    processing, validation = sum(stages.values()), sum(checks.values())
    figures: dict[str, float] = {"documents": count}
    figures |= {f"stage.{stage}.seconds": secs for stage, secs in stages.items()}
    figures |= {f"validation.{dataset}.seconds": secs for dataset, secs in checks.items()}
    figures |= {
        "processing_seconds": processing,
        "validation_seconds": validation,
        "validation_percent_of_processing": 100 * validation / processing,
        "data_docs_rebuild_seconds": docs,
        "flow_wall_seconds": wall,
    }
    record(f"validation_{n}", figures, {"validation_percent_of_processing": "lower"})


if __name__ == "__main__":
    sys.exit(main())
