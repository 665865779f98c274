from tasks.anchors import anchors, cognates, numbers_and_names, ordered_anchors, template_free


def test_numbers_and_names_not_sentence_starts():
    found = numbers_and_names("The mayor of Ostmere counted 1,250 boats at 07. The rest left.")
    assert "#1250" in found and "#7" in found and "ostmere" in found
    assert "the" in found  # never written in lower case here: taken for a name
    found = numbers_and_names("The mayor of Ostmere counted the boats.")
    assert "the" not in found and "ostmere" in found
    assert numbers_and_names("Le maire d'Ostmere a compté 1.250 bateaux")[:1] == ["#1250"]


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
    chrome = frozenset({"gazette", "~newsl"})
    found = [chrome | {"#1"}, chrome | {"#2"}, chrome | {"#3"}]
    out = template_free(found, [7, 7, None])
    assert out[0] == frozenset({"#1"}) and out[1] == frozenset({"#2"})
    assert out[2] == found[2]  # not of the group: its keys stay


def test_ordered_anchors_follow_the_text():
    text = "Ilse Varga promised 120 million to Kessel. Varga spoke for 20 minutes."
    order = ordered_anchors(text)
    expected = ["ilse", "varga", "~promi", "#120", "~milli", "kessel", "~kesse", "#20", "~minut"]
    assert order == expected
    assert frozenset(order) == anchors(text)
