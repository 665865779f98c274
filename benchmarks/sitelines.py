"""Site-level boilerplate learned across nights, on real site chrome around known articles.

Data: the HTML documents of `../shared/data/syndication/large` (shared part): real pages of ~950
sites whose own article was cut out and replaced by another article; `labels.jsonl` names each
document's site and the article it carries. Sites with at least `--min-docs` documents are used;
each site's documents are split in two "nights" (first half, second half, by doc id). Night one
goes through the extract stage and `tasks.extract.sitelines.learn`; night two is extracted twice,
without and with the learned model, by the stage's pure function. Printed: how many lines and
characters the model strips on night two beyond the other rules, and how many of those stripped
lines belong to the article the page carries (a line is "article" when at least half of its word
4-grams are in the article text: the scrapinghub_aeb ground truth or the SemEval text).

    .venv/bin/python benchmarks/sitelines.py [--data ../shared/data] [--min-docs 12] [--sites N]
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import sys
from collections import defaultdict
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from flows.extractfiles import extract_config  # noqa: E402
from tasks.extract.page import extract_document  # noqa: E402
from tasks.extract.sitelines import (  # noqa: E402
    SITE_LINES,
    SITE_PAGES,
    boilerplate_model,
    learn,
    page_line_keys,
)

DEFAULT_DATA = ROOT.parent / "shared" / "data"
_TOKEN = re.compile(r"\w+")


def shingles(text: str) -> set[tuple[str, ...]]:
    tokens = _TOKEN.findall(text)
    if len(tokens) < 4:
        return {tuple(tokens)} if tokens else set()
    return {tuple(tokens[i : i + 4]) for i in range(len(tokens) - 3)}


def article_texts(data: Path) -> dict[str, str]:
    texts: dict[str, str] = {}
    aeb = data / "boilerplate" / "scrapinghub_aeb" / "ground-truth.json"
    if aeb.exists():
        for pid, item in json.loads(aeb.read_text("utf-8")).items():
            texts[f"scrapinghub_aeb:{pid}"] = item["articleBody"]
    pairs = data / "semeval2022_task8_hfl" / "pairs.jsonl.gz"
    if pairs.exists():
        with gzip.open(pairs, "rt", encoding="utf-8") as fh:
            for line in fh:
                row = json.loads(line)
                for side in ("1", "2"):
                    texts.setdefault(f"semeval:{row[f'article_id_{side}']}", row[f"text{side}"])
    return texts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--min-docs", type=int, default=12)
    parser.add_argument("--sites", type=int, default=0, help="at most N sites (0: all)")
    args = parser.parse_args()
    bench = args.data / "syndication" / "large"
    if not bench.is_dir():
        print(f"no syndication data at {bench}", file=sys.stderr)
        return 2
    by_site: dict[str, list[dict[str, str]]] = defaultdict(list)
    with (bench / "labels.jsonl").open(encoding="utf-8") as fh:
        for line in fh:
            label = json.loads(line)
            if label["format"] == "html":
                by_site[label["site"]].append(label)
    sites = sorted(s for s, docs in by_site.items() if len(docs) >= args.min_docs)
    sites = sites[: args.sites or None]
    texts = article_texts(args.data)
    cfg = extract_config()

    def extract(label: dict[str, str], model_cfg: object) -> dict[str, object] | None:
        body = gzip.decompress((bench / label["file"]).read_bytes())
        row = {
            "body": body,
            "declared_charset": None,
            "content_type": "html",
            "url": f"https://{label['site']}/{label['doc_id']}",
            "site": label["site"],
            "fetched_at": None,
        }
        try:
            return extract_document(row, model_cfg)  # type: ignore[arg-type]
        except Exception:
            return None

    night_one, night_two = [], []
    for site in sites:
        docs = sorted(by_site[site], key=lambda d: d["doc_id"])
        half = len(docs) // 2
        night_one += docs[:half]
        night_two += docs[half:]
    pages = []
    for label in night_one:
        out = extract(label, cfg)
        if out:
            keys = page_line_keys(str(out["text"]), out["stripped"])  # type: ignore[arg-type]
            pages.append((label["site"], f"https://{label['site']}/{label['doc_id']}", keys))
    empty = (SITE_LINES.empty_table(), SITE_PAGES.empty_table())
    lines, site_pages = learn(*empty, pages, "2026-03-01")
    model = boilerplate_model(lines, site_pages)
    with_model = replace(cfg, site_boilerplate=model)
    stripped_lines = stripped_chars = article_lines = checked = docs_hit = 0
    kept_chars = 0
    for label in night_two:
        out = extract(label, with_model)
        if not out:
            continue
        kept_chars += len(str(out["text"]))
        site_lines = [
            s.partition(": ")[2]
            for s in out["stripped"]  # type: ignore[attr-defined]
            if s.startswith("site_boilerplate: ")
        ]
        docs_hit += bool(site_lines)
        stripped_lines += len(site_lines)
        stripped_chars += sum(len(s) for s in site_lines)
        article = texts.get(label["source"])
        if article:
            truth = shingles(article)
            for line in site_lines:
                grams = shingles(line)
                checked += 1
                article_lines += bool(grams) and len(grams & truth) >= 0.5 * len(grams)
    print(
        f"sites {len(sites)}, night one {len(night_one)} pages -> model of {len(model)} lines; "
        f"night two {len(night_two)} pages"
    )
    print(
        f"site_boilerplate on night two: {stripped_lines} lines, {stripped_chars} characters "
        f"({100 * stripped_chars / max(1, stripped_chars + kept_chars):.1f}% of what the other "
        f"rules kept), on {docs_hit} pages"
    )
    print(
        f"of {checked} stripped lines on pages whose article text is known, {article_lines} "
        f"belong to the article ({100 * article_lines / max(1, checked):.2f}%)"
    )
    from benchmarks.results import record

    figures = {
        "sites": len(sites),
        "night_one_pages": len(night_one),
        "model_lines": len(model),
        "night_two_pages": len(night_two),
        "stripped_lines": stripped_lines,
        "stripped_percent_of_kept_chars": 100
        * stripped_chars
        / max(1, stripped_chars + kept_chars),
        "pages_hit": docs_hit,
        "checked_lines": checked,
        "article_lines_stripped": article_lines,
        "article_lines_stripped_percent": 100 * article_lines / max(1, checked),
    }
    # What the model strips must not be article text; how much it strips is information.
    options = ("" if args.min_docs == 12 else f"_min{args.min_docs}") + (
        f"_sites{args.sites}" if args.sites else ""
    )
    record(f"sitelines{options}", figures, {"article_lines_stripped_percent": "lower"})
    return 0


if __name__ == "__main__":
    sys.exit(main())
