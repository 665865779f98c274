import re
import unicodedata
from pathlib import Path

import numpy as np
import pytest

import tasks.dedup.crosslingual
from tasks.dedup.crosslingual import anchor_lists, key_strings, template_free
from tasks.dedup.keylists import KeyLists, Vocabulary
from tests.dedup.oracle import anchors, ordered_anchors


def ordered_anchors_batch(texts: list[str]) -> list[list[str]]:
    """What the dedup stage computes (`anchor_lists`), as strings: to hold against the oracle."""
    return key_strings(*anchor_lists(texts))


def test_numbers_and_names_not_sentence_starts():
    found = anchors("The mayor of Ostmere counted 1,250 boats at 07. The rest left.")
    assert "#1250" in found and "#7" in found and "ostmere" in found
    assert "the" in found  # never written in lower case here: taken for a name
    found = anchors("The mayor of Ostmere counted the boats.")
    assert "the" not in found and "ostmere" in found
    assert "#1250" in anchors("Le maire d'Ostmere a compté 1.250 bateaux")


def cognates(text: str) -> set[str]:
    return {key for key in anchors(text) if key.startswith("~")}


def test_cognate_stems_match_across_languages_without_diacritics():
    en = cognates("The cooperation between the operators and the terrorists' victims")
    fr = cognates("La coopération entre les opérateurs et les victimes des terroristes")
    assert {"~coope", "~opera", "~terro", "~victi"} <= en & fr
    # Short words, digits and other scripts give no stem.
    assert cognates("the port 2028 порт港口") == set()


def test_anchors_join_numbers_names_and_stems():
    assert anchors("Ilse Varga promised 120 million") == {
        "ilse",
        "varga",
        "#120",
        "~promi",
        "~milli",
    }


def test_template_keys_are_dropped_within_a_template_group_only():
    vocab = Vocabulary()
    found = vocab.lists(
        [["#1", "gazette", "~newsl"], ["~newsl", "#2", "gazette"], ["gazette", "#3", "~newsl"]]
    )
    out = template_free(found, [7, 7, None])
    assert vocab.strings_of(out[0]) == ["#1"] and vocab.strings_of(out[1]) == ["#2"]
    # Not of the group: its keys stay, in their order.
    assert vocab.strings_of(out[2]) == ["gazette", "#3", "~newsl"]
    assert template_free(found, [None, None, None]) is found


def test_template_free_keeps_each_documents_order_and_its_own_keys():
    import random

    rng = random.Random(5)
    keys = [f"k{i}" for i in range(30)]
    lists = [rng.sample(keys, rng.randint(0, 12)) for _ in range(50)]
    groups = [rng.choice([None, 3, 8, 11]) for _ in lists]
    vocab = Vocabulary()
    out = template_free(vocab.lists(lists), groups)
    for i, own in enumerate(lists):
        others = [set(lists[j]) for j in range(len(lists)) if j != i and groups[j] == groups[i]]
        shared = set().union(*others) if groups[i] is not None and others else set()
        assert vocab.strings_of(out[i]) == [k for k in own if k not in shared]


def test_key_lists_take_where_and_concat():
    lists = KeyLists.of([[3, 1], [], [4, 1, 5], [9]])
    assert [x.tolist() for x in (lists[i] for i in range(len(lists)))] == [
        [3, 1],
        [],
        [4, 1, 5],
        [9],
    ]
    taken = lists.take([2, 1, 2, 0])
    assert [taken[i].tolist() for i in range(4)] == [[4, 1, 5], [], [4, 1, 5], [3, 1]]
    assert len(lists.take([1, 1])) == 2 and not len(lists.take([1, 1]).ids)
    kept = lists.where(lists.ids != 1)
    assert [kept[i].tolist() for i in range(4)] == [[3], [], [4, 5], [9]]
    joined = KeyLists.concat([lists, KeyLists.of([[7]]), KeyLists.of([])])
    assert [joined[i].tolist() for i in range(len(joined))] == [[3, 1], [], [4, 1, 5], [9], [7]]
    assert lists.owners().tolist() == [0, 0, 2, 2, 2, 3]


def test_ordered_anchors_follow_the_text():
    text = "Ilse Varga promised 120 million to Kessel. Varga spoke for 20 minutes."
    order = ordered_anchors(text)
    expected = ["ilse", "varga", "~promi", "#120", "~milli", "kessel", "~kesse", "#20", "~minut"]
    assert order == expected
    assert frozenset(order) == anchors(text)


# Texts where the batch passes could part from the oracle's `ordered_anchors`, one corner each.
TRICKY = [
    "",
    " .,;:!? -- ... \n\t",
    "the and of to in",
    # Turkish capital I with a dot: casefold writes "i" and a combining dot.
    "İstanbul İzmir'de İSTANBUL istanbul i̇stanbul",
    # German sharp s: casefold writes "ss" (a stem from "ßßß", names that grow).
    "Straße STRASSE strasse Weißwurst Grüße ßßß Maß",
    # Precomposed and decomposed accents, and marks that no letter takes.
    "Coopération coopération Cooperation Écosse écosse Ecosse",
    "Coope\u0301ration E\u0301cosse x\u0301yzabc \u0301\u0302abcdef",
    # Digits inside words, and numbers with separators.
    "COVID19 covid19 G7 A380s 3D 1.250,5 1..2 2,5, .5 7. 007 000 0.0 1,234,567",
    "١٢٣ ٠٠٧ ١٬٢٣٤ 12٣ ۱۲۳ १२३ 𝟏𝟐 ¹²³ ½",
    "12345678901234567890 000000000000000000012 123456789012345678 1234567890123456789",
    "2019 2020 2021 1999 2019 42",
    # Names with apostrophes and hyphens, and what follows them.
    "O'Brien O’Brien's L'Équipe d'Estaing Jean-Pierre Jean-Pierre2 Smith- -Smith Smith's2",
    "Mc'Donald's McDonald's AT&T U.S. U.S.A. Abc-def-Ghi-2 Ab Abc Abcd",
    "The the. Varga spoke; Varga's varga VARGA Kessel kessel Kessels",
    # Latin capitals whose casefold leaves Latin-1 (a lowercase word then spells the name).
    "Ⱥbcde ⱥbcde Ɖavid ɖavid Ǆemal ǆemal ǅemal Ĳsselmeer ĳsselmeer ŉabc",
    # Above the BMP: letters, digits and pictographs.
    "𝐀bcdefg 𝒜lpha 𠀀𠀁𠀂 Varga𠀀 𠀀Varga Kessel🏆 🏆Kessel abcdef🏆 😉 ",
    # Other scripts (no stems, no names), and compatibility forms NFKC rewrites.
    "Москва Moskau 北京市 Пекин ﬁnance ﬀﬁﬂ ＡＢＣＤＥＦ Ⅻabcdef ℂabcdef ᴬbcdefg",
    # Only numbers.
    "1 2 3 4.5 6,7 0008 10",
    # Lone surrogates and NUL characters (the batch path joins texts with NUL).
    "Varga\ud800abc \udfffKessel Kesselring\ud800 12\ud8003 \ud83c\udfc6 Varga",
    "Nul\x00Varga\x00 12\x0034 abc\x00defghi\x00",
    # Word characters that are neither letters nor digits.
    "snake_case __init__ _private a_b_c_d_e_f ab_cdef",
    "x" * 40 + " " + "Y" * 40 + " " + "Ab" * 30,
]


def _reference(texts: list[str]) -> list[list[str]]:
    return [ordered_anchors(text) for text in texts]


def test_batch_equals_one_text_on_tricky_inputs():
    assert ordered_anchors_batch(TRICKY) == _reference(TRICKY)
    for text in TRICKY:
        assert ordered_anchors_batch([text]) == [ordered_anchors(text)], text
    assert ordered_anchors_batch([]) == []


def test_batch_keeps_text_order_and_ties():
    # A name and the stem of the same word share a position: ordered as strings ("kessel" <
    # "~kesse" < "écosse").
    text = "Ilse Varga promised 120 million to Kessel. Écosse won."
    assert ordered_anchors_batch([text]) == [ordered_anchors(text)]
    assert ordered_anchors_batch([text])[0][5:7] == ["kessel", "~kesse"]
    assert ordered_anchors_batch([text])[0][-2:] == ["~ecoss", "écosse"]


def test_batch_spans_batch_boundaries(monkeypatch):
    # Keys met in earlier batches, a lowercase word in another text (it must not hide a name
    # here), and texts of every length around the batch size.
    texts = [f"Varga {i} Kessel{i % 3} cooperation" for i in range(7)]
    texts += ["varga kessel0 " * (i % 3) + TRICKY[i % len(TRICKY)] for i in range(17)]
    texts += ["", "Varga", "varga"]
    monkeypatch.setattr(tasks.dedup.crosslingual, "ANCHOR_BATCH_TEXTS", 4)
    assert ordered_anchors_batch(texts) == _reference(texts)
    monkeypatch.setattr(tasks.dedup.crosslingual, "ANCHOR_BATCH_TEXTS", 1)
    assert ordered_anchors_batch(texts) == _reference(texts)


def test_batch_is_exact_when_every_hash_collides(monkeypatch):
    # Hashes that only tell lengths apart: names of one length share a hash within a batch
    # and across batches, and every word of a name's length looks like it.
    def by_length(self, values, first, length):
        return length.astype(np.uint64)

    monkeypatch.setattr(tasks.dedup.crosslingual.AnchorMemo, "hashes", by_length)
    texts = [*TRICKY, "Varga spoke. Kessl spoke. varga", "Kessl wrote", "Varga wrote kessl"]
    # A word of the name's length and first and last letters ("vanga"), but not the name.
    texts += ["Varga met vanga", "Vanga met varga"]
    assert ordered_anchors_batch(texts) == _reference(texts)
    monkeypatch.setattr(tasks.dedup.crosslingual, "ANCHOR_BATCH_TEXTS", 1)
    assert ordered_anchors_batch(texts) == _reference(texts)


def test_batch_on_every_word_character():
    # Each word character of the BMP at the start, inside and at the end of a word: its
    # casefold, marks and compatibility letters decide stems, names and numbers.
    chars = [chr(c) for c in range(1, 0x10000) if chr(c).isalnum() or c == 0x5F]
    words = [f"{c}bcdef abcd{c}f abcde{c} {c * 6} {c}{c}{c}" for c in chars]
    texts = [" ".join(words[i : i + 500]) for i in range(0, len(words), 500)]
    assert ordered_anchors_batch(texts) == _reference(texts)


def test_character_table_agrees_with_re():
    # The batch path reads `\w` and `\d` off a table: they must be re's own.
    kind = tasks.dedup.crosslingual._bmp_chars().kind
    word, digit = re.compile(r"\w"), re.compile(r"\d")
    for c in range(0x10000):
        assert bool(kind[c] & tasks.dedup.crosslingual._IS_WORD) == bool(word.match(chr(c))), hex(c)
        assert bool(kind[c] & tasks.dedup.crosslingual._IS_DIGIT) == bool(digit.match(chr(c))), hex(
            c
        )
    # It also takes a name's first character for a word character that may come later too,
    # and looks for name characters below `_NAME_END` only.
    first, later = (
        re.compile(tasks.dedup.crosslingual._NAME_FIRST),
        re.compile(tasks.dedup.crosslingual._NAME_LATER),
    )
    for c in [*range(0x10000), 0x1D400, 0x20000, 0x1F3C6, 0x10FFFF]:
        if first.match(chr(c)):
            assert later.match(chr(c)) and word.match(chr(c)), hex(c)
        if later.match(chr(c)):
            assert c < tasks.dedup.crosslingual._NAME_END, hex(c)


def _reference_row(c: int) -> tuple[int, int, int, bytes, int, int]:
    """A `_Chars` row the plain way, from the code point alone (the definitions in `_Chars`)."""
    a = tasks.dedup.crosslingual
    char = chr(c) if c else ""
    fold = char.casefold()
    folded = fold.replace("\u0307", "")
    decomposed = unicodedata.normalize("NFKD", folded)
    stripped = "".join(x for x in decomposed if not unicodedata.combining(x))
    word = char.isalnum() or char == "_"
    letters = stripped.isascii() and (stripped.isalpha() or not stripped)
    plain = letters and len(folded) == 1 and len(stripped) == 1
    kind = (a._IS_WORD if word else 0) | (a._IS_DIGIT if char.isdecimal() else 0)
    if word and not plain:
        kind |= a._NOT_PLAIN | (a._MIXED if letters else 0)
    name_fold = c
    if c < a._NAME_END and re.fullmatch(a._NAME_LATER, char):
        name_fold = ord(fold[0])
        kind |= a._NAME_MORE | (a._NAME_START if re.fullmatch(a._NAME_FIRST, char) else 0)
        kind |= (a._NAME_WIDE if len(fold) > 1 else 0) | (a._NAME_FOLDS if fold != char else 0)
    head = stripped[: a.COGNATE_PREFIX] if word and letters else ""
    digit = ord(head[0]) - ord("a") if "a" <= head[:1] <= "z" else a._LOWER_STEMS
    padded = head.encode("ascii").ljust(a.COGNATE_PREFIX, b"\0")
    return kind, len(folded), len(stripped), padded, digit, name_fold


def _rows(chars: "tasks.dedup.crosslingual._Chars") -> list[tuple[int, int, int, bytes, int, int]]:
    return list(
        zip(
            chars.kind.tolist(),
            chars.fold_len.tolist(),
            chars.strip_len.tolist(),
            map(bytes, chars.head),
            chars.digit.tolist(),
            chars.name_fold.tolist(),
            strict=True,
        )
    )


def test_character_table_rows_equal_their_definition():
    # The table is built for all code points at once (joined strings, one NFD call for the
    # marks, numpy): each row must be what its code point alone gives.
    bmp = tasks.dedup.crosslingual._bmp_chars()
    fields = ("kind", "fold_len", "strip_len", "head", "digit", "name_fold")
    dtypes = [getattr(bmp, field).dtype for field in fields]
    assert dtypes == [np.uint8, np.int64, np.int64, np.uint8, np.int64, np.uint32]
    assert bmp.head.shape == (0x10000, tasks.dedup.crosslingual.COGNATE_PREFIX)
    rows = _rows(bmp)
    for c in range(0x10000):
        assert rows[c] == _reference_row(c), hex(c)
    # Above the BMP (`_Night.rows_above_bmp`), in any order, with 0 and lone surrogates:
    # "İ" (casefold with U+0307), "ß", "ﬁ", "Ǆ", "ǅ", "ΐ", "ŉ", "Å" (marks after NFKD), U+0345
    # (a mark that casefolds to a letter), digits of other scripts, "’" and its neighbours
    # up to U+2020, mathematical letters and digits, Hangul, a variation selector.
    codes = [0x1D400, 0x130, 0xDF, 0xFB01, 0x1C4, 0x1C5, 0x390, 0x149, 0x212B, 0x345, 0x300]
    codes += [0x301, 0x307, 0x334, 0x660, 0x966, 0xFF10, 0x1D7CE, 0x2019, 0x201F, 0x2020, 0x2021]
    codes += [0, 0xD800, 0xDFFF, 0x1E9E, 0x132, 0x216B, 0xB2, 0xBD, 0x338F, 0xAC00, 0xE0100]
    codes += [0x1F600, 0x10FFFF, 0x5F, 0x41, 0x7A, 0x2D, 0x27, *range(0x10000, 0x110000, 4099)]
    found = tasks.dedup.crosslingual._chars_of(np.array(codes, np.uint32))
    assert _rows(found) == [_reference_row(c) for c in codes]
    assert _rows(tasks.dedup.crosslingual._chars_of(np.zeros(0, np.uint32))) == []


@pytest.mark.shared
def test_batch_on_the_seed_reports(seeds_dir):
    texts = [path.read_text(encoding="utf-8") for path in sorted(Path(seeds_dir).glob("*.txt"))]
    assert texts
    assert ordered_anchors_batch(texts) == _reference(texts)
    # The same reports cut into pieces and normalised differently.
    pieces = [text[i : i + 997] for text in texts for i in range(0, len(text), 997)]
    pieces += [unicodedata.normalize("NFD", text) for text in texts]
    assert ordered_anchors_batch(pieces) == _reference(pieces)
