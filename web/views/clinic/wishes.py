"""The waitlist part of the staff appointment page
(``…/pasient/{token}/time/{appointment_id}``, :mod:`.on_behalf`): the entry
waiting, who put the patient on, and the wishes form with the patient
side's choices (:func:`web.views.patient.waitlist.wishes_choices`). The
routes that change it are in :mod:`.waitlist`."""

from __future__ import annotations

from typing import Any, Final

from booking import waitlist
from booking.models import Clinic
from booking.waitlist import Wishes
from core.db import Database
from web.views.clinic import words
from web.views.patient.waitlist import wishes_choices

#: The query flag of a done add/change (``lagt``) or removal (``fjernet``).
DONE_PARAM: Final = "venteliste"


async def waitlist_part(db: Database, clinic: Clinic, appointment_id: int, action: str, *,
                        chosen: Wishes | None = None, reason: str = "",
                        done: str | None = None) -> dict[str, Any]:
    """``action``: the appointment's path on the staff pages."""
    entry = await waitlist.entry_for_appointment(db, appointment_id)
    return {
        **await wishes_choices(db, clinic, entry, chosen),
        "added_by": words.ADDED_BY_TEXT.get(entry.created_by_kind) if entry else None,
        "action": f"{action}/venteliste", "remove_action": f"{action}/venteliste/fjern",
        "reason": reason,
        "done": words.WAITLIST_DONE_TEXT.get(done) if done else None,
    }
