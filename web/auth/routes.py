"""Login, logout and front-channel logout routes, for patients (ID-porten,
``/auth/…``) and staff (the county's identity provider, ``/staff/auth/…``),
and the local test provider at ``/dev/idporten`` where no real one is set.

Wire with ``auth_routes(settings)`` in the URL map and
``exception_handlers()`` in the app; call ``services.shutdown(app)`` when the
app stops.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlsplit

import structlog
from cryptography.fernet import InvalidToken
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route

from booking.reasons import N_
from booking.rules import local_date
from core.settings import Settings, SettingsError
from idporten.client import LoginFailed, PendingLogin, TokenResult
from idporten.metadata import ProviderMetadata
from idporten.redirects import safe_next
from web import i18n
from web.auth.access import LoginRequired, login_required
from web.auth.config import LOCAL_PATH, PATIENT_PATHS, STAFF_PATHS, Audience, Paths
from web.auth.pages import render
from web.auth.patients import patient_for_login
from web.auth.services import AuthServices, services
from web.auth.staff import grant_for_login
from web.oversight import directory as staff_directory
from web.ratelimits import BROWSER_COOKIE, BROWSER_SECONDS, check_login

log = structlog.get_logger("tanntid.auth")

TRANSIENT_SECONDS: Final = 600

#: Why a login was refused: (HTTP status, message). Codes not listed get "failed".
REFUSALS: Final[Mapping[str, tuple[int, str]]] = {
    "failed": (400, N_("We could not log you in. Please try again.")),
    "cancelled": (400, N_("The login was cancelled. You can try again when you are ready.")),
    "login_expired": (400, N_("The login took too long, or was started in another window. "
                              "Please start again.")),
    "state_mismatch": (400, N_("The login took too long, or was started in another window. "
                               "Please start again.")),
    "acr": (403, N_("This service needs a more secure way of logging in. Please log in "
                    "again with BankID, Buypass or Commfides.")),
    "missing_pid": (403, N_("We could not find a Norwegian national identity number or "
                            "D number in your login, and this service needs one.")),
    "invalid_pid": (403, N_("We could not find a Norwegian national identity number or "
                            "D number in your login, and this service needs one.")),
    "too_young": (403, N_("Children under 12 cannot log in themselves. A parent or guardian "
                          "can log in and see the child's appointments.")),
    "not_staff": (403, N_("Your user has no role in this service. Ask your county's "
                          "administrator for access.")),
    "unavailable": (503, N_("The login service is not answering right now. Please try again "
                            "in a little while.")),
}


@dataclass(frozen=True)
class Flow:
    audience: Audience
    paths: Paths

    @property
    def default_next(self) -> str:
        return "/min-side" if self.audience == "patient" else "/staff"

    @property
    def login_cookie(self) -> str:
        return "tanntid-login" if self.audience == "patient" else "tanntid-staff-login"

    @property
    def logout_cookie(self) -> str:
        return "tanntid-logout" if self.audience == "patient" else "tanntid-staff-logout"

    # --- login ---------------------------------------------------------------

    async def login(self, request: Request) -> Response:
        svc = services(request.app)
        # Each start is a pushed authorization request to the provider.
        browser = await check_login(request, svc.cookie(self.audience).name)
        next_path = safe_next(request.query_params.get("next"), self.default_next)
        locale = i18n.activate(request)
        try:
            url, pending = await svc.client(self.audience).start(next_path=next_path,
                                                                 locale=locale)
        except LoginFailed as exc:
            return self.refuse(request, exc.code)
        response = RedirectResponse(url, status_code=303)
        response.headers["Cache-Control"] = "no-store"
        self._set_transient(response, svc, self.login_cookie, self.paths.prefix,
                            pending.dumps())
        response.set_cookie(BROWSER_COOKIE, browser, max_age=BROWSER_SECONDS,
                            path=self.paths.login, secure=svc.cookie(self.audience).secure,
                            httponly=True, samesite="lax")
        return response

    async def callback(self, request: Request) -> Response:
        svc = services(request.app)
        raw = self._read_transient(svc, request.cookies.get(self.login_cookie))
        try:
            if raw is None:
                raise LoginFailed("login_expired")
            pending = PendingLogin.loads(raw)
            result = await svc.client(self.audience).finish(request.query_params, pending,
                                                            now=svc.clock())
            value = await self._start_session(request, svc, result)
        except LoginFailed as exc:
            response = self.refuse(request, exc.code)
        else:
            response = RedirectResponse(pending.next, status_code=303)
            response.headers["Cache-Control"] = "no-store"
            svc.cookie(self.audience).set(response, value)
        # Wonderwall: the login cookie is cleared whatever happened.
        self._clear_transient(response, svc, self.login_cookie, self.paths.prefix)
        return response

    async def _start_session(self, request: Request, svc: AuthServices,
                             result: TokenResult) -> str:
        """A new session (a new id: no fixation) for a validated login; the old
        session of this browser, if any, ends."""
        claims = result.claims
        issuer = str(claims.claims["iss"])
        data: dict[str, Any] = {"acr": claims.acr, "amr": list(claims.amr),
                                "locale": claims.locale}
        patient_id = None
        db = request.app.state.db
        if self.audience == "patient":
            patient_id = await patient_for_login(
                db, request.app.state.vault, claims, today=local_date(svc.clock()),
                register=getattr(request.app.state, "population_register", None))
        else:
            grant = await grant_for_login(db, issuer, claims)
            data.update(grant.to_data())
            await staff_directory.remember(db, grant)
        await svc.sessions.end(request.cookies.get(svc.cookie(self.audience).name))
        value, _session = await svc.sessions.create(
            self.audience, issuer=issuer, sid=claims.sid, patient_id=patient_id, data=data,
            id_token=result.id_token)
        log.info("login", kind=self.audience, patient_id=patient_id, acr=claims.acr,
                 amr=list(claims.amr), locale=claims.locale, auth_time=claims.auth_time)
        return value

    def refuse(self, request: Request, code: str) -> Response:
        """A clear page, in the reader's language; no session is created."""
        log.warning("login_refused", kind=self.audience, reason=code)
        status, message = REFUSALS.get(code, REFUSALS["failed"])
        return render(request, "auth/error.html", {
            "message": message, "retry": self.paths.login, "status": status,
        }, status_code=status)

    # --- logout --------------------------------------------------------------

    async def logout(self, request: Request) -> Response:
        """End the local session, then the provider's (RP-Initiated Logout §2),
        with ``id_token_hint``, ``post_logout_redirect_uri`` and ``state``."""
        svc = services(request.app)
        policy = svc.cookie(self.audience)
        session = await svc.sessions.end(request.cookies.get(policy.name))
        state = secrets.token_urlsafe(24)
        try:
            target = await svc.client(self.audience).end_session_url(
                id_token_hint=session.id_token if session else None, state=state)
        except LoginFailed:
            target = None
        response = RedirectResponse(target or "/", status_code=303)
        response.headers["Cache-Control"] = "no-store"
        policy.clear(response)
        if target:
            self._set_transient(response, svc, self.logout_cookie, self.paths.logout, state)
        log.info("logout", kind=self.audience, had_session=session is not None)
        return response

    async def logout_callback(self, request: Request) -> Response:
        svc = services(request.app)
        expected = self._read_transient(svc, request.cookies.get(self.logout_cookie))
        got = request.query_params.get("state", "")
        if expected is None or not secrets.compare_digest(got.encode(), expected.encode()):
            # Nothing to protect here (the session is gone already); just note it.
            log.info("logout_state_mismatch", kind=self.audience)
        response = render(request, "auth/logged_out.html", {"login": self.paths.login})
        self._clear_transient(response, svc, self.logout_cookie, self.paths.logout)
        return response

    async def frontchannel_logout(self, request: Request) -> Response:
        """OIDC Front-Channel Logout 1.0 §2–3: the provider loads this in an
        iframe with ``iss`` and ``sid``; the session is found by ``sid``, not by
        cookie (third-party cookies are blocked). Framing is allowed for the
        provider's origins only."""
        svc = services(request.app)
        try:
            meta = await svc.client(self.audience).provider()
        except LoginFailed:
            return Response(status_code=202, headers={"Cache-Control": "no-store"})
        headers = _frame_headers(meta)
        sid = request.query_params.get("sid")
        iss = request.query_params.get("iss")
        if not sid:  # Wonderwall: nothing to find; accept and ignore
            return Response(status_code=202, headers=headers)
        if iss is not None and iss != meta.issuer:  # §2: iss must be the provider's
            return Response(status_code=400, headers=headers)
        ended = await svc.sessions.end_by_sid(meta.issuer, sid)
        log.info("frontchannel_logout", kind=self.audience, sessions=ended)
        return Response(status_code=200, headers=headers)

    # --- short-lived encrypted cookies ----------------------------------------------

    def _set_transient(self, response: Response, svc: AuthServices, name: str, path: str,
                       value: str) -> None:
        response.set_cookie(name, svc.transient.encrypt(value.encode()).decode(),
                            max_age=TRANSIENT_SECONDS, path=path,
                            secure=svc.cookie(self.audience).secure, httponly=True,
                            samesite="lax")

    def _clear_transient(self, response: Response, svc: AuthServices, name: str,
                         path: str) -> None:
        response.delete_cookie(name, path=path, secure=svc.cookie(self.audience).secure,
                               httponly=True, samesite="lax")

    @staticmethod
    def _read_transient(svc: AuthServices, value: str | None) -> str | None:
        if not value:
            return None
        try:
            return svc.transient.decrypt(value.encode(), ttl=TRANSIENT_SECONDS).decode()
        except (InvalidToken, ValueError):
            return None


def _frame_headers(meta: ProviderMetadata) -> dict[str, str]:
    origins = sorted({_origin(url) for url in (meta.authorization_endpoint,
                                               meta.end_session_endpoint or "", meta.issuer)
                      if url})
    return {
        "Cache-Control": "no-store",
        "Content-Security-Policy": "default-src 'none'; frame-ancestors 'self' "
                                   + " ".join(origins),
    }


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def auth_routes(settings: Settings) -> list[BaseRoute]:
    """Every login route; the local test provider too when a provider is unset."""
    routes: list[BaseRoute] = []
    for flow in (Flow("patient", PATIENT_PATHS), Flow("staff", STAFF_PATHS)):
        name = "auth" if flow.audience == "patient" else "staff_auth"
        paths = flow.paths
        routes += [
            Route(paths.login, flow.login, name=f"{name}_login"),
            Route(paths.callback, flow.callback, name=f"{name}_callback"),
            Route(paths.logout, flow.logout, methods=["POST"], name=f"{name}_logout"),
            Route(paths.logout_callback, flow.logout_callback, name=f"{name}_logout_callback"),
            Route(paths.frontchannel_logout, flow.frontchannel_logout,
                  name=f"{name}_frontchannel_logout"),
        ]
    if settings.local_login:
        if settings.is_production:
            raise SettingsError("refusing to mount the local test ID-porten in production")
        from web.auth.local import local_provider  # the demo's people: never in production

        routes.append(Mount(LOCAL_PATH, app=local_provider(settings),
                            name="local_idporten"))
    return routes


def exception_handlers() -> dict[Any, Any]:
    """Add to the app's handlers: a login-required answer without a page body."""
    return {LoginRequired: login_required}
