"""Message templates: every purpose × audience × language exists, says only
what it may (lint), fits its budget, and is versioned."""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from notifications.segments import count_segments
from notifications.statuses import Purpose
from notifications.templates import (
    ALLOWED_FIELDS,
    BUDGET_CHILD_NAME,
    BUDGET_CLINIC_NAME,
    BUDGET_PUBLIC_URL,
    LANGUAGES,
    TEMPLATES,
    Audience,
    MessageContext,
    first_given_name,
    format_when,
    link_key,
    links_for,
    render,
    sign_appointment,
    verify_appointment,
)

OSLO = ZoneInfo("Europe/Oslo")
KEY = link_key("test-secret")
#: Words that would give away a treatment, a name or an identity number.
FORBIDDEN = re.compile(
    r"(?i)\b(behandling|treatment|rotfylling|fylling|tannregulering|diagnos\w*|"
    r"fødselsnummer|personnummer|d-nummer|etternavn|surname|family name)\b")

# (template id, language, version) -> fingerprint of the words. Changing the
# words of a template means raising its version (and recording it here).
FINGERPRINTS = {
    ("confirmation.self", "nb", 1): "d2ee5b825c24",
    ("confirmation.guardian", "nb", 1): "290669078f83",
    ("confirmation.self", "nn", 1): "d2ee5b825c24",
    ("confirmation.guardian", "nn", 1): "290669078f83",
    ("confirmation.self", "en", 1): "06f2c21a2967",
    ("confirmation.guardian", "en", 1): "cd49a24baf05",
    ("confirmation.self", "se", 1): "7b5a892d87c0",
    ("confirmation.guardian", "se", 1): "182d8fc7bffa",
    ("innkalling.self", "nb", 1): "d5424e6c5b81",
    ("innkalling.guardian", "nb", 1): "9a0d69487421",
    ("innkalling.self", "nn", 1): "0d8de3166486",
    ("innkalling.guardian", "nn", 1): "4a6cfa28c811",
    ("innkalling.self", "en", 1): "82b719acc100",
    ("innkalling.guardian", "en", 1): "681fd68bcdca",
    ("innkalling.self", "se", 1): "c4160cfd2c26",
    ("innkalling.guardian", "se", 1): "8121639921fd",
    ("change.self", "nb", 1): "7153d20f11b0",
    ("change.guardian", "nb", 1): "019df362c7d1",
    ("change.self", "nn", 1): "9f53fe5f0f7c",
    ("change.guardian", "nn", 1): "caa2458b3374",
    ("change.self", "en", 1): "85b6d353b79e",
    ("change.guardian", "en", 1): "c1e6de948096",
    ("change.self", "se", 1): "8c54efa6abd4",
    ("change.guardian", "se", 1): "c451067f7341",
    ("cancellation.self", "nb", 1): "04c2a055f59d",
    ("cancellation.guardian", "nb", 1): "c67841283cb1",
    ("cancellation.self", "nn", 1): "71c985401968",
    ("cancellation.guardian", "nn", 1): "4b994b7cf903",
    ("cancellation.self", "en", 1): "d97d7273f4eb",
    ("cancellation.guardian", "en", 1): "c37f35eddc18",
    ("cancellation.self", "se", 1): "b122a17028d5",
    ("cancellation.guardian", "se", 1): "72b2ca2bfd32",
    ("reminder.self", "nb", 1): "18a38e02246b",
    ("reminder.guardian", "nb", 1): "f908b8eb3081",
    ("reminder.self", "nn", 1): "c25e44109d53",
    ("reminder.guardian", "nn", 1): "e3a92c6133bd",
    ("reminder.self", "en", 1): "a9714027a2d1",
    ("reminder.guardian", "en", 1): "0f24dfc24d61",
    ("reminder.self", "se", 1): "9179c62af2fd",
    ("reminder.guardian", "se", 1): "21cd1f99c296",
}


def test_every_purpose_audience_and_language_has_a_template():
    assert set(TEMPLATES) == {(p, a, lang) for p in Purpose for a in Audience
                              for lang in LANGUAGES}


@pytest.mark.parametrize("key", sorted(TEMPLATES, key=str))
def test_template_lint(key):
    template = TEMPLATES[key]
    fields = template.fields()
    assert fields <= ALLOWED_FIELDS, f"{template.id}/{template.language} uses {fields}"
    assert {"clinic", "when", "url"} <= fields
    if template.purpose is not Purpose.CANCELLATION:
        assert {"ics", "map"} <= fields
    assert ("child" in fields) == (template.audience is Audience.GUARDIAN)
    assert not FORBIDDEN.search(template.text)


@pytest.mark.parametrize("key", sorted(TEMPLATES, key=str))
def test_template_versions_are_recorded(key):
    template = TEMPLATES[key]
    assert FINGERPRINTS.get((template.id, template.language, template.version)) == \
        template.fingerprint(), "the words changed: raise the version and record it"


def _worst_case(audience: Audience) -> MessageContext:
    assert len("https://tannhelse.example.no") == BUDGET_PUBLIC_URL
    clinic = "Den offentlige tannhelsetjenesten Lillestrøm"
    assert len(clinic) == BUDGET_CLINIC_NAME
    child = "Maximilian" if audience is Audience.GUARDIAN else None
    assert child is None or len(child) == BUDGET_CHILD_NAME
    # Wednesday, September, 14:30: the longest weekday and month names
    return MessageContext(clinic, datetime(2026, 9, 30, 14, 30, tzinfo=OSLO),
                          links_for("https://tannhelse.example.no", KEY, 9_999_999), child)


@pytest.mark.parametrize("key", sorted(TEMPLATES, key=str))
def test_segments_within_budget(key):
    purpose, audience, language = key
    body = render(purpose, audience, language, _worst_case(audience)).body
    counted = count_segments(body)
    if language == "se":
        # Northern Sami letters are not in GSM-7: UCS-2, 67 characters a part.
        assert counted.encoding == "UCS-2" and counted.segments <= 5
    else:
        assert counted.encoding == "GSM-7", f"non-GSM-7 characters in {body!r}"
        assert counted.segments <= 2, f"{counted.units} septets: {body!r}"


def test_rendered_message_holds_no_name_identity_number_or_treatment():
    context = MessageContext("Tannklinikken Sentrum",
                             datetime(2030, 3, 4, 10, 0, tzinfo=OSLO),
                             links_for("https://tanntid.example.no", KEY, 42),
                             first_given_name("Kari Anne"))
    for (purpose, audience, language) in TEMPLATES:
        body = render(purpose, audience, language, context).body
        assert "Anne" not in body and "Nordmann" not in body
        assert not re.search(r"\d{11}", body)
        assert not FORBIDDEN.search(body)


def test_bokmal_confirmation_reads_as_expected():
    context = MessageContext("Tannklinikken Sentrum", datetime(2026, 3, 31, 9, 30, tzinfo=OSLO),
                             links_for("https://tanntid.example.no", KEY, 42))
    rendered = render(Purpose.CONFIRMATION, Audience.SELF, "nb", context)
    token = sign_appointment(KEY, 42)
    assert rendered.body == (
        "Tannklinikken Sentrum: Timen din er bestilt tirsdag 31. mars kl. 09:30. "
        f"Endre eller avbestill: https://tanntid.example.no/t/{token} "
        f"Kalender: https://tanntid.example.no/t/{token}.ics "
        f"Kart: https://tanntid.example.no/t/{token}/kart")
    assert (rendered.template_id, rendered.template_version, rendered.language) == (
        "confirmation.self", 1, "nb")


def test_guardian_message_names_the_child_by_first_name():
    context = MessageContext("Tannklinikken Sentrum", datetime(2026, 3, 31, 9, 30, tzinfo=OSLO),
                             links_for("https://tanntid.example.no", KEY, 42), "Ola")
    body = render(Purpose.REMINDER, Audience.GUARDIAN, "en", context).body
    assert body.startswith("Reminder from Tannklinikken Sentrum: Ola has an appointment on "
                           "Tuesday 31 March at 09:30.")
    with pytest.raises(ValueError):
        render(Purpose.REMINDER, Audience.GUARDIAN, "en",
               MessageContext("X", context.starts_at, context.links))


@pytest.mark.parametrize(("language", "expected"), [
    ("nb", "søndag 25. oktober kl. 12:00"),
    ("nn", "søndag 25. oktober kl. 12:00"),
    ("en", "Sunday 25 October at 12:00"),
    ("se", "sotnabeaivi 25. golggotmánnu dii. 12:00"),
])
def test_time_is_written_in_oslo_time(language, expected):
    # 11:00 UTC on the fall-back day is 12:00 CET
    assert format_when(datetime(2026, 10, 25, 11, 0, tzinfo=ZoneInfo("UTC")), language) \
        == expected


def test_unknown_language_falls_back_to_bokmal():
    context = MessageContext("K", datetime(2026, 3, 31, 9, 30, tzinfo=OSLO),
                             links_for("https://t.example", KEY, 1))
    assert render(Purpose.CANCELLATION, Audience.SELF, "de", context).language == "nb"


def test_links_are_signed():
    token = sign_appointment(KEY, 123_456)
    assert len(token) <= 12
    assert verify_appointment(KEY, token) == 123_456
    assert verify_appointment(link_key("another-secret"), token) is None
    tampered = ("A" if token[0] != "A" else "B") + token[1:]
    assert verify_appointment(KEY, tampered) is None
    assert verify_appointment(KEY, "not a token!") is None
    assert verify_appointment(KEY, "") is None


def test_first_given_name():
    assert first_given_name("Kari Anne") == "Kari"
    assert first_given_name("Anne-Lise") == "Anne-Lise"
    assert first_given_name("  ") == ""
