"""The clinic console (``/staff/klinikk/{slug}/…``): the reception desk's day,
attendance marks, finding a patient and the patient's page for staff.

Each module is one idea: :mod:`.scope` (who may open which clinic),
:mod:`.day` (the day view), :mod:`.attendance` (an opened appointment and its
marks), :mod:`.patients` (find a patient, the patient's page), :mod:`.on_behalf`
(book, call in, change and cancel on the patient's behalf), :mod:`.waitlist`
(the clinic's waitlist, and putting a patient on it). Every route
checks the role and the clinic: another clinic's or county's ids get 404 and
an audit entry, before anything is read or changed.
"""

from __future__ import annotations

from starlette.routing import BaseRoute, Route

from web.views.clinic import attendance, day, on_behalf, patients, waitlist
from web.views.clinic.scope import BASE


def routes() -> list[BaseRoute]:
    clinic = f"{BASE}/{{slug}}"
    appointment = f"{clinic}/time/{{appointment_id}}"
    return [
        Route(BASE, day.home, name="clinic_home"),
        Route(f"{clinic}/dag", day.day_page, name="clinic_day"),
        Route(appointment, attendance.appointment_page, name="clinic_appointment"),
        Route(f"{appointment}/merk", attendance.mark, methods=["POST"], name="clinic_mark"),
        Route(f"{appointment}/angre", attendance.undo, methods=["POST"], name="clinic_undo"),
        Route(f"{clinic}/finn", patients.find_page, name="clinic_find"),
        Route(f"{clinic}/finn", patients.find, methods=["POST"], name="clinic_find_post"),
        Route(f"{clinic}/pasient/{{token}}", patients.patient_page, name="clinic_patient"),
        *on_behalf.routes(),
        *waitlist.routes(),
    ]
