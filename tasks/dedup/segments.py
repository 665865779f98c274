"""Segments of flat numpy arrays, for the batch passes over a night's texts.

Input: flat arrays (flags, code points, values) cut into consecutive segments (texts, words,
runs), and regular expressions over strings. Output: where the runs of true flags start and end,
which characters a regex's matches cover, every position of a set of segments, the sums of a
value over segments, and whether segments of two arrays differ. Pure numpy; no I/O; quarantines
nothing.
"""

from __future__ import annotations

import re

import numpy as np
import numpy.typing as npt

from tasks.hashing import I64, U32

Mask = npt.NDArray[np.bool_]


def match_mask(pattern: re.Pattern[str], text: str) -> Mask:
    """Whether each character of `text` lies in a match of `pattern` (a character class and
    `+`: one Python object per run of such characters, none per character)."""
    bounds = np.array([m.span() for m in pattern.finditer(text)], np.int64).ravel()
    # Runs outside and inside matches alternate (either may be empty).
    lengths = np.diff(bounds, prepend=0, append=len(text))
    return np.repeat(np.arange(len(lengths)) % 2 == 1, lengths)


def true_runs(mask: Mask) -> tuple[I64, I64]:
    """Starts and ends (one past) of the runs of true values (numpy finds the true entries of
    a boolean array several times faster than the nonzero ones of a difference)."""
    change = np.zeros(len(mask) + 1, bool)
    if len(mask):
        change[0], change[-1] = mask[0], mask[-1]
        np.not_equal(mask[1:], mask[:-1], out=change[1:-1])
    edges = np.flatnonzero(change)
    return edges[0::2], edges[1::2]


def positions(starts: I64, lengths: I64) -> I64:
    """Every position `starts[i] + k` with `k < lengths[i]`, segment after segment (no length
    is 0)."""
    step = np.ones(int(lengths.sum()), np.int64)
    if len(step):
        step[0] = starts[0]
        step[np.cumsum(lengths)[:-1]] = starts[1:] - (starts[:-1] + lengths[:-1] - 1)
    return np.cumsum(step)


def segment_sums(values: I64, lengths: I64) -> I64:
    """Sums of `values` over consecutive segments of `lengths` (no length is 0)."""
    if not len(lengths):
        return np.zeros(0, np.int64)
    return np.add.reduceat(values, np.cumsum(lengths) - lengths)


def differ(a: U32, a_first: I64, a_len: I64, b: U32, b_first: I64, b_len: I64) -> Mask:
    """Whether each segment `a[a_first : a_first + a_len]` differs from its `b` segment."""
    out = a_len != b_len
    same = np.flatnonzero(~out)
    if len(same):
        length = a_len[same]
        at = positions(a_first[same], length)
        unequal = a[at] != b[at + np.repeat(b_first[same] - a_first[same], length)]
        out[same[np.searchsorted(np.cumsum(length), np.flatnonzero(unequal), side="right")]] = True
    return out
