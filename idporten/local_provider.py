"""A local ID-porten for development and tests, mounted at ``/dev/idporten``.

A real OpenID Connect provider that behaves like ID-porten where the app can
tell: discovery, JWKS, pushed authorization requests (RFC 9126), the
authorization endpoint (a page like ID-porten's TestID listing synthetic
persons, plus a field for any synthetic number, with a choice of level;
``login_hint=testid:<number>[_idporten-loa-high]`` logs in at once, like
Digdir's headless TestID), the token endpoint (client authentication with
``private_key_jwt`` or ``client_secret_post`` as registered, PKCE S256,
``redirect_uri``, single-use codes) and end session, whose page loads each
client's front-channel logout URI with ``iss`` and ``sid`` in iframes. The
staff client gets synthetic staff users instead of persons.

The application hands it what it needs: the registered clients, the persons
and staff users to list, and a ``render`` for its pages (this package's
``templates`` in the application's layout).

State (pushed requests, login pages, codes, sessions, seen client
assertions, the signing key) is kept in the service's database
(:mod:`idporten.local_state`), so a login works whichever process of several
answers each step. Dev and tests only: the provider refuses to exist in
production.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Any, Final, Protocol
from urllib.parse import urlencode, urlsplit

import jwt
import structlog
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route, Router
from starlette.types import Receive, Scope, Send

from core.identity import InvalidIdentityNumber, parse
from core.locale import LANGUAGES
from core.oauth import CLIENT_ASSERTION_TYPE
from idporten import acr as levels
from idporten.local_clients import RegisteredClient
from idporten.local_state import ProviderState
from idporten.local_users import StaffTestUser, TestPerson
from idporten.tokens import ALLOWED_ALGORITHMS

log = structlog.get_logger("tanntid.local_idporten")

#: The provider's own pages: ``local_authorize.html``, ``local_error.html``
#: and ``local_logout.html``.
TEMPLATES: Final = Path(__file__).parent / "templates"

CODE_LIFETIME: Final = 60
PAR_LIFETIME: Final = 90
PAGE_LIFETIME: Final = 600
ID_TOKEN_LIFETIME: Final = 120
LOCALES: Final = LANGUAGES
_VERIFIER_CHARS: Final = frozenset(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")


class PageRenderer(Protocol):
    """Renders one of :data:`TEMPLATES`' pages in the reader's language."""

    def __call__(self, request: Request, name: str, context: Mapping[str, Any] | None = None,
                 *, status_code: int = 200) -> Response: ...


def _no_persons(today: date) -> Sequence[TestPerson]:
    return ()


@dataclass(frozen=True)
class AuthorizationRequest:
    client_id: str
    redirect_uri: str
    scope: str
    state: str
    nonce: str
    code_challenge: str
    acr: str
    locale: str
    login_hint: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class Login:
    """Who logged in: a person (``pid``) or a staff test user."""

    acr: str
    pid: str | None = field(default=None, repr=False)
    staff: StaffTestUser | None = None


#: How long the provider remembers a session (for front-channel logout).
SESSION_LIFETIME: Final = 24 * 3600


@dataclass
class Grant:
    request: AuthorizationRequest
    login: Login
    sid: str
    auth_time: int
    expires: float

    def stored(self) -> dict[str, Any]:
        return {"request": asdict(self.request), "acr": self.login.acr, "pid": self.login.pid,
                "staff": self.login.staff.key if self.login.staff else None, "sid": self.sid,
                "auth_time": self.auth_time, "expires": self.expires}

    @classmethod
    def from_stored(cls, value: dict[str, Any],
                    staff_by_key: Mapping[str, StaffTestUser]) -> Grant:
        staff = staff_by_key[value["staff"]] if value["staff"] else None
        return cls(AuthorizationRequest(**value["request"]),
                   Login(acr=value["acr"], pid=value["pid"], staff=staff),
                   value["sid"], value["auth_time"], value["expires"])


def _pem(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode("ascii")


class OAuthError(Exception):
    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.error, self.description, self.status = error, description, status

    def response(self) -> JSONResponse:
        return JSONResponse({"error": self.error, "error_description": self.description},
                            status_code=self.status, headers={"Cache-Control": "no-store"})


def load_or_create_key(path: Path | None) -> rsa.RSAPrivateKey:
    """The signing key: kept in ``path`` (dev, so restarts keep sessions valid),
    or new for this process."""
    if path is not None and path.exists():
        loaded = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if isinstance(loaded, rsa.RSAPrivateKey):
            return loaded
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
        path.chmod(0o600)
    return key


def s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


class LocalProvider:
    """An ASGI app; mount it at the path of ``issuer``. ``persons(today)``
    are the persons the login page lists, ``staff_users`` the staff users."""

    def __init__(self, *, issuer: str, clients: dict[str, RegisteredClient],
                 key: rsa.RSAPrivateKey, render: PageRenderer,
                 persons: Callable[[date], Sequence[TestPerson]] = _no_persons,
                 staff_users: Sequence[StaffTestUser] = (),
                 allow_synthetic_only: bool = True,
                 today: Callable[[], date] = date.today,
                 clock: Callable[[], float] = time.time,
                 pairwise_key: bytes | None = None,
                 state: ProviderState | None = None) -> None:
        """``state``: where logins in progress are kept; by default the
        database of the app the provider is mounted in (``app.state.db``).
        ``pairwise_key`` keys the pairwise ``sub``: every process of one
        installation needs the same one (``web.auth.local`` derives it from
        ``SECRET_KEY``)."""
        self.issuer = issuer
        self.path = urlsplit(issuer).path
        self.clients = clients
        self.render = render
        self.persons = persons
        self.staff_users = tuple(staff_users)
        self.staff_by_key = {user.key: user for user in self.staff_users}
        self.today = today
        self.clock = clock
        self.allow_synthetic_only = allow_synthetic_only
        self._use_key(key)
        # Until the first request has agreed with the other processes on one key.
        self._key_shared = False
        self._pairwise_key = pairwise_key or secrets.token_bytes(32)
        self._state = state
        # Switches for tests (Wonderwall's mock has the same): what is advertised.
        self.advertise_par = True
        self.iss_in_response = True
        self.router = Router(routes=[
            Route("/.well-known/openid-configuration", self.discovery),
            Route("/jwks.json", self.jwks),
            Route("/par", self.par, methods=["POST"]),
            Route("/authorize", self.authorize, methods=["GET", "POST"]),
            Route("/token", self.token, methods=["POST"]),
            Route("/logout", self.end_session, methods=["GET", "POST"]),
        ])

    def _use_key(self, key: rsa.RSAPrivateKey) -> None:
        self.key = key
        public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
        self.kid = hashlib.sha256(public["n"].encode()).hexdigest()[:16]
        self.public_jwk = {**public, "kid": self.kid, "use": "sig", "alg": "RS256"}

    def state(self, request: Request) -> ProviderState:
        if self._state is None:
            self._state = ProviderState(request.app.state.db, self.clock)
        return self._state

    async def _shared_key(self, request: Request) -> None:
        """One signing key for every process: the first to ask keeps its own
        in the shared state; the others take that one."""
        if self._key_shared:
            return
        kept = await self.state(request).keep("key", "signing", {"pem": _pem(self.key)})
        if kept["pem"] != _pem(self.key):
            loaded = serialization.load_pem_private_key(kept["pem"].encode("ascii"),
                                                        password=None)
            assert isinstance(loaded, rsa.RSAPrivateKey)
            self._use_key(loaded)
        self._key_shared = True

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.router(scope, receive, send)

    def url(self, endpoint: str) -> str:
        return f"{self.issuer}/{endpoint}"

    # --- metadata ----------------------------------------------------------------

    async def discovery(self, request: Request) -> Response:
        doc: dict[str, Any] = {
            "issuer": self.issuer,
            "authorization_endpoint": self.url("authorize"),
            "token_endpoint": self.url("token"),
            "jwks_uri": self.url("jwks.json"),
            "end_session_endpoint": self.url("logout"),
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": ["authorization_code"],
            "subject_types_supported": ["pairwise"],
            "scopes_supported": ["openid", "profile"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt"],
            "token_endpoint_auth_signing_alg_values_supported": list(ALLOWED_ALGORITHMS),
            "code_challenge_methods_supported": ["S256"],
            "acr_values_supported": [levels.SUBSTANTIAL, levels.HIGH],
            "ui_locales_supported": list(LOCALES),
            "claims_supported": ["iss", "sub", "aud", "exp", "iat", "nonce", "acr", "amr",
                                 "auth_time", "sid", "pid", "locale"],
            "authorization_response_iss_parameter_supported": self.iss_in_response,
            "frontchannel_logout_supported": True,
            "frontchannel_logout_session_supported": True,
            "request_uri_parameter_supported": False,
        }
        if self.advertise_par:
            doc["pushed_authorization_request_endpoint"] = self.url("par")
        return JSONResponse(doc)

    async def jwks(self, request: Request) -> Response:
        await self._shared_key(request)
        return JSONResponse({"keys": [self.public_jwk]})

    # --- pushed authorization requests (RFC 9126) ------------------------------------

    async def par(self, request: Request) -> Response:
        form = dict(await request.form())
        try:
            client = await self._authenticate(request, form)
            if "request_uri" in form:  # RFC 9126 §2.1
                raise OAuthError("invalid_request", "request_uri is not allowed here")
            auth_request = self._validate(dict(form), client)
        except OAuthError as exc:
            return exc.response()
        request_uri = "urn:tanntid-local:par:" + secrets.token_urlsafe(24)
        await self.state(request).put("par", request_uri, asdict(auth_request), PAR_LIFETIME)
        return JSONResponse({"request_uri": request_uri, "expires_in": PAR_LIFETIME},
                            status_code=201, headers={"Cache-Control": "no-store"})

    # --- authorization endpoint --------------------------------------------------------

    async def authorize(self, request: Request) -> Response:
        params = dict(request.query_params)
        if request.method == "POST":  # OIDC Core §3.1.2.1: GET and POST
            params.update({k: v for k, v in (await request.form()).items()
                           if isinstance(v, str)})
        if "txn" in params:
            return await self._page_submitted(request, params)
        client = self.clients.get(params.get("client_id", ""))
        if client is None:
            return self._error_page(request, "unknown client_id")
        if "request_uri" in params:
            pushed = await self.state(request).take("par", params["request_uri"])  # single use
            if pushed is None or pushed["client_id"] != client.client_id:
                return self._error_page(request, "unknown or expired request_uri")
            auth_request = AuthorizationRequest(**pushed)
            if params.get("login_hint"):  # the headless test login adds it to the URL
                auth_request = replace(auth_request, login_hint=params["login_hint"])
        else:
            redirect_uri = params.get("redirect_uri", "")
            if redirect_uri not in client.redirect_uris:  # RFC 6749 §4.1.2.1: never redirect
                return self._error_page(request, "redirect_uri is not registered")
            try:
                auth_request = self._validate(params, client)
            except OAuthError as exc:
                return self._redirect_error(redirect_uri, params.get("state", ""), exc)
        hint = auth_request.login_hint or ""
        if hint.startswith("testid:"):
            return await self._headless(request, auth_request, client,
                                        hint.removeprefix("testid:"))
        txn = secrets.token_urlsafe(24)
        await self.state(request).put("page", txn, asdict(auth_request), PAGE_LIFETIME)
        return self._login_page(request, txn, auth_request, client)

    def _validate(self, params: dict[str, Any], client: RegisteredClient
                  ) -> AuthorizationRequest:
        """The checks ID-porten makes of an authorization request."""
        if params.get("client_id") != client.client_id:
            raise OAuthError("invalid_request", "client_id does not match")
        redirect_uri = str(params.get("redirect_uri", ""))
        if redirect_uri not in client.redirect_uris:
            raise OAuthError("invalid_request", "redirect_uri is not registered")
        if params.get("response_type") != "code":
            raise OAuthError("unsupported_response_type", "only code")
        scope = str(params.get("scope", ""))
        if "openid" not in scope.split():
            raise OAuthError("invalid_scope", "openid is required")
        if params.get("code_challenge_method") != "S256" or not params.get("code_challenge"):
            raise OAuthError("invalid_request", "PKCE with S256 is required")
        if not params.get("state") or not params.get("nonce"):
            raise OAuthError("invalid_request", "state and nonce are required")
        requested = str(params.get("acr_values", levels.SUBSTANTIAL)).split()
        acr = next((a for a in requested if a in (levels.SUBSTANTIAL, levels.HIGH)),
                   levels.SUBSTANTIAL)
        locale = next((loc for loc in str(params.get("ui_locales", "")).split()
                       if loc in LOCALES), "nb")
        return AuthorizationRequest(
            client_id=client.client_id, redirect_uri=redirect_uri, scope=scope,
            state=str(params["state"]), nonce=str(params["nonce"]),
            code_challenge=str(params["code_challenge"]), acr=acr, locale=locale,
            login_hint=str(params["login_hint"]) if params.get("login_hint") else None)

    async def _headless(self, request: Request, auth_request: AuthorizationRequest,
                  client: RegisteredClient, hint: str) -> Response:
        """Digdir's headless TestID: ``testid:<number>_<level>`` logs in at once."""
        number, _, level = hint.partition("_")
        acr = level if level in (levels.SUBSTANTIAL, levels.HIGH) else auth_request.acr
        if client.audience == "staff":
            user = self.staff_by_key.get(number)
            if user is None:
                return self._error_page(request, "unknown staff test user")
            return await self._issue_code(request, auth_request, Login(acr=acr, staff=user))
        if not self._acceptable_number(number):
            return self._error_page(request, "TestID accepts synthetic identity numbers only")
        return await self._issue_code(request, auth_request, Login(acr=acr, pid=number))

    def _acceptable_number(self, number: str) -> bool:
        try:
            parsed = parse(number, allow_synthetic=True)
        except InvalidIdentityNumber:
            return False
        return parsed.synthetic or not self.allow_synthetic_only

    async def _page_submitted(self, request: Request, params: dict[str, str]) -> Response:
        pending = await self.state(request).take("page", params["txn"])
        if pending is None:
            return self._error_page(request, "this login page has expired; start again")
        auth_request = AuthorizationRequest(**pending)
        client = self.clients[auth_request.client_id]
        if params.get("cancel"):  # the user cancelled: access_denied (RFC 6749 §4.1.2.1)
            return self._redirect_error(auth_request.redirect_uri, auth_request.state,
                                        OAuthError("access_denied", "the user cancelled"))
        acr = params.get("level", auth_request.acr)
        if acr not in (levels.SUBSTANTIAL, levels.HIGH):
            acr = auth_request.acr
        if client.audience == "staff":
            user = self.staff_by_key.get(params.get("user", ""))
            if user is not None:
                return await self._issue_code(request, auth_request,
                                              Login(acr=acr, staff=user))
        else:
            number = ""
            if params.get("person"):
                persons = {p.key: p for p in self.persons(self.today())}
                found = persons.get(params["person"])
                number = found.number if found else ""
            else:
                number = params.get("pid", "").strip().replace(" ", "")
            if number and self._acceptable_number(number):
                return await self._issue_code(request, auth_request, Login(acr=acr, pid=number))
        # Nothing usable chosen: show the page again with a message.
        txn = secrets.token_urlsafe(24)
        await self.state(request).put("page", txn, asdict(auth_request), PAGE_LIFETIME)
        return self._login_page(request, txn, auth_request, client, error=True, status=400)

    def _login_page(self, request: Request, txn: str, auth_request: AuthorizationRequest,
                    client: RegisteredClient, *, error: bool = False,
                    status: int = 200) -> Response:
        request.state.locale = auth_request.locale
        return self.render(request, "local_authorize.html", {
            "action": f"{self.path}/authorize", "txn": txn, "error": error,
            "staff": client.audience == "staff",
            "persons": [] if client.audience == "staff" else list(self.persons(self.today())),
            "staff_users": self.staff_users if client.audience == "staff" else (),
            "level": auth_request.acr, "levels": (levels.SUBSTANTIAL, levels.HIGH),
        }, status_code=status)

    async def _issue_code(self, request: Request, auth_request: AuthorizationRequest,
                          login: Login) -> Response:
        code = secrets.token_urlsafe(32)
        sid = secrets.token_urlsafe(24)
        grant = Grant(auth_request, login, sid, int(self.clock()), self.clock() + CODE_LIFETIME)
        state = self.state(request)
        # Used codes are kept a while after they expire, so a replay is recognised as one.
        await state.put("code", code, grant.stored(), CODE_LIFETIME + 600)
        await state.put("session", sid, {"clients": [auth_request.client_id]}, SESSION_LIFETIME)
        params = {"code": code, "state": auth_request.state}
        if self.iss_in_response:  # RFC 9207 §2
            params["iss"] = self.issuer
        return RedirectResponse(_with_query(auth_request.redirect_uri, params), 303)

    def _redirect_error(self, redirect_uri: str, state: str, exc: OAuthError) -> Response:
        params = {"error": exc.error, "error_description": exc.description, "state": state}
        if self.iss_in_response:
            params["iss"] = self.issuer
        return RedirectResponse(_with_query(redirect_uri, params), 303)

    def _error_page(self, request: Request, message: str) -> Response:
        return self.render(request, "local_error.html", {"message": message}, status_code=400)

    # --- token endpoint --------------------------------------------------------------

    async def token(self, request: Request) -> Response:
        form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
        try:
            client = await self._authenticate(request, form)
            return await self._exchange(request, form, client)
        except OAuthError as exc:
            log.info("local_token_refused", error=exc.error, reason=exc.description)
            return exc.response()

    async def _authenticate(self, request: Request, form: dict[str, Any]) -> RegisteredClient:
        """RFC 6749 §2.3 / OIDC Core §9: the registered method, and only that."""
        assertion_type = form.get("client_assertion_type")
        if assertion_type is not None:
            if assertion_type != CLIENT_ASSERTION_TYPE:
                raise OAuthError("invalid_client", "unknown client_assertion_type", 401)
            return await self._verify_assertion(request, str(form.get("client_assertion", "")),
                                                form.get("client_id"))
        client = self.clients.get(str(form.get("client_id", "")))
        secret = form.get("client_secret")
        if client is None or client.secret is None or not isinstance(secret, str):
            raise OAuthError("invalid_client", "client authentication failed", 401)
        if not hmac.compare_digest(secret.encode(), client.secret.encode()):
            raise OAuthError("invalid_client", "client authentication failed", 401)
        return client

    async def _verify_assertion(self, request: Request, assertion: str,
                                form_client_id: object) -> RegisteredClient:
        """RFC 7523 §3 as Digdir applies it: signed with the registered key,
        iss = sub = client_id, aud = our issuer (or token URL), short-lived,
        jti used once."""
        try:
            unverified = jwt.decode(assertion, options={"verify_signature": False})
        except jwt.PyJWTError as exc:
            raise OAuthError("invalid_client", "malformed client assertion", 401) from exc
        client = self.clients.get(str(unverified.get("iss", "")))
        if client is None or client.public_jwk is None:
            raise OAuthError("invalid_client", "unknown client or not private_key_jwt", 401)
        if form_client_id is not None and form_client_id != client.client_id:
            raise OAuthError("invalid_client", "client_id does not match the assertion", 401)
        try:
            claims = jwt.decode(
                assertion, jwt.PyJWK(client.public_jwk).key, algorithms=list(ALLOWED_ALGORITHMS),
                audience=[self.issuer, self.url("token")], issuer=client.client_id,
                options={"require": ["iss", "sub", "aud", "exp", "iat", "jti"]}, leeway=5,
            )
        except jwt.PyJWTError as exc:
            raise OAuthError("invalid_client", f"client assertion: {type(exc).__name__}",
                             401) from exc
        if claims["sub"] != client.client_id or claims["exp"] - claims["iat"] > 120:
            raise OAuthError("invalid_client", "client assertion claims", 401)
        if not await self.state(request).first_time("jti", f"{client.client_id}:{claims['jti']}",
                                                    float(claims["exp"]) + 5):
            raise OAuthError("invalid_client", "client assertion replayed", 401)
        return client

    async def _exchange(self, request: Request, form: dict[str, str],
                        client: RegisteredClient) -> Response:
        if form.get("grant_type") != "authorization_code":
            raise OAuthError("unsupported_grant_type", "authorization_code only")
        outcome, stored = await self.state(request).use("code", form.get("code", ""))
        if stored is None:
            raise OAuthError("invalid_grant", "unknown code")
        # RFC 6749 §4.1.2 / §10.5: a code works once; any second use is refused.
        if outcome == "used":
            raise OAuthError("invalid_grant", "code already used")
        grant = Grant.from_stored(stored, self.staff_by_key)
        if grant.expires < self.clock():
            raise OAuthError("invalid_grant", "code expired")
        if grant.request.client_id != client.client_id:
            raise OAuthError("invalid_grant", "code was issued to another client")
        if form.get("redirect_uri") != grant.request.redirect_uri:  # RFC 6749 §4.1.3
            raise OAuthError("invalid_grant", "redirect_uri does not match")
        verifier = form.get("code_verifier", "")
        # RFC 7636 §4.1 (43–128 unreserved characters) and §4.6 (S256).
        if not (43 <= len(verifier) <= 128) or not set(verifier) <= _VERIFIER_CHARS:
            raise OAuthError("invalid_grant", "code_verifier is malformed")
        if not hmac.compare_digest(s256(verifier), grant.request.code_challenge):
            raise OAuthError("invalid_grant", "PKCE verification failed")
        await self._shared_key(request)
        id_token = self.sign_id_token(self._claims(grant, client))
        return JSONResponse({
            "access_token": secrets.token_urlsafe(32), "token_type": "Bearer",
            "expires_in": ID_TOKEN_LIFETIME, "scope": grant.request.scope, "id_token": id_token,
        }, headers={"Cache-Control": "no-store", "Pragma": "no-cache"})

    def _claims(self, grant: Grant, client: RegisteredClient) -> dict[str, Any]:
        now = int(self.clock())
        claims: dict[str, Any] = {
            "iss": self.issuer, "aud": client.client_id, "iat": now,
            "exp": now + ID_TOKEN_LIFETIME, "jti": secrets.token_urlsafe(16),
            "nonce": grant.request.nonce, "sid": grant.sid, "auth_time": grant.auth_time,
            "locale": grant.request.locale,
        }
        login = grant.login
        if login.staff is not None:
            claims.update({
                "sub": login.staff.key, "name": login.staff.name, "amr": ["pwd"],
                "tanntid_roles": [str(r) for r in login.staff.roles],
                "tanntid_county": login.staff.county,
                "tanntid_clinics": list(login.staff.clinics),
            })
        else:
            assert login.pid is not None
            # ID-porten's sub is pairwise: stable per person and client, not the pid.
            sub = hmac.new(self._pairwise_key, f"{client.client_id}:{login.pid}".encode(),
                           hashlib.sha256).digest()
            claims.update({
                "sub": base64.urlsafe_b64encode(sub).rstrip(b"=").decode(),
                "pid": login.pid, "acr": login.acr, "amr": ["TestID"],
            })
        return claims

    def sign_id_token(self, claims: dict[str, Any]) -> str:
        """RS256 with our key (tests replace this to make bad tokens)."""
        return jwt.encode(claims, self.key, algorithm="RS256", headers={"kid": self.kid})

    # --- end session and front-channel logout ----------------------------------------

    async def end_session(self, request: Request) -> Response:
        """RP-Initiated Logout 1.0 §2; then OIDC Front-Channel Logout 1.0 §3: a
        page with one iframe per client of the session, each loading that client's
        front-channel logout URI with ``iss`` and ``sid``."""
        params = dict(request.query_params)
        if request.method == "POST":
            params.update({k: v for k, v in (await request.form()).items()
                           if isinstance(v, str)})
        sid, client_id = None, params.get("client_id")
        hint = params.get("id_token_hint")
        await self._shared_key(request)
        if hint:
            try:  # our own token; an expired one is still a good hint (§2)
                claims = jwt.decode(hint, self.key.public_key(), algorithms=["RS256"],
                                    issuer=self.issuer, options={"verify_exp": False,
                                                                 "verify_aud": False})
            except jwt.PyJWTError:
                return self._error_page(request, "id_token_hint is not valid")
            sid = claims.get("sid")
            client_id = claims.get("aud") if isinstance(claims.get("aud"), str) else client_id
        client = self.clients.get(client_id or "")
        frames = []
        session = await self.state(request).take("session", str(sid)) if sid else None
        if session is not None:
            for other in sorted(session["clients"]):
                registered = self.clients.get(other)
                if registered and registered.frontchannel_logout_uri:
                    frames.append(_with_query(registered.frontchannel_logout_uri,
                                              {"iss": self.issuer, "sid": str(sid)}))
        target = params.get("post_logout_redirect_uri")
        continue_to = None
        if client is not None and target in client.post_logout_redirect_uris:
            continue_to = _with_query(target, {"state": params["state"]}
                                      if params.get("state") else {})
        return self.render(request, "local_logout.html",
                      {"frames": frames, "continue_to": continue_to})


def _with_query(url: str, params: dict[str, str]) -> str:
    if not params:
        return url
    return url + ("&" if "?" in url else "?") + urlencode(params)
