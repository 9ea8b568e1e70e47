"""The OAuth client: the signing key, client assertions and JWT grants
(verified with the public key), the token request forms, and the token
source's caching, refresh and discovery."""

from __future__ import annotations

import asyncio
import json
from typing import Any
from urllib.parse import parse_qsl

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from core.oauth import (
    CLIENT_ASSERTION_TYPE,
    JWT_BEARER_GRANT,
    Expiring,
    Provider,
    SigningKey,
    TokenError,
    TokenSource,
    client_assertion,
    client_credentials,
    generate_rsa_jwk,
    jwt_bearer,
    jwt_grant,
)

KEY, PUBLIC = generate_rsa_jwk("key-1")
NOW = 1_700_000_000
PROVIDER = Provider("https://sts.example", "https://sts.example/connect/token")


def _claims(token: str, audience: str, public: Any = None) -> dict[str, Any]:
    return jwt.decode(token, public or jwt.PyJWK(PUBLIC).key, algorithms=["RS256", "ES256"],
                      audience=audience, options={"verify_exp": False, "verify_nbf": False,
                                                  "verify_iat": False})


# --- the key and what it signs ----------------------------------------------

def test_client_assertion_has_the_rfc_7523_claims_and_verifies() -> None:
    token = client_assertion(SigningKey.from_jwk(KEY), client_id="c-1",
                             audience="https://helseid.example", now=NOW)
    header = jwt.get_unverified_header(token)
    claims = _claims(token, "https://helseid.example")
    assert header == {"alg": "RS256", "kid": "key-1", "typ": "JWT"}
    assert list(claims) == ["iss", "sub", "aud", "iat", "nbf", "exp", "jti"]
    assert (claims["iss"], claims["sub"]) == ("c-1", "c-1")
    assert (claims["iat"], claims["nbf"], claims["exp"]) == (NOW, NOW, NOW + 30)
    assert len(claims["jti"]) == 32


def test_client_assertion_profiles_without_nbf_and_with_another_typ() -> None:
    key = SigningKey.from_jwk(KEY)
    plain = client_assertion(key, client_id="c", audience="https://idp.example", lifetime=60,
                             not_before=False, now=NOW)
    assert list(_claims(plain, "https://idp.example")) == ["iss", "sub", "aud", "iat", "exp",
                                                          "jti"]
    assert _claims(plain, "https://idp.example")["exp"] == NOW + 60
    typed = client_assertion(key, client_id="c", audience="https://idp.example",
                             typ="client-authentication+jwt", now=NOW)
    assert jwt.get_unverified_header(typed)["typ"] == "client-authentication+jwt"
    first, second = (_claims(client_assertion(key, client_id="c", audience="a"), "a")
                     for _ in range(2))
    assert first["jti"] != second["jti"]


def test_jwt_grant_has_maskinportens_claims_and_fresh_jtis() -> None:
    key = SigningKey.from_jwk(json.loads(KEY))
    tokens = [jwt_grant(key, client_id="c-2", audience="https://maskinporten.example/",
                        scope="krr:global/kontaktinformasjon.read") for _ in range(2)]
    claims = [_claims(t, "https://maskinporten.example/") for t in tokens]
    assert claims[0]["scope"] == "krr:global/kontaktinformasjon.read"
    assert claims[0]["iss"] == "c-2" and "sub" not in claims[0]
    assert claims[0]["exp"] - claims[0]["iat"] == 100
    assert claims[0]["jti"] != claims[1]["jti"]


def test_an_ec_key_signs_with_the_algorithm_of_its_curve() -> None:
    private = ec.generate_private_key(ec.SECP256R1())
    jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(private))
    key = SigningKey.from_jwk(jwk)
    assert (key.alg, key.kid) == ("ES256", None)
    token = client_assertion(key, client_id="c", audience="a", now=NOW)
    assert jwt.get_unverified_header(token) == {"alg": "ES256", "typ": "JWT"}
    assert _claims(token, "a", private.public_key())["sub"] == "c"


def test_a_public_key_cannot_sign_and_the_key_is_never_shown() -> None:
    with pytest.raises(ValueError, match="no private part"):
        SigningKey.from_jwk(PUBLIC)
    with pytest.raises(ValueError, match="unsupported key type"):
        SigningKey.from_jwk({"kty": "oct", "k": "c2VjcmV0", "d": "x"})
    assert repr(SigningKey.from_jwk(KEY)) == "SigningKey(kid='key-1', alg='RS256')"


def test_the_token_request_forms() -> None:
    key = SigningKey.from_jwk(KEY)
    form = client_credentials(key, client_id="c", scope="s", clock=lambda: NOW)(PROVIDER)
    assert list(form) == ["grant_type", "client_id", "client_assertion_type",
                          "client_assertion", "scope"]
    assert (form["grant_type"], form["client_id"], form["client_assertion_type"],
            form["scope"]) == ("client_credentials", "c", CLIENT_ASSERTION_TYPE, "s")
    assert _claims(form["client_assertion"], PROVIDER.issuer)["iat"] == NOW
    grant = jwt_bearer(key, client_id="c", scope="s")(PROVIDER)
    assert list(grant) == ["grant_type", "assertion"]
    assert grant["grant_type"] == JWT_BEARER_GRANT
    assert _claims(grant["assertion"], PROVIDER.issuer)["scope"] == "s"


# --- caching ------------------------------------------------------------------

async def test_expiring_loads_once_for_many_waiting_callers() -> None:
    now = [0.0]
    loads: list[int] = []

    async def load() -> tuple[int, float]:
        loads.append(len(loads) + 1)
        await asyncio.sleep(0.01)
        return len(loads), 10.0

    value = Expiring(load, clock=lambda: now[0])
    assert value.last is None
    assert await asyncio.gather(*(value.get() for _ in range(5))) == [1] * 5
    now[0] = 9.9
    assert await value.get() == 1
    now[0] = 10.0
    assert await value.get() == 2
    value.forget()
    assert value.last is None and await value.get() == 3


def _token_endpoint(calls: list[dict[str, str]], answers: list[httpx.Response]
                    ) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url == PROVIDER.token_endpoint
        assert request.headers["accept"] == "application/json"
        calls.append(dict(parse_qsl(request.content.decode())))
        return answers.pop(0)
    return httpx.MockTransport(handler)


def _token(value: str, expires_in: int = 120) -> httpx.Response:
    return httpx.Response(200, json={"access_token": value, "token_type": "Bearer",
                                     "expires_in": expires_in})


async def test_token_source_caches_until_near_expiry_and_reports_errors() -> None:
    now = [0.0]
    calls: list[dict[str, str]] = []
    answers = [_token("t1"), _token("t2"), httpx.Response(400, json={"error": "invalid_client"}),
               httpx.Response(503), httpx.Response(200, json={"access_token": "t",
                                                               "token_type": "DPoP"})]
    async with httpx.AsyncClient(transport=_token_endpoint(calls, answers)) as http:
        source = TokenSource(lambda provider: {"grant_type": "x", "aud": provider.issuer},
                             http=http, issuer=PROVIDER.issuer,
                             token_url=PROVIDER.token_endpoint, clock=lambda: now[0])
        assert await source.token() == "t1"
        now[0] = 89.0
        assert await source.token() == "t1"   # 120 s less the 30 s margin
        now[0] = 90.0
        assert await source.token() == "t2"
        source.forget()
        with pytest.raises(TokenError) as refused:
            await source.token()
        with pytest.raises(TokenError) as unavailable:
            await source.token()
        with pytest.raises(TokenError, match="bearer"):
            await source.token()
    assert (refused.value.retryable, refused.value.status) == (False, 400)
    assert "invalid_client" in str(refused.value)
    assert (unavailable.value.retryable, unavailable.value.status) == (True, 503)
    assert calls[0] == {"grant_type": "x", "aud": PROVIDER.issuer}
    assert len(calls) == 5


async def test_one_refresh_at_a_time() -> None:
    calls: list[dict[str, str]] = []
    async with httpx.AsyncClient(transport=_token_endpoint(calls, [_token("t1")])) as http:
        source = TokenSource(lambda provider: {}, http=http, issuer=PROVIDER.issuer,
                             token_url=PROVIDER.token_endpoint)
        assert set(await asyncio.gather(*(source.token() for _ in range(10)))) == {"t1"}
    assert len(calls) == 1


async def test_a_lifetime_shorter_than_the_margin_is_not_kept() -> None:
    calls: list[dict[str, str]] = []
    answers = [_token("t1", expires_in=20), _token("t2", expires_in=20)]
    async with httpx.AsyncClient(transport=_token_endpoint(calls, answers)) as http:
        source = TokenSource(lambda provider: {}, http=http, issuer=PROVIDER.issuer,
                             token_url=PROVIDER.token_endpoint, clock=lambda: 0.0)
        assert [await source.token(), await source.token()] == ["t1", "t2"]


async def test_network_trouble_is_retryable() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
        source = TokenSource(lambda provider: {}, http=http, issuer=PROVIDER.issuer,
                             token_url=PROVIDER.token_endpoint)
        with pytest.raises(TokenError) as failed:
            await source.token()
    assert failed.value.retryable and failed.value.status is None


def test_a_token_source_needs_an_endpoint_or_discovery() -> None:
    with pytest.raises(ValueError):
        TokenSource(lambda provider: {}, http=httpx.AsyncClient(), issuer="https://sts.example")


# --- discovery ----------------------------------------------------------------

class Sts:
    """A discovery document and a token endpoint; the issuer it names can change."""

    def __init__(self) -> None:
        self.issuer = "https://sts.example/"
        self.discoveries = 0
        self.status = 200
        self.forms: list[dict[str, str]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/.well-known/openid-configuration":
            self.discoveries += 1
            return httpx.Response(self.status, json={
                "issuer": self.issuer, "token_endpoint": "https://sts.example/connect/token"})
        self.forms.append(dict(parse_qsl(request.content.decode())))
        return _token(f"t{len(self.forms)}", expires_in=300)


async def test_discovery_names_the_audience_and_the_token_endpoint_once() -> None:
    sts = Sts()
    key = SigningKey.from_jwk(KEY)
    async with httpx.AsyncClient(transport=httpx.MockTransport(sts)) as http:
        source = TokenSource(client_credentials(key, client_id="c", scope="s"), http=http,
                             issuer="https://sts.example", discover=True)
        assert await source.provider() == Provider("https://sts.example/",
                                                   "https://sts.example/connect/token")
        assert await source.token() == "t1"
        source.forget()
        assert await source.token() == "t2"
    assert sts.discoveries == 1
    # The audience is the issuer as the discovery document spells it.
    assert _claims(sts.forms[0]["client_assertion"], "https://sts.example/")["sub"] == "c"


async def test_a_given_token_url_wins_over_the_discovered_one() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/openid-configuration"):
            return httpx.Response(200, json={"issuer": "https://sts.example",
                                             "token_endpoint": "https://elsewhere.example/t"})
        seen.append(str(request.url))
        return _token("t")

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
        source = TokenSource(lambda provider: {}, http=http, issuer="https://sts.example/",
                             token_url="https://sts.example/connect/token", discover=True)
        assert await source.token() == "t"
    assert seen == ["https://sts.example/connect/token"]


async def test_discovery_of_another_issuer_or_a_failed_one_gives_no_token() -> None:
    sts = Sts()
    async with httpx.AsyncClient(transport=httpx.MockTransport(sts)) as http:
        source = TokenSource(lambda provider: {}, http=http, issuer="https://sts.example",
                             discover=True)
        sts.issuer = "https://impostor.example"
        with pytest.raises(TokenError, match="another issuer") as impostor:
            await source.token()
        sts.issuer, sts.status = "https://sts.example", 502
        with pytest.raises(TokenError, match="HTTP 502") as failed:
            await source.token()
        sts.status = 200
        assert await source.token() == "t1"   # a failure is not kept
    assert not impostor.value.retryable
    assert failed.value.retryable and failed.value.status == 502
    assert sts.discoveries == 3 and len(sts.forms) == 1
