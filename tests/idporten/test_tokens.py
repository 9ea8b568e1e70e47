"""ID token validation: the happy path, and each way a token is refused."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from idporten.tokens import TokenError, validate_id_token
from tests.idporten.forgeries import hs256_with_public_key, unsigned_token
from tests.web.auth.helpers import ADULT_PID

ISSUER = "https://test.idporten.no"
CLIENT = "tanntid"
NONCE = "n-0S6_WzA2Mj"
NOW = datetime(2025, 3, 4, 10, 0, tzinfo=UTC)
KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
OTHER_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
KID = "idporten-1"


class StubJwks:
    """The provider's published keys: only KEY, under KID."""

    async def key(self, kid: str | None) -> jwt.PyJWK | None:
        if kid not in (KID, None):
            return None
        return jwt.PyJWK({**json.loads(RSAAlgorithm.to_jwk(KEY.public_key())), "kid": KID})


def claims(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "iss": ISSUER, "aud": CLIENT, "sub": "pairwise-sub", "iat": int(NOW.timestamp()),
        "exp": int(NOW.timestamp()) + 120, "nonce": NONCE, "acr": "idporten-loa-substantial",
        "amr": ["TestID"], "pid": ADULT_PID, "sid": "sid-1", "locale": "nn",
        "auth_time": int(NOW.timestamp()),
    }
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


def sign(payload: dict[str, Any], key: rsa.RSAPrivateKey = KEY, alg: str = "RS256",
         kid: str | None = KID) -> str:
    return jwt.encode(payload, key, algorithm=alg, headers={"kid": kid} if kid else None)


async def check(token: str, **options: Any):
    kwargs: dict[str, Any] = dict(jwks=StubJwks(), issuer=ISSUER, client_id=CLIENT, nonce=NONCE,
                                  required_acr="idporten-loa-substantial", now=NOW,
                                  allow_synthetic=True, require_sid=True)
    kwargs.update(options)
    return await validate_id_token(token, **kwargs)


async def refused(token: str, **options: Any) -> str:
    with pytest.raises(TokenError) as caught:
        await check(token, **options)
    return caught.value.code


async def test_a_good_token_gives_the_claims_we_keep():
    result = await check(sign(claims()))
    assert result.pid == ADULT_PID and result.sid == "sid-1" and result.locale == "nn"
    assert result.acr == "idporten-loa-substantial" and result.amr == ("TestID",)
    assert ADULT_PID not in repr(result)


async def test_bad_signature_is_refused():
    assert await refused(sign(claims(), key=OTHER_KEY)) == "signature"


async def test_alg_none_is_refused():
    token = unsigned_token({"alg": "none", "kid": KID}, claims())
    assert await refused(token) == "algorithm"


async def test_hs256_signed_with_the_providers_public_key_is_refused():
    # The classic key-confusion attack: the public key (which anyone can fetch
    # from the JWKS) used as an HMAC secret.
    token = hs256_with_public_key(KEY.public_key(), claims(), KID)
    assert await refused(token) == "algorithm"


async def test_unknown_key_id_is_refused():
    assert await refused(sign(claims(), kid="someone-elses")) == "unknown_key"


async def test_wrong_issuer_is_refused():
    assert await refused(sign(claims(iss="https://evil.example"))) == "issuer"


async def test_wrong_audience_is_refused():
    assert await refused(sign(claims(aud="another-client"))) == "audience"


async def test_an_extra_untrusted_audience_is_refused():
    assert await refused(sign(claims(aud=[CLIENT, "another-client"]))) == "audience"


async def test_expired_token_is_refused():
    past = int(NOW.timestamp()) - 300
    assert await refused(sign(claims(iat=past - 120, exp=past))) == "expired"


async def test_expiry_within_the_leeway_is_accepted():
    now = int(NOW.timestamp())
    await check(sign(claims(iat=now - 122, exp=now - 2)))


async def test_token_issued_in_the_future_is_refused():
    future = int(NOW.timestamp()) + 60
    assert await refused(sign(claims(iat=future, exp=future + 120))) == "issued_at"


async def test_missing_nonce_is_refused():
    assert await refused(sign(claims(nonce=None))) == "nonce"


async def test_wrong_nonce_is_refused():
    assert await refused(sign(claims(nonce="another-login"))) == "nonce"


async def test_acr_below_the_required_level_is_refused():
    token = sign(claims(acr="idporten-loa-substantial"))
    assert await refused(token, required_acr="idporten-loa-high") == "acr"


async def test_unknown_acr_is_refused():
    assert await refused(sign(claims(acr="something-else"))) == "acr"


async def test_high_satisfies_substantial():
    await check(sign(claims(acr="idporten-loa-high")))


async def test_missing_pid_is_refused():
    assert await refused(sign(claims(pid=None))) == "missing_pid"


async def test_invalid_pid_is_refused():
    assert await refused(sign(claims(pid="12345678901"))) == "invalid_pid"


async def test_synthetic_pid_is_refused_where_synthetic_numbers_are_not_allowed():
    assert await refused(sign(claims()), allow_synthetic=False) == "invalid_pid"


async def test_missing_sid_is_refused_when_the_provider_promises_session_logout():
    assert await refused(sign(claims(sid=None))) == "missing_sid"
    await check(sign(claims(sid=None)), require_sid=False)


async def test_rs512_is_allowed():
    await check(sign(claims(), alg="RS512"))


async def test_garbage_is_refused():
    assert await refused("not.a.jwt") == "malformed"
