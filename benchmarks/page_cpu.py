"""CPU per view of the logged-in patient pages, in-process: the app as
``tanntid serve`` builds it (``create_app`` on PostgreSQL, a fresh schema
migrated with ``tanntid migrate``, the world of ``benchmarks.served``), one
patient logged in through the local test ID-porten over an in-process
transport, each page requested ``--requests`` times in a row; prints the
process CPU time per view (test client included) and, with ``--profile``,
cProfile's top functions by cumulative and own time.

```sh
.venv/bin/python -m benchmarks.page_cpu [--requests 100] [--profile 25]
```

A second patient, a guardian with two children (11 and 13) and upcoming
appointments for all three, shows the pages as a family sees them (the
guardian's views of the children are audited, as the law asks). Needs
PostgreSQL (``$BENCH_DATABASE_URL``, else ``$TEST_DATABASE_URL``, else the
local ``test`` database). Timings never decide the exit status.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import os
import pstats
import random
import time
from datetime import date
from pathlib import Path

import httpx
from sqlalchemy import event, select

from benchmarks.served import SECRET, Browser, build_world, drop_schema, log_in
from booking.models import Appointment, AppointmentType, Guardianship, Patient, Slot
from booking.rules import local_date
from booking.statuses import AppointmentStatus, SlotStatus, Source
from core.db import create_database, utcnow
from core.identity import IdentityVault, synthetic_number
from core.settings import ROOT, Settings

PAGES = (("Min side", "/min-side"), ("appointment list", "/timer"))
BASE_URL = "http://127.0.0.1:8000"


async def add_family(database_url: str) -> str:
    """A guardian (40) with children of 11 and 13 at the world's address,
    each with upcoming appointments in the world's free slots; returns the
    guardian's identity number."""
    rng = random.Random(11)
    vault = IdentityVault.from_secret(SECRET)
    today = local_date(utcnow())
    db = create_database(database_url, pool_size=1, max_overflow=0)
    try:
        async with db.write() as s:
            kind = (await s.scalars(select(AppointmentType))).one()
            slots = list((await s.scalars(select(Slot).order_by(Slot.id).limit(6))).all())

            def person(given: str, age: int) -> tuple[str, Patient]:
                born = date(today.year - age, 1, 1)
                pid = synthetic_number(born, rng)
                return pid, Patient(identity_hash=vault.lookup_hash(pid),
                                    identity_encrypted=vault.encrypt(pid), given_name=given,
                                    family_name="Familie", birth_date=born,
                                    municipality_code="0301", address_key="family-1")

            guardian_pid, guardian = person("Ingrid", 40)
            _, emma = person("Emma", 11)
            _, jonas = person("Jonas", 13)
            s.add_all([guardian, emma, jonas])
            await s.flush()
            for child in (emma, jonas):
                s.add(Guardianship(guardian_id=guardian.id, child_id=child.id))
            owners = [guardian, guardian, emma, emma, jonas, jonas]
            for number, (slot, owner) in enumerate(zip(slots, owners, strict=True)):
                slot.status = SlotStatus.BOOKED
                row = Appointment(
                    patient_id=owner.id, clinic_id=slot.clinic_id, chair_id=slot.chair_id,
                    slot_id=slot.id, appointment_type_id=kind.id, starts_at=slot.starts_at,
                    ends_at=slot.ends_at, status=AppointmentStatus.BOOKED,
                    source=Source.RECORD_SYSTEM, created_by_kind="record_system",
                    created_by="system:record-system", clinic_issued=number % 2 == 0)
                s.add(row)
                await s.flush()
                row.chain_id = row.id
    finally:
        await db.dispose()
    return guardian_pid


def package_summary(stats: pstats.Stats) -> str:
    """Own time by where the code lives: our packages, and each library."""
    own: dict[str, float] = {}
    total = 0.0
    for (filename, _line, _name), row in stats.stats.items():  # type: ignore[attr-defined]
        tottime = row[2]
        total += tottime
        if "site-packages/" in filename:
            where = filename.split("site-packages/", 1)[1].split("/", 1)[0]
        elif filename.startswith(str(ROOT)):
            where = "/".join(Path(filename).relative_to(ROOT).parts[:2])
        elif filename.startswith("~") or filename.startswith("<"):
            where = "builtins"
        else:
            where = "stdlib " + Path(filename).name
        own[where] = own.get(where, 0.0) + tottime
    top = sorted(own.items(), key=lambda item: -item[1])[:18]
    return "  own time by package: " + ", ".join(
        f"{where} {100 * seconds / total:.0f} %" for where, seconds in top)


async def measure(database_url: str, people: dict[str, str], requests: int,
                  profile: int, *, show_statements: bool) -> None:
    from web.app import create_app
    from web.auth.services import install

    app = create_app(Settings(env="test", secret_key=SECRET, database_url=database_url,
                              public_url=BASE_URL, log_level="WARNING"))
    async with app.router.lifespan_context(app):
        backchannel = httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                        base_url=BASE_URL)
        install(app, http=backchannel)
        engine = app.state.db.engine.sync_engine
        for who, pid in people.items():
            client = Browser(BASE_URL)
            client._transport = httpx.ASGITransport(app=app)
            await log_in(client, pid)
            for name, path in PAGES:
                for _ in range(5):  # warm up: templates, catalogs, the pool
                    assert (await client.get(path)).status_code == 200
                statements: list[str] = []

                def count(_conn: object, _cursor: object, statement: str, *_: object) -> None:
                    statements.append(statement)  # noqa: B023

                event.listen(engine, "before_cursor_execute", count)
                assert (await client.get(path)).status_code == 200
                event.remove(engine, "before_cursor_execute", count)
                print(f"{who:9} {name:17} {len(statements)} statements a view")
                if show_statements:
                    for statement in statements:
                        print("    " + " ".join(statement.split())[:160])
                profiler = cProfile.Profile() if profile else None
                started, wall = time.process_time(), time.perf_counter()
                if profiler:
                    profiler.enable()
                for _ in range(requests):
                    response = await client.get(path)
                if profiler:
                    profiler.disable()
                cpu = (time.process_time() - started) / requests * 1000
                elapsed = (time.perf_counter() - wall) / requests * 1000
                assert response.status_code == 200, response.status_code
                print(f"{who:9} {name:17} {cpu:6.2f} ms CPU a view ({elapsed:6.2f} ms wall)"
                      f"{' under cProfile' if profiler else ''}")
                if profiler:
                    print(package_summary(pstats.Stats(profiler)))
                    for order in ("cumulative", "tottime"):
                        out = io.StringIO()
                        pstats.Stats(profiler, stream=out).sort_stats(order).print_stats(profile)
                        print(out.getvalue())
            await client.aclose()
        await backchannel.aclose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="benchmarks.page_cpu", description=__doc__)
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--profile", type=int, default=0,
                        help="print this many functions of a cProfile run (0: CPU time only)")
    parser.add_argument("--statements", action="store_true",
                        help="print the SQL statements of one view of each page")
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args(argv)
    server_url = (args.database_url or os.environ.get("BENCH_DATABASE_URL")
                  or os.environ.get("TEST_DATABASE_URL")
                  or "postgresql+asyncpg://postgres@127.0.0.1:5432/test")
    world = asyncio.run(build_world(server_url, patients=1, chairs=2))
    print(f"load average {' '.join(open('/proc/loadavg').read().split()[:3])}")
    try:
        guardian = asyncio.run(add_family(world.database_url))
        asyncio.run(measure(world.database_url, {"adult": world.pids[0], "guardian": guardian},
                            args.requests, args.profile, show_statements=args.statements))
    finally:
        asyncio.run(drop_schema(server_url, world.schema))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

