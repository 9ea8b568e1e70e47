"""Pages anyone can read without logging in: the privacy notice
(*personvernerklæring*), the accessibility statement
(*tilgjengelighetserklæring*) and help and contact.

Plain language, every sentence through gettext (English msgids, one short
paragraph each, so translators see whole thoughts). The facts the pages state
come from the rules they describe (:mod:`booking.rules`,
:mod:`booking.representation`) rather than being typed twice.
"""

from __future__ import annotations

from datetime import date
from typing import Final

from babel.dates import format_date
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from booking.representation import LOGISTICS_FROM_AGE, OF_AGE_IN_HEALTH_MATTERS, SELF_LOGIN_FROM_AGE
from booking.rules import ADULT_AGE, LATE_CANCELLATION_WINDOW
from web import i18n
from web.auth.config import PATIENT_PATHS
from web.templating import render

#: When the accessibility statement was last reviewed (change with its content).
STATEMENT_UPDATED: Final = date(2026, 11, 22)

#: Outside addresses the pages link to, per language where the site has one.
LINKS: Final = {
    "krr": {"en": "https://www.norge.no/en/digital-citizen/update-your-contact-information",
            "*": "https://www.norge.no/nb/digital-borger/oppdater-kontaktinformasjon"},
    "datatilsynet": {"*": "https://www.datatilsynet.no/om-datatilsynet/kontakt-oss/"
                          "klage-til-datatilsynet/"},
    "uutilsynet": {"*": "https://www.uutilsynet.no/"},
    "diskrimineringsnemnda": {"*": "https://www.diskrimineringsnemnda.no/"},
    "idporten": {"*": "https://www.idporten.no/"},
}
#: ID-porten's user support (Digdir), and the national medical numbers (short
#: numbers are dialled as they are, without +47).
IDPORTEN_SUPPORT: Final = ("+4780030300", "800 30 300")
OUT_OF_HOURS: Final = ("116117", "116 117")
EMERGENCY: Final = ("113", "113")

#: Browsers may keep these pages a while: they change only with a release.
CACHE: Final = "public, max-age=600"


def link(name: str, locale: str) -> str:
    urls = LINKS[name]
    return urls.get(locale, urls["*"])


def _page(request: Request, template: str, **context: object) -> Response:
    locale = i18n.activate(request)
    links = {name: link(name, locale) for name in LINKS}
    response = render(request, template, {"links": links, **context})
    response.headers["Cache-Control"] = CACHE
    return response


async def privacy(request: Request) -> Response:
    return _page(request, "info/privacy.html")


async def accessibility(request: Request) -> Response:
    i18n.activate(request)
    return _page(request, "info/accessibility.html", updated=long_date(STATEMENT_UPDATED))


def long_date(day: date, locale: str | None = None) -> str:
    """A date inside a sentence, without weekday: "22. november 2026",
    "22 November 2026"."""
    locale = locale or i18n.get_locale()
    return format_date(day, "d MMMM y" if locale == "en" else "d. MMMM y", locale=locale)


async def help_page(request: Request) -> Response:
    settings = request.app.state.settings
    return _page(
        request, "info/help.html",
        login_path=PATIENT_PATHS.login,
        high_assurance=settings.idporten_acr == "idporten-loa-high",
        self_login_age=SELF_LOGIN_FROM_AGE,
        logistics_age=LOGISTICS_FROM_AGE,
        last_logistics_age=OF_AGE_IN_HEALTH_MATTERS - 1,
        of_age=OF_AGE_IN_HEALTH_MATTERS,
        adult_age=ADULT_AGE,
        late_hours=int(LATE_CANCELLATION_WINDOW.total_seconds() // 3600),
        idporten_support=IDPORTEN_SUPPORT,
        out_of_hours=OUT_OF_HOURS,
        emergency=EMERGENCY,
    )


def routes() -> list[BaseRoute]:
    return [
        Route("/personvern", privacy, name="privacy"),
        Route("/tilgjengelighet", accessibility, name="accessibility"),
        Route("/hjelp", help_page, name="help"),
    ]
