"""Signed JWTs for HelseID and Maskinporten, and the cached token source."""

from __future__ import annotations

import json

import httpx
import jwt
import pytest

from notifications.channels.tokens import (
    SigningKey,
    TokenError,
    TokenSource,
    client_assertion,
    generate_rsa_jwk,
    jwt_grant,
)

KEY, PUBLIC = generate_rsa_jwk("key-1")


def test_client_assertion_has_helseids_claims() -> None:
    token = client_assertion(SigningKey.from_jwk(KEY), client_id="c-1",
                             audience="https://helseid.example", now=1_700_000_000)
    header = jwt.get_unverified_header(token)
    claims = jwt.decode(token, jwt.PyJWK(PUBLIC).key, algorithms=["RS256"],
                        audience="https://helseid.example",
                        options={"verify_exp": False, "verify_nbf": False,
                                 "verify_iat": False})
    assert header == {"alg": "RS256", "kid": "key-1", "typ": "JWT"}
    assert (claims["iss"], claims["sub"]) == ("c-1", "c-1")
    assert (claims["iat"], claims["nbf"], claims["exp"]) == (
        1_700_000_000, 1_700_000_000, 1_700_000_030)
    assert len(claims["jti"]) == 32


def test_jwt_grant_has_maskinportens_claims_and_fresh_jtis() -> None:
    key = SigningKey.from_jwk(json.loads(KEY))
    tokens = [jwt_grant(key, client_id="c-2", audience="https://maskinporten.example/",
                        scope="krr:global/kontaktinformasjon.read") for _ in range(2)]
    claims = [jwt.decode(t, jwt.PyJWK(PUBLIC).key, algorithms=["RS256"],
                         audience="https://maskinporten.example/") for t in tokens]
    assert claims[0]["scope"] == "krr:global/kontaktinformasjon.read"
    assert claims[0]["iss"] == "c-2" and "sub" not in claims[0]
    assert claims[0]["exp"] - claims[0]["iat"] == 100
    assert claims[0]["jti"] != claims[1]["jti"]


def test_a_public_key_cannot_sign() -> None:
    with pytest.raises(ValueError, match="no private part"):
        SigningKey.from_jwk(PUBLIC)
    assert repr(SigningKey.from_jwk(KEY)) == "SigningKey(kid='key-1', alg='RS256')"


async def test_token_source_caches_until_near_expiry_and_reports_errors() -> None:
    now = [0.0]
    calls: list[dict[str, str]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(dict(httpx.QueryParams(request.content.decode())))
        if len(calls) == 3:
            return httpx.Response(400, json={"error": "invalid_client"})
        if len(calls) == 4:
            return httpx.Response(503)
        return httpx.Response(200, json={"access_token": f"t{len(calls)}",
                                         "expires_in": 120})

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
        source = TokenSource(token_url="https://idp.example/token", http=http,
                             make_form=lambda: {"grant_type": "x"}, clock=lambda: now[0])
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
    assert (refused.value.retryable, refused.value.status) == (False, 400)
    assert (unavailable.value.retryable, unavailable.value.status) == (True, 503)
    assert calls[0] == {"grant_type": "x"}
