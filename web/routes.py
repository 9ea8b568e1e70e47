"""The whole URL map in one list."""

from __future__ import annotations

from pathlib import Path

from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from idporten.routes import auth_routes
from web import health
from web.settings import Settings
from web.views import calendar as calendar_links
from web.views import clinics, home, language

STATIC = Path(__file__).parent / "static"


def build_routes(settings: Settings) -> list[BaseRoute]:
    return [
        Route("/", home.landing, name="home"),
        Route("/language", language.choose, methods=["POST"], name="language"),
        Route("/klinikker", clinics.search, name="clinics"),
        Route("/klinikker/{slug}", clinics.detail, name="clinic"),
        Route("/kalender/{token}.ics", calendar_links.calendar_file, name="calendar_file"),
        Route("/veibeskrivelse/{token}", calendar_links.directions, name="directions"),
        Route("/healthz", health.healthz, name="healthz"),
        Route("/readyz", health.readyz, name="readyz"),
        Mount("/static", app=StaticFiles(directory=STATIC), name="static"),
        *auth_routes(settings),
    ]
