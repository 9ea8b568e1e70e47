"""Keyboard only at the reception desk: book on a patient's behalf, from the
patient's page for staff through the kind and the day to a free time, the
reason and the booking; and put the patient on the waitlist for an earlier
time from the same page. With Tab, typing, the arrow keys, Space and Enter,
and a visible focus indicator on every element that gets focus."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

from tests.browser.keyboard import Keyboard
from tests.browser.live import VIEWPORTS, LiveServer, new_context
from tests.browser.reception import book_path, next_weekday, reception_state

if TYPE_CHECKING:
    from playwright.sync_api import Browser


@pytest.fixture(scope="module")
def book_url(live_server: LiveServer) -> str:
    return book_path(live_server)


@pytest.fixture(scope="module")
def reception_login(browser: Browser, live_server: LiveServer, book_url: str) -> dict[str, Any]:
    return reception_state(browser, live_server, book_url)


@pytest.fixture(params=list(VIEWPORTS))
def keyboard(request: pytest.FixtureRequest, browser: Browser, live_server: LiveServer,
             reception_login: dict[str, Any]) -> Iterator[Keyboard]:
    context = new_context(browser, live_server, lang="en", viewport=VIEWPORTS[request.param],
                          storage_state=reception_login)
    yield Keyboard(context.new_page())
    context.close()


def test_book_on_behalf_with_the_keyboard(keyboard: Keyboard, book_url: str) -> None:
    page = keyboard.page
    page.goto(book_url.removesuffix("/bestill"), wait_until="load")  # the patient's page
    keyboard.tab_to("#book-on-behalf", "the link to booking for the patient")
    with page.expect_navigation():
        keyboard.press("Enter")
    keyboard.tab_to("#type", "the kind of appointment")
    page.keyboard.press("ArrowDown")
    keyboard.tab_to("#day", "the day")
    page.keyboard.press("ControlOrMeta+a")
    page.keyboard.type(next_weekday())
    with page.expect_navigation():
        keyboard.press("Enter")
    if page.locator("#book-form input[name='slot']").count() == 0:
        pytest.fail("no free time shown:\n" + page.locator("main").inner_text()[:500],
                    pytrace=False)
    keyboard.tab_to("#book-form input[name='slot']", "the first free time")
    page.keyboard.press("Space")
    keyboard.tab_to("#reason", "the reason")
    page.keyboard.type("Phoned in")
    with page.expect_navigation():
        keyboard.press("Enter")
    assert page.locator("#done").is_visible()
    keyboard.assert_focus_always_visible()


def test_put_on_the_waitlist_with_the_keyboard(keyboard: Keyboard, book_url: str) -> None:
    page = keyboard.page
    page.goto(book_url.removesuffix("/bestill"), wait_until="load")  # the patient's page
    if page.locator(".waitlist-link").count() == 0:
        pytest.fail("no upcoming appointment at the clinic:\n"
                    + page.locator("main").inner_text()[:500], pytrace=False)
    keyboard.tab_to(".waitlist-link", "the waitlist link of an appointment")
    with page.expect_navigation():
        keyboard.press("Enter")
    assert "#waitlist" in page.url
    keyboard.tab_to("#wl-day-1", "Tuesday")
    if not page.locator("#wl-day-1").is_checked():
        page.keyboard.press("Space")
    keyboard.tab_to("#wl-notice", "the notice the patient needs")
    page.keyboard.press("ArrowDown")
    keyboard.tab_to("#wl-reason", "the reason")
    page.keyboard.type("Phoned, can come at short notice")
    with page.expect_navigation():
        keyboard.press("Enter")
    assert "venteliste=lagt" in page.url
    assert page.locator("#waitlist-done").is_visible()
    assert page.locator("#wl-day-1").is_checked()
    keyboard.assert_focus_always_visible()
