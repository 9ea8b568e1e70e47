"""Message templates: every purpose × audience × language exists in the
catalogs, says only what it may (lint), fits its budget, and is versioned;
every notification's links, and so its text, are its own."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import string
from datetime import datetime
from io import BytesIO
from zoneinfo import ZoneInfo

import pytest
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

from core.i18n import LOCALE_DIR
from core.locale import OSLO
from notifications import templates as templates_module
from notifications.segments import count_segments
from notifications.statuses import OWN_WORDING, Purpose
from notifications.templates import (
    ALLOWED_FIELDS,
    BUDGET_CHILD_NAME,
    BUDGET_CLINIC_NAME,
    BUDGET_PUBLIC_URL,
    LANGUAGES,
    REMINDER_VARIANTS,
    WORDINGS,
    Audience,
    MessageContext,
    first_given_name,
    format_when,
    link_key,
    links_for,
    reminder_variants,
    render,
    sign_appointment,
    template,
    templates,
    token_appointment,
    verify_appointment,
)

KEY = link_key("test-secret")
#: (purpose, audience, language): every template the catalogs must hold.
KEYS = sorted(((p, a, lang) for (p, a) in WORDINGS for lang in LANGUAGES), key=str)
#: (asks to confirm, links the form, audience, language): every reminder variant.
VARIANT_KEYS = sorted(reminder_variants(), key=str)
SAMI_NOTE = "SMS text: awaiting review by a native speaker."
#: Words that would give away a treatment, a name or an identity number.
FORBIDDEN = re.compile(
    r"(?i)\b(behandling|treatment|rotfylling|fylling|tannregulering|diagnos\w*|"
    r"fødselsnummer|personnummer|d-nummer|etternavn|surname|family name)\b")

# (template id, language, version) -> fingerprint of the words in that
# language's catalog. Changing the words of a template, in the code or in a
# catalog, means raising its version in notifications/templates.py and
# recording the new fingerprints of every language here.
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
    ("move_request.self", "nb", 1): "f6e98ecd5ff5",
    ("move_request.self", "nn", 1): "528e9c6be2d2",
    ("move_request.self", "en", 1): "2a07376afe74",
    ("move_request.self", "se", 1): "0bde3392de60",
    ("move_request.guardian", "nb", 1): "e2c6adfdcba5",
    ("move_request.guardian", "nn", 1): "5a58bcf8c0dc",
    ("move_request.guardian", "en", 1): "a7995feffb98",
    ("move_request.guardian", "se", 1): "69187e22bd3a",
}
VARIANT_FINGERPRINTS = {
    ("reminder_form.guardian", "en", 1): "6d48f3be88d6",
    ("reminder_form.guardian", "nb", 1): "b5495bc1e51f",
    ("reminder_form.guardian", "nn", 1): "11c0e20fb4cb",
    ("reminder_form.guardian", "se", 1): "656118c33446",
    ("reminder_form.self", "en", 1): "9e15f2dba605",
    ("reminder_form.self", "nb", 1): "874f9bd3c6a6",
    ("reminder_form.self", "nn", 1): "9219c44f4287",
    ("reminder_form.self", "se", 1): "c747dce6981d",
    ("reminder_ja.guardian", "en", 1): "0da6ff2daf56",
    ("reminder_ja.guardian", "nb", 1): "754ba61d1275",
    ("reminder_ja.guardian", "nn", 1): "7cd3c4d0552a",
    ("reminder_ja.guardian", "se", 1): "837c2ccbf3f6",
    ("reminder_ja.self", "en", 1): "b7d87939107f",
    ("reminder_ja.self", "nb", 1): "6c26557fddfd",
    ("reminder_ja.self", "nn", 1): "a408274e9c23",
    ("reminder_ja.self", "se", 1): "0eed7839e322",
    ("reminder_ja_form.guardian", "en", 1): "2dab781cf700",
    ("reminder_ja_form.guardian", "nb", 1): "772ccabb8782",
    ("reminder_ja_form.guardian", "nn", 1): "42b05c4ff452",
    ("reminder_ja_form.guardian", "se", 1): "7e1ac34e07f0",
    ("reminder_ja_form.self", "en", 1): "7c77f2d03ae3",
    ("reminder_ja_form.self", "nb", 1): "eea4ab3edf41",
    ("reminder_ja_form.self", "nn", 1): "d63d114983b7",
    ("reminder_ja_form.self", "se", 1): "8c67df6508d9",
}


def test_every_purpose_and_audience_has_wording_in_every_language():
    # A number check has its own wording (NUMBER_CHECK_WORDING), and answers
    # to replies and confirm requests theirs (notifications/reply_texts.py):
    # about no single appointment.
    assert set(WORDINGS) == {(p, a) for p in Purpose for a in Audience
                             if p not in OWN_WORDING}
    assert {(t.purpose, t.audience, t.language) for t in templates().values()} == set(KEYS)
    for (purpose, audience), (_, (context, _)) in WORDINGS.items():
        assert context == f"sms {purpose.value}.{audience.value}"


@pytest.mark.parametrize("key", KEYS, ids=lambda k: f"{k[0].value}.{k[1].value}.{k[2]}")
def test_template_lint(key):
    found = template(*key)
    assert found.language == key[2], "not in this language's catalog: run `make messages`"
    fields = found.fields()
    assert fields <= ALLOWED_FIELDS, f"{found.id}/{found.language} uses {fields}"
    assert {"clinic", "when", "url"} <= fields
    # A cancelled time, or one the clinic asks to move, gets no calendar file or map.
    if found.purpose not in (Purpose.CANCELLATION, Purpose.MOVE_REQUEST):
        assert {"ics", "map"} <= fields
    assert ("child" in fields) == (found.audience is Audience.GUARDIAN)
    # the translation keeps the English text's placeholders, no more, no fewer
    _, (_, english) = WORDINGS[(found.purpose, found.audience)]
    assert fields == {name for _, name, _, _ in string.Formatter().parse(english) if name}
    assert not FORBIDDEN.search(found.text)


@pytest.mark.parametrize("key", KEYS, ids=lambda k: f"{k[0].value}.{k[1].value}.{k[2]}")
def test_template_versions_are_recorded(key):
    found = template(*key)
    assert FINGERPRINTS.get((found.id, found.language, found.version)) == \
        found.fingerprint(), "the words changed: raise the version and record it"


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_sms_text_is_translated_in_the_catalog(language):
    """In the .po files translators edit: none empty or fuzzy (fuzzy ones are
    not compiled), and the Sami ones still marked for review."""
    path = LOCALE_DIR / language / "LC_MESSAGES" / "messages.po"
    with path.open("rb") as fp:
        catalog = read_po(fp, locale=language)
    for _, (context, english) in WORDINGS.values():
        message = catalog.get(english, context=context)
        assert message is not None and message.string and not message.fuzzy, context
        if language == "se":
            assert SAMI_NOTE in message.user_comments, context


def _catalog_with(language: str, context: str, english: str, text: str) -> Translations:
    """The compiled catalog of ``language`` with one text changed."""
    path = LOCALE_DIR / language / "LC_MESSAGES" / "messages.po"
    with path.open("rb") as fp:
        catalog = read_po(fp, locale=language)
    catalog.get(english, context=context).string = text
    compiled = BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return Translations(compiled)


def test_a_translators_change_fails_the_fingerprint_until_the_version_is_raised(
        monkeypatch):
    version, (context, english) = WORDINGS[(Purpose.REMINDER, Audience.SELF)]
    recorded = FINGERPRINTS[("reminder.self", "nn", version)]
    assert template(Purpose.REMINDER, Audience.SELF, "nn").fingerprint() == recorded
    changed = _catalog_with("nn", context, english,
                            "Påminning frå {clinic}: Du har time {when}. Endre eller avlys: "
                            "{url} Kalender: {ics} Kart: {map}")
    monkeypatch.setattr(templates_module, "catalog", lambda language: changed)
    found = template(Purpose.REMINDER, Audience.SELF, "nn")
    assert "avlys" in found.text and found.version == version
    assert found.fingerprint() != recorded


def test_a_text_missing_in_a_catalog_falls_back_to_bokmal_then_english(monkeypatch):
    real = templates_module.catalog
    monkeypatch.setattr(templates_module, "catalog",
                        lambda language: NullTranslations() if language == "se" else real(language))
    context = MessageContext("K", datetime(2026, 3, 31, 9, 30, tzinfo=OSLO),
                             links_for("https://t.example", KEY, 1, 2))
    rendered = render(Purpose.CANCELLATION, Audience.SELF, "se", context)
    assert rendered.language == "nb"
    assert rendered.body.startswith("K: Timen din tirsdag 31. mars kl. 09:30 er avbestilt.")
    monkeypatch.setattr(templates_module, "catalog", lambda language: NullTranslations())
    rendered = render(Purpose.CANCELLATION, Audience.SELF, "nn", context)
    assert rendered.language == "en"
    assert rendered.body.startswith("K: Your appointment on Tuesday 31 March at 09:30 is")


def _worst_case(audience: Audience) -> MessageContext:
    assert len("https://tannhelse.example.no") == BUDGET_PUBLIC_URL
    clinic = "Den offentlige tannhelsetjenesten Lillestrøm"
    assert len(clinic) == BUDGET_CLINIC_NAME
    child = "Maximilian" if audience is Audience.GUARDIAN else None
    assert child is None or len(child) == BUDGET_CHILD_NAME
    # Wednesday, September, 14:30: the longest weekday and month names. The
    # notification id is not in the link (only in its MAC): any will do.
    return MessageContext(clinic, datetime(2026, 9, 30, 14, 30, tzinfo=OSLO),
                          links_for("https://tannhelse.example.no", KEY, 9_999_999,
                                    2**63 - 1), child)


@pytest.mark.parametrize("key", KEYS, ids=lambda k: f"{k[0].value}.{k[1].value}.{k[2]}")
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
                             links_for("https://tanntid.example.no", KEY, 42, 7),
                             first_given_name("Kari Anne"))
    for (purpose, audience, language) in KEYS:
        body = render(purpose, audience, language, context).body
        assert "Anne" not in body and "Nordmann" not in body
        assert not re.search(r"\d{11}", body)
        assert not FORBIDDEN.search(body)


def test_bokmal_confirmation_reads_as_expected():
    context = MessageContext("Tannklinikken Sentrum", datetime(2026, 3, 31, 9, 30, tzinfo=OSLO),
                             links_for("https://tanntid.example.no", KEY, 42, 7))
    rendered = render(Purpose.CONFIRMATION, Audience.SELF, "nb", context)
    token = sign_appointment(KEY, 42, 7)
    assert rendered.body == (
        "Tannklinikken Sentrum: Timen din er bestilt tirsdag 31. mars kl. 09:30. "
        f"Endre eller avbestill: https://tanntid.example.no/t/{token} "
        f"Kalender: https://tanntid.example.no/t/{token}.ics "
        f"Kart: https://tanntid.example.no/t/{token}/kart")
    assert (rendered.template_id, rendered.template_version, rendered.language) == (
        "confirmation.self", 1, "nb")


def test_guardian_message_names_the_child_by_first_name():
    context = MessageContext("Tannklinikken Sentrum", datetime(2026, 3, 31, 9, 30, tzinfo=OSLO),
                             links_for("https://tanntid.example.no", KEY, 42, 7), "Ola")
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
                             links_for("https://t.example", KEY, 1, 2))
    assert render(Purpose.CANCELLATION, Audience.SELF, "de", context).language == "nb"


def test_links_are_signed_for_one_notification():
    token = sign_appointment(KEY, 123_456, 987_654_321)
    assert len(token) <= 12
    assert token_appointment(token) == 123_456  # what it claims, before checking
    assert verify_appointment(KEY, token, [5, 987_654_321]) == 123_456
    assert verify_appointment(KEY, token, [5, 6]) is None  # not this appointment's
    assert verify_appointment(KEY, token) is None
    assert verify_appointment(link_key("another-secret"), token, [987_654_321]) is None
    tampered = ("A" if token[0] != "A" else "B") + token[1:]
    assert verify_appointment(KEY, tampered, [987_654_321]) is None
    assert verify_appointment(KEY, "not a token!", [1]) is None
    assert token_appointment("not a token!") is None
    assert verify_appointment(KEY, "", [1]) is None
    # another spelling of the same bytes (a leading zero byte) is refused
    raw = base64.urlsafe_b64decode(token + "==")
    padded = base64.urlsafe_b64encode(b"\0" + raw).rstrip(b"=").decode()
    assert verify_appointment(KEY, padded, [987_654_321]) is None


def _unversioned_token(key: bytes, appointment_id: int) -> str:
    """The token SMS links carried before they were bound to a notification,
    written out here as it was sent."""
    raw = appointment_id.to_bytes(max(1, (appointment_id.bit_length() + 7) // 8), "big")
    mac = hmac.new(key, b"appointment:" + raw, hashlib.sha256).digest()[:6]
    return base64.urlsafe_b64encode(raw + mac).rstrip(b"=").decode()


def test_links_already_sent_keep_working():
    old = _unversioned_token(KEY, 123_456)
    assert verify_appointment(KEY, old) == 123_456
    assert verify_appointment(KEY, old, [1, 2]) == 123_456
    assert verify_appointment(link_key("another-secret"), old) is None
    # a token made now is never one of the old kind, and the reverse
    assert sign_appointment(KEY, 123_456, 1) != old


#: SMS link tokens and key pasted as the code wrote them before the codec
#: moved to core.tokens: texts already sent must keep working, and the same
#: notification must still get the same text.
GOLDEN_SECRET = "golden secret: links already sent"
GOLDEN_KEY = "b85a5a2ddf8c38b624d00eb272b5769b182cc20208f542701115b1062c3d98ad"
GOLDEN_TOKENS = [
    (1, 1, "AbKO9jAXfA"),
    (42, 7, "KvWa8rOrdQ"),
    (123_456, 987_654_321, "AeJA2i_5qqUb"),
    (2**64 - 1, 2**64 - 1, "___________EJNsPm_Y"),
]
GOLDEN_UNVERSIONED = [(1, "AX0aVjKyTA"), (123_456, "AeJAk7Vco3Oi"),
                      (2**64 - 1, "__________9FLyfQTG8")]


def test_the_link_key_is_derived_as_before():
    assert link_key(GOLDEN_SECRET).hex() == GOLDEN_KEY


@pytest.mark.parametrize(("appointment_id", "notification_id", "token"), GOLDEN_TOKENS)
def test_sms_links_already_sent_verify_and_are_made_the_same_way(
        appointment_id, notification_id, token):
    key = link_key(GOLDEN_SECRET)
    assert sign_appointment(key, appointment_id, notification_id) == token
    assert token_appointment(token) == appointment_id
    assert verify_appointment(key, token, [notification_id]) == appointment_id
    assert verify_appointment(key, token, [notification_id - 1]) is None


@pytest.mark.parametrize(("appointment_id", "token"), GOLDEN_UNVERSIONED)
def test_unversioned_sms_links_already_sent_still_verify(appointment_id, token):
    key = link_key(GOLDEN_SECRET)
    assert _unversioned_token(key, appointment_id) == token
    assert verify_appointment(key, token) == appointment_id


def test_two_notifications_about_one_appointment_have_different_texts():
    """A resend, or a second reminder, to the same number: reconciling by body
    (channels/twilio_sms.py) must tell them apart."""
    def body(notification_id: int) -> str:
        context = MessageContext(
            "Tannklinikken Sentrum", datetime(2026, 3, 31, 9, 30, tzinfo=OSLO),
            links_for("https://tanntid.example.no", KEY, 42, notification_id))
        return render(Purpose.REMINDER, Audience.SELF, "nb", context).body

    assert body(1001) != body(1002)
    assert body(1001) == body(1001)
    assert len(body(1001)) == len(body(1002))
    for text in (body(1001), body(1002)):
        tokens = set(re.findall(r"/t/([A-Za-z0-9_-]+)", text))
        assert len(tokens) == 1 and verify_appointment(KEY, tokens.pop(), [1001, 1002]) == 42


def test_first_given_name():
    assert first_given_name("Kari Anne") == "Kari"
    assert first_given_name("Anne-Lise") == "Anne-Lise"
    assert first_given_name("  ") == ""


def test_a_request_to_move_links_to_the_offered_times():
    context = MessageContext("Tannklinikken Sentrum", datetime(2026, 3, 31, 9, 30, tzinfo=OSLO),
                             links_for("https://tanntid.example.no", KEY, 42, 7), "Kari")
    token = sign_appointment(KEY, 42, 7)
    for audience in Audience:
        for language in ("nb", "nn", "en", "se"):
            body = render(Purpose.MOVE_REQUEST, audience, language, context).body
            assert body.endswith(f"https://tanntid.example.no/t/{token}/flytt"), body
    assert render(Purpose.MOVE_REQUEST, Audience.SELF, "nb", context).body == (
        "Tannklinikken Sentrum må flytte timen din tirsdag 31. mars kl. 09:30. "
        f"Velg ny tid eller se telefonnummeret vårt: https://tanntid.example.no/t/{token}/flytt")


# --- the reminders' variants: asking for JA, linking the pre-visit form ---------

def _variant_id(key) -> str:
    ja, form, audience, language = key
    return f"{'ja' if ja else '-'}.{'form' if form else '-'}.{audience.value}.{language}"


def _variant(key):
    ja, form, audience, language = key
    return template(Purpose.REMINDER, audience, language, asks_to_confirm=ja, form=form)


@pytest.mark.parametrize("key", VARIANT_KEYS, ids=_variant_id)
def test_reminder_variant_lint(key):
    ja, form, audience, language = key
    found = _variant(key)
    assert found.language == language, "not in this language's catalog: run `make messages`"
    assert found.asks_to_confirm is ja
    fields = found.fields()
    assert fields <= ALLOWED_FIELDS
    assert {"clinic", "when", "url"} <= fields
    assert ("form" in fields) is form
    assert "ics" not in fields  # the appointment page offers the calendar file
    assert ("map" in fields) is not (ja and form)
    assert ("child" in fields) == (audience is Audience.GUARDIAN)
    _, (_, english) = REMINDER_VARIANTS[(ja, form, audience)]
    assert fields == {name for _, name, _, _ in string.Formatter().parse(english) if name}
    assert not FORBIDDEN.search(found.text)


@pytest.mark.parametrize("key", VARIANT_KEYS, ids=_variant_id)
def test_reminder_variant_versions_are_recorded(key):
    found = _variant(key)
    assert VARIANT_FINGERPRINTS.get((found.id, found.language, found.version)) == \
        found.fingerprint(), "the words changed: raise the version and record it"


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_reminder_variant_is_translated_in_the_catalog(language):
    path = LOCALE_DIR / language / "LC_MESSAGES" / "messages.po"
    with path.open("rb") as fp:
        catalog = read_po(fp, locale=language)
    for _, (context, english) in REMINDER_VARIANTS.values():
        message = catalog.get(english, context=context)
        assert message is not None and message.string and not message.fuzzy, context
        if language == "se":
            assert SAMI_NOTE in message.user_comments, context


@pytest.mark.parametrize("key", VARIANT_KEYS, ids=_variant_id)
def test_reminder_variant_segments_within_budget(key):
    """The worst case of each language: nb, nn and en in two GSM-7 segments
    (306 septets), as every other text; Northern Sami, whose letters are not
    in GSM-7, within the UCS-2 budget every Sami text has."""
    ja, form, audience, language = key
    worst = _worst_case(audience)
    context = MessageContext(worst.clinic_name, worst.starts_at, worst.links,
                             worst.child_first_name, asks_to_confirm=ja, form=form)
    body = render(Purpose.REMINDER, audience, language, context).body
    counted = count_segments(body)
    if language == "se":
        assert counted.encoding == "UCS-2" and counted.segments <= 5
    else:
        assert counted.encoding == "GSM-7", f"non-GSM-7 characters in {body!r}"
        assert counted.segments <= 2, f"{counted.units} septets: {body!r}"


def _confirm_word(language: str) -> str:
    from notifications.reply_texts import text
    word, used = text("word_confirm", language)
    assert used == language
    return word


@pytest.mark.parametrize("language", LANGUAGES)
def test_reminders_ask_for_the_confirm_word_exactly_where_it_confirms(language):
    """The keyword asked for is one the reply parser takes as a confirmation,
    and it is in a reminder's words only in the variants that ask (sent where
    the clinic awaits the answer): never in the plain reminder or the one
    that only links the form."""
    from notifications.replies import Intent, parse

    word = _confirm_word(language)
    assert parse(word).intent is Intent.CONFIRM
    asked = re.compile(rf"\b{re.escape(word)}\b")
    context = MessageContext("Tannklinikken Sentrum", datetime(2026, 3, 31, 9, 30, tzinfo=OSLO),
                             links_for("https://tanntid.example.no", KEY, 42, 7), "Ola")
    for audience in Audience:
        for ja in (False, True):
            for form in (False, True):
                body = render(Purpose.REMINDER, audience, language, MessageContext(
                    context.clinic_name, context.starts_at, context.links,
                    context.child_first_name, asks_to_confirm=ja, form=form)).body
                assert bool(asked.search(body)) is ja, body
                assert ("/skjema" in body) is form, body


def test_a_reminder_asking_for_ja_with_the_form_reads_as_expected():
    context = MessageContext("Tannklinikken Sentrum", datetime(2026, 3, 31, 9, 30, tzinfo=OSLO),
                             links_for("https://tanntid.example.no", KEY, 42, 7), "Emma",
                             asks_to_confirm=True, form=True)
    token = sign_appointment(KEY, 42, 7)
    rendered = render(Purpose.REMINDER, Audience.GUARDIAN, "nb", context)
    assert rendered.body == (
        "Påminnelse fra Tannklinikken Sentrum: Emma har time tirsdag 31. mars kl. 09:30. "
        "Svar JA hvis dere kommer. "
        f"Helseskjema: https://tanntid.example.no/t/{token}/skjema "
        f"Endre/avbestill: https://tanntid.example.no/t/{token}")
    assert (rendered.template_id, rendered.template_version) == ("reminder_ja_form.guardian", 1)
    with pytest.raises(ValueError):  # only reminders have variants
        render(Purpose.CONFIRMATION, Audience.GUARDIAN, "nb", context)
