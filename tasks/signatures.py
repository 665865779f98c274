"""Signatures for dedup: normalised tokens, shingle hashes, sampled candidate keys and anchors.

Input: document texts (already extracted and repaired). Output: per document the sha256 of its
normalised text, the sorted array of its 64-bit word-shingle hashes (the exact set that
verification compares), the consistently sampled subset of those hashes that serves as its
candidate keys, and its language-independent "anchors" (numbers, Latin-script names) that
cross-lingual linking compares. Everything is deterministic across processes and nights (no
salted `hash()`), because signatures are stored in `data/state/` and compared with later nights.
Pure: no I/O; nothing is quarantined (an empty text simply has no shingles and no sampled keys,
so it can only be an exact copy).
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
import zlib
from collections.abc import Sequence
from itertools import chain

import numpy as np
import numpy.typing as npt

U64 = npt.NDArray[np.uint64]

_WORD = re.compile(r"\w+", re.UNICODE)
_MASK64 = (1 << 64) - 1

# splitmix64 constants: a cheap, well-mixed 64-bit hash step that vectorises in numpy.
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)


# Invisible format characters (soft hyphen, zero-width space/joiners, word joiner, BOM) split a
# word in two for `\w+`; the repair stage removes them, and dedup must not depend on it.
_INVISIBLE = re.compile("[\u00ad\u200b\u200c\u200d\u2060\ufeff]")


def normalise(text: str) -> list[str]:
    """Word tokens of the NFKC-normalised, casefolded text (punctuation and spacing dropped)."""
    return _WORD.findall(_INVISIBLE.sub("", unicodedata.normalize("NFKC", text)).casefold())


def content_hash(tokens: Sequence[str]) -> str:
    """sha256 of the normalised text: equal for copies that differ only in case, spacing, quotes."""
    return hashlib.sha256(" ".join(tokens).encode("utf-8")).hexdigest()


def _mix(x: U64) -> U64:
    with np.errstate(over="ignore"):
        x = x ^ (x >> np.uint64(30))
        x = x * _MIX1
        x = x ^ (x >> np.uint64(27))
        x = x * _MIX2
        return x ^ (x >> np.uint64(31))


class TokenHasher:
    """Stable 64-bit hashes of tokens, memoised (a night repeats the same words many times).

    CRC-32 and Adler-32 of the UTF-8 bytes side by side: both run in C at a fraction of a
    cryptographic hash's cost, and the shingle step mixes the pair (splitmix64) before anything
    compares it. A collision needs both checksums to collide, and costs one shared shingle.
    """

    def __init__(self) -> None:
        self._cache: dict[str, int] = {}

    def __call__(self, tokens: Sequence[str]) -> U64:
        cache = self._cache
        # Only the distinct new tokens go through Python code; the lookups run in C.
        for token in set(tokens).difference(cache):
            data = token.encode("utf-8")
            cache[token] = (zlib.crc32(data) << 32) | zlib.adler32(data)
        return np.fromiter(map(cache.__getitem__, tokens), dtype=np.uint64, count=len(tokens))


def sorted_unique(values: U64) -> U64:
    """np.unique of a small hash array, at a fraction of its cost per call (numpy 2's unique
    has a fixed cost of tens of microseconds, paid per document)."""
    out = np.sort(values)
    if len(out) > 1:
        out = out[np.concatenate(([True], out[1:] != out[:-1]))]
    return out


def shingle_hashes(token_hashes: U64, size: int) -> U64:
    """Sorted unique hashes of the word `size`-grams (the whole text when it is shorter)."""
    n = len(token_hashes)
    if n == 0:
        return np.empty(0, dtype=np.uint64)
    if n < size:
        size = n
    count = n - size + 1
    acc = np.zeros(count, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for offset in range(size):
            # Position-dependent mixing so that "a b" and "b a" hash differently.
            acc = _mix(acc ^ (token_hashes[offset : offset + count] + np.uint64(offset + 1)))
    return sorted_unique(acc)


def shingle_sets(texts: Sequence[str], size: int) -> tuple[list[str], list[U64]]:
    """Per text its `content_hash` and `shingle_hashes`, the same values as one text at a time,
    computed for the whole batch at once: the tokens of all texts are hashed as one list (each
    distinct token once) and the shingles of all texts mixed, sorted and deduplicated as one
    array, so numpy's per-call cost is paid per batch, not per document."""
    token_lists = [normalise(text) for text in texts]
    shas = [content_hash(tokens) for tokens in token_lists]
    lengths = np.fromiter(map(len, token_lists), np.int64, len(token_lists))
    flat = list(chain.from_iterable(token_lists))
    hashes = TokenHasher()(flat)
    ends = np.cumsum(lengths)
    starts = ends - lengths
    # Window i (the `size` tokens from token i) belongs to the document holding token i, and
    # counts only when it ends inside that document.
    count = max(len(flat) - size + 1, 0)
    acc = np.zeros(count, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for offset in range(size if count else 0):
            acc = _mix(acc ^ (hashes[offset : offset + count] + np.uint64(offset + 1)))
    doc = np.repeat(np.arange(len(texts), dtype=np.int64), lengths)[:count]
    valid = np.arange(count) + size <= ends[doc]
    doc, acc = doc[valid], acc[valid]
    bounds = np.searchsorted(doc, np.arange(len(texts) + 1))
    for i in range(len(texts)):
        # In place, one document at a time: far cheaper than a lexsort by (document, hash).
        acc[bounds[i] : bounds[i + 1]].sort()
    keep = np.ones(len(acc), dtype=bool)
    keep[1:] = (acc[1:] != acc[:-1]) | (doc[1:] != doc[:-1])
    doc, acc = doc[keep], acc[keep]
    bounds = np.searchsorted(doc, np.arange(len(texts) + 1))
    out = [acc[bounds[i] : bounds[i + 1]] for i in range(len(texts))]
    # Texts shorter than a shingle: one hash of all their tokens.
    for i in np.flatnonzero((lengths > 0) & (lengths < size)).tolist():
        out[i] = shingle_hashes(hashes[starts[i] : ends[i]], size)
    return shas, out


def sample_keys(shingles: U64, rate: int) -> U64:
    """The shingles whose hash falls in the lowest 1/`rate` of the 64-bit range.

    Consistent sampling: the same shingle is sampled in every document that has it, so two
    documents whose shingle sets overlap by `k` share about `k / rate` sampled keys whatever
    else they hold. This is the MinHash family's sketch for containment (a truncated or padded
    copy keeps its keys) where banded MinHash estimates Jaccard (and loses such copies).
    """
    return shingles[shingles < np.uint64((1 << 64) // rate)]


# Anchors: what a translation keeps from its original whatever the language. Numbers are written
# with the same digits in every language of the benchmark (zh and ar texts included); names in
# Latin script keep their spelling across the European languages.
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
# Latin script only (Basic Latin, Latin-1, Latin Extended-A/B): names in Cyrillic, Arabic or Han
# script are spelled differently in every language and would only add noise.
_NAME = re.compile(r"(?<![\w])[A-ZÀ-ÖØ-ÞĀ-ɏ][A-Za-zÀ-ÖØ-öø-ɏ'’-]{2,}(?![\w])")
_NON_DIGIT = re.compile(r"\D")


def anchors(text: str) -> list[str]:
    """Numbers (digits only, separators dropped) and names: capitalised Latin-script words that
    the text never writes in lower case (so sentence-initial "The" or "Après" is not a name)."""
    normal = unicodedata.normalize("NFKC", text)
    out = []
    for match in _NUMBER.finditer(normal):
        digits = _NON_DIGIT.sub("", match.group(0)).lstrip("0")
        out.append("#" + (digits or "0"))
    names = _NAME.findall(normal)
    if names:
        lower = set(_WORD.findall(normal))
        out.extend(w.casefold() for w in names if w.casefold() not in lower)
    return out
