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
  patient's own profile (``Patient.mobile``, ``preferred_language``);
  :class:`notifications.contacts.RegisterDirectory` adds KRR (the number the
  patient gave us first, else the register's, with its reservation,
  notification status and verification date). :func:`check_contact` then
  refuses numbers that are missing, not mobile, reserved, stale (18 months),
  or that the register says may not be notified; :func:`blocks_for` those
  that replied STOP or failed permanently before (marked in
  ``sms_number_blocks`` and skipped until the person's number changes). A
  register that cannot answer now is no refusal: the row waits
  (:data:`WAIT_FOR`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Final, Protocol

import phonenumbers
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from booking.models import Guardianship, Patient
from booking.representation import (
    OF_AGE_IN_HEALTH_MATTERS,
    SELF_LOGIN_FROM_AGE,
    PersonFacts,
    guardian_access,
)
from booking.rules import age_on
from core.db import Database
from notifications.channels.krr import STALE_AFTER_MONTHS, months_before
from notifications.models import SmsNumberBlock
from notifications.statuses import BlockReason, Reason

#: Young people get their own notices from this age (they may log in themselves).
OWN_NOTICES_FROM_AGE = SELF_LOGIN_FROM_AGE
#: eForvaltningsforskriften § 32: contact information not updated or verified
#: in the last 18 months is not used for notices (the same rule, and the same
#: day count, as :meth:`notifications.channels.krr.KrrContact.no_notice_reason`).
MAX_UNVERIFIED_MONTHS = STALE_AFTER_MONTHS
#: Reasons :func:`check_contact` gives that are no refusal: the row waits this
#: long and is tried again (never sent meanwhile, never cancelled for it).
WAIT_FOR: Final[Mapping[Reason, timedelta]] = {
    Reason.REGISTER_UNAVAILABLE: timedelta(minutes=2),
}
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

    mobile: str | None = field(repr=False)
    #: The register's language first, else the profile's choice (nb, nn, en, se).
    language: str | None = None
    #: Reserved against digital contact (KRR): no SMS.
    reserved: bool = False
    #: When the register last saw the number updated or verified.
    verified_on: date | None = None
    #: The number is the register's: without a ``verified_on`` it is stale.
    from_register: bool = False
    #: False when the register says the person may not be notified
    #: (``varslingsstatus`` KAN_IKKE_VARSLES).
    notifiable: bool = True
    #: The register could not be asked now (KRR or Maskinporten down): nothing
    #: is known about a reservation, so the message waits (:data:`WAIT_FOR`).
    unavailable: bool = False


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


def is_stale(contact: Contact, today: date) -> bool:
    """Not updated or verified in the last 18 months (a register's number
    without a date counts as never verified)."""
    if contact.verified_on is None:
        return contact.from_register
    return contact.verified_on < months_before(today, MAX_UNVERIFIED_MONTHS)


def check_contact(contact: Contact | None, today: date) -> tuple[str | None, Reason | None]:
    """(E.164 number, None) if the contact may get an SMS, else (None, why not):
    the register could not be asked (a reason in :data:`WAIT_FOR`: wait, do
    not cancel), reserved, no number, stale, may not be notified, not a
    mobile number. Blocks (STOP, permanent failures) are checked separately:
    :func:`blocks_for`."""
    if contact is not None and contact.unavailable:
        return None, Reason.REGISTER_UNAVAILABLE
    if contact is not None and contact.reserved:
        return None, Reason.RESERVED
    if contact is None or not contact.mobile:
        return None, Reason.NO_MOBILE
    if is_stale(contact, today):
        return None, Reason.STALE_NUMBER
    if not contact.notifiable:
        return None, Reason.NOT_NOTIFIABLE
    e164 = normalise_mobile(contact.mobile)
    if e164 is None:
        return None, Reason.NOT_MOBILE
    return e164, None


def _block_reason(reason: str) -> Reason:
    return Reason.OPTED_OUT if reason == BlockReason.OPTED_OUT else Reason.NUMBER_FAILED


async def block_for(session: AsyncSession, e164: str) -> Reason | None:
    row = await session.get(SmsNumberBlock, e164)
    return None if row is None else _block_reason(row.reason)


async def blocks_for(session: AsyncSession, numbers: Sequence[str]) -> dict[str, Reason]:
    """:func:`block_for` for many numbers in one query: the blocked ones only."""
    if not numbers:
        return {}
    found = await session.execute(
        select(SmsNumberBlock.e164, SmsNumberBlock.reason)
        .where(SmsNumberBlock.e164.in_(sorted(set(numbers)))))
    return {e164: _block_reason(reason) for e164, reason in found}


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
