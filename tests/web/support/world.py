"""Two counties for the support console: Oslo ("03", the support user's own)
and Rogaland ("11"). Kari has an appointment in Oslo in three days whose
every message failed (an SMS the provider could not deliver, a Helsenorge
message refused); Per has one only in Rogaland."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import select
from starlette.applications import Starlette

from booking.models import AuditEntry
from core.db import Database, utcnow
from core.identity import IdentityVault, synthetic_number
from notifications.models import Notification, NotificationEvent
from notifications.statuses import Channel, NotificationStatus, Purpose, Reason
from tests import factories
from tests.web.patient.world import add_appointment, hours_from_now

_rng = random.Random(14)
KARI_MOBILE = "+4791234567"


@dataclass(frozen=True)
class SupportWorld:
    kari_id: int
    kari_pid: str
    per_id: int
    per_pid: str
    appointment_id: int
    per_appointment_id: int
    sms_id: int  # Kari's failed SMS
    blocked_id: int  # Kari's reminder never sent (KRR reservation)
    per_sms_id: int


async def _notification(session, appointment, *, status: str, channel: str = Channel.SMS,
                        purpose: str = Purpose.CONFIRMATION, offset: int = 0,
                        reason: str | None = None, error_code: int | None = None,
                        to: str | None = KARI_MOBILE) -> Notification:
    now = utcnow()
    row = Notification(
        appointment_id=appointment.id, appointment_version=1, patient_id=appointment.patient_id,
        purpose=purpose, offset_minutes=offset, channel=channel,
        recipient_id=appointment.patient_id, recipient_role="patient", status=status,
        reason=reason, error_code=error_code, template_id=f"{purpose}-sms",
        template_version=2, language="nb", body="Hei", to_e164=to,
        created_at=now - timedelta(hours=2), status_at=now - timedelta(hours=1),
        due_at=now - timedelta(hours=2), send_after=now - timedelta(hours=2),
        expires_at=appointment.starts_at)
    session.add(row)
    await session.flush()
    session.add(NotificationEvent(notification_id=row.id, occurred_at=now - timedelta(hours=2),
                                  from_status=None, to_status=NotificationStatus.CREATED,
                                  source="outbox"))
    session.add(NotificationEvent(notification_id=row.id, occurred_at=now - timedelta(hours=1),
                                  from_status=NotificationStatus.CREATED, to_status=status,
                                  source="receipt", reason=reason, error_code=error_code))
    await session.flush()
    return row


async def build_support_world(app: Starlette) -> SupportWorld:
    db: Database = app.state.db
    vault: IdentityVault = app.state.vault
    async with db.write() as session:
        oslo = await factories.county(session, code="03", name="Oslo")
        rogaland = await factories.county(session, code="11", name="Rogaland")
        oslo_clinic = await factories.clinic(session, oslo, name="Tannklinikken Grünerløkka",
                                             slug="tannklinikken-grunerlokka")
        stavanger = await factories.clinic(session, rogaland, name="Tannklinikken Stavanger",
                                           slug="tannklinikken-stavanger-sentrum")
        kind = await factories.appointment_type(session, oslo.id)
        kind_r = await factories.appointment_type(session, rogaland.id)
        kari_pid = synthetic_number(date(1980, 5, 17), _rng)
        kari = await factories.patient(session, date(1980, 5, 17), identity_number=kari_pid,
                                       identity_hash=vault.lookup_hash(kari_pid),
                                       identity_encrypted=vault.encrypt(kari_pid),
                                       given_name="Kari", family_name="Nordmann",
                                       mobile=KARI_MOBILE)
        per_pid = synthetic_number(date(1975, 3, 2), _rng)
        per = await factories.patient(session, date(1975, 3, 2), identity_number=per_pid,
                                      identity_hash=vault.lookup_hash(per_pid),
                                      identity_encrypted=vault.encrypt(per_pid),
                                      given_name="Per", family_name="Vestlending")
        appointment = await add_appointment(session, oslo_clinic, kari.id, kind,
                                            hours_from_now(24 * 3))
        per_appointment = await add_appointment(session, stavanger, per.id, kind_r,
                                                hours_from_now(24 * 2))
        sms = await _notification(session, appointment,
                                  status=NotificationStatus.PERMANENT_FAILURE, error_code=30005)
        blocked = await _notification(session, appointment, status=NotificationStatus.CANCELLED,
                                      purpose=Purpose.REMINDER, offset=24 * 60,
                                      reason=Reason.RESERVED, to=None)
        per_sms = await _notification(session, per_appointment,
                                      status=NotificationStatus.PERMANENT_FAILURE,
                                      error_code=30005, to="+4798765432")
    return SupportWorld(kari.id, kari_pid, per.id, per_pid, appointment.id, per_appointment.id,
                        sms.id, blocked.id, per_sms.id)


async def audit_rows(db: Database, action: str) -> list[AuditEntry]:
    async with db.read() as session:
        return list((await session.execute(
            select(AuditEntry).where(AuditEntry.action == action)
            .order_by(AuditEntry.id))).scalars())


async def notifications_of(db: Database, appointment_id: int) -> list[Notification]:
    async with db.read() as session:
        return list((await session.execute(
            select(Notification).where(Notification.appointment_id == appointment_id)
            .order_by(Notification.id))).scalars())
