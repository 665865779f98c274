"""Measured figures of the benchmark scripts, one JSON file per benchmark run configuration.

Input: the figures a benchmark script measured (name -> number) and, per figure, its direction:
`higher` (a quality figure: F1, precision, recall, ARI, accuracy), `lower` (a cost: seconds,
MB, wrong merges, changed words) or `info` (context: document counts, a competitor's score).
Output: `benchmarks/results/<name>.json` with the command that measured them, when, on what
machine, the figures, and the limits the evaluation gate holds them to (`floors` for `higher`
figures, `ceilings` for `lower` ones; `tests/test_benchmark_floors.py`).

Limits are set by a human in the JSON file (or with `python benchmarks/results.py limits NAME`,
which fills the unset ones from the measured figures with a margin): a script that writes its
results again keeps every limit and `limits_note` already there (not a `note`, which is about
one measurement), and a new figure gets `null` (not checked) until someone sets it. Figures a
run did not measure are not written.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shlex
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from fnmatch import fnmatch
from pathlib import Path
from typing import Any, Literal

RESULTS = Path(__file__).resolve().parent / "results"
ROOT = RESULTS.parent.parent

Direction = Literal["higher", "lower", "info"]
DIRECTIONS: tuple[Direction, ...] = ("higher", "lower", "info")


def command_line() -> str:
    """The command that ran this process, as a user in the repository would type it."""
    script = Path(sys.argv[0]).resolve()
    try:
        shown = str(script.relative_to(ROOT))
    except ValueError:
        shown = str(script)
    return shlex.join([".venv/bin/python", shown, *sys.argv[1:]])


def machine() -> dict[str, Any]:
    return {
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(terse=True),
        "load_average_1min": round(os.getloadavg()[0], 2),
    }


def record(
    name: str,
    figures: Mapping[str, float | int],
    directions: Mapping[str, Direction],
    command: str | None = None,
    results: Path = RESULTS,
) -> Path:
    """Write `results/<name>.json`; limits and notes already in the file are kept.

    `directions` names the direction of each figure; a figure it omits is `info`."""
    unknown = set(directions) - set(figures)
    if unknown:
        raise ValueError(f"directions for figures not measured: {sorted(unknown)}")
    for key, value in figures.items():
        if not isinstance(value, int | float) or isinstance(value, bool) or math.isnan(value):
            raise ValueError(f"figure {key!r} is not a number: {value!r}")
    path = results / f"{name}.json"
    old: dict[str, Any] = json.loads(path.read_text("utf-8")) if path.exists() else {}
    direction = {key: directions.get(key, "info") for key in figures}
    floors = dict(old.get("floors", {}))
    ceilings = dict(old.get("ceilings", {}))
    for key, way in direction.items():
        if way == "higher":
            floors.setdefault(key, None)
        elif way == "lower":
            ceilings.setdefault(key, None)
    out: dict[str, Any] = {
        "command": command or command_line(),
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "figures": {k: round(v, 6) if isinstance(v, float) else v for k, v in figures.items()},
        "direction": direction,
        "floors": floors,
        "ceilings": ceilings,
    }
    for key, value in old.items():  # `limits_note` and other human keys survive a rewrite;
        if key not in out and key != "note":  # `note` is about one measurement, gone with it
            out[key] = value
    results.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(out, indent=1, ensure_ascii=False) + "\n", "utf-8")
    tmp.replace(path)
    print(f"figures written to {path}", file=sys.stderr)
    return path


def violations(result: Mapping[str, Any]) -> list[str]:
    """Every limit of one results file that its figures break, as `figure: why`."""
    figures = result.get("figures", {})
    found: list[str] = []
    for kind, limits in (
        ("floor", result.get("floors", {})),
        ("ceiling", result.get("ceilings", {})),
    ):
        for key, limit in limits.items():
            if limit is None:
                continue
            if key not in figures:
                found.append(f"{key}: has a {kind} of {limit} but was not measured")
            elif kind == "floor" and figures[key] < limit:
                found.append(f"{key}: {figures[key]} is below its floor {limit}")
            elif kind == "ceiling" and figures[key] > limit:
                found.append(f"{key}: {figures[key]} is above its ceiling {limit}")
    return found


def set_limits(
    path: Path,
    margin: float,
    relative: bool,
    note: str,
    kind: Literal["floors", "ceilings"] = "floors",
    keys: tuple[str, ...] = ("*",),
) -> int:
    """Fill the unset `kind` limits of a results file whose figure names match one of `keys`
    (globs): floor = figure - margin, ceiling = figure + margin (`relative`: margin is a share
    of the figure). Limits already set are kept; returns how many were set."""
    result = json.loads(path.read_text("utf-8"))
    changed = 0
    sign = -1 if kind == "floors" else 1
    for key, limit in result.get(kind, {}).items():
        if limit is None and key in result["figures"] and any(fnmatch(key, k) for k in keys):
            value = result["figures"][key]
            step = abs(value) * margin if relative else margin
            result[kind][key] = round(value + sign * step, 6)
            changed += 1
    notes = [n for n in result.get("limits_note", "").split("; ") if n]
    result["limits_note"] = "; ".join([*notes, note])
    path.write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n", "utf-8")
    return changed


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="List the results files, or set their limits.")
    sub = ap.add_subparsers(dest="cmd")
    limits = sub.add_parser("limits", help="fill the unset floors and ceilings of NAME")
    limits.add_argument("name", help="results file name without .json")
    limits.add_argument("--margin", type=float, default=0.01)
    limits.add_argument("--relative", action="store_true", help="margin is a share of the figure")
    limits.add_argument("--kind", choices=["floors", "ceilings"], default="floors")
    limits.add_argument("--keys", nargs="*", default=["*"], help="figure names (globs)")
    limits.add_argument("--note", default=None)
    args = ap.parse_args(argv)
    if args.cmd == "limits":
        path = RESULTS / f"{args.name}.json"
        how = f"{args.margin:.0%} of the figure" if args.relative else f"{args.margin}"
        sign = "-" if args.kind == "floors" else "+"
        note = args.note or (
            f"{args.kind} of {' '.join(args.keys)} set {datetime.now(UTC):%Y-%m-%d} "
            f"at measured {sign} {how}"
        )
        count = set_limits(path, args.margin, args.relative, note, args.kind, tuple(args.keys))
        print(f"{count} {args.kind} set in {path}")
        return 0
    for path in sorted(RESULTS.glob("*.json")):
        result = json.loads(path.read_text("utf-8"))
        broken = violations(result)
        status = f"{len(broken)} below floor / above ceiling" if broken else "ok"
        print(
            f"{path.name:<40} {result['measured_at']}  {len(result['figures'])} figures  {status}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
