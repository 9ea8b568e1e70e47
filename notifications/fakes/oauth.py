"""The token-endpoint half of the fakes: registered clients with public JWKs,
verification of signed JWTs (client assertions and JWT grants) the way HelseID
and Maskinporten check them, and opaque bearer tokens."""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import jwt

ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256"]


class Rejected(Exception):
    """The token request is refused; ``error`` is the OAuth error code."""

    def __init__(self, error: str, status: int = 400) -> None:
        super().__init__(error)
        self.error = error
        self.status = status


@dataclass
class Issued:
    client_id: str
    scopes: frozenset[str]
    expires_at: float


@dataclass
class TokenIssuer:
    """Registered clients and the tokens issued to them."""

    max_jwt_lifetime: int = 120
    token_lifetime: int = 300
    clock: Callable[[], float] = time.time
    clients: dict[str, dict[str, Any]] = field(default_factory=dict)
    client_scopes: dict[str, frozenset[str]] = field(default_factory=dict)
    tokens: dict[str, Issued] = field(default_factory=dict)
    seen_jtis: set[str] = field(default_factory=set)
    token_requests: int = 0
    rejected: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add_client(self, client_id: str, public_jwk: Mapping[str, Any],
                   scopes: tuple[str, ...]) -> None:
        self.clients[client_id] = dict(public_jwk)
        self.client_scopes[client_id] = frozenset(scopes)

    def verify(self, token: str, *, audiences: list[str], client_id: str | None = None,
               require_sub: bool = True) -> dict[str, Any]:
        """The claims of a signed JWT from a registered client, or
        :class:`Rejected`: known ``iss`` (and ``sub`` equal to it), matching
        ``kid``, signature, ``aud`` one of ``audiences``, ``exp`` in the future
        and at most ``max_jwt_lifetime`` after ``iat``, ``jti`` never seen."""
        try:
            unverified = jwt.decode(token, options={"verify_signature": False})
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError as exc:
            raise Rejected("invalid_client", 401) from exc
        issuer = str(unverified.get("iss") or "")
        public = self.clients.get(issuer)
        if public is None or (client_id is not None and client_id != issuer):
            raise Rejected("invalid_client", 401)
        if public.get("kid") and header.get("kid") != public["kid"]:
            raise Rejected("invalid_client", 401)
        required = ["iss", "aud", "exp", "iat", "jti"] + (["sub"] if require_sub else [])
        try:
            claims = jwt.decode(token, jwt.PyJWK(public).key, algorithms=ALGORITHMS,
                                audience=audiences, options={"require": required},
                                leeway=5)
        except jwt.InvalidTokenError as exc:
            raise Rejected("invalid_client" if require_sub else "invalid_grant", 401) from exc
        if require_sub and claims.get("sub") != issuer:
            raise Rejected("invalid_client", 401)
        if int(claims["exp"]) - int(claims["iat"]) > self.max_jwt_lifetime:
            raise Rejected("invalid_grant")
        with self._lock:
            if claims["jti"] in self.seen_jtis:
                raise Rejected("invalid_grant")  # a replayed JWT
            self.seen_jtis.add(claims["jti"])
        return claims

    def issue(self, client_id: str, requested: frozenset[str]) -> dict[str, Any]:
        allowed = self.client_scopes.get(client_id, frozenset())
        if not requested or not requested <= allowed:
            raise Rejected("invalid_scope")
        value = secrets.token_urlsafe(32)
        with self._lock:
            self.tokens[value] = Issued(client_id, requested,
                                        self.clock() + self.token_lifetime)
        return {"access_token": value, "token_type": "Bearer",
                "expires_in": self.token_lifetime, "scope": " ".join(sorted(requested))}

    def bearer(self, authorization: str | None, scope: str) -> Issued | None:
        """The live token in an ``Authorization: Bearer`` header that carries
        ``scope``, or None."""
        scheme, _, value = (authorization or "").partition(" ")
        issued = self.tokens.get(value) if scheme.lower() == "bearer" else None
        if issued is None or issued.expires_at <= self.clock() or scope not in issued.scopes:
            return None
        return issued

    def expire_all(self) -> None:
        """Make every issued token invalid (to test refresh after 401)."""
        with self._lock:
            self.tokens.clear()
