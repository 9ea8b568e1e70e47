"""Keyboard only: no mouse, no clicks — Tab, typing, arrow keys and Enter,
with a visible focus indicator on every element that gets focus.

The first journey: from the front page to a clinic's page through the
search. (Booking, changing and cancelling come with those pages.)"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from tests.browser.keyboard import Keyboard, heading
from tests.browser.live import VIEWPORTS, LiveServer, new_context

if TYPE_CHECKING:
    from playwright.sync_api import Browser


@pytest.fixture(params=list(VIEWPORTS))
def keyboard(request: pytest.FixtureRequest, browser: Browser,
             live_server: LiveServer) -> Iterator[Keyboard]:
    context = new_context(browser, live_server, lang="nb",
                          viewport=VIEWPORTS[request.param])
    yield Keyboard(context.new_page())
    context.close()


def test_find_a_clinic_with_the_keyboard(keyboard: Keyboard, live_server: LiveServer) -> None:
    demo = live_server.demo
    page = keyboard.page
    page.goto("/")

    keyboard.tab_to('main a[href="/klinikker"]', "the clinic search link")
    with page.expect_navigation():
        keyboard.press("Enter")
    assert page.url.endswith("/klinikker")
    assert heading(page) == "Finn klinikk"

    keyboard.tab_to("select#fylke", "the county list")
    keyboard.choose_option(demo.county_name)
    keyboard.tab_to("input#kommune", "the municipality field")
    page.keyboard.type(demo.municipality)
    keyboard.tab_to("input#navn", "the clinic name field")
    page.keyboard.type(demo.clinic_name)
    keyboard.press("Enter")
    # With htmx the results are swapped in place and the address updated;
    # without, the form is an ordinary GET. Either way the one clinic is listed.
    page.wait_for_url("**/klinikker?*navn=*")
    result = f'#results a[href="/klinikker/{demo.clinic_slug}"]'
    page.locator(result).wait_for()
    page.wait_for_function(
        "() => document.querySelectorAll('#results a').length === 1")

    keyboard.tab_to("#results a", "the clinic in the results")
    assert page.evaluate("document.activeElement.textContent.trim()") == demo.clinic_name
    with page.expect_navigation():
        keyboard.press("Enter")
    assert page.url.endswith(f"/klinikker/{demo.clinic_slug}")
    assert heading(page) == demo.clinic_name
    assert page.evaluate("document.documentElement.lang") == "nb"

    keyboard.assert_focus_always_visible()


def test_change_language_with_the_keyboard(keyboard: Keyboard) -> None:
    page = keyboard.page
    page.goto("/klinikker")
    # The languages are behind one disclosure: Enter opens it.
    keyboard.tab_to(".language-switcher summary", "the language control")
    keyboard.press("Enter")
    keyboard.tab_to('.language-switcher button[value="nn"]', "the Nynorsk button")
    with page.expect_navigation():
        keyboard.press("Enter")
    assert page.url.endswith("/klinikker"), "the language switch did not return to the page"
    assert page.evaluate("document.documentElement.lang") == "nn"
    assert page.locator('.language-switcher [aria-current="true"]').text_content() == "Nynorsk"
    # Space opens the disclosure and activates a button too.
    keyboard.tab_to(".language-switcher summary", "the language control")
    keyboard.press(" ")
    keyboard.tab_to('.language-switcher button[value="se"]', "the Northern Sami button")
    with page.expect_navigation():
        keyboard.press(" ")
    assert page.evaluate("document.documentElement.lang") == "se"

    keyboard.assert_focus_always_visible()
