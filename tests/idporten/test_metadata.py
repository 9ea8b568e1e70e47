"""Discovery and JWKS caching, over httpx's mock transport."""

from __future__ import annotations

import json

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from idporten import acr
from idporten.metadata import JwksCache, MetadataCache, MetadataError

DISCOVERY = "https://test.idporten.no/.well-known/openid-configuration"
DOC = {
    "issuer": "https://test.idporten.no",
    "authorization_endpoint": "https://login.test.idporten.no/authorize",
    "token_endpoint": "https://test.idporten.no/token",
    "jwks_uri": "https://test.idporten.no/jwks.json",
    "end_session_endpoint": "https://login.test.idporten.no/logout",
    "pushed_authorization_request_endpoint": "https://test.idporten.no/par",
    "authorization_response_iss_parameter_supported": True,
    "frontchannel_logout_session_supported": True,
    "acr_values_supported": ["idporten-loa-substantial", "idporten-loa-high"],
    "ui_locales_supported": ["nb", "nn", "en", "se"],
}


def public_jwk(kid: str) -> dict:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return {**json.loads(RSAAlgorithm.to_jwk(key.public_key())), "kid": kid, "use": "sig"}


class FakeProvider:
    def __init__(self) -> None:
        self.doc = dict(DOC)
        self.keys = [public_jwk("k1")]
        self.calls: list[str] = []

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.calls.append(request.url.path)
        if request.url.path.endswith("openid-configuration"):
            return httpx.Response(200, json=self.doc)
        if request.url.path == "/jwks.json":
            return httpx.Response(200, json={"keys": self.keys})
        return httpx.Response(404)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def provider() -> FakeProvider:
    return FakeProvider()


@pytest.fixture
async def http(provider):
    async with httpx.AsyncClient(transport=httpx.MockTransport(provider.handler)) as client:
        yield client


async def test_discovery_is_cached_until_its_ttl(provider, http):
    clock = Clock()
    cache = MetadataCache(DISCOVERY, http, ttl=3600, clock=clock)
    meta = await cache.get()
    assert meta.issuer == "https://test.idporten.no"
    assert meta.pushed_authorization_request_endpoint == "https://test.idporten.no/par"
    assert meta.authorization_response_iss_parameter_supported
    await cache.get()
    assert len(provider.calls) == 1
    clock.now += 3601
    await cache.get()
    assert len(provider.calls) == 2


async def test_a_failed_refresh_keeps_the_old_document(provider, http):
    clock = Clock()
    cache = MetadataCache(DISCOVERY, http, ttl=60, clock=clock)
    await cache.get()
    provider.doc = {"nonsense": True}
    clock.now += 61
    assert (await cache.get()).issuer == "https://test.idporten.no"


async def test_an_issuer_that_does_not_match_the_url_is_refused(provider, http):
    provider.doc["issuer"] = "https://evil.example"
    with pytest.raises(MetadataError):
        await MetadataCache(DISCOVERY, http).get()


async def test_unknown_kid_refetches_the_jwks_once(provider, http):
    clock = Clock()
    jwks = JwksCache(MetadataCache(DISCOVERY, http), clock=clock)
    assert await jwks.key("k1") is not None
    provider.keys = [public_jwk("k2")]  # the provider rotated its key
    assert await jwks.key("k2") is not None
    assert provider.calls.count("/jwks.json") == 2
    # A stream of unknown kids does not make us hammer the provider.
    for _ in range(5):
        assert await jwks.key("forged") is None
    assert provider.calls.count("/jwks.json") == 2
    clock.now += 11
    assert await jwks.key("forged") is None
    assert provider.calls.count("/jwks.json") == 3


@pytest.mark.parametrize(("actual", "required", "ok"), [
    ("idporten-loa-substantial", "idporten-loa-substantial", True),
    ("idporten-loa-high", "idporten-loa-substantial", True),
    ("idporten-loa-substantial", "idporten-loa-high", False),
    ("idporten-loa-low", "idporten-loa-substantial", False),
    ("Level4", "idporten-loa-high", True),
    ("Level3", "idporten-loa-high", False),
    (None, "idporten-loa-substantial", False),
    ("eidas-loa-high", "idporten-loa-substantial", False),
])
def test_acr_levels(actual, required, ok):
    assert acr.satisfies(actual, required) is ok


def test_acr_request_value_falls_back_to_a_supported_level():
    assert acr.request_value("idporten-loa-substantial", ("idporten-loa-high",)) == \
        "idporten-loa-high"
    assert acr.request_value("idporten-loa-high", ()) == "idporten-loa-high"
