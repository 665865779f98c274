import itertools
from datetime import UTC, datetime

import pyarrow.dataset as ds
import pytest

from tasks import io
from tasks.dedup.cluster import translation_verdict
from tasks.dedup.crosslingual import ANCHORS_VERSION
from tasks.dedup.linking import position_agreement
from tasks.dedup.night import (
    STATE_FORMAT,
    DedupConfig,
    StateFormatError,
    commit_state,
    dedup_batch,
    dedup_night,
    run_dedup,
)
from tasks.schema import DEDUP_STATE, REPAIRED
from tests.builders import OTHER, REPORT, extracted_row, repaired
from tests.conftest import RUN_ID

CFG = DedupConfig(run_id=RUN_ID)

# The same report in French, written for this test: the names and numbers carry over.
REPORT_FR = (
    "Le conseil portuaire de la ville fictive d'Ostmere a approuvé mardi une nouvelle jetée "
    "après un débat qui a duré presque tout l'après-midi. Selon ses membres, la jetée "
    "permettra à deux ferries d'accoster en même temps pendant la saison d'été.\n"
    "Les travaux doivent commencer à l'automne et durer dix-huit mois, a indiqué la "
    "présidente, Maren Tollefsen. Le fonds régional des transports paiera 4,2 millions de "
    "couronnes sur un budget de 7,5 millions, selon le procès-verbal de la séance d'Ostmere."
)
JUNK = "\nLeave a Reply\nYour email address will not be published.\nSubscribe to our newsletter"
NIGHT = "2026-03-14"
# A site's sidebar that its extractor keeps on every page (written for these tests).
SIDEBAR = (
    "\nMost read this week on the Ostmere Gazette website: the ferry timetable for the "
    "spring season, the new library opening hours, the harbour festival programme and "
    "the results of the regatta, with photographs from every race of the afternoon.\n"
    "Our newsroom is open to readers on weekdays from nine until five; letters to the "
    "editor may be left at the front desk or sent by post to the office on Quay Street.\n"
    "The Gazette has served the island since its first edition was printed in a boat shed "
    "by two teachers who wanted the fishing families to read the council's decisions.\n"
    "Weather for the weekend: fog in the morning clearing by noon, light winds from the "
    "west, and a calm sea for the Sunday crossings to the outer islands and back."
)


def _run(rows, cfg=CFG):
    table = dedup_batch(repaired(rows), cfg).kept
    return {r["doc_id"]: r for r in table.to_pylist()}


def test_exact_near_and_different_reports():
    rows = [
        extracted_row("a", REPORT, published_at=datetime(2026, 3, 10, tzinfo=UTC)),
        extracted_row("b", REPORT.upper().replace(".", " .")),  # same words: exact
        extracted_row("c", REPORT.replace("eighteen months", "a year and a half")),  # near
        extracted_row("d", OTHER),  # same event, different report
    ]
    out = _run(rows)
    assert out["a"]["is_canonical"] and out["a"]["duplicate_of"] is None
    assert out["b"]["method"] == "exact" and out["b"]["similarity"] == 1.0
    assert out["c"]["method"] == "near" and 0.5 <= out["c"]["similarity"] < 1.0
    assert out["b"]["duplicate_of"] == out["c"]["duplicate_of"] == "a"
    assert out["a"]["cluster_id"] == out["b"]["cluster_id"] == out["c"]["cluster_id"]
    assert out["d"]["is_canonical"] and out["d"]["cluster_id"] != out["a"]["cluster_id"]


def test_truncated_and_junk_padded_copies_are_linked():
    first_half = REPORT.split("\n")[0]
    rows = [
        extracted_row("full", REPORT),
        extracted_row("cut", first_half + "\nRead more"),  # Jaccard ~0.35, containment ~1
        extracted_row("padded", REPORT + JUNK),
        extracted_row("other", OTHER + JUNK),  # shares only the junk lines with "padded"
    ]
    out = _run(rows)
    assert out["cut"]["cluster_id"] == out["full"]["cluster_id"] == out["padded"]["cluster_id"]
    assert out["cut"]["method"] == "near" and out["cut"]["similarity"] > 0.9
    assert out["other"]["cluster_id"] != out["full"]["cluster_id"]


def test_one_sites_pages_are_not_linked_by_its_template():
    # Two different reports wearing the same site's chrome: the sidebar block they share is
    # the site's template, not a report.
    a = extracted_row("a", REPORT.split("\n")[0] + SIDEBAR)
    b = extracted_row("b", OTHER + SIDEBAR)
    a["site"] = b["site"] = "gazette.example"
    out = _run([a, b])
    assert out["a"]["cluster_id"] != out["b"]["cluster_id"]
    # Without the site the shared block would link them: the template rule is what separates.
    a["site"] = b["site"] = None
    out = _run([a, b])
    assert out["a"]["cluster_id"] == out["b"]["cluster_id"]


def test_pages_of_one_template_are_not_linked_when_no_url_names_the_site():
    from tasks.hashing import page_tags, tag_hashes

    # Inbox pages (no URL, no site): the template tags the extract stage took group them.
    def page(own: str) -> bytes:
        nav = "".join(f'<li><a href="/section/{i}">Section {i}</a></li>' for i in range(12))
        return f'<html><ul class="gazette-nav">{nav}</ul><a href="{own}">this</a></html>'.encode()

    a = extracted_row("a", REPORT.split("\n")[0] + SIDEBAR)
    b = extracted_row("b", OTHER + SIDEBAR)
    a["template_tags"] = tag_hashes(page_tags(page("/a"))).view("int64").tolist()
    b["template_tags"] = tag_hashes(page_tags(page("/b"))).view("int64").tolist()
    out = _run([a, b])
    assert out["a"]["cluster_id"] != out["b"]["cluster_id"]
    # A page whose site is known is grouped by its site alone, not by its tags.
    a["site"] = "gazette.example"
    out = _run([a, b])
    assert out["a"]["cluster_id"] == out["b"]["cluster_id"]


def test_translation_is_linked_and_original_language_wins_a_tie():
    rows = [
        extracted_row("fr", REPORT_FR, lang="fr"),
        extracted_row("en", REPORT, lang="en"),
        extracted_row("en2", REPORT.replace("Tuesday", "Tuesday evening"), lang="en"),
        extracted_row("other", OTHER, lang="en"),
    ]
    out = _run(rows)
    assert out["fr"]["cluster_id"] == out["en"]["cluster_id"] == out["en2"]["cluster_id"]
    assert out["fr"]["method"] == "translation" and 0 < out["fr"]["similarity"] <= 1
    # No dates: the original language (the most common one) beats the longer French text.
    assert out["en"]["is_canonical"] or out["en2"]["is_canonical"]
    assert out["other"]["cluster_id"] != out["en"]["cluster_id"]


# One visit, three different reports and a French version of one of them (all written for this
# test, in the manner of the seed reports): the reports share the minister, the port, the
# day and the figures; only the French version follows one report's content.
VISIT_SPEECH = (
    "Transport minister Ilse Varga said on Thursday that the modernisation of the port of "
    "Kessel was a priority for the government and that cooperation with the regional "
    "authorities would continue until the project is complete.\n"
    "Speaking to the dockers' federation, Varga praised the efforts of the teams who kept the "
    "terminals operating during the winter storms, and described the new container crane as "
    "an important investment for the economy of the whole region.\n"
    '"The coordination between the port, the railway and the customs administration is the '
    'key to our success," the minister said, adding that 120 million euros would be '
    "invested before 2028 and that the electrification of the quays would reduce pollution."
)
VISIT_SPEECH_FR = (
    "La ministre des Transports Ilse Varga a affirmé jeudi que la modernisation du port de "
    "Kessel était une priorité du gouvernement, et que la coopération avec les autorités "
    "régionales continuerait jusqu'à l'achèvement du projet.\n"
    "Devant la fédération des dockers, Varga a salué les efforts des équipes qui ont maintenu "
    "les terminaux opérationnels pendant les tempêtes de l'hiver, et a décrit la nouvelle "
    "grue à conteneurs comme un investissement important pour l'économie de la région.\n"
    "« La coordination entre le port, le chemin de fer et l'administration des douanes est la "
    "clé de notre succès », a déclaré la ministre, ajoutant que 120 millions d'euros seraient "
    "investis avant 2028 et que l'électrification des quais réduirait la pollution."
)
VISIT_PROTEST = (
    "Dockers in Kessel held a protest on Thursday during the visit of transport minister Ilse "
    "Varga, demanding guarantees that the automation of the terminals would not cost jobs.\n"
    "About 300 workers gathered outside the harbour office while Varga met port managers; "
    "union leader Piet Olsen told the crowd that the 120 million euros promised by 2028 "
    "should also pay for training. Police said the demonstration remained peaceful."
)
VISIT_BUDGET = (
    "The government's plan for Kessel, presented by Ilse Varga on Thursday, relies on 120 "
    "million euros of public money and a loan from the national investment bank.\n"
    "Opposition members questioned the timetable: the works must finish by 2028, but the "
    "environmental permits for the northern basin have not been granted, and the port "
    "authority's accounts showed a deficit for the third year in a row, according to the "
    "annual report published in Kessel last month."
)


def test_a_french_version_is_linked_and_other_reports_of_the_visit_are_not():
    rows = [
        extracted_row("speech", VISIT_SPEECH, lang="en"),
        extracted_row("speech_fr", VISIT_SPEECH_FR, lang="fr"),
        extracted_row("protest", VISIT_PROTEST, lang="en"),
        extracted_row("budget", VISIT_BUDGET, lang="en"),
    ]
    out = _run(rows)
    assert out["speech_fr"]["cluster_id"] == out["speech"]["cluster_id"]
    assert out["speech_fr"]["method"] == "translation"
    assert out["speech"]["is_canonical"] and out["speech_fr"]["duplicate_of"] == "speech"
    clusters = {out[d]["cluster_id"] for d in ("speech", "protest", "budget")}
    assert len(clusters) == 3


def test_a_band_link_needs_its_shared_keys_in_order_and_enough_of_them():
    cfg = DedupConfig(run_id=RUN_ID)
    assert translation_verdict(0.25, 0.0, 4, cfg)  # cosine alone
    assert translation_verdict(0.15, 1.0, 12, cfg)
    assert not translation_verdict(0.15, 0.5, 12, cfg)  # another order
    assert not translation_verdict(0.15, 1.0, 5, cfg)  # too few keys for order to tell
    assert not translation_verdict(0.05, 1.0, 40, cfg)  # under the band


@pytest.mark.parametrize(("keys", "chance"), [(4, 0.2), (7, 0.01)])
def test_the_band_minimum_is_where_a_chance_order_rarely_passes(keys, chance):
    # The share of all orders of n shared keys that pass the band's order check: 5 of 24 at
    # 4 keys; under 1% from `translation_band_min_shared` on.
    cfg = DedupConfig(run_id=RUN_ID)
    ranks = list(range(keys))
    passing = [
        position_agreement(ranks, list(order)) >= cfg.translation_min_order
        for order in itertools.permutations(ranks)
    ]
    share = sum(passing) / len(passing)
    if keys >= cfg.translation_band_min_shared:
        assert share < chance
    else:
        assert share > chance


def test_the_translation_window_counts_nights_not_page_dates(tmp_path):
    # Pages' dates are not evidence (on the syndication sets copies of one report show dates
    # years apart); the window is over the nights the documents arrived.
    far = datetime(2019, 6, 1, tzinfo=UTC)
    en = extracted_row("en", REPORT, lang="en", published_at=datetime(2026, 3, 1, tzinfo=UTC))
    fr = extracted_row("fr", REPORT_FR, lang="fr", published_at=far)
    for later, linked in (("2026-03-16", True), ("2026-03-30", False)):
        data_dir = tmp_path / later
        _, one = _night(data_dir, "2026-03-14", [en, extracted_row("o", OTHER)])
        _, two = _night(data_dir, later, [fr])
        assert (two["fr"]["cluster_id"] == one["en"]["cluster_id"]) is linked


def test_canonical_is_earliest_then_longest_then_smallest_id():
    longer = REPORT + " The board meets again in May."
    out = _run([extracted_row("x", REPORT), extracted_row("y", longer)])
    assert out["y"]["is_canonical"]  # no dates: the most complete text wins
    dated = extracted_row("x", REPORT, published_at=datetime(2026, 1, 1, tzinfo=UTC))
    out = _run([dated, extracted_row("y", longer)])
    assert out["x"]["is_canonical"]  # a known earlier date wins over length
    out = _run([extracted_row("q", REPORT), extracted_row("p", REPORT)])
    assert out["p"]["is_canonical"] and out["q"]["duplicate_of"] == "p"


def test_every_row_comes_out_once_and_nothing_is_quarantined():
    rows = [extracted_row(str(i), f"{OTHER} Paragraph number {i}.") for i in range(6)]
    rows.append(extracted_row("empty", ""))
    split = dedup_batch(repaired(rows), CFG)
    assert sorted(split.kept.column("doc_id").to_pylist()) == sorted(
        [str(i) for i in range(6)] + ["empty"]
    )
    assert split.quarantined.num_rows == 0


def test_result_does_not_depend_on_input_order():
    rows = [
        extracted_row("a", REPORT),
        extracted_row("b", REPORT + JUNK),
        extracted_row("c", OTHER),
        extracted_row("d", REPORT_FR, lang="fr"),
    ]
    first = dedup_night(repaired(rows), CFG, run_date=NIGHT).deduped
    again = dedup_night(repaired(list(reversed(rows))), CFG, run_date=NIGHT).deduped
    key = [("doc_id", "ascending")]
    assert first.sort_by(key).equals(again.sort_by(key))


# --------------------------------------------------------------------------- across nights


def _night(tmp_path, night, rows):
    layout = io.Layout(tmp_path, night)
    io.write_partition(tmp_path, layout.staged("repaired"), [repaired(rows)], REPAIRED)
    result = run_dedup(layout, CFG, lambda message: None)
    commit_state(layout)  # as the flow does after publish
    out = io.read_table(layout.staged("deduped")).to_pylist()
    return result, {r["doc_id"]: r for r in out}


def _state(tmp_path, table):
    path = tmp_path / "state" / "dedup" / table
    return ds.dataset(path, format="parquet", partitioning="hive").to_table()


def test_later_nights_join_published_clusters_and_keep_their_ids(tmp_path):
    _, one = _night(tmp_path, "2026-03-14", [extracted_row("a", REPORT), extracted_row("o", OTHER)])
    _, two = _night(
        tmp_path,
        "2026-03-15",
        [
            extracted_row("b", "\n".join(REPORT.split("\n")[:2])),  # a truncated copy of "a"
            extracted_row("fr", REPORT_FR, lang="fr"),
            extracted_row("new", OTHER.replace("Fishers", "Sailors") + " They left at dawn."),
        ],
    )
    assert two["b"]["cluster_id"] == one["a"]["cluster_id"]
    assert not two["b"]["is_canonical"] and two["b"]["duplicate_of"] == "a"
    assert two["fr"]["cluster_id"] == one["a"]["cluster_id"]
    assert two["fr"]["method"] == "translation"
    assert two["new"]["cluster_id"] == one["o"]["cluster_id"]


def test_a_history_pair_sharing_too_few_keys_for_its_length_is_not_verified(tmp_path):
    import random

    import numpy as np

    from tasks.dedup.signatures import sample_keys, shingle_hashes
    from tasks.hashing import TokenHasher
    from tests.dedup.oracle import normalise

    # Two long different reports that share one passage (a quote), and a short copy of the
    # first one. The passage gives the two reports a few shared sampled keys, far fewer than
    # two 600-word copies would share: that pair is skipped; the short copy still joins.
    rng = random.Random(7)
    words = [f"w{i}" for i in range(5000)]
    quote = " ".join(rng.choice(words) for _ in range(40))
    first = " ".join(rng.choice(words) for _ in range(300)) + f" {quote} "
    first += " ".join(rng.choice(words) for _ in range(260))
    second = " ".join(rng.choice(words) for _ in range(280)) + f" {quote} "
    second += " ".join(rng.choice(words) for _ in range(280))
    hasher = TokenHasher()
    keys = [sample_keys(shingle_hashes(hasher(normalise(t)), 5), 8) for t in (first, second)]
    assert len(np.intersect1d(*keys)) >= 1  # the quote does give them keys in common
    _night(tmp_path, "2026-03-14", [extracted_row("a", first)])
    result, two = _night(
        tmp_path,
        "2026-03-15",
        [extracted_row("b", second), extracted_row("c", first[: len(first) // 2])],
    )
    assert result.extra["pairs_too_few_keys"] >= 1
    assert two["b"]["is_canonical"] and two["b"]["cluster_id"] != two["c"]["cluster_id"]
    assert two["c"]["duplicate_of"] == "a"


def test_a_better_canonical_later_is_recorded_not_published(tmp_path):
    late = datetime(2026, 3, 13, tzinfo=UTC)
    early = datetime(2026, 3, 1, tzinfo=UTC)
    _night(tmp_path, "2026-03-14", [extracted_row("a", REPORT, published_at=late)])
    _, two = _night(tmp_path, "2026-03-15", [extracted_row("b", REPORT + JUNK, published_at=early)])
    assert not two["b"]["is_canonical"] and two["b"]["duplicate_of"] == "a"
    changes = _state(tmp_path, "canonical").to_pylist()
    assert [(c["published_canonical"], c["preferred_canonical"], c["reason"]) for c in changes] == [
        ("a", "b", "earlier_publication")
    ]


def test_a_night_linking_two_published_clusters_records_a_merge(tmp_path):
    head, tail = REPORT.split("\n")[0], "\n".join(REPORT.split("\n")[1:])
    _, one = _night(tmp_path, "2026-03-14", [extracted_row("h", head)])
    _, two = _night(tmp_path, "2026-03-15", [extracted_row("t", tail)])
    assert one["h"]["cluster_id"] != two["t"]["cluster_id"]
    _, three = _night(tmp_path, "2026-03-16", [extracted_row("full", REPORT)])
    assert three["full"]["cluster_id"] == one["h"]["cluster_id"]  # the oldest id is kept
    merges = _state(tmp_path, "merges").to_pylist()
    assert [(m["cluster_id"], m["merged_into"]) for m in merges] == [
        (two["t"]["cluster_id"], one["h"]["cluster_id"])
    ]


def test_rerunning_a_night_changes_nothing(tmp_path):
    _night(tmp_path, "2026-03-14", [extracted_row("a", REPORT)])
    night_two = [extracted_row("b", REPORT + JUNK), extracted_row("o", OTHER)]
    _, first = _night(tmp_path, "2026-03-15", night_two)
    before = {
        t: _state(tmp_path, t).sort_by("doc_id" if t != "merges" else "cluster_id")
        for t in ("documents", "keys")
    }
    _, again = _night(tmp_path, "2026-03-15", night_two)
    after = {
        t: _state(tmp_path, t).sort_by("doc_id" if t != "merges" else "cluster_id")
        for t in ("documents", "keys")
    }
    assert first == again
    for table in before:
        assert (
            before[table]
            .drop_columns(["run_id"] if table == "documents" else [])
            .equals(after[table].drop_columns(["run_id"] if table == "documents" else []))
        )
    # Re-running the first night after the second does not see the second night.
    _, rerun = _night(tmp_path, "2026-03-14", [extracted_row("a", REPORT)])
    assert rerun["a"]["is_canonical"] and rerun["a"]["cluster_id"] == first["b"]["cluster_id"]


@pytest.mark.parametrize("table", sorted(DEDUP_STATE))
def test_state_tables_are_written_with_their_schema(tmp_path, table):
    _night(tmp_path, "2026-03-14", [extracted_row("a", REPORT)])
    loaded = _state(tmp_path, table)
    assert loaded.schema.names == [*DEDUP_STATE[table].names, "run_date"]


def test_an_empty_night_writes_empty_state(tmp_path):
    _night(tmp_path, "2026-03-14", [extracted_row("a", REPORT)])
    result, out = _night(tmp_path, "2026-03-15", [])
    assert out == {} and result.kept == 0
    assert _state(tmp_path, "documents").num_rows == 1


def test_a_sites_template_is_not_a_link_across_nights(tmp_path):
    a = extracted_row("a", REPORT.split("\n")[0] + SIDEBAR)
    b = extracted_row("b", OTHER + SIDEBAR)
    a["site"] = b["site"] = "gazette.example"
    _, one = _night(tmp_path, "2026-03-14", [a])
    _, two = _night(tmp_path, "2026-03-15", [b])
    assert two["b"]["is_canonical"] and two["b"]["cluster_id"] != one["a"]["cluster_id"]


def test_a_sites_template_is_not_a_translation_across_nights(tmp_path):
    # One page of the site a night, each with the site's English sidebar: within a night the
    # template rule needs two pages to see it, across nights the earlier page is the second.
    library = (
        "La bibliothèque municipale rouvre ses portes après deux ans de travaux. Les lecteurs "
        "trouveront une salle consacrée aux cartes marines et un atelier pour les enfants, "
        "ouvert le mercredi. La directrice remercie les bénévoles qui ont déménagé les livres."
    )
    a = extracted_row("a", OTHER + SIDEBAR)
    b = extracted_row("b", library + SIDEBAR, lang="fr")
    a["site"] = b["site"] = "gazette.example"
    _, one = _night(tmp_path, "2026-03-14", [a])
    _, two = _night(tmp_path, "2026-03-15", [b])
    assert two["b"]["is_canonical"] and two["b"]["cluster_id"] != one["a"]["cluster_id"]
    # Without a site (no template known) the shared sidebar links them.
    a["site"] = b["site"] = None
    _, three = _night(tmp_path / "nosite", "2026-03-14", [a])
    _, four = _night(tmp_path / "nosite", "2026-03-15", [b])
    assert four["b"]["cluster_id"] == three["a"]["cluster_id"]


def test_a_new_revision_of_the_same_source_is_not_a_copy_of_the_old_one(tmp_path):
    _, one = _night(tmp_path, "2026-03-14", [extracted_row("v1", REPORT)])
    revised = extracted_row("v2", REPORT.replace("Tuesday", "Wednesday"))
    revised["source_path"] = one["v1"]["source_path"]  # the same file, changed
    result, two = _night(tmp_path, "2026-03-15", [revised])
    assert two["v2"]["is_canonical"] and two["v2"]["cluster_id"] != one["v1"]["cluster_id"]
    assert result.extra["pairs_same_source"] == 1
    # Another outlet's copy of the old text still joins the old cluster.
    _, three = _night(tmp_path, "2026-03-16", [extracted_row("c", REPORT)])
    assert three["c"]["duplicate_of"] == "v1"


def test_state_of_another_format_is_refused_not_mixed(tmp_path):
    _night(tmp_path, "2026-03-14", [extracted_row("a", REPORT)])
    fmt = tmp_path / "state" / "dedup" / "format.json"
    assert io.read_json(fmt) == STATE_FORMAT
    # State written before its format was recorded (anchors version 1): refused, with a message.
    fmt.unlink()
    with pytest.raises(StateFormatError, match="Rebuild"):
        _night(tmp_path, "2026-03-15", [extracted_row("b", OTHER)])
    io.write_json(fmt, {**STATE_FORMAT, "anchors": ANCHORS_VERSION + 1})
    with pytest.raises(StateFormatError):
        _night(tmp_path, "2026-03-15", [extracted_row("b", OTHER)])


def test_each_text_is_signed_once_and_every_copy_gets_what_it_gets_alone():
    import numpy as np

    from tasks.dedup.crosslingual import key_strings
    from tasks.dedup.sign import sign
    from tasks.hashing import page_tags, tag_hashes

    texts = [REPORT, OTHER, REPORT_FR, "", "short text", SIDEBAR, JUNK, REPORT.upper()] * 3
    sites = ["gazette.example", None, "gazette.example"] + [None] * (len(texts) - 3)

    # Two pages of one template (no site known) and pages of others among plain texts.
    def page(site: int, i: int) -> str:
        nav = "".join(f'<li><a href="/{site}/{k}">S {k}</a></li>' for k in range(12))
        return f'<html><body><ul class="nav{site}">{nav}</ul><p>{i}</p></body></html>'

    tags = [
        tag_hashes(page_tags(page(i if i > 4 else 0, i).encode()))
        if i % 3 == 1 and not sites[i]
        else tag_hashes([])
        for i in range(len(texts))
    ]
    signed = sign(texts, CFG, sites=sites, tags=tags)
    again = sign(texts, CFG, sites=sites, tags=tags)
    # The same key ids each time, not only the same strings: sums over them run in id order.
    assert signed.vocab.strings == again.vocab.strings
    assert np.array_equal(signed.anchors.ids, again.anchors.ids)
    assert any(g is not None for g, s in zip(signed.groups, sites, strict=True) if not s)
    assert len(signed.shingles) == len(signed.keys) == len(texts)
    # Without templates (alone, a text has no template group), every copy is as it is alone.
    plain = sign(texts, CFG)
    found = key_strings(plain.vocab.strings, plain.anchors)
    for i, text in enumerate(texts):
        alone = sign([text], CFG)
        assert plain.content_sha256[i] == alone.content_sha256[0], i
        assert np.array_equal(plain.shingles[i], alone.shingles[0]), i
        assert found[i] == key_strings(alone.vocab.strings, alone.anchors)[0], i


def test_earlier_candidates_are_the_two_copies_of_each_cluster_sharing_most_keys():
    import pyarrow as pa

    from tasks.dedup.history import match_earlier

    def keys(rows):
        return pa.table(
            {
                "key": pa.array([k for k, _, _ in rows], pa.uint64()),
                "doc_id": [d for _, d, _ in rows],
                "cluster_id": [c for _, _, c in rows],
            }
        )

    tonight = keys([(1, "t", ""), (2, "t", ""), (3, "t", ""), (9, "u", "")])
    # Two buckets of history: e1 shares keys 1 and 3 (one in each bucket: 2 in all), e2 keys 1
    # and 2 (2, a tie broken by doc_id), e0 one key, e4 one key in another cluster, e5 u's key.
    history = [
        keys([(1, "e1", "c"), (1, "e2", "c"), (2, "e2", "c"), (2, "e0", "c"), (2, "e4", "d")]),
        keys([(3, "e1", "c"), (9, "e5", "c")]),
        keys([]),
    ]
    assert match_earlier(tonight, history) == [
        ("t", "e1", 2),
        ("t", "e2", 2),
        ("t", "e4", 1),
        ("u", "e5", 1),
    ]
    assert match_earlier(tonight, history, per_cluster=1) == [
        ("t", "e1", 2),
        ("t", "e4", 1),
        ("u", "e5", 1),
    ]
    assert match_earlier(tonight, []) == []


def test_each_documents_candidate_keys_are_its_sampled_core_shingles_then_its_exact_key():
    import numpy as np

    from tasks.dedup.sign import exact_key, sign
    from tasks.dedup.signatures import sample_keys

    texts = [REPORT, "", OTHER, "short text", SIDEBAR, REPORT_FR]
    signed = sign(texts, CFG, sites=["gazette.example", None, None, None, "gazette.example", None])
    assert len(signed.keys) == len(texts)
    for core, sha, keys in zip(signed.shingles, signed.content_sha256, signed.keys, strict=True):
        expected = np.append(sample_keys(core, CFG.sample_rate), np.uint64(exact_key(sha)))
        assert keys.dtype == np.uint64 and keys.tolist() == expected.tolist()
    assert sum(len(k) for k in signed.keys) > len(texts)
