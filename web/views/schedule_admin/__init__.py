"""The clinic admin's week (``/staff/klinikk/{slug}/uke``): each chair's
weekly schedule as a grid, changed block by block after a preview, and the
list of appointments a change left without their slot. The rules live in
:mod:`booking.schedule_changes`; every route checks role and clinic scope
(:mod:`web.views.schedule_admin.scope`)."""

from __future__ import annotations

from starlette.routing import BaseRoute, Route

from web.views.schedule_admin import (
    chairs,
    clinics,
    closures,
    copy,
    reopen,
    stranded,
    types,
    week,
)
from web.views.schedule_admin.scope import BASE


def routes() -> list[BaseRoute]:
    return [
        Route(clinics.PATH, clinics.index, name="schedule_clinics"),
        Route(types.PATH, types.list_page, name="appointment_types"),
        Route(f"{types.PATH}/ny", types.add, methods=["POST"], name="appointment_type_add"),
        Route(f"{types.PATH}/{{type_id:int}}", types.update, methods=["POST"],
              name="appointment_type_update"),
        Route(f"{BASE}/uke", week.week_page, name="schedule_week"),
        Route(f"{BASE}/uke/forhandsvis", week.preview, methods=["POST"],
              name="schedule_preview"),
        Route(f"{BASE}/uke/lagre", week.save, methods=["POST"], name="schedule_save"),
        Route(f"{BASE}/stenging/forhandsvis", closures.preview, methods=["POST"],
              name="schedule_closure_preview"),
        Route(f"{BASE}/stenging/lagre", closures.save, methods=["POST"],
              name="schedule_closure_save"),
        Route(f"{BASE}/uke/kopier", copy.copy_page, name="schedule_copy"),
        Route(f"{BASE}/uke/kopier/forhandsvis", copy.preview, methods=["POST"],
              name="schedule_copy_preview"),
        Route(f"{BASE}/uke/kopier/lagre", copy.save, methods=["POST"],
              name="schedule_copy_save"),
        Route(f"{BASE}/stenginger", reopen.list_page, name="schedule_closures"),
        Route(f"{BASE}/stenginger/{{closure_id:int}}/fjern/forhandsvis", reopen.preview,
              methods=["POST"], name="schedule_closure_remove_preview"),
        Route(f"{BASE}/stenginger/{{closure_id:int}}/fjern/lagre", reopen.save,
              methods=["POST"], name="schedule_closure_remove_save"),
        Route(f"{BASE}/uke/apne", chairs.release, methods=["POST"], name="schedule_release"),
        Route(f"{BASE}/stoler", chairs.list_page, name="schedule_chairs"),
        Route(f"{BASE}/stoler/ny", chairs.add, methods=["POST"], name="schedule_chair_add"),
        Route(f"{BASE}/stoler/{{chair_id:int}}/navn", chairs.rename, methods=["POST"],
              name="schedule_chair_rename"),
        Route(f"{BASE}/stoler/{{chair_id:int}}/deaktiver", chairs.deactivate, methods=["POST"],
              name="schedule_chair_deactivate"),
        Route(f"{BASE}/stoler/{{chair_id:int}}/aktiver", chairs.activate, methods=["POST"],
              name="schedule_chair_activate"),
        Route(f"{BASE}/strandet", stranded.list_page, name="schedule_stranded"),
        Route(f"{BASE}/strandet/{{stranding_id:int}}/behold", stranded.keep, methods=["POST"],
              name="schedule_stranded_keep"),
        Route(f"{BASE}/strandet/{{stranding_id:int}}/avlys", stranded.cancel,
              methods=["POST"], name="schedule_stranded_cancel"),
        Route(f"{BASE}/strandet/{{stranding_id:int}}/flytt", stranded.ask,
              methods=["POST"], name="schedule_stranded_ask"),
        Route(f"{BASE}/strandet/flytt-alle", stranded.ask_all,
              methods=["POST"], name="schedule_stranded_ask_all"),
    ]
