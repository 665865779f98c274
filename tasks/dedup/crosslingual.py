"""Cross-lingual evidence for dedup: what a translation keeps of its original, as string keys.

Input: document texts (already extracted and repaired) and their site template groups (see
`tasks.dedup.templates`). Output: per document its language-independent keys in the order the
text first uses them: numbers (`#1250`, separators dropped), names (capitalised Latin-script
words that the text never writes in lower case, casefolded) and cognate stems (`~` and the first
`COGNATE_PREFIX` letters of a long Latin-script word with its diacritics dropped: "coopération"
and "cooperation" both give `~coope`, "terroristes" and "terrorists" `~terro`), as ids into the
key strings (`anchor_lists`); `template_free` then drops the keys that another page of the same
site template also carries (its chrome: a sidebar's names and dates are not the report's).
`tasks.dedup.linking.translation_matches` compares these sets between groups of copies in
different languages. Deterministic (the keys are stored in `data/state/` and compared with later
nights; `ANCHORS_VERSION` names what they are). Pure: no I/O; quarantines nothing (a text
without numbers, names or long Latin-script words simply has no keys and is never linked as a
translation).

The keys of a few hundred texts are found at a time, as numpy arrays of code points with no
Python object per word (one text at a time in Python took five times as long on syndication
`large`: 11 s against 2.1 s). The same definition one text at a time, in plain Python, is the
test oracle (`tests/dedup/oracle.py`); the tests hold the two equal, key for key.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, fields
from functools import lru_cache
from typing import Any

import numpy as np
import numpy.typing as npt

from tasks.dedup.keylists import KeyLists
from tasks.dedup.segments import Mask, differ, match_mask, positions, segment_sums, true_runs
from tasks.hashing import I64, U32, U64, sorted_unique

U8 = npt.NDArray[np.uint8]
Index = npt.NDArray[np.integer[Any]]

# What the keys are. Stored with the dedup state (`tasks.dedup.night`): a night never compares its
# keys with keys of another version (version 1: numbers and names only, from
# `tasks.dedup.signatures.anchors`; 2: adds cognate stems and drops template keys).
ANCHORS_VERSION = 2

_WORD = re.compile(r"\w+", re.UNICODE)
# Numbers are written with the same digits in every language of the benchmark (zh and ar texts
# included).
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_NON_DIGIT = re.compile(r"\D")
_DIGITS = re.compile(r"\d+")
# Latin script only (Basic Latin, Latin-1, Latin Extended-A/B): names in Cyrillic, Arabic or Han
# script are spelled differently in every language.
_NAME_FIRST = "[A-ZÀ-ÖØ-ÞĀ-ɏ]"
_NAME_LATER = "[A-Za-zÀ-ÖØ-öø-ɏ'’-]"
_NAME = re.compile(rf"(?<![\w]){_NAME_FIRST}{_NAME_LATER}{{2,}}(?![\w])")
_NAME_FIRST_RUN, _NAME_LATER_RUN = re.compile(f"{_NAME_FIRST}+"), re.compile(f"{_NAME_LATER}+")
# Cognate stems: the first 5 letters of words of 6 letters or more. Calibrated on the shared
# `small` and `large` syndication sets (same rule as `tasks.dedup.linking.translation_matches`, its
# thresholds tuned for each length): 5 letters kept the most translation pairs at no
# hard-negative merge (large: 0.80 translation recall against 0.78 with 4 letters and 0.77 with
# 6; 4 letters conflate unrelated words, 6 miss inflected pairs such as "victories" and
# "victoires"). Shorter words are mostly function words.
COGNATE_PREFIX = 5


def _strip_marks(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _stem(word: str) -> str | None:
    if not word.isascii():
        word = _strip_marks(word)
        if not word.isascii():
            return None
    if len(word) > COGNATE_PREFIX and word.isalpha():
        return "~" + word[:COGNATE_PREFIX]
    return None


def word_stem(word: str) -> str | None:
    """The cognate stem of a word as the text writes it (None for short words and other
    scripts)."""
    # casefold writes the Turkish "İ" as "i" and a combining dot, which would cut the word.
    folded = word.casefold().replace("\u0307", "")
    return _stem(folded) if len(folded) > COGNATE_PREFIX else None


def template_free(found: KeyLists, groups: Sequence[int | None]) -> KeyLists:
    """Each document's keys minus those that another document of its template group also has
    (the order of the rest kept).

    A site does not publish one report twice, so what two of its pages share is its template
    (`tasks.dedup.templates`); on the `small` set, chrome that the extractor kept (a company's
    "about" box, a book fair's sidebar) linked unrelated reports in different languages.
    """
    group = np.array([-1 if g is None else g for g in groups], np.int64)
    owner = found.owners()
    of = group[owner]
    inside = np.flatnonzero(of >= 0)
    if not len(inside):
        return found
    # A document's keys are distinct: a (group, key) met twice is in two of its documents.
    width = int(found.ids.max()) + 1
    code = of[inside] * width + found.ids[inside]
    if int(code.max()) < 1 << 32:
        code = code.astype(np.uint32)
    # Sorted, each code is next to its repeats. A stable sort: a document's ids come in runs that
    # rise (first use), which it takes whole (on syndication `large`, 0.065 s against 0.11 s for
    # counting the codes and then looking each up).
    order = np.argsort(code, kind="stable")
    ranked = code[order]
    repeat = np.zeros(len(ranked), bool)
    same = ranked[1:] == ranked[:-1]
    repeat[1:] = same
    repeat[:-1] |= same
    if not repeat.any():
        return found
    keep = np.ones(len(found.ids), bool)
    keep[inside[order]] = ~repeat
    return found.where(keep)


# --- Finding the keys ------------------------------------------------------------------------
# `anchor_lists` reads a few hundred texts at a time laid out as one array of code points, with
# no Python object per word: what each code point is comes from a table (`_Chars`), numbers and
# names are found by where those kinds of code point start and stop, keys are integers until the
# memo meets them for the first time.

# Texts per vectorised batch, as `tasks.dedup.signatures.BATCH_TEXTS` (on syndication `large`, 125,
# 250, 400 and 600 texts take the same time within the noise; 1,000 is slower).
ANCHOR_BATCH_TEXTS = 250

# What a code point is (`_Chars.kind`), one bit each. Stem bits, on word characters only:
# NOT_PLAIN where casefold and NFKD without marks leave anything but one ASCII letter (or
# casefold gives several code points), MIXED where they leave ASCII letters all the same ("ß",
# "ĳ"). Name bits: a capital that can start `_NAME`, a character that can continue it, one whose
# casefold is several code points, one that casefold changes.
_IS_WORD, _IS_DIGIT, _MIXED, _NOT_PLAIN = 1, 2, 4, 8
_NAME_START, _NAME_MORE, _NAME_WIDE, _NAME_FOLDS = 16, 32, 64, 128
# `_NAME`'s characters all lie below U+2020 (a test holds this, and that its first characters
# are word characters that can also come later).
_NAME_END = 0x2020
# Stems of lowercase ASCII letters are numbered by their letters read as base-26 digits.
_LETTERS = 26
_LOWER_STEMS = _LETTERS**COGNATE_PREFIX


@dataclass(frozen=True)
class _Chars:
    """Per code point: its `kind` bits; for the cognate stem of a word holding it
    (`word_stem`, `_stem`), its length casefolded (U+0307 dropped), its length also stripped
    of marks, the first `COGNATE_PREFIX` ASCII letters left (`head`) and the first as a base-26
    digit (`digit`: a-z 0 to 25, anything else `_LOWER_STEMS`); for names, its casefold (the
    first code point; any other code point itself).

    Each step of `_stem` works one code point at a time (casefold has no context, NFKD
    decomposes each code point alone, and the marks that canonical reordering moves are then
    dropped), so a word's stem is read off its code points' rows."""

    kind: U8
    fold_len: I64
    strip_len: I64
    head: U8
    digit: I64
    name_fold: U32

    def extended(self, codes: U32) -> _Chars:
        """These rows, then the rows of `codes`."""
        more = _chars_of(codes)
        return _Chars(
            *(np.concatenate((getattr(self, f.name), getattr(more, f.name))) for f in fields(self))
        )


def _code_string(codes: U32) -> str:
    return codes.astype("<u4").tobytes().decode("utf-32-le", "surrogatepass")


def _code_points(text: str) -> U32:
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), np.uint32)


def _chars_of(codes: U32) -> _Chars:
    """The rows of these code points. Each step is one call on a string of all of them (re,
    casefold, NFKD, unicodedata.combining mapped in C) or numpy on its code points, with no
    Python code per code point: the BMP's rows take 15 ms, against 55 ms with a generator per
    code point for `\\w`, `\\d`, the marks, the letters and the splits (built once a process,
    `_bmp_chars`)."""
    n = len(codes)
    # re's `\w` and `\d` test what str.isalnum() (or "_") and str.isdecimal() do, over runs (a
    # few hundred in the BMP). The code point 0 is "\x00" here: like "", none of those.
    text = _code_string(codes)
    word = match_mask(_WORD, text)
    digit_char = match_mask(_DIGITS, text)
    # Each code point followed by "\x00" (the code point 0 as ""): "\x00" passes casefold and
    # NFKD unchanged and stops canonical reordering, so one call each does all the code points
    # and each one's result ends at its "\x00".
    spaced = np.zeros((n, 2), np.uint32)
    spaced[:, 0] = codes
    kept = np.ones((n, 2), bool)
    kept[:, 0] = codes != 0
    folded = _code_string(spaced[kept]).casefold()
    raw = _code_points(folded)
    raw_end = np.flatnonzero(raw == 0)
    raw_len = np.diff(raw_end, prepend=-1) - 1
    # The first code point of each casefold (names) and its length without U+0307 (stems).
    first = raw[raw_end - raw_len]
    fold_len = raw_len - _counts(raw == 0x307, raw_end)
    decomposed = unicodedata.normalize("NFKD", folded.replace("\u0307", ""))
    points = _code_points(decomposed)
    # The marks: unicodedata.combining mapped over the code points left, each distinct one once
    # through a table by code point if they are many (the BMP's: 3.1 ms, against 5.1 ms for
    # all 156,000 and 11 ms for a set of the characters and a generator); a few code points
    # above the BMP (`AnchorMemo.rows_above_bmp`) would pay more for the table than for the calls.
    if 16 * len(points) > points.max(initial=0):
        met = np.zeros(int(points.max()) + 1, bool)
        met[points] = True
        distinct = np.flatnonzero(met).astype(np.uint32)
        classes = np.fromiter(map(unicodedata.combining, _code_string(distinct)), np.int64)
        mark = np.zeros_like(met)
        mark[distinct[classes != 0]] = True
        stripped = points[~mark[points]]
    else:
        classes = np.fromiter(map(unicodedata.combining, decomposed), np.int64, len(points))
        stripped = points[classes == 0]
    strip_end = np.flatnonzero(stripped == 0)
    strip_len = np.diff(strip_end, prepend=-1) - 1
    # Rows whose stripped form is all ASCII letters (or nothing).
    lowered = stripped | 0x20
    other = (stripped != 0) & ((lowered < ord("a")) | (lowered > ord("z")))
    letters = _counts(other, strip_end) == 0
    plain = letters & (fold_len == 1) & (strip_len == 1)
    kind = np.where(word, _IS_WORD, 0)
    kind |= np.where(digit_char, _IS_DIGIT, 0)
    kind |= np.where(word & letters & ~plain, _MIXED, 0)
    kind |= np.where(word & ~plain, _NOT_PLAIN, 0)
    low = np.flatnonzero(codes < _NAME_END)
    low_text = _code_string(codes[low])
    later, start = np.zeros(n, bool), np.zeros(n, bool)
    later[low] = match_mask(_NAME_LATER_RUN, low_text)
    start[low] = match_mask(_NAME_FIRST_RUN, low_text)
    name_fold = np.where(later, first, codes).astype(np.uint32)
    kind |= np.where(later, _NAME_MORE, 0)
    kind |= np.where(later & start, _NAME_START, 0)
    kind |= np.where(later & (raw_len > 1), _NAME_WIDE, 0)
    kind |= np.where(later & ((raw_len != 1) | (first != codes)), _NAME_FOLDS, 0)
    head = np.zeros((n, COGNATE_PREFIX), np.uint8)
    rows = np.flatnonzero(word & letters)
    at, length = (strip_end - strip_len)[rows], strip_len[rows]
    for k in range(COGNATE_PREFIX):
        more = length > k
        head[rows[more], k] = stripped[at[more] + k]
    lower = (head[:, 0] >= ord("a")) & (head[:, 0] <= ord("z"))
    digit = np.where(lower, head[:, 0].astype(np.int64) - ord("a"), _LOWER_STEMS)
    return _Chars(kind.astype(np.uint8), fold_len, strip_len, head, digit, name_fold)


def _counts(flags: Mask, ends: I64) -> I64:
    """How many of `flags` are true in each segment, the segments ending (one before) at `ends`
    and covering `flags`."""
    return np.diff(np.cumsum(flags)[ends], prepend=0)


@lru_cache(maxsize=1)
def _bmp_chars() -> _Chars:
    return _chars_of(np.arange(0x10000, dtype=np.uint32))


def _powers(base: int, n: int) -> U64:
    out = np.full(n, base, np.uint64)
    out[0] = 1
    # cumprod wraps modulo 2**64: the arithmetic of the hash.
    return np.cumprod(out)


# Polynomial hashes of code point sequences, modulo 2**64: the multiplier is odd, hence
# invertible, so a segment's hash is moved back to position 0 and equal segments hash equal
# wherever they sit. Unequal ones may collide: whatever hashes equal is then compared code point
# by code point.
_BASE = 0x9E3779B97F4A7C15
# Names are found by the top bits of their hash in a table of this many bits (a few thousand
# names a batch: few share a slot, and the table stays in the CPU caches).
_SLOT_BITS = 18


class AnchorMemo:
    """What the batches of one `anchor_lists` call (a night's texts) share: each key string met
    so far with its id (stems of lowercase ASCII letters through a table indexed by their
    letters, names through their hash checked against their code points, any key through a dict
    of strings), the `_Chars` rows of the code points above the BMP met so far, and arrays
    reused from batch to batch."""

    def __init__(self) -> None:
        self.strings = np.empty(1 << 12, object)
        self.count = 0
        self.index: dict[str, int] = {}
        # A stem's id + 1 (0: not met yet) by its letters as a base-26 number: 47 MB, of which
        # only the pages of the stems met are touched.
        self.stems = np.zeros(_LOWER_STEMS, np.int32)
        # Name hashes, sorted, and each one's row in `name_key`, `name_first`, `name_len` (the
        # casefolded name's code points in `name_points`).
        self.name_hashes = np.zeros(0, np.uint64)
        self.name_rows = np.zeros(0, np.int64)
        self.name_key = np.zeros(0, np.int64)
        self.name_first = np.zeros(0, np.int64)
        self.name_len = np.zeros(0, np.int64)
        self.name_points = np.zeros(0, np.uint32)
        # A batch's first copy of each name by its slot (-1: names of several hashes, -2: none).
        self.slots = np.full(1 << _SLOT_BITS, -2, np.int64)
        self.powers = self.inverse = np.ones(1, np.uint64)
        self.chars = _bmp_chars()
        self.high_codes = np.zeros(0, np.uint32)
        self.high_rows = np.zeros(0, np.uint32)
        self.buffers: dict[str, npt.NDArray[Any]] = {}

    def rows_above_bmp(self, codes: U32) -> U32:
        """The `chars` rows of code points above the BMP (rows added for new ones)."""
        known = np.zeros(len(codes), bool)
        if len(self.high_codes):
            at = np.minimum(np.searchsorted(self.high_codes, codes), len(self.high_codes) - 1)
            known = self.high_codes[at] == codes
        new = sorted_unique(codes[~known].astype(np.int64))
        if len(new):
            rows = len(self.chars.kind) + np.arange(len(new), dtype=np.uint32)
            self.chars = self.chars.extended(new.astype(np.uint32))
            where = np.searchsorted(self.high_codes, new)
            self.high_codes = np.insert(self.high_codes, where, new)
            self.high_rows = np.insert(self.high_rows, where, rows)
        return self.high_rows[np.searchsorted(self.high_codes, codes)]

    def buffer(self, name: str, size: int, dtype: type[np.generic]) -> npt.NDArray[Any]:
        """An array of `size` entries, whatever they hold, reused by every batch: a fresh array
        of a batch's size costs more to map in than to fill."""
        out = self.buffers.get(name)
        if out is None or len(out) < size:
            out = self.buffers[name] = np.empty(
                max(size, 2 * len(out) if out is not None else 0), dtype
            )
        return out[:size]

    def ids(self, strings: list[str]) -> I64:
        """The ids of these key strings."""
        index = self.index
        new = [s for s in dict.fromkeys(strings) if s not in index]
        index.update(zip(new, range(self.count, self.count + len(new)), strict=True))
        self._add(new)
        return np.fromiter(map(index.__getitem__, strings), np.int64, len(strings))

    def _add(self, strings: list[str]) -> None:
        need = self.count + len(strings)
        if need > len(self.strings):
            grown = np.empty(max(need, 2 * len(self.strings)), object)
            grown[: self.count] = self.strings[: self.count]
            self.strings = grown
        self.strings[self.count : need] = strings
        self.count = need

    def stem_ids(self, number: I64) -> I64:
        """The ids of the stems of lowercase ASCII letters numbered `number`."""
        found = self.stems[number]
        new = np.flatnonzero(found == 0)
        if len(new):
            fresh = sorted_unique(number[new])
            self.stems[fresh] = self.count + 1 + np.arange(len(fresh))
            places = _LETTERS ** np.arange(COGNATE_PREFIX - 1, -1, -1)
            letters = (fresh[:, None] // places % _LETTERS + ord("a")).astype(np.uint8)
            joined, size = letters.tobytes().decode("ascii"), COGNATE_PREFIX
            self._add(["~" + joined[i : i + size] for i in range(0, len(joined), size)])
            found = self.stems[number]
        return found.astype(np.int64) - 1

    def name_ids(self, hashes: U64, points: U32, first: I64, length: I64) -> I64:
        """The ids of the distinct casefolded names `points[first : first + length]`, whose
        hashes are `hashes`."""
        at = np.minimum(np.searchsorted(self.name_hashes, hashes), len(self.name_hashes) - 1)
        rows = np.full(len(hashes), -1, np.int64)
        if len(self.name_hashes):
            known = self.name_hashes[at] == hashes
            rows[known] = self.name_rows[at[known]]
        known = np.flatnonzero(rows >= 0)
        out = np.zeros(len(rows), np.int64)
        out[known] = self.name_key[rows[known]]
        row = rows[known]
        unequal = differ(
            points,
            first[known],
            length[known],
            self.name_points,
            self.name_first[row],
            self.name_len[row],
        )
        new = np.flatnonzero(rows < 0)
        # New names, and any name that only shares a known name's hash: by their strings.
        by_string = np.concatenate((new, known[unequal]))
        at = positions(first[by_string], length[by_string])
        # The names' code points with "\x00" between them, decoded at once.
        spaced = np.zeros(len(at) + len(by_string), np.uint32)
        spaced[np.arange(len(at)) + np.repeat(np.arange(len(by_string)), length[by_string])] = (
            points[at]
        )
        if len(by_string):
            out[by_string] = self.ids(spaced[:-1].tobytes().decode("utf-32-le").split("\x00"))
        if len(new):
            order = new[np.argsort(hashes[new])]
            where = np.searchsorted(self.name_hashes, hashes[order])
            self.name_hashes = np.insert(self.name_hashes, where, hashes[order])
            rows = len(self.name_key) + np.searchsorted(new, order)
            self.name_rows = np.insert(self.name_rows, where, rows)
            self.name_key = np.concatenate((self.name_key, out[new]))
            offset = len(self.name_points) + np.cumsum(length[new]) - length[new]
            self.name_first = np.concatenate((self.name_first, offset))
            self.name_len = np.concatenate((self.name_len, length[new]))
            self.name_points = np.concatenate((self.name_points, points[at[: length[new].sum()]]))
        return out

    def hashes(self, values: U32, first: I64, length: I64) -> U64:
        """The hash of each segment `values[first : first + length]`."""
        if len(self.powers) <= len(values):
            size = max(len(values) + 1, 2 * len(self.powers))
            self.powers = _powers(_BASE, size)
            self.inverse = _powers(pow(_BASE, -1, 1 << 64), size)
        prefix = self.buffer("prefix", len(values) + 1, np.uint64)
        prefix[0] = 0
        np.multiply(values, self.powers[: len(values)], out=prefix[1:])
        np.cumsum(prefix[1:], out=prefix[1:])
        return (prefix[first + length] - prefix[first]) * self.inverse[first]

    def firsts(self, pair: I64, position: I64, size: int) -> Mask:
        """Whether each `position` (below 2**31) is the first of its `pair` (pairs below
        `size`; the positions of a pair are distinct)."""
        first = self.buffer("first", size, np.int32)
        first[pair] = np.iinfo(np.int32).max
        np.minimum.at(first, pair, position.astype(np.int32))
        return first[pair] == position


def _slots(hashes: U64) -> npt.NDArray[np.intp]:
    """A hash's slot in `AnchorMemo.slots`: its top bits once mixed (the polynomial hash of short
    names leaves its top bits uneven)."""
    return ((hashes * np.uint64(_BASE)) >> np.uint64(64 - _SLOT_BITS)).astype(np.intp)


def key_strings(vocab: Sequence[str], lists: KeyLists) -> list[list[str]]:
    """`lists` as lists of strings (`vocab[k]` for each id k)."""
    strings = [vocab[k] for k in lists.ids.tolist()]
    edges = lists.bounds.tolist()
    return [strings[edges[i] : edges[i + 1]] for i in range(len(lists))]


def anchor_lists(texts: Sequence[str], *, nfkc: bool = False) -> tuple[list[str], KeyLists]:
    """The keys of each text in the order it first uses them (ties, keys first used at the same
    offset, in key order), as ids into the returned key strings (each string once, numbered in
    the order the texts first use them), `ANCHOR_BATCH_TEXTS` texts at a time. The batches share
    one `AnchorMemo` (what a night's batches met: key strings, tables, arrays). `nfkc`: the
    texts are NFKC-normalised already."""
    memo = AnchorMemo()
    parts = [
        _anchors_batch(texts[i : i + ANCHOR_BATCH_TEXTS], memo, nfkc)
        for i in range(0, len(texts), ANCHOR_BATCH_TEXTS)
    ]
    found = KeyLists.concat(parts)
    # The first use of each key: the smallest position that holds it (a table over the memo's
    # ids, not a sort: np.unique took a tenth of the keys' time).
    ids = found.ids
    first = memo.buffer("first_use", memo.count, np.int64)
    first[ids] = len(ids)
    np.minimum.at(first, ids, np.arange(len(ids)))
    used = ids[np.flatnonzero(first[ids] == np.arange(len(ids)))]
    number = memo.buffer("number", memo.count, np.int64)
    number[used] = np.arange(len(used))
    return memo.strings[used].tolist(), KeyLists(number[ids], found.bounds)


class _Batch:
    """A batch of NFKC texts as one array of code points, with each position's text, `_Chars`
    row and kind, and the words (runs of word characters)."""

    def __init__(self, texts: Sequence[str], memo: AnchorMemo, nfkc: bool = False) -> None:
        self.normal = list(texts) if nfkc else [unicodedata.normalize("NFKC", t) for t in texts]
        # "\x00" between texts is no word character, digit, separator or name letter: no key
        # spans two texts, and each text starts and ends as it does alone.
        self.joined = "\x00".join(self.normal)
        self.cps = _code_points(self.joined)
        lengths = np.fromiter(map(len, self.normal), np.int64, len(texts))
        self.starts = (np.cumsum(lengths + 1) - lengths - 1).tolist()
        number = np.arange(len(texts), dtype=np.min_scalar_type(len(texts)))
        self._text = np.repeat(number, lengths + 1)[: len(self.cps)]
        # Converted once to the type numpy indexes with, not at each lookup.
        self.rows = memo.buffer("rows", len(self.cps), np.intp)
        self.rows[:] = self.cps
        high = np.flatnonzero(self.cps > 0xFFFF)
        if len(high):
            self.rows[high] = memo.rows_above_bmp(self.cps[high])
        self.chars = memo.chars
        self.kind = self.chars.kind[self.rows]
        self.word = (self.kind & _IS_WORD) != 0
        starts, ends = true_runs(self.word)
        self.word_start, self.word_len = starts, ends - starts

    def text(self, positions: Index) -> I64:
        """The text of each position (numbered from 0 in the batch)."""
        return self._text[positions].astype(np.int64)


# Keys found: position, key id, and the order of keys found at one position (`_in_order`).
_Found = tuple[I64, I64, I64]


def _anchors_batch(texts: Sequence[str], memo: AnchorMemo, nfkc: bool = False) -> KeyLists:
    batch = _Batch(texts, memo, nfkc)
    found = [_stem_keys(batch, memo), _number_keys(batch, memo), _name_keys(batch, memo)]
    position, key, tie = (np.concatenate(part) for part in zip(*found, strict=True))
    return _in_order(batch, memo, position, key, tie)


def _in_order(batch: _Batch, memo: AnchorMemo, position: I64, key: I64, tie: I64) -> KeyLists:
    """Each text's keys (ids of the memo) at their first position, in position order. Only a
    name and the stem of the same word share a position; `tie` orders them as their strings
    compare (a stem starts with "~", a name with a letter below or above it)."""
    used = np.zeros(memo.count, bool)
    used[key] = True
    local = np.cumsum(used) - 1
    keys = int(local[-1]) + 1 if len(local) else 0
    pair = batch.text(position) * keys + local[key]
    keep = memo.firsts(pair, position, len(batch.normal) * keys)
    position, key, tie = position[keep], key[keep], tie[keep]
    # Each kind's keys come in position order: a stable sort merges them.
    order = np.argsort(position * 3 + tie, kind="stable")
    bounds = np.searchsorted(batch.text(position[order]), np.arange(len(batch.normal) + 1))
    return KeyLists(key[order], bounds.astype(np.int64))


def _stem_keys(batch: _Batch, memo: AnchorMemo) -> _Found:
    """Cognate stems (`word_stem`): a word has one when all its code points leave ASCII
    letters and both its casefold and those letters are longer than `COGNATE_PREFIX`."""
    chars, rows, start, length = batch.chars, batch.rows, batch.word_start, batch.word_len
    # Plain words: long enough, and one letter per code point (no NOT_PLAIN code point).
    counts = memo.buffer("counts", len(rows) + 1, np.int32)
    counts[0] = 0
    np.cumsum((batch.kind & _NOT_PLAIN) != 0, dtype=np.int32, out=counts[1:])
    plain = np.flatnonzero(length > COGNATE_PREFIX)
    plain = plain[counts[start[plain] + length[plain]] == counts[start[plain]]]
    number = np.zeros(len(plain), np.int64)
    for k in range(COGNATE_PREFIX):
        number = number * _LETTERS + chars.digit[rows[start[plain] + k]]
    # Words with a MIXED code point (casefold or NFKD gives several letters, or none) and no
    # code point that leaves anything but letters.
    mixed = np.flatnonzero((batch.kind & _MIXED) != 0)
    mixed = sorted_unique(np.searchsorted(start, mixed, side="right") - 1)
    row = rows[positions(start[mixed], length[mixed])]
    kind = chars.kind[row]
    other = ((kind & _NOT_PLAIN) != 0) & ((kind & _MIXED) == 0)
    keep = segment_sums(other.astype(np.int64), length[mixed]) == 0
    keep &= segment_sums(chars.fold_len[row], length[mixed]) > COGNATE_PREFIX
    keep &= segment_sums(chars.strip_len[row], length[mixed]) > COGNATE_PREFIX
    mixed = mixed[keep]
    row = rows[positions(start[mixed], length[mixed])]
    word = np.repeat(np.arange(len(mixed)), length[mixed])
    width = chars.strip_len[row]
    slot = np.cumsum(width) - width
    slot -= slot[(np.cumsum(length[mixed]) - length[mixed])[word]]
    letters = np.zeros((len(mixed), COGNATE_PREFIX), np.uint8)
    for j in range(COGNATE_PREFIX):
        put = np.flatnonzero((j < width) & (slot + j < COGNATE_PREFIX))
        letters[word[put], slot[put] + j] = chars.head[row[put], j]
    digit = np.full(256, _LOWER_STEMS, np.int64)
    digit[ord("a") : ord("z") + 1] = np.arange(_LETTERS)
    mixed_number = np.zeros(len(mixed), np.int64)
    for k in range(COGNATE_PREFIX):
        mixed_number = mixed_number * _LETTERS + digit[letters[:, k]]
    chosen = np.concatenate((plain, mixed))
    number = np.concatenate((number, mixed_number))
    lower = number < _LOWER_STEMS
    key = np.zeros(len(chosen), np.int64)
    key[lower] = memo.stem_ids(number[lower])
    # Stems with a letter outside a-z (a capital that a casefold's decomposition gives back):
    # none met on the benchmark sets, made as `word_stem` makes them.
    odd = chosen[~lower]
    if len(odd):
        spans = zip(start[odd].tolist(), (start[odd] + length[odd]).tolist(), strict=True)
        key[~lower] = memo.ids([_stem_of(batch.joined[a:b]) for a, b in spans])
    return start[chosen], key, np.ones(len(chosen), np.int64)


def _stem_of(word: str) -> str:
    stem = word_stem(word)
    if stem is None:
        raise AssertionError(f"no stem for {word!r}")
    return stem


_POW10 = 10 ** np.arange(18, dtype=np.int64)


def _number_keys(batch: _Batch, memo: AnchorMemo) -> _Found:
    """Numbers (`_NUMBER`): a run of decimal digits goes on across one "." or "," between
    digits. Up to 18 ASCII digits (leading zeros dropped) are read as an integer; longer
    numbers and other scripts' digits through their strings."""
    cps = batch.cps
    digit = (batch.kind & _IS_DIGIT) != 0
    at = np.flatnonzero(digit)
    one, two = np.maximum(at - 1, 0), np.maximum(at - 2, 0)
    after_digit = (at >= 1) & digit[one]
    after_sep = (at >= 2) & ((cps[one] == ord(".")) | (cps[one] == ord(","))) & digit[two]
    first = np.flatnonzero(~(after_digit | after_sep))
    count = np.diff(np.append(first, len(at)))
    rank = np.repeat(first + count - 1, count) - np.arange(len(at))
    value = cps[at].astype(np.int64) - ord("0")
    other = value > 9
    value[other] = 0
    slow = segment_sums(other.astype(np.int64), count) > 0
    slow |= segment_sums(((rank >= 18) & (value > 0)).astype(np.int64), count) > 0
    number = segment_sums(value * _POW10[np.minimum(rank, 17)] * (rank < 18), count)
    fast = np.flatnonzero(~slow)
    distinct, inverse = np.unique(number[fast], return_inverse=True)
    key = np.zeros(len(first), np.int64)
    key[fast] = memo.ids([f"#{v}" for v in distinct.tolist()])[inverse]
    slow_at = np.flatnonzero(slow).tolist()
    if slow_at:
        spans = [batch.joined[at[first[i]] : at[first[i] + count[i] - 1] + 1] for i in slow_at]
        key[slow_at] = memo.ids(
            ["#" + (_NON_DIGIT.sub("", span).lstrip("0") or "0") for span in spans]
        )
    return at[first], key, np.zeros(len(first), np.int64)


def _name_spans(batch: _Batch, memo: AnchorMemo) -> tuple[I64, I64]:
    """Where `_NAME.finditer` matches: in a run of name characters, at most at its first
    capital with no word character before it (a later capital of the run lies inside that
    match, or fails as it did); the match takes the rest of the run when no word character
    follows the run, else it stops before the run's last apostrophe or hyphen; it needs 3
    characters."""
    kind, word, n = batch.kind, batch.word, len(batch.cps)
    more = (kind & _NAME_MORE) != 0
    # A capital with no word character before it starts a word.
    candidate = batch.word_start[(kind[batch.word_start] & _NAME_START) != 0]
    begins = more.copy()
    begins[1:] &= ~more[:-1]
    run = np.cumsum(begins, dtype=np.int32, out=memo.buffer("runs", n, np.int32))[candidate]
    keep = np.ones(len(run), bool)
    keep[1:] = run[1:] != run[:-1]
    ends = more.copy()
    ends[:-1] &= ~more[1:]
    start, end = candidate[keep], np.flatnonzero(ends)[run[keep] - 1] + 1
    marks = np.append(np.flatnonzero(more & ~word), -1)
    # The last apostrophe or hyphen before the run's end (-1: none).
    last_mark = marks[np.searchsorted(marks[:-1], end) - 1]
    word_after = (end < n) & word[np.minimum(end, n - 1)]
    end = np.where(word_after, last_mark, end)
    found = end - start >= 3
    return start[found], end[found]


def _name_keys(batch: _Batch, memo: AnchorMemo) -> _Found:
    """Names (`_NAME`), casefolded, that their text never writes as a word. Names are told
    apart, and compared with words, by hash and then code point by code point."""
    start, end = _name_spans(batch, memo)
    if not len(start):
        return start, start, start
    # The names' casefolds as one array of code points (casefold has no context; a name
    # character lies below U+2020, so its row is itself).
    length = end - start
    first = np.cumsum(length) - length
    folded = batch.chars.name_fold[batch.cps[positions(start, length)]]
    wide = np.flatnonzero((batch.kind & _NAME_WIDE) != 0)
    if len(wide):
        # Names with a character that casefolds to several code points ("ß"): their casefold
        # after the others.
        name = np.searchsorted(start, wide, side="right") - 1
        wide = sorted_unique(name[(name >= 0) & (wide < end[np.maximum(name, 0)])])
        casefolds = [batch.joined[start[i] : end[i]].casefold() for i in wide.tolist()]
        length[wide] = [len(f) for f in casefolds]
        first[wide] = len(folded) + np.cumsum(length[wide]) - length[wide]
        extra = _code_points("".join(casefolds))
        folded = np.concatenate((folded, extra))
    hashes = memo.hashes(folded, first, length)
    # Each name's first copy in the batch, through the table of hash slots.
    slot = _slots(hashes)
    table = memo.slots
    table[slot] = len(hashes)
    np.minimum.at(table, slot, np.arange(len(hashes)))
    rep = table[slot]
    clash = np.flatnonzero(hashes[rep] != hashes)
    if len(clash):
        _, index, inverse = np.unique(hashes[clash], return_index=True, return_inverse=True)
        rep[clash] = clash[index][inverse]
        table[slot[clash]] = -1
    copy = np.flatnonzero(rep != np.arange(len(rep)))
    if differ(folded, first[copy], length[copy], folded, first[rep[copy]], length[rep[copy]]).any():
        # Two names of one hash: never seen, but the keys must not depend on it.
        table[slot] = -2
        return _name_keys_exact(batch, memo)
    is_rep = rep == np.arange(len(rep))
    reps = np.flatnonzero(is_rep)
    group = (np.cumsum(is_rep) - 1)[rep]
    named = batch.text(start) * len(reps) + group
    spelled = _spelled(batch, memo, folded, hashes[reps], first[reps], length[reps], group, named)
    table[slot] = -2
    kept = np.flatnonzero(~spelled)
    used = np.zeros(len(reps), bool)
    used[group[kept]] = True
    names = reps[used]
    ids = np.zeros(len(reps), np.int64)
    ids[used] = memo.name_ids(hashes[names], folded, first[names], length[names])
    tie = np.where(folded[first[kept]] < ord("~"), 0, 2)
    return start[kept], ids[group[kept]], tie


def _spelled(
    batch: _Batch,
    memo: AnchorMemo,
    folded: U32,
    name_hashes: U64,
    first: I64,
    length: I64,
    group: I64,
    named: I64,
) -> Mask:
    """For each copy of a name, whether its text has a word that spells the name: the names
    are `folded[first : first + length]` (hashes `name_hashes`), `group` is each copy's name,
    `named` its (text, name) pair as `text * names + name`, and `memo.slots` holds the first
    copy of each name by its hash's slot."""
    cps, names = batch.cps, len(first)
    start, size = batch.word_start, batch.word_len
    # A word spells a casefolded name only if casefold keeps its first character and it has 3
    # characters or more; it is worth hashing only if its text has a name of its length, first
    # two and last code points (a table of those, hashed, per text).
    word = np.flatnonzero(((batch.kind[start] & _NAME_FOLDS) == 0) & (size >= 3))
    shapes = np.zeros(len(batch.normal) << _SHAPE_BITS, bool)
    at, last = first[group], first[group] + length[group] - 1
    text = named // names
    shapes[_shapes(text, length[group], folded[at], folded[at + 1], folded[last])] = True
    at, last = start[word], start[word] + size[word] - 1
    shape = _shapes(batch.text(at), size[word], cps[at], cps[at + 1], cps[last])
    word = word[shapes[shape]]
    words = memo.hashes(
        cps[positions(start[word], size[word])], np.cumsum(size[word]) - size[word], size[word]
    )
    copy = memo.slots[_slots(words)]
    hit = np.flatnonzero(copy >= 0)
    candidate = group[copy[hit]]
    crowded = np.flatnonzero(copy == -1)
    if len(crowded):
        order = np.argsort(name_hashes)
        found = np.minimum(np.searchsorted(name_hashes[order], words[crowded]), names - 1)
        hit = np.concatenate((hit, crowded))
        candidate = np.concatenate((candidate, order[found]))
    same = name_hashes[candidate] == words[hit]
    hit, candidate = word[hit[same]], candidate[same]
    pair = batch.text(start[hit]) * names + candidate
    out = np.zeros(len(batch.normal) * names, bool)
    # Only the pairs of a name and a text that has it matter.
    out[named] = True
    wanted = np.flatnonzero(out[pair])
    hit, candidate, pair = hit[wanted], candidate[wanted], pair[wanted]
    out[named] = False
    # A word per pair is enough, unless it only shares the name's hash: then all of them.
    check = memo.firsts(pair, hit, len(out))
    for _ in range(2):
        w, n = hit[check], candidate[check]
        same = ~differ(cps, start[w], size[w], folded, first[n], length[n])
        out[pair[check][same]] = True
        check = ~out[pair]
    return out[named]


# Bits per text of the table of name shapes (`_spelled`): some 50 names a text.
_SHAPE_BITS = 12


def _shapes(text: I64, length: I64, first: U32, second: U32, last: U32) -> I64:
    """A word's text, length, first two and last code points, hashed into `_SHAPE_BITS` bits
    per text."""
    mixed = length * 0x9E3779B1 + first.astype(np.int64) * 0x85EBCA77
    mixed += second.astype(np.int64) * 0xC2B2AE3D + last
    return (text << _SHAPE_BITS) + ((mixed >> 9) & ((1 << _SHAPE_BITS) - 1))


def _name_keys_exact(batch: _Batch, memo: AnchorMemo) -> _Found:
    """`_name_keys` one text and one match at a time, with `_NAME` itself."""
    at: list[int] = []
    strings: list[str] = []
    for normal, offset in zip(batch.normal, batch.starts, strict=True):
        lower = set(_WORD.findall(normal))
        for match in _NAME.finditer(normal):
            name = match.group(0).casefold()
            if name not in lower:
                at.append(offset + match.start())
                strings.append(name)
    tie = np.array([0 if s < "~" else 2 for s in strings], np.int64)
    return np.array(at, np.int64), memo.ids(strings), tie
