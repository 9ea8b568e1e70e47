"""axe-core over the pre-visit form and call me back, in Bokmål and Northern Sami
(on the screens ``live.axe_cases`` gives). The patient side as the demo guardian (``guardian-1``),
reached by the links a user follows: the appointment page's health form
(empty, with its errors, saved) and "ask the clinic to call you" (the form,
with an error, sent), then Min side with the request. The clinic side as the
reception of Grünerløkka: the call-back list and a health form, with a
request and answers put there first."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

from tests.browser.live import (
    WALK_CASES,
    LiveServer,
    Tab,
    in_fresh_thread,
    open_tab,
)
from tests.browser.login import guardian_number, staff_state
from tests.browser.walk import Walk

if TYPE_CHECKING:
    from playwright.sync_api import Browser

RECEPTION = "reception-grunerlokka"
CLINIC = "tannklinikken-grunerlokka"
CALLBACKS = f"/staff/klinikk/{CLINIC}/ring-tilbake"
CASES = WALK_CASES



async def _prepare(url: str, secret: str, vault: Any) -> int:
    """Answers, a call-back request and a call task on the demo guardian's next
    appointment at Grünerløkka; its id."""
    from sqlalchemy import select

    from booking import call_tasks, callbacks, previsit
    from booking.audit import Actor
    from booking.models import Appointment, Clinic, Patient
    from booking.statuses import ACTIVE
    from core.db import create_database, utcnow

    db = create_database(url)
    now = utcnow()
    try:
        async with db.read() as session:
            appointment, clinic = (await session.execute(
                select(Appointment, Clinic).join(Patient, Patient.id == Appointment.patient_id)
                .join(Clinic, Clinic.id == Appointment.clinic_id)
                .where(Appointment.status.in_(list(ACTIVE)), Appointment.starts_at > now,
                       Clinic.slug == CLINIC,
                       Patient.identity_hash == vault.lookup_hash(guardian_number()))
                .order_by(Appointment.starts_at).limit(1))).one()
        actor = Actor.patient(appointment.patient_id)
        await previsit.save(db, previsit.FormCipher.from_secret(secret), actor, appointment.id,
                            previsit.Answers(True, "Albyl-E", False, "", True, "Ny hofte",
                                             True), now=now)
        windows = callbacks.windows(clinic, now)
        if windows:
            try:
                await callbacks.request_call(
                    db, actor, patient_id=appointment.patient_id,
                    requested_by_id=appointment.patient_id, clinic=clinic, reason="invoice",
                    window_key=windows[0].key, phone="+4791234501", now=now)
            except callbacks.CallbackRefused:
                pass  # one is waiting already
        async with db.write() as session:  # a call task on the same list (once)
            await call_tasks.create(session, Actor.system("escalation"), appointment, now)
        return appointment.id
    finally:
        await db.dispose()


@pytest.fixture(scope="module")
def reception_state(browser: Browser, live_server: LiveServer) -> dict[str, Any]:
    """The prepared appointment's id and the cookie jar of the reception's login."""
    app = live_server._server.config.app
    settings = app.state.settings
    appointment_id = in_fresh_thread(lambda: asyncio.run(_prepare(
        settings.database_url, settings.secret_key, app.state.vault)))
    state = staff_state(browser, live_server.url, RECEPTION, CALLBACKS)
    return {"storage": state, "appointment_id": appointment_id}


@pytest.fixture
def visit_tab(request: pytest.FixtureRequest, browser: Browser, live_server: LiveServer,
              logged_in_state: dict[str, Any]) -> Iterator[Tab]:
    with open_tab(browser, live_server, request.param, storage_state=logged_in_state) as tab:
        yield tab


@pytest.fixture
def reception_tab(request: pytest.FixtureRequest, browser: Browser, live_server: LiveServer,
                  reception_state: dict[str, Any]) -> Iterator[Tab]:
    with open_tab(browser, live_server, request.param,
                  storage_state=reception_state["storage"]) as tab:
        yield tab


def _submit(walk: Walk, form: str) -> None:
    with walk.page.expect_navigation():
        walk.page.locator(f"{form} button[type='submit']").click()


@pytest.mark.parametrize("visit_tab", CASES, indirect=True,
                         ids=[f"{lang}-{viewport}" for lang, viewport in CASES])
def test_the_patients_visit_pages_have_no_axe_violations(visit_tab: Tab, axe_source: str,
                                                         request: pytest.FixtureRequest) -> None:
    lang, viewport = request.node.callspec.params["visit_tab"]
    walk = Walk(visit_tab, axe_source, lang, viewport)
    page = walk.page
    walk.goto("appointments", "/timer", check=False)
    appointment = walk.appointment_href()
    if appointment is None:
        walk.failures.append("no appointment linked from /timer")
    else:
        walk.goto("appointment", appointment)
        if walk.follow("previsit", "main a[href$='/helseskjema']"):
            _submit(walk, "form.previsit-form")
            walk.check("previsit-errors")
            for choice in ("#medicines-no", "#allergies-yes", "#health_changed-no",
                           "#contact_doctor-yes", "#confirm-box"):
                page.check(choice)
            page.fill("#allergies_detail", "Penicillin")
            _submit(walk, "form.previsit-form")
            walk.check("previsit-saved")
        walk.goto("appointment", appointment, check=False)
        if walk.follow("callback", "main a[href*='/ring-meg']"):
            if page.locator("#callback-form").count():
                _submit(walk, "#callback-form")
                walk.check("callback-error")
                page.locator("#reason input[type='radio']").first.check()
                page.locator("#window input[type='radio']").first.check()
                _submit(walk, "#callback-form")
            walk.check("callback-sent")
    walk.goto("my-page", "/min-side")
    expected = {"appointment", "previsit", "previsit-errors", "previsit-saved", "callback",
                "callback-sent", "my-page"}
    missing = expected - set(walk.visited)
    if missing:
        walk.failures.append(f"pages not reached: {', '.join(sorted(missing))}")
    report = "\n\n".join(walk.failures)
    assert not walk.failures, f"{len(walk.failures)} problem(s) ({lang}, {viewport}):\n\n{report}"


@pytest.mark.parametrize("reception_tab", WALK_CASES, indirect=True,
                         ids=[f"{lang}-{viewport}" for lang, viewport in WALK_CASES])
def test_the_clinics_visit_pages_have_no_axe_violations(
        reception_tab: Tab, axe_source: str, request: pytest.FixtureRequest,
        reception_state: dict[str, Any]) -> None:
    lang, viewport = request.node.callspec.params["reception_tab"]
    walk = Walk(reception_tab, axe_source, lang, viewport)
    walk.goto("callbacks", CALLBACKS)
    if walk.page.locator("#call-tasks-waiting").count() != 1:
        walk.failures.append("the prepared call task is not on the call-back list")
    walk.goto("staff-previsit-list", f"/staff/klinikk/{CLINIC}/helseskjema")
    appointment_id = reception_state["appointment_id"]
    walk.goto("staff-previsit", f"/staff/klinikk/{CLINIC}/timer/{appointment_id}/helseskjema")
    if "Albyl-E" not in walk.page.content():
        walk.failures.append("the prepared answers are not on the staff page")
    report = "\n\n".join(walk.failures)
    assert not walk.failures, f"{len(walk.failures)} problem(s) ({lang}, {viewport}):\n\n{report}"
