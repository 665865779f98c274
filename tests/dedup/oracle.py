"""The dedup signatures and cross-lingual keys one text at a time, in plain Python: the test
oracle that the batch passes of `tasks.dedup.signatures` and `tasks.dedup.crosslingual` (what
the stage runs) are held equal to, bit for bit and key for key."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Sequence
from itertools import accumulate

from tasks.dedup.crosslingual import _NAME, _NON_DIGIT, _NUMBER, word_stem
from tasks.dedup.signatures import shingle_hashes
from tasks.hashing import U64, TokenHasher

_WORD = re.compile(r"\w+", re.UNICODE)
_WORD_SPLIT = re.compile(r"(\w+)", re.UNICODE)
# Invisible format characters (soft hyphen, zero-width space/joiners, word joiner, BOM) split a
# word in two for `\w+`; the repair stage removes them, and dedup must not depend on it.
_INVISIBLE = re.compile("[\u00ad\u200b\u200c\u200d\u2060\ufeff]")


def normalise(text: str) -> list[str]:
    """Word tokens of the NFKC-normalised, casefolded text (punctuation and spacing dropped)."""
    return _WORD.findall(_INVISIBLE.sub("", unicodedata.normalize("NFKC", text)).casefold())


def content_hash(tokens: Sequence[str]) -> str:
    """sha256 of the normalised text: equal for copies that differ only in case, spacing, quotes."""
    return hashlib.sha256(" ".join(tokens).encode("utf-8")).hexdigest()


def shingles(text: str, size: int = 5, hasher: TokenHasher | None = None) -> U64:
    """The sorted distinct word-shingle hashes of one text."""
    return shingle_hashes((hasher or TokenHasher())(normalise(text)), size)


def ordered_anchors(text: str) -> list[str]:
    """The cross-lingual keys of one text in the order it first uses them (what a translation
    keeps, sentence by sentence; another report of the story tells it in another order). Ties
    (keys first used at the same offset) in key order."""
    normal = unicodedata.normalize("NFKC", text)
    first: dict[str, int] = {}
    for match in _NUMBER.finditer(normal):
        digits = _NON_DIGIT.sub("", match.group(0)).lstrip("0")
        first.setdefault("#" + (digits or "0"), match.start())
    # Words and the runs between them alternate: [gap, word, gap, word, ..., gap].
    parts = _WORD_SPLIT.split(normal)
    words = parts[1::2]
    starts = list(accumulate(map(len, parts[:-1])))[0::2]
    lower = set(words)
    for match in _NAME.finditer(normal):
        name = match.group(0).casefold()
        if name not in lower:
            first.setdefault(name, match.start())
    # Stem -> its first offset: the dict keeps the last value written, so write backwards.
    by_stem = dict(zip(reversed([word_stem(w) for w in words]), reversed(starts), strict=True))
    for stem, start in by_stem.items():
        if stem is not None:  # numbers "#", names (no "~"), stems "~": never the same key
            first[stem] = start
    return [key for _, key in sorted(zip(first.values(), first.keys(), strict=True))]


def anchors(text: str) -> frozenset[str]:
    """All the cross-lingual keys of one text (numbers, names, cognate stems)."""
    return frozenset(ordered_anchors(text))
