"""Reliability with the real worker process (``python -m web.cli worker``),
PostgreSQL, Redis and the fake Twilio on loopback (issue 5, "Proof"):

* the worker killed with SIGKILL in the middle of 1,000 reminders: after a
  restart each reaches the fake Twilio exactly once (counted by our id);
* Redis stopped while bookings happen: every booking succeeds, and every
  confirmation is delivered once Redis is back;
* the fake Twilio failing 30 % of calls with 500 or 429: all delivered, none twice.

The worker runs on the real clock, so two waits are shortened by moving the
rows' times instead: a dead worker's two-minute leases are ended at once
(:func:`expire_leases`, only while no worker runs), and the one minute an
in-doubt hand-over waits before it is reconciled is cut short
(:func:`hurry_in_doubt`, never for a row a live worker holds), and the killed
worker's arq "in progress" marks, which arq keeps for an hour here, are ended
(:func:`forget_dead_workers_jobs`).
"""

from __future__ import annotations

import asyncio
import signal
from collections import Counter
from datetime import date

import pytest
from arq.connections import ArqRedis

from booking import service
from booking.audit import Actor
from core.db import Database, utcnow
from notifications import outbox
from notifications.fakes.twilio import FakeTwilio
from notifications.statuses import Purpose
from notifications.worker import ArqQueue, arq_dispatcher
from tests import factories as f
from tests.booking.booking_world import make_world
from tests.logcheck import keep_output
from tests.notifications import real_worker
from tests.notifications.helpers import rows
from tests.notifications.real_worker import SLACK, env
from tests.notifications.reliability_helpers import (
    WorkerProcess,
    due_reminders,
    expire_leases,
    forget_dead_workers_jobs,
    hurry_in_doubt,
    open_all_day,
    status_counts,
    wait_for,
)

#: The real worker runs in a process of its own, on the machine's clock.
pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow,
              pytest.mark.real_clock]

#: The fixtures these tests share with the other real-worker tests.
database, redis, fake = real_worker.database, real_worker.redis, real_worker.fake


def _handed(twilio: FakeTwilio) -> int:
    return sum(twilio.deliveries().values())


async def _all_handed_over(db: Database, ids: list[int]) -> bool:
    counts = await status_counts(db, ids)
    return "created" not in counts


async def test_sigkill_in_the_middle_of_1000_reminders(database, redis, fake):
    url, db = database
    twilio, _ = fake
    ids = await due_reminders(db, 1000)
    worker = WorkerProcess(env(url, redis, fake), name="worker-sigkill")
    try:
        worker.start()
        assert await wait_for(lambda: _handed(twilio) >= 100, 60 * SLACK, every=0.02), \
            f"the worker handed nothing over:\n{worker.output[-2000:]}"
        worker.kill(signal.SIGKILL)
        at_kill = _handed(twilio)
        assert at_kill < len(ids), "killed too late to prove anything"
        interrupted = await expire_leases(db)
        marks = await forget_dead_workers_jobs(redis.url)
        worker.start()
        finished = await wait_for(lambda: _all_handed_over(db, ids), 90 * SLACK, every=0.5,
                                  between=lambda: hurry_in_doubt(db))
        worker.stop()
        assert finished, f"not all handed over: {await status_counts(db, ids)}"
    finally:
        worker.stop()
        keep_output("worker-sigkill", worker.output)
    deliveries = twilio.deliveries()
    assert deliveries == Counter({nid: 1 for nid in ids}), {
        "missing": len(set(ids) - set(deliveries)),
        "twice": [n for n, c in deliveries.items() if c > 1][:10], "at_kill": at_kill,
        "leases_cut": interrupted, "arq_marks": marks}
    # A reconciled row takes the provider's current status (the fake moves on).
    counts = await status_counts(db, ids)
    assert set(counts) <= {"sending", "delivered"} and sum(counts.values()) == len(ids)


async def test_bookings_while_redis_is_down_are_all_confirmed_once(database, redis, fake):
    url, db = database
    twilio, _ = fake
    world = await make_world(db, slot_count=8)
    await open_all_day(db)
    async with db.write() as session:
        patients = [await f.patient(session, birth_date=date(1970 + i, 1, 2),
                                    mobile=f"+479900{i:04d}") for i in range(7)]
    staff = Actor.staff("s1", {world.clinic.id})
    pool = ArqRedis.from_url(redis.url)
    previous = outbox.set_dispatcher(arq_dispatcher(ArqQueue(pool)))
    worker = WorkerProcess(env(url, redis, fake), name="worker-redis-down")
    appointments = []

    async def book(i: int) -> None:
        outcome = await service.book(db, staff, patient_id=patients[i].id,
                                     slot_id=world.slots[i].id,
                                     appointment_type_id=world.exam.id, now=utcnow())
        assert outcome.appointment.id is not None
        appointments.append(outcome.appointment)

    try:
        for i in range(2):
            await book(i)
        await asyncio.sleep(0.5)  # the dispatcher's enqueues reach Redis
        # each booking's confirmation and its Helsenorge row
        assert await pool.zcard("tanntid:notifications") == 4
        redis.stop()
        for i in range(2, 6):  # Redis is down: the bookings must not notice
            await book(i)
        await asyncio.sleep(2.5)  # the dispatcher gives up (its 2 s timeout)
        redis.start()  # same port, empty: what was queued before is gone
        await book(6)
        worker.start()
        confirmations = [r.id for a in appointments
                         for r in await rows(db, appointment_id=a.id)
                         if r.purpose == Purpose.CONFIRMATION]
        assert len(confirmations) == 7
        finished = await wait_for(lambda: _all_handed_over(db, confirmations), 60 * SLACK,
                                  every=0.3)
        assert finished, f"not all handed over: {await status_counts(db, confirmations)}"
        await asyncio.sleep(2.5)  # one more enqueue_due pass: nothing goes twice
    finally:
        outbox.set_dispatcher(previous)
        await pool.aclose()
        worker.stop()
        keep_output("worker-redis-down", worker.output)
    assert len(appointments) == 7
    assert twilio.deliveries() == Counter({nid: 1 for nid in confirmations})
    assert await status_counts(db, confirmations) == {"sending": 7}


async def test_provider_failing_30_percent_with_500_or_429(database, redis, fake):
    url, db = database
    twilio, _ = fake
    twilio.fail(0.3, (500, 429))
    ids = await due_reminders(db, 300)
    worker = WorkerProcess(env(url, redis, fake), name="worker-faults")
    try:
        worker.start()
        finished = await wait_for(lambda: _all_handed_over(db, ids), 90 * SLACK, every=0.5,
                                  between=lambda: hurry_in_doubt(db))
        assert finished, f"not all handed over: {await status_counts(db, ids)}"
        await asyncio.sleep(2.5)  # one more enqueue_due pass: nothing goes twice
    finally:
        worker.stop()
        keep_output("worker-faults", worker.output)
    assert twilio.injected_errors[500] > 0 and twilio.injected_errors[429] > 0
    deliveries = twilio.deliveries()
    assert deliveries == Counter({nid: 1 for nid in ids}), {
        "missing": len(set(ids) - set(deliveries)),
        "twice": [n for n, c in deliveries.items() if c > 1][:10]}
    counts = await status_counts(db, ids)
    assert set(counts) <= {"sending", "delivered"} and sum(counts.values()) == len(ids)

