"""What the booking pages share: their addresses and messages, the choices
made so far as they travel in the address, and how a page is answered."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, Final
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from booking.holds import HoldKeys, HoldLimit
from booking.reasons import N_
from web.acting import ME, Acting
from web.ratelimits import limits
from web.templating import render

BOOK: Final = "/bestill"
CHOOSE: Final = "/bestill/velg"
CONFIRM: Final = "/bestill/bekreft"
NO_STORE: Final = {"Cache-Control": "no-store"}

FORM_CHANGED: Final = N_("This time is no longer kept for you. Please choose a time again.")
HOLD_EXPIRED: Final = N_(
    "We kept this time for you for a while, but that has run out. Please choose a time again.")
NO_SUCH_CLINIC: Final = N_("We could not find that clinic. Please choose again.")
NOT_AT_CLINIC: Final = N_(
    "This clinic does not offer this kind of appointment online. Please choose another clinic.")
CHOOSE_TIME: Final = N_("Choose a time.")
NOTHING_CHANGED: Final = N_("Nothing was changed.")


@dataclass(frozen=True)
class Wizard:
    """The choices made so far, as they travel in the address."""

    for_value: str
    type_id: int | None = None
    clinic: str | None = None

    def url(self, path: str = BOOK, **extra: str | int | None) -> str:
        query: dict[str, str | int] = {"for": self.for_value}
        if self.type_id is not None:
            query["type"] = self.type_id
        if self.clinic is not None:
            query["clinic"] = self.clinic
        query.update({k: v for k, v in extra.items() if v is not None})
        return f"{path}?{urlencode(query)}"

    def day_url(self, day: date) -> str:
        return self.url(day=day.isoformat())


def for_value(who: Acting) -> str:
    """``for`` in the address: the child's internal id, or ``me``."""
    return str(who.subject.id) if who.for_child else ME


def base(who: Acting, wizard: Wizard, problem: str | None = None) -> dict[str, Any]:
    """The context every step's template starts from."""
    return {"acting": who, "wizard": wizard, "problem": problem}


def page(request: Request, name: str, context: dict[str, Any], *,
         status_code: int = 200) -> Response:
    """The whole page, never cached (it shows a person's choices)."""
    response = render(request, name, context, status_code=status_code)
    response.headers.update(NO_STORE)
    return response


def to_receipt(appointment_id: int) -> Response:
    return RedirectResponse(f"/timer/{appointment_id}/kvittering", status_code=303,
                            headers=NO_STORE)


def hold_keys(request: Request, who: Acting) -> HoldKeys:
    """The hold keys of this login session for the subject."""
    return HoldKeys.of(request.app.state.settings.secret_key, who.principal.session.key_hash,
                       who.subject.id)


def hold_limit(request: Request) -> HoldLimit:
    """How many times one person may hold (``HOLD_RATE_LIMIT``)."""
    found = limits(request.app)
    return HoldLimit(found.limiter, found.holds)
