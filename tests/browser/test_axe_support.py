"""axe-core over the support console, in Bokmål and Northern Sami (on the screens
``live.axe_cases`` gives): the find form, the form with an error, the timeline (with a failed
text message on a demo patient's appointment), the resend form with an
error, the call list, and the bulk resend (its form, a refusal, the count
and sample, the result). Logged in through the local staff login as the
demo's support user (``support-oslo``); the patient is found by the demo
guardian's identity number, typed into the form as support would.

The county administrator's pages (the demo's ``county-admin-oslo``): the
audit log (searched, with a date error, by patient, verified) and the
access review (with a look-up to review, and its note's error)."""

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
from tests.browser.login import guardian_number
from tests.browser.support_console import (
    BULK,
    FIND,
    SUPPORT_USER,
    add_failed_sms,
    login_state,
)
from tests.browser.walk import Walk

if TYPE_CHECKING:
    from playwright.sync_api import Browser

ADMIN_USER = "county-admin-oslo"
CALL_LIST = "/staff/support/ringeliste"
AUDIT_LOG = "/staff/tilsyn/logg"
ACCESS_REVIEW = "/staff/tilsyn/tilgang"


@pytest.fixture(scope="module")
def support_state(browser: Browser, live_server: LiveServer) -> dict[str, Any]:
    """A failed message to look at, and the cookie jar of the support user's login."""
    app = live_server._server.config.app
    in_fresh_thread(lambda: asyncio.run(add_failed_sms(app.state.settings.database_url,
                                                      app.state.vault)))
    return login_state(browser, live_server, SUPPORT_USER)


async def _add_lookup(url: str) -> None:
    """A look-up by the support user of a patient outside the county: one for
    the access review."""
    from sqlalchemy import select

    from booking import audit
    from booking.audit import Actor
    from booking.statuses import ActorKind
    from core.db import create_database
    from notifications import support
    from web.oversight.models import StaffDirectoryEntry

    db = create_database(url)
    try:
        async with db.write() as session:
            actor_id = (await session.execute(select(StaffDirectoryEntry.actor_id).where(
                StaffDirectoryEntry.roles.is_not(None)).order_by(
                    StaffDirectoryEntry.last_login_at.desc()).limit(1))).scalar_one()
            await audit.record(session, Actor(ActorKind.STAFF, actor_id), support.LOOKUP_ACTION,
                               purpose="support", detail={
                                   "lookup_purpose": "patient_called", "by": "identity_number",
                                   "found": [], "outside_county": [999_999]})
    finally:
        await db.dispose()


@pytest.fixture(scope="module")
def admin_state(browser: Browser, live_server: LiveServer,
                support_state: dict[str, Any]) -> dict[str, Any]:
    """The county administrator's login, and a look-up by the support user
    (logged in just before) of a patient outside the county."""
    app = live_server._server.config.app
    in_fresh_thread(lambda: asyncio.run(_add_lookup(app.state.settings.database_url)))
    return login_state(browser, live_server, ADMIN_USER)


@pytest.fixture
def admin_tab(request: pytest.FixtureRequest, browser: Browser, live_server: LiveServer,
              admin_state: dict[str, Any]) -> Iterator[Tab]:
    with open_tab(browser, live_server, request.param, storage_state=admin_state) as tab:
        yield tab


@pytest.fixture
def support_tab(request: pytest.FixtureRequest, browser: Browser, live_server: LiveServer,
                support_state: dict[str, Any]) -> Iterator[Tab]:
    with open_tab(browser, live_server, request.param, storage_state=support_state) as tab:
        yield tab


CASES = WALK_CASES


@pytest.mark.parametrize("support_tab", CASES, indirect=True,
                         ids=[f"{lang}-{viewport}" for lang, viewport in CASES])
def test_support_pages_have_no_axe_violations(support_tab: Tab, axe_source: str,
                                              request: pytest.FixtureRequest) -> None:
    lang, viewport = request.node.callspec.params["support_tab"]
    walk = Walk(support_tab, axe_source, lang, viewport)
    page = walk.page
    if walk.goto("find", FIND):
        # Without a purpose: the form again with its error.
        page.fill("#identity_number", guardian_number())
        page.evaluate("document.getElementById('find-form').noValidate = true")
        with page.expect_navigation():
            page.locator("#find-form button[type='submit']").click()
        walk.check("find-error")
        page.check("#purpose-message_not_received")
        page.fill("#identity_number", guardian_number())
        with page.expect_navigation():
            page.locator("#find-form button[type='submit']").click()
        if "/staff/support/pasient/" not in page.url:
            walk.failures.append(f"finding the demo guardian led to {page.url}")
        else:
            walk.check("timeline")
            form = page.locator("details.support-resend").first
            form.locator("summary").click()
            form.locator("input[value='corrected']").check()
            form.locator("input[name='corrected']").fill("22 35 61 40")
            form.locator("input[name='reason']").fill("Ny test")
            with page.expect_navigation():
                form.locator("button[type='submit']").click()
            walk.check("resend-error")
    walk.goto("call-list", CALL_LIST)
    if walk.goto("bulk", BULK):
        page.fill("#error_code", "1")
        with page.expect_navigation():
            page.locator("#bulk-form button[type='submit']").click()
        walk.check("bulk-refused")
        page.fill("#error_code", "")
        page.fill("#until_time", "23:59")
        with page.expect_navigation():
            page.locator("#bulk-form button[type='submit']").click()
        if page.locator("#bulk-confirm").count() == 0:
            walk.failures.append("the bulk resend matched nothing")
        else:
            walk.check("bulk-preview")
            page.fill("#bulk-reason", "Test")
            with page.expect_navigation():
                page.locator("#bulk-confirm button[type='submit']").click()
            walk.check("bulk-result")
    missing = {"find", "find-error", "timeline", "resend-error", "call-list", "bulk",
               "bulk-refused", "bulk-preview", "bulk-result"} - set(walk.visited)
    if missing:
        walk.failures.append(f"pages not reached: {', '.join(sorted(missing))}")
    report = "\n\n".join(walk.failures)
    assert not walk.failures, f"{len(walk.failures)} problem(s) ({lang}, {viewport}):\n\n{report}"


@pytest.mark.parametrize("admin_tab", CASES, indirect=True,
                         ids=[f"{lang}-{viewport}" for lang, viewport in CASES])
def test_county_admin_pages_have_no_axe_violations(admin_tab: Tab, axe_source: str,
                                                   request: pytest.FixtureRequest) -> None:
    lang, viewport = request.node.callspec.params["admin_tab"]
    walk = Walk(admin_tab, axe_source, lang, viewport)
    page = walk.page
    if walk.goto("audit-log", AUDIT_LOG):
        with page.expect_navigation():
            page.locator("#verification button[type='submit']").click()
        walk.check("audit-verified")
        page.fill("#fra", "yesterday")
        with page.expect_navigation():
            page.locator("#search-form button[type='submit']").click()
        walk.check("audit-error")
        page.check("#purpose-access_request")
        page.fill("#identity_number", guardian_number())
        with page.expect_navigation():
            page.locator("#find-form button[type='submit']").click()
        if "pasient=" not in page.url:
            walk.failures.append(f"finding the demo guardian led to {page.url}")
        else:
            walk.check("audit-patient")
    if walk.goto("access-review", ACCESS_REVIEW):
        form = page.locator("article.support-message form").first
        if form.count():
            form.locator("input[name='note']").evaluate("el => el.required = false")
            with page.expect_navigation():
                form.locator("button[type='submit']").click()
            walk.check("access-review-error")
    missing = {"audit-log", "audit-verified", "audit-error", "audit-patient",
               "access-review", "access-review-error"} - set(walk.visited)
    if missing:
        walk.failures.append(f"pages not reached: {', '.join(sorted(missing))}")
    report = "\n\n".join(walk.failures)
    assert not walk.failures, f"{len(walk.failures)} problem(s) ({lang}, {viewport}):\n\n{report}"
