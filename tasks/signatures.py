"""Signatures for dedup: normalised tokens, shingle hashes and sampled candidate keys.

Input: document texts (already extracted and repaired). Output: per document the sha256 of its
normalised text, the sorted array of its 64-bit word-shingle hashes (the exact set that
verification compares), the consistently sampled subset of those hashes that serves as its
candidate keys (the cross-lingual keys are `tasks.anchors`). Everything is deterministic
across processes and nights (no salted `hash()`), because signatures are stored in
`data/state/` and compared with later nights.
Pure: no I/O; nothing is quarantined (an empty text simply has no shingles and no sampled keys,
so it can only be an exact copy).

Two ways to the same values: `normalise`, `content_hash`, `TokenHasher` and `shingle_hashes`
take one text at a time (tests, page tags); `shingle_sets` signs a batch of texts as numpy arrays
(code points, UTF-8 bytes, tokens, shingles) with no Python object per token, and is what the
dedup stage runs. A test holds the two equal, bit for bit.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
import zlib
from collections.abc import Sequence
from typing import TypeVar

import numpy as np
import numpy.typing as npt

U64 = npt.NDArray[np.uint64]
I64 = npt.NDArray[np.int64]
A = TypeVar("A", U64, I64)

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


def sorted_unique(values: A) -> A:
    """np.unique of a small integer array, at a fraction of its cost per call (numpy 2's unique
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


def _crc32_table() -> npt.NDArray[np.uint32]:
    table = np.arange(256, dtype=np.uint32)
    for _ in range(8):
        table = np.where(table & 1, (table >> 1) ^ np.uint32(0xEDB88320), table >> 1)
    return table.astype(np.uint32)


_CRC_TABLE = _crc32_table()
_UTF8_STEPS = np.array([0x80, 0x800, 0x10000], dtype=np.uint32)
_ADLER_MOD = 65521
# Python's `\w` (str.isalnum() or "_") for the Basic Multilingual Plane; the rarer code points
# above it are looked up one distinct value at a time.
_BMP_WORD = np.fromiter((chr(c).isalnum() or c == 0x5F for c in range(0x10000)), bool, 0x10000)


def _is_word(cps: npt.NDArray[np.uint32]) -> npt.NDArray[np.bool_]:
    word = _BMP_WORD[np.minimum(cps, 0xFFFF)]
    high = cps > 0xFFFF
    if high.any():
        values = np.unique(cps[high])
        table = np.array([chr(int(c)).isalnum() for c in values], dtype=bool)
        word[high] = table[np.searchsorted(values, cps[high])]
    return word


def _token_values(buf: npt.NDArray[np.uint8], start: I64, end: I64) -> U64:
    """`TokenHasher` values of the byte ranges `buf[start:end]`, vectorised: CRC-32 one byte
    position at a time over the tokens still that long, Adler-32 from prefix sums."""
    length = end - start
    order = np.argsort(-length, kind="stable")
    s, n = start[order], length[order]
    crc = np.full(len(s), 0xFFFFFFFF, dtype=np.uint32)
    longest = int(n[0]) if len(n) else 0
    # Tokens longer than j bytes: a prefix of the tokens sorted longest first.
    actives = np.searchsorted(-n, -np.arange(longest), side="left").tolist()
    for j, active in enumerate(actives):
        c = crc[:active]
        crc[:active] = _CRC_TABLE[(c ^ buf[s[:active] + j]) & 0xFF] ^ (c >> np.uint32(8))
    crc ^= np.uint32(0xFFFFFFFF)
    crc_out = np.empty_like(crc)
    crc_out[order] = crc
    b = buf.astype(np.int64)
    pos = np.arange(len(buf), dtype=np.int64)
    s1 = np.zeros(len(buf) + 1, np.int64)
    np.cumsum(b, out=s1[1:])
    sp = np.zeros(len(buf) + 1, np.int64)
    np.cumsum(pos * b, out=sp[1:])
    total = s1[end] - s1[start]
    # Adler's second sum weighs byte k of an n-byte token by n - k: end * S1 - sum(pos * byte).
    weighted = end * total - (sp[end] - sp[start])
    a = (1 + total) % _ADLER_MOD
    second = (length + weighted) % _ADLER_MOD
    adler = (second << 16) | a
    return (crc_out.astype(np.uint64) << np.uint64(32)) | adler.astype(np.uint64)


# Texts per vectorised batch: the arrays of a few hundred news texts (~1 M code points) stay in
# the CPU caches; on syndication `large` 250 signs 20% faster than 1,000 and 35% faster than 2,000
# (100 is no faster).
BATCH_TEXTS = 250


def shingle_sets(texts: Sequence[str], size: int) -> tuple[list[str], list[U64]]:
    """Per text its `content_hash` and `shingle_hashes` (see `_shingle_batch`), `BATCH_TEXTS`
    texts at a time."""
    shas: list[str] = []
    out: list[U64] = []
    for i in range(0, len(texts), BATCH_TEXTS):
        part = _shingle_batch(texts[i : i + BATCH_TEXTS], size)
        shas += part[0]
        out += part[1]
    return shas, out


def _shingle_batch(texts: Sequence[str], size: int) -> tuple[list[str], list[U64]]:
    """Per text its `content_hash` and `shingle_hashes`, the same values as one text at a time,
    computed for the whole batch at once with no Python object per token: the normalised texts
    are laid out as one array of code points (word characters: Python's `\\w`) and one of UTF-8
    bytes, tokens are the runs of word characters, hashed (`TokenHasher`'s CRC-32 and Adler-32)
    and mixed into shingles for all texts at once, then sorted and deduplicated per text."""
    normal = [_INVISIBLE.sub("", unicodedata.normalize("NFKC", text)).casefold() for text in texts]
    # "\x00" between texts is not a word character: no token spans two texts.
    joined = "\x00".join(normal)
    cps = np.frombuffer(joined.encode("utf-32-le", "surrogatepass"), np.uint32)
    buf = np.frombuffer(joined.encode("utf-8", "surrogatepass") + b" ", np.uint8)
    word = _is_word(cps)
    edges = np.diff(word.view(np.int8), prepend=np.int8(0), append=np.int8(0))
    cp_start, cp_end = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    # UTF-8 bytes per code point: 1 below 0x80, 2 below 0x800, 3 below 0x10000, else 4.
    width = np.searchsorted(_UTF8_STEPS, cps, side="right") + 1
    byte_at = np.zeros(len(cps) + 1, np.int64)
    np.cumsum(width, out=byte_at[1:])
    start, end = byte_at[cp_start], byte_at[cp_end]
    text_start = np.zeros(len(texts) + 1, np.int64)
    np.cumsum(np.fromiter(map(len, normal), np.int64, len(normal)) + 1, out=text_start[1:])
    token_bounds = np.searchsorted(cp_start, text_start)
    lengths = np.diff(token_bounds)
    hashes = _token_values(buf, start, end)
    shas = _content_hashes(buf, start, end, token_bounds)
    ends = np.cumsum(lengths)
    starts = ends - lengths
    # Window i (the `size` tokens from token i) belongs to the document holding token i, and
    # counts only when it ends inside that document.
    count = max(len(hashes) - size + 1, 0)
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


def _content_hashes(buf: npt.NDArray[np.uint8], start: I64, end: I64, bounds: I64) -> list[str]:
    """`content_hash` per text: sha256 of its tokens' UTF-8 bytes joined by single spaces,
    gathered from `buf` (whose last byte is a space) into one buffer."""
    length = end - start
    out_start = np.zeros(len(start) + 1, np.int64)
    np.cumsum(length + 1, out=out_start[1:])
    # Byte k of token t's output slot: byte start[t] + k, and the slot's last byte a space.
    slot = np.repeat(np.arange(len(start)), length + 1)
    k = np.arange(int(out_start[-1])) - out_start[slot]
    index = np.where(k < length[slot], start[slot] + k, len(buf) - 1)
    spaced = memoryview(buf[index].tobytes())
    shas = []
    for i in range(len(bounds) - 1):
        a, b = int(bounds[i]), int(bounds[i + 1])
        # Without the space after the text's last token.
        lo, hi = int(out_start[a]), max(int(out_start[b]) - 1, int(out_start[a]))
        shas.append(hashlib.sha256(spaced[lo:hi]).hexdigest())
    return shas


def sample_keys(shingles: U64, rate: int) -> U64:
    """The shingles whose hash falls in the lowest 1/`rate` of the 64-bit range.

    Consistent sampling: the same shingle is sampled in every document that has it, so two
    documents whose shingle sets overlap by `k` share about `k / rate` sampled keys whatever
    else they hold. This is the MinHash family's sketch for containment (a truncated or padded
    copy keeps its keys) where banded MinHash estimates Jaccard (and loses such copies).
    """
    return shingles[shingles < sample_threshold(rate)]


def sample_threshold(rate: int) -> np.uint64:
    """The hash below which a shingle is sampled at 1/`rate` (`sample_keys`)."""
    return np.uint64((1 << 64) // rate)


def sign_chunk(texts: Sequence[str], size: int) -> tuple[list[str], list[U64], list[list[str]]]:
    """The per-document signatures of a chunk of texts: `shingle_sets` and the cross-lingual keys
    in text order (`tasks.anchors.ordered_anchors_batch`). A spawned worker's unit of work: this
    module and `tasks.anchors` import no more than numpy."""
    # Imported here: `tasks.anchors` builds on this module (`sorted_unique`).
    from tasks.anchors import ordered_anchors_batch

    shas, shingles = shingle_sets(texts, size)
    return shas, shingles, ordered_anchors_batch(texts)
