"""Bulk resend with the real worker process (``python -m web.cli worker``),
PostgreSQL, Redis and the fake Twilio on loopback (issue 14, "Proof"): the
same bulk resend run twice delivers each message once, and skips the
cancelled appointment's message both times."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import date, timedelta

import pytest
from arq.connections import ArqRedis
from sqlalchemy import select, update

from booking.audit import Actor
from booking.models import Appointment, AppointmentStatus, Clinic
from core.db import Database, utcnow
from notifications import bulk_resend, outbox
from notifications.models import Notification
from notifications.statuses import NotificationStatus
from notifications.worker import ArqQueue, arq_dispatcher
from tests import factories as f
from tests.logcheck import keep_output
from tests.notifications import real_worker
from tests.notifications.real_worker import SLACK, env
from tests.notifications.reliability_helpers import (
    WorkerProcess,
    due_reminders,
    status_counts,
    wait_for,
)

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow,
              pytest.mark.real_clock]

#: The fixtures these tests share with the other real-worker tests.
database, redis, fake = real_worker.database, real_worker.redis, real_worker.fake

COUNT = 5


async def _failed_in_an_outage(db: Database) -> tuple[list[int], int, Actor]:
    """``COUNT`` reminders that failed ten minutes ago with 30001, each to a
    patient of their own with a mobile of their own; the last appointment
    is cancelled since."""
    ids = await due_reminders(db, COUNT)
    now = utcnow()
    async with db.write() as session:
        for i, notification_id in enumerate(ids):
            patient = await f.patient(session, birth_date=date(1960 + i, 3, 4),
                                      mobile=f"+479901{i:04d}")
            row = await session.get(Notification, notification_id)
            assert row is not None and row.appointment_id is not None
            row.patient_id = row.recipient_id = patient.id
            row.status = NotificationStatus.TECHNICAL_FAILURE
            row.error_code = 30001
            row.status_at = now - timedelta(minutes=10)
            await session.execute(update(Appointment).where(
                Appointment.id == row.appointment_id).values(
                    patient_id=patient.id,
                    **({"status": AppointmentStatus.CANCELLED} if i == COUNT - 1 else {})))
        clinic_id, county_id = (await session.execute(
            select(Clinic.id, Clinic.county_id).join(Appointment,
                                                      Appointment.clinic_id == Clinic.id)
            .where(Appointment.id == row.appointment_id))).one()
    return ids, county_id, Actor.staff("support-test", {clinic_id})


async def _copies(db: Database, ids: list[int]) -> list[int]:
    async with db.read() as session:
        return list((await session.execute(select(Notification.id).where(
            Notification.resend_of_id.in_(ids)).order_by(Notification.id))).scalars())


async def test_a_bulk_resend_run_twice_delivers_each_message_once(database, redis, fake):
    url, db = database
    twilio, _ = fake
    ids, county_id, actor = await _failed_in_an_outage(db)
    selection = bulk_resend.Selection(
        since=utcnow() - timedelta(hours=1), until=utcnow() + timedelta(minutes=5),
        error_code=30001)
    pool = ArqRedis.from_url(redis.url)
    previous = outbox.set_dispatcher(arq_dispatcher(ArqQueue(pool)))
    worker = WorkerProcess(env(url, redis, fake), name="worker-bulk-resend")
    try:
        worker.start()
        first = await bulk_resend.run(db, actor, county_id, selection, reason="Outage")
        assert (first.resent, dict(first.skipped)) == (COUNT - 1,
                                                       {"appointment_cancelled": 1})
        copies = await _copies(db, ids)
        assert len(copies) == COUNT - 1
        finished = await wait_for(
            lambda: _handed_over(db, copies), 60 * SLACK, every=0.3)
        assert finished, f"not all handed over: {await status_counts(db, copies)}"
        second = await bulk_resend.run(db, actor, county_id, selection, reason="Outage")
        assert (second.resent, dict(second.skipped)) == (
            0, {"already_resent": COUNT - 1, "appointment_cancelled": 1})
        await asyncio.sleep(2.5)  # one more enqueue_due pass: nothing goes twice
    finally:
        outbox.set_dispatcher(previous)
        await pool.aclose()
        worker.stop()
        keep_output("worker-bulk-resend", worker.output)
    assert await _copies(db, ids) == copies
    assert twilio.deliveries() == Counter({nid: 1 for nid in copies})


async def _handed_over(db: Database, ids: list[int]) -> bool:
    return "created" not in await status_counts(db, ids)
