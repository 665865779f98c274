"""Quality metrics: text-aware columns the expectation suites gate on, computed from `text`.

Input: a staged table with a `text` column (`extracted`, `repaired`, `deduped`) and a
`QualityConfig`. Output: the same table with the `QUALITY_METRICS` columns of `tasks.schema`
appended: `word_count` (word tokens; 0 means an empty text), `replacement_rate` (U+FFFD
replacement characters per 1,000 characters: bytes a decoder could not map, which ftfy cannot
undo and its badness score does not see) and `boilerplate_hits` (known
site-chrome phrases still in the text). Quarantines nothing itself: the suites decide, and
`tasks.validate` sets aside the rows they catch. Pure: no I/O, deterministic.

The metrics are computed by the validation step rather than by each stage because they are pure
functions of `text`, which every text dataset has: one definition then measures the text before
repair and after it in the same way, and the stages stay free of checks they do not use.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import pyarrow as pa

from tasks.schema import QUALITY_METRICS

# The languages the desk publishes in. The language-mix expectation compares `lang` with these
# (as the suite parameter `expected_languages`); a night mostly outside them means the inbox
# was mis-routed or language identification broke. Default: the eleven languages py3langid
# finds in the syndication benchmark (../shared/data/syndication/small).
DEFAULT_EXPECTED_LANGUAGES = ("ar", "de", "en", "es", "fr", "it", "pl", "pt", "ru", "tr", "zh")

# Site chrome that the extract stage is meant to strip, matched case-insensitively on word
# boundaries anywhere in a line (chrome glued to a paragraph counts too). Calibrated with
# benchmarks/junk_phrases.py on the 639 hand-cleaned gold texts of ../shared/data/boilerplate:
# these phrases occur in 3 of them, all chrome that CleanEval's annotators kept ("Back to top" in
# a forum page, a "Sign Up for Our Newsletter" menu). Left out because gold article prose uses
# them: "more articles" (3 texts), "all rights reserved" (11, agency copyright lines), "read
# more" (7), "advertisement" (10), "click here" (28), "subscribe" (16).
JUNK_PHRASES: tuple[str, ...] = (
    "leave a reply",
    "leave a comment",
    "cancel reply",
    "please enter your comment",
    "please enter your name",
    "please enter your email",
    "your email address will not be published",
    "required fields are marked",
    "save my name, email",
    "notify me of follow-up comments",
    "notify me of new posts",
    "back to top",
    "scroll to top",
    "skip to content",
    "subscribe to our newsletter",
    "sign up for our newsletter",
    "share this article",
    "share on facebook",
    "share on twitter",
    "we use cookies",
    "accept all cookies",
    "you may also like",
)

# U+FFFD: what a decoder writes for bytes it cannot map (tasks/charset.py does, as a last resort).
_REPLACEMENT = "\ufffd"
_WORD = re.compile(r"\w+", re.UNICODE)


@dataclass(frozen=True)
class QualityConfig:
    expected_languages: tuple[str, ...] = DEFAULT_EXPECTED_LANGUAGES
    junk_phrases: tuple[str, ...] = JUNK_PHRASES


@lru_cache(maxsize=8)
def _junk_pattern(phrases: tuple[str, ...]) -> re.Pattern[str]:
    body = "|".join(r"\s+".join(re.escape(w) for w in p.split()) for p in phrases)
    return re.compile(rf"\b(?:{body})\b", re.IGNORECASE)


def word_count(text: str) -> int:
    return len(_WORD.findall(text))


def replacement_rate(text: str) -> float:
    """U+FFFD replacement characters per 1,000 characters (0 for an empty text)."""
    if not text:
        return 0.0
    return round(1000.0 * text.count(_REPLACEMENT) / len(text), 4)


def boilerplate_hits(text: str, phrases: tuple[str, ...] = JUNK_PHRASES) -> int:
    """How many known site-chrome phrases occur in `text` (each occurrence counts)."""
    return len(_junk_pattern(phrases).findall(text))


def metrics_for(texts: list[str | None], cfg: QualityConfig) -> pa.Table:
    """The QUALITY_METRICS columns for `texts` (a null text counts as empty)."""
    junk = _junk_pattern(cfg.junk_phrases)
    words: list[int] = []
    bad: list[float] = []
    hits: list[int] = []
    for text in texts:
        text = text or ""
        words.append(word_count(text))
        bad.append(replacement_rate(text))
        hits.append(len(junk.findall(text)))
    return pa.Table.from_arrays(
        [
            pa.array(words, pa.int32()),
            pa.array(bad, pa.float64()),
            pa.array(hits, pa.int32()),
        ],
        schema=QUALITY_METRICS,
    )


def with_metrics(table: pa.Table, cfg: QualityConfig) -> pa.Table:
    """`table` with the QUALITY_METRICS columns appended (replaced if already there)."""
    if "text" not in table.column_names:
        raise KeyError("quality metrics need a `text` column")
    metrics = metrics_for(table.column("text").to_pylist(), cfg)
    out = table.drop_columns([n for n in QUALITY_METRICS.names if n in table.column_names])
    for field in QUALITY_METRICS:
        out = out.append_column(field, metrics.column(field.name))
    return out
