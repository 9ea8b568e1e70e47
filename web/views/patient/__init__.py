"""The patient's own pages (and, under the representation rules, their
children's): home after login, appointments, one appointment, confirm,
check in on the day ("Jeg er her"), cancel, and who has seen my data.

Every route needs a patient login and decides on whose behalf the user acts
(``web.acting``) before anything is read. Wire with ``*patient.routes()`` in
``web.routes.build_routes``.
"""

from __future__ import annotations

from starlette.routing import BaseRoute, Route

from web.views.patient import access_log, actions, appointments, home


def routes() -> list[BaseRoute]:
    return [
        Route("/min-side", home.home, name="patient_home"),
        Route(home.CONFIRM_ALL_PATH, home.confirm_all, methods=["POST"],
              name="patient_confirm_all"),
        Route("/timer", appointments.list_page, name="appointments"),
        Route("/timer/{appointment_id}", appointments.detail, name="appointment"),
        Route("/timer/{appointment_id}/bekreft", actions.confirm, methods=["POST"],
              name="appointment_confirm"),
        Route("/timer/{appointment_id}/her", actions.check_in, methods=["POST"],
              name="appointment_check_in"),
        Route("/timer/{appointment_id}/avbestill", actions.cancel_page,
              name="appointment_cancel_page"),
        Route("/timer/{appointment_id}/avbestill", actions.cancel, methods=["POST"],
              name="appointment_cancel"),
        Route("/innsyn", access_log.access_log, name="access_log"),
    ]
