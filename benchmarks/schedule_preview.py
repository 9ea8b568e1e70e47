"""``python -m benchmarks.schedule_preview``: the preview of a 12-week change
to one clinic's week, on PostgreSQL, in a fresh schema dropped afterwards.

The clinic has 8 chairs, each with two blocks a weekday (08:00–11:30 and
12:00–15:30, 15-minute slots), slots generated for 26 weeks and a share of
them booked. Timed: the preview of shortening a block, of changing a
block's slot length (every slot of that block removed and made anew, its
booked ones stranded) and of removing a block, each ``--rounds`` times.
The target is under 1 s for each; the exit status says only whether the
run could be made (0) or not (2): timings never decide it.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import time
import uuid
from datetime import date, datetime
from datetime import time as clock

from sqlalchemy import insert, select

from benchmarks import compose
from booking import schedule, schedule_changes
from booking.models import (
    Appointment,
    AppointmentType,
    Chair,
    Clinic,
    County,
    Patient,
    ScheduleTemplate,
    Slot,
    schedule_template_types,
)
from booking.schedule_changes import Block, Change
from booking.statuses import SlotStatus
from core.db import Base, Database, create_database
from core.locale import OSLO

DEFAULT_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
TARGET_SECONDS = 1.0


async def _admin(url: str, statement: str) -> None:
    admin = create_database(url, pool_size=1, max_overflow=0)
    try:
        async with admin.engine.begin() as conn:
            await conn.exec_driver_sql(statement)
    finally:
        await admin.dispose()


async def build(db: Database, *, chairs: int, weeks: int, booked: float, today: date,
                now: datetime, rng: random.Random) -> tuple[int, int, list[int], int]:
    """The clinic; returns (clinic id, county id, chair ids, appointment type id)."""
    async with db.write() as s:
        county = County(code="03", name="Oslo")
        s.add(county)
        await s.flush()
        clinic = Clinic(county_id=county.id, slug="benchmark", name="Benchmark",
                        street_address="Storgata 1", postal_code="0155", postal_town="Oslo",
                        municipality_code="0301", municipality_name="Oslo", latitude=59.9,
                        longitude=10.7, phone="+4722000000", opening_hours={})
        s.add(clinic)
        kind = AppointmentType(county_id=county.id, code="exam",
                               names={"nb": "Undersøkelse"}, duration_minutes=15)
        s.add(kind)
        await s.flush()
        chair_rows = [Chair(clinic_id=clinic.id, name=f"Stol {i + 1}") for i in range(chairs)]
        s.add_all(chair_rows)
        await s.flush()
        for chair in chair_rows:
            for weekday in range(5):
                for start, end in ((clock(8), clock(11, 30)), (clock(12), clock(15, 30))):
                    template = ScheduleTemplate(chair_id=chair.id, weekday=weekday,
                                                starts_at=start, ends_at=end, slot_minutes=15,
                                                valid_from=date(today.year - 1, 1, 1))
                    s.add(template)
                    await s.flush()
                    await s.execute(insert(schedule_template_types).values(
                        template_id=template.id, appointment_type_id=kind.id))
        patient = Patient(identity_hash=b"b" * 32, identity_encrypted=b"x",
                          given_name="Bench", family_name="Mark",
                          birth_date=date(1980, 1, 1))
        s.add(patient)
        await s.flush()
        ids = (clinic.id, county.id, [c.id for c in chair_rows], kind.id, patient.id)
    await schedule.generate_slots(db, start=today, weeks=weeks, clinic_ids=[ids[0]], now=now)
    async with db.write() as s:
        slots = (await s.execute(select(Slot.id, Slot.chair_id, Slot.starts_at, Slot.ends_at)
                                 .where(Slot.clinic_id == ids[0], Slot.starts_at > now))).all()
        chosen = [row for row in slots if rng.random() < booked]
        await s.execute(Slot.__table__.update().where(  # type: ignore[attr-defined]
            Slot.id.in_([row.id for row in chosen])).values(status=SlotStatus.BOOKED))
        if chosen:
            await s.execute(insert(Appointment), [dict(
                patient_id=ids[4], clinic_id=ids[0], chair_id=row.chair_id, slot_id=row.id,
                appointment_type_id=ids[3], starts_at=row.starts_at, ends_at=row.ends_at,
                status="booked", source="record_system", created_by_kind="record_system",
                created_by="system:benchmark") for row in chosen])
    return ids[0], ids[1], ids[2], ids[3]


async def _template(db: Database, chair_id: int) -> ScheduleTemplate:
    async with db.read() as s:
        return (await s.execute(select(ScheduleTemplate).where(
            ScheduleTemplate.chair_id == chair_id).order_by(ScheduleTemplate.id).limit(1)
        )).scalar_one()


async def run(args: argparse.Namespace) -> int:
    compose()
    rng = random.Random(7)
    now = datetime.now(OSLO)
    today = now.date()
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    try:
        await _admin(args.database_url, f'CREATE SCHEMA "{schema}"')
    except OSError as error:
        print(f"no PostgreSQL at {args.database_url}: {error}", file=sys.stderr)
        return 2
    db = create_database(args.database_url,
                         connect_args={"server_settings": {"search_path": schema}})
    try:
        async with db.engine.begin() as conn:
            await conn.run_sync(Base.metadata.create_all)
        t0 = time.perf_counter()
        clinic_id, county_id, chairs, kind_id = await build(
            db, chairs=args.chairs, weeks=args.weeks, booked=args.booked, today=today,
            now=now, rng=rng)
        async with db.read() as s:
            from sqlalchemy import func
            slot_count = await s.scalar(select(func.count()).select_from(Slot))
        print(f"schedule preview benchmark: 1 clinic, {args.chairs} chairs, {args.weeks} weeks "
              f"of slots ({slot_count:,}), {args.booked:.0%} booked; built in "
              f"{time.perf_counter() - t0:.1f} s")
        template = await _template(db, chairs[0])
        base = Block(template.weekday, template.starts_at, template.ends_at, 15,
                     template.valid_from, None, True, (kind_id,))
        changes = {
            "shorten a block": Change("edit", chairs[0], template.id,
                                      Block(**{**base.__dict__, "ends_at": clock(9)})),
            "change slot length": Change("edit", chairs[0], template.id,
                                         Block(**{**base.__dict__, "slot_minutes": 30})),
            "remove a block": Change("remove", chairs[0], template.id),
        }
        worst = 0.0
        for name, change in changes.items():
            times = []
            plan = None
            for _ in range(args.rounds):
                t = time.perf_counter()
                plan = await schedule_changes.preview(db, clinic_id=clinic_id,
                                                      county_id=county_id, change=change)
                times.append(time.perf_counter() - t)
            assert plan is not None
            p95 = sorted(times)[max(0, int(len(times) * 0.95) - 1)]
            worst = max(worst, p95)
            print(f"  {name:<20} median {statistics.median(times) * 1000:7.1f} ms, "
                  f"p95 {p95 * 1000:7.1f} ms ({args.rounds} runs; +{plan.plan.added_by_change} "
                  f"-{len(plan.plan.removed)} slots, {len(plan.plan.stranded)} stranded)")
        verdict = "under" if worst < TARGET_SECONDS else "OVER"
        print(f"preview of a 12-week change: p95 {worst * 1000:.0f} ms, {verdict} the "
              f"{TARGET_SECONDS:.0f} s target")
        return 0
    finally:
        await db.dispose()
        await _admin(args.database_url, f'DROP SCHEMA "{schema}" CASCADE')


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.schedule_preview",
                                     description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL")
                        or os.environ.get("TEST_DATABASE_URL") or DEFAULT_URL)
    parser.add_argument("--chairs", type=int, default=8)
    parser.add_argument("--weeks", type=int, default=26)
    parser.add_argument("--booked", type=float, default=0.4)
    parser.add_argument("--rounds", type=int, default=20)
    return asyncio.run(run(parser.parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
