"""Relations from Norsk helsenett's Person API (Persontjenesten), the health
sector's copy of the population register (Folkeregisteret).

This is the production :class:`booking.relations.RelationsSource`:

1. A HelseID access token by the client-credentials grant, the client
   authenticating with ``private_key_jwt`` (RFC 7523): a short-lived JWT with
   ``iss`` = ``sub`` = client id, ``aud`` = the HelseID issuer, ``iat``,
   ``nbf``, ``exp`` and a unique ``jti``, signed with the client's private
   key (a JWK). The token endpoint comes from HelseID's discovery document.
   Tokens are reused until shortly before they expire.
2. The guardian's person record, then each child's, then each other
   guardian's, by ``POST {base_url}{person_path}`` with the identity number
   in the JSON body: identity numbers never go into URLs or logs.
3. The persons are matched to local patients by the keyed hash of their
   identity number (:meth:`booking.identity.IdentityVault.lookup_hash`);
   children the service has no record of are left out.

The response shape follows research/tech.md §2: ``familyRelation`` entries
with ``relatedPerson``, ``relatedPersonsRole`` (Child/Father/Mother/…),
``myRoleForRelatedPerson`` and ``relatedPersonWithoutIdentifier``; the
register's *foreldreansvar* as ``parentalResponsibility`` entries
(``responsibility``, ``responsiblePerson``, ``responsibilitySubject``); the
address-protection mark; the residential address. All reading of the
response happens in :func:`map_person`. **To confirm before going live**
(tech.md §2): the exact path and field names against NHN's OpenAPI
description, whether ``parentalResponsibility`` is delivered under our
legal basis, the ``aud`` HelseID expects, and whether the API requires DPoP.
Without a parental-responsibility entry a parent is *not* treated as a
guardian (the clinic is the manual route).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import httpx
import jwt
import structlog
from sqlalchemy import select

from booking.db import Database
from booking.identity import IdentityVault
from booking.models import Patient
from booking.representation import ChildRelation, PersonFacts
from booking.statuses import ConfidentialAddress

log = structlog.get_logger(__name__)

CLIENT_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
SCOPE_WITH_LEGAL_BASIS = "nhn:hgd-persontjenesten-api/read-with-legal-basis"
DEFAULT_PERSON_PATH = "/api/v1/person"
#: Roles in ``familyRelation.relatedPersonsRole`` that make the related person a child.
CHILD_ROLES = frozenset({"child"})
#: ``addressProtection`` values; anything else non-empty is treated as strictly
#: confidential (fail safe).
_PROTECTION = {
    "": ConfidentialAddress.NONE,
    "none": ConfidentialAddress.NONE,
    "ugradert": ConfidentialAddress.NONE,
    "confidential": ConfidentialAddress.CONFIDENTIAL,
    "fortrolig": ConfidentialAddress.CONFIDENTIAL,
    "strictlyconfidential": ConfidentialAddress.STRICTLY_CONFIDENTIAL,
    "strengtfortrolig": ConfidentialAddress.STRICTLY_CONFIDENTIAL,
    "strictlyconfidentialabroad": ConfidentialAddress.STRICTLY_CONFIDENTIAL,
    "strengtfortroligutland": ConfidentialAddress.STRICTLY_CONFIDENTIAL,
}


class PersonApiError(RuntimeError):
    """HelseID or the Person API did not answer as expected. The message
    never holds an identity number."""


# --- HelseID -----------------------------------------------------------------


class HelseIdClient:
    """Client-credentials tokens from HelseID with ``private_key_jwt``.

    ``private_jwk`` is the client's private key as a JWK (``kid`` and ``alg``
    taken from it; ``alg`` defaults to RS256). ``clock`` returns Unix seconds.
    """

    def __init__(self, *, authority: str, client_id: str, private_jwk: Mapping[str, Any],
                 scope: str, http: httpx.AsyncClient,
                 clock: Callable[[], float] = time.time,
                 assertion_lifetime: int = 60, refresh_margin: int = 60) -> None:
        self.authority = authority.rstrip("/")
        self.client_id = client_id
        self.scope = scope
        self.http = http
        self.clock = clock
        self.assertion_lifetime = assertion_lifetime
        self.refresh_margin = refresh_margin
        self._jwk = jwt.PyJWK(dict(private_jwk))
        self._alg = str(private_jwk.get("alg") or "RS256")
        self._kid = private_jwk.get("kid")
        self._discovery: dict[str, Any] | None = None
        self._token: tuple[str, float] | None = None
        self._lock = asyncio.Lock()

    async def discovery(self) -> dict[str, Any]:
        if self._discovery is None:
            response = await self.http.get(f"{self.authority}/.well-known/openid-configuration")
            if response.status_code != 200:
                raise PersonApiError(f"HelseID discovery failed: HTTP {response.status_code}")
            self._discovery = response.json()
        return self._discovery

    def client_assertion(self, audience: str) -> str:
        now = int(self.clock())
        claims = {"iss": self.client_id, "sub": self.client_id, "aud": audience,
                  "iat": now, "nbf": now, "exp": now + self.assertion_lifetime,
                  "jti": uuid.uuid4().hex}
        headers = {"typ": "client-authentication+jwt"}
        if self._kid:
            headers["kid"] = str(self._kid)
        return jwt.encode(claims, self._jwk.key, algorithm=self._alg, headers=headers)

    async def access_token(self) -> str:
        """A valid access token, fetched anew only when the last one is about
        to expire."""
        async with self._lock:
            if self._token is not None and self._token[1] - self.refresh_margin > self.clock():
                return self._token[0]
            meta = await self.discovery()
            token_endpoint = str(meta["token_endpoint"])
            response = await self.http.post(token_endpoint, data={
                "grant_type": "client_credentials",
                "client_id": self.client_id,
                "client_assertion_type": CLIENT_ASSERTION_TYPE,
                "client_assertion": self.client_assertion(str(meta["issuer"])),
                "scope": self.scope,
            })
            if response.status_code != 200:
                error = _error_code(response)
                raise PersonApiError(f"HelseID token request refused: HTTP "
                                     f"{response.status_code} {error}")
            body = response.json()
            if str(body.get("token_type", "")).lower() != "bearer" or not body.get(
                    "access_token"):
                raise PersonApiError("HelseID returned no bearer token")
            expires_at = self.clock() + float(body.get("expires_in", 0))
            self._token = (str(body["access_token"]), expires_at)
            return self._token[0]

    def forget_token(self) -> None:
        self._token = None


def _error_code(response: httpx.Response) -> str:
    try:
        return str(response.json().get("error", ""))[:64]
    except ValueError:
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

    def facts(self, patient_id: int | None) -> PersonFacts | None:
        if self.birth_date is None:
            return None
        return PersonFacts(patient_id, self.birth_date, self.address_key,
                           self.confidential_address)


def map_person(payload: Mapping[str, Any], *,
               address_key_of: Callable[[Mapping[str, Any]], str | None]) -> RegisterPerson:
    """Read one Person API person record. The only place that knows the
    response's field names. ``address_key_of`` turns a residential address
    into an opaque key; it is never called for a protected address."""
    nin = str(payload.get("nin") or "")
    raw_protection = payload.get("addressProtection") or ""
    if isinstance(raw_protection, Mapping):
        raw_protection = raw_protection.get("code") or ""
    protection = _PROTECTION.get(str(raw_protection).replace("_", "").lower(),
                                 ConfidentialAddress.STRICTLY_CONFIDENTIAL)
    address = payload.get("residentialAddress")
    address_key = None
    if protection is ConfidentialAddress.NONE and isinstance(address, Mapping):
        address_key = address_key_of(address)
    birth = payload.get("dateOfBirth")
    children = []
    for relation in payload.get("familyRelation") or ():
        related = relation.get("relatedPerson")
        role = str(relation.get("relatedPersonsRole") or "").lower()
        if role in CHILD_ROLES and related and not relation.get(
                "relatedPersonWithoutIdentifier"):
            children.append(str(related))
    responsible, responsible_for = [], []
    for entry in payload.get("parentalResponsibility") or ():
        holder, subject = entry.get("responsiblePerson"), entry.get("responsibilitySubject")
        if not holder or not subject:
            continue  # e.g. ``responsiblePersonWithoutIdentifier``: nobody we can match
        if str(subject) == nin:
            responsible.append(str(holder))
        elif str(holder) == nin:
            responsible_for.append(str(subject))
    return RegisterPerson(
        nin=nin,
        birth_date=date.fromisoformat(birth) if birth else None,
        confidential_address=protection,
        address_key=address_key,
        children=tuple(dict.fromkeys(children)),
        responsible_guardians=tuple(dict.fromkeys(responsible)),
        responsible_for=tuple(dict.fromkeys(responsible_for)),
    )


class PersonApiClient:
    """Fetches person records; identity numbers only in the request body."""

    def __init__(self, *, base_url: str, tokens: HelseIdClient, http: httpx.AsyncClient,
                 vault: IdentityVault, person_path: str = DEFAULT_PERSON_PATH) -> None:
        self.url = base_url.rstrip("/") + person_path
        self.tokens = tokens
        self.http = http
        self.vault = vault

    def address_key(self, address: Mapping[str, Any]) -> str | None:
        """A keyed hash of the address identity: the cadastre's address id
        and the dwelling unit when given, else the normalised street address.
        Keyed, so the stored key says nothing about where anyone lives."""
        unit = str(address.get("unitNumber") or "").strip().upper()
        ident = str(address.get("addressIdentifier") or "").strip()
        if ident:
            text = f"cadastre:{ident}:{unit}"
        else:
            parts = [str(address.get(k) or "").strip().lower() for k in
                     ("streetName", "houseNumber", "houseLetter", "postalCode")]
            if not parts[0] or not parts[3]:
                return None
            text = "street:" + ":".join(parts) + f":{unit}"
        return self.vault.lookup_hash("address:" + text).hex()

    async def person(self, nin: str) -> RegisterPerson | None:
        """The register's record for ``nin``, or None if the register has none."""
        for attempt in (1, 2):
            token = await self.tokens.access_token()
            response = await self.http.post(
                self.url, json={"nin": nin},
                headers={"Authorization": f"Bearer {token}", "Accept": "application/json"})
            if response.status_code == 401 and attempt == 1:
                self.tokens.forget_token()  # revoked or expired early: one fresh try
                continue
            break
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise PersonApiError(f"Person API answered HTTP {response.status_code} "
                                 f"{_error_code(response)}")
        return map_person(response.json(), address_key_of=self.address_key)

    async def persons(self, nins: Iterable[str]) -> dict[str, RegisterPerson]:
        unique = list(dict.fromkeys(nins))
        found = await asyncio.gather(*(self.person(n) for n in unique))
        return {n: p for n, p in zip(unique, found, strict=True) if p is not None}


class PersonApiRelations:
    """:class:`booking.relations.RelationsSource` backed by the Person API."""

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
            return []
        children = await self.client.persons(me.children)
        other_nins = {g for c in children.values() for g in c.responsible_guardians} - {my_nin}
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
            responsible = my_nin in child.responsible_guardians or nin in me.responsible_for
            relations.append(ChildRelation(me_facts, child_facts, tuple(other_facts),
                                           parental_responsibility=responsible))
        log.info("person_api.children", patient_id=guardian_patient_id,
                 in_register=len(children), local=len(relations))
        return relations

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
