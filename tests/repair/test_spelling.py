from tasks.repair.spelling import edit_cost, fix_typos, sound_key, speller, words_of
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
