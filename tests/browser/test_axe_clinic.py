"""axe-core over the reception part of the clinic console, in every
language, at desktop and tablet width: the day view (and with a bad date),
an opened appointment, the find form (and with an error), the clinic's
waitlist and the patient's page for staff. Logged in through the local staff login as the
demo's receptionist at Grünerløkka, on the demo's reception day. And
keyboard only: open an appointment that has started and mark a no-show."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import TYPE_CHECKING, Any

import pytest
from playwright.sync_api import ViewportSize

from tests.browser.keyboard import Keyboard
from tests.browser.live import VIEWPORTS, LiveServer, Tab, axe_cases, new_context, open_tab
from tests.browser.login import staff_state
from tests.browser.walk import Walk

if TYPE_CHECKING:
    from playwright.sync_api import Browser

RECEPTION_USER = "reception-grunerlokka"
CLINIC = "tannklinikken-grunerlokka"
BASE = f"/staff/klinikk/{CLINIC}"
SIZES: dict[str, ViewportSize] = {"desktop": VIEWPORTS["desktop"],
                                  "tablet": {"width": 768, "height": 1024}}


def _day_path() -> str:
    from demo.seed import reception_day_date

    return f"{BASE}/dag?dato={reception_day_date(date.today()).isoformat()}"


@pytest.fixture(scope="module")
def reception_state(browser: Browser, live_server: LiveServer) -> dict[str, Any]:
    """The cookie jar of the receptionist's login."""
    return staff_state(browser, live_server.url, RECEPTION_USER, "/staff/klinikk",
                       lands_on=f"**{BASE}/dag*")


@pytest.fixture
def reception_tab(request: pytest.FixtureRequest, browser: Browser, live_server: LiveServer,
                  reception_state: dict[str, Any]) -> Iterator[Tab]:
    with open_tab(browser, live_server, request.param,
                  screens=SIZES, storage_state=reception_state) as tab:
        yield tab


CASES = axe_cases("desktop", "tablet")


@pytest.mark.parametrize("reception_tab", CASES, indirect=True,
                         ids=[f"{lang}-{size}" for lang, size in CASES])
def test_reception_pages_have_no_axe_violations(reception_tab: Tab, axe_source: str,
                                                request: pytest.FixtureRequest) -> None:
    lang, size = request.node.callspec.params["reception_tab"]
    walk = Walk(reception_tab, axe_source, lang, size)
    page = walk.page
    if walk.goto("day", _day_path()) and walk.follow("appointment", "table.day-grid a"):
        walk.follow("patient", "a[href*='/pasient/']")
    page.goto(f"{BASE}/dag?dato=not-a-date", wait_until="load")
    walk.check("day-error")
    if walk.goto("find", f"{BASE}/finn"):
        page.evaluate("document.getElementById('find-form').noValidate = true")
        with page.expect_navigation():
            page.locator("#find-form button[type='submit']").click()
        walk.check("find-error")
    walk.goto("waitlist", f"{BASE}/venteliste")
    missing = {"day", "appointment", "patient", "day-error", "find", "find-error",
               "waitlist"} - set(walk.visited)
    if missing:
        walk.failures.append(f"pages not reached: {', '.join(sorted(missing))}")
    report = "\n\n".join(walk.failures)
    assert not walk.failures, f"{len(walk.failures)} problem(s) ({lang}, {size}):\n\n{report}"


@pytest.fixture(params=list(SIZES))
def keyboard(request: pytest.FixtureRequest, browser: Browser, live_server: LiveServer,
             reception_state: dict[str, Any]) -> Iterator[Keyboard]:
    context = new_context(browser, live_server, lang="en", viewport=SIZES[request.param],
                          storage_state=reception_state)
    yield Keyboard(context.new_page())
    context.close()


def test_mark_a_no_show_with_the_keyboard(keyboard: Keyboard) -> None:
    page = keyboard.page
    page.goto(_day_path())
    # The first appointment of the day (08:00) has started: a receptionist
    # opens it and marks that the patient did not come, then takes it back.
    keyboard.tab_to("table.day-grid a", "the first appointment of the day")
    with page.expect_navigation():
        keyboard.press("Enter")
    assert "/time/" in page.url
    keyboard.tab_to("#mark-no_show, #undo", "the no-show button")
    if page.evaluate("document.activeElement.id") == "undo":
        # Marked in an earlier run on this page (the other width): undo first.
        with page.expect_navigation():
            keyboard.press("Enter")
        keyboard.tab_to("#mark-no_show", "the no-show button")
    with page.expect_navigation():
        keyboard.press("Enter")
    assert "merket=no_show" in page.url
    assert "Marked as no-show." in page.locator("#mark-done").inner_text()
    assert page.locator("#attendance-state").inner_text().strip().startswith("Did not come")
    keyboard.tab_to("#undo", "the undo button")
    with page.expect_navigation():
        keyboard.press("Enter")
    assert "The mark was undone." in page.locator("#mark-done").inner_text()
    keyboard.assert_focus_always_visible()
