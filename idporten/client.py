"""The OpenID Connect relying party: authorization code flow as Digdir specifies it.

* PKCE with S256 (RFC 7636 §4.1–4.2), a fresh ``state`` and ``nonce`` per login
  (Digdir: "instans-unike").
* Pushed authorization requests (RFC 9126) whenever the discovery document
  advertises ``pushed_authorization_request_endpoint``: the parameters go to the
  provider server-to-server, and the browser only carries ``client_id`` and
  ``request_uri`` (RFC 9126 §4).
* Client authentication at the token and PAR endpoints (RFC 9126 §2) with
  ``private_key_jwt`` (RFC 7523 §2.2, OIDC Core §9; Digdir's recommendation)
  when a JWK is configured, else ``client_secret_post`` (RFC 6749 §2.3.1).
* The authorization response's ``iss`` is checked (RFC 9207 §2.4), then the
  code is exchanged (RFC 6749 §4.1.3) and the ID token validated
  (:mod:`idporten.tokens`).
* RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0 §2).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Any
from urllib.parse import urlencode

import httpx
import structlog

from core import tokens
from core.oauth import CLIENT_ASSERTION_TYPE, SigningKey, client_assertion
from idporten import acr as levels
from idporten.metadata import JwksCache, MetadataCache, MetadataError, ProviderMetadata
from idporten.tokens import ALLOWED_ALGORITHMS, IDTokenClaims, TokenError, validate_id_token

log = structlog.get_logger("tanntid.idporten")

#: Digdir accepts client assertions valid for at most 120 seconds.
ASSERTION_LIFETIME = 60
_ERROR_CODE = re.compile(r"^[a-z_]{1,64}$")


class LoginFailed(Exception):
    """The login cannot be completed. ``code``: cancelled, provider_error,
    state_mismatch, issuer_mismatch, missing_code, token_request, unavailable,
    or a :class:`~idporten.tokens.TokenError` code."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@dataclass(frozen=True)
class ClientConfig:
    client_id: str
    redirect_uri: str
    post_logout_redirect_uri: str
    #: The lowest acceptable ``acr`` (None: not checked, e.g. a staff IdP).
    required_acr: str | None
    scope: str = "openid profile"
    client_jwk: str | None = field(default=None, repr=False)
    client_secret: str | None = field(default=None, repr=False)
    require_pid: bool = True
    allow_synthetic: bool = False


@dataclass(frozen=True)
class PendingLogin:
    """What the browser's short-lived, encrypted login cookie remembers between
    the redirect to the provider and the callback."""

    state: str
    nonce: str
    code_verifier: str
    next: str
    issuer: str

    def dumps(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def loads(cls, text: str) -> PendingLogin:
        """The remembered login; ``login_expired`` if it is not one (e.g. a cookie
        written by an older version)."""
        try:
            data = json.loads(text)
            return cls(**{name: str(data[name]) for name in cls.__dataclass_fields__})
        except (ValueError, KeyError, TypeError) as exc:
            raise LoginFailed("login_expired") from exc


@dataclass(frozen=True)
class TokenResult:
    claims: IDTokenClaims
    id_token: str = field(repr=False)


def pkce_pair() -> tuple[str, str]:
    """RFC 7636 §4.1: a verifier of 43–128 unreserved characters (here 86),
    §4.2: its S256 challenge, base64url without padding."""
    verifier = secrets.token_urlsafe(64)
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return verifier, tokens.encode(digest)


class OIDCClient:
    def __init__(self, config: ClientConfig, metadata: MetadataCache, jwks: JwksCache,
                 http: httpx.AsyncClient) -> None:
        self.config = config
        self.metadata = metadata
        self.jwks = jwks
        self.http = http

    async def provider(self) -> ProviderMetadata:
        try:
            return await self.metadata.get()
        except MetadataError as exc:
            raise LoginFailed("unavailable") from exc

    # --- the authorization request -------------------------------------------

    async def start(self, *, next_path: str, locale: str | None) -> tuple[str, PendingLogin]:
        """Where to send the browser, and what to remember until it comes back."""
        meta = await self.provider()
        verifier, challenge = pkce_pair()
        pending = PendingLogin(state=secrets.token_urlsafe(32), nonce=secrets.token_urlsafe(32),
                               code_verifier=verifier, next=next_path, issuer=meta.issuer)
        params = {
            "response_type": "code",
            "client_id": self.config.client_id,
            "redirect_uri": self.config.redirect_uri,
            "scope": self.config.scope,
            "state": pending.state,
            "nonce": pending.nonce,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
        if self.config.required_acr:
            params["acr_values"] = levels.request_value(self.config.required_acr,
                                                        meta.acr_values_supported)
        if locale and (not meta.ui_locales_supported or locale in meta.ui_locales_supported):
            params["ui_locales"] = locale
        if meta.pushed_authorization_request_endpoint:
            request_uri = await self._push(meta, params)
            query = {"client_id": self.config.client_id, "request_uri": request_uri}
        else:
            query = params
        return _with_query(meta.authorization_endpoint, query), pending

    async def _push(self, meta: ProviderMetadata, params: dict[str, str]) -> str:
        """RFC 9126 §2.1: POST the parameters with client authentication; §2.2:
        the answer (201) holds the ``request_uri``. One retry on a server error."""
        assert meta.pushed_authorization_request_endpoint is not None
        for attempt in (1, 2):
            form = {**params, **self._client_auth(meta)}
            try:
                response = await self.http.post(meta.pushed_authorization_request_endpoint,
                                                data=form)
            except httpx.HTTPError as exc:
                if attempt == 2:
                    raise LoginFailed("unavailable") from exc
                continue
            if response.status_code >= 500 and attempt == 1:
                continue
            if response.status_code not in (200, 201):
                log.warning("par_refused", status=response.status_code,
                            error=_oauth_error(response))
                raise LoginFailed("unavailable")
            request_uri = _json(response).get("request_uri")
            if not isinstance(request_uri, str) or not request_uri:
                raise LoginFailed("unavailable")
            return request_uri
        raise LoginFailed("unavailable")  # pragma: no cover

    # --- the callback ----------------------------------------------------------

    async def finish(self, params: Mapping[str, str], pending: PendingLogin, *,
                     now: datetime) -> TokenResult:
        meta = await self.provider()
        # RFC 6749 §10.12 / OIDC Core §3.1.2.7: the response belongs to the login
        # this browser started (constant-time compare).
        state = params.get("state", "")
        if not hmac.compare_digest(state.encode(), pending.state.encode()):
            raise LoginFailed("state_mismatch")
        # RFC 9207 §2.4: iss, when present (and it must be when advertised), is the
        # issuer this login was started with. Mix-up defence.
        iss = params.get("iss")
        if iss is None and meta.authorization_response_iss_parameter_supported:
            raise LoginFailed("issuer_mismatch")
        if iss is not None and (iss != meta.issuer or iss != pending.issuer):
            raise LoginFailed("issuer_mismatch")
        # RFC 6749 §4.1.2.1: the provider refused; access_denied = the user cancelled.
        error = params.get("error")
        if error is not None:
            shown = error if _ERROR_CODE.match(error) else "other"
            log.info("login_error_from_provider", error=shown)
            raise LoginFailed("cancelled" if error == "access_denied" else "provider_error")
        code = params.get("code")
        if not code:
            raise LoginFailed("missing_code")

        id_token = await self._exchange(meta, code, pending.code_verifier)
        try:
            claims = await validate_id_token(
                id_token, jwks=self.jwks, issuer=meta.issuer, client_id=self.config.client_id,
                nonce=pending.nonce, required_acr=self.config.required_acr, now=now,
                require_pid=self.config.require_pid,
                allow_synthetic=self.config.allow_synthetic,
                require_sid=meta.frontchannel_logout_session_supported,
            )
        except TokenError as exc:
            raise LoginFailed(exc.code) from exc
        except MetadataError as exc:
            raise LoginFailed("unavailable") from exc
        return TokenResult(claims, id_token)

    async def _exchange(self, meta: ProviderMetadata, code: str, verifier: str) -> str:
        """RFC 6749 §4.1.3 with the PKCE verifier (RFC 7636 §4.5)."""
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": self.config.redirect_uri,
            "code_verifier": verifier,
            **self._client_auth(meta),
        }
        try:
            response = await self.http.post(meta.token_endpoint, data=form,
                                            headers={"Accept": "application/json"})
        except httpx.HTTPError as exc:
            raise LoginFailed("unavailable") from exc
        if response.status_code != 200:
            log.warning("token_request_refused", status=response.status_code,
                        error=_oauth_error(response))
            raise LoginFailed("token_request")
        id_token = _json(response).get("id_token")
        if not isinstance(id_token, str) or not id_token:
            raise LoginFailed("token_request")
        return id_token

    @cached_property
    def _signing_key(self) -> SigningKey | None:
        """Our private key (``client_jwk``), read once."""
        return SigningKey.from_jwk(self.config.client_jwk) if self.config.client_jwk else None

    def _client_auth(self, meta: ProviderMetadata) -> dict[str, str]:
        """The form fields that authenticate us. ``private_key_jwt``: a fresh
        assertion per request with iss = sub = client_id, aud = the issuer, a
        short exp, iat and a random jti (RFC 7523 §3; Digdir), and client_id also
        as a form parameter (Digdir)."""
        client_id = self.config.client_id
        if self._signing_key is not None:
            if self._signing_key.alg not in ALLOWED_ALGORITHMS:
                raise LoginFailed("unavailable")
            assertion = client_assertion(self._signing_key, client_id=client_id,
                                         audience=meta.issuer, lifetime=ASSERTION_LIFETIME,
                                         not_before=False)
            return {"client_id": client_id, "client_assertion_type": CLIENT_ASSERTION_TYPE,
                    "client_assertion": assertion}
        if self.config.client_secret:
            return {"client_id": client_id, "client_secret": self.config.client_secret}
        raise LoginFailed("unavailable")

    # --- logout ----------------------------------------------------------------

    async def end_session_url(self, *, id_token_hint: str | None, state: str) -> str | None:
        """RP-Initiated Logout §2: where to send the browser to end the
        provider's session too (None when the provider has no such endpoint)."""
        meta = await self.provider()
        if not meta.end_session_endpoint:
            return None
        params = {"post_logout_redirect_uri": self.config.post_logout_redirect_uri,
                  "state": state}
        if id_token_hint:
            params["id_token_hint"] = id_token_hint
        else:
            params["client_id"] = self.config.client_id
        return _with_query(meta.end_session_endpoint, params)


def _with_query(url: str, params: Mapping[str, str]) -> str:
    return url + ("&" if "?" in url else "?") + urlencode(params)


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _oauth_error(response: httpx.Response) -> str:
    error = _json(response).get("error")
    return error if isinstance(error, str) and _ERROR_CODE.match(error) else "other"
