"""Dedup benchmark: wiredesk's dedup stage beside rensa and datatrove, side by side in one run.

Prints one row per system (pairwise precision/recall same-language, ARI, translation recall,
hard-negative cluster pairs merged, seconds, docs/s, peak RSS), every system scored with
`../shared/tools/score_dedup.py` on the same text: the extracted and repaired text of the
benchmark as wiredesk's own extract and repair stages produce it (`staged/repaired` of a
`wiredesk run` over the benchmark's `docs/`). Timings cover the dedup step only (text already in
memory for every system), each system in a fresh process of its own, measured one after the
other in this one run so that the machine's load is comparable; compare ratios, not absolute
figures. Ours is timed on its first night in its process, as the pipeline runs every night;
"seconds again" is the same night run again in that process (memory already mapped).

How to run (the text cache is built once, it takes minutes on `large`):

    wiredesk run --inbox ../shared/data/syndication/small/docs --data-dir /tmp/wd-small
    python3 -m uv venv -p 3.11 /tmp/bench-venv
    python3 -m uv pip install -p /tmp/bench-venv rensa==0.5.0 datatrove==0.10.1 \\
        spacy regex "xxhash<4" tokenizers orjson
    .venv/bin/python benchmarks/dedup.py --set small --data-dir /tmp/wd-small \\
        --competitors-python /tmp/bench-venv/bin/python

The competitors live in their own venv (datatrove pins and pulls packages that wiredesk does not
need: spacy, tokenizers; datatrove 0.10.1 hashes str, which xxhash 4 refuses). They run as
BASELINES.md describes: rensa 0.5 RMinHash with 128 permutations over word 5-gram shingles of
the NFKC-casefolded word tokens, RMinHashLSH threshold 0.7 with 16 bands, candidates joined by
union-find, no verification; datatrove 0.10.1's four MinHash stages with the default
MinhashConfig and LocalPipelineExecutor (stage 2 with 14 tasks on 2 workers).
`--evaluate-run` also scores the published output of the `wiredesk run`
itself (the evaluation interface: `source_path` and `cluster_id` of every published row).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
SCORER = SHARED / "tools" / "score_dedup.py"

COMPETITORS = r"""
import json, re, sys, time, unicodedata


def peak_rss_mb():
    # VmHWM starts afresh at exec (ru_maxrss would carry the forking parent's peak over).
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


# A main guard: datatrove's executor starts processes that import this module again.
def main():
    system, texts_path, out_path, work = sys.argv[1:5]
    docs = [json.loads(l) for l in open(texts_path, encoding="utf-8")]
    WORD = re.compile(r"\w+", re.UNICODE)
    def shingles(text):
        toks = WORD.findall(unicodedata.normalize("NFKC", text).casefold())
        return [" ".join(toks[i:i + 5]) for i in range(max(1, len(toks) - 4))] if toks else []
    clusters = {}
    if system == "rensa":
        from rensa import RMinHash, RMinHashLSH
        start = time.perf_counter()
        lsh = RMinHashLSH(threshold=0.7, num_perm=128, num_bands=16)
        sigs = {}
        for i, d in enumerate(docs):
            sh = shingles(d["text"])
            if not sh:
                continue
            m = RMinHash(num_perm=128, seed=42)
            m.update(sh)
            sigs[i] = m
            lsh.insert(i, m)
        parent = list(range(len(docs)))
        def find(x):
            while parent[x] != x:
                parent[x] = parent[parent[x]]
                x = parent[x]
            return x
        for i, m in sigs.items():
            for j in lsh.query(m):
                a, b = find(i), find(j)
                if a != b:
                    parent[max(a, b)] = min(a, b)
        clusters = {d["id"]: find(i) for i, d in enumerate(docs)}
        seconds = time.perf_counter() - start
    elif system == "datatrove":
        import os
        from datatrove.executor.local import LocalPipelineExecutor
        from datatrove.pipeline.dedup.minhash import (MinhashConfig, MinhashDedupBuckets,
            MinhashDedupCluster, MinhashDedupFilter, MinhashDedupSignature)
        from datatrove.pipeline.readers import JsonlReader
        from datatrove.pipeline.writers import JsonlWriter
        inp = os.path.join(work, "input")
        os.makedirs(inp, exist_ok=True)
        with open(os.path.join(inp, "docs.jsonl"), "w", encoding="utf-8") as f:
            for d in docs:
                f.write(json.dumps({"id": d["id"], "text": d["text"]}) + "\n")
        cfg = MinhashConfig()
        start = time.perf_counter()
        LocalPipelineExecutor(pipeline=[JsonlReader(inp), MinhashDedupSignature(
            output_folder=f"{work}/sigs", config=cfg)], tasks=1, workers=1,
            logging_dir=f"{work}/logs/1").run()
        LocalPipelineExecutor(pipeline=[MinhashDedupBuckets(input_folder=f"{work}/sigs",
            output_folder=f"{work}/buckets", config=cfg)], tasks=cfg.num_buckets, workers=2,
            logging_dir=f"{work}/logs/2").run()
        LocalPipelineExecutor(pipeline=[MinhashDedupCluster(input_folder=f"{work}/buckets",
            output_folder=f"{work}/remove", config=cfg, save_cluster_id=True)], tasks=1,
            workers=1, logging_dir=f"{work}/logs/3").run()
        LocalPipelineExecutor(pipeline=[JsonlReader(inp), MinhashDedupFilter(
            input_folder=f"{work}/remove", load_cluster_ids=True,
            exclusion_writer=JsonlWriter(f"{work}/removed")), JsonlWriter(f"{work}/kept")],
            tasks=1, workers=1, logging_dir=f"{work}/logs/4").run()
        seconds = time.perf_counter() - start
        import gzip, glob
        for folder in ("kept", "removed"):
            for path in glob.glob(f"{work}/{folder}/*"):
                opener = gzip.open if path.endswith(".gz") else open
                for line in opener(path, "rt", encoding="utf-8"):
                    r = json.loads(line)
                    cid = r["metadata"].get("minhash_cluster_id", -1)
                    clusters[r["id"]] = f"c{cid}" if cid != -1 else f"s{r['id']}"
    with open(out_path, "w", encoding="utf-8") as f:
        for d in docs:
            cid = str(clusters.get(d["id"], d["id"]))
            f.write(json.dumps({"doc_id": d["id"], "cluster_id": cid}) + "\n")
    print(json.dumps({"seconds": seconds, "peak_rss_mb": peak_rss_mb()}))


if __name__ == "__main__":
    main()
"""


def peak_rss_mb() -> float:
    """This process's peak resident memory (VmHWM), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def doc_id_of(source_path: str) -> str:
    """The benchmark's doc_id from an inbox-relative path (`d0051709bad4a.txt.gz`)."""
    return Path(source_path).name.split(".")[0]


def score(labels: Path, preds: Path) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, str(SCORER), "--labels", str(labels), "--pred", str(preds)],
        capture_output=True,
        text=True,
        check=True,
    )
    result: dict[str, Any] = json.loads(out.stdout)
    return result


def write_preds(path: Path, pairs: list[tuple[str, str]]) -> None:
    with path.open("w", encoding="utf-8") as f:
        for doc, cluster in pairs:
            f.write(json.dumps({"doc_id": doc, "cluster_id": cluster}) + "\n")


def load_text(text_dir: Path) -> Any:
    """The staged text as REPAIRED rows (an `extracted` dataset gets empty repair columns)."""
    import pyarrow as pa
    import pyarrow.dataset as ds

    from tasks.schema import REPAIRED

    table = ds.dataset(text_dir, format="parquet").to_table()
    if "template_tags" not in table.column_names:
        raise SystemExit(
            f"{text_dir} was staged before the extract stage took the pages' template tags: "
            "run `wiredesk run` over the benchmark's docs again to rebuild it"
        )
    if "repairs" not in table.column_names:
        table = table.append_column(
            "repairs", pa.nulls(table.num_rows, REPAIRED.field("repairs").type)
        ).append_column("mojibake_score", pa.array([0.0] * table.num_rows, pa.float64()))
    return table


def time_ours(text_dir: Path, preds: Path, workers: int) -> dict[str, Any]:
    """Our dedup of the text in this process: the first night (as every night of the pipeline
    runs, each flow run a fresh process) timed, then the same night again (`warm_seconds`:
    memory already mapped, caches built; 0.3-0.7 s less on `large`)."""
    from tasks.dedup.night import DedupConfig, dedup_night

    table = load_text(text_dir)
    cfg = DedupConfig(run_id="benchmark", workers=workers)
    start = time.perf_counter()
    result = dedup_night(table, cfg, run_date="2000-01-01")
    seconds = time.perf_counter() - start
    peak = peak_rss_mb()  # the first night's
    rows = result.deduped.select(["source_path", "cluster_id"]).to_pylist()
    write_preds(preds, [(doc_id_of(r["source_path"]), r["cluster_id"]) for r in rows])
    del result, rows
    start = time.perf_counter()
    dedup_night(table, cfg, run_date="2000-01-01")
    warm = time.perf_counter() - start
    return {"seconds": seconds, "warm_seconds": warm, "peak_rss_mb": peak}


def run_timed(name: str, command: list[str]) -> dict[str, Any]:
    """Run a timing process; its last stdout line is its JSON result."""
    out = subprocess.run(command, capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"{name} failed:\n{out.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def run_ours(text_dir: Path, preds: Path, workers: int) -> dict[str, Any]:
    """`time_ours` in a fresh process, as the competitors run (its own peak RSS, nothing
    mapped or cached by an earlier run)."""
    return run_timed(
        "wiredesk dedup",
        [sys.executable, __file__, "--time-ours", str(text_dir), str(preds), str(workers)],
    )


def run_competitor(
    python: str, system: str, texts: Path, preds: Path, work: Path
) -> dict[str, Any]:
    script = work / "competitors.py"
    script.write_text(COMPETITORS, encoding="utf-8")
    return run_timed(
        system, [python, str(script), system, str(texts), str(preds), str(work / system)]
    )


def published_preds(data_dir: Path, preds: Path) -> int:
    import pyarrow.dataset as ds

    rows: list[dict[str, Any]] = []
    for table in ("articles", "duplicates"):
        rows += (
            ds.dataset(data_dir / "curated" / table, format="parquet", partitioning="hive")
            .to_table(columns=["source_path", "cluster_id"])
            .to_pylist()
        )
    write_preds(preds, [(doc_id_of(r["source_path"]), r["cluster_id"]) for r in rows])
    return len(rows)


def row(name: str, metrics: dict[str, Any], timing: dict[str, Any] | None, docs: int) -> str:
    same = metrics["pairwise"]["same_language"]
    hn = metrics["hard_negatives"]
    cells = [
        name,
        f"{same['precision']:.4f}",
        f"{same['recall']:.4f}",
        f"{metrics['ari']:.4f}",
        f"{metrics['translation_recall'] or 0:.4f}",
        f"{hn['cluster_pairs_merged']}/{hn['cluster_pairs']}",
        f"{hn['doc_pairs_merged']}/{hn['doc_pairs']}",
    ]
    if timing:
        warm = timing.get("warm_seconds")
        cells += [
            f"{timing['seconds']:.2f}",
            f"{docs / timing['seconds']:.0f}",
            f"{warm:.2f}" if warm else "",
            f"{timing['peak_rss_mb']:.0f}",
        ]
    else:
        cells += ["", "", "", ""]
    return "| " + " | ".join(cells) + " |"


def main(argv: list[str] | None = None) -> int:
    sys.path.insert(0, str(ROOT))
    from benchmarks.results import record

    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--time-ours"]:  # run_ours's fresh process
        text_dir, preds, workers = argv[1:]
        print(json.dumps(time_ours(Path(text_dir), Path(preds), int(workers))))
        return 0
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--set", default="small", help="syndication set: small or large")
    ap.add_argument("--data-dir", type=Path, required=True, help="data dir of a wiredesk run")
    ap.add_argument("--run-date", default=None, help="night of that run (default: the only one)")
    ap.add_argument("--competitors-python", default="/tmp/bench-venv/bin/python")
    ap.add_argument(
        "--text",
        default="repaired",
        choices=["repaired", "extracted"],
        help="staged dataset whose text is compared (default: repaired, as in the pipeline)",
    )
    ap.add_argument("--skip", nargs="*", default=[], help="systems to leave out")
    ap.add_argument("--evaluate-run", action="store_true", help="also score the published run")
    args = ap.parse_args(argv)

    labels = SHARED / "data" / "syndication" / args.set
    if not labels.is_dir():
        print(f"{labels} is absent: nothing to measure", file=sys.stderr)
        return 2
    staged = args.data_dir / "staged" / args.text
    nights = sorted(p.name for p in staged.glob("run_date=*"))
    night = f"run_date={args.run_date}" if args.run_date else (nights[-1] if nights else "")
    repaired = staged / night
    if not repaired.is_dir():
        print(f"no repaired text under {staged}: run wiredesk first (see --help)", file=sys.stderr)
        return 2

    import pyarrow.dataset as ds

    table = ds.dataset(repaired, format="parquet").to_table(columns=["source_path", "text"])
    docs = table.num_rows
    lines = [
        "| system | P same-lang | R same-lang | ARI | translation recall | hard-neg. clusters"
        " merged | hard-neg. doc pairs merged | seconds | docs/s | seconds again (warm) |"
        " peak RSS MB |",
        "|" + " --- |" * 11,
    ]
    with tempfile.TemporaryDirectory(prefix="wd-bench-") as tmp:
        work = Path(tmp)
        texts = work / "texts.jsonl"
        with texts.open("w", encoding="utf-8") as f:
            for r in table.to_pylist():
                f.write(json.dumps({"id": doc_id_of(r["source_path"]), "text": r["text"]}) + "\n")
        figures: dict[str, float] = {"documents": docs}
        directions: dict[str, Any] = {}
        for workers in (1, 2):
            preds = work / f"wiredesk-{workers}.jsonl"
            timing = run_ours(repaired, preds, workers)
            name = f"wiredesk dedup ({workers} process{'es' if workers > 1 else ''})"
            metrics = score(labels, preds)
            lines.append(row(name, metrics, timing, docs))
            _figures(figures, directions, f"wiredesk_{workers}proc", metrics, timing, docs)
        for system in ("rensa", "datatrove"):
            if system in args.skip:
                continue
            preds = work / f"{system}.jsonl"
            timing = run_competitor(args.competitors_python, system, texts, preds, work)
            metrics = score(labels, preds)
            lines.append(row(system, metrics, timing, docs))
            _figures(figures, None, system, metrics, timing, docs)  # a baseline: information
        if args.evaluate_run:
            preds = work / "published.jsonl"
            published_preds(args.data_dir, preds)
            metrics = score(labels, preds)
            lines.append(row("wiredesk run (published)", metrics, None, docs))
            _figures(figures, directions, "wiredesk_run_published", metrics, None, docs)
    print(f"set {args.set}: {docs} documents, text from {repaired}")
    print("\n".join(lines))
    name = f"dedup_{args.set}" + ("" if args.text == "repaired" else f"_{args.text}")
    record(name, figures, directions)
    return 0


def _figures(
    figures: dict[str, float],
    directions: dict[str, Any] | None,
    system: str,
    metrics: dict[str, Any],
    timing: dict[str, Any] | None,
    docs: int,
) -> None:
    """One system's row as figures for `benchmarks/results/dedup_<set>.json`: its quality
    against floors and ceilings (when `directions` is ours), its timings as information."""
    same = metrics["pairwise"]["same_language"]
    hn = metrics["hard_negatives"]
    quality = {
        "precision_same_lang": (same["precision"], "higher"),
        "recall_same_lang": (same["recall"], "higher"),
        "ari": (metrics["ari"], "higher"),
        "translation_recall": (metrics["translation_recall"] or 0.0, "higher"),
        "cross_lang_precision": (metrics["pairwise"]["cross_language"]["precision"], "higher"),
        "hard_neg_cluster_pairs_merged": (hn["cluster_pairs_merged"], "lower"),
        "hard_neg_doc_pairs_merged": (hn["doc_pairs_merged"], "lower"),
    }
    for key, (value, way) in quality.items():
        if value is None:
            continue
        figures[f"{system}.{key}"] = value
        if directions is not None:
            directions[f"{system}.{key}"] = way
    if timing:
        figures[f"{system}.seconds"] = timing["seconds"]
        figures[f"{system}.docs_per_second"] = docs / timing["seconds"]
        figures[f"{system}.peak_rss_mb"] = timing["peak_rss_mb"]
        if timing.get("warm_seconds"):
            figures[f"{system}.seconds_again_warm"] = timing["warm_seconds"]
        if directions is not None:  # costs a human may give a ceiling
            directions[f"{system}.seconds"] = directions[f"{system}.peak_rss_mb"] = "lower"


if __name__ == "__main__":
    sys.exit(main())
