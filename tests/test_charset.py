from tasks.charset import decode_body


def test_wrong_declared_charset_is_survived_both_ways():
    text = "Café owner Zoë Brück said the pier was overdue."
    assert decode_body(text.encode("cp1252"), "utf-8", "html")[0] == text
    assert decode_body(text.encode("utf-8"), "iso-8859-1", "html") == (text, "utf-8")
    assert decode_body(text.encode("cp1252"), "windows-1252", "text") == (text, "cp1252")
