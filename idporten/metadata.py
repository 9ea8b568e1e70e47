"""The provider's discovery document and signing keys, fetched over HTTP and cached.

* Discovery (OpenID Connect Discovery 1.0 §4): fetched from the configured
  URL, kept for ``ttl`` seconds (Digdir suggests about a day) and refreshed
  after that; a failed refresh keeps serving the old document for a while.
  The ``issuer`` must be the discovery URL's prefix (Discovery §4.3).
* JWKS (RFC 7517): loaded from ``jwks_uri`` and cached; a token signed with an
  unknown ``kid`` makes us fetch the set again, once, because ID-porten
  rotates its keys (with a short pause between such re-fetches so a stream of
  forged ``kid`` values cannot make us hammer the provider).

``clock`` returns monotonic seconds; tests inject their own.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
import jwt
import structlog

from core.oauth import Expiring

log = structlog.get_logger("tanntid.idporten")

WELL_KNOWN = "/.well-known/openid-configuration"
DEFAULT_TTL = 24 * 3600.0
#: A fresh JWKS is fetched at most this often because of unknown ``kid`` values.
JWKS_REFETCH_PAUSE = 10.0


class MetadataError(RuntimeError):
    """The provider's metadata or keys could not be loaded or make no sense."""


@dataclass(frozen=True)
class ProviderMetadata:
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    end_session_endpoint: str | None = None
    #: RFC 9126 §5: present = use pushed authorization requests.
    pushed_authorization_request_endpoint: str | None = None
    #: RFC 9207 §3: the authorization response carries ``iss``.
    authorization_response_iss_parameter_supported: bool = False
    frontchannel_logout_session_supported: bool = False
    acr_values_supported: tuple[str, ...] = ()
    ui_locales_supported: tuple[str, ...] = ()
    token_endpoint_auth_methods_supported: tuple[str, ...] = ()
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_document(cls, doc: Mapping[str, Any], discovery_url: str) -> ProviderMetadata:
        try:
            issuer = str(doc["issuer"])
            metadata = cls(
                issuer=issuer,
                authorization_endpoint=str(doc["authorization_endpoint"]),
                token_endpoint=str(doc["token_endpoint"]),
                jwks_uri=str(doc["jwks_uri"]),
                end_session_endpoint=_optional(doc, "end_session_endpoint"),
                pushed_authorization_request_endpoint=_optional(
                    doc, "pushed_authorization_request_endpoint"),
                authorization_response_iss_parameter_supported=doc.get(
                    "authorization_response_iss_parameter_supported") is True,
                frontchannel_logout_session_supported=doc.get(
                    "frontchannel_logout_session_supported") is True,
                acr_values_supported=_strings(doc, "acr_values_supported"),
                ui_locales_supported=_strings(doc, "ui_locales_supported"),
                token_endpoint_auth_methods_supported=_strings(
                    doc, "token_endpoint_auth_methods_supported"),
                raw=dict(doc),
            )
        except (KeyError, TypeError) as exc:
            raise MetadataError(f"discovery document lacks {exc}") from exc
        # Discovery §4.3: the issuer is exactly the URL the document was found under.
        if issuer.rstrip("/") + WELL_KNOWN != discovery_url:
            raise MetadataError("discovery document's issuer does not match its URL")
        return metadata


def _optional(doc: Mapping[str, Any], name: str) -> str | None:
    value = doc.get(name)
    return str(value) if value else None


def _strings(doc: Mapping[str, Any], name: str) -> tuple[str, ...]:
    value = doc.get(name) or ()
    if not isinstance(value, list | tuple):
        raise TypeError(name)
    return tuple(str(item) for item in value)


async def _get_json(http: httpx.AsyncClient, url: str) -> Any:
    try:
        response = await http.get(url, headers={"Accept": "application/json"})
        response.raise_for_status()
        return response.json()
    except (httpx.HTTPError, ValueError) as exc:
        raise MetadataError(f"could not load {url}: {type(exc).__name__}") from exc


class MetadataCache:
    """The discovery document of one provider, kept ``ttl`` seconds
    (:class:`core.oauth.Expiring`: one fetch at a time).

    Per process, correct by design (this and :class:`JwksCache`): the
    provider publishes the same document to every process, and an ID token
    signed with a key a process has not seen makes it fetch the keys again."""

    def __init__(self, discovery_url: str, http: httpx.AsyncClient, *, ttl: float = DEFAULT_TTL,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.discovery_url = discovery_url
        self.http = http
        self.ttl = ttl
        self.clock = clock
        self._document: Expiring[ProviderMetadata] = Expiring(self._load, clock=clock)

    async def get(self) -> ProviderMetadata:
        return await self._document.get()

    async def _load(self) -> tuple[ProviderMetadata, float]:
        try:
            doc = await _get_json(self.http, self.discovery_url)
            if not isinstance(doc, dict):
                raise MetadataError("discovery document is not a JSON object")
            return ProviderMetadata.from_document(doc, self.discovery_url), self.ttl
        except MetadataError:
            old = self._document.last
            if old is None:
                raise
            # Keep the old document a little longer rather than stop all logins.
            log.warning("discovery_refresh_failed", url=self.discovery_url)
            return old, min(self.ttl, 300.0)


class JwksCache:
    """The provider's signing keys, by ``kid``."""

    def __init__(self, metadata: MetadataCache, *, ttl: float = DEFAULT_TTL,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.metadata = metadata
        self.ttl = ttl
        self.clock = clock
        self._keys: dict[str, jwt.PyJWK] | None = None
        self._fetched = 0.0
        self._refetched: float | None = None  # last re-fetch for an unknown kid
        self._lock = asyncio.Lock()

    async def _load(self) -> dict[str, jwt.PyJWK]:
        meta = await self.metadata.get()
        doc = await _get_json(self.metadata.http, meta.jwks_uri)
        keys: dict[str, jwt.PyJWK] = {}
        for index, data in enumerate(doc.get("keys", []) if isinstance(doc, dict) else []):
            if not isinstance(data, dict) or data.get("use", "sig") != "sig":
                continue
            if data.get("kty") != "RSA":  # ID-porten signs with RS256
                continue
            try:
                keys[str(data.get("kid", f"#{index}"))] = jwt.PyJWK(data)
            except jwt.PyJWTError:
                log.warning("jwks_key_skipped", kid=str(data.get("kid", "")))
        if not keys:
            raise MetadataError("the provider's JWKS holds no usable signing key")
        self._fetched = self.clock()
        return keys

    async def key(self, kid: str | None) -> jwt.PyJWK | None:
        """The key for ``kid`` (or the only key, for a token without ``kid``);
        None when it is unknown even after one re-fetch."""
        async with self._lock:
            if self._keys is None or self.clock() - self._fetched > self.ttl:
                self._keys = await self._load()
            found = self._pick(kid)
            if found is None and (self._refetched is None
                                  or self.clock() - self._refetched >= JWKS_REFETCH_PAUSE):
                # An unknown kid: the provider may have rotated its keys. Once.
                self._refetched = self.clock()
                self._keys = await self._load()
                found = self._pick(kid)
            return found

    def _pick(self, kid: str | None) -> jwt.PyJWK | None:
        assert self._keys is not None
        if kid is None:
            return next(iter(self._keys.values())) if len(self._keys) == 1 else None
        return self._keys.get(kid)
