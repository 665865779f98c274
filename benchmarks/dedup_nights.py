"""Dedup across nights: time, peak memory and state size as the history grows.

Splits the extracted and repaired text of a benchmark set (`staged/repaired` of a `wiredesk run`,
see benchmarks/dedup.py) into N nights (documents dealt by a hash of their id), runs the dedup
stage's `run_dedup` night after night in a fresh process each (so each night's peak RSS is its
own) against one growing `state/dedup`, and prints per night: documents, history size, seconds,
peak RSS, state bytes on disk, bytes of state per document. At the end it scores the union of
all nights' clusters with `../shared/tools/score_dedup.py`, which shows what matching across
nights costs in quality against one big night.

    .venv/bin/python benchmarks/dedup_nights.py --set small --data-dir /tmp/wd-small --nights 4
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

ONE_NIGHT = r"""
import json, sys, time
from pathlib import Path


# A main guard: with workers > 1 the dedup stage starts spawned processes, which import the
# main module again.
def main():
    sys.path.insert(0, sys.argv[1])
    from tasks import io
    from tasks.dedup.night import DedupConfig, commit_state, run_dedup
    layout = io.Layout(Path(sys.argv[2]), sys.argv[3])
    start = time.perf_counter()
    cfg = DedupConfig(run_id="bench-" + sys.argv[3], workers=int(sys.argv[4]))
    result = run_dedup(layout, cfg, lambda message: None)
    commit_state(layout)  # as the flow does after publish
    seconds = time.perf_counter() - start
    # VmHWM starts afresh at exec (ru_maxrss would carry the forking parent's peak over).
    peak = next(
        int(l.split()[1]) / 1024 for l in open("/proc/self/status") if l.startswith("VmHWM:")
    )
    print(json.dumps({"seconds": seconds, "peak_rss_mb": peak, "extra": result.extra}))


if __name__ == "__main__":
    main()
"""


def main(argv: list[str] | None = None) -> int:
    sys.path.insert(0, str(ROOT))
    import pyarrow.dataset as ds

    from benchmarks.dedup import doc_id_of, load_text, score, write_preds
    from tasks import io
    from tasks.schema import REPAIRED

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--set", default="small")
    ap.add_argument("--data-dir", type=Path, required=True)
    ap.add_argument("--nights", type=int, default=4)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--text", default="repaired", choices=["repaired", "extracted"])
    ap.add_argument("--keep", type=Path, help="write the nights here and keep them (a new dir)")
    args = ap.parse_args(argv)
    labels = ROOT.parent / "shared" / "data" / "syndication" / args.set
    staged = sorted((args.data_dir / "staged" / args.text).glob("run_date=*"))
    if not staged or not labels.is_dir():
        print("need a wiredesk run's staged/repaired and the benchmark labels", file=sys.stderr)
        return 2
    table = load_text(staged[-1])
    ids = table.column("doc_id").to_pylist()
    night_of = [int(hashlib.sha256(d.encode()).hexdigest(), 16) % args.nights for d in ids]
    print(
        "| night | documents | history | seconds | docs/s | peak RSS MB | state MB | "
        "state KB/doc |\n|" + " --- |" * 8
    )
    with tempfile.TemporaryDirectory(prefix="wd-nights-") as tmp:
        data = args.keep or Path(tmp)
        if args.keep:
            data.mkdir(parents=True)
        script = data / "one_night.py"
        script.write_text(ONE_NIGHT, encoding="utf-8")
        history = 0
        figures: dict[str, float] = {"documents": table.num_rows, "nights": args.nights}
        for night in range(args.nights):
            date = f"2026-01-{night + 1:02d}"
            mask = [n == night for n in night_of]
            part = table.filter(mask)
            layout = io.Layout(data, date)
            # The pages' template tags travel in the text's own `template_tags` column.
            io.write_partition(data, layout.staged("repaired"), [part], REPAIRED)
            out = subprocess.run(
                [sys.executable, str(script), str(ROOT), str(data), date, str(args.workers)],
                capture_output=True,
                text=True,
                check=True,
            )
            timing = json.loads(out.stdout.strip().splitlines()[-1])
            history += part.num_rows
            state_bytes = sum(
                p.stat().st_size for p in (data / "state").rglob("*.parquet") if p.is_file()
            )
            print(
                f"| {date} | {part.num_rows} | {history - part.num_rows} | "
                f"{timing['seconds']:.2f} | {part.num_rows / timing['seconds']:.0f} | "
                f"{timing['peak_rss_mb']:.0f} | {state_bytes / 2**20:.1f} | "
                f"{state_bytes / 1024 / history:.2f} |"
            )
            figures[f"night{night + 1}.documents"] = part.num_rows
            figures[f"night{night + 1}.history"] = history - part.num_rows
            figures[f"night{night + 1}.seconds"] = timing["seconds"]
            figures[f"night{night + 1}.peak_rss_mb"] = timing["peak_rss_mb"]
            figures[f"night{night + 1}.state_kb_per_doc"] = state_bytes / 1024 / history
        rows = ds.dataset(data / "staged" / "deduped", format="parquet", partitioning="hive")
        pairs = [
            (doc_id_of(r["source_path"]), r["cluster_id"])
            for r in rows.to_table(columns=["source_path", "cluster_id"]).to_pylist()
        ]
        preds = data / "preds.jsonl"
        write_preds(preds, pairs)
        metrics = score(labels, preds)
    same = metrics["pairwise"]["same_language"]
    print(
        f"all nights together: P same-lang {same['precision']:.4f}, R {same['recall']:.4f}, "
        f"ARI {metrics['ari']:.4f}, translation recall {metrics['translation_recall']}, "
        f"hard-neg. clusters merged {metrics['hard_negatives']['cluster_pairs_merged']}/"
        f"{metrics['hard_negatives']['cluster_pairs']} (document pairs "
        f"{metrics['hard_negatives']['doc_pairs_merged']}/"
        f"{metrics['hard_negatives']['doc_pairs']}), cross-language pair precision "
        f"{metrics['pairwise']['cross_language']['precision']:.4f}"
    )
    _record(args, figures, metrics)
    return 0


def _record(args: argparse.Namespace, figures: dict[str, float], metrics: dict[str, Any]) -> None:
    """`benchmarks/results/dedup_nights_<set>_<N>.json`: quality of all nights together
    (floors and ceilings), time, memory and state size per night (costs)."""
    from benchmarks.results import record

    same = metrics["pairwise"]["same_language"]
    hn = metrics["hard_negatives"]
    quality = {
        "precision_same_lang": (same["precision"], "higher"),
        "recall_same_lang": (same["recall"], "higher"),
        "ari": (metrics["ari"], "higher"),
        "translation_recall": (metrics["translation_recall"], "higher"),
        "cross_lang_precision": (metrics["pairwise"]["cross_language"]["precision"], "higher"),
        "hard_neg_cluster_pairs_merged": (hn["cluster_pairs_merged"], "lower"),
        "hard_neg_doc_pairs_merged": (hn["doc_pairs_merged"], "lower"),
    }
    directions: dict[str, Any] = {}
    for key, (value, way) in quality.items():
        if value is not None:
            figures[key] = value
            directions[key] = way
    for key in figures:
        if key.endswith((".seconds", ".peak_rss_mb", ".state_kb_per_doc")):
            directions[key] = "lower"
    name = f"dedup_nights_{args.set}_{args.nights}" + (
        "" if args.workers == 2 else f"_workers{args.workers}"
    )
    record(name, figures, directions)


if __name__ == "__main__":
    sys.exit(main())
