"""A local stand-in for HelseID (token endpoint) and NHN's Person API, for
tests and development. Never for production.

It behaves like the real services where our adapter depends on it:

* ``GET /.well-known/openid-configuration``: issuer and token endpoint
  (derived from the address it is served on).
* ``POST /connect/token``: the client-credentials grant with
  ``private_key_jwt`` only. The client assertion is verified with the
  registered public key (signature, allowed algorithms, ``iss`` = ``sub`` =
  client id, ``aud`` = the issuer exactly, as HelseID documents it and NHN's
  client libraries send it, ``exp`` at most 120 s after ``iat``, ``jti`` not
  seen before, ``client_id`` form field matching); the requested scopes must
  be registered for the client. Returns an opaque bearer token. (HelseID's
  DPoP binding is not imitated; see ``registers.person_api``.)
* ``POST /api/legal-basis/person/get-by-nin``, as in NHN's published
  client (HelseID.Samples, ``Persontjenesten.Samples/Java/client``,
  ``PersonWithLegalBasisApi``): bearer token with the Person API scope,
  header ``api-version: 2``, the identity number as the form field ``nin``
  (``application/x-www-form-urlencoded``; a ``nin`` in the query string is
  refused), ``informationParts`` (required, repeated) and ``includeHistory``
  in the query. Answers a *Person* document holding only the parts asked
  for, each a list of register entries (``isValid``, ``validFrom``,
  ``validTo``, ``registeredAt``, ``source``, ``reason`` and the element's
  own fields; see ``registers.person_api``); without ``includeHistory=true``
  only entries with ``isValid`` true. 404 with a problem document for an
  unknown person. Like the register, it holds no residential address for a
  person with a strictly confidential one, delivers a confidential one
  marked as such, and sends ``addressProtection`` only for protected
  persons (or where a protection was lifted).

:class:`FakeRegister` holds synthetic persons and families; serve its app
with :func:`core.loopback.serving`.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import jwt
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

CLIENT_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
PERSON_API_SCOPE = "nhn:hgd-persontjenesten-api/read-with-legal-basis"
ASSERTION_ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256"]
PERSON_PATH = "/api/legal-basis/person/get-by-nin"
API_VERSION = "2"
#: The ``InformationPart`` values the API knows (Java client, ``docs/InformationPart.md``).
INFORMATION_PARTS = frozenset({
    "AddressProtection", "CitizenshipRetention", "ResidentialAddress", "UseOfSamiLanguage",
    "SharedResidence", "Death", "FalseIdentity", "FamilyRelation", "Birth", "BirthInNorway",
    "ParentalResponsibility", "SamiParliamentElectoralRegistryStatus",
    "NorwegianIdentificationNumber", "IdentityVerification", "ImmigrationToNorway", "Gender",
    "ResiduaryEstateContactInformation", "IdentificationDocument", "Name", "ResidencePermit",
    "StayOnSvalbard", "PresentAddress", "PostalAddress", "ForeignPostalAddress",
    "PreferredContactAddress", "MaritalStatus", "Citizenship", "Status",
    "ForeignPersonIdentificationNumber", "EmigrationFromNorway",
    "ImmigrationAuthoritiesIdentificationNumber", "GuardianshipOrFuturePowerOfAttorney",
    "DeprivedLegalAuthority", "CommonContactRegisterInformation", "LegalAuthority",
})
#: The parts the fake holds, and their keys in the Person document.
PART_KEYS = {
    "NorwegianIdentificationNumber": "norwegianIdentificationNumber",
    "Name": "name",
    "Birth": "birth",
    "AddressProtection": "addressProtection",
    "ResidentialAddress": "residentialAddress",
    "FamilyRelation": "familyRelation",
    "ParentalResponsibility": "parentalResponsibility",
}
#: When a change is dated if the test does not say.
DEFAULT_CHANGE = "2024-01-01T00:00:00+00:00"


def at_midnight(day: date) -> str:
    return f"{day.isoformat()}T00:00:00+00:00"


def register_entry(valid_from: str, **fields: Any) -> dict[str, Any]:
    """One current register entry: the metadata every element's entries
    carry (FREG: ajourholdstidspunkt, erGjeldende, kilde, aarsak,
    gyldighetstidspunkt, opphoerstidspunkt), then the element's own fields."""
    return {"registeredAt": valid_from, "isValid": True, "source": "Skatteetaten",
            "reason": None, "validFrom": valid_from, "validTo": None, **fields}


def _end(entries: Iterable[dict[str, Any]], valid_to: str) -> None:
    """Current entries become history."""
    for item in entries:
        if item["isValid"]:
            item["isValid"] = False
            item["validTo"] = valid_to


@dataclass
class FakePerson:
    """One synthetic person: each element of the Person document as a list
    of register entries, history included."""

    nin: str = field(repr=False)
    birth_date: date
    identification: list[dict[str, Any]] = field(default_factory=list)
    #: Folkeregisterpersonnavn entries, the current one with ``isValid`` true.
    names: list[dict[str, Any]] = field(default_factory=list)
    births: list[dict[str, Any]] = field(default_factory=list)
    protections: list[dict[str, Any]] = field(default_factory=list)
    addresses: list[dict[str, Any]] = field(default_factory=list)
    family: list[dict[str, Any]] = field(default_factory=list)
    parental_responsibility: list[dict[str, Any]] = field(default_factory=list)

    @property
    def address_protection(self) -> str | None:
        """The current ``protectionLevel``; None without one."""
        current = [e["protectionLevel"] for e in self.protections if e["isValid"]]
        return current[-1] if current else None

    def document(self, parts: Iterable[str], include_history: bool = False) -> dict[str, Any]:
        """The Person document with the parts asked for."""
        elements = {
            "norwegianIdentificationNumber": self.identification,
            "name": self.names,
            "birth": self.births,
            "addressProtection": self.protections,
            # Strictly confidential addresses are not in the register at all.
            "residentialAddress": ([] if self.address_protection == "StrictlyConfidential"
                                   else self.addresses),
            "familyRelation": self.family,
            "parentalResponsibility": self.parental_responsibility,
        }
        document: dict[str, Any] = {"id": hashlib.sha256(self.nin.encode()).hexdigest()}
        for part in parts:
            key = PART_KEYS.get(part)
            if key is not None:
                document[key] = [dict(e) for e in elements[key]
                                 if include_history or e["isValid"]]
        return document


@dataclass
class FakeClient:
    public_jwk: dict[str, Any]
    scopes: frozenset[str]


@dataclass
class FakeRegister:
    """Synthetic persons, families and registered HelseID clients, plus what
    the fake saw (for assertions)."""

    persons: dict[str, FakePerson] = field(default_factory=dict)
    clients: dict[str, FakeClient] = field(default_factory=dict)
    token_lifetime: int = 300
    clock: Callable[[], float] = time.time
    tokens: dict[str, tuple[str, frozenset[str], float]] = field(default_factory=dict)
    seen_jtis: set[str] = field(default_factory=set)
    token_requests: int = 0
    person_requests: int = 0
    #: Every request's path and query string, to check what went into URLs.
    request_lines: list[str] = field(default_factory=list)

    def add_client(self, client_id: str, public_jwk: dict[str, Any],
                   scopes: tuple[str, ...] = (PERSON_API_SCOPE,)) -> None:
        self.clients[client_id] = FakeClient(dict(public_jwk), frozenset(scopes))

    def now(self) -> str:
        return datetime.fromtimestamp(self.clock(), UTC).isoformat()

    def add_person(self, nin: str, birth_date: date, *, address_id: str | None = None,
                   unit: str = "H0101", protection: str | None = None, given_name: str = "",
                   family_name: str = "", middle_name: str | None = None) -> FakePerson:
        """A person born on ``birth_date`` (everything registered from then):
        ``protection`` is an ``AddressConfidentiality`` (Unclassified,
        ClientAddress, Confidential, StrictlyConfidential) or None for no
        ``addressProtection`` element, as for most people."""
        born = at_midnight(birth_date)
        person = FakePerson(nin, birth_date)
        person.identification.append(register_entry(
            born, status="InUse", identificationNumber=nin,
            identificationNumberType="NationalIdentityNumber"))
        person.births.append(register_entry(
            born, birthDate=born, birthYear=str(birth_date.year), birthPlace=None,
            birthMunicipalityNumber="0301", birthCountry="NOR"))
        self.persons[nin] = person
        if given_name or family_name:
            self.rename(nin, given_name, family_name, middle_name=middle_name, valid_from=born)
        if address_id is not None:
            self.move(nin, address_id, unit=unit, valid_from=born)
        if protection is not None:
            self.protect(nin, protection, valid_from=born)
        return person

    def rename(self, nin: str, given_name: str, family_name: str, *,
               middle_name: str | None = None, valid_from: str = DEFAULT_CHANGE) -> None:
        """A new current name; earlier ones stay as history (``isValid`` false)."""
        person = self.persons[nin]
        _end(person.names, valid_from)
        person.names.append(register_entry(
            valid_from, givenName=given_name, middleName=middle_name, familyName=family_name,
            shortName=None, originalName=None))

    def move(self, nin: str, address_id: str, *, unit: str = "H0101",
             valid_from: str = DEFAULT_CHANGE) -> None:
        """A new residential address (*Bostedsadresse*) with the cadastre's
        address id ``address_id``; the old one becomes history."""
        person = self.persons[nin]
        _end(person.addresses, valid_from)
        level = person.address_protection or "Unclassified"
        person.addresses.append(register_entry(
            valid_from,
            streetAddress={"municipalityNumber": "0301", "municipalityName": "OSLO",
                           "countyNumber": "03", "countyName": "OSLO",
                           "separatelyOccupiedUnitNumber": unit,
                           "separatelyOccupiedUnitType": "Residence",
                           "addressName": "Testveien", "addressCode": "12345",
                           "addressNumber": {"houseNumber": address_id[-2:], "houseLetter": None},
                           "addressAdditionalName": None, "coAddressName": None,
                           "city": {"cityName": "OSLO", "postalCode": "0150"}},
            cadastralAddress=None, unknownResidence=None, cadastralIdentifier=address_id,
            addressConfidentiality=level, moveDate=valid_from))

    def protect(self, nin: str, level: str, *, valid_from: str = DEFAULT_CHANGE) -> None:
        """A new address protection (*GraderingAvAdresse*) from ``valid_from``;
        the earlier one becomes history, and the current address is graded
        the same (Unclassified lifts a protection)."""
        person = self.persons[nin]
        _end(person.protections, valid_from)
        person.protections.append(register_entry(valid_from, protectionLevel=level))
        for address in person.addresses:
            if address["isValid"]:
                address["addressConfidentiality"] = level

    def add_parent(self, parent_nin: str, child_nin: str, *, role: str = "Mother",
                   parental_responsibility: bool = True, responsibility: str = "Joint") -> None:
        """A parent–child relation (*Familierelasjon*) on both records; with
        parental responsibility (*Foreldreansvar*) on the child's and the
        parent's, all from the child's birth."""
        parent, child = self.persons[parent_nin], self.persons[child_nin]
        since = at_midnight(child.birth_date)
        parent.family.append(register_entry(
            since, relatedPerson=child_nin, relatedPersonWithoutIdentifier=None,
            relatedPersonsRole="Child", myRoleForRelatedPerson=role))
        child.family.append(register_entry(
            since, relatedPerson=parent_nin, relatedPersonWithoutIdentifier=None,
            relatedPersonsRole=role, myRoleForRelatedPerson="Child"))
        if parental_responsibility:
            item = register_entry(
                since, responsibilityType=responsibility, subjectOfResponsibility=child_nin,
                responsible=parent_nin, responsibleOrganization=None,
                responsibleWithoutIdentifier=None, subjectOfResponsibilityWithoutIdentifier=None)
            child.parental_responsibility.append(dict(item))
            parent.parental_responsibility.append(dict(item))

    def remove_parent(self, parent_nin: str, child_nin: str, *,
                      valid_to: str | None = None) -> None:
        """The register no longer relates them (e.g. a court moved the
        parental responsibility): on both records, the relation and the
        responsibility entries between the two become history (now, by the
        register's clock, unless ``valid_to`` says)."""
        parent, child = self.persons[parent_nin], self.persons[child_nin]
        ended = valid_to or self.now()
        _end((r for r in parent.family if r["relatedPerson"] == child_nin), ended)
        _end((r for r in child.family if r["relatedPerson"] == parent_nin), ended)
        for person in (parent, child):
            _end((e for e in person.parental_responsibility
                  if (e["responsible"], e["subjectOfResponsibility"]) == (parent_nin, child_nin)),
                 ended)


def _oauth_error(error: str, status: int = 400) -> JSONResponse:
    return JSONResponse({"error": error}, status_code=status)


def create_app(register: FakeRegister) -> Starlette:
    """The fake HelseID + Person API over ``register``."""

    def issuer_of(request: Request) -> str:
        return str(request.base_url).rstrip("/")

    async def record_line(request: Request) -> None:
        line = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        register.request_lines.append(line)

    async def discovery(request: Request) -> JSONResponse:
        await record_line(request)
        issuer = issuer_of(request)
        return JSONResponse({
            "issuer": issuer,
            "token_endpoint": f"{issuer}/connect/token",
            "grant_types_supported": ["client_credentials"],
            "token_endpoint_auth_methods_supported": ["private_key_jwt"],
            "token_endpoint_auth_signing_alg_values_supported": ASSERTION_ALGORITHMS,
        })

    async def token(request: Request) -> JSONResponse:
        await record_line(request)
        register.token_requests += 1
        form = await request.form()
        if form.get("grant_type") != "client_credentials":
            return _oauth_error("unsupported_grant_type")
        if form.get("client_assertion_type") != CLIENT_ASSERTION_TYPE:
            return _oauth_error("invalid_client", 401)
        client_id = str(form.get("client_id") or "")
        client = register.clients.get(client_id)
        assertion = str(form.get("client_assertion") or "")
        if client is None or not assertion:
            return _oauth_error("invalid_client", 401)
        issuer = issuer_of(request)
        try:
            header = jwt.get_unverified_header(assertion)
            kid = client.public_jwk.get("kid")
            if kid is not None and header.get("kid") != kid:
                raise jwt.InvalidTokenError("unknown kid")
            # Times are checked against the register's clock, so tests can move it.
            claims = jwt.decode(
                assertion, jwt.PyJWK(client.public_jwk).key, algorithms=ASSERTION_ALGORITHMS,
                # HelseID's documented audience: its issuer (see registers.person_api).
                audience=issuer,
                options={"require": ["iss", "sub", "aud", "exp", "iat", "jti"],
                         "verify_exp": False, "verify_iat": False, "verify_nbf": False},
            )
        except jwt.InvalidTokenError:
            return _oauth_error("invalid_client", 401)
        now = register.clock()
        if not (claims["exp"] > now >= claims["iat"] - 30 and claims.get("nbf", 0) <= now + 30):
            return _oauth_error("invalid_client", 401)  # expired or not yet valid
        if claims["exp"] - claims["iat"] > 120:
            return _oauth_error("invalid_client", 401)  # assertions must be short-lived
        if claims["iss"] != client_id or claims["sub"] != client_id:
            return _oauth_error("invalid_client", 401)
        if claims["jti"] in register.seen_jtis:
            return _oauth_error("invalid_client", 401)  # a replayed assertion
        register.seen_jtis.add(claims["jti"])
        scopes = frozenset(str(form.get("scope") or "").split())
        if not scopes or not scopes <= client.scopes:
            return _oauth_error("invalid_scope")
        access_token = secrets.token_urlsafe(32)
        register.tokens[access_token] = (client_id, scopes,
                                         register.clock() + register.token_lifetime)
        return JSONResponse({"access_token": access_token, "token_type": "Bearer",
                             "expires_in": register.token_lifetime,
                             "scope": " ".join(sorted(scopes))},
                            headers={"Cache-Control": "no-store"})

    async def person(request: Request) -> JSONResponse:
        await record_line(request)
        register.person_requests += 1
        auth = request.headers.get("authorization", "")
        scheme, _, value = auth.partition(" ")
        entry = register.tokens.get(value) if scheme.lower() == "bearer" else None
        if entry is None or entry[2] <= register.clock():
            return JSONResponse({"error": "invalid_token"}, status_code=401,
                                headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
        if PERSON_API_SCOPE not in entry[1]:
            return JSONResponse({"error": "insufficient_scope"}, status_code=403)
        query = request.query_params
        if "nin" in query:
            return _problem("Identity numbers belong in the body", 400)
        if request.headers.get("api-version") != API_VERSION:
            return _problem("Unsupported api-version", 400)
        parts = query.getlist("informationParts")
        if not parts or not set(parts) <= INFORMATION_PARTS:
            return _problem("informationParts must name known information parts", 400)
        content_type = request.headers.get("content-type", "").split(";")[0].strip()
        if content_type != "application/x-www-form-urlencoded":
            return _problem("Unsupported media type", 415)
        nin = str((await request.form()).get("nin") or "")
        if not nin:
            return _problem("nin is required", 400)
        found = register.persons.get(nin)
        if found is None:
            return _problem("No person found", 404)
        include_history = query.get("includeHistory", "false").lower() == "true"
        return JSONResponse(found.document(parts, include_history))

    return Starlette(routes=[
        Route("/.well-known/openid-configuration", discovery, methods=["GET"]),
        Route("/connect/token", token, methods=["POST"]),
        Route(PERSON_PATH, person, methods=["POST"]),
    ])


def _problem(title: str, status: int) -> JSONResponse:
    """An RFC 9457 problem document, as the API answers errors (``ProblemDetails``)."""
    return JSONResponse({"title": title, "status": status}, status_code=status,
                        media_type="application/problem+json")
