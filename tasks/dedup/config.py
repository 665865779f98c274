"""The dedup stage's settings: one frozen `DedupConfig` per run, each threshold with how it was
calibrated.

Input: the run id and, optionally, other thresholds (the defaults are the calibrated ones).
Output: the config object that every dedup step reads. No I/O; quarantines nothing.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DedupConfig:
    run_id: str
    shingle_words: int = 5
    # One shingle in 8 becomes a candidate key: a 150-word article gets ~18 keys, so a copy
    # that keeps half of it still shares ~9 with the original (P(no shared key) < 0.1%).
    sample_rate: int = 8
    # Calibrated on the shared `small` syndication set: true copies (truncated to half, lead or
    # paragraphs dropped, junk lines added) reach containment 0.47-1.0; different reports of the
    # same story, including the hard negatives, stay below 0.35 (the benchmark's builder keeps
    # different articles under 20% 4-gram containment). 0.5 sits between the two.
    near_containment: float = 0.5
    # A few shared shingles (a common phrase, a junk line) never make a copy on their own: 20
    # is about one sentence of shared wording.
    min_shared: int = 20
    # The shared part must also be a fair share of the larger text. A copy keeps at least half
    # of its report, so even a half copy of a page carrying as much chrome again as article
    # shares ~25% of it; unrelated pages sharing junk lines share under 20% (`small` and
    # `large` syndication sets, measured on the false links that 0.5 containment alone let in).
    min_larger_share: float = 0.25
    # Translations (`tasks.dedup.linking.translation_matches`): groups of copies in different
    # languages whose cross-lingual keys (`tasks.dedup.crosslingual`) share at least
    # `translation_min_shared` keys, each the other's best match, are linked when the
    # IDF-weighted cosine of their keys reaches `translation_min_cosine`, or when it reaches
    # `translation_band_cosine` and the shared keys come in the same order in both
    # (`position_agreement` >= `translation_min_order`). Calibrated on the shared `small` and
    # `large` syndication sets (extracted and repaired text) with their gold groups. Cosine
    # alone: on `large`, 0.2 links 0.82 of the translation pairs and merges no hard-negative
    # cluster pair; 0.18 links 0.83 but merges 3 of 156 (different reports of one story share
    # names, numbers and topic words), 0.22 links 0.73; on `small`, 0.64 at 0.2. The order
    # check on the band 0.1-0.2 adds translations told in the same order (large 0.85, small
    # 0.74) and still merges no hard negative at 0.9 (at 0.7 it merged one on `large`). A
    # minimum of 4 shared keys (3 lets in pairs that share a few numbers only) and the
    # mutual-best rule (a margin over the second best did not separate hard negatives, which
    # are mutual best matches with wide margins) were chosen on the same runs.
    translation_min_cosine: float = 0.2
    translation_band_cosine: float = 0.1
    translation_min_order: float = 0.9
    translation_min_shared: int = 4
    # The order check is evidence only when a chance order would rarely pass it: with the
    # rank slack of `position_agreement` (1 for up to 19 shared keys), a random order of 4
    # shared keys passes 0.9 one time in 5 (5 of 24 orders), of 6 one in 55, of 7 one in 240.
    # On `large` cut into 4 nights, 5 of the 10 wrong band links shared 4-7 keys, and no right
    # one fewer than 9: cross-language pair precision 0.826 -> 0.852 (one night 0.987 -> 0.989),
    # translation recall unchanged (0.819 -> 0.820; one night 0.853), the same for 6 to 10.
    translation_band_min_shared: int = 7
    # IDF as if this many more groups carried none of the keys: a night of five documents
    # weighs keys like a night of hundreds (the figures above do not move between 0 and 300).
    translation_idf_prior: int = 100
    # Keys that more than this share of the groups carry ("#2019", `~gover`) say nothing.
    anchor_max_df_share: float = 0.05
    # Translations are looked for among the documents of the last 7 nights (arrival, not the
    # page's `published_at`: on the syndication sets the dates that pages show for one report
    # differ by years, the page's chrome date more often than the report's; a 7-day veto on
    # them lost 0.33 of the translation recall on `large`).
    translation_window_days: int = 7
    # A candidate pair with an earlier night's document that shares so few sampled keys that a
    # copy would share that few with probability under this (`tasks.dedup.linking.unlikely_near`) is
    # not verified. On syndication `large` cut into 3 nights, 90% of the third night's 137k
    # history pairs failed verification, most sharing one or two keys with a long document;
    # 1e-3 skips 57% of those, and the passing pairs' own probabilities were all above 0.03.
    history_key_tail: float = 1e-3
    # The run's worker count, which the flow passes to every stage. Dedup does not read it: it
    # runs in one process (a second process for the signatures saved about 1.6 s a night on
    # syndication `large`, at the cost of a scheduler of its own; issue 19).
    workers: int = 0
