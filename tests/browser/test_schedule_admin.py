"""The clinic admin's week in a browser: axe-core over the week grid, a
preview (swapped in by htmx), a refused block and the list of appointments
waiting for a decision, a closure's preview and the chairs (with the question before one
is taken out of use), in Bokmål and Northern Sami (at the widths ``live.axe_cases`` gives); and
adding a block, previewing and saving it with the keyboard only. Logged in
through the local staff login as the demo's clinic admin at Majorstuen."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import pytest

from tests.browser import schedule_admin
from tests.browser.keyboard import Keyboard
from tests.browser.live import (
    VIEWPORTS,
    LiveServer,
    Tab,
    new_context,
)
from tests.browser.login import staff_state
from tests.browser.schedule_admin import CASES, WEEK, WIDTHS
from tests.browser.walk import Walk

if TYPE_CHECKING:
    from playwright.sync_api import Browser

STRANDED = "/staff/klinikk/tannklinikken-majorstuen/strandet"
CHAIRS = "/staff/klinikk/tannklinikken-majorstuen/stoler"
TYPES = "/staff/fylke/timetyper"

#: The clinic admin's fixtures, shared with the other schedule admin walks.
admin_state, admin_tab = schedule_admin.admin_state, schedule_admin.admin_tab


@pytest.mark.parametrize("admin_tab", CASES, indirect=True,
                         ids=[f"{lang}-{width}" for lang, width in CASES])
def test_week_pages_have_no_axe_violations(admin_tab: Tab, axe_source: str,
                                           request: pytest.FixtureRequest) -> None:
    lang, width = request.node.callspec.params["admin_tab"]
    walk = Walk(admin_tab, axe_source, lang, width)
    page = walk.page
    if walk.goto("week", WEEK):
        if os.environ.get("TANNTID_SCREENSHOTS"):
            page.screenshot(path=f"/tmp/week-{lang}-{width}.png", full_page=True)
        # A block that ends before it starts: the error, swapped in by htmx.
        page.fill("#new-starts_at", "12:00")
        page.fill("#new-ends_at", "10:00")
        page.check("#new-form input[name=type] >> nth=0")
        page.locator("#new-preview").click()
        page.locator("#error-summary").wait_for()
        walk.check("week-error")
        # A valid block: the preview.
        page.select_option("#new-weekday", "6")
        page.fill("#new-starts_at", "08:00")
        page.fill("#new-ends_at", "10:00")
        page.locator("#new-preview").click()
        page.locator("#save-form").wait_for()
        walk.check("week-preview")
        if os.environ.get("TANNTID_SCREENSHOTS"):
            page.screenshot(path=f"/tmp/week-preview-{lang}-{width}.png", full_page=True)
        # Closing the chair for the rest of today: its preview.
        page.check("#closure-scope-chair")
        page.locator("#closure-preview-button").click()
        page.locator("#closure-save-form").wait_for()
        walk.check("closure-preview")
    walk.goto("stranded", STRANDED)
    if walk.goto("chairs", CHAIRS):
        # Taking a chair out of use asks first, listing its appointments ahead.
        page.locator("#chair-list form[action$='/deaktiver'] button").first.click()
        page.locator("#confirm").wait_for()
        walk.check("chair-confirm")
    expected = {"week", "week-error", "week-preview", "closure-preview", "stranded", "chairs",
                "chair-confirm"}
    missing = expected - set(walk.visited)
    if missing:
        walk.failures.append(f"pages not reached: {', '.join(sorted(missing))}")
    report = "\n\n".join(walk.failures)
    assert not walk.failures, f"{len(walk.failures)} problem(s) ({lang}, {width}):\n\n{report}"


def test_add_preview_and_save_a_block_with_the_keyboard(
        browser: Browser, live_server: LiveServer, admin_state: dict[str, Any]) -> None:
    context = new_context(browser, live_server, lang="nb", viewport=VIEWPORTS["desktop"],
                          storage_state=admin_state)
    keyboard = Keyboard(context.new_page())
    page = keyboard.page
    try:
        page.goto(WEEK)
        keyboard.tab_to("#add-block-link", "the link to the add form")
        keyboard.press("Enter")
        keyboard.tab_to("#new-weekday", "the day of the new block")
        keyboard.choose_option("Søndag")
        keyboard.tab_to("#new-form input[name=type]", "the first appointment type")
        keyboard.press("Space")
        keyboard.tab_to("#new-released", "open for online booking")
        keyboard.press("Space")  # staff-only time: patients' searches stay as they were
        keyboard.tab_to("#new-preview", "the preview button")
        keyboard.press("Enter")
        page.locator("#save-form").wait_for()
        keyboard.tab_to("#save", "the save button")
        keyboard.press("Enter")
        page.locator("#saved").wait_for()
        assert "08:00–12:00" in page.locator("#week-grid").inner_text()
        keyboard.assert_focus_always_visible()
    finally:
        context.close()


@pytest.fixture(scope="module")
def county_state(browser: Browser, live_server: LiveServer) -> dict[str, Any]:
    return staff_state(browser, live_server.url, "county-admin-oslo", TYPES)


@pytest.mark.parametrize(("lang", "width"), CASES, ids=[f"{lang}-{width}" for lang, width in CASES])
def test_appointment_types_have_no_axe_violations(
        lang: str, width: str, browser: Browser, live_server: LiveServer,
        county_state: dict[str, Any], axe_source: str) -> None:
    context = new_context(browser, live_server, lang=lang, viewport=WIDTHS[width],
                          storage_state=county_state)
    try:
        walk = Walk(Tab(context.new_page()), axe_source, lang, width)
        if walk.goto("types", TYPES):
            page = walk.page
            page.fill("#new-code", "axe-test")
            page.evaluate("document.getElementById('new-form').noValidate = true")
            with page.expect_navigation():
                page.locator("#new-form button[type='submit']").click()
            walk.check("types-error")
        assert not walk.failures, "\n\n".join(walk.failures)
    finally:
        context.close()
