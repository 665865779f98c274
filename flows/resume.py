"""Resume: which stages of a night are already done, so that running the night again does only
what is missing, and running a complete night again touches nothing.

Input: the night record `state/nights/<D>.json` and, per stage, what determines its output
apart from the stage before it (the code of `tasks/` and the versions of the libraries that
shape the output, the stage's config, and its outside inputs: the sources, the inbox listing,
the state of earlier nights). A stage's key is the sha256 of those and of the files the stage
before it wrote. Output: for each stage, whether its recorded output can be used as it is (same
key, and every file it wrote still there byte for byte), and the night's identity (`run_id`,
start time) that its rows carry. A night that did not complete keeps the identity of the run
that started it, so a resumed night holds what an uninterrupted run would have written; a
complete night whose inputs changed starts again under a new identity, reusing only its fetch
(the web's answers of that night cannot be asked again). Once one stage is redone, every stage
after it is redone. Quarantines nothing.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass, field, is_dataclass
from datetime import datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import tasks
from tasks import io

# Libraries whose version can change what a stage writes: wiredesk's own runtime requirements,
# read from its installed metadata so the list cannot fall behind pyproject.toml (a Prefect or
# GX upgrade redoes the stages too, which is the safe side). Beside them, lxml: trafilatura's
# parser, pulled in indirectly.
INDIRECT_OUTPUT_LIBRARIES = ("lxml",)


def output_libraries() -> list[str]:
    try:
        requires = metadata.requires("wiredesk") or []
    except metadata.PackageNotFoundError:
        requires = []
    names = {
        re.split(r"[\s<>=!~;\[(]", req, maxsplit=1)[0].lower()
        for req in requires
        if "extra ==" not in req
    }
    return sorted(names | set(INDIRECT_OUTPUT_LIBRARIES))


# Config fields that are the run's identity rather than a setting: they are in every row and
# are kept by resuming, not compared.
IDENTITY_FIELDS = ("run_id", "run_started_at", "ingested_at")


def digest(*parts: Any) -> str:
    blob = json.dumps(parts, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def code_version(package_dir: Path | None = None) -> str:
    """sha256 of every module of `tasks/` and of the versions of the output libraries."""
    root = package_dir or Path(tasks.__file__).resolve().parent
    files = sorted(root.rglob("*.py"))
    versions: dict[str, str | None] = {}
    for name in output_libraries():
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return digest([[f.relative_to(root).as_posix(), io.file_sha256(f)] for f in files], versions)


def settings(cfg: Any) -> dict[str, Any]:
    """A stage config without its identity fields: what to compare between two runs."""
    values = asdict(cfg) if is_dataclass(cfg) and not isinstance(cfg, type) else dict(cfg)
    return {k: v for k, v in values.items() if k not in IDENTITY_FIELDS}


@dataclass
class Night:
    """The progress of one night, read from and written to `state/nights/<D>.json`."""

    layout: io.Layout
    inputs: dict[str, Any]  # stage -> what besides the previous stage determines its output
    record: dict[str, Any]
    reusable: set[str] = field(default_factory=set)

    @classmethod
    def open(
        cls,
        layout: io.Layout,
        inputs: dict[str, Any],
        *,
        run_id: str,
        started_at: datetime,
    ) -> Night:
        """Load the night and decide what can be reused; `run_id`/`started_at` are the identity
        of a new attempt, used unless an unfinished attempt of the same night is resumed."""
        old = io.read_json(layout.night_record) if layout.night_record.exists() else None
        fresh = {
            "run_date": layout.run_date,
            "run_id": run_id,
            "started_at": started_at.isoformat(),
            "status": "running",
            "attempts": [],
            "stages": {},
        }
        night = cls(layout, inputs, old or fresh)
        if old is None:
            return night
        valid = night._valid_prefix()
        if old.get("status") == "complete":
            if set(valid) == set(inputs):
                night.reusable = set(valid)
                return night
            # The inputs of a finished night changed: a new night, but the web's answers stay.
            fresh["stages"] = {k: v for k, v in old["stages"].items() if k == "fetch"}
            night.record = fresh
            night.reusable = {"fetch"} & set(valid)
            return night
        night.reusable = set(valid)
        night.record["stages"] = {k: v for k, v in old["stages"].items() if k in valid}
        return night

    # ----------------------------------------------------------------- queries

    @property
    def run_id(self) -> str:
        return str(self.record["run_id"])

    @property
    def started_at(self) -> datetime:
        return datetime.fromisoformat(self.record["started_at"])

    @property
    def complete(self) -> bool:
        """Complete, and nothing it depends on has changed: a rerun has nothing to do."""
        return self.record.get("status") == "complete" and self.reusable == set(self.inputs)

    def reuse(self, stage: str) -> dict[str, Any] | None:
        """The recorded entry of `stage` (result, validations) if its output can be reused."""
        if stage in self.reusable:
            entry: dict[str, Any] = self.record["stages"][stage]
            return entry
        return None

    def key(self, stage: str) -> str:
        """The stage's key now: its inputs and the files the stage before it recorded."""
        upstream = self._upstream(stage)
        upstream_files = self.record["stages"][upstream]["files"] if upstream else []
        return self._key(stage, upstream_files)

    def _key(self, stage: str, upstream_files: list[Any]) -> str:
        return digest(stage, self.inputs[stage], upstream_files)

    def _upstream(self, stage: str) -> str | None:
        order = list(self.inputs)
        index = order.index(stage)
        return order[index - 1] if index > 0 else None

    def _files_now(self, entry: dict[str, Any]) -> list[Any]:
        root = self.layout.data_dir
        return io.fingerprint_files([root / p for p in entry["paths"]], root)

    def _valid_prefix(self) -> list[str]:
        stages = self.record.get("stages", {})
        valid: list[str] = []
        upstream_files: list[Any] = []
        for stage in self.inputs:
            entry = stages.get(stage)
            if entry is None or entry.get("key") != self._key(stage, upstream_files):
                break
            if self._files_now(entry) != entry["files"]:
                break
            valid.append(stage)
            upstream_files = entry["files"]
        return valid

    # ----------------------------------------------------------------- updates

    def keep_inbox_digests(self, digests: dict[str, list[Any]]) -> None:
        """Remember the inbox's digests (`io.digest_tree`) so the next run of the night reads
        only files touched since; saved now only if they changed (a complete night whose inbox
        was only touched records the new times, nothing else)."""
        if self.record.get("inbox_digests") != digests:
            self.record["inbox_digests"] = digests
            if self.layout.night_record.exists():
                self.save()

    def begin(self, attempt_run_id: str) -> None:
        self.record["attempts"].append(attempt_run_id)
        self.record["status"] = "running"
        self.save()

    def done(
        self,
        stage: str,
        outputs: list[Path],
        result: dict[str, Any],
        validations: dict[str, Any] | None = None,
    ) -> None:
        """Record that `stage` wrote `outputs` (folders or files under the data dir)."""
        upstream = self._upstream(stage)
        upstream_files = self.record["stages"][upstream]["files"] if upstream else []
        root = self.layout.data_dir
        self.record["stages"][stage] = {
            "key": self._key(stage, upstream_files),
            "paths": sorted(p.relative_to(root).as_posix() for p in outputs),
            "files": io.fingerprint_files(outputs, root),
            "result": result,
            "validations": validations or {},
        }
        self.reusable.add(stage)
        self.save()

    def finish(self, summary: dict[str, Any]) -> None:
        self.record["status"] = "complete"
        self.record["summary"] = summary
        self.save()

    def save(self) -> None:
        io.write_json(self.layout.night_record, self.record)


def inbox_digests(layout: io.Layout) -> dict[str, list[Any]]:
    """The inbox digests the night's record kept, {} if none (see `Night.keep_inbox_digests`)."""
    if not layout.night_record.exists():
        return {}
    try:
        kept = io.read_json(layout.night_record).get("inbox_digests")
    except (OSError, ValueError):
        return {}
    return dict(kept) if isinstance(kept, dict) else {}


# --------------------------------------------------------------------------- history check

# Stages whose files later nights read (the state they match against and learn from): what
# `verify_history` holds to the night records before a night starts.
STATE_STAGES = ("publish", "dedup_state", "vocabulary_state", "site_lines")


class StateError(RuntimeError):
    """A committed state partition of an earlier night is missing or altered; the message names
    it and the command that writes it again."""


def verify_history(layout: io.Layout, data_dir_option: str | None = None) -> None:
    """Raise StateError if a state partition that an earlier complete night recorded (in
    `state/nights/<D>.json`: every file, its size and sha256) is missing, has a file too many
    or too few, or differs. Sizes and names are checked for every file; the sha256 only of a
    file modified after its night record was last written (state partitions are written whole
    and never touched again), so the check costs a directory walk, not a read of the history."""
    root = layout.data_dir
    records = io.stat_files([layout.night_record.parent], root)
    problems: list[str] = []
    for rel, _size, recorded_ns in records:
        night = Path(rel).stem
        if not rel.endswith(".json") or night >= layout.run_date:
            continue
        record = io.read_json(root / rel)
        if record.get("status") != "complete":
            continue
        for stage in STATE_STAGES:
            entry = record.get("stages", {}).get(stage)
            if entry:
                problems += [
                    f"{p} (written by night {night})"
                    for p in partition_problems(root, entry, recorded_ns)
                ]
    if problems:
        night = problems[0].rsplit("night ", 1)[1].rstrip(")")
        more = f" and {len(problems) - 1} more" if len(problems) > 1 else ""
        data = f" --data-dir {data_dir_option}" if data_dir_option else ""
        raise StateError(
            f"state of earlier nights is damaged: {problems[0]}{more}; later nights would "
            f"match against a history that lies. Write it again from the tables that night "
            f"kept (`wiredesk rebuild-state --run-date {night}{data}`), or restore it from a "
            f"backup, then run this night again"
        )


def partition_problems(root: Path, entry: dict[str, Any], recorded_ns: int) -> list[str]:
    expected = {f[0]: f for f in entry["files"] if f[0].startswith("state/")}
    problems = []
    for part in (p for p in entry["paths"] if p.startswith("state/")):
        now = {f[0]: f for f in io.stat_files([root / part], root)}
        want = {k: v for k, v in expected.items() if k == part or k.startswith(part + "/")}
        if want and not now:
            problems.append(f"partition {part} is missing")
            continue
        for rel in sorted(set(want) - set(now)):
            problems.append(f"{rel} is missing")
        for rel in sorted(set(now) - set(want)):
            problems.append(f"{rel} was not written by its night")
        for rel in sorted(set(want) & set(now)):
            _, size, sha = want[rel]
            _, size_now, mtime_ns = now[rel]
            if size_now != size:
                problems.append(f"{rel} has changed ({size_now} bytes, {size} recorded)")
            elif mtime_ns > recorded_ns and io.file_sha256(root / rel) != sha:
                problems.append(f"{rel} has changed (its sha256 differs from the record)")
    return problems
