"""The Person API adapter against the local fake of HelseID and the Person
API, over real HTTP on loopback."""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Iterator
from datetime import date
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from booking.identity import synthetic_number
from booking.relations import actor_for_guardian, guardian_children
from booking.representation import Access, RepresentationReason
from booking.statuses import ConfidentialAddress
from idporten.fakes.person_api import (
    CLIENT_ASSERTION_TYPE,
    PERSON_API_SCOPE,
    FakeRegister,
    create_app,
    serving,
)
from idporten.person_api import (
    HelseIdClient,
    PersonApiClient,
    PersonApiError,
    PersonApiRelations,
    map_person,
)
from tests import factories as f
from tests.logcheck import personal_data_in

TODAY = date(2025, 3, 10)
CLIENT_ID = "tanntid-test-client"


def private_jwk(kid: str = "key-1") -> dict[str, Any]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(RSAAlgorithm.to_jwk(key))
    jwk.update(kid=kid, alg="RS256", use="sig")
    return jwk


def public_part(jwk: dict[str, Any]) -> dict[str, Any]:
    return {k: jwk[k] for k in ("kty", "n", "e", "kid", "alg", "use")}


class Clock:
    def __init__(self) -> None:
        self.now = 1_750_000_000.0

    def __call__(self) -> float:
        return self.now


class World:
    """A synthetic register: mother (lives with the children at A1), father
    (A2) with and without parental responsibility, and children of several
    ages and protections."""

    def __init__(self) -> None:
        rng = random.Random(20250310)
        self.clock = Clock()
        self.register = FakeRegister(clock=self.clock)
        self.key = private_jwk()
        self.register.add_client(CLIENT_ID, public_part(self.key))
        self.nin: dict[str, str] = {}
        people = {
            "mother": (date(1985, 1, 1), "A1", "None"),
            "father": (date(1983, 1, 1), "A2", "None"),
            "eight": (date(2016, 6, 1), "A1", "None"),
            "thirteen": (date(2011, 6, 1), "A1", "None"),
            "sixteen": (date(2009, 3, 10), "A1", "None"),
            "hidden": (date(2017, 6, 1), "A9", "StrictlyConfidential"),
            "fortrolig": (date(2018, 6, 1), "A1", "Confidential"),
            "at_grandma": (date(2015, 6, 1), "A7", "None"),
            "no_record": (date(2019, 6, 1), "A1", "None"),
            "step": (date(2020, 6, 1), "A1", "None"),
        }
        for name, (born, address, protection) in people.items():
            self.nin[name] = synthetic_number(born, rng)
            self.register.add_person(self.nin[name], born, address_id=address,
                                     protection=protection)
        for name in ("eight", "thirteen", "sixteen", "hidden", "fortrolig", "at_grandma",
                     "no_record"):
            self.register.add_parent(self.nin["mother"], self.nin[name], role="Mother")
            self.register.add_parent(self.nin["father"], self.nin[name], role="Father")
        # The father is a registered parent of "step" but has no foreldreansvar.
        self.register.add_parent(self.nin["mother"], self.nin["step"], role="Mother")
        self.register.add_parent(self.nin["father"], self.nin["step"], role="Father",
                                 parental_responsibility=False)

    async def patients(self, db) -> dict[str, int]:
        """Local patient records for everyone but "no_record". Their local
        address keys are deliberately useless: the register's count."""
        ids = {}
        async with db.write() as s:
            for name, nin in self.nin.items():
                if name == "no_record":
                    continue
                person = self.register.persons[nin]
                row = await f.patient(s, person.birth_date, identity_number=nin,
                                      address_key=None)
                ids[name] = row.id
        return ids


@pytest.fixture
def world() -> World:
    return World()


@pytest.fixture
def base_url(world: World) -> Iterator[str]:
    with serving(create_app(world.register)) as url:
        yield url


def adapter(db, world: World, base_url: str, http: httpx.AsyncClient,
            jwk: dict[str, Any] | None = None) -> PersonApiRelations:
    tokens = HelseIdClient(authority=base_url, client_id=CLIENT_ID,
                           private_jwk=jwk or world.key, scope=PERSON_API_SCOPE,
                           http=http, clock=world.clock)
    client = PersonApiClient(base_url=base_url, tokens=tokens, http=http, vault=f.VAULT)
    return PersonApiRelations(db, client)


async def test_children_and_decisions_from_the_register(db, world, base_url):
    ids = await world.patients(db)
    async with httpx.AsyncClient() as http:
        source = adapter(db, world, base_url, http)
        mother = await guardian_children(source, ids["mother"], TODAY)
        father = await guardian_children(source, ids["father"], TODAY)
    expected_mother = {
        ids["eight"]: (Access.FULL, None),
        ids["thirteen"]: (Access.LOGISTICS, None),
        ids["sixteen"]: (Access.NONE, RepresentationReason.CHILD_OF_AGE_IN_HEALTH_MATTERS),
        ids["hidden"]: (Access.NONE, RepresentationReason.CHILD_CONFIDENTIAL_ADDRESS),
        ids["fortrolig"]: (Access.NONE, RepresentationReason.CHILD_CONFIDENTIAL_ADDRESS),
        ids["at_grandma"]: (Access.NONE, RepresentationReason.NO_GUARDIAN_AT_CHILD_ADDRESS),
        ids["step"]: (Access.FULL, None),
    }
    assert {c.patient_id: (c.access, c.reason) for c in mother} == expected_mother
    # The father lives at A2: the mother's address makes him a full guardian of
    # the 8-year-old; without foreldreansvar for "step" he gets nothing there.
    expected_father = dict(expected_mother)
    expected_father[ids["step"]] = (Access.NONE, RepresentationReason.NO_PARENTAL_RESPONSIBILITY)
    assert {c.patient_id: (c.access, c.reason) for c in father} == expected_father


async def test_relations_carry_register_facts(db, world, base_url):
    ids = await world.patients(db)
    async with httpx.AsyncClient() as http:
        relations = await adapter(db, world, base_url, http).children_of(ids["father"])
    by_child = {r.child_id: r for r in relations}
    assert ids["step"] in by_child and "no_record" not in ids
    assert len(relations) == 7  # the child without a local record is left out
    eight = by_child[ids["eight"]]
    assert eight.guardian.patient_id == ids["father"]
    assert eight.child.birth_date == date(2016, 6, 1)
    assert [g.patient_id for g in eight.other_guardians] == [ids["mother"]]
    # Same address in the register → same opaque key; never the address itself.
    assert eight.child.address_key == eight.other_guardians[0].address_key
    assert eight.child.address_key != eight.guardian.address_key
    assert eight.child.address_key is not None and len(eight.child.address_key) == 64
    assert "A1" not in eight.child.address_key
    hidden = by_child[ids["hidden"]]
    assert hidden.child.confidential_address is ConfidentialAddress.STRICTLY_CONFIDENTIAL
    assert hidden.child.address_key is None
    fortrolig = by_child[ids["fortrolig"]]
    assert fortrolig.child.confidential_address is ConfidentialAddress.CONFIDENTIAL
    assert fortrolig.child.address_key is None  # delivered, but never used
    assert by_child[ids["step"]].parental_responsibility is False
    assert by_child[ids["step"]].other_guardians[0].patient_id == ids["mother"]


async def test_actor_for_guardian_from_the_register(db, world, base_url):
    ids = await world.patients(db)
    async with httpx.AsyncClient() as http:
        source = adapter(db, world, base_url, http)
        actor = await actor_for_guardian(db, source, ids["father"], TODAY)
        day_before = await actor_for_guardian(db, source, ids["father"], date(2025, 3, 9))
    assert actor.represents == {ids["eight"], ids["thirteen"]}
    assert day_before.represents == {ids["eight"], ids["thirteen"], ids["sixteen"]}


async def test_identity_numbers_never_in_urls_and_one_token_reused(db, world, base_url):
    ids = await world.patients(db)
    async with httpx.AsyncClient() as http:
        source = adapter(db, world, base_url, http)
        await source.children_of(ids["mother"])
        await source.children_of(ids["father"])
    assert world.register.token_requests == 1
    # mother + 8 children + father, twice (father's record, mother as other guardian)
    assert world.register.person_requests == 2 * (1 + 8 + 1)
    lines = world.register.request_lines
    assert "/connect/token" in lines and "/api/v1/person" in lines
    for line in lines:
        assert personal_data_in(line) == []
        assert not any(nin in line for nin in world.nin.values())


async def test_token_is_renewed_before_it_expires(db, world, base_url):
    ids = await world.patients(db)
    async with httpx.AsyncClient() as http:
        source = adapter(db, world, base_url, http)
        await source.children_of(ids["thirteen"])
        world.clock.now += world.register.token_lifetime - 61  # within the refresh margin
        await source.children_of(ids["thirteen"])
        assert world.register.token_requests == 1
        world.clock.now += 2
        await source.children_of(ids["thirteen"])
        assert world.register.token_requests == 2


async def test_a_revoked_token_is_replaced_once(db, world, base_url):
    ids = await world.patients(db)
    async with httpx.AsyncClient() as http:
        source = adapter(db, world, base_url, http)
        await source.children_of(ids["thirteen"])
        world.register.tokens.clear()  # the API no longer accepts the cached token
        assert await source.children_of(ids["thirteen"]) == []
    assert world.register.token_requests == 2


async def test_unregistered_key_is_refused_without_leaking_the_number(db, world, base_url):
    ids = await world.patients(db)
    async with httpx.AsyncClient() as http:
        source = adapter(db, world, base_url, http, jwk=private_jwk(kid="key-1"))
        with pytest.raises(PersonApiError) as raised:
            await source.children_of(ids["mother"])
    assert str(raised.value) == "HelseID token request refused: HTTP 401 invalid_client"
    assert world.register.person_requests == 0


async def test_unknown_guardian_in_register_or_locally_has_no_children(db, world, base_url):
    ids = await world.patients(db)
    async with db.write() as s:
        newcomer = await f.patient(s, date(1990, 1, 1))  # not in the fake register
    async with httpx.AsyncClient() as http:
        source = adapter(db, world, base_url, http)
        assert await source.children_of(newcomer.id) == []
        assert await source.children_of(ids["mother"] + 10_000) == []


# --- The fake is strict where the real services are -------------------------

def assertion(jwk: dict[str, Any], audience: str, **overrides: Any) -> str:
    claims = {"iss": CLIENT_ID, "sub": CLIENT_ID, "aud": audience, "iat": 1_750_000_000,
              "exp": 1_750_000_060, "jti": "jti-1", **overrides}
    return jwt.encode(claims, jwt.PyJWK(jwk).key, algorithm="RS256",
                      headers={"kid": jwk["kid"]})


def test_fake_token_endpoint_refuses_replays_bad_audience_and_foreign_scope(world, base_url):
    token_url = f"{base_url}/connect/token"

    def post(client_assertion: str, scope: str = PERSON_API_SCOPE) -> httpx.Response:
        return httpx.post(token_url, data={
            "grant_type": "client_credentials", "client_id": CLIENT_ID,
            "client_assertion_type": CLIENT_ASSERTION_TYPE,
            "client_assertion": client_assertion, "scope": scope})

    good = assertion(world.key, base_url, jti="once")
    assert post(good).status_code == 200
    replay = post(good)
    assert (replay.status_code, replay.json()) == (401, {"error": "invalid_client"})
    wrong_aud = post(assertion(world.key, "https://elsewhere.example", jti="two"))
    assert wrong_aud.status_code == 401
    foreign = post(assertion(world.key, token_url, jti="three"),
                   scope="nhn:something-else/read")
    assert (foreign.status_code, foreign.json()) == (400, {"error": "invalid_scope"})
    world.clock.now += 61
    expired = post(assertion(world.key, base_url, jti="four"))
    assert expired.status_code == 401
    long_lived = post(assertion(world.key, base_url, jti="five", iat=int(world.clock.now),
                                exp=int(world.clock.now) + 3600))
    assert long_lived.status_code == 401


def test_fake_person_api_needs_a_token_and_refuses_numbers_in_the_url(world, base_url):
    nin = world.nin["mother"]
    no_token = httpx.post(f"{base_url}/api/v1/person", json={"nin": nin})
    assert no_token.status_code == 401
    world.register.tokens["t"] = (CLIENT_ID, frozenset({PERSON_API_SCOPE}),
                                  world.clock.now + 100)
    auth = {"Authorization": "Bearer t"}
    in_url = httpx.post(f"{base_url}/api/v1/person", params={"nin": nin}, json={}, headers=auth)
    assert in_url.status_code == 400
    found = httpx.post(f"{base_url}/api/v1/person", json={"nin": nin}, headers=auth)
    assert found.status_code == 200
    assert found.json()["dateOfBirth"] == "1985-01-01"
    missing = httpx.post(f"{base_url}/api/v1/person", json={"nin": "00000000000"},
                         headers=auth)
    assert missing.status_code == 404


# --- The mapping --------------------------------------------------------------

def test_map_person_reads_relations_and_fails_safe_on_unknown_protection():
    payload = {
        "nin": "P", "dateOfBirth": "1980-02-03", "addressProtection": "SomethingNew",
        "residentialAddress": {"addressIdentifier": "X"},
        "familyRelation": [
            {"relatedPerson": "C1", "relatedPersonsRole": "Child",
             "myRoleForRelatedPerson": "Father", "relatedPersonWithoutIdentifier": None},
            {"relatedPerson": None, "relatedPersonsRole": "Child",
             "myRoleForRelatedPerson": "Father",
             "relatedPersonWithoutIdentifier": {"name": "Unnamed"}},
            {"relatedPerson": "M", "relatedPersonsRole": "Mother",
             "myRoleForRelatedPerson": "Child", "relatedPersonWithoutIdentifier": None},
        ],
        "parentalResponsibility": [
            {"responsibility": "Joint", "responsiblePerson": "P",
             "responsibilitySubject": "C1"},
            {"responsibility": "Mother", "responsiblePerson": "M",
             "responsibilitySubject": "P"},
            {"responsibility": "Others", "responsiblePerson": None,
             "responsibilitySubject": "P"},
        ],
    }
    person = map_person(payload, address_key_of=lambda address: "never-called")
    assert person.birth_date == date(1980, 2, 3)
    assert person.confidential_address is ConfidentialAddress.STRICTLY_CONFIDENTIAL
    assert person.address_key is None
    assert person.children == ("C1",)
    assert person.responsible_for == ("C1",)
    assert person.responsible_guardians == ("M",)
    assert "C1" not in repr(person) and "'P'" not in repr(person)

    plain = map_person({**payload, "addressProtection": {"code": "None"}},
                       address_key_of=lambda address: f"key-{address['addressIdentifier']}")
    assert plain.confidential_address is ConfidentialAddress.NONE
    assert plain.address_key == "key-X"


async def test_no_identity_number_reaches_the_logs(db, world, base_url, caplog, capsys):
    ids = await world.patients(db)
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="httpx")  # quiet by default: prove its URLs clean
    async with httpx.AsyncClient() as http:
        source = adapter(db, world, base_url, http)
        await source.children_of(ids["mother"])
        await source.children_of(ids["father"])
    captured = capsys.readouterr()
    text = "\n".join([*(r.getMessage() for r in caplog.records), captured.out, captured.err])
    assert "person_api.children" in text  # the adapter did log, with internal ids only
    assert "HTTP Request: POST" in text
    assert personal_data_in(text) == []
    assert not any(nin in text for nin in world.nin.values())
