"""The profile page with a KRR client configured (``app.state.krr``): the real
:class:`~notifications.channels.krr.KrrClient` talking to the local
Maskinporten + KRR fake over HTTP (in-process). The official number is shown
with its date; a number the patient gives takes over, and removing it goes
back to KRR's; a reservation, a stale number and an unreachable register are
each explained."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date, timedelta

import httpx
import pytest
from starlette.applications import Starlette

from core.db import Database
from core.oauth import generate_rsa_jwk
from notifications.channels.krr import KrrClient, KrrContact, KrrUnavailable
from notifications.fakes.krr import FakeKrr
from tests.clock import suite_today
from tests.pages import html, text_of
from tests.web.auth.helpers import ADULT_PID
from tests.web.info.helpers import audit_entries, give_mobile, patient_row
from web.views.info import long_date

KEY, PUBLIC = generate_rsa_jwk("tanntid-krr-profile")
KRR_URL = "http://krr.test"
RECENT = suite_today() - timedelta(days=40)


@pytest.fixture
def fake() -> FakeKrr:
    fake = FakeKrr()
    fake.add_client("tanntid-krr", PUBLIC)
    return fake


@pytest.fixture
async def krr(app: Starlette, fake: FakeKrr) -> AsyncIterator[KrrClient]:
    client = KrrClient(api_url=KRR_URL, token_url=f"{KRR_URL}/token",
                       audience=f"{KRR_URL}/", client_id="tanntid-krr", client_jwk=KEY,
                       http=httpx.AsyncClient(transport=httpx.ASGITransport(app=fake.app)))
    app.state.krr = client
    yield client
    await client.aclose()


async def test_the_number_from_krr_is_shown_with_its_date(
        client: httpx.AsyncClient, fake: FakeKrr, krr: KrrClient, patient_id: int) -> None:
    fake.active(ADULT_PID, "+4798765432", verified=RECENT)
    soup = html(await client.get("/profil"))
    assert text_of(soup, "#sms-to .phone-number") == "+47 987 65 432"
    assert text_of(soup, "#sms-source") == "(from the official contact register (KRR))"
    krr_number = text_of(soup, "#krr-number")
    assert krr_number.startswith("+47 987 65 432 (last confirmed ")
    assert soup.select_one("#register-note") is None
    norge = soup.select_one("a[href='https://www.norge.no/en/digital-citizen/"
                            "update-your-contact-information']")
    assert norge is not None
    assert soup.select_one("#remove-mobile") is None  # nothing of their own to remove
    assert fake.lookups == 1
    assert all(ADULT_PID not in line for line in fake.request_lines)  # body only


async def test_my_own_number_takes_over_and_removing_it_goes_back_to_krr(
        app: Starlette, client: httpx.AsyncClient, db: Database, fake: FakeKrr,
        krr: KrrClient, patient_id: int) -> None:
    fake.active(ADULT_PID, "+4798765432", verified=RECENT)
    response = await give_mobile(app, client, db, patient_id, "412 34 567")
    assert response.status_code == 303
    soup = html(await client.get("/profil"))
    assert text_of(soup, "#sms-to .phone-number") == "+47 412 34 567"
    assert text_of(soup, "#sms-source") == "(the number you gave us)"
    assert text_of(soup, "#krr-number").startswith("+47 987 65 432")
    assert text_of(soup, "#remove-hint") == (
        "If you remove +47 412 34 567, we use the number in the contact register (KRR) again.")

    assert (await client.post("/profil/mobil/fjern")).status_code == 303
    assert (await patient_row(db, patient_id)).mobile is None
    soup = html(await client.get("/profil"))
    assert text_of(soup, "#sms-to .phone-number") == "+47 987 65 432"
    assert text_of(soup, "#sms-source") == "(from the official contact register (KRR))"
    assert [e.detail for e in await audit_entries(db)] == [{"change": "added"},
                                                          {"change": "removed"}]


async def test_a_reservation_in_krr_is_explained(
        client: httpx.AsyncClient, fake: FakeKrr, krr: KrrClient, patient_id: int) -> None:
    fake.reserved(ADULT_PID, "+4798765432", verified=RECENT)
    soup = html(await client.get("/profil"))
    assert text_of(soup, "#sms-to") == "No number. We cannot send you text messages."
    assert text_of(soup, "#register-note") == (
        "You have reserved yourself against digital contact from public services in the "
        "contact register (KRR), so we do not use the number there.")


async def test_a_number_not_confirmed_for_18_months_is_not_used(
        client: httpx.AsyncClient, fake: FakeKrr, krr: KrrClient, patient_id: int) -> None:
    confirmed = date.today() - timedelta(days=600)
    fake.stale(ADULT_PID, "+4798765432", verified=confirmed)
    soup = html(await client.get("/profil"))
    assert text_of(soup, "#sms-to") == "No number. We cannot send you text messages."
    assert text_of(soup, "#krr-number").startswith("+47 987 65 432 (last confirmed ")
    assert long_date(confirmed, "en").split()[-1] in text_of(soup, "#krr-number")  # the year
    assert text_of(soup, "#register-note").startswith(
        "The number in the contact register (KRR) has not been confirmed in the last 18 months")


async def test_a_person_krr_does_not_know(
        client: httpx.AsyncClient, krr: KrrClient, patient_id: int) -> None:
    soup = html(await client.get("/profil"))
    assert text_of(soup, "#krr-number") == "No mobile number"
    assert text_of(soup, "#register-note") == (
        "The contact register (KRR) has no mobile number for you that we can use.")


class Unreachable:
    async def contact(self, nin: str) -> KrrContact:
        raise KrrUnavailable("KRR answered 503")


async def test_an_unreachable_register_still_shows_my_own_number(
        app: Starlette, client: httpx.AsyncClient, db: Database, patient_id: int) -> None:
    app.state.krr = Unreachable()
    await give_mobile(app, client, db, patient_id, "91234567")
    response = await client.get("/profil")
    assert response.status_code == 200
    soup = html(response)
    assert text_of(soup, "#sms-to .phone-number") == "+47 912 34 567"
    assert text_of(soup, "#sms-source") == "(the number you gave us)"
    assert soup.select_one("#krr-number") is None
    assert text_of(soup, "#register-note") == (
        "We could not reach the contact register (KRR) just now, so we cannot show the "
        "number there. Please try again later.")


async def test_the_field_hint_says_the_number_replaces_krrs(
        client: httpx.AsyncClient, fake: FakeKrr, krr: KrrClient, patient_id: int) -> None:
    fake.active(ADULT_PID, "+4798765432", verified=RECENT)
    soup = html(await client.get("/profil"))
    assert text_of(soup, "#mobil-hint") == (
        "A Norwegian mobile number: 8 digits, starting with 4 or 9. For example 912 34 567. "
        "We then send text messages to it instead of the number in the contact register.")
