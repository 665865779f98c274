"""Signatures for dedup: per text its normalised-text hash and its word-shingle hashes.

Input: document texts (already extracted and repaired). Output: per text the sha256 of its
normalised text (NFKC, casefolded, word tokens joined by single spaces; the exact-copy key), the
sorted array of its 64-bit word-shingle hashes (the exact set that verification compares), and
the consistently sampled subset of those hashes (`sample_keys`) that serves as its candidate
keys (the cross-lingual keys are `tasks.dedup.crosslingual`). Everything is deterministic across
processes and nights (no salted `hash()`), because signatures are stored in `data/state/` and
compared with later nights. Pure: no I/O; nothing is quarantined (an empty text simply has no
shingles and no sampled keys, so it can only be an exact copy).

`shingle_sets` signs a batch of texts as numpy arrays (code points, UTF-8 bytes, tokens,
shingles) with no Python object per token; a token's value is `tasks.hashing.token_value`
(zlib's CRC-32 and Adler-32), looked up in a `TokenMemo` and computed by zlib for the tokens it
has not met. The same definition one text at a time, in plain Python, is the test oracle
(`tests/dedup/oracle.py`).
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from tasks.dedup.segments import true_runs
from tasks.hashing import I64, U32, U64, range_values, sorted_unique

# splitmix64 constants: a cheap, well-mixed 64-bit hash step that vectorises in numpy.
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)


# Invisible format characters (soft hyphen, zero-width space/joiners, word joiner, BOM) split a
# word in two for `\w+`; the repair stage removes them, and dedup must not depend on it.
_INVISIBLE = re.compile("[\u00ad\u200b\u200c\u200d\u2060\ufeff]")


def _mix(x: U64) -> U64:
    with np.errstate(over="ignore"):
        x = x ^ (x >> np.uint64(30))
        x = x * _MIX1
        x = x ^ (x >> np.uint64(27))
        x = x * _MIX2
        return x ^ (x >> np.uint64(31))


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


# What each code point becomes in the normalised text (casefolded, without the
# `_INVISIBLE` ones): a word character for Python's `\w` (str.isalnum() or "_"), dropped, or
# neither (0), and one more kind for those whose casefold is not one code point of the BMP
# (104 of the BMP's, like "ß" -> "ss", and every code point above it), which are looked up in
# Python one distinct value at a time. Casefolding goes code point by code point (CPython's
# `str.casefold` knows no context), so the tables do what it does: on syndication `large` the
# code points and their kinds take 0.23 s where `str.casefold` and then a table of kinds took
# 0.37 s (building the tables: 12 ms more at import).
_OTHER_CHAR, _WORD_CHAR, _DROPPED_CHAR, _SPECIAL_CHAR = 0, 1, 2, 3


def _kind_of(char: str) -> int:
    if char.isalnum() or char == "_":
        return _WORD_CHAR
    return _DROPPED_CHAR if _INVISIBLE.match(char) else _OTHER_CHAR


def _bmp_tables() -> tuple[npt.NDArray[np.uint32], npt.NDArray[np.uint8]]:
    """The casefold of each BMP code point and its kind; entry 0x10000 stands for any code
    point above the BMP (`_SPECIAL_CHAR`)."""
    fold = np.zeros(0x10001, np.uint32)
    kind = np.full(0x10001, _SPECIAL_CHAR, np.uint8)
    for c in range(0x10000):
        folded = chr(c).casefold()
        if len(folded) == 1:
            fold[c], kind[c] = ord(folded), _kind_of(folded)
    return fold, kind


_BMP_FOLD, _BMP_KIND = _bmp_tables()


def _code_points(texts: Sequence[str]) -> tuple[U32, npt.NDArray[np.bool_], I64]:
    """The normalised `texts` (casefolded, without the `_INVISIBLE` characters) as one array
    of code points, with "\\x00" after each text (not a word character: no token spans two
    texts, and every token is followed by a code point); whether each is a word character;
    where each text starts (one more entry: the end)."""
    raw = np.frombuffer("\x00".join([*texts, ""]).encode("utf-32-le", "surrogatepass"), "<u4")
    text_start = np.zeros(len(texts) + 1, np.int64)
    np.cumsum(np.fromiter(map(len, texts), np.int64, len(texts)) + 1, out=text_start[1:])
    # np.take with an index of intp: 0.5 ms a batch where indexing with the uint32 took 0.9.
    index = (np.minimum(raw, 0x10000) if raw.max() > 0xFFFF else raw).astype(np.intp)
    cps, kind = np.take(_BMP_FOLD, index), np.take(_BMP_KIND, index)
    top = kind.max()
    if top == _SPECIAL_CHAR:
        cps, kind, text_start = _special(raw, cps, kind, text_start)
        top = kind.max()
    if top == _DROPPED_CHAR:
        # Rare (the repair stage drops most; 14 texts of syndication `large` hold one): taken
        # out of the code points, 0.02 s where `_INVISIBLE.sub` on every text took 0.17 s.
        dropped = np.flatnonzero(kind == _DROPPED_CHAR)
        text_start -= np.searchsorted(dropped, text_start)
        kept = kind != _DROPPED_CHAR
        cps, kind = cps[kept], kind[kept]
    return cps, kind.view(np.bool_), text_start


def _special(
    raw: U32, cps: U32, kind: npt.NDArray[np.uint8], text_start: I64
) -> tuple[U32, npt.NDArray[np.uint8], I64]:
    """`_code_points` with the `_SPECIAL_CHAR` code points casefolded by Python, each into as
    many code points as it gives (every batch of syndication `large` has some "ß" and "İ")."""
    at = np.flatnonzero(kind == _SPECIAL_CHAR)
    values, which = np.unique(raw[at], return_inverse=True)
    folds = [chr(c).casefold() for c in values.tolist()]
    # The first code point of each casefold in place, the others inserted after it.
    cps[at] = np.array([ord(f[0]) for f in folds], np.uint32)[which]
    kind[at] = np.array([_kind_of(f[0]) for f in folds], np.uint8)[which]
    after, more_cps, more_kind = [], [], []
    for k in range(1, max(map(len, folds))):
        has = np.flatnonzero(np.array([len(f) > k for f in folds])[which])
        after.append(at[has] + 1)
        more_cps.append(
            np.array([ord(f[k]) if len(f) > k else 0 for f in folds], np.uint32)[which[has]]
        )
        more_kind.append(
            np.array([_kind_of(f[k]) if len(f) > k else 0 for f in folds], np.uint8)[which[has]]
        )
    if not after:
        return cps, kind, text_start
    # Inserted at one place, they keep their order (np.insert sorts the places stably); none
    # goes at a text's start, which follows a "\x00".
    places = np.concatenate(after)
    shift = np.searchsorted(np.sort(places), text_start)
    return (
        np.insert(cps, places, np.concatenate(more_cps)),
        np.insert(kind, places, np.concatenate(more_kind)),
        text_start + shift,
    )


def _gathered_values(buf: npt.NDArray[np.uint8], start: I64, length: I64) -> U64:
    """`tasks.hashing.token_value` of the byte ranges `buf[start : start + length]`, by zlib: on
    syndication `large`, 148,670 ranges a night (tokens new to the memo, and those too long for
    it) take 0.06-0.2 s, against 0.1-0.25 s for the numpy CRC-32 and Adler-32 this replaced."""
    return range_values(buf.data, start, start + length)


# Tokens of up to this many UTF-8 bytes (99% of them on syndication `large`) are memoised by
# their bytes as two little-endian 64-bit words, zero-padded: the UTF-8 of a word character never
# holds a zero byte, so the key is the token itself. Longer ones are hashed every time.
_KEY_BYTES = 16
# The bytes of a token of length `n` (up to 16) in each key word: `_KEY_MASKS[w][n]`.
_KEY_MASKS = np.array(
    [[(1 << 8 * max(0, min(8, n - 8 * w))) - 1 for n in range(_KEY_BYTES + 1)] for w in (0, 1)],
    dtype=np.uint64,
)


class TokenMemo:
    """`tasks.hashing.token_value` of the tokens met so far, by their bytes: the batches of a
    night hash each distinct token once (syndication `large`: 87,000 distinct tokens of up to 16
    bytes among 7.9 million, 18,500 in a batch of 105,000).

    An open-addressing hash table with linear probing, looked up a batch of tokens at a time
    with numpy. A slot is a row of four words: the two key words of a token (`_KEY_BYTES`; the
    first one 0: an empty slot), its value (0 for a moment while its token is being valued: a
    value never is 0, as Adler-32's low half is 1 plus at most 16 * 255) and a spare word, so
    that a lookup reads one cache line and `np.take` copies 32-byte rows (its fast path: 105,000
    lookups in a 2**19-slot table took 0.3 ms, 2.4 ms from three separate arrays; the memo
    took 0.31 s a night where it took 0.38 s). Kept at most half full: 97% of the tokens are
    found at their first slot (a third full: 98%, and no faster). Tokens of one key word only
    in a table of their own, the others passed on to tables of longer keys: 20-30% slower.
    """

    def __init__(self) -> None:
        self.bits = 14
        self.table = np.zeros((1 << self.bits, 4), np.uint64)
        self.count = 0

    def __call__(self, buf: npt.NDArray[np.uint8], start: I64, end: I64) -> U64:
        """The values of the byte ranges `buf[start:end]`; the last `_KEY_BYTES` bytes of `buf`
        are in no token (a key is read 16 bytes at a time and masked)."""
        length = end - start
        clipped = np.minimum(length, _KEY_BYTES)
        # The 8 bytes from each position as a little-endian word, read in place (unaligned).
        words = np.ndarray((len(buf) - 7,), "<u8", buf, 0, (1,))
        key0 = words[start] & _KEY_MASKS[0][clipped]
        key1 = words[start + 8] & _KEY_MASKS[1][clipped]
        row = np.take(self.table, self._home(key0, key1), axis=0)
        found = row[:, 0] == key0
        found &= row[:, 1] == key1
        found &= length <= _KEY_BYTES
        out = row[:, 2].copy()
        missed = np.flatnonzero(~found)
        if len(missed):
            out[missed] = self._missed(
                buf, start[missed], length[missed], key0[missed], key1[missed]
            )
        return out

    def _missed(
        self, buf: npt.NDArray[np.uint8], start: I64, length: I64, key0: U64, key1: U64
    ) -> U64:
        """Values of the tokens not found at their first slot: looked further, added if new."""
        out = np.empty(len(start), np.uint64)
        long = length > _KEY_BYTES
        short: slice | npt.NDArray[np.intp] = slice(None)
        if long.any():
            out[long] = _gathered_values(buf, start[long], length[long])
            short = np.flatnonzero(~long)
            start, length, key0, key1 = start[short], length[short], key0[short], key1[short]
        self._reserve(self.count + len(start))
        slot = self._claim(key0, key1)
        value = self.table[:, 2]
        got = value[slot]
        new = np.flatnonzero(got == 0)
        if len(new):
            # One token of each new slot: the one whose index stays written there.
            value[slot[new]] = new + 1
            first = new[value[slot[new]] == new + 1]
            value[slot[first]] = 0
            value[slot[first]] = _gathered_values(buf, start[first], length[first])
            got[new] = value[slot[new]]
            self.count += len(first)
        out[short] = got
        return out

    def _home(self, key0: U64, key1: U64) -> npt.NDArray[np.intp]:
        """First slot of each key: the top bits of a multiplicative hash of its two words."""
        with np.errstate(over="ignore"):
            mixed = key1 * _GOLDEN
            mixed ^= key0
            mixed *= _MIX1
        mixed >>= np.uint64(64 - self.bits)
        return mixed.view(np.intp)

    def _claim(self, key0: U64, key1: U64) -> npt.NDArray[np.intp]:
        """The slot of each key, the keys not in the table written into empty slots."""
        table0, table1 = self.table[:, 0], self.table[:, 1]
        wrap = (1 << self.bits) - 1
        slot = self._home(key0, key1)
        pending = np.arange(len(key0))
        while len(pending):
            at, want0, want1 = slot[pending], key0[pending], key1[pending]
            empty = table0[at] == 0
            if empty.any():
                # Where several keys want one empty slot, one of them gets it (numpy keeps one
                # of repeated writes, which one unsaid); the second word is written only by the
                # keys whose first word won, so the slot holds a whole key of one of them.
                into = at[empty]
                table0[into] = want0[empty]
                won = np.flatnonzero(empty)[table0[into] == want0[empty]]
                table1[at[won]] = want1[won]
            done = (table0[at] == want0) & (table1[at] == want1)
            pending = pending[~done]
            slot[pending] = (slot[pending] + 1) & wrap
        return slot

    def _reserve(self, count: int) -> None:
        """Room for `count` tokens at most half full; a bigger table is filled anew."""
        bits = self.bits
        while (1 << bits) < 2 * count:
            bits += 1
        if bits == self.bits:
            return
        old = self.table[self.table[:, 0] != 0]
        self.bits = bits
        self.table = np.zeros((1 << bits, 4), np.uint64)
        self.table[self._claim(old[:, 0], old[:, 1]), 2] = old[:, 2]


# Texts per vectorised batch: the arrays of a few hundred news texts (~1 M code points) stay in
# the CPU caches; on syndication `large` 250 signs 20% faster than 1,000 and 35% faster than 2,000
# (100 is no faster).
BATCH_TEXTS = 250


def shingle_sets(
    texts: Sequence[str], size: int, *, nfkc: bool = False
) -> tuple[list[str], list[U64]]:
    """Per text its normalised-text hash and `shingle_hashes` (see `_shingle_batch`),
    `BATCH_TEXTS` texts at a time, the batches sharing one `TokenMemo`. `nfkc`: the texts are
    NFKC-normalised already (the dedup stage normalises once for these and the cross-lingual
    keys)."""
    memo = TokenMemo()
    shas: list[str] = []
    out: list[U64] = []
    for i in range(0, len(texts), BATCH_TEXTS):
        part = _shingle_batch(texts[i : i + BATCH_TEXTS], size, nfkc, memo)
        shas += part[0]
        out += part[1]
    return shas, out


def _shingle_batch(
    texts: Sequence[str], size: int, nfkc: bool, memo: TokenMemo
) -> tuple[list[str], list[U64]]:
    """Per text its normalised-text hash and `shingle_hashes`, the same values as one text at
    a time, computed for the whole batch at once with no Python object per token: the normalised
    texts are laid out as one array of code points (word characters: Python's `\\w`), tokens are the
    runs of word characters, laid out again as UTF-8 with a space after each, hashed
    (`tasks.hashing.token_value`, through `memo`) and mixed into shingles for all texts at once,
    then sorted and deduplicated per text."""
    if not nfkc:
        texts = [unicodedata.normalize("NFKC", text) for text in texts]
    cps, word, text_start = _code_points(texts)
    cp_start, cp_end = true_runs(word)
    token_bounds = np.searchsorted(cp_start, text_start)
    # The tokens with a space after each: what the normalised-text hash hashes, text by text
    # (without the last space), and where the tokens' bytes are read. Encoded from the code points
    # kept, the UTF-8 of the whole text is never made; then `_KEY_BYTES` zero bytes for `memo` to
    # read keys past the last token.
    keep = word.copy()
    keep[cp_end] = True
    chosen = cps[keep]
    chosen[np.cumsum(cp_end - cp_start + 1) - 1] = ord(" ")
    spaced = chosen.tobytes().decode("utf-32-le").encode("utf-8")
    buf = np.frombuffer(spaced + bytes(_KEY_BYTES), np.uint8)
    # Token t's bytes start at `at[t]` and end before the space at `at[t + 1] - 1`.
    at = np.zeros(len(cp_start) + 1, np.int64)
    at[1:] = np.flatnonzero(buf == ord(" "))
    at[1:] += 1
    start, end = at[:-1], at[1:] - 1
    lengths = np.diff(token_bounds)
    hashes = memo(buf, start, end)
    shas = _content_hashes(memoryview(spaced), at, token_bounds)
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


def _content_hashes(spaced: memoryview, at: I64, bounds: I64) -> list[str]:
    """The normalised-text hash per text: sha256 of its tokens' UTF-8 bytes joined by single
    spaces, read from `spaced`, every token followed by a space, token t at `at[t]`.
    `bounds[i]:bounds[i + 1]` are text i's tokens; a text ends before its last space."""
    lo = at[bounds[:-1]]
    hi = np.maximum(at[bounds[1:]] - 1, lo)
    return [
        hashlib.sha256(spaced[a:b]).hexdigest()
        for a, b in zip(lo.tolist(), hi.tolist(), strict=True)
    ]


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
