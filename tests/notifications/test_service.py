"""Support's resend, the statistics, the CLI commands, /metrics and /dev/sms."""

from __future__ import annotations

import argparse
import asyncio
import json
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select, update
from starlette.applications import Starlette
from starlette.routing import Route

from booking.audit import Actor
from booking.models import AuditEntry, Patient
from booking.statuses import ActorKind
from core.db import Base, create_database
from core.settings import Settings
from notifications import cli, jobs
from notifications.dev_outbox import dev_sms, outbox_page
from notifications.metrics import metrics_endpoint, observe_handover, render_metrics
from notifications.models import Notification
from notifications.service import ResendRefused, resend, stats
from tests.apps import client_for
from tests.notifications.helpers import (
    ADULT_MOBILE,
    EARLY,
    OTHER_MOBILE,
    START,
    Clock,
    MemorySms,
    book_adult,
    make_runtime,
    row,
    rows,
    world_with_phones,
)

SUPPORT = Actor(ActorKind.SUPPORT, "support:anne")


async def failed_confirmation(db):
    world = await world_with_phones(db)
    appointment = (await book_adult(db, world)).appointment
    notes = await rows(db, appointment_id=appointment.id)
    sms = MemorySms()
    runtime = make_runtime(db, sms, Clock(EARLY))
    sms.will("fail")
    assert await jobs.deliver(runtime, notes[0].id) == "failed"
    return runtime, sms, notes


async def test_resend_to_a_corrected_number(db):
    runtime, sms, notes = await failed_confirmation(db)
    copy = await resend(db, notes[0].id, reason="Patient gave a new number by phone",
                        to="+47 412 34 567", actor=SUPPORT, now=EARLY)
    stored = await row(db, copy.id)
    assert (stored.resend_no, stored.resend_of_id, stored.resend_reason, stored.to_e164,
            stored.status, stored.purpose, stored.send_after, stored.expires_at) == (
        1, notes[0].id, "Patient gave a new number by phone", OTHER_MOBILE, "created",
        "confirmation", EARLY, START)
    async with db.read() as session:
        entry = (await session.execute(
            select(AuditEntry).where(AuditEntry.action == "notification.resend"))).scalar_one()
    assert (entry.actor_id, entry.purpose, entry.subject_patient_id, entry.detail) == (
        "support:anne", "support", notes[0].patient_id,
        {"notification_id": notes[0].id, "new_notification_id": copy.id,
         "corrected_number": True})
    assert await jobs.deliver(runtime, copy.id) == "accepted"
    assert [m.to_e164 for m in sms.messages] == [OTHER_MOBILE]
    assert (await row(db, notes[0].id)).status == "permanent-failure"  # the original stays
    second = await resend(db, notes[0].id, reason="once more", actor=SUPPORT, now=EARLY)
    assert (second.resend_no, second.to_e164) == (2, None)


async def test_a_resend_submitted_twice_sends_once(db):
    _, _, notes = await failed_confirmation(db)
    await resend(db, notes[0].id, reason="Patient called", actor=SUPPORT, now=EARLY,
                 expected_resends=0)
    with pytest.raises(ResendRefused) as refused:
        await resend(db, notes[0].id, reason="Patient called", actor=SUPPORT, now=EARLY,
                     expected_resends=0)
    assert refused.value.code == "already_resent"
    async with db.read() as session:
        copies = (await session.execute(select(Notification).where(
            Notification.resend_of_id == notes[0].id))).scalars().all()
    assert len(copies) == 1
    # Having seen that one, a second resend is a decision of its own.
    again = await resend(db, notes[0].id, reason="once more", actor=SUPPORT, now=EARLY,
                         expected_resends=1)
    assert again.resend_no == 2


async def test_two_submits_at_once_send_once(db):
    _, _, notes = await failed_confirmation(db)
    outcomes = await asyncio.gather(*(
        resend(db, notes[0].id, reason="Patient called", actor=SUPPORT, now=EARLY,
               expected_resends=0) for _ in range(2)), return_exceptions=True)
    refused = [o for o in outcomes if isinstance(o, ResendRefused)]
    assert len(refused) == 1 and refused[0].code == "already_resent"
    async with db.read() as session:
        copies = (await session.execute(select(Notification).where(
            Notification.resend_of_id == notes[0].id))).scalars().all()
    assert len(copies) == 1


@pytest.mark.parametrize(("kwargs", "code"), [
    ({"reason": "  "}, "reason_required"),
    ({"reason": "x", "to": "+4722000000"}, "not_a_mobile_number"),
])
async def test_resend_refusals(db, kwargs, code):
    _, _, notes = await failed_confirmation(db)
    with pytest.raises(ResendRefused) as refused:
        await resend(db, notes[0].id, actor=SUPPORT, now=EARLY, **kwargs)
    assert refused.value.code == code
    assert len(await rows(db)) == 3


async def test_no_resend_while_the_first_may_still_arrive(db):
    world = await world_with_phones(db)
    appointment = (await book_adult(db, world)).appointment
    notes = await rows(db, appointment_id=appointment.id)
    for status in ("created", "sending", "pending"):
        async with db.write() as session:
            await session.execute(update(Notification).where(Notification.id == notes[0].id)
                                  .values(status=status))
        with pytest.raises(ResendRefused, match="still_in_flight"):
            await resend(db, notes[0].id, reason="x", actor=SUPPORT, now=EARLY)


async def test_stats(db):
    await failed_confirmation(db)
    result = await stats(db, now=EARLY)
    assert result.by_status == {"sms": {"permanent-failure": 1, "created": 2},
                                "helsenorge": {"created": 1}}
    assert (result.due_now, result.in_doubt, result.last_24h) == (  # Helsenorge: due at once
        1, 0, {"permanent-failure": 1, "created": 3})
    assert result.lines()[:2] == ["helsenorge: 1 (created 1)",
                                  "sms: 3 (created 2, permanent-failure 1)"]


async def test_metrics_show_the_outbox(db):
    await failed_confirmation(db)
    # The hand-over histogram has a series once one hand-over was accepted in
    # this process; whether another test did that first must not matter.
    observe_handover("sms", EARLY, EARLY)
    text = (await render_metrics(db)).decode()
    assert 'tanntid_notifications{channel="sms",status="permanent-failure"} 1.0' in text
    assert 'tanntid_notifications{channel="sms",status="created"} 2.0' in text
    assert 'tanntid_notifications{channel="helsenorge",status="created"} 1.0' in text
    assert 'tanntid_notifications_by_error_code{channel="sms",code="21211"} 1.0' in text
    assert "tanntid_notification_queue_depth 0.0" in text
    assert 'tanntid_notification_handovers_total{channel="sms",outcome="failed"}' in text
    assert "tanntid_notification_handover_seconds_bucket" in text
    app = Starlette(routes=[Route("/metrics", metrics_endpoint)])
    app.state.db = db
    app.state.settings = Settings(secret_key="x" * 40)  # loopback only, as in dev
    async with client_for(app, "http://t") as client:  # from 127.0.0.1
        response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert "tanntid_notification_oldest_due_seconds" in response.text


async def test_metrics_only_for_the_configured_networks_or_the_token(db):
    app = Starlette(routes=[Route("/metrics", metrics_endpoint)])
    app.state.db = db
    token = "Wm5pX8cR2-vLq7TzN0aJ4_yEd9KsB3hG"
    app.state.settings = Settings(secret_key="x" * 40, metrics_networks=("10.1.0.0/16",),
                                  metrics_token=token)

    async def status(client: tuple[str, int], headers: dict[str, str] | None = None) -> int:
        transport = httpx.ASGITransport(app=app, client=client)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            return (await http.get("/metrics", headers=headers)).status_code

    assert await status(("10.1.4.5", 5000)) == 200
    assert await status(("127.0.0.1", 5000)) == 401  # loopback is not in the list
    assert await status(("203.0.113.9", 5000)) == 401
    assert await status(("203.0.113.9", 5000), {"Authorization": f"Bearer {token}"}) == 200
    assert await status(("203.0.113.9", 5000), {"Authorization": "Bearer wrong"}) == 401
    assert await status(("203.0.113.9", 5000), {"Authorization": f"Basic {token}"}) == 401
    app.state.settings = Settings(env="production", secret_key="x" * 40, metrics_networks=())
    assert await status(("127.0.0.1", 5000)) == 401


async def test_dev_sms_page_shows_messages_as_a_phone_would(db, app_client):
    await failed_confirmation(db)
    page = await outbox_page(db)
    assert ADULT_MOBILE in page
    assert "Timen din er bestilt mandag 4. mars kl. 10:00." in page
    assert 'data-status="permanent-failure"' in page
    assert "Invalid &#39;To&#39; number" in page
    app = Starlette(routes=[Route("/dev/sms", dev_sms)])
    app.state.db = db
    client = app_client(app, "http://t")
    for env, expected in (("dev", 200), ("production", 404)):
        app.state.settings = Settings(env=env)  # type: ignore[arg-type]
        assert (await client.get("/dev/sms")).status_code == expected


async def test_dev_sms_page_shows_what_was_not_sent_and_why(db):
    world = await world_with_phones(db)
    async with db.write() as session:
        await session.execute(update(Patient).where(Patient.id == world.adult.id)
                              .values(mobile=None))
    appointment = (await book_adult(db, world)).appointment
    confirmation = (await rows(db, appointment_id=appointment.id))[0]
    runtime = make_runtime(db, MemorySms(), Clock(EARLY))
    assert await jobs.deliver(runtime, confirmation.id) == "cancelled"
    page = await outbox_page(db)
    assert "Not sent" in page
    assert f'id="sms-{confirmation.id}" data-status="cancelled"' in page
    assert "Not sent: we have no mobile number for the recipient." in page
    assert "(no_mobile)" not in page


async def test_cli_stats_and_resend(tmp_path: Path, capsys):
    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.sqlite3'}"
    database = create_database(url)
    async with database.engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
    try:
        _, _, notes = await failed_confirmation(database)
    finally:
        await database.dispose()
    settings = Settings(database_url=url).notifications
    capsys.readouterr()

    # The commands run their own event loop, as from a shell.
    loop = asyncio.get_running_loop()
    assert await loop.run_in_executor(None, lambda: cli.stats_command(settings,
                                                                      as_json=True)) == 0
    printed = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert printed["by_status"] == {"sms": {"created": 2, "permanent-failure": 1},
                                    "helsenorge": {"created": 1}}
    code = await loop.run_in_executor(None, lambda: cli.resend_command(
        settings, notes[0].id, reason="new number", to="41234567", by="anne"))
    assert code == 0
    assert f"resend 1 of {notes[0].id}" in capsys.readouterr().out
    code = await loop.run_in_executor(None, lambda: cli.resend_command(
        settings, 424242, reason="x", by="anne"))
    assert code == 1
    assert "unknown_notification" in capsys.readouterr().err


def test_cli_parser_and_worker_without_redis(capsys):
    parser = argparse.ArgumentParser(prog="tanntid")
    commands = parser.add_subparsers(dest="command", required=True)
    cli.add_commands(commands)
    args = parser.parse_args(["notifications", "resend", "12", "--reason", "wrong number",
                              "--to", "+4741234567"])
    assert (args.notifications_command, args.notification_id, args.reason, args.to) == (
        "resend", 12, "wrong number", "+4741234567")
    assert parser.parse_args(["notifications", "stats", "--json"]).json is True
    assert cli.run_worker(Settings(redis_url=None).notifications) == 2
    assert "REDIS_URL is not set" in capsys.readouterr().err


async def test_dev_sms_page_shows_waiting_messages_with_when_and_why(db):
    """Booked at 21:15: the confirmation waits for 08:00 and the page says so,
    instead of "No text messages yet"; the reminders wait for their time."""
    from tests import factories as f

    world = await world_with_phones(db)
    evening = f.at(2030, 2, 26, 20, 15)  # 21:15 in Oslo
    appointment = (await book_adult(db, world, now=evening)).appointment
    confirmation, *reminders = await rows(db, appointment_id=appointment.id)
    page = await outbox_page(db, now=evening + timedelta(minutes=1))
    assert "No text messages yet" not in page
    assert 'id="waiting"' in page
    item = page[page.index(f'id="sms-{confirmation.id}"'):]
    item = item[:item.index("</li>")]
    assert "goes 2030-02-27 08:00" in item
    assert "Waiting for the sending hours" in item
    for reminder in reminders:
        assert f'id="sms-{reminder.id}"' in page
    assert "Scheduled: goes at its time." in page
