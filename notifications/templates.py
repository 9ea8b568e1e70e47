"""The words of every SMS, per purpose and audience (the patient, or a guardian
about a child), with a version each; rendered in the recipient's language
(nb, nn, en, se) from the translation catalogs, like every other text.

Minimal content only (Notify's rule: nothing sensitive in a text message):
the clinic's name, weekday, date and time in Europe/Oslo, and short signed
links to the appointment (login needed), its calendar file and a map with
directions (no login). Never the treatment, a full name or an identity
number: a guardian's message names the child by first given name only, so a parent of several
children knows which appointment it is. ``tests/notifications/test_templates.py``
lints every language's text for this, and checks that nb, nn and en fit in
two SMS segments.

**Where the words live.** Each text is one entry of the ``messages`` catalog
(``locales/<lang>/LC_MESSAGES/messages.po``): the English wording is the
msgid, the context is ``sms <template id>`` (so an SMS text never shares a
translation with a page that happens to use the same words), and the
placeholders are ``{clinic}`` style. ``sms_text`` marks them for ``make
messages`` (``locales/babel.cfg`` declares the keyword). Rendering reads the
compiled catalogs (:func:`core.i18n.catalog`; ``pybabel compile``, run by
``make setup``); a text missing in the recipient's language falls back to
Bokmål, then to the English msgid, and the language actually used is what
gets recorded.

**Versions.** Each sent notification records the template id, version and
language it was written with. Changing the words of a template, in the code
or in any catalog, means raising its ``version`` here: the test keeps a
fingerprint of every (template, language, version), so a translator's edit
fails it until the version is raised and the new fingerprints are recorded.

The Northern Sami (se) texts await review by a native translator.
"""

from __future__ import annotations

import hashlib
import string
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Final

import structlog
from babel.dates import format_datetime

from core import tokens
from core.i18n import SOURCE_LANGUAGE, catalog
from core.locale import DEFAULT_LANGUAGE, LANGUAGES, OSLO
from notifications.statuses import Purpose

log = structlog.get_logger(__name__)


#: The placeholders a template may use; anything else fails the lint test.
ALLOWED_FIELDS: Final = frozenset({"clinic", "when", "url", "ics", "map", "child", "form"})

#: The budget the two-segment test (nb, nn, en) holds every template to: the
#: longest weekday and month, a 7-digit appointment id, and at most these lengths.
BUDGET_PUBLIC_URL = 28  # e.g. "https://tannhelse.example.no"
BUDGET_CLINIC_NAME = 44  # e.g. "Den offentlige tannhelsetjenesten Lillestrøm"
BUDGET_CHILD_NAME = 10

#: Weekday, date and time, as a reader of each language expects.
WHEN_PATTERNS: Final[Mapping[str, str]] = {
    "nb": "EEEE d. MMMM 'kl.' HH:mm",
    "nn": "EEEE d. MMMM 'kl.' HH:mm",
    "en": "EEEE d MMMM 'at' HH:mm",
    "se": "EEEE d. MMMM 'dii.' HH:mm",
}


class Audience(StrEnum):
    SELF = "self"  # the patient about their own appointment
    GUARDIAN = "guardian"  # a guardian (foresatt) about a child's appointment


def sms_text(context: str, english: str) -> tuple[str, str]:
    """Marks an SMS text for extraction into the catalogs (keyword
    ``sms_text:1c,2`` in ``locales/babel.cfg``); translated when rendered."""
    return context, english


P, A = Purpose, Audience
#: (purpose, audience) -> (version, (catalog context, English wording)).
#: The context is always ``"sms " + template id``.
WORDINGS: Final[Mapping[tuple[Purpose, Audience], tuple[int, tuple[str, str]]]] = {
    # Booking confirmation
    (P.CONFIRMATION, A.SELF): (1, sms_text(
        "sms confirmation.self",
        "{clinic}: Your appointment is booked for {when}. "
        "Change or cancel: {url} Calendar: {ics} Map: {map}")),
    (P.CONFIRMATION, A.GUARDIAN): (1, sms_text(
        "sms confirmation.guardian",
        "{clinic}: {child}'s appointment is booked for {when}. "
        "Change or cancel: {url} Calendar: {ics} Map: {map}")),
    # Clinic-issued appointment notice (innkalling), asking to confirm
    (P.INNKALLING, A.SELF): (1, sms_text(
        "sms innkalling.self",
        "{clinic} has booked an appointment for you on {when}. "
        "Confirm, change or cancel: {url} Calendar: {ics} Map: {map}")),
    (P.INNKALLING, A.GUARDIAN): (1, sms_text(
        "sms innkalling.guardian",
        "{clinic} has booked an appointment for {child} on {when}. "
        "Confirm, change or cancel: {url} Calendar: {ics} Map: {map}")),
    # The appointment moved
    (P.CHANGE, A.SELF): (1, sms_text(
        "sms change.self",
        "{clinic}: Your appointment has moved to {when}. "
        "Change or cancel: {url} Calendar: {ics} Map: {map}")),
    (P.CHANGE, A.GUARDIAN): (1, sms_text(
        "sms change.guardian",
        "{clinic}: {child}'s appointment has moved to {when}. "
        "Change or cancel: {url} Calendar: {ics} Map: {map}")),
    # Cancelled (avbestilt)
    (P.CANCELLATION, A.SELF): (1, sms_text(
        "sms cancellation.self",
        "{clinic}: Your appointment on {when} is cancelled. Need a new one? {url}")),
    (P.CANCELLATION, A.GUARDIAN): (1, sms_text(
        "sms cancellation.guardian",
        "{clinic}: {child}'s appointment on {when} is cancelled. Need a new one? {url}")),
    # Reminder (påminnelse)
    (P.REMINDER, A.SELF): (1, sms_text(
        "sms reminder.self",
        "Reminder from {clinic}: You have an appointment on {when}. "
        "Change or cancel: {url} Calendar: {ics} Map: {map}")),
    (P.REMINDER, A.GUARDIAN): (1, sms_text(
        "sms reminder.guardian",
        "Reminder from {clinic}: {child} has an appointment on {when}. "
        "Change or cancel: {url} Calendar: {ics} Map: {map}")),
    # The clinic asks the patient to pick a new time (a schedule change took the slot)
    (P.MOVE_REQUEST, A.SELF): (1, sms_text(
        "sms move_request.self",
        "{clinic} must move your appointment on {when}. "
        "Pick a new time or see our phone number: {url}")),
    (P.MOVE_REQUEST, A.GUARDIAN): (1, sms_text(
        "sms move_request.guardian",
        "{clinic} must move {child}'s appointment on {when}. "
        "Pick a new time or see our phone number: {url}")),
}


#: The reminders' other words, keyed (asks to confirm, links the pre-visit
#: form, audience) -> (version, (context, English)); ``WORDINGS`` holds the
#: plain one (neither). A reminder **asks for the confirm keyword** (``JA``,
#: ``YES``, ``JUO``: ``sms reply.word_confirm``) only where that reply would
#: confirm: a clinic-issued appointment still awaiting its answer
#: (``booking.rules.confirmation_requested``); and it **links the pre-visit
#: form** only to someone who may fill it in (``booking.previsit.who_fills``)
#: at a clinic that uses it. Two segments hold only so many links: these
#: leave out the calendar file (the appointment page offers it), and the one
#: doing both leaves out the map as well (the appointment page has it).
REMINDER_VARIANTS: Final[Mapping[tuple[bool, bool, Audience],
                                 tuple[int, tuple[str, str]]]] = {
    (True, False, A.SELF): (1, sms_text(
        "sms reminder_ja.self",
        "Reminder from {clinic}: You have an appointment on {when}. "
        "Reply YES if you are coming. Change or cancel: {url} Map: {map}")),
    (True, False, A.GUARDIAN): (1, sms_text(
        "sms reminder_ja.guardian",
        "Reminder from {clinic}: {child} has an appointment on {when}. "
        "Reply YES if you are coming. Change or cancel: {url} Map: {map}")),
    (False, True, A.SELF): (1, sms_text(
        "sms reminder_form.self",
        "Reminder from {clinic}: You have an appointment on {when}. "
        "Health form: {form} Change/cancel: {url} Map: {map}")),
    (False, True, A.GUARDIAN): (1, sms_text(
        "sms reminder_form.guardian",
        "Reminder from {clinic}: {child} has an appointment on {when}. "
        "Health form: {form} Change/cancel: {url} Map: {map}")),
    (True, True, A.SELF): (1, sms_text(
        "sms reminder_ja_form.self",
        "Reminder from {clinic}: You have an appointment on {when}. "
        "Reply YES if you are coming. Health form: {form} Change/cancel: {url}")),
    (True, True, A.GUARDIAN): (1, sms_text(
        "sms reminder_ja_form.guardian",
        "Reminder from {clinic}: {child} has an appointment on {when}. "
        "Reply YES if you are coming. Health form: {form} Change/cancel: {url}")),
}


#: The one-time code to a number entered on the profile
#: (``notifications.number_check``): no name, no appointment, no link.
NUMBER_CHECK_WORDING: Final = (1, sms_text(
    "sms number_check.self",
    "Tanntid: your code is {code}. It is valid for {minutes} minutes."))


@dataclass(frozen=True)
class Template:
    purpose: Purpose
    audience: Audience
    #: The language of ``text``: the one asked for, or the one fallen back to.
    language: str
    version: int
    text: str
    #: A reminder's variant ("", "_ja", "_form", "_ja_form"; see :data:`REMINDER_VARIANTS`).
    variant: str = ""

    @property
    def id(self) -> str:
        return f"{self.purpose.value}{self.variant}.{self.audience.value}"

    @property
    def asks_to_confirm(self) -> bool:
        return self.variant.startswith("_ja")

    def fields(self) -> set[str]:
        return {name for _, name, _, _ in string.Formatter().parse(self.text) if name}

    def fingerprint(self) -> str:
        return hashlib.sha256(self.text.encode()).hexdigest()[:12]


def variant_name(asks_to_confirm: bool, form: bool) -> str:
    return ("_ja" if asks_to_confirm else "") + ("_form" if form else "")


def template(purpose: Purpose | str, audience: Audience | str, language: str, *,
             asks_to_confirm: bool = False, form: bool = False) -> Template:
    """The words of one template in ``language``, from its catalog; in
    Bokmål if that catalog lacks them, in English (the msgid) if both do.
    ``asks_to_confirm`` and ``form`` choose a reminder's variant
    (:data:`REMINDER_VARIANTS`); other purposes have none."""
    purpose, audience = Purpose(purpose), Audience(audience)
    variant = ""
    if purpose is Purpose.REMINDER and (asks_to_confirm or form):
        variant = variant_name(asks_to_confirm, form)
        version, (context, english) = REMINDER_VARIANTS[(asks_to_confirm, form, audience)]
    elif asks_to_confirm or form:
        raise ValueError(f"{purpose.value} has no variant")
    else:
        version, (context, english) = WORDINGS[(purpose, audience)]
    tried = (language,) if language in (DEFAULT_LANGUAGE, SOURCE_LANGUAGE) \
        else (language, DEFAULT_LANGUAGE)
    for candidate in tried:
        text = str(catalog(candidate).pgettext(context, english))
        # gettext hands back the msgid for a message it lacks; only English
        # is the msgid itself.
        if text != english or candidate == SOURCE_LANGUAGE:
            return Template(purpose, audience, candidate, version, text, variant)
    log.warning("sms_text_untranslated", template=context, locale=language)
    return Template(purpose, audience, SOURCE_LANGUAGE, version, english, variant)


def templates() -> dict[tuple[Purpose, Audience, str], Template]:
    """Every template in every language (keyed by the language asked for),
    the reminders' variants left out (:func:`reminder_variants`)."""
    return {(p, a, lang): template(p, a, lang) for (p, a) in WORDINGS for lang in LANGUAGES}


def reminder_variants() -> dict[tuple[bool, bool, Audience, str], Template]:
    """Every reminder variant in every language, keyed (asks to confirm, form,
    audience, language asked for)."""
    return {(ja, form, a, lang): template(Purpose.REMINDER, a, lang, asks_to_confirm=ja,
                                          form=form)
            for (ja, form, a) in REMINDER_VARIANTS for lang in LANGUAGES}


# --- links -------------------------------------------------------------------

#: The prefix of the SMS link key's derivation (:func:`core.tokens.derive_prefixed_key`).
LINK_KEY_PREFIX: Final = b"tanntid:sms-link:v1:"


def link_key(secret_key: str) -> bytes:
    """The key for SMS links, derived from the service's secret (its own
    domain). It predates :func:`core.tokens.derive_key`; links already sent
    are signed with it, so its bytes never change."""
    return tokens.derive_prefixed_key(secret_key, LINK_KEY_PREFIX)


_MAC_BYTES = 6
_MAX_ID_BYTES = 8


def _mac(key: bytes, appointment_id: int, notification_id: int) -> bytes:
    message = (b"notification:" + appointment_id.to_bytes(_MAX_ID_BYTES, "big")
               + notification_id.to_bytes(_MAX_ID_BYTES, "big"))
    return tokens.mac(key, message, _MAC_BYTES)


def _unversioned_mac(key: bytes, raw: bytes) -> bytes:
    """The MAC of tokens sent before they named a notification (see
    :func:`verify_appointment`)."""
    return tokens.mac(key, b"appointment:" + raw, _MAC_BYTES)


def sign_appointment(key: bytes, appointment_id: int, notification_id: int) -> str:
    """A short token naming one appointment, for the links of one notification.

    base64url of the appointment id (big-endian, no leading zero byte) and a
    48-bit MAC over the appointment id *and the notification id*: 12
    characters for any id below 2**24, as before the notification was bound
    in. The notification id is not carried (each character is paid for three
    times in a text), yet every notification's token differs, so no two
    messages' bodies are the same and reconciling by body after an in-doubt
    send finds the right one (``channels/twilio_sms.py``). The web handler
    checks the MAC against the appointment's notifications. Guessing a token
    is hopeless at any request rate the web allows."""
    raw = tokens.int_bytes(appointment_id, _MAX_ID_BYTES)
    tokens.int_bytes(notification_id, _MAX_ID_BYTES)  # the same range check
    return tokens.encode(raw + _mac(key, appointment_id, notification_id))


def _decode(token: str) -> tuple[bytes, bytes] | None:
    """The id bytes and the MAC of a token in its one spelling (1 to 8 id
    bytes); None for anything else."""
    data = tokens.decode(token)
    if data is None or not 1 <= len(data) - _MAC_BYTES <= _MAX_ID_BYTES:
        return None
    return data[:-_MAC_BYTES], data[-_MAC_BYTES:]


def token_appointment(token: str) -> int | None:
    """The appointment id a token claims, *not yet verified*: for finding the
    notifications to check it against with :func:`verify_appointment`."""
    decoded = _decode(token)
    return None if decoded is None else int.from_bytes(decoded[0], "big")


def verify_appointment(key: bytes, token: str, notification_ids: Iterable[int] = ()
                       ) -> int | None:
    """The appointment id of a genuine token, or None: one made by
    :func:`sign_appointment` for one of ``notification_ids`` (the
    appointment's notifications), or an unversioned one.

    Unversioned tokens (the MAC over the appointment id alone, sent until
    notification ids were bound in) carry no expiry, like the current ones:
    such a link works until its appointment has ended, and appointments are
    booked up to a year or more ahead. So they stay accepted; the two kinds
    cannot be mistaken for each other (different MAC inputs). Drop
    ``_unversioned_mac`` once every appointment booked before that change has
    ended."""
    found = verified_token(key, token, notification_ids)
    return None if found is None else found[0]


def verified_token(key: bytes, token: str, notification_ids: Iterable[int] = ()
                   ) -> tuple[int, int | None] | None:
    """(appointment id, notification id) of a genuine token, the notification
    being the one of ``notification_ids`` it was signed for, or None for an
    unversioned token (see :func:`verify_appointment`); None if not genuine."""
    decoded = _decode(token)
    if decoded is None:
        return None
    raw, mac = decoded
    appointment_id = int.from_bytes(raw, "big")
    if tokens.same(mac, _unversioned_mac(key, raw)):
        return appointment_id, None
    if raw[0] == 0:  # not how sign_appointment writes an id
        return None
    for notification_id in notification_ids:
        if tokens.same(mac, _mac(key, appointment_id, notification_id)):
            return appointment_id, notification_id
    return None


@dataclass(frozen=True)
class Links:
    appointment: str  # the appointment page (login needed)
    calendar: str  # its .ics file (no login)
    directions: str  # how to get there (no login)

    @property
    def move(self) -> str:
        """The page to pick one of the times the clinic offers (no login)."""
        return self.appointment + "/flytt"

    @property
    def form(self) -> str:
        """The appointment's pre-visit form (login needed; the page applies
        the representation rules again)."""
        return self.appointment + "/skjema"


def links_for(public_url: str, key: bytes, appointment_id: int, notification_id: int
              ) -> Links:
    """``/t/<token>`` (the web app serves these three routes); the token is
    the notification's own (:func:`sign_appointment`)."""
    token = sign_appointment(key, appointment_id, notification_id)
    base = f"{public_url.rstrip('/')}/t/{token}"
    return Links(base, base + ".ics", base + "/kart")


# --- rendering ---------------------------------------------------------------

def choose_language(*candidates: str | None) -> str:
    """The first supported language among the candidates (register, profile), else nb."""
    for candidate in candidates:
        if candidate is not None and candidate in LANGUAGES:
            return candidate
    return DEFAULT_LANGUAGE


def format_when(starts_at: datetime, language: str) -> str:
    return format_datetime(starts_at.astimezone(OSLO), WHEN_PATTERNS[language],
                           locale=language)


def first_given_name(given_name: str) -> str:
    """"Kari Anne" → "Kari": never more of a name than a parent needs."""
    parts = given_name.split()
    return parts[0] if parts else ""


@dataclass(frozen=True)
class MessageContext:
    clinic_name: str
    starts_at: datetime
    links: Links
    child_first_name: str | None = None
    #: A reminder that asks for the confirm keyword (the clinic awaits an answer).
    asks_to_confirm: bool = False
    #: A reminder that links the pre-visit form (the recipient may fill it in).
    form: bool = False


@dataclass(frozen=True)
class Rendered:
    body: str
    template_id: str
    template_version: int
    language: str


def render(purpose: Purpose | str, audience: Audience | str, language: str,
           context: MessageContext) -> Rendered:
    language = choose_language(language)
    audience = Audience(audience)
    if audience is Audience.GUARDIAN and not context.child_first_name:
        raise ValueError("a guardian's message needs the child's first name")
    chosen = template(purpose, audience, language, asks_to_confirm=context.asks_to_confirm,
                      form=context.form)
    body = chosen.text.format(
        clinic=context.clinic_name.strip(),
        when=format_when(context.starts_at, chosen.language),
        url=(context.links.move if chosen.purpose is Purpose.MOVE_REQUEST
             else context.links.appointment),
        ics=context.links.calendar,
        map=context.links.directions,
        form=context.links.form,
        child=context.child_first_name or "",
    )
    return Rendered(body, chosen.id, chosen.version, chosen.language)


def render_code(language: str, code: str, minutes: int = 10) -> Rendered:
    """The number check's text with ``code``, in ``language`` (else Bokmål,
    else English, as :func:`template`)."""
    language = choose_language(language)
    version, (context, english) = NUMBER_CHECK_WORDING
    chosen, text = SOURCE_LANGUAGE, english
    for candidate in dict.fromkeys((language, DEFAULT_LANGUAGE)):
        translated = str(catalog(candidate).pgettext(context, english))
        if translated != english or candidate == SOURCE_LANGUAGE:
            chosen, text = candidate, translated
            break
    return Rendered(text.format(code=code, minutes=minutes), context.removeprefix("sms "),
                    version, chosen)
