"""Signed JWTs for machine-to-machine tokens, and a cached token source.

Two national services take a JWT signed with our private key instead of a
client secret:

* **HelseID** (client credentials with ``private_key_jwt``, OpenID Connect
  Core §9 and RFC 7523 §2.2): a *client assertion* with ``iss`` = ``sub`` =
  client id, ``aud`` = HelseID's issuer exactly as its discovery document
  gives it (``https://helseid-sts.nhn.no``; not the token endpoint, which
  only older examples used), ``exp`` 30 s ahead (HelseID refuses more than
  60 s, and clocks drift), and a unique ``jti``.
* **Maskinporten** (JWT bearer grant, RFC 7523 §2.1): a *grant* with ``iss`` =
  client id, ``aud`` = Maskinporten's issuer (``https://maskinporten.no/``),
  ``scope``, ``exp`` at most 120 s ahead, a unique ``jti``, and the key's
  ``kid`` in the header.

The private key comes as a JWK (JSON text, as in the ``*_CLIENT_JWK``
settings). :class:`TokenSource` fetches an access token and keeps it until
shortly before it expires; one request at a time refreshes it.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

CLIENT_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
JWT_BEARER_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
_DEFAULT_ALG = {"RSA": "RS256", "EC": "ES256"}


class TokenError(RuntimeError):
    """No access token could be obtained. ``retryable`` is False when the
    token endpoint refused our credentials or request (a configuration
    problem), True for network trouble and 5xx."""

    def __init__(self, message: str, *, retryable: bool, status: int | None = None) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.status = status


@dataclass(frozen=True)
class SigningKey:
    """A private key from a JWK, with the ``kid`` and algorithm to sign with."""

    key: Any = field(repr=False)
    kid: str | None
    alg: str

    @classmethod
    def from_jwk(cls, jwk: str | Mapping[str, Any]) -> SigningKey:
        data = dict(json.loads(jwk) if isinstance(jwk, str) else jwk)
        if "d" not in data:
            raise ValueError("the JWK has no private part ('d')")
        alg = data.get("alg") or _DEFAULT_ALG.get(str(data.get("kty")))
        if alg is None:
            raise ValueError(f"unsupported key type {data.get('kty')!r}")
        return cls(jwt.PyJWK(data, algorithm=alg).key, data.get("kid"), alg)

    def sign(self, claims: Mapping[str, Any]) -> str:
        headers: dict[str, Any] = {"typ": "JWT"}
        if self.kid:
            headers["kid"] = self.kid
        return jwt.encode(dict(claims), self.key, algorithm=self.alg, headers=headers)


def client_assertion(key: SigningKey, *, client_id: str, audience: str,
                     lifetime: int = 30, now: float | None = None) -> str:
    """A ``private_key_jwt`` client assertion (RFC 7523 §2.2, HelseID's profile)."""
    issued = int(now if now is not None else time.time())
    return key.sign({
        "iss": client_id, "sub": client_id, "aud": audience,
        "iat": issued, "nbf": issued, "exp": issued + lifetime,
        "jti": uuid.uuid4().hex,
    })


def jwt_grant(key: SigningKey, *, client_id: str, audience: str, scope: str,
              lifetime: int = 100, now: float | None = None,
              extra: Mapping[str, Any] | None = None) -> str:
    """A JWT bearer grant (RFC 7523 §2.1, Maskinporten's profile)."""
    issued = int(now if now is not None else time.time())
    claims: dict[str, Any] = {
        "iss": client_id, "aud": audience, "scope": scope,
        "iat": issued, "exp": issued + lifetime, "jti": uuid.uuid4().hex,
    }
    claims.update(extra or {})
    return key.sign(claims)


def generate_rsa_jwk(kid: str) -> tuple[str, dict[str, Any]]:
    """A fresh RSA key pair as (private JWK JSON text, public JWK dict), for
    tests and the local fakes."""
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private_jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(private))
    public_jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(private.public_key()))
    for item in (private_jwk, public_jwk):
        item.update({"kid": kid, "alg": "RS256", "use": "sig"})
    return json.dumps(private_jwk), public_jwk


class TokenSource:
    """An access token from ``token_url``, posted with the form that
    ``make_form`` builds (a fresh signed JWT each time), cached until
    ``refresh_margin`` seconds before it expires."""

    def __init__(self, *, token_url: str, make_form: Callable[[], dict[str, str]],
                 http: httpx.AsyncClient, refresh_margin: float = 30.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._token_url = token_url
        self._make_form = make_form
        self._http = http
        self._margin = refresh_margin
        self._clock = clock
        self._token: str | None = None
        self._expires_at = 0.0
        self._lock = asyncio.Lock()

    async def token(self) -> str:
        if self._token and self._clock() < self._expires_at:
            return self._token
        async with self._lock:
            if self._token and self._clock() < self._expires_at:
                return self._token
            self._token, lifetime = await self._fetch()
            self._expires_at = self._clock() + max(lifetime - self._margin, 0.0)
            return self._token

    def forget(self) -> None:
        """Drop the cached token (after the API answered 401)."""
        self._token = None
        self._expires_at = 0.0

    async def _fetch(self) -> tuple[str, float]:
        try:
            response = await self._http.post(self._token_url, data=self._make_form(),
                                             headers={"Accept": "application/json"})
        except httpx.HTTPError as exc:
            raise TokenError(f"token endpoint unreachable: {type(exc).__name__}",
                             retryable=True) from exc
        if response.status_code != 200:
            error = _oauth_error(response)
            retryable = response.status_code >= 500 or response.status_code == 429
            raise TokenError(f"token endpoint answered {response.status_code} {error}",
                             retryable=retryable, status=response.status_code)
        try:
            payload = response.json()
            token = str(payload["access_token"])
            lifetime = float(payload.get("expires_in", 60))
        except (ValueError, KeyError, TypeError) as exc:
            raise TokenError("token endpoint answered without a token",
                             retryable=True) from exc
        return token, lifetime


def _oauth_error(response: httpx.Response) -> str:
    try:
        return str(response.json().get("error", ""))
    except (ValueError, AttributeError):
        return ""
