"""Appointments to Helsenorge: a valid hn-basis FHIR Appointment, PUT with a
HelseID token obtained by private_key_jwt, idempotent by our identifier —
against the fake HelseID + Helsenorge over real HTTP."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import httpx
import pytest
from fhir.resources.R4B.appointment import Appointment

from core.identity import synthetic_number
from core.locale import OSLO
from core.loopback import LoopbackServer
from core.oauth import (
    CLIENT_ASSERTION_TYPE,
    SigningKey,
    client_assertion,
    generate_rsa_jwk,
)
from notifications.channels.base import SendOutcome
from notifications.channels.helsenorge import (
    CANCELLED_BY_PATIENT,
    DNR_SYSTEM,
    FNR_SYSTEM,
    ORGNR_SYSTEM,
    AppointmentNotice,
    Clinic,
    HelsenorgeChannel,
    build_appointment,
    hn_basis_problems,
)
from notifications.fakes.helsenorge import API_PATH, FakeHelsenorge

SYSTEM = "https://tanntid.test/fhir/NamingSystem/appointment"
KEY, PUBLIC = generate_rsa_jwk("tanntid-helseid-1")
FNR = synthetic_number(date(1988, 5, 17), random.Random(3))
DNR = synthetic_number(date(1990, 2, 1), random.Random(4), d_number=True)
CLINIC = Clinic(name="Sentrum tannklinikk", organisation_name="Tannhelsetjenesten i Oslo",
                org_number="974770482", street="Storgata 5", postal_code="0155", city="Oslo",
                her_id="8765432")


def notice(**changes: object) -> AppointmentNotice:
    base = AppointmentNotice(
        appointment_id="appt-1042", status="booked",
        start=datetime(2026, 3, 3, 9, 30, tzinfo=OSLO),
        end=datetime(2026, 3, 3, 10, 0, tzinfo=OSLO), patient_nin=FNR, clinic=CLINIC,
        updated_at=datetime(2026, 2, 1, 12, 0, tzinfo=UTC))
    return replace(base, **changes)


@pytest.fixture
def fake() -> FakeHelsenorge:
    fake = FakeHelsenorge(seed=2)
    fake.add_client("tanntid", PUBLIC)
    return fake


@pytest.fixture
def url(fake: FakeHelsenorge) -> Iterator[str]:
    with LoopbackServer(fake.app, name="helsenorge") as server:
        yield server.url


@pytest.fixture
async def channel(url: str) -> AsyncIterator[HelsenorgeChannel]:
    channel = HelsenorgeChannel.from_settings({
        "HELSENORGE_API_URL": url + API_PATH, "HELSEID_TOKEN_URL": url + "/connect/token",
        "HELSEID_CLIENT_ID": "tanntid", "HELSEID_CLIENT_JWK": KEY,
    }, identifier_system=SYSTEM)
    yield channel
    await channel.aclose()


async def test_put_sends_a_valid_hn_basis_appointment(
        channel: HelsenorgeChannel, fake: FakeHelsenorge) -> None:
    result = await channel.put_appointment(notice())

    assert (result.outcome, result.http_status) == (SendOutcome.ACCEPTED, 201)
    stored = fake.latest("appt-1042")
    assert stored is not None
    parsed = Appointment.model_validate(stored)
    assert parsed.status == "booked"
    assert stored["identifier"] == [{
        "system": SYSTEM, "value": "appt-1042",
        "assigner": {"identifier": {"system": ORGNR_SYSTEM, "value": "974770482"},
                     "display": "Tannhelsetjenesten i Oslo"}}]
    assert stored["start"] == "2026-03-03T09:30:00+01:00"
    assert stored["end"] == "2026-03-03T10:00:00+01:00"
    assert stored["meta"]["lastUpdated"] == "2026-02-01T13:00:00+01:00"
    patient = stored["participant"][0]["actor"]
    assert patient == {"type": "Patient", "identifier": {"system": FNR_SYSTEM, "value": FNR}}
    assert stored["participant"][1]["actor"] == {"reference": "#clinic",
                                                 "display": "Sentrum tannklinikk"}
    location = stored["contained"][0]
    assert (location["resourceType"], location["name"]) == ("Location", "Sentrum tannklinikk")
    assert location["address"] == {"line": ["Storgata 5"], "postalCode": "0155",
                                   "city": "Oslo", "country": "NO"}
    assert stored["contained"][1]["identifier"] == [
        {"system": "urn:oid:2.16.578.1.12.4.1.2", "value": "8765432"}]
    assert len(stored["serviceCategory"]) == 1
    assert stored["appointmentType"]["coding"][0] == {
        "system": "urn:oid:2.16.578.1.12.4.1.1.7617", "code": "Ordinær",
        "display": "Ordinær time"}
    assert hn_basis_problems(stored) == []


async def test_a_repeated_put_is_idempotent_and_a_change_replaces_the_version(
        channel: HelsenorgeChannel, fake: FakeHelsenorge) -> None:
    first = await channel.put_appointment(notice())
    again = await channel.put_appointment(notice())
    cancelled = await channel.put_appointment(notice(
        status="cancelled", cancellation_reason=CANCELLED_BY_PATIENT,
        updated_at=datetime(2026, 2, 20, 8, 0, tzinfo=UTC)))

    assert [first.http_status, again.http_status, cancelled.http_status] == [201, 200, 200]
    assert fake.puts == [("appt-1042", "new"), ("appt-1042", "identical"),
                         ("appt-1042", "changed")]
    assert fake.notified == [("appt-1042", "new"), ("appt-1042", "changed")]
    assert len(fake.appointments) == 1
    latest = fake.latest("appt-1042")
    assert latest is not None and latest["status"] == "cancelled"
    assert latest["cancelationReason"]["coding"][0]["code"] == "AAI"
    assert fake.issuer.token_requests == 1  # the token is cached


async def test_a_d_number_patient_uses_the_d_number_system(
        channel: HelsenorgeChannel, fake: FakeHelsenorge) -> None:
    result = await channel.put_appointment(notice(appointment_id="appt-7", patient_nin=DNR))
    assert result.outcome is SendOutcome.ACCEPTED
    stored = fake.latest("appt-7")
    assert stored is not None
    assert stored["participant"][0]["actor"]["identifier"] == {"system": DNR_SYSTEM,
                                                               "value": DNR}


async def test_an_invalid_appointment_is_refused_before_any_request(
        channel: HelsenorgeChannel, fake: FakeHelsenorge) -> None:
    start = datetime(2026, 3, 3, 9, 30, tzinfo=OSLO)
    backwards = await channel.put_appointment(notice(end=start - timedelta(minutes=5)))
    naive = await channel.put_appointment(notice(start=datetime(2026, 3, 3, 9, 30)))
    too_long = await channel.put_appointment(notice(description="x" * 1001))

    assert backwards.outcome is SendOutcome.FAILED
    assert backwards.reason == "Invalid appointment: end: must be after start"
    assert naive.reason == "Invalid appointment: appointment times must be timezone-aware"
    assert too_long.reason == "Invalid appointment: description: at most 1000 characters"
    assert fake.puts == [] and fake.issuer.token_requests == 0


def test_hn_basis_rules_catch_what_fhir_alone_allows() -> None:
    good = build_appointment(notice(), identifier_system=SYSTEM)
    assert hn_basis_problems(good) == []
    by_reference = {**good, "participant": [
        {"actor": {"reference": "Patient/1", "type": "Patient"}, "status": "accepted"}]}
    no_category = {**good, "serviceCategory": []}
    bad_status = {**good, "status": "arrived"}
    no_location = {**good, "contained": []}
    assert hn_basis_problems(by_reference) == [
        "participant Patient: logical reference by fnr or D-nummer"]
    assert hn_basis_problems(no_category) == ["serviceCategory: exactly one required"]
    assert hn_basis_problems(bad_status) == ["status: 'arrived' not in hn-appointment-status-vs"]
    assert hn_basis_problems(no_location) == [
        "contained Location: required (virtualservice-or-location-required)"]
    assert hn_basis_problems({**good, "status": 12})[0].startswith("FHIR: ")


async def test_server_errors_are_retried(channel: HelsenorgeChannel,
                                         fake: FakeHelsenorge) -> None:
    fake.fail(1.0, (503,))
    result = await channel.put_appointment(notice())
    assert (result.outcome, result.http_status) == (SendOutcome.RETRY, 503)
    fake.fail(0.0)
    assert (await channel.put_appointment(notice())).outcome is SendOutcome.ACCEPTED
    assert fake.puts == [("appt-1042", "new")]


async def test_an_expired_token_is_replaced_once(channel: HelsenorgeChannel,
                                                 fake: FakeHelsenorge) -> None:
    await channel.put_appointment(notice())
    fake.issuer.expire_all()
    result = await channel.put_appointment(notice(appointment_id="appt-2"))
    assert result.outcome is SendOutcome.ACCEPTED
    assert fake.issuer.token_requests == 2


async def test_a_client_assertion_signed_with_another_key_gets_no_token(
        url: str, fake: FakeHelsenorge) -> None:
    other_key, _ = generate_rsa_jwk("tanntid-helseid-1")
    channel = HelsenorgeChannel(api_url=url + API_PATH, token_url=url + "/connect/token",
                                client_id="tanntid", client_jwk=other_key,
                                identifier_system=SYSTEM)
    try:
        result = await channel.put_appointment(notice())
    finally:
        await channel.aclose()
    assert (result.outcome, result.http_status) == (SendOutcome.RETRY, 401)
    assert fake.issuer.rejected == ["invalid_client"]
    assert fake.puts == []


async def test_the_fake_helseid_refuses_replays_wrong_audience_and_no_token(
        url: str, fake: FakeHelsenorge) -> None:
    key = SigningKey.from_jwk(KEY)
    token_url = url + "/connect/token"

    def form(assertion: str) -> dict[str, str]:
        return {"grant_type": "client_credentials", "client_id": "tanntid",
                "client_assertion_type": CLIENT_ASSERTION_TYPE, "client_assertion": assertion,
                "scope": fake.scope}

    assertion = client_assertion(key, client_id="tanntid", audience=url)
    async with httpx.AsyncClient() as client:
        first = await client.post(token_url, data=form(assertion))
        replay = await client.post(token_url, data=form(assertion))
        wrong_aud = await client.post(token_url, data=form(client_assertion(
            key, client_id="tanntid", audience="https://helseid-sts.nhn.no")))
        token_endpoint_aud = await client.post(token_url, data=form(client_assertion(
            key, client_id="tanntid", audience=token_url)))
        too_long = await client.post(token_url, data=form(client_assertion(
            key, client_id="tanntid", audience=url, lifetime=600)))
        no_token = await client.put(url + API_PATH + "/Appointment", json={},
                                    headers={"Content-Type": "application/fhir+json"})
    assert first.status_code == 200 and first.json()["token_type"] == "Bearer"
    assert [r.status_code for r in (replay, wrong_aud, token_endpoint_aud, too_long)] == [
        400, 401, 401, 400]
    assert no_token.status_code == 401
