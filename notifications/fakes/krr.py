"""A local stand-in for Maskinporten's token endpoint and KRR's
``/rest/v2/personer``, for tests and ``make run``. Never for production.

* ``POST /token``: the JWT bearer grant (``grant_type`` =
  ``urn:ietf:params:oauth:grant-type:jwt-bearer``, ``assertion`` = a JWT signed
  by a registered client: ``iss`` = client id, ``aud`` = this issuer
  (``{base}/``), ``scope`` claim, lifetime at most 120 s, ``jti`` not
  replayed). Answers an opaque bearer token for the requested scopes.
* ``POST /rest/v2/personer``: bearer token with
  ``krr:global/kontaktinformasjon.read``; body ``{"personidentifikatorer":
  [...]}`` with 1 to 1000 numbers (identity numbers in the query string are
  refused). Answers ``{"personer": [...]}`` in KRR's shape (snake_case
  attributes, as docs.digdir.no "Attributter i KRR"); persons it does not know
  are left out unless ``inkluderIkkeRegistrerte`` is true.

Persons are configured with :meth:`FakeKrr.add` or the presets :meth:`active`,
:meth:`reserved`, :meth:`stale`, :meth:`without_mobile` and :meth:`deleted`.
``GET /_fake/stats`` counts persons by case and the lookups made (no numbers).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from core.oauth import JWT_BEARER_GRANT
from notifications.channels.krr import SCOPE, STALE_AFTER_MONTHS, months_before
from notifications.fakes.oauth import Rejected, TokenIssuer


def made_up_person(nin: str, *, verified: date | None = None) -> FakeKrrPerson:
    """An active person with a mobile number derived from the identity number
    (``+479`` and seven digits), for ``make run``'s demo patients."""
    digits = int(hashlib.sha256(nin.encode()).hexdigest(), 16) % 10_000_000
    day = verified or datetime.now(UTC).date()
    return FakeKrrPerson(mobile=f"+479{digits:07d}", mobile_updated=day, mobile_verified=day)


def _stamp(day: date | None) -> str | None:
    return datetime.combine(day, time(12, 0), UTC).isoformat() if day else None


@dataclass
class FakeKrrPerson:
    status: str = "AKTIV"
    reservation: str = "NEI"
    notification_status: str | None = "KAN_VARSLES"
    mobile: str | None = field(default=None, repr=False)
    mobile_updated: date | None = None
    mobile_verified: date | None = None
    language: str | None = "nb"

    def record(self, nin: str) -> dict[str, Any]:
        entry: dict[str, Any] = {"personidentifikator": nin, "status": self.status}
        if self.status != "AKTIV":
            return entry  # the register has no contact details for these
        entry["reservasjon"] = self.reservation
        if self.notification_status:
            entry["varslingsstatus"] = self.notification_status
        if self.language:
            entry["spraak"] = self.language
        contact: dict[str, Any] = {}
        if self.mobile:
            contact["mobiltelefonnummer"] = self.mobile
            contact["mobiltelefonnummer_oppdatert"] = _stamp(self.mobile_updated)
            contact["mobiltelefonnummer_sist_verifisert"] = _stamp(self.mobile_verified)
        if contact:
            entry["kontaktinformasjon"] = contact
        return entry


@dataclass
class FakeKrr:
    issuer: TokenIssuer = field(default_factory=TokenIssuer)
    persons: dict[str, FakeKrrPerson] = field(default_factory=dict, repr=False)
    lookups: int = 0
    #: Sizes of the batches asked for, in order.
    batch_sizes: list[int] = field(default_factory=list)
    #: Paths and query strings seen, to check nothing personal went into URLs.
    request_lines: list[str] = field(default_factory=list)
    #: Who an unconfigured number is (None: not registered). See :func:`made_up_person`.
    answer_unknown: Callable[[str], FakeKrrPerson | None] | None = None

    def __post_init__(self) -> None:
        self.app = Starlette(routes=[
            Route("/token", self._token, methods=["POST"]),
            Route("/rest/v2/personer", self._personer, methods=["POST"]),
            Route("/_fake/stats", self._stats, methods=["GET"]),
        ])

    def add_client(self, client_id: str, public_jwk: dict[str, Any],
                   scopes: tuple[str, ...] = (SCOPE,)) -> None:
        self.issuer.add_client(client_id, public_jwk, scopes)

    # -- persons -----------------------------------------------------------

    def add(self, nin: str, person: FakeKrrPerson) -> FakeKrrPerson:
        self.persons[nin] = person
        return person

    def active(self, nin: str, mobile: str, *, verified: date, language: str = "nb"
               ) -> FakeKrrPerson:
        return self.add(nin, FakeKrrPerson(mobile=mobile, mobile_updated=verified,
                                           mobile_verified=verified, language=language))

    def reserved(self, nin: str, mobile: str, *, verified: date) -> FakeKrrPerson:
        return self.add(nin, FakeKrrPerson(reservation="JA", notification_status="KAN_VARSLES",
                                           mobile=mobile, mobile_updated=verified,
                                           mobile_verified=verified))

    def stale(self, nin: str, mobile: str, *, verified: date) -> FakeKrrPerson:
        """Contact details not updated or verified since ``verified`` (give a
        date more than 18 months back); the register says KAN_IKKE_VARSLES."""
        return self.add(nin, FakeKrrPerson(notification_status="KAN_IKKE_VARSLES",
                                           mobile=mobile, mobile_updated=verified,
                                           mobile_verified=verified))

    def without_mobile(self, nin: str) -> FakeKrrPerson:
        return self.add(nin, FakeKrrPerson(notification_status="KAN_IKKE_VARSLES"))

    def deleted(self, nin: str) -> FakeKrrPerson:
        return self.add(nin, FakeKrrPerson(status="SLETTET", notification_status=None))

    # -- HTTP --------------------------------------------------------------

    def _line(self, request: Request) -> None:
        query = f"?{request.url.query}" if request.url.query else ""
        self.request_lines.append(request.url.path + query)

    def stats(self) -> dict[str, Any]:
        """Counts for a person looking at ``make run`` (never a number)."""
        stale_before = months_before(datetime.now(UTC).date(), STALE_AFTER_MONTHS)
        cases: dict[str, int] = {}
        for person in list(self.persons.values()):
            confirmed = max(filter(None, (person.mobile_updated, person.mobile_verified)),
                            default=None)
            case = ("not-active" if person.status != "AKTIV" else
                    "reserved" if person.reservation == "JA" else
                    "no-mobile" if not person.mobile else
                    "stale" if confirmed is None or confirmed < stale_before else
                    "cannot-be-notified" if person.notification_status == "KAN_IKKE_VARSLES"
                    else "active")
            cases[case] = cases.get(case, 0) + 1
        return {"persons": cases, "answers_unknown": self.answer_unknown is not None,
                "lookups": self.lookups, "batch_sizes": list(self.batch_sizes),
                "token_requests": self.issuer.token_requests}

    async def _stats(self, request: Request) -> Response:
        return JSONResponse(self.stats())

    async def _token(self, request: Request) -> Response:
        self._line(request)
        self.issuer.token_requests += 1
        form = await request.form()
        issuer_url = str(request.base_url).rstrip("/") + "/"
        try:
            if form.get("grant_type") != JWT_BEARER_GRANT:
                raise Rejected("unsupported_grant_type")
            claims = self.issuer.verify(str(form.get("assertion") or ""),
                                        audiences=[issuer_url], require_sub=False)
            scopes = frozenset(str(claims.get("scope") or "").split())
            body = self.issuer.issue(str(claims["iss"]), scopes)
        except Rejected as exc:
            self.issuer.rejected.append(exc.error)
            return JSONResponse({"error": exc.error}, status_code=exc.status)
        return JSONResponse(body, headers={"Cache-Control": "no-store"})

    async def _personer(self, request: Request) -> Response:
        self._line(request)
        if self.issuer.bearer(request.headers.get("authorization"), SCOPE) is None:
            return JSONResponse({"error": "invalid_token"}, status_code=401)
        if request.url.query:
            return JSONResponse({"error": "identity numbers belong in the body"},
                                status_code=400)
        try:
            body = await request.json()
            nins = [str(n) for n in body["personidentifikatorer"]]
        except (ValueError, KeyError, TypeError):
            return JSONResponse({"error": "personidentifikatorer is required"},
                                status_code=400)
        if not 1 <= len(nins) <= 1000:
            return JSONResponse({"error": "1 to 1000 personidentifikatorer"},
                                status_code=400)
        self.lookups += 1
        self.batch_sizes.append(len(nins))
        include_unknown = bool(body.get("inkluderIkkeRegistrerte"))
        answers = []
        for nin in nins:
            person = self.persons.get(nin)
            if person is None and self.answer_unknown is not None:
                person = self.answer_unknown(nin)
            if person is not None:
                answers.append(person.record(nin))
            elif include_unknown:
                answers.append({"personidentifikator": nin, "status": "IKKE_REGISTRERT"})
        return JSONResponse({"personer": answers})
