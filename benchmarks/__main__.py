"""``python -m benchmarks``: the national-scale benchmark on PostgreSQL.

Builds the country in a fresh schema of the given database, measures slot
generation, free-slot search and booking under contention beside baselines
taken in the same run, and drops the schema. See ``benchmarks/README.md``.

Exit status: 0 when the run finished and the booking invariants held (no
double booking, exactly one winner per slot, an intact audit chain); 1 when
they did not; 2 when the run could not be made (no PostgreSQL, bad options).
Timings never decide the exit status.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import random
import sys
import time
import uuid
from datetime import date, datetime
from pathlib import Path
from typing import Any

import structlog
from sqlalchemy import text

from benchmarks import compose
from benchmarks.measure import booking_contention, search_latency, slot_generation
from benchmarks.national import Shape, create_reference_data, load_patients
from benchmarks.report import Reporter, load_average, machine, per_second
from core.db import Base, Database, create_database
from core.locale import OSLO

DEFAULT_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="National-scale benchmark of Tanntid on PostgreSQL (own schema, dropped "
                    "afterwards).")
    parser.add_argument("--scale", type=float, default=1.0,
                        help="fraction of the national size: 400 clinics, 2,100 chairs, "
                             "1,000,000 patients at 1 (default 1; 0.1 for a quick run, "
                             "0.001 for a smoke run of a few seconds)")
    parser.add_argument("--database-url",
                        default=os.environ.get("BENCH_DATABASE_URL")
                        or os.environ.get("TEST_DATABASE_URL") or DEFAULT_URL,
                        help="PostgreSQL URL (postgresql+asyncpg://...); default "
                             "$BENCH_DATABASE_URL, then $TEST_DATABASE_URL, then the local "
                             "test database")
    parser.add_argument("--searches", type=int, default=None,
                        help="free-slot queries to time (default 2,000; fewer below scale 0.1)")
    parser.add_argument("--clients", type=int, default=None,
                        help="concurrent booking clients (default 200; 50 below scale 0.01)")
    parser.add_argument("--slots", type=int, default=None,
                        help="slots they compete for (default 20; 5 below scale 0.01)")
    parser.add_argument("--rounds", type=int, default=None,
                        help="contention rounds, fresh slots and patients each "
                             "(default 5; 1 below scale 0.01)")
    parser.add_argument("--pool-size", type=int, default=40)
    parser.add_argument("--max-overflow", type=int, default=20)
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1),
                        help="processes preparing patients (hashing, encryption)")
    parser.add_argument("--no-pages", action="store_true",
                        help="skip the pages over HTTP (benchmarks.pages; needs wrk)")
    parser.add_argument("--no-client-baseline", action="store_true",
                        help="skip the executemany baseline of slot generation")
    parser.add_argument("--seed", type=int, default=2)
    parser.add_argument("--json", type=Path, default=None, help="also write results here")
    parser.add_argument("--keep-schema", action="store_true",
                        help="leave the schema in place afterwards (its name is printed)")
    args = parser.parse_args(argv)
    if args.scale <= 0:
        parser.error("--scale must be positive")
    if not args.database_url.startswith("postgresql"):
        parser.error("the benchmark runs on PostgreSQL only (postgresql+asyncpg://...)")
    if args.searches is None:
        args.searches = max(100, min(2000, round(20_000 * args.scale)))
    small = args.scale < 0.01
    if args.clients is None:
        args.clients = 50 if small else 200
    if args.slots is None:
        args.slots = 5 if small else 20
    if args.rounds is None:
        args.rounds = 1 if small else 5
    return args


def quiet_logs() -> None:
    """The services log each booking at INFO; keep only warnings, on stderr."""
    structlog.configure(
        wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
    )
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)


async def _admin(url: str, statement: str) -> None:
    admin = create_database(url, pool_size=1, max_overflow=0)
    try:
        async with admin.engine.begin() as conn:
            await conn.exec_driver_sql(statement)
    finally:
        await admin.dispose()


async def _analyze(db: Database) -> None:
    async with db.engine.connect() as conn:
        autocommit = await conn.execution_options(isolation_level="AUTOCOMMIT")
        await autocommit.exec_driver_sql("ANALYZE")


async def run(args: argparse.Namespace) -> int:
    compose()
    report = Reporter()
    rng = random.Random(args.seed)
    today = datetime.now(OSLO).date()
    min_patients = 4 * args.clients * args.rounds  # adults for both contention passes
    shape = Shape.at(args.scale, min_patients=min_patients)
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    began = time.perf_counter()

    await _admin(args.database_url, f'CREATE SCHEMA "{schema}"')
    db = create_database(args.database_url, pool_size=args.pool_size,
                         max_overflow=args.max_overflow,
                         connect_args={"server_settings": {"search_path": schema}})
    consistent = False
    try:
        async with db.read() as session:
            server = (await session.execute(text("SHOW server_version"))).scalar_one()
            settings = {name: (await session.execute(text(f"SHOW {name}"))).scalar_one()
                        for name in ("max_connections", "shared_buffers", "synchronous_commit",
                                     "work_mem")}
        info = machine(str(server), {k: str(v) for k, v in settings.items()})
        report.record("machine", info)
        report.record("shape", {"scale": args.scale, "counties": 15, "clinics": shape.clinics,
                                "chairs": shape.chairs, "patients": shape.patients,
                                "weeks": shape.weeks, "pool": [args.pool_size,
                                                               args.max_overflow]})
        print(f"Tanntid benchmark, scale {args.scale:g}: 15 counties, {shape.clinics:,} "
              f"clinics, {shape.chairs:,} chairs, {shape.patients:,} patients, "
              f"{shape.weeks} weeks of slots")
        print(f"{info['date']}; {info['nproc']} CPUs ({info['cpu']}), {info['memory']}; "
              f"PostgreSQL {server}; Python {info['python']}; schema {schema}; "
              f"pool {args.pool_size}+{args.max_overflow}")

        async with db.engine.begin() as conn:
            await conn.run_sync(Base.metadata.create_all)

        report.heading("Data set")
        t0 = time.perf_counter()
        country = await create_reference_data(db, shape, today=today, seed=args.seed)
        reference_seconds = time.perf_counter() - t0
        report.line("reference data", f"{shape.clinics:,} clinics",
                    f"{country.chairs:,} chairs, {country.templates:,} templates, "
                    f"{len(country.type_ids)} appointment types: {reference_seconds:.1f} s")

        created = await slot_generation(db, report, shape, today,
                                        client_baseline=not args.no_client_baseline)

        report.heading("Patients")
        load = await load_patients(db, schema, shape, today=today, workers=args.workers,
                                   seed=args.seed)
        country.patients = load.patients
        report.line("patients (hash + Fernet + COPY)", f"{load.patients:,} rows",
                    f"{load.seconds:.1f} s  {per_second(load.patients, load.seconds)}")
        report.note(f"preparing them took {load.prepare_cpu_seconds:.1f} s of CPU in "
                    f"{args.workers if shape.patients >= 20_000 else 1} process(es), "
                    f"overlapping the COPY, which spent {load.copy_seconds:.1f} s")
        t0 = time.perf_counter()
        await _analyze(db)
        report.line("ANALYZE", "", f"{time.perf_counter() - t0:.1f} s")
        report.record("data_set", {"reference_seconds": reference_seconds,
                                   "chairs": country.chairs, "templates": country.templates,
                                   "slots": created, "patients": load.patients,
                                   "patients_seconds": load.seconds,
                                   "patients_copy_seconds": load.copy_seconds,
                                   "patients_prepare_cpu_seconds": load.prepare_cpu_seconds})

        await search_latency(db, report, country, shape, today, args.searches, rng)
        consistent = await booking_contention(db, report, country, clients=args.clients,
                                              slots=args.slots, rounds=args.rounds)
    finally:
        await db.dispose()
        if args.keep_schema:
            print(f"\nschema {schema} kept")
        else:
            await _admin(args.database_url, f'DROP SCHEMA "{schema}" CASCADE')
    total = time.perf_counter() - began
    report.record("total_seconds", {"seconds": total, "load_average_at_end": load_average()})
    print(f"\nTotal {total:.0f} s; booking invariants "
          f"{'held' if consistent else 'VIOLATED'}. Load average at start "
          f"{report.results.get('machine', {}).get('load_average_at_start', '?')}, "
          f"at end {load_average()}.")
    if args.json:
        args.json.write_text(json.dumps(report.results, indent=2, default=_jsonable) + "\n")
    return 0 if consistent else 1


def _jsonable(value: Any) -> Any:
    if isinstance(value, date | datetime):
        return value.isoformat()
    return str(value)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    quiet_logs()
    try:
        status = asyncio.run(run(args))
    except (OSError, ConnectionError) as exc:
        print(f"cannot run the benchmark: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    if not args.no_pages:
        from benchmarks import pages

        print("\n== Pages over HTTP, beside a bare Starlette endpoint ==")
        if pages.main(["--database-url", args.database_url]) == 2:
            print("(pages not measured: see the message above)")
    return status


if __name__ == "__main__":
    sys.exit(main())
