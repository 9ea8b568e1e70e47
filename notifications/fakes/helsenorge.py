"""A local stand-in for HelseID's token endpoint and Helsenorge's REST
Timenotifikasjon API, for tests and ``make run``. Never for production.

* ``POST /connect/token``: client credentials with ``private_key_jwt`` only;
  the client assertion is verified with the registered public key
  (signature, ``kid``, ``iss`` = ``sub`` = ``client_id``, ``aud`` = issuer or
  token endpoint, lifetime, ``jti`` not replayed); the scope must be
  registered for the client. Answers an opaque bearer token.
* ``PUT /timeavtaler/api/v1/Appointment``: bearer token with the registered
  scope, ``Content-Type: application/fhir+json``; the body must parse as a FHIR
  R4 Appointment and meet the hn-basis constraints (else 400 with an
  OperationOutcome). Like Helsenorge it keeps the latest version per
  identifier (system + value) and tells new, changed and identical versions
  apart: only new and changed ones would notify the citizen
  (:attr:`FakeHelsenorge.notified`). Answers 201 for new, 200 otherwise.

Controls: ``fail(rate, statuses)`` answers a fraction of PUTs with 500/503.
``GET /_fake/appointments`` shows what it holds (each appointment's
identifier, status, start and end, and every PUT), never the patient.
"""

from __future__ import annotations

import json
import random
import threading
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from core.oauth import CLIENT_ASSERTION_TYPE
from notifications.channels.helsenorge import DEFAULT_SCOPE, hn_basis_problems
from notifications.fakes.oauth import Rejected, TokenIssuer

API_PATH = "/timeavtaler/api/v1"
SCOPE = DEFAULT_SCOPE


def _outcome(code: str, diagnostics: str, status: int) -> JSONResponse:
    return JSONResponse({"resourceType": "OperationOutcome", "issue": [
        {"severity": "error", "code": code, "diagnostics": diagnostics}]},
        status_code=status, media_type="application/fhir+json")


@dataclass
class FakeHelsenorge:
    scope: str = SCOPE
    seed: int | None = None
    issuer: TokenIssuer = field(default_factory=lambda: TokenIssuer(max_jwt_lifetime=60))
    #: Latest version per (identifier system, value).
    appointments: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    #: (identifier value, "new" | "changed" | "identical") per accepted PUT.
    puts: list[tuple[str, str]] = field(default_factory=list)
    #: (identifier value, tag codes) per accepted PUT that carried ``meta.tag``
    #: (``paminnelse``: Helsenorge is asked to remind the patient itself).
    tags: list[tuple[str, tuple[str, ...]]] = field(default_factory=list)
    error_rate: float = 0.0
    error_statuses: tuple[int, ...] = (500, 503)
    injected_errors: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self.app = Starlette(routes=[
            Route("/connect/token", self._token, methods=["POST"]),
            Route(f"{API_PATH}/Appointment", self._put, methods=["PUT"]),
            Route("/_fake/appointments", self._dump, methods=["GET"]),
        ])

    def add_client(self, client_id: str, public_jwk: dict[str, Any]) -> None:
        self.issuer.add_client(client_id, public_jwk, (self.scope,))

    def fail(self, rate: float, statuses: tuple[int, ...] = (500, 503)) -> None:
        self.error_rate, self.error_statuses = rate, statuses

    @property
    def notified(self) -> list[tuple[str, str]]:
        """PUTs that would have notified the citizen (new or changed)."""
        return [p for p in self.puts if p[1] != "identical"]

    @property
    def reminders(self) -> list[str]:
        """Identifiers PUT with the ``paminnelse`` tag (a reminder asked for)."""
        return [value for value, codes in self.tags if "paminnelse" in codes]

    def latest(self, value: str) -> dict[str, Any] | None:
        for (_, v), resource in self.appointments.items():
            if v == value:
                return resource
        return None

    def summary(self) -> dict[str, Any]:
        """What the fake holds, for a person looking at ``make run``: no
        identity numbers (the patient is left out)."""
        with self._lock:
            latest = [{"id": value, "status": resource.get("status"),
                       "start": resource.get("start"), "end": resource.get("end")}
                      for (_, value), resource in self.appointments.items()]
            puts = [{"id": value, "kind": kind} for value, kind in self.puts]
            tags = [{"id": value, "tags": list(codes)} for value, codes in self.tags]
        return {"appointments": latest, "puts": puts, "tags": tags,
                "injected_errors": self.injected_errors}

    async def _dump(self, request: Request) -> Response:
        return JSONResponse(self.summary())

    async def _token(self, request: Request) -> Response:
        form = await request.form()
        self.issuer.token_requests += 1
        issuer_url = str(request.base_url).rstrip("/")
        try:
            if form.get("grant_type") != "client_credentials":
                raise Rejected("unsupported_grant_type")
            if form.get("client_assertion_type") != CLIENT_ASSERTION_TYPE:
                raise Rejected("invalid_client", 401)
            client_id = str(form.get("client_id") or "")
            self.issuer.verify(str(form.get("client_assertion") or ""),
                               audiences=[issuer_url],
                               client_id=client_id or None)
            scopes = frozenset(str(form.get("scope") or "").split())
            body = self.issuer.issue(client_id, scopes)
        except Rejected as exc:
            self.issuer.rejected.append(exc.error)
            return JSONResponse({"error": exc.error}, status_code=exc.status)
        return JSONResponse(body, headers={"Cache-Control": "no-store"})

    async def _put(self, request: Request) -> Response:
        if self.issuer.bearer(request.headers.get("authorization"), self.scope) is None:
            return JSONResponse({"error": "invalid_token"}, status_code=401,
                                headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
        if not request.headers.get("content-type", "").startswith("application/fhir+json"):
            return _outcome("not-supported", "Content-Type must be application/fhir+json", 415)
        with self._lock:
            injected = (self.rng.choice(self.error_statuses)
                        if self.error_rate and self.rng.random() < self.error_rate else None)
            if injected is not None:
                self.injected_errors += 1
        if injected is not None:
            return _outcome("transient", "injected failure", injected)
        try:
            resource = json.loads(await request.body())
        except ValueError:
            return _outcome("structure", "body is not JSON", 400)
        if not isinstance(resource, dict) or resource.get("resourceType") != "Appointment":
            return _outcome("structure", "not an Appointment", 400)
        problems = hn_basis_problems(resource)
        if problems:
            return _outcome("invariant", "; ".join(problems), 400)
        identifier = resource["identifier"][0]
        key = (str(identifier["system"]), str(identifier["value"]))
        with self._lock:
            previous = self.appointments.get(key)
            kind = "new" if previous is None else (
                "identical" if previous == resource else "changed")
            self.appointments[key] = resource
            self.puts.append((key[1], kind))
            codes = tuple(str(t.get("code")) for t in (resource.get("meta") or {}).get("tag")
                          or [] if isinstance(t, dict))
            if codes:
                self.tags.append((key[1], codes))
        return Response(status_code=201 if kind == "new" else 200)
