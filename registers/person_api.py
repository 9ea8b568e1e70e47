"""Relations from Norsk helsenett's Person API (Persontjenesten), the health
sector's copy of the population register (Folkeregisteret).

This is the production :class:`booking.relations.RelationsSource`:

1. A HelseID access token by the client-credentials grant, the client
   authenticating with ``private_key_jwt`` (RFC 7523 §2.2): a short-lived JWT
   (header ``typ`` ``client-authentication+jwt``) with ``iss`` = ``sub`` =
   client id, ``aud`` = HelseID's *issuer* exactly as its discovery document
   names it (``https://helseid-sts.nhn.no``; test:
   ``https://helseid-sts.test.nhn.no``), ``iat``, ``nbf``, ``exp`` (HelseID
   refuses more than 60 s ahead) and a unique ``jti``, signed with the
   client's private key (a JWK). Sources: NHN's own client libraries set
   ``aud`` to the issuer (HelseID.Library.Java ``DefaultClientCredentials``:
   ``metadata.getIssuer()``; HelseID.Library for .NET
   ``ClientAssertionPayloadClaimsCreator``: the STS URL), as does HelseID's
   request-object profile ("set to url to the HelseID for the relevant
   environment … found in the «issuer» claim in our metadata"); older
   examples on the developer portal used the token URL. The issuer comes
   from the discovery document, which must name the authority asked (OpenID
   Connect Discovery §4.3); so does the token endpoint unless
   ``HELSEID_TOKEN_URL`` names it. Tokens are reused until shortly before
   they expire.
2. The guardian's person record, then each child's, then each other
   guardian's: ``POST {base_url}/api/legal-basis/person/get-by-nin`` with
   header ``api-version: 2``, the identity number as the form field ``nin``
   (``application/x-www-form-urlencoded``) and only the information parts
   we read as ``informationParts`` query parameters, with
   ``includeHistory=false``. Identity numbers never go into URLs or logs.
3. The persons are matched to local patients by the keyed hash of their
   identity number (:meth:`core.identity.IdentityVault.lookup_hash`);
   children the service has no record of are left out. Each fresh answer
   is copied into the local ``guardianships`` and ``patients`` rows
   (:func:`booking.relations.reconcile_guardianships`).

**Where the shapes come from.** NHN's published Person API clients in
github.com/NorskHelsenett/HelseID.Samples, ``Persontjenesten.Samples``:
the Java client generated from the API's OpenAPI description
(``Java/client/docs/PersonWithLegalBasisApi.md`` and
``…/api/PersonWithLegalBasisApi.java``: path, ``api-version`` header, form
field ``nin``, query ``informationParts`` and ``includeHistory``, 404 "Person
not found"; ``docs/Person.md`` and the element pages named below) and the
.NET models (``.NET/…/Model/AddressProtection.cs``). Every element of the
person document is a *list* of register entries (history included), each
entry with ``isValid`` (FREG *erGjeldende*), ``validFrom``, ``validTo``,
``registeredAt``, ``source``, ``reason``; :func:`current_entries` keeps the
ones that hold now (not ``isValid: false``, ``validFrom`` not in the future,
``validTo`` not passed), newest ``validFrom`` first:

* ``norwegianIdentificationNumber``: ``identificationNumber``, ``status``
  (InUse/Discontinued), ``identificationNumberType`` (the person's numbers;
  the document has no top-level ``nin``).
* ``name`` (*Folkeregisterpersonnavn*): ``givenName``, ``middleName``,
  ``familyName``.
* ``birth`` (*Foedsel*): ``birthDate``, an ``OffsetDateTime`` whose time and
  zone "are unknown and must be ignored" (only its date is read).
* ``addressProtection`` (*GraderingAvAdresse*): ``protectionLevel``, an
  ``AddressConfidentiality``: Unclassified, ClientAddress, Confidential,
  StrictlyConfidential. FREG delivers the element only for persons with a
  protected address (Skatteetaten, folkeregisteret-api-dokumentasjon,
  ``spm-og-svar/sos-spesreg.md``), so no current entry means unprotected.
  Unclassified (*ugradert*) is unprotected; Confidential (*fortrolig*) and
  ClientAddress (*klientadresse*) count as confidential; StrictlyConfidential
  (*strengt fortrolig*, also *…utland*), a current entry without a level, and
  any value we do not know count as strictly confidential (fail safe).
* ``residentialAddress`` (*Bostedsadresse*): ``cadastralIdentifier`` (the
  cadastre's address id), ``streetAddress`` / ``cadastralAddress`` (with
  ``separatelyOccupiedUnitNumber``), ``unknownResidence``, and the address's
  own ``addressConfidentiality``, which is honoured as well. Strictly
  confidential addresses are not in the register at all.
* ``familyRelation`` (*Familierelasjon*): ``relatedPerson``,
  ``relatedPersonsRole`` / ``myRoleForRelatedPerson`` (Mother, Father,
  CoMother, Child, Sibling, SpouseOrPartner, StillbornChild),
  ``relatedPersonWithoutIdentifier``.
* ``parentalResponsibility`` (*Foreldreansvar*): ``responsibilityType``
  (Joint, Mother, Father, CoMother, Other, Unknown), ``responsible``,
  ``subjectOfResponsibility``, ``responsibleWithoutIdentifier``,
  ``responsibleOrganization``.

All reading of the response happens in :func:`map_person`. Without a
current parental-responsibility entry a parent is *not* treated as a
guardian (the clinic is the manual route).

**To confirm when onboarding** (none of this could be checked against the
live service): that our client gets ``parentalResponsibility`` and
``familyRelation`` under our legal basis (*rettighetspakke*); which API
generation NHN gives us: the samples also show a newer v3 surface
(``api/v3/full-access/…`` / ``api/v3/restricted-access/person/get-by-nin``,
scopes named FullAccess/RestrictedAccess plus RequireParentOrgNumber) and,
in the newer .NET sample, DPoP-bound HelseID tokens (``Authorization:
DPoP`` with a proof per request, and a ``DPoP-Nonce`` round trip at the
token endpoint), which this client does not do yet; that ``includeHistory
=false`` leaves only current entries (we pick the current one either way);
that ClientAddress is right to treat as confidential; and that
``cadastralIdentifier`` plus the dwelling unit is the right "same address"
key for Helsenorge's under-12 rule.

:class:`PersonApiRegister` is the production
:class:`registers.population.PopulationRegister`: the name and birth date of a
person logging in for the first time, and a fresh look at their relations
at each login.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import httpx
import structlog
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from booking import audit
from booking.models import Patient
from booking.relations import (
    REGISTER_SYNC_ACTOR,
    REGISTER_SYNC_PURPOSE,
    RelationsSource,
    reconcile_child_guardians,
    reconcile_guardianships,
)
from booking.representation import ChildRelation, PersonFacts
from booking.statuses import ConfidentialAddress
from core.db import Database
from core.identity import IdentityVault
from core.oauth import SigningKey, TokenError, TokenSource, client_credentials
from registers import population

log = structlog.get_logger(__name__)

SCOPE_WITH_LEGAL_BASIS = "nhn:hgd-persontjenesten-api/read-with-legal-basis"
#: PersonWithLegalBasisApi ``apiLegalBasisPersonGetByNinPost`` (see above).
DEFAULT_PERSON_PATH = "/api/legal-basis/person/get-by-nin"
#: The ``api-version`` header the path above belongs to.
API_VERSION = "2"
#: The ``informationParts`` asked for: what :func:`map_person` reads, no more.
INFORMATION_PARTS = ("NorwegianIdentificationNumber", "Name", "Birth", "AddressProtection",
                     "ResidentialAddress", "FamilyRelation", "ParentalResponsibility")
#: Roles in ``familyRelation.relatedPersonsRole`` that make the related person a child.
CHILD_ROLES = frozenset({"child"})
#: ``AddressConfidentiality`` values (``addressProtection.protectionLevel``,
#: ``residentialAddress.addressConfidentiality``), compared without case,
#: spaces, ``-`` or ``_``; FREG's Norwegian codes too. Anything else counts
#: as strictly confidential (fail safe).
_PROTECTION = {
    "unclassified": ConfidentialAddress.NONE,
    "ugradert": ConfidentialAddress.NONE,
    "confidential": ConfidentialAddress.CONFIDENTIAL,
    "fortrolig": ConfidentialAddress.CONFIDENTIAL,
    # A client address (klientadresse) stands in for a protected one.
    "clientaddress": ConfidentialAddress.CONFIDENTIAL,
    "klientadresse": ConfidentialAddress.CONFIDENTIAL,
    "strictlyconfidential": ConfidentialAddress.STRICTLY_CONFIDENTIAL,
    "strengtfortrolig": ConfidentialAddress.STRICTLY_CONFIDENTIAL,
    "strictlyconfidentialabroad": ConfidentialAddress.STRICTLY_CONFIDENTIAL,
    "strengtfortroligutland": ConfidentialAddress.STRICTLY_CONFIDENTIAL,
}
_STRICTNESS = {ConfidentialAddress.NONE: 0, ConfidentialAddress.CONFIDENTIAL: 1,
               ConfidentialAddress.STRICTLY_CONFIDENTIAL: 2}
_EPOCH = datetime(1, 1, 1, tzinfo=UTC)


class PersonApiError(RuntimeError):
    """HelseID or the Person API did not answer as expected. The message
    never holds an identity number."""


# --- HelseID -----------------------------------------------------------------


def helseid_tokens(*, authority: str, client_id: str, key: SigningKey, scope: str,
                   http: httpx.AsyncClient, clock: Callable[[], float] = time.time,
                   token_url: str | None = None) -> TokenSource:
    """Client-credentials tokens from HelseID with ``private_key_jwt``
    (:mod:`core.oauth`), in the profile the module notes describe.

    ``authority``'s discovery document must name it as the issuer; that
    issuer is the assertion's ``aud``, and its token endpoint is used unless
    ``token_url`` (``HELSEID_TOKEN_URL``) is given. Assertions live 30 s
    (HelseID refuses an ``exp`` more than 60 s ahead, and clocks drift), with
    ``nbf`` and the header ``typ`` ``client-authentication+jwt``; tokens are
    renewed 60 s before they expire. ``clock`` returns Unix seconds."""
    return TokenSource(
        client_credentials(key, client_id=client_id, scope=scope, lifetime=30,
                           typ="client-authentication+jwt", clock=clock),
        http=http, issuer=authority, token_url=token_url, discover=True,
        refresh_margin=60, clock=clock)


def _error_code(response: httpx.Response) -> str:
    try:
        return str(response.json().get("error", ""))[:64]
    except (ValueError, AttributeError):
        return ""


# --- The Person API ----------------------------------------------------------


@dataclass(frozen=True)
class RegisterPerson:
    """One person as the register states it, read by :func:`map_person`.
    Identity numbers are kept out of ``repr``."""

    nin: str = field(repr=False)
    birth_date: date | None
    confidential_address: ConfidentialAddress
    #: Opaque key of the residential address; None when unknown or protected.
    address_key: str | None
    #: Identity numbers of this person's children (familyRelation role Child).
    children: tuple[str, ...] = field(default=(), repr=False)
    #: Identity numbers of those with parental responsibility for this person.
    responsible_guardians: tuple[str, ...] = field(default=(), repr=False)
    #: Identity numbers of the children this person has parental responsibility for.
    responsible_for: tuple[str, ...] = field(default=(), repr=False)
    #: The current registered name: given name (fornavn), and the family name
    #: (etternavn) preceded by any middle name (mellomnavn), which in Norway
    #: is a surname-like name; "" when the register gives none.
    given_name: str = field(default="", repr=False)
    family_name: str = field(default="", repr=False)
    #: Every identity number of this person: the one asked for and those the
    #: register lists (``norwegianIdentificationNumber``, earlier ones too).
    numbers: frozenset[str] = field(default=frozenset(), repr=False)

    def facts(self, patient_id: int | None) -> PersonFacts | None:
        if self.birth_date is None:
            return None
        return PersonFacts(patient_id, self.birth_date, self.address_key,
                           self.confidential_address)


def _when(value: Any) -> datetime | None:
    """A register time (ISO 8601 ``OffsetDateTime``) as an aware datetime;
    None when absent or unreadable. A time without a zone is taken as UTC."""
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def current_entries(value: Any, now: datetime) -> list[Mapping[str, Any]]:
    """The entries of one element of the person document (a list of register
    entries, history included) that hold at ``now``: not marked ``isValid:
    false``, ``validFrom`` not in the future, ``validTo`` not passed. Newest
    ``validFrom`` first. A single object counts as a one-entry list."""
    if isinstance(value, Mapping):
        entries: list[Any] = [value]
    elif isinstance(value, list | tuple):
        entries = list(value)
    else:
        entries = []
    held = []
    for entry in entries:
        if not isinstance(entry, Mapping) or entry.get("isValid") is False:
            continue
        start, end = _when(entry.get("validFrom")), _when(entry.get("validTo"))
        if (start is not None and start > now) or (end is not None and end <= now):
            continue
        held.append(entry)
    held.sort(key=lambda e: _when(e.get("validFrom")) or _EPOCH, reverse=True)
    return held


def _current(value: Any, now: datetime) -> Mapping[str, Any] | None:
    held = current_entries(value, now)
    return held[0] if held else None


def protection_level(value: Any) -> ConfidentialAddress:
    """An ``AddressConfidentiality`` value as our mark: unknown or missing
    values count as strictly confidential (fail safe)."""
    key = re.sub(r"[\s_-]", "", str(value or "")).lower()
    return _PROTECTION.get(key, ConfidentialAddress.STRICTLY_CONFIDENTIAL)


def _stricter(a: ConfidentialAddress, b: ConfidentialAddress) -> ConfidentialAddress:
    return a if _STRICTNESS[a] >= _STRICTNESS[b] else b


def _date(value: Any) -> date | None:
    """The date of a register ``OffsetDateTime`` whose time and zone are
    meaningless (``birth.birthDate``): the date as written, never shifted."""
    try:
        return date.fromisoformat(str(value)[:10]) if value else None
    except ValueError:
        return None


def map_person(payload: Mapping[str, Any], *, nin: str | None = None,
               address_key_of: Callable[[Mapping[str, Any]], str | None],
               now: datetime | None = None) -> RegisterPerson:
    """Read one Person API person document (see the module notes for its
    shape and sources). The only place that knows the response's field
    names. ``nin`` is the number it was asked for; each element's current
    entry (:func:`current_entries` at ``now``) is the one read.
    ``address_key_of`` turns a residential address entry into an opaque key;
    it is never called for a protected address."""
    now = now or datetime.now(UTC)
    numbers = {str(e.get("identificationNumber")) for e in
               payload.get("norwegianIdentificationNumber") or ()
               if isinstance(e, Mapping) and e.get("identificationNumber")}
    in_use = [str(e["identificationNumber"]) for e in
              current_entries(payload.get("norwegianIdentificationNumber"), now)
              if e.get("identificationNumber")]
    own = nin or (in_use[0] if in_use else "")
    if own:
        numbers.add(own)

    # No current protection entry: the register marks nothing (FREG sends the
    # element only for protected persons). A current one without a level: fail safe.
    graded = _current(payload.get("addressProtection"), now)
    protection = (protection_level(graded.get("protectionLevel")) if graded is not None
                  else ConfidentialAddress.NONE)
    address = _current(payload.get("residentialAddress"), now)
    if address is not None and address.get("addressConfidentiality") is not None:
        protection = _stricter(protection, protection_level(address["addressConfidentiality"]))
    address_key = None
    if protection is ConfidentialAddress.NONE and address is not None:
        address_key = address_key_of(address)

    birth = _current(payload.get("birth"), now)
    given_name, family_name = _current_name(payload.get("name"), now)
    children = []
    for relation in current_entries(payload.get("familyRelation"), now):
        related = relation.get("relatedPerson")
        role = str(relation.get("relatedPersonsRole") or "").lower()
        if role in CHILD_ROLES and related and not relation.get(
                "relatedPersonWithoutIdentifier"):
            children.append(str(related))
    responsible, responsible_for = [], []
    for entry in current_entries(payload.get("parentalResponsibility"), now):
        holder, subject = entry.get("responsible"), entry.get("subjectOfResponsibility")
        if not holder or not subject:
            continue  # e.g. ``responsibleWithoutIdentifier``: nobody we can match
        if str(subject) in numbers:
            responsible.append(str(holder))
        elif str(holder) in numbers:
            responsible_for.append(str(subject))
    return RegisterPerson(
        nin=own,
        birth_date=_date(birth.get("birthDate")) if birth is not None else None,
        confidential_address=protection,
        address_key=address_key,
        children=tuple(dict.fromkeys(children)),
        responsible_guardians=tuple(dict.fromkeys(responsible)),
        responsible_for=tuple(dict.fromkeys(responsible_for)),
        given_name=given_name,
        family_name=family_name,
        numbers=frozenset(numbers),
    )


#: Longest name kept (the patients table's name columns).
NAME_LENGTH = 200


def _current_name(value: Any, now: datetime) -> tuple[str, str]:
    """(given, family) from the register's ``name`` element: a list of
    *Folkeregisterpersonnavn* entries (a single object is accepted too), the
    current one read; none gives empty names."""
    name = _current(value, now)
    if name is None:
        return "", ""

    def part(key: str) -> str:
        return " ".join(str(name.get(key) or "").split())

    family = " ".join(p for p in (part("middleName"), part("familyName")) if p)
    return part("givenName")[:NAME_LENGTH], family[:NAME_LENGTH]


class PersonApiClient:
    """Fetches person records; identity numbers only in the request body."""

    def __init__(self, *, base_url: str, tokens: TokenSource, http: httpx.AsyncClient,
                 vault: IdentityVault, person_path: str = DEFAULT_PERSON_PATH) -> None:
        self.url = base_url.rstrip("/") + person_path
        self.tokens = tokens
        self.http = http
        self.vault = vault

    def address_key(self, address: Mapping[str, Any]) -> str | None:
        """A keyed hash of a ``residentialAddress`` entry's identity: the
        cadastre's address id (``cadastralIdentifier``) and the dwelling unit
        (``separatelyOccupiedUnitNumber``) when given; else the street
        address (municipality, address code or name, house number and letter,
        postal code) or the cadastral number; None for an unknown residence.
        Keyed, so the stored key says nothing about where anyone lives."""
        street = address.get("streetAddress")
        street = street if isinstance(street, Mapping) else {}
        cadastral = address.get("cadastralAddress")
        cadastral = cadastral if isinstance(cadastral, Mapping) else {}

        def norm(value: Any) -> str:
            return " ".join(str(value if value is not None else "").split()).lower()

        unit = norm(street.get("separatelyOccupiedUnitNumber")
                    or cadastral.get("separatelyOccupiedUnitNumber")).upper()
        ident = norm(address.get("cadastralIdentifier"))
        if ident:
            text = f"cadastre:{ident}:{unit}"
        elif street:
            number = street.get("addressNumber")
            number = number if isinstance(number, Mapping) else {}
            city = street.get("city")
            city = city if isinstance(city, Mapping) else {}
            parts = [norm(street.get("municipalityNumber")),
                     norm(street.get("addressCode") or street.get("addressName")),
                     norm(number.get("houseNumber")), norm(number.get("houseLetter")),
                     norm(city.get("postalCode"))]
            if not parts[1] or not (parts[0] or parts[4]):
                return None
            text = "street:" + ":".join(parts) + f":{unit}"
        elif cadastral:
            numbers = cadastral.get("cadastralNumber")
            numbers = numbers if isinstance(numbers, Mapping) else {}
            parts = [norm(numbers.get(k)) for k in ("municipalityNumber", "municipalityLandNumber",
                                                    "titleNumber", "leaseholdNumber")]
            if not parts[0] or not parts[1]:
                return None
            text = ("matrikkel:" + ":".join(parts)
                    + f":{norm(cadastral.get('subNumber'))}:{unit}")
        else:
            return None  # ``unknownResidence``
        return self.vault.lookup_hash("address:" + text).hex()

    async def person(self, nin: str) -> RegisterPerson | None:
        """The register's record for ``nin``, or None if the register has none.
        The number goes in the form body; the query names only the
        information parts."""
        params = {"informationParts": list(INFORMATION_PARTS), "includeHistory": "false"}
        for attempt in (1, 2):
            try:
                token = await self.tokens.token()
            except TokenError as exc:
                raise PersonApiError(f"HelseID: {exc}") from exc
            response = await self.http.post(
                self.url, data={"nin": nin}, params=params,
                headers={"Authorization": f"Bearer {token}", "Accept": "application/json",
                         "api-version": API_VERSION})
            if response.status_code == 401 and attempt == 1:
                self.tokens.forget()  # revoked or expired early: one fresh try
                continue
            break
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise PersonApiError(f"Person API answered HTTP {response.status_code} "
                                 f"{_error_code(response)}")
        return map_person(response.json(), nin=nin, address_key_of=self.address_key)

    async def persons(self, nins: Iterable[str]) -> dict[str, RegisterPerson]:
        unique = list(dict.fromkeys(nins))
        found = await asyncio.gather(*(self.person(n) for n in unique))
        return {n: p for n, p in zip(unique, found, strict=True) if p is not None}

    async def aclose(self) -> None:
        """Close the HTTP client it was given (the app owns one for it)."""
        await self.http.aclose()


class PersonApiRegister:
    """:class:`registers.population.PopulationRegister` backed by the Person API:
    the registered name and birth date of a person logging in for the first
    time. Their relations are asked for through ``relations`` (the app's
    briefly cached :class:`PersonApiRelations`) whenever they are needed, and
    once at each login (:meth:`refresh_relations`), which also brings the
    local guardianships in step and warms the cache for the first page.

    A person the register does not know gives None (the login goes on with
    what the ID token says). When the register cannot be asked, the login is
    refused as ``unavailable`` rather than creating a patient with a guessed
    birth date and no name."""

    def __init__(self, client: PersonApiClient,
                 relations: RelationsSource | None = None) -> None:
        self.client = client
        self.relations = relations

    async def refresh_relations(self, patient_id: int) -> None:
        """Ask for the patient's children (fresh unless cached moments ago)."""
        if self.relations is not None:
            await self.relations.children_of(patient_id)

    async def person(self, identity_number: str) -> population.RegisterPerson | None:
        try:
            found = await self.client.person(identity_number)
        except (PersonApiError, httpx.HTTPError, ValueError, KeyError) as exc:
            # The message never holds the number; the exception type says enough.
            log.warning("person_api.register_unavailable", error=type(exc).__name__)
            raise population.RegisterUnavailable("unavailable") from exc
        if found is None or found.birth_date is None:
            log.info("person_api.not_in_register")
            return None
        return population.RegisterPerson(given_name=found.given_name,
                                         family_name=found.family_name,
                                         birth_date=found.birth_date)


class PersonApiRelations:
    """:class:`booking.relations.RelationsSource` backed by the Person API.
    Every answer is also copied into the local tables
    (:func:`booking.relations.reconcile_guardianships`); a failure there is
    logged and the answer returned all the same."""

    def __init__(self, db: Database, client: PersonApiClient) -> None:
        self.db = db
        self.client = client

    async def children_of(self, guardian_patient_id: int) -> list[ChildRelation]:
        vault = self.client.vault
        async with self.db.read() as session:
            guardian_row = await session.get(Patient, guardian_patient_id)
        if guardian_row is None:
            return []
        my_nin = vault.decrypt(guardian_row.identity_encrypted)
        me = await self.client.person(my_nin)
        if me is None or me.birth_date is None:
            log.info("person_api.guardian_not_in_register", patient_id=guardian_patient_id)
            # The register lists no children for them: nor do the local rows.
            await self._reconcile(guardian_patient_id, None, [])
            return []
        children = await self.client.persons(me.children)
        other_nins = {g for c in children.values()
                      for g in c.responsible_guardians} - me.numbers
        others = await self.client.persons(sorted(other_nins))
        local = await self._local_ids([*children, *others])
        me_facts = me.facts(guardian_patient_id)
        assert me_facts is not None
        relations = []
        for nin, child in children.items():
            child_facts = child.facts(local.get(nin))
            if child_facts is None or child_facts.patient_id is None:
                continue  # no local record (or no birth date): nothing to act on here
            other_facts = []
            for other_nin in child.responsible_guardians:
                other = others.get(other_nin)
                facts = other.facts(local.get(other_nin)) if other else None
                if facts is not None:
                    other_facts.append(facts)
            responsible = bool(me.numbers.intersection(child.responsible_guardians)
                               or child.numbers.intersection(me.responsible_for))
            relations.append(ChildRelation(me_facts, child_facts, tuple(other_facts),
                                           parental_responsibility=responsible))
        log.info("person_api.children", patient_id=guardian_patient_id,
                 in_register=len(children), local=len(relations))
        await self._reconcile(guardian_patient_id, me_facts, relations)
        return relations

    async def refresh_guardians(self, child_patient_id: int) -> None:
        """:class:`booking.relations.GuardiansSource`: the child's record, then
        each person with parental responsibility for them. A guardian the
        service has never seen (never logged in) gets a patient row from the
        register (name, birth date, address facts; as at a first login, and
        audited as the register's work), so the notices reach them through
        the contact register (KRR) like anyone else. Then the child's
        ``guardianships`` rows are made to match
        (:func:`booking.relations.reconcile_child_guardians`)."""
        vault = self.client.vault
        async with self.db.read() as session:
            child_row = await session.get(Patient, child_patient_id)
        if child_row is None:
            return
        child = await self.client.person(vault.decrypt(child_row.identity_encrypted))
        if child is None:
            log.info("person_api.child_not_in_register", patient_id=child_patient_id)
            return
        guardians = await self.client.persons(child.responsible_guardians)
        local = await self._local_ids(list(guardians))
        for nin, person in guardians.items():
            if nin not in local and person.birth_date is not None:
                local[nin] = await self._register_patient(nin, person, child_patient_id)
        facts = [f for f in (child.facts(child_patient_id),
                             *(p.facts(local.get(n)) for n, p in guardians.items()))
                 if f is not None]
        await reconcile_child_guardians(self.db, child_patient_id,
                                        [local[n] for n in guardians if n in local], facts)
        log.info("person_api.guardians", patient_id=child_patient_id,
                 in_register=len(guardians))

    async def _register_patient(self, nin: str, person: RegisterPerson, child_id: int) -> int:
        """A patient row for a guardian known only from the register."""
        vault = self.client.vault
        assert person.birth_date is not None
        try:
            async with self.db.write() as session:
                row = Patient(identity_hash=vault.lookup_hash(nin),
                              identity_encrypted=vault.encrypt(nin),
                              given_name=person.given_name, family_name=person.family_name,
                              birth_date=person.birth_date,
                              address_key=(person.address_key
                                           if person.confidential_address
                                           is ConfidentialAddress.NONE else None),
                              confidential_address=person.confidential_address.value)
                session.add(row)
                await session.flush()
                await audit.record(session, REGISTER_SYNC_ACTOR, "patient.register",
                                   purpose=REGISTER_SYNC_PURPOSE, subject_patient_id=row.id,
                                   detail={"guardian_of": child_id})
                return int(row.id)
        except IntegrityError:
            # Logged in (or registered by another request) at the same moment.
            found = await self._local_ids([nin])
            return found[nin]

    async def _reconcile(self, guardian_patient_id: int, me: PersonFacts | None,
                         relations: list[ChildRelation]) -> None:
        try:
            await reconcile_guardianships(self.db, guardian_patient_id, relations, guardian=me)
        except Exception as exc:  # never stand in the way of the page asking
            log.warning("person_api.guardianship_sync_failed", patient_id=guardian_patient_id,
                        error=type(exc).__name__)

    async def _local_ids(self, nins: list[str]) -> dict[str, int]:
        if not nins:
            return {}
        by_hash = {self.client.vault.lookup_hash(n): n for n in nins}
        async with self.db.read() as session:
            rows = (await session.execute(
                select(Patient.identity_hash, Patient.id)
                .where(Patient.identity_hash.in_(list(by_hash)))
            )).all()
        return {by_hash[bytes(h)]: pid for h, pid in rows}
