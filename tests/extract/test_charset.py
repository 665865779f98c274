from tasks.extract.charset import decode_body


def test_wrong_declared_charset_is_survived_both_ways():
    text = "Café owner Zoë Brück said the pier was overdue."
    assert decode_body(text.encode("cp1252"), "utf-8", "html")[0] == text
    assert decode_body(text.encode("utf-8"), "iso-8859-1", "html") == (text, "utf-8")
    assert decode_body(text.encode("cp1252"), "windows-1252", "text") == (text, "cp1252")


def test_double_decoded_utf8_with_c1_characters_is_restored():
    # Written here: Cyrillic and Polish UTF-8 bytes read as Windows-1252 (C1 bytes kept as
    # U+0080-U+009F, as a lenient decoder does) and saved again as UTF-8.
    for text in ("Паром снова ходит в Вельмору.", "Łódź: prom płynie do portu."):
        mojibake = text.encode("utf-8").decode("latin-1")
        assert decode_body(mojibake.encode("utf-8"), None, "html")[0] == text
    clean = "Café owner Zoë said «bonjour» — 東京"
    assert decode_body(clean.encode("utf-8"), None, "html")[0] == clean


def test_mojibake_whose_only_marker_is_a_soft_hyphen_is_restored():
    # Written here: Arabic "ح" is UTF-8 D8 AD; read as Windows-1252 it is "Ø" plus a soft hyphen,
    # which HTML extractors drop, so it must be decoded before extraction. A real soft hyphen in
    # a German word stays.
    text = "قال وزير النقل: نحن بحاجة إلى حلول."
    mojibake = text.encode("utf-8").decode("cp1252", errors="ignore")
    assert "\u00ad" in mojibake and not any("\u0080" <= ch <= "\u009f" for ch in mojibake)
    assert decode_body(mojibake.encode("utf-8"), None, "html")[0] == text
    german = "Die Fähr\u00adverbindung nach Groß\u00adstadt"
    assert decode_body(german.encode("utf-8"), None, "html")[0] == german
