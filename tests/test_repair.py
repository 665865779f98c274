from tasks.repair import RepairConfig, mojibake_score, repair_batch, repair_text
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


def test_typo_repair_is_a_placeholder_that_changes_nothing():
    text, repairs = repair_text(
        "still in contrrol of terrorists",
        "en",
        RepairConfig(run_id=RUN_ID, run_started_at=STARTED, typo_repair=True),
    )
    assert text == "still in contrrol of terrorists" and repairs == []


def test_batch_updates_length_and_quarantines_what_becomes_empty():
    rows = [extracted_row("a", "Caf\u00c3\u00a9 opens."), extracted_row("b", "\u200b\u200b")]
    split = repair_batch(extracted(rows), CFG)
    kept = split.kept.to_pylist()
    assert [r["text"] for r in kept] == ["Café opens."]
    assert kept[0]["text_length"] == len("Café opens.")
    assert split.quarantined.column("reason").to_pylist() == ["empty_after_repair"]
    assert split.quarantined.column("stage").to_pylist() == ["repair"]
