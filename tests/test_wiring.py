"""Every composition root registers the outbox as the appointment events
listener, and the booking service refuses to run without one."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

import benchmarks
import benchmarks.__main__ as benchmark_main
import benchmarks.notifications as notification_benchmark
from booking import events, service
from booking.audit import Actor
from booking.models import Appointment, AuditEntry, Slot
from booking.statuses import SlotStatus
from core.settings import Settings
from notifications import outbox
from tests.booking.booking_world import NOW, make_world


@pytest.fixture
def no_listener() -> Iterator[None]:
    """No listener registered for the test; the session's is put back after."""
    previous = events.set_listener(None)
    yield
    events.set_listener(previous)


def settings_for(tmp_path: Path) -> Settings:
    return Settings.from_env({"DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'w.db'}"})


def test_create_app_registers_the_outbox(no_listener, tmp_path):
    from web.app import create_app

    create_app(settings_for(tmp_path))
    assert events.listener() is outbox.EVENTS


def test_the_cli_registers_the_outbox(no_listener, tmp_path, monkeypatch):
    import web.cli

    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'w.db'}")
    monkeypatch.setattr(web.cli, "migrate", lambda url: None)
    assert web.cli.main(["migrate"]) == 0
    assert events.listener() is outbox.EVENTS


async def test_the_worker_start_registers_the_outbox(no_listener, tmp_path):
    from notifications.worker import shutdown, startup

    ctx = {"settings": settings_for(tmp_path).notifications, "redis": object()}
    await startup(ctx)
    try:
        assert events.listener() is outbox.EVENTS
    finally:
        await shutdown(ctx)


class Stop(Exception):
    pass


def test_the_benchmarks_register_the_outbox(no_listener, monkeypatch):
    benchmarks.compose()
    assert events.listener() is outbox.EVENTS


async def test_each_benchmark_run_composes_first(no_listener, monkeypatch):
    async def stop(*args: object) -> None:
        raise Stop

    class NoRedis:
        def start(self) -> None:
            raise Stop

    monkeypatch.setattr(benchmark_main, "_admin", stop)
    with pytest.raises(Stop):
        await benchmark_main.run(argparse.Namespace(
            seed=1, clients=1, rounds=1, scale=0.001, database_url="postgresql://unused"))
    assert events.listener() is outbox.EVENTS

    events.set_listener(None)
    monkeypatch.setattr(notification_benchmark, "PrivateRedis", NoRedis)
    with pytest.raises(Stop):
        await notification_benchmark.run(1, 1, 1.0)
    assert events.listener() is outbox.EVENTS


async def test_the_service_refuses_without_a_listener_and_changes_nothing(db, no_listener):
    w = await make_world(db)
    with pytest.raises(RuntimeError, match="appointment events listener"):
        await service.book(db, Actor.patient(w.adult.id), patient_id=w.adult.id,
                           slot_id=w.slots[0].id, appointment_type_id=w.exam.id, now=NOW)
    async with db.read() as session:
        assert (await session.execute(
            select(func.count()).select_from(Appointment))).scalar_one() == 0
        assert (await session.execute(
            select(func.count()).select_from(AuditEntry))).scalar_one() == 0
        assert (await session.execute(select(Slot.status).where(Slot.id == w.slots[0].id))
                ).scalar_one() == SlotStatus.FREE


async def test_change_and_cancel_refuse_without_a_listener(db):
    w = await make_world(db)
    booked = (await service.book(db, Actor.patient(w.adult.id), patient_id=w.adult.id,
                                 slot_id=w.slots[0].id, appointment_type_id=w.exam.id,
                                 now=NOW)).appointment
    previous = events.set_listener(None)
    try:
        with pytest.raises(RuntimeError, match="appointment events listener"):
            await service.change(db, Actor.patient(w.adult.id), appointment_id=booked.id,
                                 new_slot_id=w.slots[1].id, now=NOW)
        with pytest.raises(RuntimeError, match="appointment events listener"):
            await service.cancel(db, Actor.patient(w.adult.id), appointment_id=booked.id,
                                 now=NOW)
    finally:
        events.set_listener(previous)
    async with db.read() as session:
        statuses = (await session.execute(select(Slot.id, Slot.status).where(
            Slot.id.in_([w.slots[0].id, w.slots[1].id])))).all()
        count = (await session.execute(select(func.count()).select_from(Appointment))
                 ).scalar_one()
    assert dict(statuses) == {w.slots[0].id: SlotStatus.BOOKED, w.slots[1].id: SlotStatus.FREE}
    assert count == 1


def test_the_booking_flow_path_is_the_same_everywhere() -> None:
    from web.views import clinics
    from web.views.booking import pages
    assert clinics.BOOK == pages.BOOK
