"""axe-core over the pages where reception books, changes and cancels on a
patient's behalf, in Bokmål and Northern Sami (on the screens ``live.axe_cases``
gives): the book page
(kinds only, with the free times of a day, with an error), the result, the
change and cancel page (with an error), its waitlist form (with an error, and
with the patient put on), and the clinic's waitlist page. Logged in through the local
staff login as the demo's receptionist at Grünerløkka; the patient is the
demo guardian, reached by the signed link the find page gives."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

from tests.browser.live import (
    WALK_CASES,
    LiveServer,
    Tab,
    open_tab,
)
from tests.browser.reception import CLINIC, book_path, next_weekday, reception_state
from tests.browser.walk import Walk

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page


@pytest.fixture(scope="module")
def book_url(live_server: LiveServer) -> str:
    return book_path(live_server)


@pytest.fixture(scope="module")
def reception_login(browser: Browser, live_server: LiveServer, book_url: str) -> dict[str, Any]:
    return reception_state(browser, live_server, book_url)


@pytest.fixture
def reception_tab(request: pytest.FixtureRequest, browser: Browser, live_server: LiveServer,
                  reception_login: dict[str, Any]) -> Iterator[Tab]:
    with open_tab(browser, live_server, request.param, storage_state=reception_login) as tab:
        yield tab


def show_times(page: Page) -> None:
    page.locator("#type").select_option(index=1)
    page.fill("#day", next_weekday())
    with page.expect_navigation():
        page.locator("#choose-form button[type='submit']").click()


CASES = WALK_CASES


@pytest.mark.parametrize("reception_tab", CASES, indirect=True,
                         ids=[f"{lang}-{viewport}" for lang, viewport in CASES])
def test_on_behalf_pages_have_no_axe_violations(reception_tab: Tab, axe_source: str,
                                                book_url: str,
                                                request: pytest.FixtureRequest) -> None:
    lang, viewport = request.node.callspec.params["reception_tab"]
    walk = Walk(reception_tab, axe_source, lang, viewport)
    page = walk.page
    if walk.goto("book", book_url):
        show_times(page)
        if page.locator("#book-form input[name='slot']").count() == 0:
            walk.failures.append("no free time shown:\n" + page.locator("main").inner_text()[:400])
        else:
            walk.check("book-times")
            page.evaluate("document.getElementById('book-form').noValidate = true")
            page.locator("#book-form input[name='slot']").first.check()
            with page.expect_navigation():
                page.locator("#book-form button[type='submit']").click()
            walk.check("book-error")
            page.locator("#book-form input[name='slot']").first.check()
            page.fill("#reason", "Axe")
            with page.expect_navigation():
                page.locator("#book-form button[type='submit']").click()
            walk.check("done")
            with page.expect_navigation():
                page.locator("main a[href*='/time/']").first.click()
            walk.check("change")
            page.evaluate("document.getElementById('waitlist-form').noValidate = true")
            with page.expect_navigation():
                page.locator("#waitlist-save").click()
            walk.check("waitlist-error")
            page.fill("#wl-reason", "Axe")
            with page.expect_navigation():
                page.locator("#waitlist-save").click()
            walk.check("waitlist-added")
            appointment_page = page.url
            walk.goto("waitlist-list", f"/staff/klinikk/{CLINIC}/venteliste")
            page.goto(appointment_page, wait_until="load")
            page.evaluate("document.getElementById('cancel-form').noValidate = true")
            with page.expect_navigation():
                page.locator("#cancel-form button[type='submit']").click()
            walk.check("cancel-error")
            page.fill("#cancel-reason", "Axe")
            with page.expect_navigation():
                page.locator("#cancel-form button[type='submit']").click()
            walk.check("cancelled")
    missing = {"book", "book-times", "book-error", "done", "change", "waitlist-error",
               "waitlist-added", "waitlist-list", "cancel-error", "cancelled"} - set(walk.visited)
    if missing:
        walk.failures.append(f"pages not reached: {', '.join(sorted(missing))}")
    report = "\n\n".join(walk.failures)
    assert not walk.failures, f"{len(walk.failures)} problem(s) ({lang}, {viewport}):\n\n{report}"
