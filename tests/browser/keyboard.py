"""Moving through pages with the keyboard only, checking the focus indicator
on the way."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from tests.browser.live import FOCUS_VISIBLE_JS

if TYPE_CHECKING:
    from playwright.sync_api import Page

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


def heading(page: Page) -> str:
    return " ".join(page.locator("h1").inner_text().split())
