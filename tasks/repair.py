"""Repair: EXTRACTED text -> text with encoding and whitespace fixed, every change recorded.

Input: EXTRACTED rows. Output: REPAIRED rows: `text` and `title` repaired, `repairs` listing
every change (`offset` in the repaired text, `before`, `after`, `kind`, `score`), and
`mojibake_score` (ftfy's badness per 1,000 characters of the repaired text; 0 for clean text).
The text before repair stays in the staged `extracted` dataset, so any change can be undone:
apply the `repairs` of a row from last to first, replacing `after` at `offset` by `before`.

Steps, line by line: ftfy (mojibake, HTML entities, broken surrogates), then whitespace (NBSP and
other exotic spaces to a space, zero-width and soft-hyphen characters removed, runs of spaces
collapsed, lines trimmed, empty lines dropped), then typo repair. Typo repair is a PLACEHOLDER
in this version: `repair_typos` returns the line unchanged (issue 4 fills it in).

Quarantined, with these reasons:
- `empty_after_repair`: nothing but whitespace and control characters was left.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import ftfy
import pyarrow as pa
from ftfy.badness import badness
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from tasks import io
from tasks.runner import StageResult, run_staged
from tasks.schema import REPAIRED, Split, quarantine_rows

STAGE = "repair"

# ftfy settings, chosen so that CJK and Arabic text survive: no NFKC (it rewrites Arabic
# presentation forms and CJK compatibility characters) and no character-width folding (it turns
# full-width CJK punctuation into ASCII); datatrove and NeMo Curator both had to turn these off.
# Quotes stay curly: they are the author's, not an encoding error.
FTFY_CONFIG = ftfy.TextFixerConfig(
    unescape_html=True,
    uncurl_quotes=False,
    fix_character_width=False,
    fix_latin_ligatures=True,
    normalization="NFC",
    explain=False,
)

# Spaces other than U+0020 that scrapers leave behind (NBSP, thin and figure spaces, ...).
_EXOTIC_SPACE = re.compile(r"[\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000\t\f\v]")
# Invisible characters with no meaning in prose. ZWNJ/ZWJ (U+200C/D) are NOT here: Persian,
# Indic scripts and emoji sequences need them.
_INVISIBLE = re.compile(r"[\u200b\u2060\ufeff\u00ad]")
_RUNS = re.compile(r" {2,}")


@dataclass(frozen=True)
class RepairConfig:
    run_id: str
    run_started_at: datetime
    # Placeholder switch for issue 4's typo repair; it does nothing yet either way.
    typo_repair: bool = False


def fix_encoding(line: str) -> str:
    return ftfy.fix_text(line, config=FTFY_CONFIG)


def fix_whitespace(line: str) -> str:
    line = _INVISIBLE.sub("", line)
    line = _EXOTIC_SPACE.sub(" ", line)
    return _RUNS.sub(" ", line).strip()


def repair_typos(line: str, lang: str | None) -> str:
    """PLACEHOLDER: typo repair arrives with issue 4; returns `line` unchanged."""
    return line


def mojibake_score(text: str) -> float:
    """ftfy's badness (suspicious character sequences) per 1,000 characters."""
    if not text:
        return 0.0
    return round(1000.0 * badness(text) / len(text), 4)


def _kind(before: str, after: str) -> str:
    return (
        "whitespace"
        if before.split() == after.split() or not (before + after).strip()
        else "encoding"
    )


def _diff(before: str, after: str, base: int) -> list[dict[str, Any]]:
    """Changes turning `before` into `after`, with offsets in the repaired text (+ `base`)."""
    changes = []
    matcher = difflib.SequenceMatcher(a=before, b=after, autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            continue
        old, new = before[i1:i2], after[j1:j2]
        changes.append(
            {
                "offset": base + j1,
                "before": old,
                "after": new,
                "kind": _kind(old, new),
                "score": 1.0,
            }
        )
    return changes


def repair_text(text: str, lang: str | None, cfg: RepairConfig) -> tuple[str, list[dict[str, Any]]]:
    """Repaired text and the list of changes (see the module docstring for the offsets)."""
    out_lines: list[str] = []
    repairs: list[dict[str, Any]] = []
    offset = 0
    for line in text.split("\n"):
        fixed = fix_whitespace(fix_encoding(line))
        if cfg.typo_repair:
            fixed = repair_typos(fixed, lang)
        if not fixed:
            if line:
                # A line of only invisible characters disappears; undo re-inserts it with its
                # joining newline at the same place.
                before = f"\n{line}" if out_lines else f"{line}\n"
                repairs.append(
                    {
                        "offset": offset,
                        "before": before,
                        "after": "",
                        "kind": "whitespace",
                        "score": 1.0,
                    }
                )
            continue
        if out_lines:
            offset += 1  # the "\n" joining this line to the previous one
        if fixed != line:
            repairs.extend(_diff(line, fixed, offset))
        out_lines.append(fixed)
        offset += len(fixed)
    return "\n".join(out_lines), repairs


def repair_batch(batch: pa.Table, cfg: RepairConfig) -> Split:
    """REPAIRED rows for an EXTRACTED batch; see the module docstring for quarantine reasons."""
    rows: list[dict[str, Any]] = []
    bad: list[dict[str, Any]] = []
    for row in batch.to_pylist():
        text, repairs = repair_text(row["text"], row["lang"], cfg)
        if not text:
            bad.append(
                {
                    key: row[key]
                    for key in ("doc_id", "source_path", "record_index", "url", "raw_sha256")
                }
                | {"reason": "empty_after_repair", "detail": None}
            )
            continue
        title = row["title"]
        if title:
            title = fix_whitespace(fix_encoding(title)) or None
        row.update(
            text=text,
            title=title,
            repairs=repairs,
            text_length=len(text),
            mojibake_score=mojibake_score(text),
        )
        rows.append(row)
    kept = pa.Table.from_pylist(rows, schema=REPAIRED)
    return Split(kept, quarantine_rows(bad, stage=STAGE, run_id=cfg.run_id, at=cfg.run_started_at))


# --------------------------------------------------------------------------- Prefect task


# NO_CACHE: output depends on the staged input files, not on these arguments.
@task(name="repair", cache_policy=NO_CACHE)
def repair_task(layout: io.Layout, cfg: RepairConfig, workers: int, batch_rows: int) -> StageResult:
    return run_staged(
        stage=STAGE,
        source="extracted",
        dataset="repaired",
        fn=repair_batch,
        cfg=cfg,
        kept_schema=REPAIRED,
        layout=layout,
        workers=workers,
        batch_rows=batch_rows,
        progress=get_run_logger().info,
    )
