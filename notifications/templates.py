"""The words of every SMS, per purpose, audience (the patient, or a guardian
about a child) and language (nb, nn, en, se), with a version each.

Minimal content only (Notify's rule: nothing sensitive in a text message):
the clinic's name, weekday, date and time in Europe/Oslo, and short signed
links to the appointment (login needed), its calendar file and a map with
directions (no login). Never the treatment, a full name or an identity
number: a guardian's message names the child by first given name only, so a parent of several
children knows which appointment it is. ``tests/notifications/test_templates.py``
lints every template for this, and checks that nb, nn and en fit in two SMS
segments.

Changing the words of a template means raising its ``version``: each sent
notification records the template id and version it was written with (the
test keeps a fingerprint of every version).

The Northern Sami (se) texts await review by a native translator.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import string
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Final

from babel.dates import format_datetime

from notifications.schedule import OSLO
from notifications.statuses import Purpose

LANGUAGES: Final = ("nb", "nn", "en", "se")
DEFAULT_LANGUAGE: Final = "nb"
#: The placeholders a template may use; anything else fails the lint test.
ALLOWED_FIELDS: Final = frozenset({"clinic", "when", "url", "ics", "map", "child"})

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


@dataclass(frozen=True)
class Template:
    purpose: Purpose
    audience: Audience
    language: str
    version: int
    text: str

    @property
    def id(self) -> str:
        return f"{self.purpose.value}.{self.audience.value}"

    def fields(self) -> set[str]:
        return {name for _, name, _, _ in string.Formatter().parse(self.text) if name}

    def fingerprint(self) -> str:
        return hashlib.sha256(self.text.encode()).hexdigest()[:12]


P, A = Purpose, Audience
_LINKS = {
    "nb": "Endre eller avbestill: {url} Kalender: {ics} Kart: {map}",
    "nn": "Endre eller avbestill: {url} Kalender: {ics} Kart: {map}",
    "en": "Change or cancel: {url} Calendar: {ics} Map: {map}",
    "se": "Rievdat dahje šluhtte: {url} Kaleandar: {ics} Kárta: {map}",
}
_CONFIRM_LINKS = {
    "nb": "Bekreft, endre eller avbestill: {url} Kalender: {ics} Kart: {map}",
    "nn": "Stadfest, endre eller avbestill: {url} Kalender: {ics} Kart: {map}",
    "en": "Confirm, change or cancel: {url} Calendar: {ics} Map: {map}",
    "se": "Duođaš, rievdat dahje šluhtte: {url} Kaleandar: {ics} Kárta: {map}",
}

#: (purpose, audience, language) -> (version, text)
_TEXTS: Final[dict[tuple[Purpose, Audience, str], tuple[int, str]]] = {
    # Booking confirmation
    (P.CONFIRMATION, A.SELF, "nb"): (1, "{clinic}: Timen din er bestilt {when}. " + _LINKS["nb"]),
    (P.CONFIRMATION, A.GUARDIAN, "nb"):
        (1, "{clinic}: Timen til {child} er bestilt {when}. " + _LINKS["nb"]),
    (P.CONFIRMATION, A.SELF, "nn"): (1, "{clinic}: Timen din er bestilt {when}. " + _LINKS["nn"]),
    (P.CONFIRMATION, A.GUARDIAN, "nn"):
        (1, "{clinic}: Timen til {child} er bestilt {when}. " + _LINKS["nn"]),
    (P.CONFIRMATION, A.SELF, "en"):
        (1, "{clinic}: Your appointment is booked for {when}. " + _LINKS["en"]),
    (P.CONFIRMATION, A.GUARDIAN, "en"):
        (1, "{clinic}: {child}'s appointment is booked for {when}. " + _LINKS["en"]),
    (P.CONFIRMATION, A.SELF, "se"):
        (1, "{clinic}: Du áigi lea diŋgojuvvon {when}. " + _LINKS["se"]),
    (P.CONFIRMATION, A.GUARDIAN, "se"):
        (1, "{clinic}: Áigi lea diŋgojuvvon {when}. Mánná: {child}. " + _LINKS["se"]),
    # Clinic-issued appointment notice (innkalling), asking to confirm
    (P.INNKALLING, A.SELF, "nb"):
        (1, "{clinic} har satt opp time til deg {when}. " + _CONFIRM_LINKS["nb"]),
    (P.INNKALLING, A.GUARDIAN, "nb"):
        (1, "{clinic} har satt opp time til {child} {when}. " + _CONFIRM_LINKS["nb"]),
    (P.INNKALLING, A.SELF, "nn"):
        (1, "{clinic} har sett opp time til deg {when}. " + _CONFIRM_LINKS["nn"]),
    (P.INNKALLING, A.GUARDIAN, "nn"):
        (1, "{clinic} har sett opp time til {child} {when}. " + _CONFIRM_LINKS["nn"]),
    (P.INNKALLING, A.SELF, "en"):
        (1, "{clinic} has booked an appointment for you on {when}. " + _CONFIRM_LINKS["en"]),
    (P.INNKALLING, A.GUARDIAN, "en"):
        (1, "{clinic} has booked an appointment for {child} on {when}. "
         + _CONFIRM_LINKS["en"]),
    (P.INNKALLING, A.SELF, "se"):
        (1, "{clinic} lea diŋgon áiggi dutnje {when}. " + _CONFIRM_LINKS["se"]),
    (P.INNKALLING, A.GUARDIAN, "se"):
        (1, "{clinic} lea diŋgon áiggi {when}. Mánná: {child}. " + _CONFIRM_LINKS["se"]),
    # The appointment moved
    (P.CHANGE, A.SELF, "nb"): (1, "{clinic}: Timen din er flyttet til {when}. " + _LINKS["nb"]),
    (P.CHANGE, A.GUARDIAN, "nb"):
        (1, "{clinic}: Timen til {child} er flyttet til {when}. " + _LINKS["nb"]),
    (P.CHANGE, A.SELF, "nn"): (1, "{clinic}: Timen din er flytta til {when}. " + _LINKS["nn"]),
    (P.CHANGE, A.GUARDIAN, "nn"):
        (1, "{clinic}: Timen til {child} er flytta til {when}. " + _LINKS["nn"]),
    (P.CHANGE, A.SELF, "en"):
        (1, "{clinic}: Your appointment has moved to {when}. " + _LINKS["en"]),
    (P.CHANGE, A.GUARDIAN, "en"):
        (1, "{clinic}: {child}'s appointment has moved to {when}. " + _LINKS["en"]),
    (P.CHANGE, A.SELF, "se"):
        (1, "{clinic}: Du áigi lea sirdojuvvon {when}. " + _LINKS["se"]),
    (P.CHANGE, A.GUARDIAN, "se"):
        (1, "{clinic}: Áigi lea sirdojuvvon {when}. Mánná: {child}. " + _LINKS["se"]),
    # Cancelled (avbestilt)
    (P.CANCELLATION, A.SELF, "nb"):
        (1, "{clinic}: Timen din {when} er avbestilt. Trenger du ny time? {url}"),
    (P.CANCELLATION, A.GUARDIAN, "nb"):
        (1, "{clinic}: Timen til {child} {when} er avbestilt. Trenger dere ny time? {url}"),
    (P.CANCELLATION, A.SELF, "nn"):
        (1, "{clinic}: Timen din {when} er avbestilt. Treng du ny time? {url}"),
    (P.CANCELLATION, A.GUARDIAN, "nn"):
        (1, "{clinic}: Timen til {child} {when} er avbestilt. Treng de ny time? {url}"),
    (P.CANCELLATION, A.SELF, "en"):
        (1, "{clinic}: Your appointment on {when} is cancelled. Need a new one? {url}"),
    (P.CANCELLATION, A.GUARDIAN, "en"):
        (1, "{clinic}: {child}'s appointment on {when} is cancelled. Need a new one? {url}"),
    (P.CANCELLATION, A.SELF, "se"):
        (1, "{clinic}: Du áigi {when} lea šluhttejuvvon. Dárbbašat go ođđa áiggi? {url}"),
    (P.CANCELLATION, A.GUARDIAN, "se"):
        (1, "{clinic}: Áigi {when} lea šluhttejuvvon. Mánná: {child}. "
         "Dárbbašehpet go ođđa áiggi? {url}"),
    # Reminder (påminnelse)
    (P.REMINDER, A.SELF, "nb"):
        (1, "Påminnelse fra {clinic}: Du har time {when}. " + _LINKS["nb"]),
    (P.REMINDER, A.GUARDIAN, "nb"):
        (1, "Påminnelse fra {clinic}: {child} har time {when}. " + _LINKS["nb"]),
    (P.REMINDER, A.SELF, "nn"):
        (1, "Påminning frå {clinic}: Du har time {when}. " + _LINKS["nn"]),
    (P.REMINDER, A.GUARDIAN, "nn"):
        (1, "Påminning frå {clinic}: {child} har time {when}. " + _LINKS["nn"]),
    (P.REMINDER, A.SELF, "en"):
        (1, "Reminder from {clinic}: You have an appointment on {when}. " + _LINKS["en"]),
    (P.REMINDER, A.GUARDIAN, "en"):
        (1, "Reminder from {clinic}: {child} has an appointment on {when}. " + _LINKS["en"]),
    (P.REMINDER, A.SELF, "se"):
        (1, "Muittuhus {clinic}: Dus lea áigi {when}. " + _LINKS["se"]),
    (P.REMINDER, A.GUARDIAN, "se"):
        (1, "Muittuhus {clinic}: Áigi {when}. Mánná: {child}. " + _LINKS["se"]),
}

TEMPLATES: Final[dict[tuple[Purpose, Audience, str], Template]] = {
    key: Template(key[0], key[1], key[2], version, text)
    for key, (version, text) in _TEXTS.items()
}


# --- links -------------------------------------------------------------------

def link_key(secret_key: str) -> bytes:
    """The key for SMS links, derived from the service's secret (its own domain)."""
    return hashlib.sha256(b"tanntid:sms-link:v1:" + secret_key.encode()).digest()


_MAC_BYTES = 6


def sign_appointment(key: bytes, appointment_id: int) -> str:
    """A short token naming one appointment: its id and a 48-bit MAC, base64url
    (guessing one is hopeless at any request rate the web allows)."""
    raw = appointment_id.to_bytes(max(1, (appointment_id.bit_length() + 7) // 8), "big")
    mac = hmac.new(key, b"appointment:" + raw, hashlib.sha256).digest()[:_MAC_BYTES]
    return base64.urlsafe_b64encode(raw + mac).rstrip(b"=").decode()


def verify_appointment(key: bytes, token: str) -> int | None:
    """The appointment id of a token made by :func:`sign_appointment`, or None."""
    try:
        data = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (ValueError, TypeError):
        return None
    raw, mac = data[:-_MAC_BYTES], data[-_MAC_BYTES:]
    if not raw or len(mac) != _MAC_BYTES:
        return None
    expected = hmac.new(key, b"appointment:" + raw, hashlib.sha256).digest()[:_MAC_BYTES]
    if not hmac.compare_digest(mac, expected):
        return None
    return int.from_bytes(raw, "big")


@dataclass(frozen=True)
class Links:
    appointment: str  # the appointment page (login needed)
    calendar: str  # its .ics file (no login)
    directions: str  # how to get there (no login)


def links_for(public_url: str, key: bytes, appointment_id: int) -> Links:
    """``/t/<token>`` (the web app serves these three routes)."""
    base = f"{public_url.rstrip('/')}/t/{sign_appointment(key, appointment_id)}"
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
    template = TEMPLATES[(Purpose(purpose), audience, language)]
    body = template.text.format(
        clinic=context.clinic_name.strip(),
        when=format_when(context.starts_at, language),
        url=context.links.appointment,
        ics=context.links.calendar,
        map=context.links.directions,
        child=context.child_first_name or "",
    )
    return Rendered(body, template.id, template.version, language)
