"""Helpers for the reliability tests and the notification benchmark: a fresh
PostgreSQL database, a private ``redis-server`` that can be stopped and
started again on the same port, the real ``tanntid worker`` as a subprocess,
and due notifications written in bulk.

The worker is the real command (``python -m web.cli worker``) configured only
through the environment. It cannot be pointed at a PostgreSQL *schema* (the
``DATABASE_URL`` is handed to SQLAlchemy/asyncpg as is, with no way to set a
``search_path``), so each test gets a database of its own. Its queue name is
fixed (``tanntid:notifications``), so each test also gets a Redis of its own.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, select, text, update

import web.schema  # noqa: F401  (every table, for create_all)
from booking import service
from booking.audit import Actor
from booking.models import (
    Appointment,
    AppointmentStatus,
    County,
    Slot,
    SlotStatus,
)
from core.db import Base, Database, create_database, utcnow
from notifications.models import Notification
from notifications.statuses import Channel, NotificationStatus, Purpose
from tests.booking.booking_world import make_world

ROOT = Path(__file__).resolve().parents[2]
#: A sender number outside the Norwegian mobile ranges the log check looks for.
FROM_NUMBER = "+4759440000"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def admin_url(url: str) -> str:
    """The same server, its ``postgres`` maintenance database."""
    base, _, _ = url.rpartition("/")
    return f"{base}/postgres"


@asynccontextmanager
async def fresh_database(server_url: str, *, pool_size: int = 10
                         ) -> AsyncIterator[tuple[str, Database]]:
    """``CREATE DATABASE tanntid_rel_<hex>`` with every table; dropped afterwards.
    Yields its URL (for a subprocess) and a :class:`Database` on it."""
    name = f"tanntid_rel_{uuid.uuid4().hex[:12]}"
    admin = create_database(admin_url(server_url), pool_size=1, max_overflow=0)
    async with admin.engine.connect() as conn:
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = f"{server_url.rpartition('/')[0]}/{name}"
    db = create_database(url, pool_size=pool_size, max_overflow=20)
    try:
        async with db.engine.begin() as conn:
            await conn.run_sync(Base.metadata.create_all)
        yield url, db
    finally:
        await db.dispose()
        async with admin.engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.dispose()


# --- a private Redis ----------------------------------------------------------

class PrivateRedis:
    """``redis-server`` on a free loopback port, without persistence: stopping
    it loses whatever was queued, as a crashed or flushed Redis would."""

    def __init__(self, port: int | None = None) -> None:
        self.binary = shutil.which("redis-server")
        self.port = port or free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10.0) -> None:
        assert self.binary, "redis-server is not installed"
        self.process = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--daemonize", "no", "--loglevel", "warning"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                pass
            if self.process.poll() is not None:
                raise RuntimeError(f"redis-server exited ({self.process.returncode})")
            time.sleep(0.05)
        raise RuntimeError("redis-server did not answer")

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.kill()  # by pid: our own process only
            self.process.wait(10)
        self.process = None


# --- the real worker process --------------------------------------------------

@dataclass
class WorkerProcess:
    """``python -m web.cli worker`` with ``env``; output kept in a temp file."""

    env: dict[str, str]
    name: str = "worker"
    process: subprocess.Popen[bytes] | None = None
    outputs: list[str] = field(default_factory=list)
    _log: Any = None

    def start(self) -> int:
        self._log = tempfile.TemporaryFile()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "web.cli", "worker"], cwd=ROOT,
            env={**os.environ, **self.env}, stdout=self._log, stderr=subprocess.STDOUT)
        return self.process.pid

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, sig)
            self.process.wait(15)
        self._collect()

    def stop(self) -> None:
        """SIGTERM (arq's graceful shutdown), SIGKILL if it lingers."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self._collect()

    def _collect(self) -> None:
        if self._log is not None:
            self._log.seek(0)
            self.outputs.append(self._log.read().decode("utf-8", "replace"))
            self._log.close()
            self._log = None
        self.process = None

    @property
    def output(self) -> str:
        return "".join(self.outputs)


def worker_env(database_url: str, redis_url: str, *, account_sid: str, auth_token: str,
               twilio_url: str) -> dict[str, str]:
    return {
        "DATABASE_URL": database_url, "REDIS_URL": redis_url,
        "TWILIO_ACCOUNT_SID": account_sid, "TWILIO_AUTH_TOKEN": auth_token,
        "TWILIO_FROM": FROM_NUMBER, "TWILIO_API_URL": twilio_url,
        # Nobody listens there: the fake's callbacks are switched off.
        "PUBLIC_URL": "http://127.0.0.1:9", "SECRET_KEY": "reliability-test-secret",
        "TANNTID_ENV": "test", "LOG_LEVEL": "INFO", "LOG_JSON": "1",
    }


# --- data -----------------------------------------------------------------------

async def open_all_day(db: Database) -> None:
    """Every hour may send (the worker runs on the real clock)."""
    async with db.write() as session:
        await session.execute(update(County).values(
            quiet_hours={"send_from": "00:00", "send_until": "23:59"}))


def fake_number(i: int) -> str:
    """Distinct numbers in a range the log check does not take for Norwegian
    mobiles (+47 then 5: neither 4 nor 9)."""
    return f"+4758{i:06d}"


async def due_reminders(db: Database, count: int, *, chunk: int = 5000) -> list[int]:
    """``count`` reminders due now, in bulk, one per appointment as in a real
    reminder wave: one real booking (its own rows are cancelled), then
    ``count`` booked appointments like it on slots of their own, each with a
    reminder row like the ones a booking writes, with a number of its own (as
    a corrected-number resend carries one), so a provider lookup by number
    finds only that row's message."""
    world = await make_world(db)
    await open_all_day(db)
    now = utcnow()
    staff = Actor.staff("s1", {world.clinic.id})
    booked = (await service.book(db, staff, patient_id=world.adult.id,
                                 slot_id=world.slots[0].id,
                                 appointment_type_id=world.exam.id, now=now)).appointment
    async with db.write() as session:
        await session.execute(update(Notification)
                              .where(Notification.appointment_id == booked.id)
                              .values(status=NotificationStatus.CANCELLED, status_at=now))
    length = booked.ends_at - booked.starts_at
    first = booked.starts_at + timedelta(days=30)
    ids: list[int] = []
    for start in range(0, count, chunk):
        numbers = range(start, min(start + chunk, count))
        times = [first + i * length for i in numbers]
        async with db.write() as session:
            slot_ids = await _insert_many(session, Slot, [dict(
                clinic_id=booked.clinic_id, chair_id=booked.chair_id, starts_at=at,
                ends_at=at + length, status=SlotStatus.BOOKED, released=True, version=1,
            ) for at in times])
            appointment_ids = await _insert_many(session, Appointment, [dict(
                patient_id=booked.patient_id, clinic_id=booked.clinic_id,
                chair_id=booked.chair_id, slot_id=slot_id,
                appointment_type_id=booked.appointment_type_id, starts_at=at,
                ends_at=at + length, status=AppointmentStatus.BOOKED,
                source=booked.source, created_by_kind=booked.created_by_kind,
                created_by=booked.created_by, created_at=now, updated_at=now, version=1,
            ) for slot_id, at in zip(slot_ids, times, strict=True)])
            ids += await _insert_many(session, Notification, [
                dict(appointment_id=appointment_id, appointment_version=1,
                     patient_id=world.adult.id, purpose=Purpose.REMINDER,
                     offset_minutes=24 * 60, channel=Channel.SMS, recipient_id=world.adult.id,
                     recipient_role="self", status=NotificationStatus.CREATED,
                     to_e164=fake_number(i), created_at=now, status_at=now,
                     due_at=now - timedelta(minutes=1), send_after=now - timedelta(minutes=1),
                     expires_at=now + timedelta(days=1), resend_no=0, in_doubt=False,
                     attempts=0)
                for i, appointment_id in zip(numbers, appointment_ids, strict=True)])
    return ids


async def _insert_many(session: Any, model: Any, rows: list[dict[str, Any]]) -> list[int]:
    """Insert ``rows``; their new ids in the same order."""
    result = await session.execute(
        insert(model).returning(model.id, sort_by_parameter_order=True), rows)
    return list(result.scalars())


async def status_counts(db: Database, ids: list[int] | None = None) -> dict[str, int]:
    query = select(Notification.status, func.count()).group_by(Notification.status)
    if ids is not None:
        query = query.where(Notification.id.in_(ids))
    async with db.read() as session:
        return {status: n for status, n in (await session.execute(query)).all()}


async def expire_leases(db: Database) -> int:
    """What the clock does to a dead worker's leases (2 minutes): end them now.
    Only while no worker runs."""
    async with db.write() as session:
        result = await session.execute(text(
            "UPDATE notifications SET claimed_until = now() - interval '1 second', "
            "send_after = LEAST(send_after, now() - interval '1 second') "
            "WHERE status = 'created' AND claimed_until > now()"))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def forget_dead_workers_jobs(redis_url: str) -> int:
    """What the clock does to a dead worker's arq "in progress" marks: end
    them now (only while no worker runs). arq holds them for the longest job
    timeout plus 10 s, which is 3,610 s here (``purge_after_retention``'s
    3,600 s timeout counts for every job), so without this the jobs the killed
    worker had started but not yet claimed would wait an hour."""
    import redis.asyncio as redis_lib

    client = redis_lib.Redis.from_url(redis_url)
    try:
        keys = [key async for key in client.scan_iter(match="arq:in-progress:*")]
        if keys:
            await client.delete(*keys)
        return len(keys)
    finally:
        await client.aclose()


async def hurry_in_doubt(db: Database) -> int:
    """Bring forward the one-minute wait before an in-doubt row is reconciled
    (leases held by a live worker are left alone)."""
    async with db.write() as session:
        result = await session.execute(text(
            "UPDATE notifications SET send_after = now() "
            "WHERE status = 'created' AND send_after > now() "
            "AND (claimed_until IS NULL OR claimed_until <= now())"))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def wait_for(condition: Callable[[], Any], within: float, *, every: float = 0.2,
                   between: Callable[[], Any] | None = None) -> bool:
    """Poll ``condition`` (sync or async) until true or ``within`` seconds."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        value = condition()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return True
        if between is not None:
            extra = between()
            if asyncio.iscoroutine(extra):
                await extra
        await asyncio.sleep(every)
    return False
