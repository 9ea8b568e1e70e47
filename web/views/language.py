"""Choosing a language: a POST form (it changes state: a cookie) that
redirects back to the page it was sent from."""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from web import i18n

ONE_YEAR = 365 * 24 * 3600


def local_path(target: str | None) -> str:
    """``target`` if it is a path on this site, else "/". Refuses absolute and
    scheme-relative addresses ("//evil.example", "/\\evil.example") and
    anything with control characters, so the redirect cannot leave the site."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return "/"
    if any(ord(char) < 0x20 or ord(char) == 0x7F or char == "\\" for char in target):
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return "/"
    return target


async def choose(request: Request) -> Response:
    form = await request.form()
    lang = form.get("lang")
    target = form.get("next")
    response = RedirectResponse(local_path(target if isinstance(target, str) else None),
                                status_code=303)
    if isinstance(lang, str) and lang in i18n.LOCALES:
        settings = request.app.state.settings
        response.set_cookie(i18n.COOKIE, lang, max_age=ONE_YEAR, path="/", httponly=True,
                            samesite="lax", secure=settings.public_url.startswith("https://"))
    return response
