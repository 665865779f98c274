"""Repair: EXTRACTED text -> text with encoding, whitespace and typos fixed, every change recorded.

Input: EXTRACTED rows; the config carries the words the corpus protects (seen in several
documents tonight or on earlier nights; the task wrapper counts them, see `vocabulary_of`).
Output: REPAIRED rows: `text` and `title` repaired, `repairs` listing every change (`offset`,
`before`, `after`, `kind` in `encoding`, `whitespace`, `typo`, and `score`: 1.0 for encoding and
whitespace, the winner's lead in nats for a typo), and `mojibake_score` (ftfy's badness per
1,000 characters of the repaired text: 0 for clean text; the share of documents with a score
above 0 is the night's mojibake metric). The text before repair stays in the staged `extracted`
dataset, and every change can be undone: apply the `repairs` of a row from last to first,
replacing `after` at `offset` by `before` (each offset is where `after` stands once that change
and the ones listed before it are applied).

Steps, line by line: ftfy (mojibake, HTML entities, broken surrogates), then whitespace (NBSP and
other exotic spaces to a space, zero-width and soft-hyphen characters removed, runs of spaces
collapsed, lines trimmed, empty lines dropped), then typos (`tasks.repair.spelling`: conservative,
language-aware; never a capitalised, quoted, protected or repeated word).

Quarantined, with these reasons (one bad document never stops the batch, nor the night):
- `empty_after_repair`: nothing but whitespace and control characters was left.
- `repair_failed`: a repair step raised on this document; `detail` has the exception's class and
  message.
- `repair_timeout`: one document took longer than `timeout_seconds`; the stage's parent killed
  the worker (`tasks.runner`) and the rest of its batch ran again in a new one.
- `worker_crashed`: the worker process died on this document, also when it ran alone.
A text that repair makes longer than the suites allow (ligatures expanded) or without a word
(a text of entities only) is kept here and set aside by the repaired checks (`text_too_long`,
`no_words`).
"""

from __future__ import annotations

import difflib
import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import partial
from itertools import accumulate
from typing import Any

import ftfy
import ftfy.bad_codecs  # registers the sloppy-windows-1252 codec
import pyarrow as pa
from ftfy.badness import badness

from tasks import io
from tasks.repair.spelling import MIN_WORD_LEN, fix_typos, words_of
from tasks.runner import Share, StageResult, Supervision, run_staged
from tasks.schema import REPAIRED, VOCABULARY, Split, quarantine_rows

STAGE = "repair"
# data/state/<this>/run_date=D: each night's document frequencies of the words typo repair sees.
VOCABULARY_STATE = "vocabulary"

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


# A word seen in at least this many documents (tonight and earlier nights together) is a name or
# a term of the news, never a typo to fix ("Hatami", "Ayyoub"): the rule, "several".
PROTECT_MIN_DOCS = 2
# Per document. The longest texts extract keeps (2,000,000 characters) repair in 2-11 s here
# (1,500,000 ligatures, expanded to 4,500,000 characters: 10.7 s); ten times that is a hang.
REPAIR_TIMEOUT_SECONDS = 120.0


@dataclass(frozen=True)
class RepairConfig:
    run_id: str
    run_started_at: datetime
    typo_repair: bool = True
    # Case-folded words the corpus protects; filled by the task wrapper's pre-pass.
    protected: frozenset[str] = field(default_factory=frozenset)
    # Per document, enforced by the stage's parent (see `repair_timeout`); 0: none.
    timeout_seconds: float = REPAIR_TIMEOUT_SECONDS


def fix_encoding(line: str) -> str:
    fixed = ftfy.fix_text(line, config=FTFY_CONFIG)
    if not badness(fixed):
        return fixed
    # ftfy re-decodes a line as a whole and gives up when one part of it cannot be re-encoded
    # (a byte the double decoding lost, a letter that was right): on the syndication benchmark's
    # Polish mojibake copies "wynagrodzeÅ„" stayed broken. Word by word, each mojibake word still
    # decodes; words without suspicious sequences are not touched.
    words = fixed.split(" ")
    out = [ftfy.fix_text(word, config=FTFY_CONFIG) if badness(word) else word for word in words]
    # ftfy leaves some words half decoded ("miÅ‚ość": the "ł" lost to a low quote mark) or
    # untouched as too little evidence ("ØŒ", the Arabic comma, between two spaces), and the checks
    # then set the document aside. Such a word is decoded sequence by sequence (a UTF-8 lead byte
    # and its continuation bytes, read as Windows-1252) when the line is mojibake (ftfy decoded
    # some of its words) or the word is nothing but such sequences; the result must be less
    # suspicious than the word, else the word stays.
    line_is_mojibake = out != words
    for i, word in enumerate(out):
        # Scored with the spaces around it: ftfy's badness counts "ØŒ" only next to a space.
        bad = badness(f" {word} ")
        if bad and (line_is_mojibake or not _MOJIBAKE_SEQUENCE.sub("", word)):
            decoded = _MOJIBAKE_SEQUENCE.sub(_undo_cp1252, word)
            if badness(f" {decoded} ") < bad:
                out[i] = decoded
    return " ".join(out)


# The Windows-1252 reading of one UTF-8 multi-byte character: a lead byte (0xC2-0xF4) and the
# continuation bytes (0x80-0xBF) it announces.
_CONT = "".join(sorted(set(bytes(range(0x80, 0xC0)).decode("sloppy-windows-1252"))))
_CONT_CLASS = "[" + re.escape(_CONT) + "]"
_MOJIBAKE_SEQUENCE = re.compile(
    f"[\u00c2-\u00df]{_CONT_CLASS}|[\u00e0-\u00ef]{_CONT_CLASS}{{2}}"
    f"|[\u00f0-\u00f4]{_CONT_CLASS}{{3}}"
)


def _undo_cp1252(match: re.Match[str]) -> str:
    try:
        return match.group(0).encode("sloppy-windows-1252").decode("utf-8")
    except UnicodeError:
        return match.group(0)


def fix_whitespace(line: str) -> str:
    line = _INVISIBLE.sub("", line)
    line = _EXOTIC_SPACE.sub(" ", line)
    return _RUNS.sub(" ", line).strip()


def document_words(text: str) -> set[str]:
    """The case-folded words of a text that typo repair could touch (what the corpus counts)."""
    return {w for w in words_of(text) if len(w) >= MIN_WORD_LEN}


def repeated_words(text: str) -> frozenset[str]:
    """Case-folded words written more than once in this text: a typo is rarely repeated
    letter for letter, a rare name or term usually is."""
    counts = Counter(w for w in words_of(text) if len(w) >= MIN_WORD_LEN)
    return frozenset(w for w, n in counts.items() if n > 1)


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


def _common_prefix(a: str, b: str) -> int:
    """Length of the common prefix of `a` and `b` (binary search over slice comparisons, which
    run in C: a character loop in Python would cost more than the diff it saves)."""
    lo, hi = 0, min(len(a), len(b))
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if a[:mid] == b[:mid]:
            lo = mid
        else:
            hi = mid - 1
    return lo


def _common_suffix(a: str, b: str, limit: int) -> int:
    """Length of the common suffix of `a` and `b`, at most `limit`."""
    lo, hi = 0, limit
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if a[len(a) - mid :] == b[len(b) - mid :]:
            lo = mid
        else:
            hi = mid - 1
    return lo


# Above this many character pairs, a character-level difflib is too slow to run directly:
# `find_longest_match` visits, for every character of one side, every occurrence of it in the
# other, so a 44,000-character scraped line (spaces and "e" everywhere) took 14 s, three
# quarters of the repair stage's time on the syndication benchmark. Such ranges are first
# aligned word by word (a word and its trailing spaces is a far rarer symbol than a character),
# then each differing run of words is diffed character by character.
_CHAR_DIFF_PAIRS = 40_000
_TOKEN = re.compile(r"\S+\s*|\s+")


def _char_changes(before: str, after: str, i0: int, j0: int) -> list[tuple[int, int, int, int]]:
    """(i1, i2, j1, j2) ranges (absolute, + i0/j0) where `before` and `after` differ."""
    head = _common_prefix(before, after)
    tail = _common_suffix(before, after, min(len(before), len(after)) - head)
    a, b = before[head : len(before) - tail], after[head : len(after) - tail]
    i0, j0 = i0 + head, j0 + head
    if not a and not b:
        return []
    if not a or not b:
        return [(i0, i0 + len(a), j0, j0 + len(b))]
    if len(a) * len(b) <= _CHAR_DIFF_PAIRS:
        matcher = difflib.SequenceMatcher(a=a, b=b, autojunk=False)
        return [
            (i0 + i1, i0 + i2, j0 + j1, j0 + j2)
            for op, i1, i2, j1, j2 in matcher.get_opcodes()
            if op != "equal"
        ]
    ta, tb = _TOKEN.findall(a), _TOKEN.findall(b)
    if len(ta) == 1 and len(tb) == 1:
        return [(i0, i0 + len(a), j0, j0 + len(b))]  # one long word each: replaced whole
    starts_a = [0, *accumulate(len(t) for t in ta)]
    starts_b = [0, *accumulate(len(t) for t in tb)]
    out: list[tuple[int, int, int, int]] = []
    matcher = difflib.SequenceMatcher(a=ta, b=tb, autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            continue
        if i2 - i1 == j2 - j1:
            # As many words on both sides (every word of a mojibake line changed): word by word.
            for k, m in zip(range(i1, i2), range(j1, j2), strict=True):
                out.extend(_char_changes(ta[k], tb[m], i0 + starts_a[k], j0 + starts_b[m]))
        elif (i1, i2, j1, j2) == (0, len(ta), 0, len(tb)):
            # No word in common and the counts differ: the words do not split the range.
            out.append((i0, i0 + len(a), j0, j0 + len(b)))
        else:
            ca, cb = starts_a[i1], starts_b[j1]
            out.extend(_char_changes(a[ca : starts_a[i2]], b[cb : starts_b[j2]], i0 + ca, j0 + cb))
    return out


def _diff(before: str, after: str, base: int) -> list[dict[str, Any]]:
    """Changes turning `before` into `after`, with offsets in the repaired text (+ `base`)."""
    changes = []
    for i1, i2, j1, j2 in _char_changes(before, after, 0, 0):
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


def repair_line(
    line: str, lang: str | None, protected: frozenset[str], typos: bool = True
) -> tuple[str, list[dict[str, Any]]]:
    """One repaired line and its changes (offsets in the line; see the module docstring)."""
    fixed = fix_whitespace(fix_encoding(line))
    changes = _diff(line, fixed, 0) if fixed != line else []
    if typos and fixed:
        fixed, typo_changes = fix_typos(fixed, lang, protected)
        changes.extend(typo_changes)
    return fixed, changes


def repair_text(text: str, lang: str | None, cfg: RepairConfig) -> tuple[str, list[dict[str, Any]]]:
    """Repaired text and the list of changes (see the module docstring for the offsets)."""
    out_lines: list[str] = []
    repairs: list[dict[str, Any]] = []
    offset = 0
    protected = cfg.protected | repeated_words(text) if cfg.typo_repair else cfg.protected
    for line in text.split("\n"):
        fixed, changes = repair_line(line, lang, protected, cfg.typo_repair)
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
        repairs.extend(change | {"offset": change["offset"] + offset} for change in changes)
        out_lines.append(fixed)
        offset += len(fixed)
    return "\n".join(out_lines), repairs


def repair_lines(text: str, lang: str | None, cfg: RepairConfig) -> list[str]:
    """Each line of `text` repaired as `repair_text` repairs it, one output line per input line
    (a line left empty stays, as an empty line): the `wiredesk repair-text` contract."""
    protected = cfg.protected | repeated_words(text) if cfg.typo_repair else cfg.protected
    return [repair_line(line, lang, protected, cfg.typo_repair)[0] for line in text.split("\n")]


def repair_batch(batch: pa.Table, cfg: RepairConfig) -> Split:
    """REPAIRED rows for an EXTRACTED batch; see the module docstring for quarantine reasons."""
    rows: list[dict[str, Any]] = []
    bad: list[dict[str, Any]] = []
    for row in batch.to_pylist():
        try:
            text, repairs = repair_text(row["text"], row["lang"], cfg)
            title = row["title"]
            if title:
                title = fix_whitespace(fix_encoding(title)) or None
            score = mojibake_score(text)
        except Exception as exc:
            # ftfy, the speller or the diff raising on one text: that text is set aside, the
            # batch goes on (a bug that hit every text stops the night: the repaired suite
            # checks the share of input files that come through).
            bad.append(_bad(row, "repair_failed", f"{type(exc).__name__}: {exc}"[:500]))
            continue
        if not text:
            bad.append(_bad(row, "empty_after_repair", None))
            continue
        row.update(
            text=text,
            title=title,
            repairs=repairs,
            text_length=len(text),
            mojibake_score=score,
        )
        rows.append(row)
    try:
        kept = pa.Table.from_pylist(rows, schema=REPAIRED)
    except (pa.ArrowException, ValueError, TypeError, OverflowError):
        kept = _table_row_by_row(rows, bad)
    return Split(kept, quarantine_rows(bad, stage=STAGE, run_id=cfg.run_id, at=cfg.run_started_at))


def _bad(row: dict[str, Any], reason: str, detail: str | None) -> dict[str, Any]:
    identity = ("doc_id", "source_path", "record_index", "url", "raw_sha256")
    return {key: row[key] for key in identity} | {"reason": reason, "detail": detail}


def _table_row_by_row(rows: list[dict[str, Any]], bad: list[dict[str, Any]]) -> pa.Table:
    """REPAIRED rows Arrow accepts; a row it refuses (a value out of its type's range, such as
    an offset past 2**31 in a huge text) goes to `bad` as `repair_failed`."""
    good = []
    for row in rows:
        try:
            pa.Table.from_pylist([row], schema=REPAIRED)
        except (pa.ArrowException, ValueError, TypeError, OverflowError) as exc:
            bad.append(_bad(row, "repair_failed", f"{type(exc).__name__}: {exc}"[:500]))
            continue
        good.append(row)
    return pa.Table.from_pylist(good, schema=REPAIRED)


def supervision(cfg: RepairConfig) -> Supervision:
    """How the stage's parent watches each document (`tasks.runner`): killed past the limit."""
    return Supervision(
        deadline=cfg.timeout_seconds if cfg.timeout_seconds > 0 else None,
        reject=partial(_rejected, cfg=cfg),
        timeout_reason="repair_timeout",
    )


def _rejected(document: pa.Table, reason: str, detail: str, *, cfg: RepairConfig) -> pa.Table:
    """QUARANTINED rows for input rows the stage's parent set aside (timed out, crashed)."""
    bad = [_bad(row, reason, detail) for row in document.to_pylist()]
    return quarantine_rows(bad, stage=STAGE, run_id=cfg.run_id, at=cfg.run_started_at)


# --------------------------------------------------------------------------- Prefect task


def vocabulary_of(texts: Iterable[str]) -> dict[str, int]:
    """Documents containing each word (case-folded), over `texts` (one per document)."""
    counts: Counter[str] = Counter()
    for text in texts:
        counts.update(document_words(text))
    return dict(counts)


def protected_words(nights: Iterable[dict[str, int]]) -> frozenset[str]:
    """Words found in at least PROTECT_MIN_DOCS documents over the given nights' vocabularies."""
    total: Counter[str] = Counter()
    for night in nights:
        total.update(night)
    return frozenset(w for w, n in total.items() if n >= PROTECT_MIN_DOCS)


def _night_vocabulary(layout: io.Layout) -> dict[str, int]:
    texts = (
        text
        for batch in io.iter_batches(layout.staged("extracted"), columns=["text"])
        for text in batch.column("text").to_pylist()
    )
    return vocabulary_of(texts)


def _vocabulary_table(vocabulary: dict[str, int]) -> pa.Table:
    words = sorted(vocabulary)
    return pa.table(
        {"word": pa.array(words, pa.string()), "docs": [vocabulary[w] for w in words]},
        schema=VOCABULARY,
    )


def repair_night(
    layout: io.Layout,
    cfg: RepairConfig,
    workers: int,
    batch_rows: int,
    log: Callable[..., None] = lambda *args: None,
    share: Share | None = None,
) -> StageResult:
    # Corpus statistics are computed here, not in the pure function: a pre-pass over tonight's
    # staged `extracted` texts, plus the vocabularies of nights strictly before this one (kept in
    # data/state), so that a re-run of a night gives the same output whatever came after it.
    tonight = _night_vocabulary(layout)
    root = layout.state / VOCABULARY_STATE
    earlier = [
        dict(zip(t.column("word").to_pylist(), t.column("docs").to_pylist(), strict=True))
        for t in io.read_partitions_before(root, layout.run_date, columns=["word", "docs"])
    ]
    protected = protected_words([*earlier, tonight]) if cfg.typo_repair else frozenset()
    # Staged, not yet state: later nights must only count the words of published nights, so
    # `commit_vocabulary` moves it into `state/vocabulary` after publish.
    io.write_partition(
        layout.data_dir, layout.staged(VOCABULARY_STATE), [_vocabulary_table(tonight)], VOCABULARY
    )
    log(
        "repair: %d words protected (seen in >= %d documents over %d earlier night(s) and tonight)",
        len(protected),
        PROTECT_MIN_DOCS,
        len(earlier),
    )
    result = run_staged(
        stage=STAGE,
        source="extracted",
        dataset="repaired",
        fn=repair_batch,
        cfg=replace(cfg, protected=protected),
        kept_schema=REPAIRED,
        layout=layout,
        workers=workers,
        batch_rows=batch_rows,
        progress=log,
        share=share,
        supervision=supervision(cfg),
    )
    result.extra["protected_words"] = len(protected)
    return result


def commit_vocabulary(layout: io.Layout) -> int:
    """After publish: tonight's staged vocabulary becomes `state/vocabulary/run_date=D`
    (replacing what an earlier run of the night committed). Returns its number of words."""
    return io.promote_partition(
        layout.data_dir,
        layout.staged(VOCABULARY_STATE),
        layout.state_partition(VOCABULARY_STATE),
        VOCABULARY,
    )
