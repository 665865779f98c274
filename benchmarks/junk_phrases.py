"""Calibrate the boilerplate-residue phrases of tasks/validate/metrics.py on hand-cleaned text.

Prints, for every phrase in `JUNK_PHRASES` and for a few rejected candidates, how many gold
article texts of the boilerplate benchmarks (../shared/data/boilerplate: scrapinghub_aeb
`articleBody`, cleaneval `articleBody`) contain it. A residue phrase must not occur in clean
article text, or the residue check would count prose as chrome.

    .venv/bin/python benchmarks/junk_phrases.py [--data ../shared/data/boilerplate]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tasks.validate.metrics import JUNK_PHRASES, boilerplate_hits  # noqa: E402

# Phrases considered and left out when they occur in gold text (kept here so the figures that
# excluded them can be re-measured).
CANDIDATES = (
    "more articles",
    "all rights reserved",
    "read more",
    "advertisement",
    "related articles",
    "follow us",
    "click here",
    "subscribe",
    "cookie policy",
    "privacy policy",
    "terms of use",
)


def gold_texts(data: Path) -> list[str]:
    texts: list[str] = []
    for name in ("scrapinghub_aeb", "cleaneval"):
        truth = json.loads((data / name / "ground-truth.json").read_text("utf-8"))
        texts += [v["articleBody"] for v in truth.values() if v.get("articleBody")]
    return texts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "boilerplate"))
    args = parser.parse_args()
    data = Path(args.data)
    if not data.is_dir():
        print(f"no boilerplate benchmarks at {data}", file=sys.stderr)
        return 1
    texts = gold_texts(data)
    print(f"{len(texts)} gold article texts")
    print(f"{'phrase':<42} {'texts containing it':>20}  in JUNK_PHRASES")
    figures: dict[str, float] = {"gold_texts": len(texts)}
    for phrase in (*JUNK_PHRASES, *CANDIDATES):
        hits = sum(1 for t in texts if boilerplate_hits(t, (phrase,)))
        print(f"{phrase:<42} {hits:>20}  {'yes' if phrase in JUNK_PHRASES else 'no'}")
        kind = "phrase" if phrase in JUNK_PHRASES else "candidate"
        figures[f"{kind}.{phrase}.gold_texts_containing"] = hits
    total = sum(1 for t in texts if boilerplate_hits(t))
    print(f"gold texts with any residue phrase: {total} of {len(texts)}")
    from benchmarks.results import record

    # A residue phrase found in clean text counts prose as chrome: the phrases in use are
    # costs (ceilings); the rejected candidates are information.
    figures["gold_texts_with_any_phrase"] = total
    directions: dict[str, Any] = {k: "lower" for k in figures if k.startswith("phrase.")}
    directions["gold_texts_with_any_phrase"] = "lower"
    record("junk_phrases", figures, directions)
    return 0


if __name__ == "__main__":
    sys.exit(main())
