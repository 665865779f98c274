"""Prints the repair stage's figures on ../shared/data (issue 4's targets).

Usage: `.venv/bin/python benchmarks/repair.py [--data ../shared/data] [--only NAME ...]`
Sections: norvig, birkbeck (top-1 of `Speller.suggest`, word in isolation), clean_en (changed
words per 10,000 on scrapinghub articleBody), clean_fr_de_es (every change on the non-MT fr, de,
es texts of semeval2022_task8_hfl, listed for review; the texts are read, never copied), seeds,
speed (words per second on one core, dictionaries loaded), mojibake (syndication/small: share of
documents with mojibake markers before and after repair, and whether the repaired copies' words
are the repaired originals' words). Prints figures only; asserts nothing.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tasks.extract.page import ExtractConfig, detect_lang, extract_document  # noqa: E402
from tasks.repair.spelling import speller  # noqa: E402
from tasks.repair.text import (  # noqa: E402
    RepairConfig,
    mojibake_score,
    protected_words,
    repair_text,
    vocabulary_of,
)

NOW = datetime(2026, 3, 14, tzinfo=UTC)
CFG = RepairConfig(run_id="bench", run_started_at=NOW)


def _pairs(path: Path) -> list[tuple[str, str]]:
    with path.open(encoding="utf-8") as fh:
        rows = list(csv.reader(fh, delimiter="\t"))[1:]
    # Items with "_" are multi-word (Birkbeck's "a_lot"): not single-word corrections.
    return [(a, b) for a, b in rows if "_" not in a and "_" not in b]


def top1(name: str, path: Path) -> None:
    english = speller("en")
    assert english is not None
    pairs = _pairs(path)
    started = time.perf_counter()
    right = sum(english.suggest(typed) == meant.lower() for typed, meant in pairs)
    seconds = time.perf_counter() - started
    FIGURES[f"{name.split()[0]}.top1"] = (right / len(pairs), "higher")
    print(
        f"{name}: top-1 {right}/{len(pairs)} = {right / len(pairs):.3f} "
        f"({len(pairs) / seconds:.0f} words/s)"
    )


def _changes(text: str, lang: str | None, cfg: RepairConfig) -> list[dict[str, Any]]:
    return [r for r in repair_text(text, lang, cfg)[1] if r["kind"] == "typo"]


def clean_en(data: Path) -> None:
    truth = json.loads((data / "boilerplate/scrapinghub_aeb/ground-truth.json").read_text())
    texts = [page["articleBody"] for page in truth.values()]
    corpus = RepairConfig(
        run_id="bench", run_started_at=NOW, protected=protected_words([vocabulary_of(texts)])
    )
    words = sum(len(t.split()) for t in texts)
    for label, cfg in (("each text alone", CFG), ("with corpus protection", corpus)):
        changed = [c for t in texts for c in _changes(t, detect_lang(t), cfg)]
        capitalised = [c for c in changed if not c["before"].islower()]
        key = "clean_en." + ("alone" if cfg is CFG else "corpus")
        FIGURES[f"{key}.changed_per_10k_words"] = (10_000 * len(changed) / words, "lower")
        FIGURES[f"{key}.capitalised_changed"] = (len(capitalised), "lower")
        print(
            f"clean_en ({label}): {len(changed)} changed words in {words} words = "
            f"{10_000 * len(changed) / words:.2f} per 10,000; capitalised changed: "
            f"{len(capitalised)}; {[(c['before'], c['after']) for c in changed]}"
        )


def clean_fr_de_es(data: Path) -> None:
    texts: dict[str, set[str]] = {"fr": set(), "de": set(), "es": set()}
    with gzip.open(data / "semeval2022_task8_hfl/pairs.jsonl.gz", "rt", encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            for side in ("1", "2"):
                lang = row[f"lang{side}"]
                if lang in texts and not row[f"mt_side_{side}"]:
                    texts[lang].add(row[f"text{side}"])
    for lang, found in texts.items():
        words = sum(len(t.split()) for t in found)
        changed = [c for t in sorted(found) for c in _changes(t, detect_lang(t), CFG)]
        FIGURES[f"clean_{lang}.changed_per_10k_words"] = (10_000 * len(changed) / words, "lower")
        print(
            f"clean_{lang}: {len(found)} texts, {words} words, {len(changed)} changed: "
            f"{[(c['before'], c['after']) for c in changed]}"
        )


def seeds(data: Path) -> None:
    for path in sorted((data / "seeds").glob("*.txt")):
        text = path.read_text("utf-8")
        lang = detect_lang(text)
        kinds = Counter(r["kind"] for r in repair_text(text, lang, CFG)[1])
        typos = [(c["before"], c["after"]) for c in _changes(text, lang, CFG)]
        print(f"seed {path.name} ({lang}): changes {dict(kinds)}; typos {typos}")


def speed(data: Path) -> None:
    truth = json.loads((data / "boilerplate/scrapinghub_aeb/ground-truth.json").read_text())
    texts = [(page["articleBody"], detect_lang(page["articleBody"])) for page in truth.values()]
    started = time.perf_counter()
    for lang in ("en", "fr", "de", "es"):
        speller(lang)
    print(f"speed: dictionaries en, fr, de, es built in {time.perf_counter() - started:.1f} s")
    words = sum(len(t.split()) for t, _ in texts)
    for label, cfg in (("without typo repair", None), ("whole repair stage", CFG)):
        run_cfg = cfg or RepairConfig(run_id="bench", run_started_at=NOW, typo_repair=False)
        started = time.perf_counter()
        for text, lang in texts:
            repair_text(text, lang, run_cfg)
        seconds = time.perf_counter() - started
        print(f"speed ({label}): {words} words in {seconds:.2f} s = {words / seconds:,.0f} words/s")
        key = "speed.aeb_" + ("no_typos" if cfg is None else "whole_stage")
        FIGURES[f"{key}.words_per_second"] = (words / seconds, "info")
    # Scraped text as nights see it: every document of the syndication benchmark's `small` set
    # through our extract stage (several languages, mojibake copies, long run-on lines), then
    # repaired whole, dictionaries already built.
    base = data / "syndication/small"
    extract_cfg = ExtractConfig(run_id="bench", run_started_at=NOW)
    scraped = []
    for label in (json.loads(line) for line in (base / "labels.jsonl").open(encoding="utf-8")):
        out = extract_document(_extract_row(base, label), extract_cfg)
        scraped.append((out["text"], out["lang"]))
    words = sum(len(t.split()) for t, _ in scraped)
    started = time.perf_counter()
    for text, lang in scraped:
        repair_text(text, lang, CFG)
    seconds = time.perf_counter() - started
    FIGURES["speed.syndication_small.words_per_second"] = (words / seconds, "info")
    print(
        f"speed (scraped syndication small, {len(scraped)} docs): {words} words in "
        f"{seconds:.2f} s = {words / seconds:,.0f} words/s"
    )


def _extract_row(base: Path, label: dict[str, Any]) -> dict[str, Any]:
    """An INGESTED-like row for one benchmark document, as `extract_document` takes it."""
    return {
        "body": gzip.decompress((base / label["file"]).read_bytes()),
        "declared_charset": None,
        "content_type": label["format"],
        "url": None,
        "site": None,
        "fetched_at": NOW,
    }


def mojibake(data: Path) -> None:
    base = data / "syndication/small"
    labels = [json.loads(line) for line in (base / "labels.jsonl").open(encoding="utf-8")]
    encodings = ("mojibake_utf8_as_cp1252", "encoded_cp1252", "charset_mislabelled")
    originals = {r["cluster_id"]: r for r in labels if r["kind"] == "original"}
    extract_cfg = ExtractConfig(run_id="bench", run_started_at=NOW)

    def text_of(label: dict[str, Any]) -> tuple[str, str | None]:
        out = extract_document(_extract_row(base, label), extract_cfg)
        return out["text"], out["lang"]

    for transform in encodings:
        docs = [r for r in labels if any(t.startswith(transform) for t in r["transforms"])]
        before = after = words_found = words_total = 0
        for label in docs:
            text, lang = text_of(label)
            repaired = repair_text(text, lang, CFG)[0]
            before += mojibake_score(text) > 0
            after += mojibake_score(repaired) > 0
            original = originals.get(label["cluster_id"])
            if original is None or original["doc_id"] == label["doc_id"]:
                continue
            reference = set(repair_text(*text_of(original), CFG)[0].split())
            # Words with non-ASCII letters are where a wrong decode shows; chrome and the copy's
            # own edits can add words the original lacks, so this is a floor, not an equality.
            odd = [w for w in repaired.split() if not w.isascii()]
            words_total += len(odd)
            words_found += sum(w in reference for w in odd)
        FIGURES[f"mojibake.{transform}.share_after"] = (after / max(1, len(docs)), "lower")
        FIGURES[f"mojibake.{transform}.words_found"] = (words_found / max(1, words_total), "higher")
        print(
            f"mojibake {transform}: {len(docs)} docs; with mojibake markers before repair "
            f"{before}/{len(docs)}, after {after}/{len(docs)} = {after / max(1, len(docs)):.3f}; "
            f"non-ASCII words of the repaired copies found in the repaired original: "
            f"{words_found}/{words_total}"
        )


SECTIONS = ("norvig", "birkbeck", "clean_en", "clean_fr_de_es", "seeds", "speed", "mojibake")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--only", nargs="*", choices=SECTIONS, default=list(SECTIONS))
    args = parser.parse_args()
    data: Path = args.data
    if not data.is_dir():
        print(f"{data} not found: nothing to measure")
        return 1
    for section in args.only:
        if section == "norvig":
            top1("norvig set 1", data / "norvig_spell_testsets/spell-testset1.tsv")
        elif section == "birkbeck":
            top1("birkbeck shared", data / "birkbeck_spelling_errors/birkbeck_pairs.tsv")
        else:
            globals()[section](data)
        sys.stdout.flush()
    _record(args.only)
    return 0


# What the sections measured, for `benchmarks/results/repair.json`: name -> (value, direction).
FIGURES: dict[str, tuple[float, Any]] = {}


def _record(sections: list[str]) -> None:
    from benchmarks.results import record

    name = "repair" if set(sections) == set(SECTIONS) else "repair_" + "_".join(sections)
    figures = {key: value for key, (value, _way) in FIGURES.items()}
    record(name, figures, {key: way for key, (_value, way) in FIGURES.items()})


if __name__ == "__main__":
    sys.exit(main())
