"""On a 360 px phone, the appointment page shows what matters first: the
status and the main action (confirming the clinic's notice, or changing and
cancelling) within the first screen, before the directions — in every
language, logged in as the demo guardian with children called in."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

from tests.browser.live import LANGUAGES, LiveServer, new_context

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

PHONE_360 = {"width": 360, "height": 640}
_APPOINTMENT = re.compile(r"^/timer/(\d+)$")


@pytest.fixture(params=LANGUAGES)
def phone(request: pytest.FixtureRequest, browser: Browser, live_server: LiveServer,
          logged_in_state: dict[str, Any]) -> Iterator[Page]:
    context = new_context(browser, live_server, lang=request.param, viewport=PHONE_360,
                          storage_state=logged_in_state)
    yield context.new_page()
    context.close()


def _box(page: Page, selector: str) -> dict[str, float]:
    locator = page.locator(selector).first
    assert locator.count() == 1, f"nothing matches {selector} on {page.url}"
    box = locator.bounding_box()
    assert box is not None, f"{selector} is not rendered on {page.url}"
    return box


def _above_the_fold(page: Page, selector: str) -> None:
    box = _box(page, selector)
    assert box["y"] >= 0 and box["y"] + box["height"] <= PHONE_360["height"], (
        f"{selector} ends at {box['y'] + box['height']:.0f}px, below the first "
        f"{PHONE_360['height']}px screen of {page.url}")
    assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE_360["width"]


def _appointments(page: Page) -> tuple[list[str], list[str]]:
    """(awaiting an answer, the others): appointment pages linked from My page."""
    page.goto("/min-side", wait_until="load")
    awaiting, others = [], []
    for row in page.locator("main .next-list__item").all():
        link = row.locator("a[href^='/timer/']")
        if link.count() == 0:  # an offer of an earlier time links elsewhere
            continue
        href = link.first.get_attribute("href") or ""
        if not _APPOINTMENT.match(href):
            continue
        (awaiting if row.locator("form[action$='/bekreft']").count() else others).append(href)
    return awaiting, others


def test_the_main_action_is_in_the_first_screen_of_the_appointment_page(phone: Page) -> None:
    awaiting, others = _appointments(phone)
    assert awaiting, "the demo guardian has children called in (innkalling)"
    assert others, "the demo guardian has appointments without a notice to answer"

    phone.goto(awaiting[0], wait_until="load")
    _above_the_fold(phone, "main .appointment-status form[action$='/bekreft'] button")
    _above_the_fold(phone, "main .appointment-status .ds-tag")
    # Status and actions come before the directions.
    status = _box(phone, "main .appointment-main")
    where = _box(phone, "#place-heading")
    assert status["y"] < where["y"]

    phone.goto(others[0], wait_until="load")
    _above_the_fold(phone, "main .appointment-status .ds-tag")
    _above_the_fold(phone, "main .appointment-actions a")
    # No sideways scrolling at 360 px.
    assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE_360["width"]
