"""Keyboard only: no mouse, no clicks — Tab, typing, arrow keys and Enter,
with a visible focus indicator on every element that gets focus.

The first journey: from the front page to a clinic's page through the
search. (Booking, changing and cancelling come with those pages.)"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

from tests.browser.conftest import (
    FOCUS_VISIBLE_JS,
    VIEWPORTS,
    LiveServer,
    new_context,
)

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

#: More Tab presses than this to reach something is a failure in itself.
MAX_TABS = 40


class Keyboard:
    """Moves through a page with Tab and remembers every focused element that
    showed no focus indicator."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.invisible: list[str] = []

    def focused(self) -> dict[str, Any] | None:
        state: dict[str, Any] | None = self.page.evaluate(FOCUS_VISIBLE_JS)
        return state

    def _check_focus(self) -> None:
        state = self.focused()
        if state is None:
            return
        # Designsystemet's skip link (outline: 0) is hidden until focused: its
        # appearance is its focus indicator (tested in test_axe).
        if self.page.evaluate("document.activeElement.matches('.ds-skip-link')"):
            return
        if not (state["outline"] or state["shadow"]):
            self.invisible.append(
                f"{self.page.url}: <{state['tag'].lower()}> {state['text']!r} "
                f"(outline {state['outlineValue']}, box-shadow {state['boxShadow']})")

    def press(self, key: str) -> None:
        self.page.keyboard.press(key)
        if key in ("Tab", "Shift+Tab"):
            self._check_focus()

    def tab_to(self, selector: str, what: str) -> None:
        """Press Tab until the focused element matches ``selector``."""
        for _ in range(MAX_TABS):
            self.press("Tab")
            if self.page.evaluate("s => document.activeElement.matches(s)", selector):
                return
        pytest.fail(f"{MAX_TABS} presses of Tab never reached {what} ({selector}) "
                    f"on {self.page.url}", pytrace=False)

    def choose_option(self, text: str) -> None:
        """Arrow down through the focused <select> until ``text`` is chosen."""
        for _ in range(400):
            chosen = self.page.evaluate(
                "() => document.activeElement.selectedOptions[0]?.textContent.trim()")
            if chosen == text:
                return
            self.press("ArrowDown")
        pytest.fail(f"the arrow keys never chose {text!r}", pytrace=False)

    def assert_focus_always_visible(self) -> None:
        assert not self.invisible, ("focus was not visible on:\n  "
                                    + "\n  ".join(dict.fromkeys(self.invisible)))


@pytest.fixture(params=list(VIEWPORTS))
def keyboard(request: pytest.FixtureRequest, browser: Browser,
             live_server: LiveServer) -> Iterator[Keyboard]:
    context = new_context(browser, live_server, lang="nb",
                          viewport=VIEWPORTS[request.param])
    yield Keyboard(context.new_page())
    context.close()


def heading(page: Page) -> str:
    return " ".join(page.locator("h1").inner_text().split())


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
    keyboard.tab_to('.language-switcher button[value="nn"]', "the Nynorsk button")
    with page.expect_navigation():
        keyboard.press("Enter")
    assert page.url.endswith("/klinikker"), "the language switch did not return to the page"
    assert page.evaluate("document.documentElement.lang") == "nn"
    assert page.locator('.language-switcher [aria-current="true"]').inner_text() == "Nynorsk"
    # Space activates a button too.
    keyboard.tab_to('.language-switcher button[value="se"]', "the Northern Sami button")
    with page.expect_navigation():
        keyboard.press(" ")
    assert page.evaluate("document.documentElement.lang") == "se"

    keyboard.assert_focus_always_visible()
