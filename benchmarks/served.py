"""The service as it runs in production, for the scale-out test and the load
benchmark: ``tanntid serve --workers N`` as a subprocess on a free port,
against a fresh PostgreSQL schema migrated with ``tanntid migrate``, with the
local test ID-porten; and a patient's visit over real HTTP (log in, look at
the appointments, book a time)."""

from __future__ import annotations

import asyncio
import os
import random
import re
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import httpx
from sqlalchemy import func, select, text

from booking.models import (
    Appointment,
    AppointmentType,
    Chair,
    Clinic,
    County,
    Patient,
    ScheduleTemplate,
    Slot,
)
from booking.rules import local_date
from booking.statuses import SlotStatus
from core.db import create_database, utcnow
from core.identity import IdentityVault, synthetic_number
from core.locale import OSLO
from core.settings import DOCUMENTED, ROOT

SECRET = "scale-out-" + "s" * 40
CLINIC = "Skalering tannklinikk"
KIND = "Check-up"


@dataclass
class World:
    """A clinic with ``chairs`` chairs, each with free half hours on one day a
    week ahead, and synthetic patients to book them."""

    database_url: str  # with ?schema=
    schema: str
    pids: list[str]
    slot_ids: list[int]
    day: date


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def bare_uvicorn(app: str, workers: int, log: Path, env: dict[str, str] | None = None
                 ) -> Iterator[str]:
    """A baseline ``app`` (``module:attribute``, :mod:`benchmarks.bare`) under
    uvicorn with ``workers`` processes on a free port; its URL once it
    answers ``/``. Fails with the server's log if it dies or takes 120 s."""
    port = free_port()
    with log.open("wb") as out:
        process = subprocess.Popen(  # noqa: S603  (our own command)
            [sys.executable, "-m", "uvicorn", app, "--port", str(port),
             "--workers", str(workers), "--log-level", "warning", "--no-access-log"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the baseline server did not start:\n"
                                   + log.read_text(errors="replace"))
            try:
                if httpx.get(url + "/", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


async def new_schema(server_url: str) -> tuple[str, str]:
    """A new empty schema; returns (URL with ``?schema=``, schema name)."""
    schema = f"scale_{uuid.uuid4().hex[:10]}"
    admin = create_database(server_url, pool_size=1, max_overflow=0)
    try:
        async with admin.engine.begin() as conn:
            await conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    finally:
        await admin.dispose()
    separator = "&" if "?" in server_url else "?"
    return f"{server_url}{separator}schema={schema}", schema


async def drop_schema(server_url: str, schema: str) -> None:
    admin = create_database(server_url, pool_size=1, max_overflow=0)
    try:
        async with admin.engine.begin() as conn:
            await conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await admin.dispose()


async def build_world(server_url: str, *, patients: int, chairs: int,
                      seed: int = 2026) -> World:
    """A migrated schema (``tanntid migrate``) with the clinic, its free
    times and ``patients`` adults able to book them."""
    from web.cli import migrate

    url, schema = await new_schema(server_url)
    await asyncio.to_thread(migrate, url)
    rng = random.Random(seed)
    vault = IdentityVault.from_secret(SECRET)
    day = local_date(utcnow()) + timedelta(days=7)
    db = create_database(url, pool_size=2, max_overflow=0)
    pids: list[str] = []
    try:
        async with db.write() as s:
            county = County(code="0399", name="Oslo",
                            quiet_hours={"send_from": "00:00", "send_until": "23:59"})
            s.add(county)
            await s.flush()
            clinic = Clinic(county_id=county.id, slug="skalering", name=CLINIC,
                            street_address="Storgata 1", postal_code="0155",
                            postal_town="Oslo", municipality_code="0301",
                            municipality_name="Oslo", latitude=59.91, longitude=10.75,
                            phone="+4722000000",
                            opening_hours={str(d): ["07:00", "21:00"] for d in range(7)})
            kind = AppointmentType(
                county_id=county.id, code="exam", names={
                    "nb": "Undersøkelse", "nn": "Undersøking", "en": KIND,
                    "se": "Iskkadeapmi"},
                duration_minutes=30, min_age=18, max_age=None, self_bookable=True,
                booking_horizon_days=90, min_notice_hours=2, change_cutoff_hours=24,
                late_cancellation_fee=True, max_self_reschedules=2)
            s.add_all([clinic, kind])
            await s.flush()
            for number in range(chairs):
                chair = Chair(clinic_id=clinic.id, name=f"Stol {number + 1}")
                s.add(chair)
                await s.flush()
                template = ScheduleTemplate(
                    chair_id=chair.id, weekday=day.weekday(), starts_at=clock_time(7, 0),
                    ends_at=clock_time(21, 0), slot_minutes=30, valid_from=date(2020, 1, 1),
                    valid_to=None, released=True)
                template.appointment_types = [kind]
                s.add(template)
                await s.flush()
                for half_hour in range(28):  # 07:00 to 21:00
                    starts = datetime.combine(day, clock_time(7, 0), tzinfo=OSLO) + timedelta(
                        minutes=30 * half_hour)
                    s.add(Slot(clinic_id=clinic.id, chair_id=chair.id, template_id=template.id,
                               starts_at=starts, ends_at=starts + timedelta(minutes=30),
                               status=SlotStatus.FREE, released=True))
            for _ in range(patients):
                born = date(1950 + rng.randrange(50), 1 + rng.randrange(12), 1 + rng.randrange(28))
                pid = synthetic_number(born, rng)
                pids.append(pid)
                s.add(Patient(identity_hash=vault.lookup_hash(pid),
                              identity_encrypted=vault.encrypt(pid), given_name="Kari",
                              family_name="Nordmann", birth_date=born,
                              municipality_code="0301", address_key="addr-1"))
        async with db.read() as s:
            slot_ids = list((await s.scalars(select(Slot.id).order_by(Slot.id))).all())
    finally:
        await db.dispose()
    return World(url, schema, pids, slot_ids, day)


async def bookings(database_url: str) -> tuple[int, int]:
    """(appointments, distinct slots they hold)."""
    db = create_database(database_url, pool_size=1, max_overflow=0)
    try:
        async with db.read() as s:
            row = (await s.execute(select(func.count(Appointment.id),
                                          func.count(func.distinct(Appointment.slot_id))))
                   ).one()
    finally:
        await db.dispose()
    return int(row[0]), int(row[1])


async def connections(server_url: str) -> int:
    """Client connections PostgreSQL has open to the server's database
    (``pg_stat_activity``), this probe's own left out."""
    db = create_database(server_url, pool_size=1, max_overflow=0)
    try:
        async with db.read() as s:
            found = await s.scalar(text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND backend_type = 'client backend' AND pid <> pg_backend_pid()"))
    finally:
        await db.dispose()
    return int(found or 0)


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    url: str
    log: Path
    workers: int
    pids: list[int] = field(default_factory=list)

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def web_processes(self) -> list[int]:
        """The processes serving requests: uvicorn's worker processes (its
        spawned children), or the one process itself."""
        if self.workers == 1:
            return [self.process.pid]
        children = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
                cmdline = (stat.parent / "cmdline").read_bytes()
            except OSError:
                continue
            if int(fields[1]) == self.process.pid and b"spawn_main" in cmdline:
                children.append(int(stat.parent.name))
        return sorted(children)


@contextmanager
def serve(database_url: str, *, workers: int, log: Path, timeout: float = 90.0,
          extra_env: dict[str, str] | None = None) -> Iterator[Server]:
    """``tanntid serve --workers N`` on a free loopback port, ready
    (``/readyz`` 200) before the block; SIGTERM after it, which must end it
    cleanly within the grace period."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in DOCUMENTED}
    env.update(DATABASE_URL=database_url, SECRET_KEY=SECRET, TANNTID_ENV="test",
               LOG_JSON="1", LOG_LEVEL="WARNING",
               # Every simulated patient logs in from this one loopback address.
               LOGIN_RATE_LIMIT="1000000/minute", **(extra_env or {}))
    with log.open("wb") as out:
        process = subprocess.Popen(  # noqa: S603  (our own command)
            [sys.executable, "-m", "web.cli", "serve", "--port", str(port),
             "--workers", str(workers)],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    server = Server(process, f"http://127.0.0.1:{port}", log, workers)
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"tanntid serve ended early:\n{server.output()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"tanntid serve not ready in {timeout} s:\n{server.output()}")
            try:
                if httpx.get(f"{server.url}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        yield server
    finally:
        if process.poll() is None:
            process.terminate()
        try:
            process.wait(timeout=40)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            raise


# --- a patient's visit over HTTP --------------------------------------------


class Browser(httpx.AsyncClient):
    """Cookies as a browser keeps them on loopback (the session cookie is
    ``Secure``, which a browser honours on http://127.0.0.1 and httpx does
    not), and the same-origin ``Origin`` a browser sends with a form."""

    def __init__(self, base_url: str) -> None:
        super().__init__(base_url=base_url, timeout=60.0, follow_redirects=False,
                         headers={"Origin": base_url, "Accept-Language": "en"})
        self.jar: dict[str, str] = {}

    async def send(self, request: httpx.Request, **kwargs: object) -> httpx.Response:
        if self.jar and urlsplit(str(request.url)).netloc == urlsplit(str(self.base_url)).netloc:
            request.headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.jar.items())
        response = await super().send(request, **kwargs)  # type: ignore[arg-type]
        for header in response.headers.get_list("set-cookie"):
            name, _, rest = header.partition("=")
            value = rest.split(";", 1)[0]
            if value in ("", '""') or "max-age=0" in header.lower():
                self.jar.pop(name, None)
            else:
                self.jar[name] = value
        return response


def _path(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


async def log_in(client: Browser, pid: str) -> None:
    """The patient login through the local test ID-porten, headless
    (``login_hint=testid:…`` as a form, so the number stays out of URLs)."""
    start = await client.get("/auth/login")
    if start.status_code != 303:
        raise AssertionError(f"/auth/login: {start.status_code}")
    authorize = start.headers["location"]
    base, _, query = authorize.partition("?")
    answer = await client.post(_path(base), data={**dict(parse_qsl(query)),
                                                  "login_hint": f"testid:{pid}"})
    if answer.status_code != 303:
        raise AssertionError(f"authorize: {answer.status_code} {answer.text[:300]}")
    callback = await client.get(_path(answer.headers["location"]))
    if callback.status_code != 303:
        raise AssertionError(f"callback: {callback.status_code} {callback.text[:300]}")


def choice_links(html: str) -> dict[str, str]:
    """The choice links of a page, by their title."""
    found = re.findall(r'<a class="choice-list__link[^"]*" href="([^"]+)".*?'
                       r'class="choice-list__title[^"]*">\s*(.*?)\s*<', html, re.DOTALL)
    return {" ".join(title.split()): href.replace("&amp;", "&") for href, title in found}


def hidden_fields(html: str, form_class: str) -> dict[str, str]:
    start = html.index(f'class="{form_class}')
    form = html[start:html.index("</form>", start)]
    return {name: value.replace("&amp;", "&") for name, value in re.findall(
        r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form)}


async def page_text(client: Browser, url: str) -> str:
    response = await client.get(url)
    if response.status_code != 200:
        raise AssertionError(f"GET {url}: {response.status_code}")
    return response.text


async def book(client: Browser, slot_ids: list[int], rng: random.Random,
               attempts: int = 20) -> int:
    """Walk to the clinic's times and book one of ``slot_ids`` (taken ones
    are refused with 409; then another); returns the appointment id."""
    page = await page_text(client, "/bestill")
    page = await page_text(client, choice_links(page)[KIND])
    picker = await page_text(client, choice_links(page)[CLINIC])
    hidden = hidden_fields(picker, "time-form")
    for _ in range(attempts):
        held = await client.post("/bestill/velg",
                                 data={**hidden, "slot": str(rng.choice(slot_ids))})
        if held.status_code == 409:
            continue
        if held.status_code != 303:
            raise AssertionError(f"choose: {held.status_code}")
        summary = await page_text(client, _path(held.headers["location"]))
        done = await client.post("/bestill/bekreft", data=hidden_fields(summary, "confirm-form"))
        if done.status_code == 409:
            continue
        found = re.fullmatch(r"/timer/(\d+)/kvittering", done.headers.get("location", ""))
        if done.status_code != 303 or not found:
            raise AssertionError(f"confirm: {done.status_code}")
        return int(found.group(1))
    raise AssertionError("no free time after several tries")
