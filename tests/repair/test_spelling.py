import pickle
from dataclasses import dataclass

from tasks.repair.dictionaries import cached
from tasks.repair.spelling import (
    Speller,
    cache_key,
    edit_cost,
    fix_typos,
    sound_key,
    speller,
    words_of,
)
from tasks.repair.text import protected_words, vocabulary_of


def test_edit_cost_prefers_human_errors_over_arbitrary_ones():
    assert edit_cost("contrrol", "control") < edit_cost("contxol", "control")
    assert edit_cost("recieve", "receive") < edit_cost("rexeive", "receive")
    assert edit_cost("harbuor", "harbour") < 1.0
    # The first letter is rarely the wrong one.
    assert edit_cost("barbour", "harbour") > edit_cost("harbotr", "harbour")
    assert edit_cost("ferry", "ferry") == 0.0


def test_sound_key_merges_spellings_that_sound_alike():
    assert sound_key("courtens") == sound_key("curtains")
    assert sound_key("fisix") == sound_key("physics")
    assert sound_key("ferry") != sound_key("harbour")


def test_suggest_in_isolation():
    english = speller("en")
    assert english is not None
    assert english.suggest("contrrol") == "control"
    assert english.suggest("goverment") == "government"
    assert english.suggest("harbour") == "harbour"
    assert speller("pl") is None and speller(None) is None


def test_fix_typos_offsets_point_into_the_new_line():
    line = (
        "The harbour board is still in contrrol of the old ferry, and the government "
        "agrees with the board that the ferry will sail again in the sprinng."
    )
    new, changes = fix_typos(line, "en")
    assert new == line.replace("contrrol", "control").replace("sprinng", "spring")
    assert len(changes) == 2
    for change in changes:
        start = change["offset"]
        assert new[start : start + len(change["after"])] == change["after"]
        assert change["kind"] == "typo"


def test_vocabulary_counts_documents_not_occurrences():
    vocab = vocabulary_of(["Hatami met Hatami.", "hatami spoke", "The ferry left."])
    assert vocab["hatami"] == 2 and vocab["ferry"] == 1
    assert "met" not in vocab  # shorter than any word typo repair would touch
    assert protected_words([vocab]) == frozenset({"hatami"})
    assert protected_words([{"ayyoub": 1}, {"ayyoub": 1}]) == frozenset({"ayyoub"})
    assert words_of("Café’s ferry") == ["café’s", "ferry"]


# --------------------------------------------------------------------------- the disk cache

TINY = {"harbour": 1e-5, "control": 2e-5, "ferry": 1e-5, "contract": 1e-6}


def test_a_pickled_speller_answers_as_the_one_it_was_made_from():
    built = Speller("en", TINY, TINY, frozenset(TINY))
    loaded = pickle.loads(pickle.dumps(built, protocol=pickle.HIGHEST_PROTOCOL))
    for word in ("contrrol", "harbuor", "fery", "contrct", "zzzz"):
        assert loaded.candidates(word) == built.candidates(word), word
        assert loaded.fix(word) == built.fix(word) and loaded.suggest(word) == built.suggest(word)


@dataclass
class Built:
    value: int


def test_the_cache_builds_once_then_reads_and_rebuilds_what_it_cannot_read(tmp_path):
    calls: list[int] = []

    def build() -> Built:
        calls.append(1)
        return Built(len(calls))

    path = tmp_path / "en-new.pickle"
    (tmp_path / "en-old.pickle").write_bytes(b"an earlier key")
    (tmp_path / "es-old.pickle").write_bytes(b"another language")
    assert cached(path, Built, build, stale="en-") == Built(1)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["en-new.pickle", "es-old.pickle"]
    assert cached(path, Built, build, stale="en-") == Built(1) and len(calls) == 1
    for broken in (path.read_bytes()[:-5], b"\x80\x05garbage", pickle.dumps({"not": "Built"})):
        path.write_bytes(broken)
        assert cached(path, Built, build) == Built(len(calls)) and path.exists()
        assert cached(path, Built, build) == Built(len(calls))  # rewritten whole
    assert len(calls) == 4
    # A folder that cannot be written (here: a file stands where it should be) is only slower.
    blocked = tmp_path / "file"
    blocked.write_text("")
    assert cached(blocked / "en-x.pickle", Built, build) == Built(5)


def test_the_cache_key_names_the_language_the_code_and_the_word_lists():
    assert cache_key("en") == cache_key("en") != cache_key("fr")
    assert len(cache_key("en")) == 20
