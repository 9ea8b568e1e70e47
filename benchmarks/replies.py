"""Two-way SMS latency: a reply posted to ``/webhooks/twilio/inbound`` (signed
as Twilio signs it) until its answer is handed to the (fake) provider,
through the real arq worker on Redis and PostgreSQL; beside a baseline taken
in the same run on the same worker: an answer-like outbox row written and
queued, until handed over (what delivery alone costs).

    .venv/bin/python -m benchmarks.replies [--count 200] [--concurrency 10]

Each of ``count`` patients has a booked appointment and got its confirmation;
each replies ``JA`` once (``concurrency`` at a time), which confirms the
appointment through the booking service and writes the answer. Needs
PostgreSQL (``TEST_DATABASE_URL``, default the local ``test`` database; a
fresh database is created and dropped) and Redis (``REDIS_URL``, default
``redis://127.0.0.1:6379/0``; keys of this run only). Issue 15's goal: 2 s p95.
Exit status 1 if a reply got no answer or did not confirm; timings never
decide it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import platform
import statistics
import sys
import time
import uuid
from contextlib import suppress
from datetime import timedelta
from typing import Any

import httpx
import structlog
from arq.connections import ArqRedis
from sqlalchemy import func, select
from starlette.applications import Starlette
from starlette.routing import Route
from twilio.request_validator import RequestValidator

from booking import service
from booking.audit import Actor
from booking.models import Appointment
from core.db import Database, utcnow
from core.settings import Settings
from notifications import jobs, outbox
from notifications.channels.base import SendOutcome, SmsResult
from notifications.models import Notification
from notifications.recipients import ProfileDirectory
from notifications.runtime import DeliveryConfig, Runtime
from notifications.statuses import Channel, NotificationStatus, Purpose
from notifications.templates import link_key
from notifications.webhooks import INBOUND_PATH, twilio_inbound
from notifications.worker import ArqQueue, make_worker
from tests import factories as f
from tests.notifications.reliability_helpers import fresh_database, open_all_day
from tests.services import postgres_url

PUBLIC_URL = "https://tanntid.example.no"
AUTH_TOKEN = "bench-twilio-token"
OUR_NUMBER = "+4759440000"


def mobile(i: int) -> str:
    return f"+479{i:07d}"


class TimedSms:
    """The fake provider: accepts everything and notes when each row came."""

    def __init__(self) -> None:
        self.at: dict[int, float] = {}
        self.to: dict[str, list[tuple[int, float]]] = {}
        self.arrived = asyncio.Event()

    async def send(self, *, notification_id: int, to_e164: str, body: str,
                   validity_seconds: int) -> SmsResult:
        moment = time.perf_counter()
        self.at[notification_id] = moment
        self.to.setdefault(to_e164, []).append((notification_id, moment))
        self.arrived.set()
        return SmsResult(SendOutcome.ACCEPTED, provider_ref=f"SMb{notification_id}",
                         status="sending")

    async def lookup(self, **_: Any) -> SmsResult | None:
        return None

    async def when(self, notification_id: int, within: float) -> float | None:
        """When row ``notification_id`` was handed over (None: not within)."""
        deadline = time.perf_counter() + within
        while notification_id not in self.at and time.perf_counter() < deadline:
            self.arrived.clear()
            with suppress(TimeoutError):
                await asyncio.wait_for(self.arrived.wait(), 0.05)
        return self.at.get(notification_id)

    async def first_to(self, number: str, after: int, within: float) -> float | None:
        """When the first row with an id above ``after`` went to ``number``."""
        deadline = time.perf_counter() + within
        while time.perf_counter() < deadline:
            for nid, moment in self.to.get(number, []):
                if nid > after:
                    return moment
            self.arrived.clear()
            try:
                await asyncio.wait_for(self.arrived.wait(), 0.05)
            except TimeoutError:
                pass
        return None


async def patients_with_confirmations(db: Database, runtime: Runtime, count: int
                                      ) -> list[tuple[int, str]]:
    """``count`` adults, each booked and told (appointment id, mobile)."""
    now = utcnow()
    start = (now + timedelta(days=3)).replace(minute=0, second=0, microsecond=0)
    async with db.write() as s:
        county = await f.county(s)
        clinic = await f.clinic(s, county)
        exam = await f.appointment_type(s, county.id, code="adult-exam", min_age=18,
                                        duration_minutes=30)
        chairs = [await f.chair(s, clinic) for _ in range(4)]
        templates = [await f.template(s, chair, [exam]) for chair in chairs]
        slots = [await f.slot(s, chairs[i % 4], start + timedelta(minutes=30 * (i // 4)),
                              templates[i % 4]) for i in range(count)]
        people = [await f.patient(s, mobile=mobile(i)) for i in range(count)]
    await open_all_day(db)
    booked: list[tuple[int, str]] = []
    for i, (slot, person) in enumerate(zip(slots, people, strict=True)):
        appointment = (await service.book(db, Actor.patient(person.id), patient_id=person.id,
                                          slot_id=slot.id, appointment_type_id=exam.id,
                                          now=now)).appointment
        booked.append((appointment.id, mobile(i)))
    async with db.read() as session:
        due = list((await session.execute(
            select(Notification.id).where(Notification.channel == Channel.SMS,
                                          Notification.purpose == Purpose.CONFIRMATION)
        )).scalars())
    await jobs.deliver_many(runtime, due)
    return booked


def signed(params: dict[str, str]) -> dict[str, str]:
    url = PUBLIC_URL + INBOUND_PATH
    return {"X-Twilio-Signature": RequestValidator(AUTH_TOKEN).compute_signature(url, params)}


async def replies(client: httpx.AsyncClient, sms: TimedSms, numbers: list[str],
                  concurrency: int, last_id: int) -> list[float | None]:
    semaphore = asyncio.Semaphore(concurrency)

    async def one(i: int, number: str) -> float | None:
        async with semaphore:
            params = {"MessageSid": f"SMbench{i:06d}{uuid.uuid4().hex[:8]}",
                      "AccountSid": "ACbench", "From": number, "To": OUR_NUMBER,
                      "Body": "Ja, jeg kommer", "NumMedia": "0"}
            started = time.perf_counter()
            response = await client.post(INBOUND_PATH, data=params, headers=signed(params))
            if response.status_code != 200:
                return None
            answered = await sms.first_to(number, last_id, 30.0)
            return None if answered is None else answered - started

    return list(await asyncio.gather(*(one(i, n) for i, n in enumerate(numbers))))


async def baseline(db: Database, queue: ArqQueue, sms: TimedSms, booked: list[tuple[int, str]],
                   concurrency: int) -> list[float | None]:
    """An answer-like row per number, written and queued as the reply job
    does, until handed over."""
    semaphore = asyncio.Semaphore(concurrency)
    async with db.read() as session:
        owners = dict((await session.execute(
            select(Appointment.id, Appointment.patient_id))).all())

    async def one(appointment_id: int, number: str) -> float | None:
        async with semaphore:
            started = time.perf_counter()
            now = utcnow()
            async with db.write() as session:
                row = Notification(
                    appointment_id=None, appointment_version=None,
                    patient_id=owners[appointment_id], purpose=Purpose.REPLY,
                    offset_minutes=0, channel=Channel.SMS, recipient_id=owners[appointment_id],
                    recipient_role="self", status=NotificationStatus.CREATED, created_at=now,
                    status_at=now, due_at=now, send_after=now,
                    expires_at=now + timedelta(hours=1), to_e164=number, body="Baseline.",
                    language="nb", template_id="bench.baseline", template_version=1)
                session.add(row)
                await session.flush()
                row_id = row.id
            await queue.enqueue_deliveries([(row_id, 0)])
            handed = await sms.when(row_id, 30.0)
            return None if handed is None else handed - started

    return list(await asyncio.gather(*(one(a, n) for a, n in booked)))


def summary(samples: list[float | None]) -> dict[str, Any]:
    done = sorted(s for s in samples if s is not None)
    if not done:
        return {"count": 0, "missing": len(samples)}
    p95 = done[min(len(done) - 1, round(0.95 * len(done)) - 1)]
    return {"count": len(done), "missing": len(samples) - len(done),
            "p50_s": round(statistics.median(done), 3), "p95_s": round(p95, 3),
            "max_s": round(done[-1], 3)}


async def run(count: int, concurrency: int) -> dict[str, Any]:
    outbox.subscribe()
    redis_url = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"
    prefix = f"bench-replies:{uuid.uuid4().hex[:10]}:"
    pool = ArqRedis.from_url(redis_url)
    sms = TimedSms()
    async with fresh_database(postgres_url(), pool_size=20) as (_, db):
        config = DeliveryConfig(public_url=PUBLIC_URL, link_key=link_key("bench-secret"),
                                reply_answers_per_day=5, own_numbers=frozenset({OUR_NUMBER}))
        runtime = Runtime(db=db, sms=sms, contacts=ProfileDirectory(db), config=config)
        queue = ArqQueue(pool, queue_name=f"{prefix}queue", job_prefix=prefix)
        runtime.queue = queue
        booked = await patients_with_confirmations(db, runtime, count)
        app = Starlette(routes=[Route(INBOUND_PATH, twilio_inbound, methods=["POST"])])
        app.state.settings = Settings(public_url=PUBLIC_URL, twilio_auth_token=AUTH_TOKEN)
        app.state.db = db
        app.state.notification_queue = queue
        worker = make_worker(runtime, pool, queue_name=f"{prefix}queue", job_prefix=prefix,
                             with_cron=False, poll_delay=0.02)
        task = asyncio.create_task(worker.async_run())
        try:
            base = await baseline(db, queue, sms, booked, concurrency)
            async with db.read() as session:
                last_id = int((await session.execute(
                    select(func.max(Notification.id)))).scalar_one())
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url=PUBLIC_URL) as client:
                started = time.perf_counter()
                measured = await replies(client, sms, [n for _, n in booked], concurrency,
                                         last_id)
                elapsed = time.perf_counter() - started
            async with db.read() as session:
                confirmed = int((await session.execute(
                    select(func.count()).select_from(Appointment)
                    .where(Appointment.status == "confirmed"))).scalar_one())
        finally:
            task.cancel()
            with suppress(asyncio.CancelledError):
                await task
            with suppress(Exception, asyncio.CancelledError):
                await worker.close()
            keys = [key async for key in pool.scan_iter(match=f"*{prefix}*")]
            if keys:
                await pool.delete(*keys)
            await pool.aclose()
    return {
        "benchmark": "replies", "count": count, "concurrency": concurrency,
        "machine": f"{platform.machine()} {os.cpu_count()} cores, Python "
                   f"{platform.python_version()}",
        "reply_to_answer": summary(measured), "baseline_delivery": summary(base),
        "replies_per_s": round(count / elapsed, 1), "confirmed": confirmed,
        "goal_p95_s": 2.0,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args(argv)
    structlog.configure(
        wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr))
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    result = asyncio.run(run(args.count, args.concurrency))
    reply, base = result["reply_to_answer"], result["baseline_delivery"]
    print(f"replies: {result['count']} at {result['concurrency']} at a time "
          f"({result['machine']})")
    print(f"  reply -> answer handed to the provider: p50 {reply.get('p50_s')} s, "
          f"p95 {reply.get('p95_s')} s, max {reply.get('max_s')} s, "
          f"missing {reply.get('missing')}")
    print(f"  baseline (answer row -> handed over):   p50 {base.get('p50_s')} s, "
          f"p95 {base.get('p95_s')} s, max {base.get('max_s')} s")
    print(f"  {result['replies_per_s']} replies/s; {result['confirmed']} confirmed; "
          f"goal p95 <= 2 s: {'met' if (reply.get('p95_s') or 99) <= 2.0 else 'NOT met'}")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as out:
            json.dump(result, out, indent=2)
    ok = reply.get("missing") == 0 and result["confirmed"] == result["count"]
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
