from tasks.repair.text import RepairConfig, mojibake_score, repair_batch, repair_text
from tests.builders import extracted, extracted_row
from tests.conftest import RUN_ID, STARTED

CFG = RepairConfig(run_id=RUN_ID, run_started_at=STARTED)


def undo(text: str, repairs: list[dict]) -> str:
    for change in reversed(repairs):
        start = change["offset"]
        assert text[start : start + len(change["after"])] == change["after"]
        text = text[:start] + change["before"] + text[start + len(change["after"]) :]
    return text


def test_mojibake_and_spaces_are_fixed_and_every_change_recorded():
    original = (
        "The councilâ€™s  budget\u00a0passed.\n\u200b\nRenÃ©e said: â€œyesâ€\x9d.\n"
        "Soft\u00adhyphen and   runs."
    )
    text, repairs = repair_text(original, "en", CFG)
    assert text == "The council’s budget passed.\nRenée said: “yes”.\nSofthyphen and runs."
    kinds = {r["kind"] for r in repairs}
    assert kinds == {"encoding", "whitespace"}
    assert undo(text, repairs) == original


def test_clean_text_is_untouched_in_any_script():
    samples = [
        "東京都は１２月に新しい港湾計画を発表した。「安全が第一だ」と述べた。",
        "قال وزير النقل إن الميناء الجديد سيفتح في الربيع.",
        "Le général a déclaré : « Nous continuerons. »",
        "He said \"yes\" and 'no' — twice.",
        "‌Persian uses the zero-width non-joiner: می‌خواهم",
    ]
    for sample in samples:
        text, repairs = repair_text(sample, None, CFG)
        assert text == sample and repairs == [], sample
        assert mojibake_score(sample) == 0.0


def test_a_clear_typo_is_fixed_recorded_and_undoable():
    original = "The\u00a0ferry is still in contrrol of the harbour board, officials said."
    text, repairs = repair_text(original, "en", CFG)
    assert text == "The ferry is still in control of the harbour board, officials said."
    typo = [r for r in repairs if r["kind"] == "typo"]
    assert [(r["before"], r["after"]) for r in typo] == [("contrrol", "control")]
    assert typo[0]["score"] > 0
    assert undo(text, repairs) == original


def test_typo_repair_can_be_switched_off():
    cfg = RepairConfig(run_id=RUN_ID, run_started_at=STARTED, typo_repair=False)
    line = "The ferry is still in contrrol of the harbour board, officials said."
    assert repair_text(line, "en", cfg) == (line, [])


def test_words_that_must_never_change():
    lines = [
        "Minister Contrrol said the harbour board was ready for winter.",  # capitalised
        'The sign said "contrrol" and the harbour board laughed at it.',  # quoted
        "The harbour board wrote to contrrol@velmora.example about the ferry.",  # e-mail
        "The harbour board posted #contrrol about the ferry service today.",  # hashtag
        "See velmora.example/contrrol for the harbour board notice today.",  # URL
        "The harbour board ordered 12contrrol units for the ferry today.",  # number
        "The harbour board met the self-contrrol group about the ferry.",  # compound
    ]
    for line in lines:
        assert repair_text(line, "en", CFG) == (line, []), line


def test_protected_and_repeated_words_are_kept():
    line = "The ferry is still in contrrol of the harbour board, officials said."
    cfg = RepairConfig(run_id=RUN_ID, run_started_at=STARTED, protected=frozenset({"contrrol"}))
    assert repair_text(line, "en", cfg) == (line, [])
    twice = f"{line}\nThe harbour board keeps contrrol of the ferry timetable for now."
    assert repair_text(twice, "en", CFG) == (twice, [])


def test_languages_without_dictionary_and_clean_foreign_text_are_left_alone():
    samples = [
        ("Prom jest nadal pod kontrrolą zarządu portu, powiedzieli urzędnicy.", "pl"),
        ("Le traversier reste sous le contrôle du conseil du port, ont dit les élus.", "fr"),
        ("Die Fähre bleibt unter der Kontrolle der Hafenbehörde, sagten die Beamten.", "de"),
        ("Das Schiff fährt grosse Runden, schliesslich ist es Sommer in Velmora.", "de"),
        ("El transbordador sigue bajo el control de la junta del puerto, dijeron.", "es"),
        ("The harbour board said the quay needs a new crane before the ferry.", None),
    ]
    for line, lang in samples:
        assert repair_text(line, lang, CFG) == (line, []), line


def test_batch_updates_length_and_quarantines_what_becomes_empty():
    rows = [extracted_row("a", "Caf\u00c3\u00a9 opens."), extracted_row("b", "\u200b\u200b")]
    split = repair_batch(extracted(rows), CFG)
    kept = split.kept.to_pylist()
    assert [r["text"] for r in kept] == ["Café opens."]
    assert kept[0]["text_length"] == len("Café opens.")
    assert split.quarantined.column("reason").to_pylist() == ["empty_after_repair"]
    assert split.quarantined.column("stage").to_pylist() == ["repair"]


def test_a_long_scraped_line_gets_small_exact_changes():
    # A run-on line of tens of thousands of characters with mojibake in a few places: the diff
    # must stay local (one change per broken quote, not one huge replacement) and undo exactly.
    sentence = (
        "The port authority said the new terminal would open next spring, and the mayor agreed. "
    )
    original = (
        sentence * 150 + "The councilâ€™s vote\u00a0was close. " + sentence * 150 + "RenÃ©e wrote."
    )
    text, repairs = repair_text(original, "en", CFG)
    assert [(r["before"], r["after"]) for r in repairs] == [
        ("â€™", "’"),
        ("\u00a0", " "),
        ("Ã©", "é"),
    ]
    assert undo(text, repairs) == original


def test_a_long_line_where_every_word_changed_is_diffed_word_by_word():
    from tasks.repair.text import _diff

    after = " ".join(f"café{i}" for i in range(400))
    before = after.replace("é", "Ã©")  # every word of a 4,000-character line is mojibake
    changes = _diff(before, after, 0)
    assert undo(after, changes) == before
    assert {(c["before"], c["after"]) for c in changes} == {("Ã©", "é")}
    assert len(changes) == 400
    # No word in common and different word counts: one replacement, still undoable.
    other = "x" * 300 + " " + "y" * 300
    changes = _diff(after, other, 0)
    assert undo(other, changes) == after


def test_diff_of_random_edits_undoes_exactly():
    import random

    from tasks.repair.text import _diff

    rng = random.Random(7)
    alphabet = "ab e\u00a0"
    for _ in range(200):
        before = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 600)))
        after = list(before)
        for _ in range(rng.randint(0, 6)):
            at = rng.randint(0, len(after))
            after[at : at + rng.randint(0, 3)] = rng.choice(["", "x", "yy", " "])
        after_text = "".join(after)
        changes = _diff(before, after_text, 0)
        assert undo(after_text, changes) == before
        assert all(c["before"] != c["after"] for c in changes)


def test_mojibake_that_ftfy_leaves_half_decoded_is_finished_word_by_word():
    import ftfy.bad_codecs  # noqa: F401  (the lenient Windows-1252 a scraper's decoder is)

    # Written here: Polish and Arabic UTF-8 read as Windows-1252. In running text ftfy leaves
    # "Å‚" (ł, whose second byte reads as a low quote mark) inside half-decoded words, and the
    # lone "ØŒ" (the Arabic comma) as too little evidence.
    polish = "Prom płynął do portu, a miłość do morza została w mieście Łódź."
    broken = " ".join(
        word.encode("utf-8").decode("sloppy-windows-1252") if i % 2 else word
        for i, word in enumerate(polish.split(" "))
    )
    text, repairs = repair_text(broken, "pl", CFG)
    assert text == polish and mojibake_score(text) == 0.0
    assert undo(text, repairs) == broken
    arabic = "قال الوزير ، إن الميناء سيفتح ، في الربيع"
    broken = arabic.replace("،", "،".encode().decode("cp1252"))
    assert broken != arabic
    assert repair_text(broken, "ar", CFG)[0] == arabic
