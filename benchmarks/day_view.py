"""What the reception desk's day view costs on national-scale data: the
server's work for ``GET /staff/klinikk/{slug}/dag`` for a clinic with 8
chairs, beside a bare indexed select of the same day's appointment ids, in
the same run, interleaved request by request.

```sh
.venv/bin/python -m benchmarks.day_view [--appointments 2000000] [--patients 1000000]
                                        [--requests 300]
```

The data (a fresh PostgreSQL schema, dropped at the end): 400 clinics,
about 2,100 chairs, ``--patients`` patients and ``--appointments``
appointments, each in its own slot, spread over the clinics and the coming
months (2 million is a year of the country's appointments); the measured
clinic has 8 chairs and a full day (14 appointments a chair). Rows go in
with ``INSERT … SELECT generate_series`` and are analysed before measuring.

"Server time" is what the view does, timed in-process: find the clinic by
its slug, read and lay out the day (:func:`booking.day.load_day`), write the
audit entry, and render ``clinic/day.html`` in Bokmål. The baseline is
``SELECT id FROM appointments WHERE clinic_id = … AND starts_at in the
day`` on the same index and pool. Needs PostgreSQL (``$BENCH_DATABASE_URL``,
else ``$TEST_DATABASE_URL``, else the local ``test`` database). Exit status 2
when it cannot run; timings never decide it.
"""

# The SQL below is built from this module's own integer constants and
# arguments, never from outside text.
# ruff: noqa: S608

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from datetime import date, timedelta
from typing import Any

from sqlalchemy import select, text

from benchmarks.report import ms, percentile, ratio
from benchmarks.served import drop_schema, new_schema
from booking import audit
from booking.audit import Actor
from booking.day import load_day
from booking.models import Clinic
from booking.schedule import local_midnight
from core.db import Base, Database, create_database

DEFAULT_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
CLINICS = 400
CHAIRS_PER_CLINIC = 5
TARGET_CHAIRS = 8
PER_CHAIR_DAY = 14  # 30-minute appointments from 08:00


def _server_url() -> str:
    return (os.environ.get("BENCH_DATABASE_URL") or os.environ.get("TEST_DATABASE_URL")
            or DEFAULT_URL)


async def _fill(db: Database, *, patients: int, appointments: int, day: date) -> int:
    """The national tables; returns the measured clinic's id (1)."""
    start = local_midnight(day) + timedelta(hours=7)  # 08:00 Oslo in winter
    async with db.engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
        sql = conn.exec_driver_sql
        await sql("INSERT INTO counties (id, code, name) VALUES (1, '03', 'Oslo')")
        await sql(
            "INSERT INTO clinics (id, county_id, slug, name, street_address, postal_code, "
            "postal_town, municipality_code, municipality_name, latitude, longitude, phone, "
            "opening_hours, accessibility, parking, public_transport, active) "
            "SELECT g, 1, 'klinikk-' || g, 'Tannklinikk ' || g, 'Storgata 1', '0155', 'Oslo', "
            "'0301', 'Oslo', 59.9, 10.7, '+4722000000', '{}', '', '', '', true "
            f"FROM generate_series(1, {CLINICS}) g")
        await sql(
            "INSERT INTO chairs (id, clinic_id, name, active) "
            f"SELECT g, 1, 'Rom ' || g, true FROM generate_series(1, {TARGET_CHAIRS}) g")
        await sql(
            "INSERT INTO chairs (id, clinic_id, name, active) "
            f"SELECT 100 + g, 2 + (g - 1) / {CHAIRS_PER_CLINIC}, 'Rom ' || g, true "
            f"FROM generate_series(1, {(CLINICS - 1) * CHAIRS_PER_CLINIC}) g")
        await sql(
            "INSERT INTO appointment_types (id, county_id, code, names, duration_minutes, "
            "min_age, self_bookable, booking_horizon_days, min_notice_hours, "
            "change_cutoff_hours, late_cancellation_fee, max_self_reschedules) VALUES "
            "(1, 1, 'adult-exam', '{\"nb\": \"Undersøkelse\"}', 30, 0, true, 90, 2, 24, "
            "true, 2)")
        await sql(
            "INSERT INTO patients (id, identity_hash, identity_encrypted, given_name, "
            "family_name, birth_date, confidential_address, created_at) "
            "SELECT g, sha256(g::text::bytea), '\\x00'::bytea, 'Kari', 'Nordmann', "
            "date '1930-01-01' + (g % 30000), 'none', now() "
            f"FROM generate_series(1, {patients}) g")
        # Everyone else's appointments: clinic c (2..400), its chair k % 5,
        # 14 a chair a day, day after day from the measured day on.
        other = appointments - TARGET_CHAIRS * PER_CHAIR_DAY
        per_clinic_day = CHAIRS_PER_CLINIC * PER_CHAIR_DAY
        slot_start = (f"timestamptz '{start.isoformat()}' + ((g / {CLINICS - 1}) / "
                      f"{per_clinic_day}) * interval '1 day' + (((g / {CLINICS - 1}) % "
                      f"{per_clinic_day}) / {CHAIRS_PER_CLINIC}) * interval '30 minutes'")
        await sql(
            "INSERT INTO slots (id, clinic_id, chair_id, starts_at, ends_at, status, released, "
            "version) SELECT g + 1000, 2 + g % " + str(CLINICS - 1) + ", 100 + (g % "
            f"{CLINICS - 1}) * {CHAIRS_PER_CLINIC} + (g / {CLINICS - 1}) % {CHAIRS_PER_CLINIC}"
            f" + 1, {slot_start}, {slot_start} + interval '30 minutes', 'booked', true, 0 "
            f"FROM generate_series(0, {other - 1}) g")
        await sql(
            "INSERT INTO slots (id, clinic_id, chair_id, starts_at, ends_at, status, released, "
            f"version) SELECT g, 1, 1 + g % {TARGET_CHAIRS}, timestamptz '{start.isoformat()}'"
            f" + (g / {TARGET_CHAIRS}) * interval '30 minutes', timestamptz "
            f"'{start.isoformat()}' + (g / {TARGET_CHAIRS} + 1) * interval '30 minutes', "
            f"'booked', true, 0 FROM generate_series(0, {TARGET_CHAIRS * PER_CHAIR_DAY - 1}) g")
        await sql(
            "INSERT INTO appointments (id, patient_id, clinic_id, chair_id, slot_id, "
            "appointment_type_id, starts_at, ends_at, status, source, created_by_kind, "
            "created_by, created_at, updated_at, version, self_reschedules, clinic_issued) "
            f"SELECT id, 1 + id % {patients}, clinic_id, chair_id, id, 1, starts_at, ends_at, "
            "'booked', 'record_system', 'record_system', 'system:bench', now(), now(), 1, 0, "
            "true FROM slots")
    async with db.engine.begin() as conn:
        await conn.exec_driver_sql("ANALYZE")
    return 1


_ENVIRONMENT: list[Any] = []


def _render(context: dict[str, Any]) -> str:
    from web import i18n
    from web.templating import create_environment

    if not _ENVIRONMENT:
        _ENVIRONMENT.append(create_environment())
    i18n.set_locale("nb")
    return str(_ENVIRONMENT[0].get_template("clinic/day.html").render(context))


def _context(clinic: Clinic, grid: Any, day: date) -> dict[str, Any]:
    from web import i18n
    from web.views.clinic import words

    class At:
        base = f"/staff/klinikk/{clinic.slug}"

    At.clinic = clinic  # type: ignore[attr-defined]
    paths = {name: f"{At.base}/dag" for name in ("previous", "next", "today", "day", "find")}
    paths["appointment"] = f"{At.base}/time"
    return {"at": At, "grid": grid, "day": day, "today": day, "error": None, "is_today": True,
            "paths": paths, "age_words": words.AGE_GROUP_TEXT,
            "attendance_words": words.ATTENDANCE_TEXT,
            "attendance_colors": words.ATTENDANCE_COLOR, "lang": "nb",
            "languages": i18n.AUTONYMS, "here": f"{At.base}/dag", "signed_in": False}


async def _day_view(db: Database, actor: Actor, slug: str, day: date) -> int:
    async with db.read() as session:
        clinic = (await session.execute(select(Clinic).where(Clinic.slug == slug))).scalar_one()
    async with db.write() as session:
        grid = await load_day(session, clinic, day)
        await audit.record(session, actor, "clinic.day.view", purpose="reception",
                           detail={"clinic_id": clinic.id, "day": day.isoformat()})
    return len(_render(_context(clinic, grid, day)))


async def _bare(db: Database, clinic_id: int, day: date) -> int:
    async with db.read() as session:
        rows = (await session.execute(text(
            "SELECT id FROM appointments WHERE clinic_id = :c AND starts_at >= :a "
            "AND starts_at < :b"), {"c": clinic_id, "a": local_midnight(day),
                                    "b": local_midnight(day + timedelta(days=1))})).all()
    return len(rows)


async def run(args: argparse.Namespace) -> int:
    server = _server_url()
    if not server.startswith("postgresql"):
        print("needs PostgreSQL", file=sys.stderr)
        return 2
    try:
        url, schema = await new_schema(server)
    except OSError as error:
        print(f"cannot reach PostgreSQL: {error}", file=sys.stderr)
        return 2
    day = date(2030, 1, 15)  # a Tuesday in winter: 08:00 Oslo is 07:00 UTC
    db = create_database(url, pool_size=5, max_overflow=0)
    try:
        began = time.perf_counter()
        clinic_id = await _fill(db, patients=args.patients, appointments=args.appointments,
                                day=day)
        print(f"data: {args.appointments:,} appointments, {args.patients:,} patients, "
              f"{CLINICS} clinics in {time.perf_counter() - began:.1f} s")
        actor = Actor.staff("bench", {clinic_id})
        assert await _bare(db, clinic_id, day) == TARGET_CHAIRS * PER_CHAIR_DAY
        for _ in range(10):  # warm the pool, the plan cache and the template
            await _day_view(db, actor, "klinikk-1", day)
            await _bare(db, clinic_id, day)
        view: list[float] = []
        bare: list[float] = []
        for _ in range(args.requests):
            started = time.perf_counter()
            await _day_view(db, actor, "klinikk-1", day)
            view.append(time.perf_counter() - started)
            started = time.perf_counter()
            await _bare(db, clinic_id, day)
            bare.append(time.perf_counter() - started)
        p50, p95 = percentile(view, 50), percentile(view, 95)
        b50, b95 = percentile(bare, 50), percentile(bare, 95)
        print(f"day view, 8 chairs, {TARGET_CHAIRS * PER_CHAIR_DAY} appointments "
              f"({args.requests} requests): p50 {ms(p50)}, p95 {ms(p95)}")
        print(f"bare indexed select of the day's ids:       p50 {ms(b50)}, p95 {ms(b95)}")
        print(f"ratio at p95: {ratio(p95, b95)}")
        return 0
    finally:
        await db.dispose()
        if not args.keep_schema:
            await drop_schema(server, schema)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--appointments", type=int, default=2_000_000)
    parser.add_argument("--patients", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--keep-schema", action="store_true")
    args = parser.parse_args()
    if args.appointments <= TARGET_CHAIRS * PER_CHAIR_DAY or args.patients < 1:
        parser.error("more appointments than the measured day's, and at least one patient")
    sys.exit(asyncio.run(run(args)))


if __name__ == "__main__":
    main()
