"""Two-way SMS end to end, on PostgreSQL and Redis with the real arq worker:
a text posted to ``/webhooks/twilio/inbound`` (signed as Twilio signs it)
is stored once, the ``handle_reply`` job acts on it through the booking
services as the person who owns the number, and its answer is handed to the
(fake) provider. Every intent in every language, siblings, the cut-off, an
unknown number, duplicated webhooks, forged signatures, and no loops."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, timedelta

import pytest
from arq.connections import ArqRedis
from sqlalchemy import func, select
from starlette.applications import Starlette
from starlette.routing import Route
from twilio.request_validator import RequestValidator

from booking import service
from booking.audit import Actor
from booking.models import Appointment, AuditEntry
from core.db import Database
from core.settings import Settings
from notifications import jobs, outbox
from notifications.models import InboundSms, Notification, SmsNumberBlock
from notifications.replies import DATA_FILE
from notifications.reply_texts import render
from notifications.webhooks import twilio_inbound
from notifications.worker import ArqQueue, make_worker
from tests import factories as f
from tests.notifications.helpers import (
    ADULT_MOBILE,
    EARLY,
    GUARDIAN_MOBILE,
    PUBLIC_URL,
    Clock,
    MemorySms,
    book_adult,
    helsenorge_went,
    make_runtime,
    purge_redis,
    rows,
    world_with_phones,
)

pytestmark = pytest.mark.redis

AUTH_TOKEN = "twilio-test-token"
OUR_NUMBER = "+4759440000"
UNKNOWN_MOBILE = "+4799887766"
KEYWORDS = json.loads(DATA_FILE.read_text(encoding="utf-8"))["languages"]


@dataclass
class Phone:
    """A phone texting the service, and the service's worker."""

    db: Database
    app: Starlette
    runtime: object
    sms: MemorySms
    clock: Clock
    pool: ArqRedis
    queue_name: str
    prefix: str
    sent: int = 0

    async def text(self, body: str, sender: str = ADULT_MOBILE, sid: str | None = None,
                   token: str = AUTH_TOKEN) -> int:
        """Post ``body`` from ``sender`` to the webhook; returns the HTTP status."""
        self.sent += 1
        params = {"MessageSid": sid or f"SMreply{self.sent:04d}", "AccountSid": "AC1",
                  "From": sender, "To": OUR_NUMBER, "Body": body, "NumMedia": "0"}
        path = "/webhooks/twilio/inbound"
        signature = RequestValidator(token).compute_signature(PUBLIC_URL + path, params)
        from tests.apps import client_for

        async with client_for(self.app, "http://internal:8000") as client:
            response = await client.post(path, data=params,
                                         headers={"X-Twilio-Signature": signature})
        return response.status_code

    async def work(self) -> int:
        """Run the real worker until the queue is empty."""
        worker = make_worker(self.runtime, self.pool, queue_name=self.queue_name,  # type: ignore[arg-type]
                             burst=True, with_cron=False)
        return int(await worker.run_check())

    async def answers(self, to: str = ADULT_MOBILE) -> list[str]:
        """What the provider was handed for ``to`` (answers only), in order."""
        async with self.db.read() as session:
            ids = set((await session.execute(
                select(Notification.id).where(Notification.purpose == "reply",
                                              Notification.to_e164 == to))).scalars())
        return [m.body for m in self.sms.messages if m.notification_id in ids]


@pytest.fixture
async def phone(pg_db: Database, redis_server_url: str, redis_prefix: str
                ) -> AsyncIterator[Phone]:
    pool = ArqRedis.from_url(redis_server_url)
    sms = MemorySms()
    clock = Clock(EARLY + timedelta(hours=1))
    runtime = make_runtime(pg_db, sms, clock, own_numbers=frozenset({OUR_NUMBER}),
                           reply_answers_per_day=5)
    queue_name = f"{redis_prefix}queue"
    runtime.queue = ArqQueue(pool, queue_name=queue_name, job_prefix=redis_prefix)
    app = Starlette(routes=[Route("/webhooks/twilio/inbound", twilio_inbound,
                                  methods=["POST"])])
    app.state.settings = Settings(public_url=PUBLIC_URL, twilio_auth_token=AUTH_TOKEN)
    app.state.db = pg_db
    app.state.notification_queue = runtime.queue
    yield Phone(pg_db, app, runtime, sms, clock, pool, queue_name, redis_prefix)
    await pool.aclose()
    await purge_redis(redis_server_url, f"*{redis_prefix}*")


async def told(phone: Phone, appointment_id: int) -> None:
    """Hand over the appointment's due notices (so the number is the owner's)."""
    await helsenorge_went(phone.db, EARLY)
    for row in await rows(phone.db, appointment_id=appointment_id):
        if row.send_after <= phone.clock.now:
            await jobs.deliver(phone.runtime, row.id)  # type: ignore[arg-type]


async def appointment(db: Database, appointment_id: int) -> Appointment:
    async with db.read() as session:
        found = await session.get(Appointment, appointment_id)
        assert found is not None
        return found


async def inbound_rows(db: Database) -> list[InboundSms]:
    async with db.read() as session:
        return list((await session.execute(select(InboundSms).order_by(InboundSms.id)))
                    .scalars())


async def booked_adult(phone: Phone, slot: int = 0) -> tuple[object, Appointment]:
    world = await world_with_phones(phone.db)
    booked = (await book_adult(phone.db, world, slot=slot)).appointment
    await told(phone, booked.id)
    return world, booked


# --- one adult --------------------------------------------------------------------

async def test_ja_confirms_as_the_patient_and_the_answer_reaches_the_phone(phone):
    world, booked = await booked_adult(phone)
    assert await phone.text("Ja, jeg kommer!") == 200
    await phone.work()
    assert (await appointment(phone.db, booked.id)).status == "confirmed"
    [answer] = await phone.answers()
    assert "Takk! Bekreftet" in answer
    async with phone.db.read() as session:
        audit = (await session.execute(
            select(AuditEntry.actor_id, AuditEntry.action)
            .where(AuditEntry.action == "appointment.confirm"))).all()
    assert audit == [(f"patient:{world.adult.id}", "appointment.confirm")]
    [stored] = await inbound_rows(phone.db)
    assert (stored.intent, stored.outcome, stored.owner_id, stored.appointment_id) == (
        "confirm", "confirmed", world.adult.id, booked.id)


@pytest.mark.parametrize("language", ["nb", "nn", "en", "se"])
@pytest.mark.parametrize("intent", ["confirm", "cancel", "change", "stop", "start", "help"])
async def test_every_intent_in_every_language(phone, language, intent):
    """The first keyword of each intent in each language, in capitals and
    with one typo where the word is long enough, whatever language the
    patient's texts are in (Bokmål here)."""
    _, booked = await booked_adult(phone)
    word = KEYWORDS[language][intent][0].upper()
    if len(word) >= 5:
        word = word[:2] + word[3] + word[2] + word[4:]  # two letters swapped
    await phone.text(word)
    await phone.work()
    state = (await appointment(phone.db, booked.id)).status
    answers = await phone.answers()
    async with phone.db.read() as session:
        blocked = await session.get(SmsNumberBlock, ADULT_MOBILE)
    [stored] = await inbound_rows(phone.db)
    assert stored.intent == intent, word
    if intent == "confirm":
        assert state == "confirmed" and "Bekreftet" in answers[0]
    elif intent == "cancel":
        assert state == "cancelled" and "Avbestilt" in answers[0]
        # The answer is the only text about it: no separate cancellation notice.
        assert [r.purpose for r in await rows(phone.db, appointment_id=booked.id)
                if r.purpose == "cancellation"] == []
    elif intent == "change":
        assert state == "booked" and "/endre" in answers[0] and "Velg ny tid" in answers[0]
    elif intent == "stop":
        assert blocked is not None and blocked.reason == "opted_out" and answers == []
    elif intent == "start":
        assert blocked is None and "igjen" in answers[0]
    else:
        assert state == "booked" and "Svar JA" in answers[0]


async def test_change_offers_times_and_a_reply_with_a_number_moves_the_appointment(phone):
    _world, booked = await booked_adult(phone)
    await phone.text("ENDRE")
    await phone.work()
    [offer] = await phone.answers()
    assert "Eller svar ENDRE 1 for" in offer and "ENDRE 2 for" in offer
    await phone.text("endre 2")
    await phone.work()
    old = await appointment(phone.db, booked.id)
    assert old.status == "cancelled" and old.cancellation_reason == "changed"
    async with phone.db.read() as session:
        new = (await session.execute(select(Appointment).where(
            Appointment.replaces_id == booked.id))).scalar_one()
    assert new.starts_at > booked.starts_at and new.status == "booked"
    answers = await phone.answers()
    assert len(answers) == 2 and "Din nye time" in answers[1]
    # The change notice to the patient is the answer itself.
    assert [r.purpose for r in await rows(phone.db, appointment_id=new.id)
            if r.purpose in ("change", "confirmation")] == []


async def test_the_change_link_opens_the_change_page(phone):
    from tests.apps import client_for, make_app

    _, booked = await booked_adult(phone)
    await phone.text("ENDRE")
    await phone.work()
    [offer] = await phone.answers()
    link = next(w for w in offer.split() if "/endre" in w)
    assert link.startswith(f"{PUBLIC_URL}/t/")
    app = make_app(phone.db, secret_key="test-secret", public_url=PUBLIC_URL)
    async with client_for(app, PUBLIC_URL) as client:
        response = await client.get(link.removeprefix(PUBLIC_URL))
    assert response.status_code == 303
    assert response.headers["location"] == f"/timer/{booked.id}/endre"


async def test_after_the_cut_off_the_answer_says_why_and_gives_the_clinics_phone(phone):
    world, booked = await booked_adult(phone)
    # Less than 24 hours before: the late-cancellation fee may apply, and
    # changing online is past the cut-off.
    phone.clock.now = booked.starts_at - timedelta(hours=3)
    await phone.text("AVBESTILL")
    await phone.work()
    await phone.text("ENDRE")
    await phone.work()
    assert (await appointment(phone.db, booked.id)).status == "booked"
    answers = await phone.answers()
    assert len(answers) == 2
    for answer in answers:
        assert "for sent å gjøre dette på SMS" in answer and world.clinic.phone in answer
    # Once it has started there is nothing left to answer about: the help answer.
    phone.clock.now = booked.starts_at + timedelta(minutes=5)
    await phone.text("JA")
    await phone.work()
    assert (await appointment(phone.db, booked.id)).status == "booked"
    assert "Svar JA for å bekrefte" in (await phone.answers())[-1]


# --- siblings -------------------------------------------------------------------

async def siblings(phone: Phone) -> tuple[object, object, object, list[Appointment]]:
    """A guardian with two children (Emma and Jonas), both booked by the clinic."""
    world = await world_with_phones(phone.db)
    async with phone.db.write() as s:
        guardian = await f.patient(s, birth_date=date(1988, 1, 1), mobile=GUARDIAN_MOBILE)
        emma = await f.patient(s, birth_date=date(2021, 2, 3), given_name="Emma")
        jonas = await f.patient(s, birth_date=date(2023, 4, 5), given_name="Jonas Ola")
        await f.guardianship(s, guardian, emma)
        await f.guardianship(s, guardian, jonas)
    staff = Actor.staff("s1", {world.clinic.id})
    booked = []
    for index, child in enumerate((emma, jonas)):
        booked.append((await service.book(
            phone.db, staff, patient_id=child.id, slot_id=world.slots[index].id,
            appointment_type_id=world.child_exam.id, clinic_issued=True,
            now=EARLY)).appointment)
        await told(phone, booked[-1].id)
    return world, guardian, (emma, jonas), booked


async def test_a_guardian_chooses_a_child_by_number(phone):
    _, guardian, _, (emma_time, jonas_time) = await siblings(phone)
    await phone.text("JA", sender=GUARDIAN_MOBILE)
    await phone.work()
    # Our last text was about Jonas: "JA" answers it.
    assert (await appointment(phone.db, jonas_time.id)).status == "confirmed"
    assert (await appointment(phone.db, emma_time.id)).status == "booked"
    await phone.text("AVBESTILL", sender=GUARDIAN_MOBILE)
    await phone.work()
    [_, choose] = await phone.answers(GUARDIAN_MOBILE)
    assert "Hvilken time?" in choose
    assert "AVBESTILL 1 for Emma, AVBESTILL 2 for Jonas" in choose
    assert "begge" not in choose  # never "cancel both" by one word
    await phone.text("Avbestill 1", sender=GUARDIAN_MOBILE)
    await phone.work()
    assert (await appointment(phone.db, emma_time.id)).status == "cancelled"
    assert (await appointment(phone.db, jonas_time.id)).status == "confirmed"
    async with phone.db.read() as session:
        audit = (await session.execute(
            select(AuditEntry.actor_id, AuditEntry.on_behalf_of_id)
            .where(AuditEntry.action == "appointment.cancel"))).all()
    assert audit == [(f"patient:{guardian.id}", emma_time.patient_id)]
    # Support sees what the text did on Emma's appointment (never its words or number).
    from booking.statuses import ActorKind
    from notifications.support import timeline

    staff = Actor(ActorKind.SUPPORT, "support:anne",
                  clinic_ids=frozenset({emma_time.clinic_id}))
    lines = await timeline(phone.db, staff, emma_time.patient_id)
    [line] = [a for a in lines.appointments if a.id == emma_time.id]
    assert [r.outcome_text for r in line.replies] == [
        "Cancelled the appointment by text message."]


async def test_one_numbered_message_and_ja_for_both(phone):
    _, _guardian, _, (emma_time, jonas_time) = await siblings(phone)
    # Neither confirmed, and the guardian writes without a number: which?
    await phone.text("Ja takk", sender=GUARDIAN_MOBILE)
    async with phone.db.write() as session:  # as if our newest text were not about one child
        await session.execute(Notification.__table__.update().where(
            Notification.to_e164 == GUARDIAN_MOBILE).values(appointment_id=None,
                                                             purpose="number_check"))
    await phone.work()
    [choose] = await phone.answers(GUARDIAN_MOBILE)
    assert "Svar JA 1 for Emma, JA 2 for Jonas, JA for begge." in choose
    await phone.text("JA", sender=GUARDIAN_MOBILE)
    await phone.work()
    assert (await appointment(phone.db, emma_time.id)).status == "confirmed"
    assert (await appointment(phone.db, jonas_time.id)).status == "confirmed"
    assert "Emma," in (await phone.answers(GUARDIAN_MOBILE))[-1]
    assert "Jonas," in (await phone.answers(GUARDIAN_MOBILE))[-1]


async def test_ja_2_picks_the_second_child(phone):
    _, _, _, (emma_time, jonas_time) = await siblings(phone)
    async with phone.db.write() as session:
        await session.execute(Notification.__table__.update().where(
            Notification.to_e164 == GUARDIAN_MOBILE).values(appointment_id=None,
                                                             purpose="number_check"))
    await phone.text("hjelp", sender=GUARDIAN_MOBILE)
    await phone.text("JA", sender=GUARDIAN_MOBILE)
    await phone.work()
    await phone.text("JA 2", sender=GUARDIAN_MOBILE)
    await phone.work()
    assert (await appointment(phone.db, emma_time.id)).status == "booked"
    assert (await appointment(phone.db, jonas_time.id)).status == "confirmed"


# --- no loops, strangers, duplicates, forgeries -------------------------------------

async def test_an_unknown_number_is_stored_and_never_answered(phone):
    await booked_adult(phone)
    await phone.text("JA", sender=UNKNOWN_MOBILE)
    await phone.work()
    [stored] = await inbound_rows(phone.db)
    assert stored.outcome == "unknown_number" and stored.answer_id is None
    assert phone.sms.messages[-1].to_e164 != UNKNOWN_MOBILE


async def test_our_own_number_is_never_answered(phone):
    await booked_adult(phone)
    await phone.text("Takk! Bekreftet", sender=OUR_NUMBER)
    await phone.work()
    [stored] = await inbound_rows(phone.db)
    assert stored.outcome == "own" and stored.answer_id is None


async def test_one_help_answer_then_silence_and_a_daily_limit(phone):
    _, _booked = await booked_adult(phone)
    for body in ("Hei", "Hallo?", "???"):
        await phone.text(body)
        await phone.work()
    assert len(await phone.answers()) == 1  # one help answer, no loop
    assert [r.outcome for r in await inbound_rows(phone.db)] == ["help", "silent", "silent"]
    for _ in range(6):
        await phone.text("HJELP")
    await phone.work()
    assert len(await phone.answers()) == 5  # SMS_REPLY_ANSWERS_PER_DAY
    # The worker handles the six side by side, so which two are left unanswered varies.
    outcomes = sorted(r.outcome for r in (await inbound_rows(phone.db))[3:])
    assert outcomes == ["help"] * 4 + ["limited"] * 2


async def test_a_duplicated_webhook_is_stored_and_processed_once(phone):
    _, _booked = await booked_adult(phone)
    for _ in range(3):
        assert await phone.text("JA", sid="SMsame") == 200
    await phone.work()
    assert len(await inbound_rows(phone.db)) == 1
    assert len(await phone.answers()) == 1
    async with phone.db.read() as session:
        confirms = (await session.execute(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.action == "appointment.confirm"))).scalar_one()
    assert confirms == 1


async def test_a_forged_signature_is_refused_and_nothing_is_stored(phone):
    _, booked = await booked_adult(phone)
    assert await phone.text("AVBESTILL", token="not-the-token") == 403
    await phone.work()
    assert await inbound_rows(phone.db) == []
    assert (await appointment(phone.db, booked.id)).status == "booked"


async def test_her_checks_in_todays_appointment_and_says_so(phone):
    world, booked = await booked_adult(phone)
    await phone.text("HER")  # not its day yet: nothing to check in to
    await phone.work()
    assert (await appointment(phone.db, booked.id)).arrived_at is None
    assert await phone.answers() == [render("checkin_none", "nb").body]
    phone.clock.now = booked.starts_at - timedelta(minutes=10)
    await phone.text("Her")
    await phone.work()
    assert "Velkommen!" in (await phone.answers())[-1]
    arrived = await appointment(phone.db, booked.id)
    assert arrived.arrived_at == phone.clock.now
    assert arrived.arrived_by == f"patient:{world.adult.id}"
    assert [r.outcome for r in await inbound_rows(phone.db)] == ["checkin", "checkin"]
    async with phone.db.read() as session:
        audited = (await session.execute(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.action == "appointment.check_in"))).scalar_one()
    assert audited == 1


async def test_an_unknown_code_gets_the_help_answer_and_changes_nothing(phone):
    _, booked = await booked_adult(phone)
    await phone.text("JA 4821")
    await phone.work()
    assert [r.outcome for r in await inbound_rows(phone.db)] == ["help"]
    assert (await appointment(phone.db, booked.id)).starts_at == booked.starts_at


def test_the_reply_job_takes_an_id_only():
    import inspect

    inspect.signature(jobs.handle_reply).bind({}, 1)
    assert outbox.answering  # the hook the answers use


async def test_one_numbered_request_to_a_guardian_and_replies_by_number(phone):
    from notifications.confirm_requests import ask_guardian

    _, guardian, _, (emma_time, jonas_time) = await siblings(phone)
    asked = await ask_guardian(phone.runtime, guardian.id, phone.clock.now)
    assert asked is not None
    assert await ask_guardian(phone.runtime, guardian.id, phone.clock.now) is None  # once
    await jobs.deliver(phone.runtime, asked)
    [request] = [m.body for m in phone.sms.messages if m.notification_id == asked]
    assert "1) Emma, " in request and "2) Jonas, " in request
    assert request.endswith("Svar JA 1 for Emma, JA 2 for Jonas, JA for begge.")
    await phone.text("JA 2", sender=GUARDIAN_MOBILE)
    await phone.work()
    assert (await appointment(phone.db, emma_time.id)).status == "booked"
    assert (await appointment(phone.db, jonas_time.id)).status == "confirmed"
    await phone.text("ja 1", sender=GUARDIAN_MOBILE)
    await phone.work()
    assert (await appointment(phone.db, emma_time.id)).status == "confirmed"


async def test_representation_is_judged_on_the_day_of_the_reply(phone):
    """A guardian told about a 15-year-old's appointment replies after the
    young person turned 16: the guardian may no longer act for them."""
    world = await world_with_phones(phone.db)
    birthday = (EARLY + timedelta(days=1)).date()
    async with phone.db.write() as s:
        guardian = await f.patient(s, birth_date=date(1980, 1, 1), mobile=GUARDIAN_MOBILE)
        young = await f.patient(s, birth_date=birthday.replace(year=birthday.year - 16),
                                given_name="Sara")
        await f.guardianship(s, guardian, young)
    staff = Actor.staff("s1", {world.clinic.id})
    booked = (await service.book(phone.db, staff, patient_id=young.id,
                                 slot_id=world.slots[0].id,
                                 appointment_type_id=world.child_exam.id, clinic_issued=True,
                                 now=EARLY)).appointment
    await told(phone, booked.id)
    assert GUARDIAN_MOBILE in {m.to_e164 for m in phone.sms.messages}
    phone.clock.now = EARLY + timedelta(days=1, hours=2)  # the 16th birthday
    await phone.text("JA", sender=GUARDIAN_MOBILE)
    await phone.work()
    assert (await appointment(phone.db, booked.id)).status == "booked"
    [stored] = await inbound_rows(phone.db)
    assert stored.outcome == "help" and stored.owner_id == guardian.id


async def test_a_reply_that_fails_is_recorded_and_never_acted_on_twice(phone, monkeypatch):
    from notifications import reply_actions

    _, booked = await booked_adult(phone)

    async def broken(*_args, **_kwargs):
        raise RuntimeError("the database went away")

    monkeypatch.setattr(reply_actions, "owner_of", broken)
    await phone.text("JA")
    await phone.work()
    monkeypatch.undo()
    [stored] = await inbound_rows(phone.db)
    assert stored.outcome == "failed" and stored.handled_at is not None
    assert await jobs.handle_reply({"runtime": phone.runtime}, stored.id) == "handled"
    assert (await appointment(phone.db, booked.id)).status == "booked"
