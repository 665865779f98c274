"""Typo repair: dictionary and frequency based, language-aware, and conservative by design.

Input: one line of repaired text, its language (ISO 639-1, from the extract stage) and the words
the corpus protects (lower-cased words seen in several documents). Output: the line with typos
fixed and one change record per fixed word (`offset` in the line, `before`, `after`, `kind`
`typo`, `score` = how far the winner is ahead of the runner-up, in nats). Nothing is quarantined
here: a word that cannot be fixed with confidence is left as it is.

A word is a candidate only when it is all lower-case (a capitalised word may be a name, an
acronym or a German noun), at least `MIN_WORD_LEN` letters, unknown to the language's
dictionary, not protected by the corpus, not in quotes and not part of a number, URL, e-mail,
hashtag, handle, path or hyphenated compound. Candidates come from SymSpell (Damerau-Levenshtein
distance <= 2 over the dictionary; for English also words that sound alike) and are ranked by a
noisy-channel score: log word frequency minus `LAMBDA` times a weighted edit cost (cheap:
doubled letters, vowel swaps, sound-alike consonants, transpositions; dear: a changed first
letter). The winner replaces the word only when it is close (`MAX_FIX_COST`), common enough
(`MIN_FIX_COUNT`) and ahead of the runner-up by `MIN_MARGIN`. Languages without a dictionary
(see `LANGUAGES`) are left alone. Dictionaries ship inside the symspellpy (English, Google Books
counts) and pyspellchecker (other languages, OpenSubtitles counts) wheels; nothing is downloaded.
A built speller is kept in the user's cache folder (`tasks.repair.dictionaries`), so that each
process loads it instead of building it again.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.metadata
import importlib.resources
import json
import math
import re
import sys
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from symspellpy import SymSpell, Verbosity
from symspellpy.editdistance import DistanceAlgorithm, EditDistance

from tasks.repair import dictionaries

# Languages with a dictionary: wordfreq's "large" lists (frequencies from many sources), and for
# English also symspellpy's and pyspellchecker's curated lists. These are the ones whose
# false-correction rate benchmarks/repair.py measures; any other language is left alone.
LANGUAGES = ("en", "fr", "de", "es")

# Words shorter than this are too ambiguous to fix out of context ("teh" could be "the", "ten",
# "tech"); long enough to keep seed 000's "contrrol".
MIN_WORD_LEN = 4
# Non-English candidates are words at least this common (Zipf scale: 3 = once per million
# words): below it, wordfreq's lists hold frequent misspellings.
CANDIDATE_ZIPF = 3.0
# Tokens behind symspellpy's English counts (its `SymSpell.N`): turns counts into frequencies.
GOOGLE_BOOKS_TOKENS = 1_024_908_267_229
# A word this common in real text is a word: never changed. English has curated lists of real
# words, so only common words need this; elsewhere a word seen this often in wordfreq's sources
# is taken as real (Spanish "mirra", Zipf 2.6, is myrrh, not a typo of "mira"), at the price of
# leaving frequent misspellings ("villeicht", 2.9) alone.
KNOWN_ZIPF = {"en": 3.0, "other": 2.5}
# The frequency given to a word wordfreq has never seen (its lists stop at Zipf 1).
UNSEEN_FREQ = 1e-9
# Sound-alike candidates must be at least this common: rare words that merely sound alike are
# noise.
SOUND_ZIPF = 3.0
# Noisy-channel weights. Costs are per edit (1.0 = an arbitrary letter inserted, dropped or
# replaced). LAMBDA, MU and the cost table were calibrated by coordinate search on one half of
# the shared Birkbeck words (split by a hash of the correct word) and checked on the other half
# and on Norvig's set 1 (benchmarks/repair.py prints both; no document-specific rules).
LAMBDA = 5.0  # nats per unit of edit cost
MU = 3.0  # nats per edit between sound-alike keys (English only)
COST_VOWEL = 0.78  # a vowel for another vowel
COST_SOUND = 0.7  # c/k/s/q, s/z, i/y, g/j, f/v, m/n, t/d, b/p
COST_KEY = 1.18  # keyboard neighbours: humans' errors in Birkbeck are rarely keyboard slips
COST_SWAP = 0.7  # two adjacent letters swapped
COST_DOUBLE = 0.35  # a doubled letter undoubled, or the reverse ("contrrol")
COST_VOWEL_INDEL = 0.56  # a vowel dropped or added
COST_FIRST = 2.0 / LAMBDA  # the first letter is rarely wrong
# Running-text gates, calibrated so that clean professional text (scrapinghub articleBody, SemEval
# fr/de/es) stays untouched: at most about two ordinary edits, and a winner at least e^MIN_MARGIN
# times likelier than both the runner-up and the word as typed (its own wordfreq frequency).
MAX_FIX_COST = 1.0
MIN_MARGIN = 2.0
# A line is checked only when it has this many lower-case words and at most one unknown word or
# this share of unknown words: a line in another language is left alone (on the scrapinghub
# pages, English pages quote German and Portuguese lines that were "fixed" without this gate).
MIN_LINE_WORDS = 4
MAX_UNKNOWN_SHARE = 0.1

_VOWELS = frozenset("aeiouy")
_KEYBOARD = ("qwertyuiop", "asdfghjkl", "zxcvbnm")
_KEY_POS = {ch: (row, col) for row, keys in enumerate(_KEYBOARD) for col, ch in enumerate(keys)}
_SOUND_GROUPS = tuple(frozenset(g) for g in ("ckqs", "sz", "iy", "gj", "fv", "mn", "td", "bp"))
# English sound-alike key: spelling rules that collapse letters pronounced alike, then vowels
# after the first letter and doubled letters are dropped ("curtains", "courtens" -> "krtns").
_SOUND_RULES = tuple(
    (re.compile(pattern), repl)
    for pattern, repl in (
        (r"ph", "f"),
        (r"gh(?![aeiou])", ""),
        (r"ck", "k"),
        (r"c(?=[eiy])", "s"),
        (r"c", "k"),
        (r"q", "k"),
        (r"x", "ks"),
        (r"z", "s"),
        (r"wh", "w"),
        (r"^kn", "n"),
        (r"^wr", "r"),
        (r"dg", "j"),
        (r"tch", "ch"),
        (r"(?<=.)[aeiouy]+", ""),
        (r"(.)\1+", r"\1"),
    )
)
_LEVENSHTEIN = EditDistance(DistanceAlgorithm.LEVENSHTEIN_FAST)

# A word: letters, optionally joined by apostrophes (contractions are checked whole).
_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)*")
# Characters that make a whitespace-delimited chunk something other than prose: URLs, e-mails,
# handles, hashtags, paths, numbers, compounds, code.
_NOT_PROSE = re.compile(r"[@#/\\_=<>{}\[\]|~^*+&%$0-9-]|\.\w")
_OPEN_QUOTES = "“„«‹\"‘‚'「『"
_CLOSE_QUOTES = "”»›\"’'」』"
_DOUBLE_QUOTES = frozenset('“”„«»‹›"「」『』')


def words_of(text: str) -> list[str]:
    """The words of `text`, case-folded, in order (the unit typo repair and the corpus count)."""
    return [m.group().casefold() for m in _WORD.finditer(text)]


def sound_key(word: str) -> str:
    for pattern, repl in _SOUND_RULES:
        word = pattern.sub(repl, word)
    return word


def _near(a: str, b: str) -> bool:
    pa, pb = _KEY_POS.get(a), _KEY_POS.get(b)
    return pa is not None and pb is not None and abs(pa[0] - pb[0]) <= 1 and abs(pa[1] - pb[1]) <= 1


def _sub_cost(a: str, b: str) -> float:
    if a == b:
        return 0.0
    if a in _VOWELS and b in _VOWELS:
        return COST_VOWEL
    if any(a in group and b in group for group in _SOUND_GROUPS):
        return COST_SOUND
    return COST_KEY if _near(a, b) else 1.0


def _indel_cost(word: str, i: int) -> float:
    ch = word[i]
    if i > 0 and word[i - 1] == ch:  # the second letter of a pair: one of a pair is cheap
        return COST_DOUBLE
    return COST_VOWEL_INDEL if ch in _VOWELS else 1.0


def edit_cost(typed: str, meant: str) -> float:
    """Weighted optimal-string-alignment cost of typing `meant` as `typed`."""
    n, m = len(typed), len(meant)
    prev2: list[float] = []
    prev = [0.0] * (m + 1)
    for j in range(1, m + 1):
        prev[j] = prev[j - 1] + _indel_cost(meant, j - 1)
    for i in range(1, n + 1):
        cur = [prev[0] + _indel_cost(typed, i - 1)] + [0.0] * m
        for j in range(1, m + 1):
            best = min(
                prev[j] + _indel_cost(typed, i - 1),
                cur[j - 1] + _indel_cost(meant, j - 1),
                prev[j - 1] + _sub_cost(typed[i - 1], meant[j - 1]),
            )
            if (
                i > 1
                and j > 1
                and typed[i - 1] == meant[j - 2]
                and typed[i - 2] == meant[j - 1]
                and typed[i - 1] != typed[i - 2]
            ):
                best = min(best, prev2[j - 2] + COST_SWAP)
            cur[j] = best
        prev2, prev = prev, cur
    cost = prev[m]
    if typed[:1] != meant[:1]:
        cost += COST_FIRST
    return cost


@dataclass(frozen=True)
class Candidate:
    word: str
    zipf: float
    cost: float
    score: float


class Speller:
    """One language's frequencies (wordfreq), a SymSpell index of clean candidates, and gates."""

    def __init__(
        self,
        lang: str,
        freqs: dict[str, float],
        candidates: dict[str, float],
        clean: frozenset[str] = frozenset(),
    ):
        self.lang = lang
        self.freqs = freqs  # how often each word is written, misspellings included (wordfreq)
        self.cand_freqs = candidates  # the words a typo may be corrected to, with frequencies
        self.clean = clean  # curated words: always correct as written
        self.index = SymSpell(
            max_dictionary_edit_distance=2,
            prefix_length=7,
            distance_comparer=EditDistance(DistanceAlgorithm.DAMERAU_OSA_FAST),
        )
        self.by_sound: dict[str, list[str]] = {}
        for word, freq in candidates.items():
            self.index.create_dictionary_entry(word, max(1, round(freq * 1e12)))
            if lang == "en" and zipf(freq) >= SOUND_ZIPF:
                self.by_sound.setdefault(sound_key(word), []).append(word)

    def freq(self, word: str) -> float:
        # wordfreq's keys are case-folded ("hieß" is stored as "hiess").
        return self.freqs.get(word.casefold(), 0.0)

    def zipf_of(self, word: str) -> float:
        return zipf(self.freq(word))

    def known(self, word: str) -> bool:
        """A word of the language: curated, or common in real text (then it is never changed)."""
        floor = KNOWN_ZIPF.get(self.lang, KNOWN_ZIPF["other"])
        return word in self.clean or self.zipf_of(word) >= floor

    def _keep_score(self, word: str) -> float:
        return math.log(max(self.freq(word), UNSEEN_FREQ))

    def candidates(self, word: str) -> list[Candidate]:
        """Dictionary words `word` may be a typo of, best first (empty when none is close)."""
        found = {s.term for s in self.index.lookup(word, Verbosity.ALL, 2)}
        key = sound_key(word) if self.by_sound else ""
        if key:
            found.update(w for w in self.by_sound.get(key, ()) if abs(len(w) - len(word)) <= 3)
        found.discard(word)
        out = []
        for term in found:
            cost = edit_cost(word, term)
            score = math.log(self.cand_freqs[term]) - LAMBDA * cost
            if key:
                score -= MU * _LEVENSHTEIN.compare(key, sound_key(term), 10)
            out.append(Candidate(term, zipf(self.cand_freqs[term]), cost, score))
        out.sort(key=lambda c: (-c.score, c.word))
        return out

    def suggest(self, word: str) -> str:
        """The best correction of `word` typed in isolation: itself when a curated list has it,
        else the top candidate (a word alone gives no evidence that it was meant as typed)."""
        low = word.lower()
        if low in self.clean:
            return low
        found = self.candidates(low)
        return found[0].word if found else low

    def fix(self, word: str) -> Candidate | None:
        """The correction of an unknown lower-case word in running text, or None: not sure."""
        found = self.candidates(word)
        if not found:
            return None
        best = found[0]
        runner_up = max(found[1].score if len(found) > 1 else -math.inf, self._keep_score(word))
        margin = best.score - runner_up
        if best.cost > MAX_FIX_COST or margin < MIN_MARGIN or _same_letters(word, best.word):
            return None
        if best.word.startswith(word) or word.startswith(best.word):
            # "telecom"/"telecoms", "wirelessly"/"wireless": an inflection or a cut-off word the
            # frequency list lacks, not a typo to fix.
            return None
        return Candidate(best.word, best.zipf, best.cost, min(margin, 99.0))


def zipf(freq: float) -> float:
    return math.log10(freq) + 9.0 if freq > 0 else 0.0


_FOLD = str.maketrans({"ß": "ss", "œ": "oe", "æ": "ae", "ø": "o", "ł": "l"})


def _same_letters(a: str, b: str) -> bool:
    """Equal once accents, ß and ligatures are folded: a spelling variant ("grosse" is Swiss
    German for "große", "maitriser" the 1990 French spelling), never a typo to fix."""

    def fold(word: str) -> str:
        decomposed = unicodedata.normalize("NFKD", word.translate(_FOLD))
        return "".join(ch for ch in decomposed if not unicodedata.combining(ch))

    return fold(a) == fold(b)


def _package_file(package: str, name: str) -> Any:
    return importlib.resources.files(package).joinpath(name)


def _pyspellchecker_words(lang: str) -> frozenset[str]:
    with _package_file("spellchecker", f"resources/{lang}.json.gz").open("rb") as fh:
        data: dict[str, int] = json.loads(gzip.decompress(fh.read()))
    return frozenset(data)


def _symspell_english_freqs() -> dict[str, float]:
    """symspellpy's English list (Google Books counts) as frequencies per word."""
    text = _package_file("symspellpy", "frequency_dictionary_en_82_765.txt").read_text("utf-8")
    freqs: dict[str, float] = {}
    for line in text.splitlines():
        word, _, count = line.partition(" ")
        if word.isalpha() and count.isdigit():
            freqs[word] = int(count) / GOOGLE_BOOKS_TOKENS
    return freqs


def speller(lang: str | None) -> Speller | None:
    """The process-wide speller of `lang`, None if none. On first use in a process it is read
    from SPELLER_CACHE (about 1.3 s for English) or, the first time on this machine, built
    (4-9 s) and written there."""
    return _cached_speller(lang) if lang in LANGUAGES else None


# The user's cache folder; a file per language and key, about 80 MB for the four languages.
SPELLER_CACHE = Path.home() / ".cache" / "wiredesk" / "spellers"
# The packages whose code or data a built speller holds (symspellpy's index and English list,
# editdistpy's comparers inside it, the word lists).
_SPELLER_PACKAGES = ("symspellpy", "editdistpy", "wordfreq", "pyspellchecker")


def cache_key(lang: str) -> str:
    """What a built speller of `lang` is made from: this module's source (the constants, rules
    and the Speller class), the versions of the packages holding the word lists and of the
    interpreter (its pickle format); a change to any of them is a new key."""
    digest = hashlib.sha256(Path(__file__).read_bytes())
    for name in _SPELLER_PACKAGES:
        digest.update(f"\0{name}={importlib.metadata.version(name)}".encode())
    digest.update(f"\0{sys.implementation.cache_tag}\0{lang}".encode())
    return digest.hexdigest()[:20]


def cached_speller(lang: str, folder: Path) -> Speller:
    """`lang`'s speller from `folder`, built and written there when it is missing or unreadable."""
    path = folder / f"{lang}-{cache_key(lang)}.pickle"
    return dictionaries.cached(path, Speller, lambda: build_speller(lang), stale=f"{lang}-")


@lru_cache(maxsize=len(LANGUAGES))
def _cached_speller(lang: str) -> Speller:
    return cached_speller(lang, SPELLER_CACHE)


def build_speller(lang: str) -> Speller:
    """`lang`'s speller, built from the word lists in the installed packages (deterministic)."""
    import wordfreq

    freqs: dict[str, float] = wordfreq.get_frequency_dict(lang, wordlist="large")
    if lang == "en":
        # Candidates from the curated Google Books list: wordfreq counts what people write, so
        # it holds "goverment" and "recieve" (Zipf 2.7); measured on Norvig set 1 and Birkbeck,
        # Google Books counts also rank candidates better (0.826 / 0.413 against 0.819 / 0.39).
        books = _symspell_english_freqs()
        return Speller(lang, freqs, books, frozenset(books) | _pyspellchecker_words("en"))
    # pyspellchecker's lists for other languages are partly lemma-only (Spanish lacks "dijo",
    # "horas"), so wordfreq alone gives the candidates there: words above CANDIDATE_ZIPF. German
    # words with "ss" are left out: wordfreq folds "ß" to "ss", and "grosse" is not "große".
    floor = CANDIDATE_ZIPF
    candidates = {
        w: f
        for w, f in freqs.items()
        if zipf(f) >= floor and w.isalpha() and not (lang == "de" and "ss" in w)
    }
    return Speller(lang, freqs, candidates)


def _is_prose_word(line: str, start: int, end: int) -> bool:
    """False when the word at line[start:end] sits inside a URL, number, handle or compound."""
    left = line.rfind(" ", 0, start) + 1
    right = line.find(" ", end)
    chunk = line[left : right if right >= 0 else len(line)]
    return _NOT_PROSE.search(chunk) is None


def _quoted_spans(line: str) -> list[tuple[int, int]]:
    """Spans of the line inside double quotes (any style), and single-quoted chunks."""
    spans: list[tuple[int, int]] = []
    opened: int | None = None
    for i, ch in enumerate(line):
        if ch not in _DOUBLE_QUOTES:
            continue
        if opened is None:
            opened = i
        else:
            spans.append((opened, i))
            opened = None
    if opened is not None:  # an unclosed quote runs to the end of the line
        spans.append((opened, len(line)))
    return spans


def fix_typos(
    line: str, lang: str | None, protected: frozenset[str] = frozenset()
) -> tuple[str, list[dict[str, Any]]]:
    """`line` with clear typos fixed, and one change record per fix (offsets in the new line)."""
    checker = speller(lang)
    if checker is None or not line:
        return line, []
    words = [m.group() for m in _WORD.finditer(line) if m.group().islower()]
    unknown = sum(not checker.known(w) for w in words)
    if len(words) < MIN_LINE_WORDS or unknown > max(1, MAX_UNKNOWN_SHARE * len(words)):
        # Too few words to tell the language, or mostly words the dictionary does not know:
        # another language (a German quote in an English article), a list of names, code.
        # Fixing "typos" there would rewrite it.
        return line, []
    quoted = _quoted_spans(line)
    out: list[str] = []
    changes: list[dict[str, Any]] = []
    pos = shift = 0
    for match in _WORD.finditer(line):
        word = match.group()
        start, end = match.span()
        if (
            len(word) < MIN_WORD_LEN
            or not word.islower()
            or "'" in word
            or "’" in word
            or (lang == "en" and not word.isascii())
            or checker.known(word)
            or word.casefold() in protected
            or any(a < start < b for a, b in quoted)
            or (start > 0 and line[start - 1] in _OPEN_QUOTES)
            or (end < len(line) and line[end] in _CLOSE_QUOTES)
            or not _is_prose_word(line, start, end)
        ):
            continue
        fix = checker.fix(word)
        if fix is None:
            continue
        out.append(line[pos:start])
        out.append(fix.word)
        changes.append(
            {
                "offset": start + shift,
                "before": word,
                "after": fix.word,
                "kind": "typo",
                "score": round(fix.score, 3),
            }
        )
        shift += len(fix.word) - len(word)
        pos = end
    if not changes:
        return line, []
    out.append(line[pos:])
    return "".join(out), changes
