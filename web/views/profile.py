"""The patient's profile page: the language we use with them, the mobile
number their text messages go to, and how their reminders come.

Reminders: by SMS (the default) or on Helsenorge (``Patient.reminder_channel``;
``notifications.helsenorge_first``): offered to patients of 16 or more where
appointments reach Helsenorge (``Settings.helsenorge_available``). Helsenorge
then reminds them by its own notice, and an SMS still follows before the
appointment if they have not confirmed it.

Also where a request's language is decided when someone is logged in
(:func:`preferred_locale`), because that needs the session and the profile:

1. the user's pick: the ``lang`` cookie (the latest choice in this browser),
   else ``Patient.preferred_language`` (the choice kept across devices, also
   used for their text messages);
2. ID-porten's ``locale`` claim of this login;
3. ``Accept-Language``;
4. Bokmål.

The mobile number: the official source is KRR (*Kontakt- og
reservasjonsregisteret*). A patient may give another Norwegian mobile number
here (``Patient.mobile``), and remove it again to go back to KRR's. A number
typed here is used only after the person types back the one-time code sent
to it (``notifications.number_check``, ``/profil/mobil/kode``); removing the
number needs no code.
:func:`sms_number` is the one rule for which number text messages use.
Without a KRR client configured (``app.state.krr``; development), the page
shows the number the service has on file. Each change is written to the
audit log without the number itself; numbers never reach a log line.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Final, Literal, Protocol

import structlog
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from booking import audit
from booking.models import Patient
from booking.reasons import N_
from booking.representation import OF_AGE_IN_HEALTH_MATTERS
from booking.rules import age_on
from booking.statuses import ReminderChannel
from core.db import Database, utcnow
from notifications import number_check
from notifications.channels.krr import (
    STALE_AFTER_MONTHS,
    KrrContact,
    KrrError,
    KrrUnavailable,
    months_before,
)
from notifications.contacts import choose_contact
from notifications.models import NumberCheck
from notifications.recipients import check_contact
from notifications.templates import link_key
from web import i18n, phone
from web.auth.access import PatientPrincipal, current_session, require_patient
from web.auth.services import services
from web.templating import render

log = structlog.get_logger("tanntid.profile")

PATH: Final = "/profil"
LANGUAGE_PATH: Final = "/profil/sprak"
MOBILE_PATH: Final = "/profil/mobil"
REMOVE_MOBILE_PATH: Final = "/profil/mobil/fjern"
CODE_PATH: Final = "/profil/mobil/kode"
REMINDER_PATH: Final = "/profil/paminnelser"
#: The form field for the reminder channel.
REMINDER_FIELD: Final = "paminnelse"
#: The form field for the one-time code (also its element id).
CODE_FIELD: Final = "kode"

LANGUAGE_ACTION: Final = "profile.language.change"
MOBILE_ACTION: Final = "profile.mobile.change"
REMINDER_ACTION: Final = "profile.reminder_channel.change"
PURPOSE: Final = "self_service"

#: As long as ``POST /language`` keeps its cookie.
LANGUAGE_COOKIE_MAX_AGE: Final = 365 * 24 * 3600
#: The form field for the mobile number (also its element id).
MOBILE_FIELD: Final = "mobil"
#: What is echoed back into the field after a refusal, at most.
ECHO_LIMIT: Final = 200
#: Where to change one's details in KRR (norge.no, "Oppdater kontaktinformasjon").
KRR_UPDATE_URL: Final = {
    "en": "https://www.norge.no/en/digital-citizen/update-your-contact-information",
}
KRR_UPDATE_URL_DEFAULT: Final = "https://www.norge.no/nb/digital-borger/oppdater-kontaktinformasjon"

#: The confirmations shown after a change (``?lagret=…``).
SAVED_TEXT: Final = {
    "sprak": N_("Your language choice is saved."),
    "mobil": N_("Your mobile number is saved. We will send text messages to it."),
    "fjernet": N_("Your own number is removed."),
    "paminnelser": N_("Your choice of reminders is saved."),
}
#: The reminder choices, in the order shown.
REMINDER_OPTIONS: Final = (
    (ReminderChannel.SMS, N_("By text message (SMS)")),
    (ReminderChannel.HELSENORGE, N_("On Helsenorge")),
)
REMINDER_ERROR: Final = N_("Choose how you want to be reminded.")
LANGUAGE_ERROR: Final = N_("Choose one of the languages in the list.")
TOO_MANY_CODES: Final = N_("You have asked for too many codes in the last hour. Please try "
                           "again later.")
CODE_ERROR: Final = {
    "expired": N_("The code has expired. Ask for a new code."),
    "exhausted": N_("The code was typed wrong too many times. Ask for a new code."),
}
#: Why KRR's number is not used (``KrrContact.no_notice_reason`` codes), or KRR not answering.
_NO_NUMBER_IN_REGISTER: Final = N_(
    "The contact register (KRR) has no mobile number for you that we can use.")
REGISTER_NOTE: Final = {
    "reserved": N_("You have reserved yourself against digital contact from public services in "
                   "the contact register (KRR), so we do not use the number there."),
    "stale": N_("The number in the contact register (KRR) has not been confirmed in the last "
                "18 months, so we may not use it. You can confirm or change it at norge.no."),
    "cannot-be-notified": N_("The contact register (KRR) says we may not send notices to the "
                             "number there. You can check your details at norge.no."),
    "no-mobile": _NO_NUMBER_IN_REGISTER,
    "not-registered": _NO_NUMBER_IN_REGISTER,
    "deleted": _NO_NUMBER_IN_REGISTER,
    "unavailable": N_("We could not reach the contact register (KRR) just now, so we cannot "
                      "show the number there. Please try again later."),
}

#: Paths that never render a page: no session or profile lookup for them.
_NO_PAGES: Final = ("/static/", "/healthz", "/readyz", "/webhooks/", "/metrics")


# --- which language ----------------------------------------------------------

def choose_locale(*, cookie: str | None, profile: str | None, idporten: str | None,
                  accept_language: str | None) -> str:
    """The order of precedence, as a pure function (see the module docstring)."""
    for choice in (cookie, profile, idporten):
        if choice in i18n.LOCALES:
            return choice
    return i18n.negotiate(None, accept_language)


async def profile_language(db: Database, patient_id: int) -> str | None:
    async with db.read() as tx:
        return (await tx.execute(select(Patient.preferred_language)
                                 .where(Patient.id == patient_id))).scalar_one_or_none()


async def preferred_locale(request: Request) -> str:
    """Decide this request's language with the session and profile taken into
    account, and remember it where :func:`web.i18n.activate` looks first
    (``request.state.locale``). Idempotent; a database or session-store
    failure falls back to the cookie-and-header rule rather than fail a page."""
    decided = getattr(request.state, "locale", None)
    if decided in i18n.LOCALES:
        return str(decided)
    cookie = request.cookies.get(i18n.COOKIE)
    accept = request.headers.get("accept-language")
    profile = idporten = None
    logged_in = services(request.app).cookie("patient").name in request.cookies
    if cookie not in i18n.LOCALES and logged_in:  # the cookie would win anyway
        try:
            session = await current_session(request, "patient")
            if session is not None:
                idporten = session.locale
                if session.profile_loaded:  # read with the session, no second query
                    profile = session.profile_locale
                elif session.patient_id is not None:
                    profile = await profile_language(request.app.state.db, session.patient_id)
        except (SQLAlchemyError, OSError) as exc:
            log.warning("preferred_locale_lookup_failed", error=type(exc).__name__)
    locale = choose_locale(cookie=cookie, profile=profile, idporten=idporten,
                           accept_language=accept)
    request.state.locale = locale
    return locale


class PreferredLocaleMiddleware:
    """Runs :func:`preferred_locale` before every page, so every page (not only
    the profile) follows the logged-in user's kept choice and their login's
    ``locale``. Pure ASGI; skips static files, health checks and webhooks."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not str(scope["path"]).startswith(_NO_PAGES):
            await preferred_locale(Request(scope))
        await self.app(scope, receive, send)


def set_language_cookie(request: Request, response: Response, locale: str) -> None:
    """The same cookie ``POST /language`` sets."""
    secure = request.app.state.settings.public_url.startswith("https://")
    response.set_cookie(i18n.COOKIE, locale, max_age=LANGUAGE_COOKIE_MAX_AGE, path="/",
                        httponly=True, samesite="lax", secure=secure)


async def store_language(db: Database, principal: PatientPrincipal, locale: str) -> bool:
    """Keep ``locale`` as the patient's language (pages and text messages);
    audited. False when it already was (nothing written)."""
    if locale not in i18n.LOCALES:
        raise ValueError(f"unsupported locale {locale!r}")
    async with db.write() as tx:
        patient = await tx.get(Patient, principal.patient_id)
        if patient is None:
            raise HTTPException(404)
        before = patient.preferred_language
        if before == locale:
            return False
        patient.preferred_language = locale
        await audit.record(tx, principal.actor, LANGUAGE_ACTION, purpose=PURPOSE,
                           subject_patient_id=patient.id,
                           detail={"from": before, "to": locale})
    log.info("profile_language_changed", patient_id=principal.patient_id, to=locale)
    return True


# --- how reminders come ---------------------------------------------------------

async def change_reminders(request: Request) -> Response:
    principal = await require_patient(request)
    chosen = _field(await request.form(), REMINDER_FIELD)
    db: Database = request.app.state.db
    patient = await _patient(db, principal.patient_id)
    if not reminders_offered(request, patient):
        raise HTTPException(404)
    if chosen not in {value.value for value, _ in REMINDER_OPTIONS}:
        await preferred_locale(request)
        i18n.activate(request)
        return await _page(request, patient, status_code=400,
                           reminder_error=i18n.gettext(REMINDER_ERROR))
    await store_reminder_channel(db, principal, ReminderChannel(chosen))
    return _saved("paminnelser")


async def store_reminder_channel(db: Database, principal: PatientPrincipal,
                                 channel: ReminderChannel) -> bool:
    """Keep how the patient's reminders come; audited. False when it already was."""
    async with db.write() as tx:
        patient = await tx.get(Patient, principal.patient_id)
        if patient is None:
            raise HTTPException(404)
        before = patient.reminder_channel
        if before == channel:
            return False
        patient.reminder_channel = channel.value
        await audit.record(tx, principal.actor, REMINDER_ACTION, purpose=PURPOSE,
                           subject_patient_id=patient.id,
                           detail={"from": before, "to": channel.value})
    log.info("profile_reminder_channel_changed", patient_id=principal.patient_id,
             to=channel.value)
    return True


# --- which mobile number -------------------------------------------------------

class ContactRegister(Protocol):
    """What the page needs of :class:`notifications.channels.krr.KrrClient`."""

    async def contact(self, nin: str) -> KrrContact: ...


RegisterState = Literal["found", "unavailable", "not_configured"]
SmsSource = Literal["own", "register"]


@dataclass(frozen=True)
class RegisterView:
    """KRR's answer as the page shows it."""

    state: RegisterState
    contact: KrrContact | None = None
    #: Why KRR's number may not be used today (``KrrContact.no_notice_reason``).
    problem: str | None = None

    @property
    def mobile(self) -> str | None:
        return self.contact.mobile if self.contact is not None else None

    @property
    def confirmed(self) -> datetime | None:
        """When the person last updated or confirmed KRR's number (aware)."""
        moment = self.contact.mobile_confirmed if self.contact is not None else None
        if moment is not None and moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return moment

    @property
    def note(self) -> str | None:
        """Why KRR's number is not used, as a msgid (None: it may be used)."""
        if self.state == "unavailable":
            return REGISTER_NOTE["unavailable"]
        return REGISTER_NOTE.get(self.problem) if self.problem else None


def sms_number(own: str | None, register: RegisterView, today: date
               ) -> tuple[str | None, SmsSource | None]:
    """Which number text messages go to, and where it comes from: the number
    the patient gave us (their explicit request for this service), else KRR's
    when KRR allows notices to it today (not reserved, confirmed within 18
    months), else none. The outbox's rule (``notifications.contacts``)."""
    contact = choose_contact(own, None, register.contact)
    number, _ = check_contact(contact, today)
    if number is None:
        return None, None
    return number, "own" if own else "register"


async def register_view(request: Request, patient: Patient) -> RegisterView:
    krr: ContactRegister | None = getattr(request.app.state, "krr", None)
    if krr is None:
        return RegisterView("not_configured")
    try:
        nin = request.app.state.vault.decrypt(patient.identity_encrypted)
        contact = await krr.contact(nin)
    except (KrrUnavailable, KrrError) as exc:
        log.warning("krr_lookup_failed", patient_id=patient.id, error=type(exc).__name__)
        return RegisterView("unavailable")
    return RegisterView("found", contact, register_problem(contact, oslo_today()))


def register_problem(contact: KrrContact, today: date) -> str | None:
    """``KrrContact.no_notice_reason``, except that a register's "cannot be
    notified" on a number unconfirmed for 18 months is told as what it is."""
    problem = contact.no_notice_reason(today)
    if problem == "cannot-be-notified" and contact.mobile:
        confirmed = contact.mobile_confirmed
        if confirmed is None or confirmed.date() < months_before(today, STALE_AFTER_MONTHS):
            return "stale"
    return problem


def oslo_today() -> date:
    return datetime.now(i18n.OSLO).date()


# --- the page ------------------------------------------------------------------

async def _patient(db: Database, patient_id: int) -> Patient:
    async with db.read() as tx:
        patient = await tx.get(Patient, patient_id)
    if patient is None:  # a session outlived its patient row
        raise HTTPException(404)
    return patient


def _field(form: FormData, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


def reminders_offered(request: Request, patient: Patient) -> bool:
    """May this patient choose reminders on Helsenorge? From 16, where
    appointments reach Helsenorge."""
    return bool(request.app.state.settings.helsenorge_available) \
        and age_on(patient.birth_date, oslo_today()) >= OF_AGE_IN_HEALTH_MATTERS


async def _page(request: Request, patient: Patient, *, status_code: int = 200,
                typed: str | None = None, mobile_error: str | None = None,
                language_error: str | None = None,
                reminder_error: str | None = None) -> Response:
    locale = i18n.activate(request)
    register = await register_view(request, patient)
    today = oslo_today()
    sms_to, source = sms_number(patient.mobile, register, today)
    saved = request.query_params.get("lagret", "") if status_code == 200 else ""
    async with request.app.state.db.read() as tx:
        waiting = await number_check.open_check(tx, patient.id)
    context: dict[str, Any] = {
        "code_waiting": (phone.display(waiting.e164) if waiting is not None
                         and number_check.usable(waiting, utcnow()) == "ok" else None),
        "code_path": CODE_PATH,
        "chosen_language": patient.preferred_language or locale,
        "own_mobile": phone.display(patient.mobile) if patient.mobile else None,
        "register": register,
        "register_mobile": phone.display(register.mobile) if register.mobile else None,
        "register_confirmed": (i18n.format_day(register.confirmed, locale)
                               if register.confirmed else None),
        "register_note": i18n.gettext(register.note) if register.note else None,
        "sms_to": phone.display(sms_to) if sms_to else None,
        "sms_source": source,
        "krr_update_url": KRR_UPDATE_URL.get(locale, KRR_UPDATE_URL_DEFAULT),
        "typed": typed if typed is not None else "",
        "mobile_error": mobile_error,
        "language_error": language_error,
        "reminder_error": reminder_error,
        "reminders": ({"chosen": patient.reminder_channel or ReminderChannel.SMS.value,
                       "options": [(value.value, i18n.gettext(label))
                                   for value, label in REMINDER_OPTIONS],
                       "field": REMINDER_FIELD,
                       "hours": request.app.state.settings.second_reminder_hours}
                      if reminders_offered(request, patient) else None),
        "saved": i18n.gettext(SAVED_TEXT[saved]) if saved in SAVED_TEXT else None,
        "paths": {"language": LANGUAGE_PATH, "mobile": MOBILE_PATH,
                  "remove": REMOVE_MOBILE_PATH, "reminders": REMINDER_PATH},
        "field": MOBILE_FIELD,
    }
    response = render(request, "profile/profile.html", context, status_code=status_code)
    response.headers["Cache-Control"] = "no-store"
    return response


async def show(request: Request) -> Response:
    principal = await require_patient(request)
    await preferred_locale(request)
    i18n.activate(request)
    return await _page(request, await _patient(request.app.state.db, principal.patient_id))


def _saved(what: str) -> Response:
    response = RedirectResponse(f"{PATH}?lagret={what}", status_code=303)
    response.headers["Cache-Control"] = "no-store"
    return response


async def change_language(request: Request) -> Response:
    principal = await require_patient(request)
    lang = _field(await request.form(), "lang")
    db: Database = request.app.state.db
    if lang not in i18n.LOCALES:
        await preferred_locale(request)
        i18n.activate(request)
        return await _page(request, await _patient(db, principal.patient_id), status_code=400,
                           language_error=i18n.gettext(LANGUAGE_ERROR))
    await store_language(db, principal, lang)
    response = _saved("sprak")
    set_language_cookie(request, response, lang)
    return response


async def change_mobile(request: Request) -> Response:
    principal = await require_patient(request)
    typed = _field(await request.form(), MOBILE_FIELD)
    db: Database = request.app.state.db
    checked = phone.check_mobile(typed)
    if checked.e164 is None:
        assert checked.problem is not None
        await preferred_locale(request)
        i18n.activate(request)
        log.info("profile_mobile_refused", patient_id=principal.patient_id,
                 problem=checked.problem.value)
        return await _page(request, await _patient(db, principal.patient_id), status_code=400,
                           typed=typed[:ECHO_LIMIT],
                           mobile_error=i18n.gettext(phone.PROBLEM_TEXT[checked.problem]))
    async with db.write() as tx:
        started = await number_check.start(tx, principal.patient_id, checked.e164, utcnow())
    if started.outcome == "too_many":
        await preferred_locale(request)
        i18n.activate(request)
        return await _page(request, await _patient(db, principal.patient_id), status_code=429,
                           typed=typed[:ECHO_LIMIT], mobile_error=i18n.gettext(TOO_MANY_CODES))
    response = RedirectResponse(CODE_PATH, status_code=303)
    response.headers["Cache-Control"] = "no-store"
    return response


async def remove_mobile(request: Request) -> Response:
    principal = await require_patient(request)
    await _store_mobile(request.app.state.db, principal, None)
    return _saved("fjernet")


async def _store_mobile(db: Database, principal: PatientPrincipal, e164: str | None) -> bool:
    """Set (or with None remove) the patient's own number; audited without the
    number. False when nothing changed."""
    async with db.write() as tx:
        return await _store_mobile_in(tx, principal, e164)


async def _store_mobile_in(tx: AsyncSession, principal: PatientPrincipal, e164: str | None
                           ) -> bool:
    patient = await tx.get(Patient, principal.patient_id)
    if patient is None:
        raise HTTPException(404)
    before = patient.mobile
    if before == e164:
        return False
    change = "removed" if e164 is None else "replaced" if before else "added"
    patient.mobile = e164
    await audit.record(tx, principal.actor, MOBILE_ACTION, purpose=PURPOSE,
                       subject_patient_id=patient.id, detail={"change": change})
    log.info("profile_mobile_changed", patient_id=principal.patient_id, change=change)
    return True


# --- the one-time code -----------------------------------------------------------

async def _code_page(request: Request, check: NumberCheck, *, status_code: int = 200,
                     error: str | None = None, attempts_left: int | None = None) -> Response:
    i18n.activate(request)
    state = number_check.usable(check, utcnow())
    context: dict[str, Any] = {
        "number": phone.display(check.e164),
        "e164": check.e164,
        "error": error,
        "attempts_left": attempts_left,
        "renew": state != "ok",
        "minutes": int(number_check.VALID_FOR.total_seconds() // 60),
        "paths": {"code": CODE_PATH, "mobile": MOBILE_PATH, "profile": PATH},
        "field": CODE_FIELD,
        "mobile_field": MOBILE_FIELD,
    }
    response = render(request, "profile/code.html", context, status_code=status_code)
    response.headers["Cache-Control"] = "no-store"
    return response


def _back_to_profile() -> Response:
    response = RedirectResponse(PATH, status_code=303)
    response.headers["Cache-Control"] = "no-store"
    return response


async def show_code(request: Request) -> Response:
    principal = await require_patient(request)
    await preferred_locale(request)
    async with request.app.state.db.read() as tx:
        check = await number_check.open_check(tx, principal.patient_id)
    if check is None:
        return _back_to_profile()
    state = number_check.usable(check, utcnow())
    i18n.activate(request)
    error = i18n.gettext(CODE_ERROR[state]) if state != "ok" else None
    return await _code_page(request, check, error=error)


async def check_code(request: Request) -> Response:
    principal = await require_patient(request)
    typed = _field(await request.form(), CODE_FIELD)[:ECHO_LIMIT]
    db: Database = request.app.state.db
    key = number_check.check_key(link_key(request.app.state.settings.secret_key))
    async with db.write() as tx:
        confirmed = await number_check.confirm(tx, principal.patient_id, typed, utcnow(), key)
        if confirmed.outcome == "right":
            assert confirmed.e164 is not None
            await _store_mobile_in(tx, principal, confirmed.e164)
        check = await number_check.open_check(tx, principal.patient_id) \
            if confirmed.outcome != "right" else None
    if confirmed.outcome == "right":
        return _saved("mobil")
    if check is None:
        return _back_to_profile()
    await preferred_locale(request)
    i18n.activate(request)
    if confirmed.outcome == "wrong":
        error = i18n.ngettext("The code is wrong. You have %(num)d more try.",
                              "The code is wrong. You have %(num)d more tries.",
                              confirmed.attempts_left) % {"num": confirmed.attempts_left}
    else:
        error = i18n.gettext(CODE_ERROR[confirmed.outcome])
    return await _code_page(request, check, status_code=400, error=error,
                            attempts_left=confirmed.attempts_left)


def routes() -> list[BaseRoute]:
    return [
        Route(PATH, show, name="profile"),
        Route(LANGUAGE_PATH, change_language, methods=["POST"], name="profile_language"),
        Route(MOBILE_PATH, change_mobile, methods=["POST"], name="profile_mobile"),
        Route(REMOVE_MOBILE_PATH, remove_mobile, methods=["POST"], name="profile_mobile_remove"),
        Route(REMINDER_PATH, change_reminders, methods=["POST"], name="profile_reminders"),
        Route(CODE_PATH, show_code, name="profile_mobile_code"),
        Route(CODE_PATH, check_code, methods=["POST"], name="profile_mobile_code_check"),
    ]
