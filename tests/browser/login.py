"""Logging in through the local ID-porten in a real browser.

The session cookie is HttpOnly, so it cannot be set from a page; instead one
context logs in through the login page once and its ``storage_state`` (the
cookie jar, HttpOnly cookies included) is handed to every later context.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

#: The demo person the logged-in tests act as: a guardian in Oslo with
#: children aged 5, 11, 13 and 16 (demo.people.DEMO_PEOPLE).
DEFAULT_PERSON = "guardian-1"
LANDING = "/min-side"


def log_in(page: Page, person: str = DEFAULT_PERSON, next_path: str = LANDING) -> None:
    """Log ``page``'s context in as the demo ``person`` through the local
    ID-porten page and wait until the browser is back on ``next_path``."""
    page.goto(f"/auth/login?next={next_path}", wait_until="load")
    button = page.locator(f'button[name="person"][value="{person}"]')
    with page.expect_navigation(url=f"**{next_path}"):
        button.click()


def logged_in_state(browser: Browser, base_url: str, person: str = DEFAULT_PERSON,
                    **options: Any) -> dict[str, Any]:
    """The cookie jar of a fresh context that has logged in as ``person``."""
    context = browser.new_context(base_url=base_url, locale="nb-NO", **options)
    context.set_default_timeout(10_000)
    try:
        page = context.new_page()
        log_in(page, person)
        if not page.url.endswith(LANDING):
            raise RuntimeError(f"logging in as {person} ended on {page.url}, not {LANDING}")
        state: dict[str, Any] = dict(context.storage_state())
        return state
    finally:
        context.close()


def staff_state(browser: Browser, base_url: str, user: str, next_path: str, *,
                lands_on: str | None = None) -> dict[str, Any]:
    """The cookie jar of a fresh context that has logged in as the staff
    ``user`` through the local staff login, asking for ``next_path`` and
    waiting until the browser is on it (or on the glob ``lands_on``)."""
    context = browser.new_context(base_url=base_url, locale="nb-NO")
    context.set_default_timeout(10_000)
    try:
        page = context.new_page()
        page.goto(f"/staff/auth/login?next={next_path}", wait_until="load")
        with page.expect_navigation(url=lands_on or f"**{next_path}"):
            page.locator(f'button[name="user"][value="{user}"]').click()
        state: dict[str, Any] = dict(context.storage_state())
        return state
    finally:
        context.close()


def guardian_number() -> str:
    """The identity number of the demo person the logged-in tests act as."""
    from demo.people import demo_logins

    return next(d.identity_number for d in demo_logins(date.today())
                if d.person.key == DEFAULT_PERSON)


async def guardian_appointment(session: Any, vault: Any, *, last: bool = False) -> Any:
    """The demo guardian's own first upcoming active appointment (with
    ``last``, the latest), read in ``session``."""
    from sqlalchemy import select

    from booking.models import Appointment, Patient
    from booking.statuses import ACTIVE
    from core.db import utcnow

    order = Appointment.starts_at.desc() if last else Appointment.starts_at
    return (await session.execute(
        select(Appointment).join(Patient, Patient.id == Appointment.patient_id)
        .where(Appointment.status.in_(list(ACTIVE)), Appointment.starts_at > utcnow(),
               Patient.identity_hash == vault.lookup_hash(guardian_number()))
        .order_by(order).limit(1))).scalar_one()
