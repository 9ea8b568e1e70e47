"""What a 360 px phone shows first: a compact header (one row: the name,
the account links and one language control), and the main action of the
landing page and of the time picker above the fold, in all four languages;
headings that wrap between words, not inside them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

from tests.browser.live import LiveServer, new_context

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page, ViewportSize

#: A common small Android phone.
PHONE: ViewportSize = {"width": 360, "height": 640}
LANGUAGES = ("nb", "nn", "en", "se")
#: The header may take at most this share of the first screen.
HEADER_SHARE = 0.15


def _bottom(page: Page, selector: str) -> float:
    box = page.locator(selector).first.bounding_box()
    assert box is not None, f"{selector} is not shown"
    return float(box["y"] + box["height"])


def _header_height(page: Page) -> float:
    box = page.locator("header.site-header").bounding_box()
    assert box is not None
    return float(box["height"])


def _headings_break_between_words(page: Page) -> None:
    """No heading is wider than its box (a word cut off or sticking out), and
    headings hyphenate by the page's language rather than break anywhere."""
    found: list[dict[str, Any]] = page.evaluate("""() =>
        [...document.querySelectorAll('main h1, main h2')].map(h => ({
            text: h.textContent.trim(), overflow: h.scrollWidth > h.clientWidth,
            hyphens: getComputedStyle(h).hyphens, lang: h.closest('[lang]').lang}))""")
    for heading in found:
        assert not heading["overflow"], heading
        assert heading["hyphens"] == "auto" and heading["lang"], heading


@pytest.fixture
def phone(browser: Browser, live_server: LiveServer) -> Iterator[Any]:
    contexts = []

    def open_page(lang: str, **options: Any) -> Page:
        context = new_context(browser, live_server, lang=lang, viewport=PHONE, **options)
        contexts.append(context)
        return context.new_page()

    yield open_page
    for context in contexts:
        context.close()


@pytest.mark.parametrize("lang", LANGUAGES)
def test_landing_page_main_action_is_above_the_fold(phone: Any, lang: str) -> None:
    page = phone(lang)
    page.goto("/", wait_until="load")
    assert _header_height(page) <= PHONE["height"] * HEADER_SHARE
    assert _bottom(page, "main a.call-to-action[href='/klinikker']") <= PHONE["height"]
    # No sideways scrolling, and the languages are behind one control.
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert page.locator(".language-switcher button[name=lang]").first.is_hidden()
    _headings_break_between_words(page)


def test_the_language_control_works_without_javascript(phone: Any) -> None:
    page = phone("nb", java_script_enabled=False)
    page.goto("/klinikker", wait_until="load")
    page.locator(".language-switcher summary").click()
    nynorsk = page.locator('.language-switcher button[value="nn"]')
    assert nynorsk.is_visible()
    with page.expect_navigation():
        nynorsk.click()
    assert page.url.endswith("/klinikker")
    assert page.evaluate("document.documentElement.lang") == "nn"
    assert "NN" in page.locator(".language-switcher summary").inner_text()


@pytest.mark.parametrize("lang", LANGUAGES)
def test_picker_main_action_is_above_the_fold(phone: Any, logged_in_state: dict[str, Any],
                                              lang: str) -> None:
    page = phone(lang, storage_state=logged_in_state)
    page.goto("/min-side", wait_until="load")
    # The header of a logged-in patient: one row, with the profile linked.
    assert _header_height(page) <= PHONE["height"] * HEADER_SHARE
    assert page.locator("header a[href='/profil']").is_visible()
    page.goto("/bestill?for=me", wait_until="load")
    with page.expect_navigation():
        page.locator("main .choice-list li:last-child a.choice-list__link").click()
    with page.expect_navigation():
        page.locator("main .choice-list a[data-clinic]").first.click()
    assert page.locator("form.time-form").count() == 1
    # Follow the jump to the next free time until a day has times.
    for _ in range(10):
        if page.locator("#day .time-list input[name=slot]").count():
            break
        day = page.evaluate("document.querySelector('#day input[name=\"day\"]').value")
        page.locator("#day a#next-free").click()  # htmx swaps the day in place
        page.wait_for_function(
            "(day) => document.querySelector('#day input[name=\"day\"]')?.value !== day",
            arg=day)
    assert _header_height(page) <= PHONE["height"] * HEADER_SHARE
    assert _bottom(page, "nav.week-strip") <= PHONE["height"]
    assert _bottom(page, "#day .time-list__item") <= PHONE["height"]
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    _headings_break_between_words(page)
