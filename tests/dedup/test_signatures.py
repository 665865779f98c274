import numpy as np
import pytest

from tasks.dedup import segments, signatures
from tasks.dedup.signatures import sample_keys, shingle_hashes, shingle_sets
from tasks.hashing import TokenHasher, sorted_counts
from tests.dedup.oracle import _INVISIBLE, _WORD, content_hash, normalise


def test_normalise_folds_case_width_and_punctuation():
    assert normalise("Ｔhe PIER’s “new” roof, 2026!") == ["the", "pier", "s", "new", "roof", "2026"]
    assert content_hash(normalise("A  b\u00a0c.")) == content_hash(normalise("a b c"))
    assert normalise("ex\u00adam\u200bple") == ["example"]


def test_shingles_are_stable_and_order_sensitive():
    hasher = TokenHasher()
    one = shingle_hashes(hasher(normalise("a b c d e f")), 5)
    again = shingle_hashes(TokenHasher()(normalise("a b c d e f")), 5)
    swapped = shingle_hashes(hasher(normalise("b a c d e f")), 5)
    assert len(one) == 2 and np.array_equal(one, again)  # same values in a fresh process
    assert not np.array_equal(one, swapped)
    assert len(shingle_hashes(hasher(["only", "three", "words"]), 5)) == 1
    assert len(shingle_hashes(hasher([]), 5)) == 0


@pytest.mark.parametrize("batch", [3, 250])
def test_batched_shingles_equal_one_text_at_a_time(monkeypatch, batch):
    monkeypatch.setattr(signatures, "BATCH_TEXTS", batch)
    texts = [
        "The pier opened on Tuesday, the pier's board said; the pier is new.",
        "",
        "two words",
        "a b c d e",
        "Ｔhe PIER’s “new” roof, 2026! ex\u00adam\u200bple " * 3,
        "a b c d e f a b c d e f",  # repeated shingles are kept once
        # Combining marks split words for `\\w`; letters beyond the BMP (math bold, CJK
        # extension B) are word characters; casefold turns "ß" into "ss".
        "हिन्दी समाचार पत्र आज 𝐀𝐁𝐂 𠀀𠀁 日本語のニュース Straße İstanbul ΣΊΣΥΦΟΣ a\x00b c_d 3.5",
        "x" * 300 + " long tokens " + "y" * 1000,
        "  ... !!  ",  # no token at all
        # Invisible characters are dropped: at a text's ends, alone, between texts.
        "\u200b",
        "\ufeffzero\u200dwidth joiners\u00ad",
        "\u2060a b\u200c",
        # Tokens of thousands of bytes (longer than the memo keys).
        "é" * 40_000 + " " + "ü" * 10_000 + " end",
    ]
    shas, shingles = shingle_sets(texts, 5)
    hasher = TokenHasher()
    for text, sha, got in zip(texts, shas, shingles, strict=True):
        tokens = normalise(text)
        assert sha == content_hash(tokens)
        want = shingle_hashes(hasher(tokens), 5)
        assert got.dtype == np.uint64 and np.array_equal(got, want)


def test_sampled_keys_are_consistent_across_documents():
    hasher = TokenHasher()
    words = [f"w{i}" for i in range(400)]
    full = shingle_hashes(hasher(words), 5)
    half = shingle_hashes(hasher(words[:200]), 5)
    keys_full, keys_half = sample_keys(full, 8), sample_keys(half, 8)
    assert 20 < len(keys_full) < 80  # about one in eight
    # Every key of the half copy that it shares with the full text is a key of the full text.
    assert set(keys_half.tolist()) <= set(keys_full.tolist())
    assert len(keys_half) > 5


def test_signing_normalises_once_for_shingles_and_keys():
    # `sign` NFKC-normalises each distinct text once for the shingles and the cross-lingual
    # keys: compatibility characters (ligatures, full-width letters and digits, superscripts)
    # must come out as one text at a time gives them, and copies get their text's values.
    from tasks.dedup.config import DedupConfig
    from tasks.dedup.crosslingual import key_strings
    from tasks.dedup.sign import sign
    from tests.dedup.oracle import ordered_anchors

    texts = [
        "Ｏstmere's ﬁrst pier: ２０２６ budget of 4.2 million, said Maren Tollefsen².",
        "La jetée d’Ｏstmere coûtera 7,5 millions selon Tollefsen",
        "",
        "Ｏstmere's ﬁrst pier: ２０２６ budget of 4.2 million, said Maren Tollefsen².",
    ]
    signed = sign(texts, DedupConfig(run_id="r"))
    hasher = TokenHasher()
    for text, sha, shingles in zip(texts, signed.content_sha256, signed.shingles, strict=True):
        assert sha == content_hash(normalise(text))
        assert np.array_equal(shingles, shingle_hashes(hasher(normalise(text)), 5))
    found = key_strings(signed.vocab.strings, signed.anchors)
    assert found == [ordered_anchors(text) for text in texts]
    assert "#2026" in found[0] and "ostmere's" in found[0]


def test_match_mask_marks_the_characters_of_matches():
    text = "ab_1 ²\x00 -x"
    mask = segments.match_mask(_WORD, text)
    assert mask.tolist() == [c.isalnum() or c == "_" for c in text]
    assert segments.match_mask(_WORD, "").tolist() == []


def test_the_token_memo_gives_what_zlib_gives_as_it_grows():
    # Keys are the tokens' first 16 bytes as two words: tokens that share 8 or 16 of them, and
    # of 8, 9, 16 and 17 bytes (17 and more are not memoised), 2- and 4-byte UTF-8; the batches
    # of one call share one memo, and the last one's tokens all come from before it grew.
    first = [
        "abcdefgh abcdefghi abcdefghijklmnop abcdefghijklmnopq",
        "the pier the pier the pier opened",
        "straße über 𝐀𝐁𝐂",
    ]
    later = [
        "abcdefgx abcdefghj abcdefghijklmnoq abcdefghijklmnopr the pier",
        "über straße pier the new words 𝐀𝐁𝐂𝐃",
        # More tokens than the first table holds: it grows.
        "abcdefgh abcdefghi abcdefghijklmnop abcdefghijklmnopq "
        + " ".join(map(str, range(40_000))),
    ]
    texts = first + later + first
    memo = signatures.TokenMemo()
    hasher = TokenHasher()
    for i in range(0, len(texts), 2):
        part = texts[i : i + 2]
        shas, got = signatures._shingle_batch(part, 5, False, memo)
        for text, sha, have in zip(part, shas, got, strict=True):
            assert sha == content_hash(normalise(text))
            assert np.array_equal(have, shingle_hashes(hasher(normalise(text)), 5))
    tokens = {t for text in first + later for t in normalise(text)}
    assert memo.count == len({t for t in tokens if len(t.encode()) <= 16})


def test_token_memo_probes_past_keys_that_share_a_slot(monkeypatch):
    # Every key on one slot: each lookup walks past all the others, so any key word left
    # uncompared or value misplaced shows. Keys sharing their first or second word among them.
    monkeypatch.setattr(
        signatures.TokenMemo, "_home", lambda self, key0, key1: np.zeros(len(key0), np.intp)
    )
    words = ["abcdefgh", "abcdefghi", "abcdefghj", "abcdefgx", "xbcdefghi", "é" * 8, "é" * 9]
    words += ["abcdefghijklmnop", "abcdefghijklmnoq", "abcdefghijklmnopq", "ab", "a"]
    memo = signatures.TokenMemo()
    rng = np.random.default_rng(5)
    # The first key in holds the slot: a key that shares its first word is looked up there first.
    for size in (1, 30, 30, 30):
        tokens = [words[i] for i in rng.integers(0, len(words), size)] if size > 1 else words[1:2]
        data = " ".join(tokens).encode() + b" " + bytes(signatures._KEY_BYTES)
        lengths = np.array([len(t.encode()) for t in tokens], np.int64)
        start = np.cumsum(lengths + 1) - lengths - 1
        buf = np.frombuffer(data, np.uint8)
        got = memo(buf, start, start + lengths)
        assert np.array_equal(got, TokenHasher()(tokens))


def test_code_points_are_the_casefolded_text_for_every_code_point():
    # `_code_points` casefolds through tables built from `str.casefold`, one code point at a
    # time: every code point (surrogates too), in texts cut at arbitrary places.
    every = "".join(map(chr, range(0x110000)))
    texts = [every[i : i + 70_001] for i in range(0, len(every), 70_001)] + ["", "ß"]
    cps, word, text_start = signatures._code_points(texts)
    for i, text in enumerate(texts):
        want = _INVISIBLE.sub("", text.casefold()) + "\x00"
        got = cps[text_start[i] : text_start[i + 1]].tobytes().decode("utf-32-le", "surrogatepass")
        assert got == want, i
        assert word[text_start[i] : text_start[i + 1]].tolist() == [
            c.isalnum() or c == "_" for c in want
        ]


def test_sorted_counts_are_numpys_unique_with_counts_at_any_width():
    rng = np.random.default_rng(2)
    for high in (10, 1 << 31, 1 << 40):
        codes = rng.integers(0, high, 5_000)
        values, counts = sorted_counts(codes)
        want_values, want_counts = np.unique(codes, return_counts=True)
        assert values.dtype == np.int64
        assert np.array_equal(values, want_values) and np.array_equal(counts, want_counts)
    values, counts = sorted_counts(np.zeros(0, np.int64))
    assert len(values) == len(counts) == 0
