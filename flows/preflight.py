"""Checks of a run's arguments before anything slow starts: the night, the paths, the sources.

Input: the values a user typed (CLI options or flow parameters). Output: the same values made
absolute and normalised, or a `UsageError` whose one-line message names the value and the fix.
Quarantines nothing. Imports nothing heavy (no Prefect, no pyarrow), so that `wiredesk run` with
a bad value answers in well under two seconds; the flow runs the same checks for deployment
runs, whose parameters never went through the CLI.
"""

from __future__ import annotations

import os
import re
from datetime import date
from pathlib import Path
from urllib.parse import urlsplit

# The suites a night validates with: a folder without one of them cannot run a night.
SUITES = ("ingested", "extracted", "repaired", "deduped", "quarantined")

_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


class UsageError(ValueError):
    """A value the user gave that cannot work; the message says which and what to do."""


def absolute(path: str | Path) -> Path:
    """`path` made absolute against the working directory, `~` expanded, `..` collapsed
    (symlinks kept: the user's names stay in messages and records)."""
    return Path(os.path.abspath(os.path.expanduser(str(path))))


def parse_run_date(value: date | str | None) -> str | None:
    """`YYYY-MM-DD` as given (None: the caller's default). Python accepts `20260314` as an ISO
    date too; a night's partition name must be the one spelling, so only that one is taken."""
    if value is None or value == "":
        return None
    if isinstance(value, date):
        return value.isoformat()
    text = str(value).strip()
    try:
        if not _ISO_DAY.fullmatch(text):
            raise ValueError
        return date.fromisoformat(text).isoformat()
    except ValueError:
        raise UsageError(
            f"--run-date {value!r} is not a date of the form YYYY-MM-DD (for example 2026-03-14)"
        ) from None


def check_data_dir(value: str | Path) -> Path:
    """The data dir, absolute; created if missing. Refused: a file, or a folder not writable."""
    path = absolute(value)
    if path.exists() and not path.is_dir():
        raise UsageError(
            f"--data-dir {value} is a file, not a folder: give a folder for the output"
        )
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(
            f"--data-dir {value} cannot be created ({exc.strerror or exc}): give a folder you can "
            "write"
        ) from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise UsageError(f"--data-dir {value} is not writable: give a folder you can write")
    return path


def check_inbox(value: str | Path | None) -> Path | None:
    """The inbox folder, absolute (None: no inbox tonight)."""
    if value is None or value == "":
        return None
    path = absolute(value)
    if not path.exists():
        raise UsageError(
            f"--inbox {value} does not exist: give a folder of reports, or --no-inbox with "
            "--sources URL"
        )
    if not path.is_dir():
        raise UsageError(f"--inbox {value} is a file, not a folder: give the folder that holds it")
    if not os.access(path, os.R_OK | os.X_OK):
        raise UsageError(f"--inbox {value} cannot be read: check its permissions")
    return path


def check_expectations(value: str | Path | None, default: Path) -> Path:
    """The folder of GX suites, absolute; it must hold one suite per dataset."""
    path = absolute(value) if value else default
    missing = [name for name in SUITES if not (path / f"{name}.json").is_file()]
    if missing:
        named = ", ".join(f"{name}.json" for name in missing)
        raise UsageError(
            f"--expectations-dir {path} lacks {named}: give a folder with one suite per dataset "
            "(the project's expectations/ has them)"
        )
    return path


def read_sources(urls: list[str], sources_file: str | Path | None) -> list[str]:
    """The source URLs: those given, then those of `sources_file` (one a line, `#` comments);
    each must be an http(s) URL with a host."""
    found = [u.strip() for u in urls if u.strip()]
    if sources_file:
        path = absolute(sources_file)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
            raise UsageError(
                f"--sources-file {sources_file} cannot be read ({reason}): give a text file of "
                "URLs, one per line"
            ) from None
        for line in text.splitlines():
            line = line.split("#", 1)[0].strip()
            if line:
                found.append(line)
    for url in found:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise UsageError(
                f"source {url!r} is not an http(s) URL: give URLs such as "
                "https://news.example/feed.xml"
            )
    return found


def check_workers(value: int | None) -> int | None:
    if value is not None and value < 1:
        raise UsageError(f"--workers {value}: give 1 or more (default: every core)")
    return value


def check_lock_wait(value: float) -> float:
    if value < 0:
        raise UsageError(f"--lock-wait {value:g}: give 0 (fail at once) or more seconds")
    return value
