"""``tanntid serve --fakes``, what ``make run`` runs, as a subprocess: the
fakes of Twilio, HelseID + Helsenorge and Maskinporten + KRR on loopback, the
service pointed at them. A demo person logs in through the local ID-porten and
books through the pages; the confirmation goes to the number the fake KRR has
for them, reaches the fake Twilio, and its signed status callbacks make
``/dev/sms`` show it delivered; the appointment reaches the fake Helsenorge.
Ctrl-C and SIGTERM stop the service and every fake."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import subprocess
import sys
import time as clock
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from bs4 import BeautifulSoup

from booking.rules import local_date
from core.db import Base, create_database, utcnow
from core.identity import IdentityVault
from core.settings import DOCUMENTED, ROOT, Settings
from demo.people import DEMO_PEOPLE, DemoLogin, demo_logins
from tests import factories as f
from tests.logcheck import keep_output
from tests.web.auth.helpers import browser, login
from tests.web.booking_flow.world import confirm, hold, pick
from web.cli import _serve
from web.i18n import OSLO

#: ``tanntid serve --fakes`` in a process of its own, on the machine's clock.
pytestmark = [pytest.mark.slow, pytest.mark.real_clock]

SECRET = "serve-fakes-" + "s" * 32
#: A demo person with a mobile number in the demo data; here without a number
#: of their own on file, so the SMS goes to the one the fake KRR has.
DEMO_PERSON = "adult-oslo"
T = TypeVar("T")


@dataclass
class Running:
    process: subprocess.Popen[bytes]
    url: str
    fakes: dict[str, str]  # "Twilio", "HelseID + Helsenorge", "Maskinporten + KRR" -> base URL
    stdout: Path
    stderr: Path

    def output(self) -> str:
        return self.stdout.read_text() + self.stderr.read_text()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def listening(url: str) -> bool:
    host, port = url.removeprefix("http://").split(":")
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, int(port))) == 0


async def prepare_database(path: Path) -> tuple[DemoLogin, datetime]:
    """Tables, one clinic in Oslo with one free time a week ahead, and the
    demo person as a patient without a mobile number of their own."""
    db = create_database(f"sqlite+aiosqlite:///{path}")
    vault = IdentityVault.from_secret(SECRET)
    demo = next(d for d in demo_logins(date.today()) if d.person.key == DEMO_PERSON)
    starts = datetime.combine(local_date(utcnow()) + timedelta(days=7), time(14, 0),
                              tzinfo=OSLO)
    try:
        async with db.engine.begin() as conn:
            await conn.run_sync(Base.metadata.create_all)
        async with db.write() as s:
            # Text messages may go at any hour here, so the test does not wait for 08:00.
            county = await f.county(s, name="Oslo",
                                    quiet_hours={"send_from": "00:00", "send_until": "23:59"})
            clinic = await f.clinic(s, county, name="Grünerløkka tannklinikk",
                                    slug="grunerlokka", municipality_code="0301")
            exam = await f.appointment_type(s, county.id, code="exam", min_age=18, names={
                "nb": "Undersøkelse", "nn": "Undersøking", "en": "Check-up",
                "se": "Iskkadeapmi"})
            chair = await f.chair(s, clinic)
            template = await f.template(s, chair, [exam])
            await f.slot(s, chair, starts, template)
            patient = await f.patient(s, birth_date=demo.birth_date,
                                      given_name=demo.person.given_name,
                                      family_name=demo.person.family_name, mobile=None,
                                      identity_number=demo.identity_number)
            patient.identity_hash = vault.lookup_hash(demo.identity_number)
            patient.identity_encrypted = vault.encrypt(demo.identity_number)
    finally:
        await db.dispose()
    return demo, starts


@contextmanager
def serve_with_fakes(tmp_path: Path, database: Path, *, stop: int = signal.SIGTERM,
                     timeout: float = 60.0) -> Iterator[Running]:
    """``tanntid serve --fakes`` on a free port; stopped with ``stop`` at the end,
    which must end it cleanly (exit 0, no port left open)."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in DOCUMENTED}
    env.update(DATABASE_URL=f"sqlite+aiosqlite:///{database}", SECRET_KEY=SECRET,
               TANNTID_ENV="dev", LOG_JSON="1")
    stdout, stderr = tmp_path / "serve.out", tmp_path / "serve.err"
    with stdout.open("wb") as out, stderr.open("wb") as err:
        process = subprocess.Popen(
            [sys.executable, "-m", "web.cli", "serve", "--fakes", "--port", str(port)],
            cwd=ROOT, env=env, stdout=out, stderr=err)
    running = Running(process, f"http://127.0.0.1:{port}", {}, stdout, stderr)
    try:
        deadline = clock.monotonic() + timeout
        while not (running.fakes and listening(running.url)):
            assert process.poll() is None, running.output()
            assert clock.monotonic() < deadline, running.output()
            clock.sleep(0.1)
            running.fakes = dict(re.findall(r"^  (\S.*?\S) +(http://127\.0\.0\.1:\d+) ",
                                            stdout.read_text(), re.MULTILINE))
        assert set(running.fakes) == {"Twilio", "HelseID + Helsenorge", "Maskinporten + KRR"}
        yield running
    finally:
        if process.poll() is None:
            process.send_signal(stop)
        try:
            code = process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            raise
        finally:
            keep_output("serve-fakes", running.output())
    assert code == 0, running.output()
    assert not [url for url in (running.url, *running.fakes.values()) if listening(url)]


async def eventually(check: Callable[[], Awaitable[T | None]], within: float = 15.0) -> T:
    deadline = clock.monotonic() + within
    while True:
        found = await check()
        if found is not None:
            return found
        assert clock.monotonic() < deadline, f"{check.__name__}: nothing after {within} s"
        await asyncio.sleep(0.1)


async def test_a_booking_reaches_the_fake_twilio_and_helsenorge_and_dev_sms_shows_it_delivered(
        tmp_path: Path) -> None:
    demo, starts = await prepare_database(tmp_path / "app.sqlite3")
    assert demo.person.mobile
    with serve_with_fakes(tmp_path, tmp_path / "app.sqlite3") as running:
        twilio = running.fakes["Twilio"]
        helsenorge = running.fakes["HelseID + Helsenorge"]
        krr = running.fakes["Maskinporten + KRR"]
        async with browser(running.url) as client, httpx.AsyncClient() as fake:
            assert (await login(client, demo.identity_number)).status_code == 303
            picker = await pick(client, None, "Check-up", "Grünerløkka tannklinikk")
            appointment_id, _ = await confirm(client, await hold(client, picker, "14:00"))

            async def sent() -> dict[str, Any] | None:
                messages = (await fake.get(f"{twilio}/_fake/messages")).json()["messages"]
                return messages[0] if messages and messages[0]["status"] == "delivered" else None

            message = await eventually(sent)
            # The number KRR has for the demo person; the patient gave none.
            assert message["to"] == demo.person.mobile
            assert message["messaging_service_sid"] and "Grünerløkka" in message["body"]

            async def shown() -> str | None:
                page = BeautifulSoup((await client.get("/dev/sms")).text, "html.parser")
                row = page.select_one(f"#sms-{message['notification_id']}")
                return "delivered" if row and row["data-status"] == "delivered" else None

            await eventually(shown)
            stats = (await fake.get(f"{twilio}/_fake/stats")).json()
            # queued, sent, delivered: each signed, each accepted by our webhook.
            assert stats["callback_answers"] == {"200": 3}, stats
            assert stats["accepted"] == 1 and stats["injected_errors"] == {}

            async def put() -> dict[str, Any] | None:
                held = (await fake.get(f"{helsenorge}/_fake/appointments")).json()
                return next(iter(held["appointments"]), None)

            appointment = await eventually(put)
            assert appointment["id"] == str(appointment_id)
            assert appointment["status"] == "booked"
            assert datetime.fromisoformat(appointment["start"]) == starts
            assert (await fake.get(f"{krr}/_fake/stats")).json()["lookups"] >= 1

            # The newcomer replies JA on /dev/sms, as the phone would: signed
            # with the fake Twilio's token, through the real webhook, and the
            # answer goes out through the fake Twilio.
            reply = await client.post("/dev/sms/reply", data={
                "n": str(message["notification_id"]), "body": "JA"}, headers={
                "Origin": running.url, "Sec-Fetch-Site": "same-origin"})
            assert reply.status_code == 303

            async def answered() -> dict[str, Any] | None:
                messages = (await fake.get(f"{twilio}/_fake/messages")).json()["messages"]
                return next((m for m in messages
                             if m["notification_id"] != message["notification_id"]
                             and ("Bekreftet" in m["body"] or "Confirmed" in m["body"])), None)

            answer = await eventually(answered)
            assert answer["to"] == demo.person.mobile
    assert demo.identity_number not in running.output()
    assert demo.person.mobile not in running.output()


async def test_ctrl_c_stops_the_service_and_every_fake(tmp_path: Path) -> None:
    database = tmp_path / "empty.sqlite3"
    db = create_database(f"sqlite+aiosqlite:///{database}")
    async with db.engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
    await db.dispose()
    with serve_with_fakes(tmp_path, database, stop=signal.SIGINT) as running:
        async with httpx.AsyncClient() as client:
            assert (await client.get(f"{running.url}/dev/sms")).status_code == 200
            stats = await client.get(f"{running.fakes['Maskinporten + KRR']}/_fake/stats")
    without = sum(1 for person in DEMO_PEOPLE if not person.mobile)
    assert stats.json()["persons"] == {"active": len(DEMO_PEOPLE) - without - 2,
                                       "no-mobile": without, "reserved": 1, "stale": 1}
    assert "reserved: Jon Berg" in running.stdout.read_text()


def test_fakes_are_refused_in_production() -> None:
    assert _serve(Settings(env="production"), None, None, False, fakes=True) == 2
