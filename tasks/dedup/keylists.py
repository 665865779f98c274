"""Lists of integer keys per document, in one array, and the strings the integers stand for.

Input: per document a list of keys (cross-lingual keys as strings, or ids). Output: `KeyLists`
(document i's ids are `ids[bounds[i] : bounds[i + 1]]`) and a `Vocabulary` numbering the key
strings in the order first met. Pure numpy; no I/O; quarantines nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from tasks.dedup.segments import Mask, positions
from tasks.hashing import I64


@dataclass(frozen=True)
class KeyLists:
    """A list of integer keys per document, in one array for all of them: document i's keys
    are `ids[bounds[i] : bounds[i + 1]]` (ids into a `Vocabulary`). A night's cross-lingual keys as
    a Python list of strings per document cost more to build, join and count than the work done on
    them."""

    ids: I64
    bounds: I64

    def __len__(self) -> int:
        return len(self.bounds) - 1

    def __getitem__(self, i: int) -> I64:
        return self.ids[self.bounds[i] : self.bounds[i + 1]]

    @staticmethod
    def bounds_of(lengths: Sequence[int] | I64) -> I64:
        """`bounds` of lists of these lengths."""
        bounds = np.zeros(len(lengths) + 1, np.int64)
        np.cumsum(lengths, out=bounds[1:])
        return bounds

    @classmethod
    def of(cls, lists: Sequence[Sequence[int] | I64]) -> KeyLists:
        bounds = cls.bounds_of([len(x) for x in lists])
        ids = np.concatenate([np.asarray(x, np.int64) for x in lists]) if lists else bounds[:0]
        return cls(ids.astype(np.int64, copy=False), bounds)

    @classmethod
    def concat(cls, parts: Sequence[KeyLists]) -> KeyLists:
        if not parts:
            return cls.of([])
        sizes = np.cumsum([0] + [len(p.ids) for p in parts[:-1]])
        bounds = np.concatenate(
            [[0]] + [p.bounds[1:] + s for p, s in zip(parts, sizes, strict=True)]
        )
        return cls(np.concatenate([p.ids for p in parts]), bounds.astype(np.int64))

    def lengths(self) -> I64:
        return np.diff(self.bounds)

    def owners(self) -> I64:
        """The document of each entry of `ids`."""
        return np.repeat(np.arange(len(self), dtype=np.int64), self.lengths())

    def take(self, rows: Sequence[int] | I64) -> KeyLists:
        """The lists of these documents, in this order."""
        rows = np.asarray(rows, np.int64)
        length = self.lengths()[rows]
        bounds = self.bounds_of(length)
        if not bounds[-1]:
            return KeyLists(self.ids[:0], bounds)
        return KeyLists(
            self.ids[positions(self.bounds[rows][length > 0], length[length > 0])], bounds
        )

    def where(self, keep: Mask) -> KeyLists:
        """The lists with only the entries that `keep` (one flag per entry of `ids`) keeps."""
        kept = np.zeros(len(self.ids) + 1, np.int64)
        np.cumsum(keep, out=kept[1:])
        return KeyLists(self.ids[keep], kept[self.bounds])


class Vocabulary:
    """Key strings and their ids (`KeyLists`), numbered in the order first met."""

    def __init__(self, strings: Sequence[str] = ()) -> None:
        """`strings`: the first ones, numbered 0, 1, ... (distinct)."""
        self.strings: list[str] = list(strings)
        self._index: dict[str, int] | None = None

    def ids(self, strings: Sequence[str]) -> I64:
        if self._index is None:
            # Built when first asked for: a night's vocabulary is mostly only read.
            self._index = {s: i for i, s in enumerate(self.strings)}
        index = self._index
        new = [s for s in dict.fromkeys(strings) if s not in index]
        index.update(zip(new, range(len(self.strings), len(self.strings) + len(new)), strict=True))
        self.strings += new
        return np.fromiter(map(index.__getitem__, strings), np.int64, len(strings))

    def lists(self, lists: Sequence[Sequence[str]]) -> KeyLists:
        """`KeyLists` of lists of key strings."""
        bounds = KeyLists.bounds_of([len(x) for x in lists])
        return KeyLists(self.ids([s for x in lists for s in x]), bounds)

    def strings_of(self, keys: I64) -> list[str]:
        return [self.strings[k] for k in keys.tolist()]
