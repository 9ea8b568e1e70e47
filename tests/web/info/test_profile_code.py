"""A mobile number typed on the profile is used only after the one-time code
sent to it is typed back (``/profil/mobil/kode``): not before, a wrong code
counted, an expired or worn-out code refused with a way to a new one, a cap
on codes per hour, and nobody can use another person's code."""

from __future__ import annotations

import logging
import random
from datetime import date, timedelta

import httpx
import pytest
from sqlalchemy import select
from starlette.applications import Starlette

from core.db import Database
from core.identity import synthetic_number
from notifications import number_check
from notifications.models import Notification, NumberCheck
from notifications.statuses import Purpose
from tests.clock import frozen_clock
from tests.pages import html, text_of
from tests.web.info.helpers import (
    audit_entries,
    code_sent,
    log_in,
    new_browser,
    patient_row,
    set_patient,
)
from web import i18n

NEW = "+4798765432"
#: Another synthetic adult.
OTHER_PID = synthetic_number(date(1971, 3, 3), random.Random(7))


async def ask(client: httpx.AsyncClient, typed: str = "987 65 432") -> httpx.Response:
    return await client.post("/profil/mobil", data={"mobil": typed})


def wrong(code: str) -> str:
    """A code that is not ``code``."""
    return f"{(int(code) + 1) % 10**6:06d}"


async def test_the_number_is_not_used_before_its_code(
        app: Starlette, client: httpx.AsyncClient, db: Database, patient_id: int) -> None:
    await set_patient(db, patient_id, mobile="+4741234567")
    response = await ask(client)
    assert response.status_code == 303
    assert response.headers["location"] == "/profil/mobil/kode"
    assert (await patient_row(db, patient_id)).mobile == "+4741234567"
    assert await audit_entries(db) == []
    soup = html(await client.get("/profil"))
    assert text_of(soup, "#sms-to .phone-number") == "+47 412 34 567"

    page = await client.get("/profil/mobil/kode")
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    soup = html(page)
    assert text_of(soup, "h1") == "Confirm your mobile number"
    assert text_of(soup, "#code-sent .phone-number") == "+47 987 65 432"
    field = soup.select_one("form[action='/profil/mobil/kode'] input#kode")
    assert field is not None and field["autocomplete"] == "one-time-code"
    assert soup.select_one("label[for=kode]") is not None

    # The code went into the outbox, to the new number, about no appointment.
    async with db.read() as tx:
        [row] = (await tx.execute(select(Notification).where(
            Notification.purpose == Purpose.NUMBER_CHECK))).scalars()
    assert (row.to_e164, row.appointment_id, row.recipient_id) == (NEW, None, patient_id)


async def test_the_right_code_saves_the_number(
        app: Starlette, client: httpx.AsyncClient, db: Database, patient_id: int) -> None:
    await ask(client)
    response = await client.post("/profil/mobil/kode",
                                 data={"kode": await code_sent(app, db, patient_id)})
    assert response.status_code == 303
    assert response.headers["location"] == "/profil?lagret=mobil"
    assert (await patient_row(db, patient_id)).mobile == NEW
    [entry] = await audit_entries(db)
    assert entry.detail == {"change": "added"}
    # The check is used up: the same code again does nothing more.
    again = await client.post("/profil/mobil/kode",
                              data={"kode": await code_sent(app, db, patient_id)})
    assert again.status_code == 303 and again.headers["location"] == "/profil"
    assert len(await audit_entries(db)) == 1


async def test_a_wrong_code_is_counted_and_says_how_many_tries_are_left(
        app: Starlette, client: httpx.AsyncClient, db: Database, patient_id: int) -> None:
    await ask(client)
    code = await code_sent(app, db, patient_id)
    response = await client.post("/profil/mobil/kode", data={"kode": wrong(code)})
    assert response.status_code == 400
    soup = html(response)
    assert text_of(soup, "#kode-error") == "The code is wrong. You have 4 more tries."
    assert soup.select_one("#error-summary a[href='#kode']") is not None
    assert soup.select_one("input#kode")["aria-invalid"] == "true"
    assert (await patient_row(db, patient_id)).mobile is None
    async with db.read() as tx:
        check = (await tx.execute(select(NumberCheck))).scalar_one()
    assert check.attempts == 1
    # The right code still works after a wrong one.
    ok = await client.post("/profil/mobil/kode", data={"kode": code})
    assert ok.headers["location"] == "/profil?lagret=mobil"


@pytest.mark.parametrize("lang", ["nb", "nn", "se", "en"])
async def test_the_refusal_is_in_the_readers_language(
        app: Starlette, db: Database, lang: str) -> None:
    async with new_browser(app, lang) as client:
        patient_id = await log_in(client)
        await ask(client)
        code = await code_sent(app, db, patient_id)
        soup = html(await client.post("/profil/mobil/kode", data={"kode": wrong(code)}))
    expected = i18n.translations(lang).ngettext(
        "The code is wrong. You have %(num)d more try.",
        "The code is wrong. You have %(num)d more tries.", 4) % {"num": 4}
    assert text_of(soup, "#kode-error") == expected
    if lang != "en":
        assert expected != "The code is wrong. You have 4 more tries."


async def test_too_many_wrong_codes_need_a_new_code(
        app: Starlette, client: httpx.AsyncClient, db: Database, patient_id: int) -> None:
    await ask(client)
    code = await code_sent(app, db, patient_id)
    for _ in range(number_check.MAX_ATTEMPTS - 1):
        assert (await client.post("/profil/mobil/kode",
                                  data={"kode": wrong(code)})).status_code == 400
    last = await client.post("/profil/mobil/kode", data={"kode": wrong(code)})
    assert last.status_code == 400
    soup = html(last)
    assert text_of(soup, "#error-summary li") == (
        "The code was typed wrong too many times. Ask for a new code.")
    assert soup.select_one("input#kode") is None
    renew = soup.select_one("form#new-code[action='/profil/mobil']")
    assert renew is not None and renew.select_one("input[name=mobil]")["value"] == NEW
    # Now even the right code is refused.
    late = await client.post("/profil/mobil/kode", data={"kode": code})
    assert late.status_code == 400
    assert (await patient_row(db, patient_id)).mobile is None
    # A new code works.
    assert (await ask(client, NEW)).status_code == 303
    fresh = await client.post("/profil/mobil/kode",
                              data={"kode": await code_sent(app, db, patient_id)})
    assert fresh.headers["location"] == "/profil?lagret=mobil"
    assert (await patient_row(db, patient_id)).mobile == NEW


async def test_an_expired_code_is_refused(
        app: Starlette, client: httpx.AsyncClient, db: Database, patient_id: int) -> None:
    with frozen_clock() as traveller:
        await ask(client)
        code = await code_sent(app, db, patient_id)
        traveller.shift(number_check.VALID_FOR + timedelta(seconds=1))
        shown = html(await client.get("/profil/mobil/kode"))
        assert text_of(shown, "#error-summary li") == "The code has expired. Ask for a new code."
        response = await client.post("/profil/mobil/kode", data={"kode": code})
    assert response.status_code == 400
    soup = html(response)
    assert text_of(soup, "#error-summary li") == "The code has expired. Ask for a new code."
    assert soup.select_one("form#new-code button") is not None
    assert (await patient_row(db, patient_id)).mobile is None


async def test_a_code_just_within_its_time_is_accepted(
        app: Starlette, client: httpx.AsyncClient, db: Database, patient_id: int) -> None:
    with frozen_clock() as traveller:
        await ask(client)
        traveller.shift(number_check.VALID_FOR - timedelta(seconds=30))
        response = await client.post("/profil/mobil/kode",
                                     data={"kode": await code_sent(app, db, patient_id)})
    assert response.headers["location"] == "/profil?lagret=mobil"


async def test_codes_per_hour_are_capped(
        client: httpx.AsyncClient, db: Database, patient_id: int) -> None:
    for _ in range(number_check.MAX_PER_HOUR):
        assert (await ask(client)).status_code == 303
    refused = await ask(client)
    assert refused.status_code == 429
    assert text_of(html(refused), "#mobil-error") == (
        "You have asked for too many codes in the last hour. Please try again later.")
    async with db.read() as tx:
        sent = (await tx.execute(select(Notification).where(
            Notification.purpose == Purpose.NUMBER_CHECK))).scalars().all()
        checks = (await tx.execute(select(NumberCheck))).scalars().all()
    assert len(sent) == len(checks) == number_check.MAX_PER_HOUR
    # Only the newest code counts.
    assert sum(check.closed_at is None for check in checks) == 1


async def test_another_persons_code_cannot_be_used(
        app: Starlette, client: httpx.AsyncClient, db: Database, patient_id: int) -> None:
    await ask(client)
    mine = await code_sent(app, db, patient_id)
    async with new_browser(app) as other:
        other_id = await log_in(other, OTHER_PID)
        assert other_id != patient_id
        response = await other.post("/profil/mobil/kode", data={"kode": mine})
        assert response.status_code == 303 and response.headers["location"] == "/profil"
        assert (await other.get("/profil/mobil/kode")).headers["location"] == "/profil"
    assert (await patient_row(db, other_id)).mobile is None
    async with db.read() as tx:
        check = (await tx.execute(select(NumberCheck))).scalar_one()
    assert (check.patient_id, check.attempts, check.closed_at) == (patient_id, 0, None)


async def test_the_code_is_in_no_log_line_and_not_in_the_database(
        app: Starlette, client: httpx.AsyncClient, db: Database, patient_id: int,
        caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]) -> None:
    caplog.set_level(logging.DEBUG)
    await ask(client)
    code = await code_sent(app, db, patient_id)
    await client.post("/profil/mobil/kode", data={"kode": wrong(code)})
    await client.post("/profil/mobil/kode", data={"kode": code})
    captured = capsys.readouterr()
    for text in (caplog.text, captured.out, captured.err):
        assert code not in text
    async with db.read() as tx:
        for table in ("number_checks", "notifications", "notification_events", "audit_log"):
            dump = repr((await tx.execute(select(Notification.__table__.metadata.tables[table])
                                          )).all())
            assert code not in dump, table


async def test_removing_the_number_needs_no_code(
        app: Starlette, client: httpx.AsyncClient, db: Database, patient_id: int) -> None:
    await set_patient(db, patient_id, mobile="+4741234567")
    response = await client.post("/profil/mobil/fjern")
    assert response.headers["location"] == "/profil?lagret=fjernet"
    assert (await patient_row(db, patient_id)).mobile is None


async def test_the_profile_leads_back_to_a_waiting_code(
        client: httpx.AsyncClient, db: Database, patient_id: int) -> None:
    assert html(await client.get("/profil")).select_one("#code-waiting") is None
    await ask(client)
    soup = html(await client.get("/profil"))
    assert text_of(soup, "#code-waiting") == (
        "We have sent a code to +47 987 65 432. Type the code")
    assert soup.select_one("#code-waiting a[href='/profil/mobil/kode']") is not None
