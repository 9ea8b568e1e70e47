"""Who gets a notification, and at which number.

Two questions, answered at different times:

* **Who** (in the booking transaction, from local tables): the patient; for a
  child, each guardian who may represent the child today under
  :func:`booking.representation.guardian_access` (one SMS each); young people
  from 12 also get their own (:data:`OWN_NOTICES_FROM_AGE`), and from 16 only
  their own. A child nobody may represent is notified at their own number, if
  any (otherwise support sees why nothing went).
* **Which number, which language** (when the message is prepared, outside any
  transaction: the national contact register is a network call): a
  :class:`ContactDirectory` answers. :class:`ProfileDirectory` reads the
  patient's own profile (``Patient.mobile``, ``preferred_language``); the KRR
  adapter plugs in through the same Protocol, with reservation and the
  18-month verification date. :func:`usable_number` then refuses numbers that
  are missing, not mobile, reserved, stale, opted out (STOP) or failed
  permanently before: those are marked in ``sms_number_blocks`` and skipped
  until the person's number changes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Protocol

import phonenumbers
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from booking.db import Database
from booking.models import Guardianship, Patient
from booking.representation import (
    OF_AGE_IN_HEALTH_MATTERS,
    SELF_LOGIN_FROM_AGE,
    PersonFacts,
    guardian_access,
)
from booking.rules import age_on
from notifications.models import SmsNumberBlock
from notifications.statuses import BlockReason, Reason

#: Young people get their own notices from this age (they may log in themselves).
OWN_NOTICES_FROM_AGE = SELF_LOGIN_FROM_AGE
#: eForvaltningsforskriften § 32: contact information not verified for 18 months
#: is not used for notices.
MAX_UNVERIFIED_MONTHS = 18
_MOBILE_TYPES = frozenset({phonenumbers.PhoneNumberType.MOBILE,
                           phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE})


class Role(StrEnum):
    SELF = "self"
    GUARDIAN = "guardian"


@dataclass(frozen=True)
class Recipient:
    patient_id: int
    role: Role


async def recipients_for(session: AsyncSession, patient: Patient, today: date
                         ) -> list[Recipient]:
    """Who is told about ``patient``'s appointment, judged on ``today`` (Oslo date)."""
    age = age_on(patient.birth_date, today)
    if age >= OF_AGE_IN_HEALTH_MATTERS:
        return [Recipient(patient.id, Role.SELF)]
    guardians = list((await session.execute(
        select(Patient).join(Guardianship, Guardianship.guardian_id == Patient.id)
        .where(Guardianship.child_id == patient.id).order_by(Patient.id)
    )).scalars())
    child = PersonFacts.from_patient(patient)
    facts = [PersonFacts.from_patient(g) for g in guardians]
    result = [
        Recipient(g.id, Role.GUARDIAN)
        for g, fact in zip(guardians, facts, strict=True)
        if guardian_access(guardian=fact, child=child, today=today,
                           other_guardians=[f for f in facts if f is not fact])
    ]
    if age >= OWN_NOTICES_FROM_AGE or not result:
        result.insert(0, Recipient(patient.id, Role.SELF))
    return result


# --- numbers -----------------------------------------------------------------

@dataclass(frozen=True)
class Contact:
    """What a directory knows about how to reach one person."""

    mobile: str | None
    #: The register's language first, else the profile's choice (nb, nn, en, se).
    language: str | None = None
    #: Reserved against digital contact (KRR): no SMS.
    reserved: bool = False
    #: When the register last saw the number verified (None: not from a register).
    verified_on: date | None = None


class ContactDirectory(Protocol):
    async def contacts(self, patient_ids: Sequence[int]) -> Mapping[int, Contact]:
        """Contacts for these patients; a patient it knows nothing of is left out."""
        ...


class ProfileDirectory:
    """The number and language the patient gave us (``Patient.mobile``)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def contacts(self, patient_ids: Sequence[int]) -> Mapping[int, Contact]:
        if not patient_ids:
            return {}
        async with self.db.read() as session:
            rows = await session.execute(
                select(Patient.id, Patient.mobile, Patient.preferred_language)
                .where(Patient.id.in_(list(patient_ids))))
            return {pid: Contact(mobile, language) for pid, mobile, language in rows}


def normalise_mobile(number: str) -> str | None:
    """E.164 if ``number`` is a valid mobile number (Norwegian by default), else None."""
    try:
        parsed = phonenumbers.parse(number, "NO")
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(parsed):
        return None
    if phonenumbers.number_type(parsed) not in _MOBILE_TYPES:
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def _months_between(earlier: date, later: date) -> int:
    months = (later.year - earlier.year) * 12 + later.month - earlier.month
    return months - (1 if later.day < earlier.day else 0)


def check_contact(contact: Contact | None, today: date) -> tuple[str | None, Reason | None]:
    """(E.164 number, None) if the contact may get an SMS, else (None, why not).
    Blocks (STOP, permanent failures) are checked separately: :func:`block_for`."""
    if contact is None or not contact.mobile:
        return None, Reason.NO_MOBILE
    if contact.reserved:
        return None, Reason.RESERVED
    if (contact.verified_on is not None
            and _months_between(contact.verified_on, today) >= MAX_UNVERIFIED_MONTHS):
        return None, Reason.STALE_NUMBER
    e164 = normalise_mobile(contact.mobile)
    if e164 is None:
        return None, Reason.NOT_MOBILE
    return e164, None


async def block_for(session: AsyncSession, e164: str) -> Reason | None:
    row = await session.get(SmsNumberBlock, e164)
    if row is None:
        return None
    return Reason.OPTED_OUT if row.reason == BlockReason.OPTED_OUT else Reason.NUMBER_FAILED


async def block_number(session: AsyncSession, e164: str, reason: BlockReason, now: datetime,
                       notification_id: int | None = None) -> None:
    """Mark a number as not to be used (idempotent: the first reason stays,
    except that an opt-out overrides a failure)."""
    row = await session.get(SmsNumberBlock, e164)
    if row is None:
        session.add(SmsNumberBlock(e164=e164, reason=reason, since=now,
                                   notification_id=notification_id))
    elif reason is BlockReason.OPTED_OUT and row.reason != BlockReason.OPTED_OUT:
        row.reason = reason
        row.since = now
    await session.flush()


async def unblock_number(session: AsyncSession, e164: str,
                         reason: BlockReason | None = None) -> bool:
    """Lift a block (START, or support after the person confirmed the number)."""
    query = delete(SmsNumberBlock).where(SmsNumberBlock.e164 == e164)
    if reason is not None:
        query = query.where(SmsNumberBlock.reason == reason)
    result = await session.execute(query)
    return bool(result.rowcount)  # type: ignore[attr-defined]
