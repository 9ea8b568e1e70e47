"""The ``tanntid`` command: serve, migrate, seed, slots, worker, audit."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from datetime import date
from pathlib import Path
from types import FrameType

from core.settings import ROOT, Settings, SettingsError
from notifications import cli as notifications_cli
from notifications import outbox


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tanntid", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the web service")
    serve.add_argument("--host", default=None, help="interface (default: HOST or 127.0.0.1)")
    serve.add_argument("--port", type=int, default=None, help="port (default: PORT or 8000)")
    serve.add_argument("--workers", type=int, default=None,
                       help="web processes sharing the port (default: WEB_CONCURRENCY or 1)")
    serve.add_argument("--reload", action="store_true", help="restart on code changes (dev)")
    serve.add_argument("--fakes", action="store_true",
                       help="run local fakes of Twilio, HelseID + Helsenorge and Maskinporten "
                            "+ KRR on loopback and send to them (dev; what `make run` does); "
                            "started once, beside the web processes")

    commands.add_parser("migrate", help="bring the database schema up to date")

    seed = commands.add_parser("seed", help="load data")
    seed.add_argument("--demo", action="store_true", required=True,
                      help="invented counties, clinics, slots and synthetic patients")
    seed.add_argument("--weeks", type=int, default=12)

    slots = commands.add_parser("slots", help="bookable time")
    slot_commands = slots.add_subparsers(dest="slots_command", required=True)
    generate = slot_commands.add_parser("generate", help="materialise slots from templates")
    generate.add_argument("--weeks", type=int, default=12)
    generate.add_argument("--start", type=date.fromisoformat, default=None,
                          help="first day (default: today)")

    commands.add_parser("worker", help="run the notification job worker")
    audit_parser = commands.add_parser("audit", help="the audit log's hash chains")
    audit_commands = audit_parser.add_subparsers(dest="audit_command", required=True)
    audit_commands.add_parser("verify", help="check every chain and seal; exit 1 if broken")
    audit_commands.add_parser("seal", help="seal the heads of the chains that grew")
    notifications_cli.add_commands(commands)

    args = parser.parse_args(argv)
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        print(f"tanntid: {exc}", file=sys.stderr)
        return 2
    from web.logs import configure_logging

    configure_logging(json=settings.log_json, level=settings.log_level)
    outbox.subscribe()  # seeding and support commands book, change and cancel too

    if args.command == "serve":
        return _serve(settings, args.host, args.port, args.reload, fakes=args.fakes,
                      workers=args.workers)
    if args.command == "migrate":
        migrate(settings.database_url)
        return 0
    if args.command == "seed":
        return asyncio.run(_seed(settings, args.weeks))
    if args.command == "slots":
        return asyncio.run(_generate(settings, args.start or date.today(), args.weeks))
    if args.command == "audit":
        return asyncio.run(_audit(settings, args.audit_command))
    if args.command == "worker":
        return notifications_cli.run_worker(settings.notifications)
    if args.command == "notifications":
        return notifications_cli.run(args, settings.notifications)
    return 2


#: Seconds in-flight requests get to finish after SIGTERM before their
#: connections are closed (platforms send SIGKILL some 30 s after SIGTERM).
GRACEFUL_SHUTDOWN_SECONDS = 20


def _serve(settings: Settings, host: str | None, port: int | None, reload: bool, *,
           fakes: bool = False, workers: int | None = None) -> int:
    """Serve ``web.asgi:app`` with uvicorn: one process, or ``workers``
    processes (uvicorn's supervisor) accepting on one socket. On SIGTERM each
    process stops accepting, reports not ready, stops claiming notification
    work, lets in-flight requests finish (``GRACEFUL_SHUTDOWN_SECONDS``) and
    closes its database pool. ``--fakes`` starts the fakes once, in this
    (parent) process; every web process is pointed at them."""
    import uvicorn

    if fakes and settings.is_production:
        print("tanntid: --fakes is for development only; refused in production",
              file=sys.stderr)
        return 2
    workers = settings.web_concurrency if workers is None else workers
    if workers < 1:
        print("tanntid: --workers must be at least 1", file=sys.stderr)
        return 2
    if reload and workers > 1:
        print("tanntid: --reload runs one process; drop --workers (or WEB_CONCURRENCY)",
              file=sys.stderr)
        return 2
    host = host or settings.host
    port = port or int(os.environ.get("PORT", settings.port))
    if not os.environ.get("PUBLIC_URL"):
        # Links, the local test login and Twilio's status callbacks must point
        # where this server listens.
        os.environ["PUBLIC_URL"] = local_public_url(host, port)
    with local_fakes(os.environ["PUBLIC_URL"]) if fakes else nullcontext():
        uvicorn.run("web.asgi:app", host=host, port=port, reload=reload, proxy_headers=True,
                    log_level="warning", access_log=False, factory=False,
                    workers=workers if workers > 1 else None,
                    timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS)
    return 0


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


@contextmanager
def local_fakes(public_url: str) -> Iterator[None]:
    """The loopback fakes of Twilio, HelseID + Helsenorge and Maskinporten +
    KRR (``notifications.fakes``), running in background threads for as long
    as the block, with the settings that point the channels at them put into
    the environment the app is built from (``web.asgi``; also a ``--reload``
    child's). KRR knows this month's demo persons. Stopped, and the
    environment restored, when the block ends: after the server has shut down
    on Ctrl-C, and on SIGTERM too (uvicorn hands the signal back once it has
    shut down; here it ends the block instead of the process)."""
    from demo.krr import CASES, seed_demo_register
    from notifications.fakes.server import start_dev_fakes

    today = date.today()
    with start_dev_fakes(krr_people=lambda krr: seed_demo_register(krr, today)) as fakes:
        saved = {name: os.environ.get(name) for name in fakes.settings}
        previous_handler = signal.signal(signal.SIGTERM, _interrupt)
        os.environ.update(fakes.settings)
        try:
            print("tanntid: local fakes on loopback (`make run FAKES=0` runs without them):")
            for name, url, state in fakes.pages():
                print(f"  {name:<21} {url}  state: {state}")
            print("tanntid: the fake KRR knows this month's demo persons; "
                  + ", ".join(f"{case.case}: {case.label}" for case in CASES))
            print(f"tanntid: serving on {public_url}; text messages: {public_url}/dev/sms",
                  flush=True)
            if os.environ.get("REDIS_URL"):
                print("tanntid: REDIS_URL is set, so `tanntid worker` delivers, and it does "
                      "not know these fakes; unset it to deliver in this process",
                      file=sys.stderr, flush=True)
            yield
        finally:
            signal.signal(signal.SIGTERM, previous_handler)
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value


def local_public_url(host: str, port: int) -> str:
    """Where this machine reaches a server listening on ``host``:``port``."""
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host  # noqa: S104
    return f"http://{shown}:{port}"


def migrate(database_url: str) -> None:
    """Run Alembic migrations up to head."""
    from alembic import command
    from alembic.config import Config

    if database_url.startswith("sqlite"):
        path = database_url.split(":///", 1)[1]
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "migrations"))
    config.attributes["database_url"] = database_url
    command.upgrade(config, "head")


async def _seed(settings: Settings, weeks: int) -> int:
    from core.db import database_for
    from core.identity import IdentityVault
    from demo.seed import seed_demo

    db = database_for(settings.database)
    try:
        report = await seed_demo(db, IdentityVault.from_secret(settings.secret_key),
                                 today=date.today(), weeks=weeks)
    finally:
        await db.dispose()
    print(f"tanntid: demo data ready ({report})")
    return 0


async def _generate(settings: Settings, start: date, weeks: int) -> int:
    from booking.schedule import generate_slots
    from core.db import database_for

    db = database_for(settings.database)
    try:
        created = await generate_slots(db, start=start, weeks=weeks)
    finally:
        await db.dispose()
    print(f"tanntid: {created} new slots from {start} for {weeks} weeks")
    return 0


async def _audit(settings: Settings, command: str) -> int:
    """``verify``: every chain, every seal, every sealed head still there;
    prints counts and ids only (no content). ``seal``: one seal now."""
    from booking import audit
    from core.db import database_for

    db = database_for(settings.database)
    try:
        if command == "seal":
            async with db.write() as session:
                sealed = await audit.seal(session)
            print(f"tanntid: sealed {len(sealed.heads) if sealed else 0} chain heads")
            return 0
        async with db.read() as session:
            report = await audit.verify(session)
        # The county administrators' audit viewer shows the latest result.
        from web.oversight.audit_log import keep_result
        await keep_result(db, report, "system:cli")
    finally:
        await db.dispose()
    print(f"tanntid: {report.entries} entries in {report.chains} chains, {report.seals} seals")
    if report.intact:
        print("tanntid: audit log intact")
        return 0
    if report.first_broken_id is not None:
        print(f"tanntid: BROKEN: entry {report.first_broken_id} does not fit its chain")
    if report.first_broken_seal_id is not None:
        print(f"tanntid: BROKEN: seal {report.first_broken_seal_id} does not fit")
    for chain in report.cut_chains:
        print(f"tanntid: BROKEN: chain {chain} ends before its sealed head")
    return 1


if __name__ == "__main__":
    raise SystemExit(main())
