"""How fast the front door answers: `wiredesk --help`, `--version` and every bad-argument case,
each as a whole process, as a user types them (target: every one under 2 s, in one line).

Each case runs `.venv/bin/wiredesk ARGS` REPEAT times in a scratch folder (a file named
`README.md`, a sample inbox) and prints the median and worst wall seconds, the exit status and
the number of lines on stderr. A busy data dir is measured with a second process holding the
lock. Asserts nothing (timings on a shared machine are noisy); the tests check the statuses,
the one-line messages and that no case imports Prefect (tests/flows/test_cli.py).

    .venv/bin/python benchmarks/cli.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WIREDESK = ROOT / ".venv" / "bin" / "wiredesk"

CASES: list[list[str]] = [
    ["--help"],
    ["--version"],
    ["run", "--help"],
    ["run", "--run-date", "2026-13-45"],
    ["run", "--run-date", "20260314"],
    ["run", "--data-dir", "README.md"],
    ["run", "--inbox", "no/such/inbox"],
    ["run", "--workers", "0"],
    ["run", "--sources", "file:///etc/passwd"],
    ["report", "--night", "yesterday"],
    ["run", "--inbox", "inbox", "--data-dir", "busy"],  # with the lock held by another process
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="wiredesk-cli-"))
    (scratch / "README.md").write_text("a file")
    shutil.copytree(ROOT / "data" / "inbox", scratch / "inbox")
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import time; from pathlib import Path; from tasks.lock import DataDirLock\n"
            f"with DataDirLock(Path({str(scratch / 'busy')!r}), holder='benchmark'):\n"
            "    print('held', flush=True); time.sleep(600)\n",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    print(f"{'command':<52} {'median s':>8} {'worst s':>8} {'exit':>4} {'stderr lines':>12}")
    figures: dict[str, float] = {"repeat": args.repeat}
    try:
        for case in CASES:
            times, status, lines = [], None, 0
            for _ in range(args.repeat):
                started = time.perf_counter()
                done = subprocess.run(
                    [str(WIREDESK), *case], cwd=scratch, capture_output=True, text=True
                )
                times.append(time.perf_counter() - started)
                status, lines = done.returncode, len(done.stderr.strip().splitlines())
            name = "wiredesk " + " ".join(case)
            print(
                f"{name:<52} {statistics.median(times):>8.2f} {max(times):>8.2f} "
                f"{status:>4} {lines:>12}"
            )
            figures[f"{name}.median_seconds"] = statistics.median(times)
            figures[f"{name}.worst_seconds"] = max(times)
            figures[f"{name}.exit_status"] = status or 0
    finally:
        holder.kill()
        shutil.rmtree(scratch, ignore_errors=True)
    _record(figures)


def _record(figures: dict[str, float]) -> None:
    """`benchmarks/results/cli.json`: each case's seconds (costs; the target is 2 s) and its
    exit status (information: tests/flows/test_cli.py checks the statuses)."""
    sys.path.insert(0, str(ROOT))
    from benchmarks.results import record

    record("cli", figures, {k: "lower" for k in figures if k.endswith("_seconds")})


if __name__ == "__main__":
    main()
