"""Links that work without login, for SMS and pages: an appointment's
calendar file, and the way to its clinic.

Each link carries a signed token (``web.signing``) of the appointment chain's
id and of the person it was made for (the holder), made for one purpose and
valid until the appointment ends. The chain id stays the same through
changes, so a link sent at booking follows the appointment to its new time,
and after a cancellation gives the cancelling calendar file, but only while
its holder may still see the appointment that day
(:mod:`booking.link_access`): a guardian who lost access holds a dead link.
Links made before they named their holder (purposes ``ics`` and
``directions``, still accepted byte for byte) work only while the patient and
every guardian on record may. SMS links (``/t/…``) name their notification,
whose recipient is the holder, and also stop :data:`SMS_LINK_LIFETIME` after
the message went. An unknown, expired, altered or no longer entitled
token gets one page (404) that says in plain words that the link is not for
the reader or has expired, and how to log in: the same page whichever it
was, so nothing tells a guesser, or a former guardian, which part was wrong.
A guardian's calendar link (``ics-named``) puts the child's first name in
the event's title.

Routes (wired in ``web.routes``)::

    GET /kalender/{token}.ics        calendar_file
    GET /veibeskrivelse/{token}      directions
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final
from urllib.parse import urlsplit

from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from booking import calendar
from booking.directions import directions_to
from booking.link_access import all_may_follow, possible_holders
from booking.models import Appointment
from booking.rules import local_date
from core.bounds import is_id
from core.db import utcnow
from core.settings import Settings
from notifications.models import Notification
from notifications.templates import link_key, token_appointment, verified_token
from web import i18n, signing
from web.acting import relations_source
from web.auth.config import PATIENT_PATHS
from web.templating import render
from web.views.clinics import phone_link

CALENDAR_PURPOSE: Final = "ics"
#: A guardian's calendar link: the child's first name in the title.
CALENDAR_NAMED_PURPOSE: Final = "ics-named"
DIRECTIONS_PURPOSE: Final = "directions"
CALENDAR_PATH: Final = "/kalender/{token}.ics"
DIRECTIONS_PATH: Final = "/veibeskrivelse/{token}"
FILENAME: Final = "tannlege.ics"
#: A link that names its holder signs ``holder << HOLDER_SHIFT | chain`` for
#: the purpose with :data:`HELD` appended: chain ids below 2**40, holders
#: below 2**24 (a bigger one gets a link of the older kind).
HOLDER_SHIFT: Final = 40
HELD: Final = "-for"
#: An SMS link stops working this long after its message was written (or
#: when the appointment has ended, if that is sooner).
SMS_LINK_LIFETIME: Final = timedelta(days=90)
#: The token is a key: no copies in caches, no listing in search engines.
PRIVATE_HEADERS: Final = {"Cache-Control": "no-store", "X-Robots-Tag": "noindex, nofollow"}


# --- making links -----------------------------------------------------------

def _public_url(source: Request | Settings | str) -> str:
    """Our own address from settings, never from the request's Host header."""
    if isinstance(source, Request):
        settings: Settings = source.app.state.settings
        return settings.public_url.rstrip("/")
    if isinstance(source, Settings):
        return source.public_url.rstrip("/")
    return source.rstrip("/")


def _token(purpose: str, appointment: Appointment, secret: str, now: datetime,
           holder_id: int | None = None) -> str | None:
    if appointment.ends_at <= now:
        return None  # the link would be dead on arrival
    chain_id = appointment.chain_id or appointment.id
    if holder_id is not None and chain_id < 2**HOLDER_SHIFT and 0 < holder_id < 2**24:
        return signing.sign(purpose + HELD, holder_id << HOLDER_SHIFT | chain_id,
                            appointment.ends_at, secret)
    return signing.sign(purpose, chain_id, appointment.ends_at, secret)


def calendar_link(source: Request | Settings | str, appointment: Appointment, secret: str,
                  now: datetime | None = None, *, holder_id: int | None = None,
                  named: bool = False) -> str | None:
    """Absolute address of the appointment's calendar file, valid until it
    ends and while ``holder_id`` (who is given the link) may see it; None
    once it has ended. ``named``: for a guardian, with the child's first name
    in the event's title."""
    purpose = CALENDAR_NAMED_PURPOSE if named else CALENDAR_PURPOSE
    token = _token(purpose, appointment, secret, now or utcnow(), holder_id)
    if token is None:
        return None
    return _public_url(source) + CALENDAR_PATH.format(token=token)


def directions_link(source: Request | Settings | str, appointment: Appointment, secret: str,
                    now: datetime | None = None, *, holder_id: int | None = None
                    ) -> str | None:
    """Absolute address of the way to the appointment's clinic, valid until
    the appointment ends and while ``holder_id`` may see it; None once it
    has ended."""
    token = _token(DIRECTIONS_PURPOSE, appointment, secret, now or utcnow(), holder_id)
    if token is None:
        return None
    return _public_url(source) + DIRECTIONS_PATH.format(token=token)


# --- following links --------------------------------------------------------

def link_refused(request: Request) -> Response:
    """A link that does not open for this reader (not theirs, expired or
    altered): the same page whichever it was, in plain words, with the way
    to log in; 404 as before."""
    i18n.activate(request)
    return render(request, "link_refused.html", {"login_href": f"{PATIENT_PATHS.login}"},
                  status_code=404, headers=PRIVATE_HEADERS)


async def _entitled(request: Request, chain_id: int, holders: set[int] | None) -> bool:
    """May the link's holders (None: not named) still see the chain's
    appointment today?"""
    latest = await calendar.latest_in_chain(request.app.state.db, chain_id)
    if latest is None:
        return False
    if holders is None:
        holders = await possible_holders(request.app.state.db, latest.patient_id)
    return await all_may_follow(relations_source(request), holders, latest.patient_id,
                                local_date(utcnow()))


async def _chain_id(request: Request, purpose: str) -> int | None:
    settings: Settings = request.app.state.settings
    token, now = request.path_params["token"], utcnow()
    holders: set[int] | None = None
    held = signing.verify(purpose + HELD, token, settings.secret_key, now)
    if held is not None:
        chain_id, holders = held & (2**HOLDER_SHIFT - 1), {held >> HOLDER_SHIFT}
    else:
        found = signing.verify(purpose, token, settings.secret_key, now)
        # A token holds up to 64 bits; ids are 63 (no such row, and no driver error).
        if found is None or not is_id(found):
            return None
        chain_id = found
    return chain_id if await _entitled(request, chain_id, holders) else None


async def _sms_chain_id(request: Request) -> int | None:
    found = await sms_link(request)
    return None if found is None else found.chain_id


@dataclass(frozen=True)
class SmsLink:
    """A followed SMS link: the chain, the appointment the token names, and
    whom the link was given to."""

    chain_id: int
    appointment_id: int
    holders: frozenset[int]


async def sms_link(request: Request) -> SmsLink | None:
    """The chain of the appointment an SMS link names (``/t/<token>…``, one
    token for the three links, to keep texts short). The token names the
    appointment and is signed for one of its notifications (so each text is
    its own); older tokens signed for the appointment alone still work
    (``notifications.templates.verify_appointment``). Neither kind carries an
    expiry of its own: the link dies when the appointment has ended."""
    settings: Settings = request.app.state.settings
    token = request.path_params["token"]
    claimed = token_appointment(token)
    if claimed is None or not is_id(claimed):
        return None
    async with request.app.state.db.read() as session:
        appointment = await session.get(Appointment, claimed)
        # When each message went (or is to go): its link's lifetime starts then.
        sent = {row.id: (row.recipient_id, row.handed_over_at or row.send_after)
                for row in (await session.execute(
                    select(Notification.id, Notification.recipient_id,
                           Notification.handed_over_at, Notification.send_after)
                    .where(Notification.appointment_id == claimed))).all()}
    found = verified_token(link_key(settings.secret_key), token, sent)
    if appointment is None or found is None or found[0] != claimed:
        return None
    # The holder is the notification's recipient; a token that names none
    # went to one of the appointment's recipients, so all of them count.
    named = [sent[found[1]]] if found[1] is not None else list(sent.values())
    now = utcnow()
    if not named or min(written for _, written in named) + SMS_LINK_LIFETIME <= now:
        return None
    chain_id = appointment.chain_id or appointment.id
    latest = await calendar.latest_in_chain(request.app.state.db, chain_id)
    if latest is None or latest.ends_at <= now:
        return None
    holders = {recipient for recipient, _ in named}
    if not await _entitled(request, chain_id, holders):
        return None
    return SmsLink(chain_id, claimed, frozenset(holders))


async def calendar_file(request: Request) -> Response:
    chain_id = await _chain_id(request, CALENDAR_PURPOSE)
    if chain_id is None and (chain_id := await _chain_id(request, CALENDAR_NAMED_PURPOSE)):
        return await _calendar_response(request, chain_id, named=True)
    return await _calendar_response(request, chain_id)


async def sms_calendar_file(request: Request) -> Response:
    return await _calendar_response(request, await _sms_chain_id(request))


async def _calendar_response(request: Request, chain_id: int | None, *,
                             named: bool = False) -> Response:
    if chain_id is None:
        return link_refused(request)
    settings: Settings = request.app.state.settings
    locale = i18n.activate(request)
    content = await calendar.calendar_for_chain(
        request.app.state.db, chain_id, locale=locale,
        host=urlsplit(settings.public_url).hostname or "tanntid",
        gettext=i18n.translations(locale).gettext, named=named)
    if content is None:
        return link_refused(request)
    response = Response(content, media_type="text/calendar; charset=utf-8", headers={
        "Content-Disposition": f'attachment; filename="{FILENAME}"', **PRIVATE_HEADERS})
    # The summary is in the reader's language (cookie or Accept-Language).
    response.headers.add_vary_header("Accept-Language")
    response.headers.add_vary_header("Cookie")
    return response


async def directions(request: Request) -> Response:
    return await _directions_page(request, await _chain_id(request, DIRECTIONS_PURPOSE))


async def sms_directions(request: Request) -> Response:
    return await _directions_page(request, await _sms_chain_id(request))


async def sms_appointment(request: Request) -> Response:
    """The SMS link to the appointment itself: its page, behind login."""
    chain_id = await _sms_chain_id(request)
    if chain_id is None:
        return link_refused(request)
    latest = await calendar.latest_in_chain(request.app.state.db, chain_id)
    assert latest is not None
    return RedirectResponse(f"/timer/{latest.id}", status_code=303, headers=PRIVATE_HEADERS)


async def sms_change(request: Request) -> Response:
    """The link in the answer to an SMS reply "ENDRE": the appointment's
    change page, behind login (the page applies the rules again)."""
    chain_id = await _sms_chain_id(request)
    if chain_id is None:
        return link_refused(request)
    latest = await calendar.latest_in_chain(request.app.state.db, chain_id)
    assert latest is not None
    return RedirectResponse(f"/timer/{latest.id}/endre", status_code=303,
                            headers=PRIVATE_HEADERS)


async def sms_form(request: Request) -> Response:
    """The reminder's link to the pre-visit form: the form page of the
    chain's latest appointment, behind login (the page applies the
    representation rules again, for whoever logs in)."""
    chain_id = await _sms_chain_id(request)
    if chain_id is None:
        return link_refused(request)
    latest = await calendar.latest_in_chain(request.app.state.db, chain_id)
    assert latest is not None
    return RedirectResponse(f"/timer/{latest.id}/helseskjema", status_code=303,
                            headers=PRIVATE_HEADERS)


async def _directions_page(request: Request, chain_id: int | None) -> Response:
    if chain_id is None:
        return link_refused(request)
    appointment = await calendar.latest_in_chain(request.app.state.db, chain_id)
    if appointment is None:
        return link_refused(request)
    clinic = appointment.clinic
    return render(request, "directions.html", {
        "clinic": clinic,
        "phone": phone_link(clinic.phone),
        "directions": directions_to(clinic),
    }, headers=PRIVATE_HEADERS)
