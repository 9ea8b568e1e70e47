"""A local stand-in for HelseID (token endpoint) and NHN's Person API, for
tests and development. Never for production.

It behaves like the real services where our adapter depends on it:

* ``GET /.well-known/openid-configuration``: issuer and token endpoint
  (derived from the address it is served on).
* ``POST /connect/token``: the client-credentials grant with
  ``private_key_jwt`` only. The client assertion is verified with the
  registered public key (signature, allowed algorithms, ``iss`` = ``sub`` =
  client id, ``aud`` = issuer or token endpoint, ``exp``, ``iat``, ``jti`` not
  seen before, ``client_id`` form field matching); the requested scopes must
  be registered for the client. Returns an opaque bearer token.
* ``POST /api/v1/person``: ``{"nin": ...}`` in the body (an identity number
  in the query string is refused), bearer token with the Person API scope;
  answers the record in the shape ``idporten.person_api.map_person`` reads,
  404 for an unknown person. Like the register, it leaves out the residential
  address of persons with a strictly confidential address (a confidential
  one is delivered, for consumers with a legal basis).

:class:`FakeRegister` holds synthetic persons and families;
:func:`serving` runs any ASGI app with uvicorn on a free loopback port in a
background thread.
"""

from __future__ import annotations

import secrets
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import jwt
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.types import ASGIApp

CLIENT_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
PERSON_API_SCOPE = "nhn:hgd-persontjenesten-api/read-with-legal-basis"
ASSERTION_ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256"]


@dataclass
class FakePerson:
    nin: str = field(repr=False)
    birth_date: date
    #: "None", "Confidential", "StrictlyConfidential".
    address_protection: str = "None"
    address: dict[str, str] | None = None
    family: list[dict[str, Any]] = field(default_factory=list)
    parental_responsibility: list[dict[str, Any]] = field(default_factory=list)

    def record(self) -> dict[str, Any]:
        hide_address = self.address_protection == "StrictlyConfidential"
        return {
            "nin": self.nin,
            "dateOfBirth": self.birth_date.isoformat(),
            "addressProtection": self.address_protection,
            "residentialAddress": None if hide_address else self.address,
            "familyRelation": list(self.family),
            "parentalResponsibility": list(self.parental_responsibility),
        }


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

    def add_person(self, nin: str, birth_date: date, *, address_id: str | None = None,
                   unit: str = "H0101", protection: str = "None") -> FakePerson:
        address = None
        if address_id is not None:
            address = {"addressIdentifier": address_id, "unitNumber": unit,
                       "streetName": "Testveien", "houseNumber": address_id[-2:],
                       "postalCode": "0150"}
        person = FakePerson(nin, birth_date, protection, address)
        self.persons[nin] = person
        return person

    def add_parent(self, parent_nin: str, child_nin: str, *, role: str = "Mother",
                   parental_responsibility: bool = True, responsibility: str = "Joint") -> None:
        """A parent–child relation on both records; with parental
        responsibility (foreldreansvar) on the child's and the parent's."""
        parent, child = self.persons[parent_nin], self.persons[child_nin]
        parent.family.append({"relatedPerson": child_nin, "relatedPersonsRole": "Child",
                              "myRoleForRelatedPerson": role,
                              "relatedPersonWithoutIdentifier": None})
        child.family.append({"relatedPerson": parent_nin, "relatedPersonsRole": role,
                             "myRoleForRelatedPerson": "Child",
                             "relatedPersonWithoutIdentifier": None})
        if parental_responsibility:
            entry = {"responsibility": responsibility, "responsiblePerson": parent_nin,
                     "responsibilitySubject": child_nin}
            child.parental_responsibility.append(dict(entry))
            parent.parental_responsibility.append(dict(entry))


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
                audience=[issuer, f"{issuer}/connect/token"],
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
        if request.url.query:
            return JSONResponse({"error": "identity numbers belong in the body"},
                                status_code=400)
        try:
            body = await request.json()
        except ValueError:
            body = None
        nin = str(body.get("nin") or "") if isinstance(body, dict) else ""
        if not nin:
            return JSONResponse({"error": "nin is required"}, status_code=400)
        found = register.persons.get(nin)
        if found is None:
            return JSONResponse({"error": "not_found"}, status_code=404)
        return JSONResponse(found.record())

    return Starlette(routes=[
        Route("/.well-known/openid-configuration", discovery, methods=["GET"]),
        Route("/connect/token", token, methods=["POST"]),
        Route("/api/v1/person", person, methods=["POST"]),
    ])


@contextmanager
def serving(app: ASGIApp, host: str = "127.0.0.1") -> Iterator[str]:
    """Serve ``app`` with uvicorn on a free port of ``host`` in a background
    thread; yields the base URL and stops the server afterwards."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_config=None, log_level="warning", access_log=False,
                            lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the fake server did not start")
        time.sleep(0.01)
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
