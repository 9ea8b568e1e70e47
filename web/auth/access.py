"""What views call to know who is logged in.

``await require_patient(request)`` returns the logged-in patient, or raises
:class:`LoginRequired`: a page load is redirected (303) to the login with
``next`` set to where the user was; an htmx request gets 401 with
``HX-Redirect`` (htmx then loads the login as a whole page, never swapping a
login page into a fragment). ``LoginRequired`` is an ``HTTPException``, so
this works with the app's general handler; :func:`login_required` is a
dedicated handler that also clears the dead session cookie.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote, urlsplit

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from booking.audit import Actor
from idporten.redirects import safe_next
from web.auth.config import PATIENT_PATHS, STAFF_PATHS, Audience
from web.auth.services import services
from web.auth.sessions import Session
from web.auth.staff import StaffGrant, StaffPrincipal, staff_actor


@dataclass(frozen=True)
class PatientPrincipal:
    patient_id: int
    session: Session

    @property
    def actor(self) -> Actor:
        return Actor.patient(self.patient_id)

    @property
    def locale(self) -> str | None:
        return self.session.locale


class LoginRequired(HTTPException):
    def __init__(self, request: Request, audience: Audience) -> None:
        paths = PATIENT_PATHS if audience == "patient" else STAFF_PATHS
        target = paths.login
        back = _return_path(request)
        if back is not None:
            target += "?next=" + quote(back, safe="/")
        self.audience = audience
        self.target = target
        if request.headers.get("hx-request") == "true":
            super().__init__(401, headers={"HX-Redirect": target, "Cache-Control": "no-store"})
        else:
            super().__init__(303, headers={"Location": target, "Cache-Control": "no-store"})


def _return_path(request: Request) -> str | None:
    """Where to come back to: for htmx the page the user is on (``HX-Current-URL``,
    same origin only), else this request's address if it was a page load."""
    if request.headers.get("hx-request") == "true":
        current = request.headers.get("hx-current-url", "")
        parts = urlsplit(current)
        if parts.netloc and parts.netloc != request.url.netloc:
            return None
        path = parts.path + (f"?{parts.query}" if parts.query else "")
    elif request.method in ("GET", "HEAD"):
        path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    else:
        return None
    checked = safe_next(path, default="")
    return checked or None


async def current_session(request: Request, audience: Audience = "patient"
                          ) -> Session | None:
    """The live session of this request (checked once per request), or None."""
    cache = request.scope.setdefault("state", {}).setdefault("tanntid_sessions", {})
    if audience not in cache:
        svc = services(request.app)
        cookie = request.cookies.get(svc.cookie(audience).name)
        cache[audience] = await svc.sessions.get(cookie, audience)
    session: Session | None = cache[audience]
    return session


async def require_patient(request: Request) -> PatientPrincipal:
    session = await current_session(request, "patient")
    if session is None or session.patient_id is None:
        raise LoginRequired(request, "patient")
    return PatientPrincipal(session.patient_id, session)


async def require_staff(request: Request) -> StaffPrincipal:
    """The logged-in staff member with today's clinics (always inside their county)."""
    session = await current_session(request, "staff")
    if session is None or "county_id" not in session.data:
        raise LoginRequired(request, "staff")
    grant = StaffGrant.from_data(session.data)
    return StaffPrincipal(grant, await staff_actor(request.app.state.db, grant))


async def login_required(request: Request, exc: Exception) -> Response:
    """Exception handler for :class:`LoginRequired`."""
    assert isinstance(exc, LoginRequired)
    response = Response(status_code=exc.status_code, headers=exc.headers)
    policy = services(request.app).cookie(exc.audience)
    if policy.name in request.cookies:
        policy.clear(response)
    response.headers.add_vary_header("HX-Request")
    return response


#: Where no page is rendered, so no header needs to know about the session.
_NO_PAGES = ("/static/", "/healthz", "/readyz", "/metrics", "/webhooks/")


class LiveSessionMiddleware:
    """Whether this request has a live patient session, for the page header
    ("My page" and "Log out", or "Log in"): looked up once per request that
    carries the session cookie (:func:`current_session`, which the views'
    :func:`require_patient` then reuses), never guessed from the cookie
    alone, which outlives a session ended by the idle limit or by logout
    elsewhere. Read by ``web.templating``; it decides which header links
    show, never what a page may show."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not scope["path"].startswith(_NO_PAGES):
            request = Request(scope)
            if services(request.app).cookie("patient").name in request.cookies:
                try:
                    session = await current_session(request, "patient")
                except Exception:  # the store is down: the view says so if it needs it
                    session = None
                request.state.signed_in = session is not None and session.patient_id is not None
        await self.app(scope, receive, send)
