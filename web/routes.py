"""The whole URL map in one list."""

from __future__ import annotations

from starlette.routing import BaseRoute, Mount, Route

from core.settings import Settings
from notifications import dev_outbox, metrics, webhooks
from web import health
from web.assets import STATIC, AssetFiles
from web.auth.routes import auth_routes
from web.views import (
    booking,
    callbacks,
    clinic,
    clinics,
    dashboards,
    home,
    info,
    language,
    move_request,
    patient,
    previsit,
    profile,
    refill,
    schedule_admin,
    support,
)
from web.views import calendar as calendar_links
from web.views import oversight as oversight_views


def build_routes(settings: Settings) -> list[BaseRoute]:
    return [
        Route("/", home.landing, name="home"),
        Route("/language", language.choose, methods=["POST"], name="language"),
        Route("/klinikker", clinics.search, name="clinics"),
        Route("/klinikker/{slug}", clinics.detail, name="clinic"),
        Route("/kalender/{token}.ics", calendar_links.calendar_file, name="calendar_file"),
        Route("/veibeskrivelse/{token}", calendar_links.directions, name="directions"),
        # The three links an SMS carries, one token for all (texts stay short).
        Route("/t/{token}.ics", calendar_links.sms_calendar_file, name="sms_calendar_file"),
        Route("/t/{token}/kart", calendar_links.sms_directions, name="sms_directions"),
        Route("/t/{token}/endre", calendar_links.sms_change, name="sms_change"),
        Route("/t/{token}/skjema", calendar_links.sms_form, name="sms_form"),
        Route("/t/{token}/flytt", move_request.pick_page, name="sms_move"),
        Route("/t/{token}/flytt", move_request.pick, methods=["POST"], name="sms_move_pick"),
        Route("/t/{token}", calendar_links.sms_appointment, name="sms_appointment"),
        Route("/healthz", health.healthz, name="healthz"),
        Route("/readyz", health.readyz, name="readyz"),
        Mount("/static", app=AssetFiles(directory=STATIC), name="static"),
        Route("/webhooks/twilio/status", webhooks.twilio_status, methods=["POST"],
              name="twilio_status"),
        Route("/webhooks/twilio/inbound", webhooks.twilio_inbound, methods=["POST"],
              name="twilio_inbound"),
        Route("/metrics", metrics.metrics_endpoint, name="metrics"),
        *([Route("/dev/sms", dev_outbox.dev_sms, name="dev_sms"),
           Route("/dev/sms/reply", dev_outbox.dev_sms_reply, methods=["POST"],
                 name="dev_sms_reply")] if settings.dev_tools else []),
        *patient.routes(),
        *refill.routes(),
        *booking.routes(),
        *profile.routes(),
        *info.routes(),
        *support.routes(),
        *dashboards.routes(),
        *previsit.routes(),
        *callbacks.routes(),
        *oversight_views.routes(),
        *schedule_admin.routes(),
        *clinic.routes(),
        *auth_routes(settings),
    ]
