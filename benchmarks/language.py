"""Language identification on short texts: py3langid (what the extract stage uses) vs lingua.

Labelled texts: the trafilatura_eval pages of `../shared/data/boilerplate/` (shared part), the
article text as wiredesk extracts it, labelled with the page's own `<html lang>` (two-letter
code; pages without one are skipped). Each text is cut to its first N characters (N = 60, 150,
400 and the stage's sample) and identified by:
- py3langid, as `tasks.extract.page.detect_lang` calls it (the stage's function itself);
- lingua (`lingua-language-detector`, models in the wheel), all languages, low and high accuracy
  mode, when it is installed (it is not a dependency: this script measures whether it should be).
Prints accuracy per length, ms per text (CPU) and the resident memory each detector adds.

    .venv/bin/python benchmarks/language.py [--data ../shared/data/boilerplate] [--limit N]
"""

from __future__ import annotations

import argparse
import gzip
import json
import resource
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from flows.extractfiles import extract_config  # noqa: E402
from tasks.extract import page as extract  # noqa: E402
from tasks.extract.charset import decode_body  # noqa: E402
from tasks.extract.maintext import parse_html  # noqa: E402

DEFAULT_DATA = ROOT.parent / "shared" / "data" / "boilerplate" / "trafilatura_eval"
LENGTHS = (60, 150, 400, extract.LANG_SAMPLE_CHARS)


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def labelled(folder: Path, limit: int) -> list[tuple[str, str]]:
    truth = json.loads((folder / "ground-truth.json").read_text("utf-8"))
    cfg = extract_config()
    out: list[tuple[str, str]] = []
    for pid in sorted(truth)[: limit or None]:
        body = gzip.decompress((folder / "html" / f"{pid}.html.gz").read_bytes())
        html, _charset = decode_body(body, None, "html")
        lang = (parse_html(html).get("lang") or "").strip().lower()[:2]
        if len(lang) != 2 or not lang.isalpha():
            continue
        row = {
            "body": body,
            "declared_charset": None,
            "content_type": "html",
            "url": None,
            "site": None,
            "fetched_at": None,
        }
        try:
            text = extract.extract_document(row, cfg)["text"]
        except Exception:  # quarantined pages have no text to identify
            continue
        out.append((text, lang))
    return out


def measure(name: str, fn: Callable[[str], str | None], data: list[tuple[str, str]]) -> None:
    for n in LENGTHS:
        samples = [(text[:n], lang) for text, lang in data if len(text) >= n]
        start = time.process_time()
        right = sum(fn(text) == lang for text, lang in samples)
        ms = 1000 * (time.process_time() - start) / max(1, len(samples))
        key = name.split(" (")[0] + ("" if "(" not in name else "_" + name.split("(")[1][:-1])
        key = key.replace(" ", "_").replace("py3langid_any_length", "py3langid_raw")
        FIGURES[f"{key}.chars{n}.texts"] = (len(samples), "info")
        FIGURES[f"{key}.chars{n}.accuracy"] = (right / max(1, len(samples)), "higher")
        FIGURES[f"{key}.chars{n}.ms_per_text"] = (ms, "info")
        print(
            f"{name:<22} {n:>5} chars  {len(samples):>4} texts  "
            f"accuracy {right / max(1, len(samples)):.3f}  {ms:6.2f} ms/text"
        )


def py3langid_raw(text: str) -> str | None:
    import py3langid

    return str(py3langid.classify(text)[0])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--limit", type=int, default=0)
    args = parser.parse_args()
    if not args.data.is_dir():
        print(f"no data at {args.data}", file=sys.stderr)
        return 2
    data = labelled(args.data, args.limit)
    print(f"{len(data)} labelled texts; languages: {sorted({lang for _, lang in data})}")
    before = rss_mb()
    py3langid_raw("warm up the model")
    print(f"py3langid loaded: +{rss_mb() - before:.0f} MB max RSS")
    measure("py3langid (stage)", extract.detect_lang, data)
    measure("py3langid (any length)", py3langid_raw, data)
    try:
        from lingua import LanguageDetectorBuilder
    except ImportError:
        print("lingua not installed: pip install lingua-language-detector to compare")
        _record(args.limit)
        return 0
    for mode in ("low", "high"):
        before = rss_mb()
        builder = LanguageDetectorBuilder.from_all_languages()
        if mode == "low":
            builder = builder.with_low_accuracy_mode()
        detector = builder.with_preloaded_language_models().build()
        print(f"lingua {mode} accuracy loaded: +{rss_mb() - before:.0f} MB max RSS")

        def lingua_code(text: str, detector=detector) -> str | None:  # type: ignore[no-untyped-def]
            found = detector.detect_language_of(text)
            return found.iso_code_639_1.name.lower() if found else None

        measure(f"lingua ({mode})", lingua_code, data)
    _record(args.limit)
    return 0


# What `measure` found, for `benchmarks/results/language.json`: name -> (value, direction).
# Only the stage's own detector (`py3langid_stage`) gets floors; the others are comparisons.
FIGURES: dict[str, tuple[float, Any]] = {}


def _record(limit: int) -> None:
    from benchmarks.results import record

    figures = {key: value for key, (value, _way) in FIGURES.items()}
    directions = {
        key: way if key.startswith("py3langid_stage.") else "info"
        for key, (_value, way) in FIGURES.items()
    }
    record("language" + (f"_limit{limit}" if limit else ""), figures, directions)


if __name__ == "__main__":
    sys.exit(main())
