"""SMS segment counting: GSM-7 (160/153, extension characters count two) and
UCS-2 (70/67, astral characters count two)."""

from __future__ import annotations

import pytest

from notifications.segments import (
    GSM7_BASIC,
    GSM7_EXTENSION,
    count_segments,
    is_gsm7,
    non_gsm7_characters,
)

SAMPLES = {
    "nb": "Påminnelse: tannlegetime fredag 13. mars kl. 14:15 på Grünerløkka tannklinikk. "
          "Se timen: https://tanntid.no/t/Xy12 Veibeskrivelse: https://tanntid.no/v/Xy12",
    "nn": "Påminning: tannlegetime fredag 13. mars kl. 14.15 på Førde tannklinikk. "
          "Sjå timen: https://tanntid.no/t/Xy12 Vegvisar: https://tanntid.no/v/Xy12",
    "en": "Reminder: dental appointment Friday 13 March at 14:15, Ålesund dental clinic. "
          "See it: https://tanntid.no/t/Xy12 Directions: https://tanntid.no/v/Xy12",
}
NOTICES = {
    "nb": "Innkalling fra Den offentlige tannhelsetjenesten: time tirsdag 3. mars kl. 09:30 "
          "på Sentrum tannklinikk, Storgata 5. Bekreft eller endre: "
          "https://tanntid.no/t/Ab3dE Kalender: https://tanntid.no/k/Ab3dE "
          "Kart: https://tanntid.no/v/Ab3dE",
    "nn": "Innkalling frå Den offentlege tannhelsetenesta: time tysdag 3. mars kl. 09.30 "
          "på Sentrum tannklinikk, Storgata 5. Stadfest eller endre: "
          "https://tanntid.no/t/Ab3dE Kalender: https://tanntid.no/k/Ab3dE "
          "Kart: https://tanntid.no/v/Ab3dE",
    "en": "Appointment notice from the Public Dental Service: Tuesday 3 March at 09:30, "
          "Sentrum dental clinic, Storgata 5. Confirm or change: "
          "https://tanntid.no/t/Ab3dE Calendar: https://tanntid.no/k/Ab3dE "
          "Map: https://tanntid.no/v/Ab3dE",
}


def test_the_gsm_tables_have_the_standard_sizes() -> None:
    assert len(GSM7_BASIC) == 127  # 128 code points less the escape
    assert len(GSM7_EXTENSION) == 10
    assert set("ÆæØøÅå") <= GSM7_BASIC


@pytest.mark.parametrize(("language", "units", "notice_units"), [
    ("nb", 156, 234), ("nn", 144, 232), ("en", 149, 226)])
def test_norwegian_and_english_texts_are_gsm7(language: str, units: int,
                                              notice_units: int) -> None:
    reminder, notice = count_segments(SAMPLES[language]), count_segments(NOTICES[language])
    assert is_gsm7(SAMPLES[language]) and is_gsm7(NOTICES[language])
    assert reminder == reminder.__class__("GSM-7", units, 1, 160)
    assert notice == notice.__class__("GSM-7", notice_units, 2, 153)


@pytest.mark.parametrize(("extra", "culprit"), [("–", "–"), ("😀", "😀"), ("“", "“"),
                                                ("á", "á"), ("ŋ", "ŋ")])
def test_one_character_outside_gsm7_forces_ucs2(extra: str, culprit: str) -> None:
    text = "Time hos tannlegen " + extra
    assert non_gsm7_characters(text) == [culprit]
    assert count_segments(text).encoding == "UCS-2"


def test_gsm7_boundary_160_161() -> None:
    assert count_segments("a" * 160) == count_segments("a" * 160).__class__(
        "GSM-7", 160, 1, 160)
    assert (count_segments("a" * 161).segments, count_segments("a" * 161).per_segment) == (2, 153)
    assert count_segments("a" * 306).segments == 2
    assert count_segments("a" * 307).segments == 3
    assert count_segments("æøå" * 53 + "a").segments == 1  # 160 characters with æøå


def test_extension_characters_count_two_and_are_not_split() -> None:
    assert count_segments("€" * 80).units == 160
    assert count_segments("€" * 80).segments == 1
    assert count_segments("€" * 80 + "a").segments == 2
    # 152 septets, then an escape pair: it moves whole to the next part.
    split = count_segments("a" * 152 + "€" + "a" * 152)
    assert (split.units, split.segments) == (306, 3)
    assert count_segments("a" * 151 + "€" + "a" * 151).segments == 2


def test_ucs2_boundary_70_71() -> None:
    assert (count_segments("–" * 70).segments, count_segments("–" * 70).per_segment) == (1, 70)
    assert (count_segments("–" * 71).segments, count_segments("–" * 71).per_segment) == (2, 67)
    assert count_segments("–" * 134).segments == 2
    assert count_segments("–" * 135).segments == 3


def test_emoji_take_two_code_units_and_are_not_split() -> None:
    assert count_segments("😀" * 35) == count_segments("😀" * 35).__class__("UCS-2", 70, 1, 70)
    assert count_segments("😀" * 35 + "a").segments == 2
    # 66 units, then a surrogate pair: it moves whole to the next part.
    assert count_segments("–" * 66 + "😀" + "–" * 66).segments == 3


def test_empty_text_is_one_segment() -> None:
    assert count_segments("").segments == 1
