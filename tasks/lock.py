"""The data-dir lock: one wiredesk run at a time writes a data dir.

Input: a data dir and who is asking. Output: an exclusive `flock` on `<data dir>/.lock` for the
length of a run, with the holder's description written into the file so that the run it blocks
can say who holds it. Quarantines nothing. Kept apart from `tasks.io` (which imports pyarrow)
so that the CLI can take the lock in its first second and report a busy data dir at once.

flock, not a marker file: the kernel drops the lock when its process dies, so a run killed with
SIGKILL never leaves a stale lock behind. (flock is advisory and local: NFS does not honour it.)
A lock taken with `hand_over=True` (the CLI's) is joined, not fought, by a later `DataDirLock`
on the same data dir in the same process (the flow's), which then only updates the holder text.
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
from pathlib import Path


class DataDirBusy(RuntimeError):
    """Another run holds the data dir; the message says which and what to do."""


# Data dirs (resolved) whose lock this process holds with hand_over=True: path -> fd.
_HANDED_OVER: dict[str, int] = {}
_GUARD = threading.Lock()


class DataDirLock:
    """An exclusive lock on one data dir for the length of a run (see the module docstring)."""

    def __init__(
        self,
        data_dir: Path,
        *,
        holder: str,
        wait_seconds: float = 0.0,
        hand_over: bool = False,
    ) -> None:
        self.path = data_dir / ".lock"
        self.holder = holder
        self.wait_seconds = wait_seconds
        self.hand_over = hand_over
        self._fd: int | None = None
        self._joined = False

    def _key(self) -> str:
        return str(self.path.parent.resolve())

    def __enter__(self) -> DataDirLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with _GUARD:
            held = _HANDED_OVER.get(self._key())
        if held is not None and not self.hand_over:
            self._joined = True
            _write_holder(held, self.holder)
            return self
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        deadline = time.monotonic() + self.wait_seconds
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    other = os.pread(fd, 4096, 0).decode("utf-8", "replace").strip()
                    os.close(fd)
                    waited = f" after waiting {self.wait_seconds:g} s" if self.wait_seconds else ""
                    raise DataDirBusy(
                        f"data dir {self.path.parent} is in use by another wiredesk run "
                        f"({other or 'holder unknown'}){waited}; let it finish, or wait for it "
                        "with --lock-wait SECONDS"
                    ) from None
                time.sleep(0.5)
        _write_holder(fd, self.holder)
        self._fd = fd
        if self.hand_over:
            with _GUARD:
                _HANDED_OVER[self._key()] = fd
        return self

    def __exit__(self, *exc: object) -> None:
        if self._joined:
            self._joined = False
            return
        if self._fd is not None:
            if self.hand_over:
                with _GUARD:
                    _HANDED_OVER.pop(self._key(), None)
            os.ftruncate(self._fd, 0)
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


def _write_holder(fd: int, holder: str) -> None:
    os.ftruncate(fd, 0)
    os.pwrite(fd, holder.encode("utf-8"), 0)
