"""Booking and changing a time from the patient pages.

Booking is a wizard of plain GET pages whose state lives in the address
(``for`` = internal patient id or ``me``, ``type`` = appointment type id,
``clinic`` = clinic slug, ``day`` = YYYY-MM-DD; never an identity number):

1. ``GET /bestill``: who (skipped when the user acts for nobody else), what,
   where, when — each a list of links or a GET form; the day of the slot
   picker swaps in place with htmx (block ``day``) and reloads without it.
2. ``POST /bestill/velg``: holds the chosen slot and redirects to
3. ``GET /bestill/bekreft``: the summary, with the hold key and a fresh
   idempotency key in hidden fields, and a confirm button that posts to
4. ``POST /bestill/bekreft``: books (once, however often it is sent) and
   redirects to
5. ``GET /timer/{id}/kvittering``: the receipt.

Changing: ``GET /timer/{id}/endre`` shows the picker for the same clinic and
kind; ``POST`` holds the new slot and calls ``service.change``, which
releases the old time only once the new one is claimed.

Each handler parses its input (:mod:`.inputs`), authorises (who may be booked
for is decided by :mod:`web.acting`: 404 and an audit entry otherwise), asks
the booking domain and renders. Which times are offered is decided by
:mod:`booking.picker`, holding a time (and its key, tied to the login
session) by :mod:`booking.holds`, what may be booked by :mod:`booking.rules`,
asked before holding for a precise message and again by the service.

Modules: :mod:`.wizard` (who, what, where, when), :mod:`.confirm` (summary,
booking, receipt), :mod:`.change`, and what they share: :mod:`.inputs`,
:mod:`.pages`, :mod:`.times` (the picker as shown).
"""

from __future__ import annotations

from starlette.routing import BaseRoute, Route

from web.views.booking.change import change_page, change_submit
from web.views.booking.confirm import confirm, receipt, summary
from web.views.booking.pages import BOOK, CHOOSE, CONFIRM
from web.views.booking.wizard import choose, start


def routes() -> list[BaseRoute]:
    return [
        Route(BOOK, start, methods=["GET"], name="book"),
        Route(CHOOSE, choose, methods=["POST"], name="book_choose"),
        Route(CONFIRM, summary, methods=["GET"], name="book_summary"),
        Route(CONFIRM, confirm, methods=["POST"], name="book_confirm"),
        Route("/timer/{appointment_id}/kvittering", receipt, name="receipt"),
        Route("/timer/{appointment_id}/endre", change_page, methods=["GET"], name="change"),
        Route("/timer/{appointment_id}/endre", change_submit, methods=["POST"],
              name="change_submit"),
    ]
