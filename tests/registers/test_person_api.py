"""The Person API adapter against the local fake of HelseID and the Person
API, over real HTTP on loopback."""

from __future__ import annotations

import logging
import random
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import jwt
import pytest
from sqlalchemy import func, select

from booking.models import AuditEntry, Guardianship, Patient
from booking.relations import actor_for_guardian, guardian_children
from booking.representation import Access, RepresentationReason, guardian_access
from booking.statuses import ConfidentialAddress
from core.identity import synthetic_number
from core.loopback import serving
from core.oauth import SigningKey, TokenError
from registers.fakes.person_api import (
    CLIENT_ASSERTION_TYPE,
    PERSON_API_SCOPE,
    PERSON_PATH,
    FakeRegister,
    create_app,
)
from registers.person_api import (
    INFORMATION_PARTS,
    PersonApiClient,
    PersonApiError,
    PersonApiRelations,
    helseid_tokens,
    map_person,
)
from tests import factories as f
from tests.logcheck import personal_data_in
from tests.registers.helseid import Clock, private_jwk, public_part

TODAY = date(2025, 3, 10)
CLIENT_ID = "tanntid-test-client"


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
        people: dict[str, tuple[date, str, str | None]] = {
            "mother": (date(1985, 1, 1), "A1", None),
            "father": (date(1983, 1, 1), "A2", None),
            "eight": (date(2016, 6, 1), "A1", None),
            "thirteen": (date(2011, 6, 1), "A1", None),
            "sixteen": (date(2009, 3, 10), "A1", None),
            "hidden": (date(2017, 6, 1), "A9", "StrictlyConfidential"),
            "fortrolig": (date(2018, 6, 1), "A1", "Confidential"),
            "at_grandma": (date(2015, 6, 1), "A7", None),
            "no_record": (date(2019, 6, 1), "A1", None),
            "step": (date(2020, 6, 1), "A1", None),
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
    tokens = helseid_tokens(authority=base_url, client_id=CLIENT_ID,
                            key=SigningKey.from_jwk(jwk or world.key), scope=PERSON_API_SCOPE,
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
    assert "/connect/token" in lines
    person_lines = [line for line in lines if line.startswith(PERSON_PATH)]
    assert len(person_lines) == world.register.person_requests
    # Only the information parts we read, and no history, are asked for.
    assert parse_qs(urlsplit(person_lines[0]).query) == {
        "informationParts": list(INFORMATION_PARTS), "includeHistory": ["false"]}
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
    assert str(raised.value) == "HelseID: token endpoint answered 401 invalid_client"
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
    # HelseID wants its issuer as the audience, not the token endpoint.
    token_url_aud = post(assertion(world.key, token_url, jti="two-b"))
    assert token_url_aud.status_code == 401
    foreign = post(assertion(world.key, base_url, jti="three"),
                   scope="nhn:something-else/read")
    assert (foreign.status_code, foreign.json()) == (400, {"error": "invalid_scope"})
    world.clock.now += 61
    expired = post(assertion(world.key, base_url, jti="four"))
    assert expired.status_code == 401
    long_lived = post(assertion(world.key, base_url, jti="five", iat=int(world.clock.now),
                                exp=int(world.clock.now) + 3600))
    assert long_lived.status_code == 401


async def test_helseid_assertion_names_the_issuer_and_discovery_must_match(world):
    seen: list[dict[str, Any]] = []
    headers: list[dict[str, Any]] = []

    def helseid(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/openid-configuration"):
            return httpx.Response(200, json={"issuer": issuer,
                                             "token_endpoint": "https://sts.example/connect/token"})
        form = parse_qs(request.content.decode())
        seen.append(jwt.decode(form["client_assertion"][0], options={"verify_signature": False}))
        headers.append(jwt.get_unverified_header(form["client_assertion"][0]))
        return httpx.Response(200, json={"access_token": "a", "token_type": "Bearer",
                                         "expires_in": 300})

    issuer = "https://sts.example"
    async with httpx.AsyncClient(transport=httpx.MockTransport(helseid)) as http:
        tokens = helseid_tokens(authority="https://sts.example/", client_id=CLIENT_ID,
                                key=SigningKey.from_jwk(world.key), scope=PERSON_API_SCOPE,
                                http=http, clock=world.clock)
        assert await tokens.token() == "a"
        assert seen[0]["aud"] == "https://sts.example"
        assert 0 < seen[0]["exp"] - seen[0]["iat"] <= 60
        assert list(seen[0]) == ["iss", "sub", "aud", "iat", "nbf", "exp", "jti"]
        assert headers[0] == {"alg": "RS256", "kid": "key-1",
                              "typ": "client-authentication+jwt"}
        issuer = "https://impostor.example"
        other = helseid_tokens(authority="https://sts.example", client_id=CLIENT_ID,
                               key=SigningKey.from_jwk(world.key), scope=PERSON_API_SCOPE,
                               http=http)
        with pytest.raises(TokenError, match="another issuer"):
            await other.token()


def test_fake_person_api_speaks_the_published_protocol(world, base_url):
    nin = world.nin["mother"]
    url = f"{base_url}{PERSON_PATH}"
    query = {"informationParts": ["Birth", "Name"]}
    no_token = httpx.post(url, params=query, data={"nin": nin}, headers={"api-version": "2"})
    assert no_token.status_code == 401
    world.register.tokens["t"] = (CLIENT_ID, frozenset({PERSON_API_SCOPE}),
                                  world.clock.now + 100)
    auth = {"Authorization": "Bearer t", "api-version": "2"}
    in_url = httpx.post(url, params={**query, "nin": nin}, data={}, headers=auth)
    assert in_url.status_code == 400
    as_json = httpx.post(url, params=query, json={"nin": nin}, headers=auth)
    assert as_json.status_code == 415
    no_version = httpx.post(url, params=query, data={"nin": nin},
                            headers={"Authorization": "Bearer t"})
    assert no_version.status_code == 400
    no_parts = httpx.post(url, data={"nin": nin}, headers=auth)
    assert no_parts.status_code == 400
    found = httpx.post(url, params=query, data={"nin": nin}, headers=auth)
    assert found.status_code == 200
    document = found.json()
    # Only the parts asked for, each a list of register entries.
    assert set(document) == {"id", "birth", "name"}
    assert [b["birthDate"][:10] for b in document["birth"]] == ["1985-01-01"]
    assert document["birth"][0]["isValid"] is True
    missing = httpx.post(url, params=query, data={"nin": "00000000000"}, headers=auth)
    assert (missing.status_code, missing.json()["title"]) == (404, "No person found")


def test_fake_sends_history_only_when_asked(world, base_url):
    world.register.protect(world.nin["eight"], "Confidential", valid_from="2018-01-01T00:00:00Z")
    world.register.protect(world.nin["eight"], "Unclassified", valid_from="2020-01-01T00:00:00Z")
    world.register.tokens["t"] = (CLIENT_ID, frozenset({PERSON_API_SCOPE}),
                                  world.clock.now + 100)
    auth = {"Authorization": "Bearer t", "api-version": "2"}

    def protections(history: str) -> list[tuple[str, bool]]:
        answer = httpx.post(f"{base_url}{PERSON_PATH}", data={"nin": world.nin["eight"]},
                            params={"informationParts": "AddressProtection",
                                    "includeHistory": history}, headers=auth)
        return [(e["protectionLevel"], e["isValid"]) for e in answer.json()["addressProtection"]]

    assert protections("false") == [("Unclassified", True)]
    assert protections("true") == [("Confidential", False), ("Unclassified", True)]


# --- The mapping --------------------------------------------------------------

NOW = datetime(2025, 3, 10, 12, 0, tzinfo=UTC)


def entry(valid_from: str = "2000-01-01T00:00:00+00:00", *, valid: bool = True,
          valid_to: str | None = None, **fields: Any) -> dict[str, Any]:
    """One register entry in the published shape."""
    return {"registeredAt": valid_from, "isValid": valid, "source": "Skatteetaten",
            "reason": None, "validFrom": valid_from, "validTo": valid_to, **fields}


def address(ident: str = "X", confidentiality: str | None = "Unclassified",
            **overrides: Any) -> dict[str, Any]:
    return entry(cadastralIdentifier=ident, addressConfidentiality=confidentiality,
                 streetAddress={"addressName": "Testveien", "separatelyOccupiedUnitNumber": "H0101",
                                "addressNumber": {"houseNumber": "1", "houseLetter": None},
                                "city": {"postalCode": "0150"}, "municipalityNumber": "0301"},
                 **overrides)


def person_document(**elements: Any) -> dict[str, Any]:
    return {"id": "p", "birth": [entry(birthDate="1980-02-03T00:00:00+00:00")],
            "residentialAddress": [address()], **elements}


def read(payload: dict[str, Any], nin: str = "P") -> Any:
    return map_person(payload, nin=nin, now=NOW,
                      address_key_of=lambda a: f"key-{a['cadastralIdentifier']}")


def test_map_person_reads_relations_in_the_published_shape():
    payload = person_document(
        norwegianIdentificationNumber=[
            entry(status="Discontinued", identificationNumber="OLD", valid=False,
                  valid_to="2010-01-01T00:00:00+00:00"),
            entry("2010-01-01T00:00:00+00:00", status="InUse", identificationNumber="P")],
        familyRelation=[
            entry(relatedPerson="C1", relatedPersonsRole="Child",
                  myRoleForRelatedPerson="Father", relatedPersonWithoutIdentifier=None),
            entry(relatedPerson=None, relatedPersonsRole="Child", myRoleForRelatedPerson="Father",
                  relatedPersonWithoutIdentifier={"name": {"givenName": "Unnamed"}}),
            entry(relatedPerson="M", relatedPersonsRole="Mother",
                  myRoleForRelatedPerson="Child", relatedPersonWithoutIdentifier=None),
            # A relation that ended (e.g. an adoption) is history, not a child.
            entry(relatedPerson="C2", relatedPersonsRole="Child", myRoleForRelatedPerson="Father",
                  relatedPersonWithoutIdentifier=None, valid=False,
                  valid_to="2020-01-01T00:00:00+00:00"),
            entry(relatedPerson="C3", relatedPersonsRole="StillbornChild",
                  myRoleForRelatedPerson="Father", relatedPersonWithoutIdentifier=None),
        ],
        parentalResponsibility=[
            entry(responsibilityType="Joint", responsible="P", subjectOfResponsibility="C1"),
            # Recorded under the number the person had before: still them.
            entry(responsibilityType="Father", responsible="OLD", subjectOfResponsibility="C4"),
            entry(responsibilityType="Mother", responsible="M", subjectOfResponsibility="P"),
            entry(responsibilityType="Other", responsible=None, subjectOfResponsibility="P",
                  responsibleWithoutIdentifier={"name": {"givenName": "Verge"}}),
            entry(responsibilityType="Joint", responsible="EX", subjectOfResponsibility="P",
                  valid=False, valid_to="2015-01-01T00:00:00+00:00"),
        ],
    )
    person = read(payload)
    assert person.birth_date == date(1980, 2, 3)
    assert person.confidential_address is ConfidentialAddress.NONE
    assert person.address_key == "key-X"
    assert person.children == ("C1",)
    assert person.responsible_for == ("C1", "C4")
    assert person.responsible_guardians == ("M",)
    assert person.numbers == {"P", "OLD"}
    assert "C1" not in repr(person) and "'P'" not in repr(person)
    # Asked without a number, the register's current one is the person's.
    assert map_person(payload, address_key_of=lambda a: None, now=NOW).nin == "P"


def test_map_person_reads_the_date_of_birth_as_written():
    # "Time and time zone are unknown and must be ignored" (Birth.birthDate).
    payload = person_document(birth=[
        entry(birthDate="1980-02-03T00:00:00+02:00", valid=False,
              valid_to="1990-01-01T00:00:00+00:00"),
        entry("1990-01-01T00:00:00+00:00", birthDate="1980-02-04T23:30:00-05:00")])
    assert read(payload).birth_date == date(1980, 2, 4)
    assert read(person_document(birth=[])).birth_date is None
    assert read(person_document(birth=[entry(birthYear="1980")])).birth_date is None


def test_map_person_takes_the_current_address_protection_not_the_history():
    lifted = person_document(addressProtection=[
        entry("2015-01-01T00:00:00+00:00", protectionLevel="Confidential", valid=False,
              valid_to="2020-01-01T00:00:00+00:00"),
        entry("2020-01-01T00:00:00+00:00", protectionLevel="Unclassified")])
    assert read(lifted).confidential_address is ConfidentialAddress.NONE
    assert read(lifted).address_key == "key-X"

    added = person_document(addressProtection=[
        entry("2015-01-01T00:00:00+00:00", protectionLevel="Unclassified", valid=False,
              valid_to="2024-01-01T00:00:00+00:00"),
        entry("2024-01-01T00:00:00+00:00", protectionLevel="StrictlyConfidential")])
    calls = []
    person = map_person(added, nin="P", now=NOW,
                        address_key_of=lambda a: calls.append(a) or "leaked")
    assert person.confidential_address is ConfidentialAddress.STRICTLY_CONFIDENTIAL
    assert person.address_key is None and calls == []

    # An entry that has not started yet, or whose end has passed, does not hold now.
    planned = person_document(addressProtection=[
        entry("2024-01-01T00:00:00+00:00", protectionLevel="Confidential"),
        entry("2999-01-01T00:00:00+00:00", protectionLevel="Unclassified")])
    assert read(planned).confidential_address is ConfidentialAddress.CONFIDENTIAL
    ended = person_document(addressProtection=[
        entry("2020-01-01T00:00:00+00:00", protectionLevel="Confidential",
              valid_to="2024-01-01T00:00:00+00:00")])
    assert read(ended).confidential_address is ConfidentialAddress.NONE

    # The latest of several current entries wins.
    overlapping = person_document(addressProtection=[
        entry("2024-06-01T00:00:00+00:00", protectionLevel="StrictlyConfidential"),
        entry("2020-01-01T00:00:00+00:00", protectionLevel="Unclassified")])
    assert read(overlapping).confidential_address is ConfidentialAddress.STRICTLY_CONFIDENTIAL


def test_map_person_takes_the_current_address():
    moved = person_document(residentialAddress=[
        address("OLD", valid=False, valid_to="2022-01-01T00:00:00+00:00"),
        address("NEW", validFrom="2022-01-01T00:00:00+00:00"),
        address("NEXT", validFrom="2999-01-01T00:00:00+00:00")])
    assert read(moved).address_key == "key-NEW"
    # The address's own grading counts, even without a protection element.
    graded = person_document(residentialAddress=[address(confidentiality="Confidential")])
    assert read(graded).confidential_address is ConfidentialAddress.CONFIDENTIAL
    assert read(graded).address_key is None


CHILD_BORN = date(2017, 1, 1)


def decision_for(protection: list[dict[str, Any]] | None):
    """The access of a parent living with an 8-year-old whose record has
    ``protection`` as its addressProtection element."""
    elements = {} if protection is None else {"addressProtection": protection}
    child = read(person_document(
        birth=[entry(birthDate="2017-01-01T00:00:00+00:00")], **elements), nin="C")
    guardian = read(person_document(), nin="G")
    child_facts, guardian_facts = child.facts(2), guardian.facts(1)
    assert child_facts is not None and guardian_facts is not None
    return child, guardian_access(guardian=guardian_facts, child=child_facts, today=TODAY)


@pytest.mark.parametrize("level", [
    "Confidential", "fortrolig", "FORTROLIG", "ClientAddress", "klientadresse"])
def test_confidential_marks_are_never_represented(level):
    child, decision = decision_for([entry(protectionLevel=level)])
    assert child.confidential_address is ConfidentialAddress.CONFIDENTIAL
    assert child.address_key is None
    assert (decision.access, decision.reason) == (
        Access.NONE, RepresentationReason.CHILD_CONFIDENTIAL_ADDRESS)


@pytest.mark.parametrize("level", [
    "StrictlyConfidential", "strengt fortrolig", "strengtFortrolig", "STRENGT_FORTROLIG",
    "StrictlyConfidentialAbroad", "strengt fortrolig utland", "SomethingNew", "", None])
def test_strictly_confidential_and_unknown_marks_are_never_represented(level):
    child, decision = decision_for([entry(protectionLevel=level)])
    assert child.confidential_address is ConfidentialAddress.STRICTLY_CONFIDENTIAL
    assert child.address_key is None
    assert (decision.access, decision.reason) == (
        Access.NONE, RepresentationReason.CHILD_CONFIDENTIAL_ADDRESS)


@pytest.mark.parametrize("protection", [
    None, [], [entry(protectionLevel="Unclassified")], [entry(protectionLevel="ugradert")],
    [entry(protectionLevel="Confidential", valid=False, valid_to="2020-01-01T00:00:00+00:00")]])
def test_ungraded_persons_are_represented(protection):
    child, decision = decision_for(protection)
    assert child.confidential_address is ConfidentialAddress.NONE
    assert child.address_key == "key-X"
    assert decision.access is Access.FULL


def test_address_key_is_keyed_and_follows_the_dwelling():
    client = PersonApiClient(base_url="http://x", tokens=None, http=None,  # type: ignore[arg-type]
                             vault=f.VAULT)
    one = client.address_key(address("123"))
    assert one is not None and len(one) == 64 and "123" not in one
    assert client.address_key(address("123")) == one
    other_flat = address("123")
    other_flat["streetAddress"] = {**other_flat["streetAddress"],
                                   "separatelyOccupiedUnitNumber": "H0102"}
    assert client.address_key(other_flat) != one
    by_street = address(None)
    assert client.address_key(by_street) not in (None, one)
    assert client.address_key(entry(unknownResidence={"municipalityNumber": "0301"})) is None


async def test_children_of_a_person_whose_protection_was_lifted(db, world, base_url):
    ids = await world.patients(db)
    world.register.protect(world.nin["eight"], "Confidential", valid_from="2018-01-01T00:00:00Z")
    world.register.protect(world.nin["eight"], "Unclassified", valid_from="2020-01-01T00:00:00Z")
    world.register.protect(world.nin["thirteen"], "strengt fortrolig",
                           valid_from="2024-01-01T00:00:00Z")
    async with httpx.AsyncClient() as http:
        children = await guardian_children(adapter(db, world, base_url, http),
                                           ids["mother"], TODAY)
    access = {c.patient_id: (c.access, c.reason) for c in children}
    assert access[ids["eight"]] == (Access.FULL, None)
    assert access[ids["thirteen"]] == (Access.NONE,
                                       RepresentationReason.CHILD_CONFIDENTIAL_ADDRESS)


# --- Keeping the local tables in step ----------------------------------------

async def guardianships(db, guardian_id: int) -> set[int]:
    async with db.read() as s:
        return set((await s.execute(select(Guardianship.child_id).where(
            Guardianship.guardian_id == guardian_id))).scalars())


async def test_each_answer_reconciles_the_guardianships_and_facts(db, world, base_url):
    ids = await world.patients(db)
    async with httpx.AsyncClient() as http:
        source = adapter(db, world, base_url, http)
        await source.children_of(ids["father"])
        # Parental responsibility makes the row; being a parent does not ("step").
        expected = {ids[n] for n in ("eight", "thirteen", "sixteen", "hidden", "fortrolig",
                                     "at_grandma")}
        assert await guardianships(db, ids["father"]) == expected
        async with db.read() as s:
            eight, father = await s.get(Patient, ids["eight"]), await s.get(Patient, ids["father"])
            hidden = await s.get(Patient, ids["hidden"])
        assert eight is not None and father is not None and hidden is not None
        assert eight.address_key is not None and father.address_key is not None
        assert eight.address_key != father.address_key  # A1 and A2
        assert hidden.confidential_address == ConfidentialAddress.STRICTLY_CONFIDENTIAL
        assert hidden.address_key is None
        async with db.read() as s:
            entries = (await s.execute(select(AuditEntry).where(
                AuditEntry.action == "guardianship.add"))).scalars().all()
        assert {e.subject_patient_id for e in entries} == expected
        assert {e.actor_id for e in entries} == {"system:population-register"}

        world.register.remove_parent(world.nin["father"], world.nin["thirteen"])
        await source.children_of(ids["father"])
        assert await guardianships(db, ids["father"]) == expected - {ids["thirteen"]}
        async with db.read() as s:
            audited = await s.scalar(select(func.count()).select_from(AuditEntry))
        await source.children_of(ids["father"])  # nothing changed: nothing written
        async with db.read() as s:
            assert await s.scalar(select(func.count()).select_from(AuditEntry)) == audited


async def test_a_failing_reconciliation_does_not_stop_the_answer(db, world, base_url,
                                                                  monkeypatch, caplog, capsys):
    ids = await world.patients(db)

    async def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("database unavailable")

    monkeypatch.setattr("registers.person_api.reconcile_guardianships", broken)
    caplog.set_level(logging.WARNING)
    async with httpx.AsyncClient() as http:
        children = await guardian_children(adapter(db, world, base_url, http),
                                           ids["mother"], TODAY)
    assert len(children) == 7
    logged = caplog.text + capsys.readouterr().out
    assert "person_api.guardianship_sync_failed" in logged and "RuntimeError" in logged
    assert await guardianships(db, ids["mother"]) == set()


async def test_a_guardian_the_register_no_longer_knows_keeps_no_rows(db, world, base_url):
    ids = await world.patients(db)
    async with httpx.AsyncClient() as http:
        source = adapter(db, world, base_url, http)
        await source.children_of(ids["mother"])
        assert len(await guardianships(db, ids["mother"])) == 7
        del world.register.persons[world.nin["mother"]]
        assert await source.children_of(ids["mother"]) == []
    assert await guardianships(db, ids["mother"]) == set()


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
