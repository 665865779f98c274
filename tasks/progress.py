"""Progress of one stage that a person can follow: documents done of total, rate and ETA.

Input: counts as a stage advances (documents done, kept, set aside) and the clock. Output:
lines such as `extract: 256 of 601 documents (42%), 38.1 documents/s, about 9 s left; 250 kept,
6 quarantined`, given to a `log` callable at most every `every` seconds and at the end, and the
done share (0-100) given to an optional `share` callable (the stage's Prefect progress artifact).
Quarantines nothing; pure apart from the clock, which tests replace.
"""

from __future__ import annotations

import time
from collections.abc import Callable

# Seconds between two progress lines: often enough that a long stage never looks stuck, rarely
# enough that a night of 20,000 documents logs a few dozen lines per stage, not thousands.
DEFAULT_EVERY = 3.0


def plural(count: int, word: str, many: str | None = None) -> str:
    """`1 document`, `2 documents`, `0 documents` (`many` for irregular plurals)."""
    return f"{count:,} {word if count == 1 else (many or word + 's')}"


def duration(seconds: float) -> str:
    """`8 s`, `2 min 05 s`, `1 h 03 min`: how long, to a person."""
    whole = max(0, round(seconds))
    if whole < 60:
        return f"{whole} s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


class StageProgress:
    """Counts of one stage; `update` and `tick` report when a report is due, `finish` always."""

    def __init__(
        self,
        stage: str,
        total: int | None,
        log: Callable[[str], None],
        *,
        share: Callable[[float], None] | None = None,
        every: float = DEFAULT_EVERY,
        clock: Callable[[], float] = time.monotonic,
        unit: str = "document",
    ) -> None:
        self.stage = stage
        self.total = total
        self.log = log
        self.share = share
        self.every = every
        self.clock = clock
        self.unit = unit
        self.done = self.kept = self.quarantined = 0
        self.started = clock()
        self._last = self.started

    def update(self, done: int, kept: int, quarantined: int) -> None:
        """The stage has now seen `done` documents in all (not a delta)."""
        self.done, self.kept, self.quarantined = done, kept, quarantined
        self.tick()

    def tick(self) -> None:
        """Report if the last report is `every` seconds old (called while waiting, too)."""
        now = self.clock()
        if now - self._last >= self.every:
            self._report(now)

    def finish(self) -> None:
        self._report(self.clock(), final=True)

    def line(self, now: float | None = None, *, final: bool = False) -> str:
        now = self.clock() if now is None else now
        elapsed = max(now - self.started, 1e-9)
        rate = self.done / elapsed
        if self.total is not None:
            pct = 100 * self.done // self.total if self.total else 100
            head = f"{self.done:,} of {plural(self.total, self.unit)} ({pct}%)"
        else:
            head = plural(self.done, self.unit)
        parts = [f"{self.stage}: {head}"]
        if final:
            parts.append(f", {rate:,.1f} {self.unit}s/s in {duration(elapsed)}")
        elif self.done:
            parts.append(f", {rate:,.1f} {self.unit}s/s")
            if self.total is not None and self.total > self.done:
                parts.append(f", about {duration((self.total - self.done) / rate)} left")
        else:
            parts.append(f", started {duration(elapsed)} ago")
        parts.append(f"; {self.kept:,} kept, {self.quarantined:,} quarantined")
        return "".join(parts)

    def _report(self, now: float, *, final: bool = False) -> None:
        self._last = now
        self.log(self.line(now, final=final))
        if self.share is not None and self.total:
            self.share(min(100.0, 100.0 * self.done / self.total))
        elif self.share is not None and final:
            self.share(100.0)  # nothing to do is all done
