"""ID token validation (OpenID Connect Core 1.0 §3.1.3.7, plus Digdir's rules).

Each step is annotated with the section it implements. Any failure raises
:class:`TokenError` with a short code from a closed list; the code (never a
claim value) is what gets logged.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

import jwt

from core.identity import InvalidIdentityNumber, parse
from idporten import acr as levels
from idporten.metadata import JwksCache

#: RFC 8725 §3.1 / OIDC Core §3.1.3.7 (7): only the RSA signatures ID-porten
#: uses. Never ``none`` and never HMAC (which would let anyone who knows the
#: public key forge tokens).
ALLOWED_ALGORITHMS: Final = ("RS256", "RS384", "RS512")
#: Allowed clock skew between us and the provider.
LEEWAY_SECONDS: Final = 5
#: An ID token is for creating the session right away (ID-porten: 120 s).
MAX_AGE_SECONDS: Final = 600


class TokenError(Exception):
    """The ID token is not acceptable. ``code`` is one of: malformed,
    algorithm, unknown_key, signature, issuer, audience, expired, issued_at,
    nonce, acr, missing_pid, invalid_pid, missing_sid."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@dataclass(frozen=True)
class IDTokenClaims:
    """What we keep from a validated ID token. ``pid`` never leaves the login
    code path: sessions hold the patient's internal id instead."""

    sub: str
    acr: str | None
    amr: tuple[str, ...]
    sid: str | None
    locale: str | None
    auth_time: int | None
    pid: str | None = field(default=None, repr=False)
    claims: Mapping[str, Any] = field(default_factory=dict, repr=False)


async def validate_id_token(token: str, *, jwks: JwksCache, issuer: str, client_id: str,
                            nonce: str, required_acr: str | None, now: datetime,
                            require_pid: bool = True, allow_synthetic: bool = False,
                            require_sid: bool = False) -> IDTokenClaims:
    # §3.1.3.7 (6)/(7) and RFC 8725 §2.1: the algorithm is ours to choose, not
    # the token's. Read the header only to pick the key.
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise TokenError("malformed") from exc
    alg = header.get("alg")
    if alg not in ALLOWED_ALGORITHMS:
        raise TokenError("algorithm")
    kid = header.get("kid")
    # §10.1.1: the key comes from the provider's JWKS (re-fetched once on an
    # unknown kid, for key rotation).
    key = await jwks.key(str(kid) if kid is not None else None)
    if key is None:
        raise TokenError("unknown_key")

    # §3.1.3.7 (6): verify the signature with the provider's key, restricted
    # to the expected algorithm. Time claims are checked below against our
    # clock (injectable), not PyJWT's.
    try:
        claims: dict[str, Any] = jwt.decode(
            token, key.key, algorithms=[alg],
            options={"require": ["iss", "sub", "aud", "exp", "iat"], "verify_aud": False,
                     "verify_iss": False, "verify_exp": False, "verify_iat": False,
                     "verify_nbf": False},
        )
    except jwt.InvalidSignatureError as exc:
        raise TokenError("signature") from exc
    except jwt.PyJWTError as exc:
        raise TokenError("malformed") from exc

    # §3.1.3.7 (2): iss exactly equals the issuer from discovery.
    if claims["iss"] != issuer:
        raise TokenError("issuer")
    # §3.1.3.7 (3)–(5): aud contains our client_id, and we trust no other
    # audience (Wonderwall's rule); azp, when present, is us.
    audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
    if audiences != [client_id] or claims.get("azp", client_id) != client_id:
        raise TokenError("audience")
    # §3.1.3.7 (9): the current time is before exp (with a small leeway).
    timestamp = now.timestamp()
    if not isinstance(claims["exp"], int | float) or claims["exp"] + LEEWAY_SECONDS <= timestamp:
        raise TokenError("expired")
    # §3.1.3.7 (10): iat is not in the future, and not so old the token is stale.
    iat = claims["iat"]
    if (not isinstance(iat, int | float) or iat - LEEWAY_SECONDS > timestamp
            or timestamp - iat > MAX_AGE_SECONDS):
        raise TokenError("issued_at")
    # §3.1.3.7 (11): nonce equals the one this login sent (constant-time compare).
    got_nonce = claims.get("nonce")
    if not isinstance(got_nonce, str) or not hmac.compare_digest(got_nonce, nonce):
        raise TokenError("nonce")
    # §3.1.3.7 (12) and Digdir (oidc_protocol_id_token): acr is at least the
    # level we require.
    acr = claims.get("acr")
    if required_acr is not None and not levels.satisfies(acr, required_acr):
        raise TokenError("acr")
    # Digdir: pid is the person's fødselsnummer or D-nummer; it may be missing
    # for some eIDs, and without it we cannot know who the patient is.
    pid = claims.get("pid")
    if require_pid:
        if not isinstance(pid, str) or not pid:
            raise TokenError("missing_pid")
        try:
            parse(pid, allow_synthetic=allow_synthetic)
        except InvalidIdentityNumber as exc:
            raise TokenError("invalid_pid") from exc
    # OIDC Front-Channel Logout 1.0 §3: with session logout advertised, sid is
    # what front-channel logout finds the session by (Wonderwall requires it).
    sid = claims.get("sid")
    if require_sid and not (isinstance(sid, str) and sid):
        raise TokenError("missing_sid")

    amr = claims.get("amr") or ()
    return IDTokenClaims(
        sub=str(claims["sub"]),
        acr=str(acr) if acr is not None else None,
        amr=tuple(str(m) for m in amr) if isinstance(amr, list) else (str(amr),),
        sid=str(sid) if isinstance(sid, str) and sid else None,
        locale=str(claims["locale"]) if isinstance(claims.get("locale"), str) else None,
        auth_time=int(claims["auth_time"]) if isinstance(claims.get("auth_time"), int) else None,
        pid=pid if isinstance(pid, str) else None,
        claims=claims,
    )
