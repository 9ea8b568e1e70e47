"""The population register wired into the app: with ``PERSON_API_URL`` and
the HelseID settings, ``create_app`` asks Norsk helsenett's Person API (the
local fake, over real HTTP on loopback) for a first login's name and for a
guardian's children; the local guardianships table no longer answers.
Logins go through the local ID-porten provider, as in the other login tests."""

from __future__ import annotations

import json
import logging
import random
import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm
from sqlalchemy import func, select
from starlette.applications import Starlette

from booking.models import AuditEntry, Guardianship, Patient
from booking.relations import CachedRelations
from booking.statuses import ConfidentialAddress
from core.identity import synthetic_number
from core.loopback import serving
from core.settings import Settings, SettingsError
from notifications.recipients import Role, recipients_for
from registers.fakes.person_api import FakeRegister, create_app
from registers.person_api import PersonApiRegister, map_person
from tests import factories as f
from tests.clock import suite_today
from tests.logcheck import personal_data_in
from tests.web.auth.helpers import browser, build_app, create_tables, login
from web.auth.services import install

BASE = "http://127.0.0.1:8000"
CLIENT_ID = "tanntid-helseid-test"
TODAY = suite_today()


def years_ago(years: int, month: int = 1, day: int = 10) -> date:
    return date(TODAY.year - years, month, day)


def private_jwk() -> dict[str, Any]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(RSAAlgorithm.to_jwk(key))
    jwk.update(kid="helseid-key-1", alg="RS256", use="sig")
    return jwk


class Clock:
    """Monotonic seconds for the relations cache, moved by the test."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Family:
    """In the register: a mother (not yet a patient) living with two children
    who are patients, and a third child the service has no record of."""

    register: FakeRegister
    key: dict[str, Any]
    mother: str
    eight: str
    eleven: str
    no_record: str


@pytest.fixture
def family() -> Family:
    rng = random.Random(20250601)
    register = FakeRegister()
    key = private_jwk()
    register.add_client(CLIENT_ID, {k: key[k] for k in ("kty", "n", "e", "kid", "alg", "use")})
    nins = {name: synthetic_number(born, rng) for name, born in (
        ("mother", date(1984, 2, 3)), ("eight", years_ago(8)), ("eleven", years_ago(11)),
        ("no_record", years_ago(5)))}
    register.add_person(nins["mother"], date(1984, 2, 3), address_id="A1",
                        given_name="Kari", middle_name="Nordmann", family_name="Hansen")
    for name, given in (("eight", "Emma"), ("eleven", "Jonas"), ("no_record", "Ola")):
        born = years_ago({"eight": 8, "eleven": 11, "no_record": 5}[name])
        register.add_person(nins[name], born, address_id="A1", given_name=given,
                            family_name="Hansen")
        register.add_parent(nins["mother"], nins[name], role="Mother")
    return Family(register, key, **nins)


@pytest.fixture
def register_url(family: Family) -> Iterator[str]:
    with serving(create_app(family.register)) as url:
        yield url


def person_api_settings(family: Family, url: str) -> dict[str, Any]:
    return {"person_api_url": url, "helseid_token_url": f"{url}/connect/token",
            "helseid_client_id": CLIENT_ID, "helseid_client_jwk": json.dumps(family.key)}


@pytest.fixture
async def app(tmp_path: Path, family: Family, register_url: str) -> AsyncIterator[Starlette]:
    """The app as create_app builds it from the settings, on its own SQLite
    database (the register adapter holds the app's database)."""
    application = build_app(tmp_path, BASE, **person_api_settings(family, register_url))
    await create_tables(application)
    backchannel = httpx.AsyncClient(transport=httpx.ASGITransport(app=application))
    install(application, http=backchannel)
    yield application
    await backchannel.aclose()
    if application.state.person_api is not None:
        await application.state.person_api.aclose()
    await application.state.db.dispose()


@pytest.fixture
async def client(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    async with browser(BASE, httpx.ASGITransport(app=app)) as c:
        yield c


async def local_patient(app: Starlette, nin: str, born: date, given: str) -> int:
    """A patient the clinic already has (e.g. from the record system)."""
    vault = app.state.vault
    async with app.state.db.write() as s:
        row = await f.patient(s, born, identity_hash=vault.lookup_hash(nin),
                              identity_encrypted=vault.encrypt(nin), given_name=given,
                              family_name="Hansen", address_key=None)
        return row.id


async def patient_by_number(app: Starlette, nin: str) -> Patient | None:
    async with app.state.db.read() as s:
        found: Patient | None = (await s.execute(select(Patient).where(
            Patient.identity_hash == app.state.vault.lookup_hash(nin)))).scalar_one_or_none()
        return found


def sections(page: httpx.Response) -> set[int]:
    """Patient ids with a section on ``/min-side``."""
    return {int(i) for i in re.findall(r'id="person-(\d+)-heading"', page.text)}


# --- Wiring ------------------------------------------------------------------

def test_create_app_installs_the_register_when_configured(app: Starlette):
    assert isinstance(app.state.relations, CachedRelations)
    assert app.state.relations.ttl == 60
    assert isinstance(app.state.population_register, PersonApiRegister)


def test_without_the_person_api_the_local_table_answers(tmp_path: Path):
    application = build_app(tmp_path, BASE)
    assert application.state.person_api is None
    assert getattr(application.state, "relations", None) is None
    assert getattr(application.state, "population_register", None) is None


def test_a_person_api_url_without_the_helseid_client_is_refused():
    with pytest.raises(SettingsError, match="PERSON_API_URL is set but"):
        Settings.from_env({"SECRET_KEY": "x" * 40, "PERSON_API_URL": "https://p.example",
                           "HELSEID_CLIENT_ID": "c", "HELSEID_CLIENT_JWK": "{}"})
    with pytest.raises(SettingsError, match="RELATIONS_CACHE_TTL"):
        Settings.from_env({"SECRET_KEY": "x" * 40, "RELATIONS_CACHE_TTL": "-1"})


def test_a_malformed_helseid_key_stops_the_app(tmp_path: Path, family: Family):
    settings = person_api_settings(family, "https://p.example")
    for malformed in ('{"kty": "RSA"}', "not json", "5", '["x"]'):
        with pytest.raises(SettingsError, match="HELSEID_CLIENT_JWK") as raised:
            build_app(tmp_path, BASE, **{**settings, "helseid_client_jwk": malformed})
        assert "kty" not in str(raised.value)


def test_production_refuses_to_start_without_the_person_api():
    from tests.environments import GOOD_PRODUCTION

    for unset in ("PERSON_API_URL", "HELSEID_TOKEN_URL", "HELSEID_CLIENT_ID",
                  "HELSEID_CLIENT_JWK"):
        with pytest.raises(SettingsError, match="PERSON_API_URL and the HELSEID_"):
            Settings.from_env({**GOOD_PRODUCTION, unset: ""})
    assert Settings.from_env(GOOD_PRODUCTION).person_api_configured


async def test_shutdown_closes_the_register_client(app: Starlette):
    client = app.state.person_api
    async with app.router.lifespan_context(app):
        assert not client.http.is_closed
    assert client.http.is_closed


# --- First login ------------------------------------------------------------

async def test_first_login_gets_name_and_children_from_the_register(
        app: Starlette, client: httpx.AsyncClient, family: Family, caplog):
    caplog.set_level(logging.DEBUG)
    eight = await local_patient(app, family.eight, years_ago(8), "Emma")
    eleven = await local_patient(app, family.eleven, years_ago(11), "Jonas")
    # A local guardianship the register does not know: it must not count.
    stranger = await local_patient(app, synthetic_number(years_ago(6), random.Random(7)),
                                   years_ago(6), "Stranger")
    assert await patient_by_number(app, family.mother) is None

    response = await login(client, family.mother)
    assert response.status_code == 303, response.text
    mother = await patient_by_number(app, family.mother)
    assert mother is not None
    assert (mother.given_name, mother.family_name) == ("Kari", "Nordmann Hansen")
    assert mother.birth_date == date(1984, 2, 3)
    async with app.state.db.write() as s:
        s.add(Guardianship(guardian_id=mother.id, child_id=stranger))

    page = await client.get("/min-side")
    assert page.status_code == 200, page.text
    # Her children come from the register; the one without a record is left out.
    assert sections(page) == {mother.id, eight, eleven}
    assert "Emma" in page.text and "Jonas" in page.text and "Stranger" not in page.text
    async with app.state.db.read() as s:
        count = await s.scalar(select(func.count()).select_from(Patient))
    assert count == 4  # the register's children are not copied into patients

    lines = family.register.request_lines
    assert "/connect/token" in lines
    assert any(line.startswith("/api/legal-basis/person/get-by-nin?") for line in lines)
    assert not any(personal_data_in(line) for line in lines)
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "person_api.children" in logged
    assert personal_data_in(logged) == []


async def test_a_register_that_cannot_be_asked_refuses_the_first_login(
        app: Starlette, client: httpx.AsyncClient, family: Family):
    family.register.clients.clear()  # HelseID no longer knows our client
    response = await login(client, family.mother)
    assert response.status_code == 503
    assert await patient_by_number(app, family.mother) is None


async def test_a_person_the_register_does_not_know_logs_in_as_before(
        app: Starlette, client: httpx.AsyncClient, family: Family):
    del family.register.persons[family.mother]
    response = await login(client, family.mother)
    assert response.status_code == 303, response.text
    mother = await patient_by_number(app, family.mother)
    assert mother is not None and mother.birth_date == date(1984, 2, 3)
    assert family.register.person_requests >= 1


# --- Relations at each request ----------------------------------------------

async def test_a_child_removed_from_the_register_goes_after_the_cache_ttl(
        app: Starlette, client: httpx.AsyncClient, family: Family):
    clock = Clock()
    app.state.relations.clock = clock
    eight = await local_patient(app, family.eight, years_ago(8), "Emma")
    eleven = await local_patient(app, family.eleven, years_ago(11), "Jonas")
    assert (await login(client, family.mother)).status_code == 303
    mother = await patient_by_number(app, family.mother)
    assert mother is not None

    assert sections(await client.get("/min-side")) == {mother.id, eight, eleven}
    assert (await client.get(f"/timer?for={eight}")).status_code == 200
    family.register.remove_parent(family.mother, family.eight)

    clock.now += 59  # still within RELATIONS_CACHE_TTL
    assert sections(await client.get("/min-side")) == {mother.id, eight, eleven}
    clock.now += 2
    assert sections(await client.get("/min-side")) == {mother.id, eleven}
    assert (await client.get(f"/timer?for={eight}")).status_code == 404


async def test_relations_cache_ttl_follows_the_setting(
        tmp_path: Path, family: Family, register_url: str):
    application = build_app(tmp_path, BASE, relations_cache_ttl=5,
                            **person_api_settings(family, register_url))
    try:
        assert application.state.relations.ttl == 5
    finally:
        await application.state.person_api.aclose()
        await application.state.db.dispose()


# --- The local guardianships follow the register ----------------------------

async def guardians_of(app: Starlette, child_id: int) -> set[int]:
    async with app.state.db.read() as s:
        return set((await s.execute(select(Guardianship.guardian_id).where(
            Guardianship.child_id == child_id))).scalars())


async def notified(app: Starlette, child_id: int) -> dict[int, Role]:
    """Who notifications would tell about the child's appointment today
    (``recipients_for``, read only)."""
    async with app.state.db.read() as s:
        child = await s.get(Patient, child_id)
        assert child is not None
        return {r.patient_id: r.role for r in await recipients_for(s, child, TODAY)}


async def sync_entries(app: Starlette, action: str) -> list[AuditEntry]:
    async with app.state.db.read() as s:
        return list((await s.execute(select(AuditEntry).where(
            AuditEntry.action == action).order_by(AuditEntry.id))).scalars())


async def test_a_guardians_login_brings_the_guardianships_in_step(
        app: Starlette, client: httpx.AsyncClient, family: Family):
    eight = await local_patient(app, family.eight, years_ago(8), "Emma")
    eleven = await local_patient(app, family.eleven, years_ago(11), "Jonas")
    assert await notified(app, eight) == {eight: Role.SELF}  # nobody else known yet

    assert (await login(client, family.mother)).status_code == 303
    mother = await patient_by_number(app, family.mother)
    assert mother is not None
    # The register's children who are patients here; the third has no record.
    assert await guardians_of(app, eight) == {mother.id}
    assert await guardians_of(app, eleven) == {mother.id}
    async with app.state.db.read() as s:
        assert await s.scalar(select(func.count()).select_from(Guardianship)) == 2
        child = await s.get(Patient, eight)
    # The rules' facts came along: the register has them at one address.
    assert child is not None and child.address_key is not None
    assert child.address_key == mother.address_key
    assert await notified(app, eight) == {mother.id: Role.GUARDIAN}

    added = await sync_entries(app, "guardianship.add")
    assert [(e.subject_patient_id, e.detail) for e in added] == [
        (eight, {"guardian_id": mother.id}), (eleven, {"guardian_id": mother.id})]
    assert {(e.actor_id, e.purpose) for e in added} == {("system:population-register",
                                                        "system")}
    # The login warmed the relations cache: the first page asks the register nothing.
    asked = family.register.person_requests
    assert sections(await client.get("/min-side")) == {mother.id, eight, eleven}
    assert family.register.person_requests == asked


async def test_a_child_removed_from_the_register_loses_the_row_after_the_cache_ttl(
        app: Starlette, client: httpx.AsyncClient, family: Family):
    clock = Clock()
    app.state.relations.clock = clock
    eight = await local_patient(app, family.eight, years_ago(8), "Emma")
    eleven = await local_patient(app, family.eleven, years_ago(11), "Jonas")
    assert (await login(client, family.mother)).status_code == 303
    mother = await patient_by_number(app, family.mother)
    assert mother is not None
    assert await notified(app, eight) == {mother.id: Role.GUARDIAN}

    family.register.remove_parent(family.mother, family.eight)
    clock.now += 59  # the cached answer still stands
    await client.get("/min-side")
    assert await guardians_of(app, eight) == {mother.id}
    clock.now += 2  # the next request asks the register again
    assert sections(await client.get("/min-side")) == {mother.id, eleven}
    assert await guardians_of(app, eight) == set()
    assert await guardians_of(app, eleven) == {mother.id}
    assert await notified(app, eight) == {eight: Role.SELF}
    assert await notified(app, eleven) == {mother.id: Role.GUARDIAN}
    removed = await sync_entries(app, "guardianship.remove")
    assert [(e.subject_patient_id, e.detail) for e in removed] == [
        (eight, {"guardian_id": mother.id})]


async def test_a_protection_in_the_register_reaches_the_patient_row(
        app: Starlette, client: httpx.AsyncClient, family: Family):
    clock = Clock()
    app.state.relations.clock = clock
    eleven = await local_patient(app, family.eleven, years_ago(11), "Jonas")
    assert (await login(client, family.mother)).status_code == 303
    mother = await patient_by_number(app, family.mother)
    assert mother is not None
    assert await notified(app, eleven) == {mother.id: Role.GUARDIAN}

    family.register.protect(family.eleven, "StrictlyConfidential")
    clock.now += 61
    await client.get("/min-side")
    async with app.state.db.read() as s:
        child = await s.get(Patient, eleven)
    assert child is not None
    assert child.confidential_address == ConfidentialAddress.STRICTLY_CONFIDENTIAL
    assert child.address_key is None
    # Still her child in the register, but nobody represents a protected child.
    assert await guardians_of(app, eleven) == {mother.id}
    assert await notified(app, eleven) == {eleven: Role.SELF}
    facts = await sync_entries(app, "patient.register_facts")
    assert facts[-1].subject_patient_id == eleven
    assert facts[-1].detail == {"fields": ["address_key", "confidential_address"]}


async def test_a_returning_login_drops_rows_the_register_does_not_list(
        app: Starlette, client: httpx.AsyncClient, family: Family):
    # The mother is already a patient (e.g. from the record system), with a
    # guardianship the register knows nothing of.
    mother = await local_patient(app, family.mother, date(1984, 2, 3), "Kari")
    eight = await local_patient(app, family.eight, years_ago(8), "Emma")
    stranger = await local_patient(app, synthetic_number(years_ago(6), random.Random(7)),
                                   years_ago(6), "Stranger")
    async with app.state.db.write() as s:
        s.add(Guardianship(guardian_id=mother, child_id=stranger))

    assert (await login(client, family.mother)).status_code == 303
    assert await guardians_of(app, stranger) == set()
    assert await guardians_of(app, eight) == {mother}


async def test_a_register_failure_after_login_does_not_refuse_the_login(
        app: Starlette, client: httpx.AsyncClient, family: Family, monkeypatch):
    async def unavailable(guardian_patient_id: int) -> list[Any]:
        raise httpx.ConnectError("register down")

    monkeypatch.setattr(app.state.relations, "children_of", unavailable)
    response = await login(client, family.mother)
    assert response.status_code == 303, response.text
    assert await patient_by_number(app, family.mother) is not None


# --- The mapping ------------------------------------------------------------

def test_map_person_reads_the_current_name():
    history = [
        {"isValid": False, "validFrom": "1984-02-03T00:00:00+00:00", "givenName": "Kari",
         "middleName": None, "familyName": "Olsen"},
        {"isValid": True, "validFrom": "2010-06-01T00:00:00+00:00", "givenName": "Kari  Anne",
         "middleName": "Nordmann", "familyName": "Hansen"},
    ]
    person = map_person({"birth": [{"isValid": True, "birthDate": "1984-02-03T00:00:00Z"}],
                         "name": history,
                         "addressProtection": [{"isValid": True,
                                                "protectionLevel": "Unclassified"}]},
                        nin="P", address_key_of=lambda address: None)
    assert (person.given_name, person.family_name) == ("Kari Anne", "Nordmann Hansen")
    assert person.birth_date == date(1984, 2, 3)
    assert person.confidential_address is ConfidentialAddress.NONE
    assert "Kari" not in repr(person) and "Hansen" not in repr(person)

    single = map_person({"name": {"givenName": "Ola", "familyName": "Nordmann"}},
                        nin="P", address_key_of=lambda address: None)
    assert (single.given_name, single.family_name) == ("Ola", "Nordmann")
    nameless = map_person({"name": [history[0]]}, nin="P",
                          address_key_of=lambda address: None)
    assert (nameless.given_name, nameless.family_name) == ("", "")
