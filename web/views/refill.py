"""Freed time: asking for an earlier time on the appointment page, taking
it back, and the offer page an SMS link (or Min side) leads to.

    POST /timer/{appointment_id}/venteliste        add or change the wishes
    POST /timer/{appointment_id}/venteliste/trekk  withdraw
    GET  /ledig/{token}                            the offer (no login: the link is the key)
    POST /ledig/{token}                            take the offered time

The waitlist routes need a login and act as the appointment page does
(``acting_for_appointment``: the patient, or a guardian under the
representation rules today). The offer link names the offer and, in its
MAC, the person it was given to (``notifications.refill_texts``); the page
opens only while that person may still act for the patient today
(``booking.link_access.may_follow``): a guardian whose child turned 16 holds
a dead link. Accepting is :func:`booking.refill.accept`, as that person; the
cross-site middleware refuses a POST from another site.
"""

from __future__ import annotations

from typing import Final

from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from booking import audit, refill, waitlist
from booking.audit import Actor
from booking.link_access import may_follow, possible_holders
from booking.models import Appointment, Clinic, Patient, Slot
from booking.reasons import Reason
from booking.refill_models import RefillOffer
from booking.rules import local_date
from booking.service import BookingRefused
from booking.statuses import OfferStatus
from core.db import Database, utcnow
from core.settings import Settings
from notifications.refill_texts import offer_key, token_offer, verify_offer
from notifications.templates import first_given_name, link_key
from web import i18n
from web.acting import relations_source
from web.templating import render
from web.views.calendar import PRIVATE_HEADERS, link_refused
from web.views.patient.appointments import render_appointment
from web.views.patient.loading import acting_for_appointment
from web.views.patient.presenting import Notice, refusal
from web.views.patient.waitlist import WAITING_FLAG, WITHDRAWN_FLAG, parse_wishes

TAKEN_FLAG: Final = "tatt"


async def add_to_waitlist(request: Request) -> Response:
    who, appointment = await acting_for_appointment(request)
    form = await request.form()
    i18n.activate(request)
    db: Database = request.app.state.db
    try:
        await waitlist.add(db, who.actor, appointment_id=appointment.id,
                           wishes=parse_wishes(form))
    except BookingRefused as refused:
        notice_text = Notice("danger", i18n.gettext("Nothing was changed."),
                             refusal(refused.reason, dict(refused.params), appointment.clinic))
        return await render_appointment(request, who, appointment, notice=notice_text,
                                        status_code=400)
    return RedirectResponse(who.link(f"/timer/{appointment.id}", **{WAITING_FLAG: 1}),
                            status_code=303)


async def withdraw_from_waitlist(request: Request) -> Response:
    who, appointment = await acting_for_appointment(request)
    db: Database = request.app.state.db
    entry = await waitlist.entry_for_appointment(db, appointment.id)
    if entry is not None:
        try:
            await waitlist.withdraw(db, who.actor, entry_id=entry.id)
        except BookingRefused as refused:
            i18n.activate(request)
            return await render_appointment(
                request, who, appointment, status_code=409,
                notice=Notice("danger", i18n.gettext("Nothing was changed."),
                              refusal(refused.reason, dict(refused.params),
                                      appointment.clinic)))
    return RedirectResponse(who.link(f"/timer/{appointment.id}", **{WITHDRAWN_FLAG: 1}),
                            status_code=303)


# --- the offer page ---------------------------------------------------------------

async def _resolve(request: Request) -> tuple[RefillOffer, Actor] | None:
    """The offer a link names and the person it was given to, as an actor,
    if that person may still act for the patient today; else None."""
    token = request.path_params["token"]
    offer_id = token_offer(token)
    if offer_id is None:
        return None
    db: Database = request.app.state.db
    settings: Settings = request.app.state.settings
    offer = await refill.offer_by_id(db, offer_id) if offer_id < 2**63 else None
    if offer is None:
        return None
    holders = sorted(await possible_holders(db, offer.patient_id))
    holder = verify_offer(offer_key(link_key(settings.secret_key)), token, holders)
    if holder is None:
        return None
    if holder == offer.patient_id:
        return offer, Actor.patient(holder)
    if await may_follow(relations_source(request), holder, offer.patient_id,
                        local_date(utcnow())):
        return offer, Actor.guardian(holder, {offer.patient_id})
    return None


async def _offer_page(request: Request, offer: RefillOffer, actor: Actor, *,
                      refused: Reason | None = None, status_code: int = 200) -> Response:
    db: Database = request.app.state.db
    now = utcnow()
    async with db.read() as session:
        slot = await session.get(Slot, offer.slot_id)
        current = await session.get(Appointment, offer.appointment_id)
        patient = await session.get(Patient, offer.patient_id)
        assert slot is not None and current is not None and patient is not None
        clinic = await session.get(Clinic, slot.clinic_id)
        if offer.status == OfferStatus.ACCEPTED:
            moved = (await session.execute(select(Appointment).where(
                Appointment.slot_id == slot.id, Appointment.patient_id == patient.id)
                .order_by(Appointment.id.desc()))).scalars().first()
        else:
            moved = None
    state = ("accepted" if offer.status == OfferStatus.ACCEPTED
             else "open" if offer.status == OfferStatus.OFFERED and offer.expires_at > now
             else "ended")
    child = (first_given_name(patient.given_name) if actor.patient_id != patient.id
             else None)
    context = {
        "state": state, "starts_at": slot.starts_at, "clinic": clinic,
        "current_starts_at": current.starts_at, "expires_at": offer.expires_at,
        "child": child, "refused": (refusal(refused, {}, clinic).text
                                    if refused is not None and clinic is not None else None),
        "appointment_href": f"/timer/{moved.id}" if moved is not None else None,
    }
    return render(request, "refill/offer.html", context, status_code=status_code,
                  headers=PRIVATE_HEADERS)


async def _audit_guardian_view(request: Request, offer: RefillOffer, actor: Actor) -> None:
    if actor.patient_id == offer.patient_id:
        return
    db: Database = request.app.state.db
    async with db.write() as session:
        await audit.record(session, actor, "refill.offer_view", purpose="guardian_for_child",
                           subject_patient_id=offer.patient_id,
                           on_behalf_of_id=offer.patient_id,
                           detail={"offer_id": offer.id})


async def offer_page(request: Request) -> Response:
    found = await _resolve(request)
    if found is None:
        return link_refused(request)
    offer, actor = found
    i18n.activate(request)
    await _audit_guardian_view(request, offer, actor)
    return await _offer_page(request, offer, actor)


async def take_offer(request: Request) -> Response:
    found = await _resolve(request)
    if found is None:
        return link_refused(request)
    offer, actor = found
    i18n.activate(request)
    db: Database = request.app.state.db
    try:
        await refill.accept(db, actor, offer_id=offer.id)
    except BookingRefused as refused:
        fresh = await refill.offer_by_id(db, offer.id)
        assert fresh is not None
        if fresh.status != OfferStatus.ACCEPTED:
            return await _offer_page(request, fresh, actor, refused=refused.reason,
                                     status_code=409)
        # Sent twice (a double tap): the first one took it; show that.
    return RedirectResponse(f"/ledig/{request.path_params['token']}?{TAKEN_FLAG}=1",
                            status_code=303, headers=PRIVATE_HEADERS)


def routes() -> list[BaseRoute]:
    return [
        Route("/timer/{appointment_id}/venteliste", add_to_waitlist, methods=["POST"],
              name="waitlist_add"),
        Route("/timer/{appointment_id}/venteliste/trekk", withdraw_from_waitlist,
              methods=["POST"], name="waitlist_withdraw"),
        Route("/ledig/{token}", offer_page, name="refill_offer"),
        Route("/ledig/{token}", take_offer, methods=["POST"], name="refill_take"),
    ]

