"""Cross-lingual evidence for dedup: what a translation keeps of its original, as string keys.

Input: document texts (already extracted and repaired) and their site template groups (see
`tasks.boilerplate`). Output: per document a set of language-independent keys: numbers (`#1250`,
separators dropped), names (capitalised Latin-script words that the text never writes in lower
case, casefolded) and cognate stems (`~` and the first `COGNATE_PREFIX` letters of a long
Latin-script word with its diacritics dropped: "coopération" and "cooperation" both give
`~coope`, "terroristes" and "terrorists" `~terro`), minus the keys that another page of the same
site template also carries (its chrome: a sidebar's names and dates are not the report's).
`tasks.linking.translation_matches` compares these sets between groups of copies in different
languages. Deterministic (the keys are stored in `data/state/` and compared with later nights;
`ANCHORS_VERSION` names what they are). Pure: no I/O; quarantines nothing (a text without
numbers, names or long Latin-script words simply has no keys and is never linked as a
translation).
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Sequence
from functools import lru_cache
from itertools import accumulate

# What the keys are. Stored with the dedup state (`tasks.dedup`): a night never compares its
# keys with keys of another version (version 1: numbers and names only, from
# `tasks.signatures.anchors`; 2: adds cognate stems and drops template keys).
ANCHORS_VERSION = 2

_WORD = re.compile(r"\w+", re.UNICODE)
# Numbers are written with the same digits in every language of the benchmark (zh and ar texts
# included).
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_NON_DIGIT = re.compile(r"\D")
# Latin script only (Basic Latin, Latin-1, Latin Extended-A/B): names in Cyrillic, Arabic or Han
# script are spelled differently in every language.
_NAME = re.compile(r"(?<![\w])[A-ZÀ-ÖØ-ÞĀ-ɏ][A-Za-zÀ-ÖØ-öø-ɏ'’-]{2,}(?![\w])")
# Cognate stems: the first 5 letters of words of 6 letters or more. Calibrated on the shared
# `small` and `large` syndication sets (same rule as `tasks.linking.translation_matches`, its
# thresholds tuned for each length): 5 letters kept the most translation pairs at no
# hard-negative merge (large: 0.80 translation recall against 0.78 with 4 letters and 0.77 with
# 6; 4 letters conflate unrelated words, 6 miss inflected pairs such as "victories" and
# "victoires"). Shorter words are mostly function words.
COGNATE_PREFIX = 5


def _strip_marks(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


# A night repeats the same words many times: stem each once (bounded: a night's vocabulary).
@lru_cache(maxsize=1 << 18)
def _stem(word: str) -> str | None:
    if not word.isascii():
        word = _strip_marks(word)
        if not word.isascii():
            return None
    if len(word) > COGNATE_PREFIX and word.isalpha():
        return "~" + word[:COGNATE_PREFIX]
    return None


def numbers_and_names(text: str) -> list[str]:
    """Numbers (`#` and the digits, leading zeros dropped) and names: capitalised Latin-script
    words that the text never writes in lower case (so sentence-initial "The" or "Après" is not a
    name)."""
    return _numbers_and_names(unicodedata.normalize("NFKC", text))


def _numbers_and_names(normal: str) -> list[str]:
    out = []
    for match in _NUMBER.finditer(normal):
        digits = _NON_DIGIT.sub("", match.group(0)).lstrip("0")
        out.append("#" + (digits or "0"))
    names = _NAME.findall(normal)
    if names:
        lower = set(_WORD.findall(normal))
        out.extend(w.casefold() for w in names if w.casefold() not in lower)
    return out


def cognates(text: str) -> set[str]:
    """`~` and the first `COGNATE_PREFIX` letters of every Latin-script word of more than that
    many letters, casefolded and without diacritics (digits and other scripts give none)."""
    return _cognates(unicodedata.normalize("NFKC", text))


def _cognates(normal: str) -> set[str]:
    out = set()
    # casefold writes the Turkish "İ" as "i" and a combining dot, which would cut the word.
    for word in set(_WORD.findall(normal.casefold().replace("\u0307", ""))):
        if len(word) > COGNATE_PREFIX:
            stem = _stem(word)
            if stem is not None:
                out.add(stem)
    return out


def ordered_anchors(text: str) -> list[str]:
    """The keys of `anchors` in the order the text first uses them (what a translation keeps,
    sentence by sentence; another report of the story tells it in another order). Ties (keys
    first used at the same offset) in key order."""
    normal = unicodedata.normalize("NFKC", text)
    first: dict[str, int] = {}
    for match in _NUMBER.finditer(normal):
        digits = _NON_DIGIT.sub("", match.group(0)).lstrip("0")
        first.setdefault("#" + (digits or "0"), match.start())
    # Words and the runs between them alternate: [gap, word, gap, word, ..., gap]. A word's
    # offset is the length of everything before it; every step below runs in C, per token, and
    # Python code runs once per distinct word of the night (`_word_stems`).
    parts = _WORD_SPLIT.split(normal)
    words = parts[1::2]
    starts = list(accumulate(map(len, parts[:-1])))[0::2]
    lower: set[str] | None = None
    for match in _NAME.finditer(normal):
        if lower is None:
            lower = set(words)
        name = match.group(0).casefold()
        if name not in lower:
            first.setdefault(name, match.start())
    # Stem -> its first offset: the dict keeps the last value written, so write backwards.
    by_stem = dict(zip(reversed(_word_stems(words)), reversed(starts), strict=True))
    for stem, start in by_stem.items():
        if stem is not None:  # numbers "#", names (no "~"), stems "~": never the same key
            first[stem] = start
    return [key for _, key in sorted(zip(first.values(), first.keys(), strict=True))]


_WORD_SPLIT = re.compile(r"(\w+)", re.UNICODE)
# Raw word (as the text writes it) -> its cognate stem or None; bounded by clearing.
_STEMS: dict[str, str | None] = {}
_STEMS_MAX = 1 << 20


def _word_stems(words: list[str]) -> list[str | None]:
    """The cognate stem of each word (None for short words and other scripts)."""
    new = set(words).difference(_STEMS)
    if len(_STEMS) + len(new) > _STEMS_MAX:
        _STEMS.clear()
        new = set(words)
    for word in new:
        # casefold writes the Turkish "İ" as "i" and a combining dot, which would cut the word.
        folded = word.casefold().replace("\u0307", "")
        _STEMS[word] = _stem(folded) if len(folded) > COGNATE_PREFIX else None
    return list(map(_STEMS.__getitem__, words))


def anchors(text: str) -> frozenset[str]:
    """All the cross-lingual keys of one text (numbers, names, cognate stems)."""
    return frozenset(ordered_anchors(text))


def template_free(
    found: Sequence[frozenset[str]], groups: Sequence[int | None]
) -> list[frozenset[str]]:
    """Each document's keys minus those that another document of its template group also has.

    A site does not publish one report twice, so what two of its pages share is its template
    (`tasks.boilerplate`); on the `small` set, chrome that the extractor kept (a company's
    "about" box, a book fair's sidebar) linked unrelated reports in different languages.
    """
    members: dict[int, list[int]] = {}
    for i, group in enumerate(groups):
        if group is not None:
            members.setdefault(group, []).append(i)
    out = list(found)
    for docs in members.values():
        if len(docs) < 2:
            continue
        counts: Counter[str] = Counter()
        for i in docs:
            counts.update(found[i])
        template = {key for key, count in counts.items() if count > 1}
        for i in docs:
            out[i] = found[i] - template
    return out
