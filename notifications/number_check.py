"""A one-time code to a mobile number before it is used (``/profil/mobil``).

A number a patient types on the profile is not used for their text messages
until they type back the code sent to it. :func:`start` writes a
:class:`~notifications.models.NumberCheck` and a ``number_check`` row in the
outbox in one transaction, so the code goes by the same worker as every other
text and counts against the texts-per-number cap. :func:`confirm` checks a
typed code against the patient's own open check.

The code is never stored or logged: it is six digits derived with the
service's key (:func:`check_key`) from the check's random ``nonce``, and the
worker derives it again only to put it in the message (the outbox row keeps
the words with the code masked, see :func:`masked`).

Limits: a code is valid for :data:`VALID_FOR`, allows :data:`MAX_ATTEMPTS`
wrong tries (then a new code is needed), and a person gets at most
:data:`MAX_PER_HOUR` codes an hour. A new code replaces the earlier one.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final, Literal

import structlog
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core import tokens
from notifications.models import Notification, NumberCheck
from notifications.outbox import dispatch_after_commit
from notifications.recipients import Role
from notifications.statuses import Channel, NotificationStatus, Purpose

log = structlog.get_logger(__name__)

VALID_FOR: Final = timedelta(minutes=10)
MAX_ATTEMPTS: Final = 5
MAX_PER_HOUR: Final = 3
CODE_DIGITS: Final = 6
_HOUR: Final = timedelta(hours=1)


def check_key(link_key: bytes) -> bytes:
    """The key codes are derived with, from the SMS link key
    (``templates.link_key(SECRET_KEY)``, which both the web and the worker
    have), under a label of its own."""
    return tokens.mac(link_key, b"tanntid: number check codes", 32)


def code_for(key: bytes, nonce: str) -> str:
    """The six digits of the check with ``nonce``."""
    raw = tokens.mac(key, b"code:" + nonce.encode("ascii"), 8)
    return str(int.from_bytes(raw, "big") % 10**CODE_DIGITS).zfill(CODE_DIGITS)


def masked(body: str, code: str) -> str:
    """The message as the outbox keeps it: the code replaced by dots."""
    return body.replace(code, "\u2022" * len(code))


@dataclass(frozen=True)
class Started:
    outcome: Literal["sent", "too_many"]
    check: NumberCheck | None = None


async def start(session: AsyncSession, patient_id: int, e164: str, now: datetime) -> Started:
    """A new code to ``e164`` for the patient (in the caller's transaction),
    replacing any open one; refused after :data:`MAX_PER_HOUR` codes this hour."""
    recent = int((await session.execute(
        select(func.count()).select_from(NumberCheck)
        .where(NumberCheck.patient_id == patient_id,
               NumberCheck.created_at > now - _HOUR))).scalar_one())
    if recent >= MAX_PER_HOUR:
        log.info("number_check_refused", patient_id=patient_id, reason="too_many")
        return Started("too_many")
    for earlier in await _open_checks(session, patient_id):
        earlier.closed_at = now
    expires = now + VALID_FOR
    row = Notification(
        appointment_id=None, appointment_version=None, patient_id=patient_id,
        purpose=Purpose.NUMBER_CHECK, offset_minutes=0, channel=Channel.SMS,
        recipient_id=patient_id, recipient_role=Role.SELF, status=NotificationStatus.CREATED,
        created_at=now, status_at=now, due_at=now, send_after=now, expires_at=expires,
        to_e164=e164)
    session.add(row)
    await session.flush()
    check = NumberCheck(patient_id=patient_id, e164=e164, nonce=secrets.token_hex(16),
                        notification_id=row.id, attempts=0, created_at=now,
                        expires_at=expires)
    session.add(check)
    await session.flush()
    dispatch_after_commit(session, [row.id])
    log.info("number_check_started", patient_id=patient_id, check_id=check.id,
             notification_id=row.id)
    return Started("sent", check)


async def open_check(session: AsyncSession, patient_id: int) -> NumberCheck | None:
    """The patient's newest check not yet closed (maybe expired or used up)."""
    checks = await _open_checks(session, patient_id)
    return checks[0] if checks else None


async def _open_checks(session: AsyncSession, patient_id: int) -> list[NumberCheck]:
    return list((await session.execute(
        select(NumberCheck)
        .where(NumberCheck.patient_id == patient_id, NumberCheck.closed_at.is_(None))
        .order_by(NumberCheck.created_at.desc(), NumberCheck.id.desc())
        .with_for_update())).scalars())


@dataclass(frozen=True)
class Confirmed:
    outcome: Literal["right", "wrong", "expired", "exhausted", "none"]
    #: The number that is now the patient's (``right``).
    e164: str | None = None
    attempts_left: int = 0


def usable(check: NumberCheck, now: datetime) -> Literal["ok", "expired", "exhausted"]:
    if check.attempts >= MAX_ATTEMPTS:
        return "exhausted"
    if now >= check.expires_at:
        return "expired"
    return "ok"


async def confirm(session: AsyncSession, patient_id: int, typed: str, now: datetime,
                  key: bytes) -> Confirmed:
    """Check ``typed`` against the patient's own open check (in the caller's
    transaction). Only that patient's check is ever looked at. A right code
    closes it; a wrong one counts an attempt."""
    check = await open_check(session, patient_id)
    if check is None:
        return Confirmed("none")
    state = usable(check, now)
    if state != "ok":
        return Confirmed(state)
    digits = "".join(typed.split())
    if len(digits) == CODE_DIGITS and digits.isdigit() and tokens.same(
            digits.encode(), code_for(key, check.nonce).encode()):
        check.closed_at = now
        log.info("number_check_confirmed", patient_id=patient_id, check_id=check.id)
        return Confirmed("right", check.e164)
    check.attempts += 1
    left = MAX_ATTEMPTS - check.attempts
    log.info("number_check_wrong_code", patient_id=patient_id, check_id=check.id,
             attempts_left=left)
    return Confirmed("wrong" if left > 0 else "exhausted", attempts_left=left)

