"""Batch functions that the worker tests of test_hostile.py run in spawned worker processes: a
document that hangs in the kernel, one that segfaults, one that kills its worker once, one that
raises an error that cannot be pickled. They live apart from the test module so that each
spawned worker imports only this and the runner (the test module's imports, hypothesis and the
extract stage among them, cost a second or more per worker start)."""

from __future__ import annotations

import ctypes
import os
import signal
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from tasks.schema import QUARANTINED, Split


class Unpicklable(Exception):
    def __init__(self) -> None:
        super().__init__("an error holding a lock")
        self.lock = threading.Lock()


@dataclass(frozen=True)
class FakeConfig:
    marker: str = ""


def _hang_like_c_code() -> None:
    """Blocks in the kernel with the catchable signals blocked, as a stuck C parser would:
    nothing but SIGKILL ends it."""
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM, signal.SIGTERM, signal.SIGINT})
    read_end, write_end = os.pipe()
    os.read(read_end, 1)  # nobody ever writes `write_end`
    os.close(write_end)


def hanging_batch(batch: pa.Table, cfg: FakeConfig) -> Split:
    if "hang" in batch.column("doc_id").to_pylist():
        if cfg.marker:
            Path(cfg.marker).write_text(f"{os.getpid()} {time.time()}")
        _hang_like_c_code()
    return Split(batch, QUARANTINED.empty_table())


def crashing_batch(batch: pa.Table, cfg: FakeConfig) -> Split:
    ids = batch.column("doc_id").to_pylist()
    if "segfault" in ids:
        ctypes.string_at(0)  # a C extension reading address 0: SIGSEGV
    if "flaky" in ids and not Path(cfg.marker).exists():
        Path(cfg.marker).touch()
        os.kill(os.getpid(), signal.SIGKILL)  # dies once (an OOM kill), fine when run again
    return Split(batch, QUARANTINED.empty_table())


def raising_batch(batch: pa.Table, cfg: FakeConfig) -> Split:
    if "bug" in batch.column("doc_id").to_pylist():
        raise Unpicklable()
    return Split(batch, QUARANTINED.empty_table())
