"""Built spellers kept on disk, so that a process loads a language's index instead of building it.

Input: a file path and a function that builds the object (`tasks.repair.spelling` passes one
speller's builder and a path whose name carries its cache key). Output: the object, read from the
file when it holds one, else built and written there for the next process. Nothing is
quarantined here. Building English takes 4-9 s (SymSpell generates every deletion of 82,765
words); loading its pickle takes about 1.3 s, and each worker process and each `wiredesk
repair-text` would otherwise build it again. The key (see `spelling.cache_key`) covers
everything the index is made from, so a stale file is never read; a file that cannot be read
back (cut short, corrupt, another class) is built again and replaced, and a cache folder that
cannot be written is only a slower start.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")


def _load(path: Path, kind: type[T]) -> T | None:
    try:
        data = path.read_bytes()
    except OSError:
        return None
    try:
        loaded = pickle.loads(data)
    except Exception:  # a file cut short or corrupt: unpickling raises almost anything
        return None
    return loaded if isinstance(loaded, kind) else None


def _store(path: Path, value: object) -> None:
    """Written to a temporary file beside `path`, then renamed: a process reading at the same
    time sees the old file or the whole new one, never a part."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            pickle.dump(value, out, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def cached(path: Path, kind: type[T], build: Callable[[], T], stale: str = "") -> T:
    """The object pickled at `path`, or `build()`'s, then written there. Files in the same folder
    whose names start with `stale` (earlier keys of the same object) are removed once the new one
    is written."""
    found = _load(path, kind)
    if found is not None:
        return found
    value = build()
    with contextlib.suppress(OSError):  # a read-only or full cache folder: built each time
        _store(path, value)
        if stale:
            for old in path.parent.glob(f"{stale}*"):
                if old != path and not old.name.startswith("."):
                    old.unlink(missing_ok=True)
    return value
