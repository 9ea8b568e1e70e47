"""Keyboard only in the support console: finding a patient and sending a
failed message again, and a bulk resend after an outage, from the form to
the count and sample, the reason and the confirmation, with Tab, Space,
typing and Enter, and a visible focus indicator on every element that gets
focus."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

from tests.browser.keyboard import Keyboard
from tests.browser.live import VIEWPORTS, LiveServer, in_fresh_thread, new_context
from tests.browser.login import guardian_number
from tests.browser.support_console import (
    BULK,
    FIND,
    SUPPORT_USER,
    add_failed_sms,
    login_state,
)

if TYPE_CHECKING:
    from playwright.sync_api import Browser


@pytest.fixture(scope="module")
def support_login(browser: Browser, live_server: LiveServer) -> dict[str, Any]:
    """A text message that failed today, and the support user's login."""
    app = live_server._server.config.app
    in_fresh_thread(lambda: asyncio.run(add_failed_sms(app.state.settings.database_url,
                                                      app.state.vault)))
    return login_state(browser, live_server, SUPPORT_USER)


@pytest.fixture(params=list(VIEWPORTS))
def keyboard(request: pytest.FixtureRequest, browser: Browser, live_server: LiveServer,
             support_login: dict[str, Any]) -> Iterator[Keyboard]:
    context = new_context(browser, live_server, lang="en", viewport=VIEWPORTS[request.param],
                          storage_state=support_login)
    yield Keyboard(context.new_page())
    context.close()


def test_bulk_resend_with_the_keyboard(keyboard: Keyboard) -> None:
    page = keyboard.page
    page.goto(BULK, wait_until="load")
    keyboard.tab_to("#bulk-form button[type='submit']", "the button that shows what matches")
    with page.expect_navigation():
        keyboard.press("Enter")
    if page.locator("#bulk-confirm").count() == 0:
        pytest.fail("the bulk resend matched nothing:\n"
                    + page.locator("main").inner_text()[:500], pytrace=False)
    keyboard.tab_to("#bulk-reason", "the reason")
    page.keyboard.type("Provider outage")
    keyboard.tab_to("#bulk-confirm button[type='submit']", "the confirmation")
    with page.expect_navigation():
        keyboard.press("Enter")
    assert page.locator("#bulk-result").is_visible()
    keyboard.assert_focus_always_visible()


def test_find_and_resend_with_the_keyboard(keyboard: Keyboard) -> None:
    page = keyboard.page
    page.goto(FIND, wait_until="load")
    keyboard.tab_to("input[name='purpose']", "the purposes")
    for _ in range(10):  # a radio group: the arrow keys choose within it
        if page.evaluate("() => document.activeElement.id") == "purpose-message_not_received":
            break
        keyboard.press("ArrowDown")
    keyboard.press("Space")
    assert page.is_checked("#purpose-message_not_received")
    keyboard.tab_to("#identity_number", "the identity number")
    page.keyboard.type(guardian_number())
    with page.expect_navigation():
        keyboard.press("Enter")
    assert "/staff/support/pasient/" in page.url, page.locator("main").inner_text()[:500]
    keyboard.tab_to("details.support-resend summary", "Send again")
    keyboard.press("Enter")
    keyboard.tab_to("details[open] input[name='reason']", "the reason")
    page.keyboard.type("The patient never got it")
    keyboard.tab_to("details[open] button[type='submit']", "the send button")
    with page.expect_navigation():
        keyboard.press("Enter")
    assert page.locator("#resent").is_visible()
    keyboard.assert_focus_always_visible()
