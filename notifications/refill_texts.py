"""The words and the link of refill messages (``notifications.refill``).

An offer carries the minimum like every text: the clinic, the offered time,
a four-digit code to reply with ("Svar JA 4821 for å ta timen") and a short
signed link to the accept page (``/ledig/<token>``, no login: the link is
the key, and the page checks the representation rules on the day). A
guardian's names the child by first given name only. The "taken" notice
says politely that the time went to someone else and that the patient keeps
their own. Texts live in the catalogs (context ``sms refill_offer.<audience>``
and ``sms refill_taken.<audience>``); versions as in ``notifications.templates``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from booking.models import Clinic, Slot
from booking.refill_models import RefillOffer
from core import tokens
from core.i18n import SOURCE_LANGUAGE, catalog
from core.locale import DEFAULT_LANGUAGE
from notifications.statuses import Purpose
from notifications.templates import Audience, Rendered, choose_language, format_when, sms_text

P, A = Purpose, Audience
#: (purpose, audience) -> (version, (catalog context, English wording)).
REFILL_WORDINGS: Final[Mapping[tuple[Purpose, Audience], tuple[int, tuple[str, str]]]] = {
    (P.REFILL_OFFER, A.SELF): (1, sms_text(
        "sms refill_offer.self",
        "{clinic}: An earlier time is free on {when}. Reply YES {code} to take it, "
        "or: {url} Open for {minutes} min. Do nothing and you keep your time.")),
    (P.REFILL_OFFER, A.GUARDIAN): (1, sms_text(
        "sms refill_offer.guardian",
        "{clinic}: An earlier time for {child} is free on {when}. Reply YES {code} to take "
        "it, or: {url} Open for {minutes} min. Do nothing and {child} keeps the time.")),
    (P.REFILL_TAKEN, A.SELF): (1, sms_text(
        "sms refill_taken.self",
        "{clinic}: Sorry, the time on {when} has gone to someone else. "
        "You keep the appointment you have.")),
    (P.REFILL_TAKEN, A.GUARDIAN): (1, sms_text(
        "sms refill_taken.guardian",
        "{clinic}: Sorry, the time on {when} has gone to someone else. "
        "{child} keeps the appointment they have.")),
}

#: The path of the accept page; the web app serves it (``web.views.refill``).
OFFER_PATH: Final = "/ledig/{token}"
_LABEL: Final = b"refill-offer:"
_MAC_BYTES: Final = 6
_MAX_ID_BYTES: Final = 8


def offer_key(link_key: bytes) -> bytes:
    """The key of offer links, from the SMS link key under a label of its own."""
    return tokens.mac(link_key, b"tanntid: refill offer links", 32)


def _offer_mac(key: bytes, raw: bytes, holder_id: int) -> bytes:
    return tokens.mac(key, _LABEL + raw + b":" + tokens.int_bytes(holder_id, _MAX_ID_BYTES),
                      _MAC_BYTES)


def sign_offer(key: bytes, offer_id: int, holder_id: int) -> str:
    """base64url of the offer id and a 48-bit MAC over it and the person the
    link is given to (``holder_id``, not carried: like SMS appointment links,
    the page checks the MAC against the offer's possible holders)."""
    raw = tokens.int_bytes(offer_id, _MAX_ID_BYTES)
    return tokens.encode(raw + _offer_mac(key, raw, holder_id))


def token_offer(token: str) -> int | None:
    """The offer id a token claims, *not yet verified*."""
    data = tokens.decode(token)
    if data is None or not 1 <= len(data) - _MAC_BYTES <= _MAX_ID_BYTES:
        return None
    return int.from_bytes(data[:-_MAC_BYTES], "big")


def verify_offer(key: bytes, token: str, holders: Sequence[int]) -> int | None:
    """Which of ``holders`` a genuine token for its offer was given to; None
    for anything else."""
    data = tokens.decode(token)
    if data is None or not 1 <= len(data) - _MAC_BYTES <= _MAX_ID_BYTES:
        return None
    raw, mac = data[:-_MAC_BYTES], data[-_MAC_BYTES:]
    if raw[0] == 0:
        return None
    for holder in holders:
        if tokens.same(mac, _offer_mac(key, raw, holder)):
            return holder
    return None


def offer_url(public_url: str, link_key: bytes, offer_id: int, holder_id: int) -> str:
    return public_url.rstrip("/") + OFFER_PATH.format(
        token=sign_offer(offer_key(link_key), offer_id, holder_id))


def wording(purpose: Purpose, audience: Audience, language: str) -> tuple[str, int, str]:
    """(language used, version, text) of one refill template, falling back
    to Bokmål and then English like ``templates.template``."""
    version, (context, english) = REFILL_WORDINGS[(purpose, audience)]
    for candidate in dict.fromkeys((choose_language(language), DEFAULT_LANGUAGE)):
        text = str(catalog(candidate).pgettext(context, english))
        if text != english or candidate == SOURCE_LANGUAGE:
            return candidate, version, text
    return SOURCE_LANGUAGE, version, english


def render(purpose: Purpose, audience: Audience, language: str, *, clinic: str,
           starts_at: datetime, code: str = "", url: str = "", minutes: int = 0,
           child: str | None = None) -> Rendered:
    if audience is Audience.GUARDIAN and not child:
        raise ValueError("a guardian's message needs the child's first name")
    used, version, text = wording(purpose, audience, language)
    body = text.format(clinic=clinic.strip(), when=format_when(starts_at, used), code=code,
                       url=url, minutes=minutes, child=child or "")
    return Rendered(body, f"{purpose.value}.{audience.value}", version, used)


@dataclass(frozen=True)
class OfferDetails:
    """What a refill text says about its offer."""

    offer_id: int
    code: str
    starts_at: datetime
    expires_at: datetime
    clinic_name: str


async def offer_details(session: AsyncSession, offer_ids: Sequence[int]
                        ) -> dict[int, OfferDetails]:
    """The offered slot's time and clinic and the code, for these offers."""
    if not offer_ids:
        return {}
    rows = await session.execute(
        select(RefillOffer.id, RefillOffer.code, Slot.starts_at, RefillOffer.expires_at,
               Clinic.name)
        .join(Slot, Slot.id == RefillOffer.slot_id).join(Clinic, Clinic.id == Slot.clinic_id)
        .where(RefillOffer.id.in_(sorted(set(offer_ids)))))
    return {oid: OfferDetails(oid, code, starts_at, expires_at, name)
            for oid, code, starts_at, expires_at, name in rows.all()}
