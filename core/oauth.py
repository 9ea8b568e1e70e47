"""The OAuth 2.0 client: our private key, the JWTs signed with it, and
access tokens for machine-to-machine calls.

* :class:`SigningKey`: a private key from a JWK (RSA or EC, as JSON text or a
  mapping, as in the ``*_CLIENT_JWK`` settings), with its ``kid`` and the
  algorithm to sign with.
* :func:`client_assertion`: ``private_key_jwt`` client authentication
  (RFC 7523 §2.2 and §3, OpenID Connect Core §9): ``iss`` = ``sub`` = the
  client id, ``aud`` = the provider's issuer, ``iat``, optionally ``nbf``,
  a short ``exp`` and a unique ``jti``; the key's ``kid`` in the header.
* :func:`jwt_grant`: the JWT bearer authorization grant (RFC 7523 §2.1,
  Maskinporten's profile): ``iss`` = the client id, ``aud`` = the issuer,
  ``scope``, ``iat``, ``exp``, ``jti``.
* :func:`client_credentials` and :func:`jwt_bearer`: the token request
  forms built from those (RFC 6749 §4.4 with a client assertion; RFC 7523
  §2.1), a fresh JWT for every request.
* :class:`TokenSource`: an access token from a token endpoint, given or
  found by discovery (OpenID Connect Discovery 1.0 §4), kept until shortly
  before it expires; one request at a time refreshes it.
* :class:`Expiring`: the cache behind a lock under both (and under the
  identity provider's metadata in ``idporten.metadata``).

The providers' profiles (lifetimes, ``nbf``, the ``typ`` header) are chosen
by the callers and documented there.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Generic, TypeVar

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

CLIENT_ASSERTION_TYPE: Final = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
JWT_BEARER_GRANT: Final = "urn:ietf:params:oauth:grant-type:jwt-bearer"
WELL_KNOWN: Final = "/.well-known/openid-configuration"
#: The algorithm for a JWK that names none: by key type, and for EC by curve.
_DEFAULT_ALG: Final = {"RSA": "RS256", "EC": "ES256"}
_EC_ALG: Final = {"P-256": "ES256", "P-384": "ES384", "P-521": "ES512"}

T = TypeVar("T")


class TokenError(RuntimeError):
    """No access token could be obtained. ``retryable`` is False when the
    provider refused our credentials or request or names another issuer (a
    configuration problem), True for network trouble, 429 and 5xx."""

    def __init__(self, message: str, *, retryable: bool, status: int | None = None) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.status = status


# --- the key and what it signs ------------------------------------------------


@dataclass(frozen=True)
class SigningKey:
    """A private key from a JWK, with the ``kid`` and algorithm to sign with."""

    key: Any = field(repr=False)
    kid: str | None
    alg: str

    @classmethod
    def from_jwk(cls, jwk: str | Mapping[str, Any]) -> SigningKey:
        """ValueError (or a ``jwt.PyJWTError``) unless ``jwk`` is a private
        RSA or EC key; ``alg`` from the JWK, else by key type (RS256, or
        ES256/384/512 by curve)."""
        data = dict(json.loads(jwk) if isinstance(jwk, str) else jwk)
        if "d" not in data:
            raise ValueError("the JWK has no private part ('d')")
        kty = str(data.get("kty"))
        alg = data.get("alg") or (_EC_ALG.get(str(data.get("crv"))) if kty == "EC" else None) \
            or _DEFAULT_ALG.get(kty)
        if alg is None:
            raise ValueError(f"unsupported key type {data.get('kty')!r}")
        kid = data.get("kid")
        return cls(jwt.PyJWK(data, algorithm=alg).key, str(kid) if kid else None, str(alg))

    def sign(self, claims: Mapping[str, Any], *, typ: str = "JWT") -> str:
        """A JWS of ``claims`` with ``alg``, ``typ`` and (when the key has one)
        ``kid`` in the header."""
        headers: dict[str, Any] = {"typ": typ}
        if self.kid:
            headers["kid"] = self.kid
        return jwt.encode(dict(claims), self.key, algorithm=self.alg, headers=headers)


def _jti() -> str:
    return uuid.uuid4().hex


def client_assertion(key: SigningKey, *, client_id: str, audience: str, lifetime: int = 30,
                     not_before: bool = True, typ: str = "JWT",
                     now: float | None = None) -> str:
    """A ``private_key_jwt`` client assertion (RFC 7523 §2.2 and §3): ``iss``
    = ``sub`` = ``client_id``, ``aud`` = ``audience`` (the provider's issuer),
    ``iat``, ``nbf`` (unless ``not_before`` is False), ``exp`` ``lifetime``
    seconds on, and a fresh ``jti``. ``now``: Unix seconds (default: the
    time now)."""
    issued = int(now if now is not None else time.time())
    claims: dict[str, Any] = {"iss": client_id, "sub": client_id, "aud": audience,
                              "iat": issued}
    if not_before:
        claims["nbf"] = issued
    claims.update(exp=issued + lifetime, jti=_jti())
    return key.sign(claims, typ=typ)


def jwt_grant(key: SigningKey, *, client_id: str, audience: str, scope: str,
              lifetime: int = 100, now: float | None = None,
              extra: Mapping[str, Any] | None = None) -> str:
    """A JWT bearer grant (RFC 7523 §2.1, Maskinporten's profile): ``iss`` =
    ``client_id``, ``aud``, ``scope``, ``iat``, ``exp`` ``lifetime`` seconds
    on (Maskinporten takes at most 120) and a fresh ``jti``."""
    issued = int(now if now is not None else time.time())
    claims: dict[str, Any] = {
        "iss": client_id, "aud": audience, "scope": scope,
        "iat": issued, "exp": issued + lifetime, "jti": _jti(),
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


# --- token requests ---------------------------------------------------------


@dataclass(frozen=True)
class Provider:
    """Where access tokens come from: the issuer (the audience of our JWTs)
    and its token endpoint."""

    issuer: str
    token_endpoint: str


#: Builds the form of one token request (with a fresh JWT) for a provider.
Grant = Callable[[Provider], dict[str, str]]


def client_credentials(key: SigningKey, *, client_id: str, scope: str, lifetime: int = 30,
                       not_before: bool = True, typ: str = "JWT",
                       clock: Callable[[], float] = time.time) -> Grant:
    """The client-credentials grant (RFC 6749 §4.4) with a client assertion
    for the provider's issuer (:func:`client_assertion`; ``clock`` gives its
    Unix time)."""

    def form(provider: Provider) -> dict[str, str]:
        return {"grant_type": "client_credentials", "client_id": client_id,
                "client_assertion_type": CLIENT_ASSERTION_TYPE,
                "client_assertion": client_assertion(
                    key, client_id=client_id, audience=provider.issuer, lifetime=lifetime,
                    not_before=not_before, typ=typ, now=clock()),
                "scope": scope}

    return form


def jwt_bearer(key: SigningKey, *, client_id: str, scope: str, lifetime: int = 100,
               clock: Callable[[], float] = time.time) -> Grant:
    """The JWT bearer grant (RFC 7523 §2.1) for the provider's issuer
    (:func:`jwt_grant`)."""

    def form(provider: Provider) -> dict[str, str]:
        return {"grant_type": JWT_BEARER_GRANT,
                "assertion": jwt_grant(key, client_id=client_id, audience=provider.issuer,
                                       scope=scope, lifetime=lifetime, now=clock())}

    return form


class Expiring(Generic[T]):
    """A value that ``load`` fetches, with how many seconds it stays fresh,
    kept until then. One load at a time: callers that find it stale while
    another refreshes it wait for that refresh. ``clock``: monotonic seconds."""

    def __init__(self, load: Callable[[], Awaitable[tuple[T, float]]], *,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._load = load
        self._clock = clock
        self._value: T | None = None
        self._expires = 0.0
        self._lock = asyncio.Lock()

    @property
    def last(self) -> T | None:
        """The value last loaded, fresh or not (None before the first)."""
        return self._value

    def _fresh(self) -> bool:
        return self._value is not None and self._clock() < self._expires

    async def get(self) -> T:
        if self._fresh():
            assert self._value is not None
            return self._value
        async with self._lock:
            if not self._fresh():
                value, keep = await self._load()
                self._value, self._expires = value, self._clock() + keep
            assert self._value is not None
            return self._value

    def forget(self) -> None:
        """Drop the value: the next :meth:`get` loads it again."""
        self._value = None
        self._expires = 0.0


class TokenSource:
    """An access token for ``grant`` from ``issuer``'s token endpoint, kept
    until ``refresh_margin`` seconds before it expires.

    The endpoint is ``token_url``; with ``discover``, the issuer's discovery
    document is read once (OpenID Connect Discovery 1.0 §4) and must name
    ``issuer`` itself (§4.3; a trailing ``/`` aside); its spelling of the
    issuer is then the audience of our JWTs, and its ``token_endpoint`` is
    used unless ``token_url`` is given. ``clock``: monotonic seconds."""

    def __init__(self, grant: Grant, *, http: httpx.AsyncClient, issuer: str,
                 token_url: str | None = None, discover: bool = False,
                 refresh_margin: float = 30.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if token_url is None and not discover:
            raise ValueError("a token endpoint, or discovery to find it")
        self._grant = grant
        self._http = http
        self._issuer = issuer
        self._token_url = token_url
        self._discovers = discover
        self._margin = refresh_margin
        self._provider: Expiring[Provider] = Expiring(self._discover, clock=clock)
        self._token: Expiring[str] = Expiring(self._fetch, clock=clock)

    async def provider(self) -> Provider:
        """The issuer and token endpoint tokens come from."""
        return await self._provider.get()

    async def token(self) -> str:
        """A valid access token, fetched anew only when the last one is about
        to expire."""
        return await self._token.get()

    def forget(self) -> None:
        """Drop the cached token (after the API answered 401)."""
        self._token.forget()

    async def _discover(self) -> tuple[Provider, float]:
        if not self._discovers:
            assert self._token_url is not None
            return Provider(self._issuer, self._token_url), math.inf
        authority = self._issuer.rstrip("/")
        url = authority + WELL_KNOWN
        try:
            response = await self._http.get(url, headers={"Accept": "application/json"})
        except httpx.HTTPError as exc:
            raise TokenError(f"discovery unreachable: {type(exc).__name__}",
                             retryable=True) from exc
        if response.status_code != 200:
            raise TokenError(f"discovery failed: HTTP {response.status_code}",
                             retryable=_retryable(response.status_code),
                             status=response.status_code)
        try:
            meta = response.json()
        except ValueError as exc:
            raise TokenError("discovery answered no JSON", retryable=True) from exc
        if not isinstance(meta, dict) or str(meta.get("issuer", "")).rstrip("/") != authority \
                or not meta.get("token_endpoint"):
            raise TokenError("discovery names another issuer or no token endpoint",
                             retryable=False)
        return Provider(str(meta["issuer"]), self._token_url or str(meta["token_endpoint"])), \
            math.inf

    async def _fetch(self) -> tuple[str, float]:
        provider = await self.provider()
        try:
            response = await self._http.post(provider.token_endpoint,
                                             data=self._grant(provider),
                                             headers={"Accept": "application/json"})
        except httpx.HTTPError as exc:
            raise TokenError(f"token endpoint unreachable: {type(exc).__name__}",
                             retryable=True) from exc
        if response.status_code != 200:
            raise TokenError(f"token endpoint answered {response.status_code} "
                             f"{_oauth_error(response)}",
                             retryable=_retryable(response.status_code),
                             status=response.status_code)
        # RFC 6749 §5.1: a bearer token, and (recommended) its lifetime.
        try:
            payload = response.json()
            token = payload["access_token"]
            token_type = str(payload.get("token_type", ""))
            lifetime = float(payload.get("expires_in", 60))
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise TokenError("token endpoint answered without a token",
                             retryable=True) from exc
        if not isinstance(token, str) or not token or token_type.lower() != "bearer":
            raise TokenError("token endpoint answered without a bearer token", retryable=True)
        return token, max(lifetime - self._margin, 0.0)


def _retryable(status: int) -> bool:
    return status >= 500 or status == 429


def _oauth_error(response: httpx.Response) -> str:
    """The ``error`` code of an OAuth error response (RFC 6749 §5.2), at most
    64 characters; "" without one."""
    try:
        return str(response.json().get("error", ""))[:64]
    except (ValueError, AttributeError):
        return ""
