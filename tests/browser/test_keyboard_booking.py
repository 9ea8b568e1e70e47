"""Keyboard only, logged in: book an appointment, change it to another time
and cancel it — with Tab, Shift+Tab, Enter, Space and the arrow keys, no
mouse and no clicks, and a visible focus indicator on everything that gets
focus on the way. In English, for stable texts."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest

from tests.browser.keyboard import Keyboard, heading
from tests.browser.live import VIEWPORTS, LiveServer, new_context

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

Busy = tuple[tuple[datetime, datetime], ...]


def _enter(keyboard: Keyboard) -> None:
    """Press Enter on the focused link or button and wait for the next page."""
    with keyboard.page.expect_navigation():
        keyboard.press("Enter")


def _from_the_top(page: Page, path: str) -> None:
    page.goto(path, wait_until="load")
    page.focus("body")


def _server_now_ms() -> float:
    """The server's clock (a thread of this process, on the suite's moved
    clock), not the browser's ``Date.now()``."""
    return time.time() * 1000


def _focused_slot(page: Page) -> dict[str, Any]:
    state: dict[str, Any] = page.evaluate("""(serverNow) => {
        const el = document.activeElement;
        const time = el.labels && el.labels[0] ? el.labels[0].querySelector('time') : null;
        return {name: el.name, value: el.value, checked: el.checked,
                label: el.labels && el.labels[0] ? el.labels[0].textContent.trim() : '',
                starts_at: time ? time.getAttribute('datetime') : '',
                hours_ahead: time ? (Date.parse(time.getAttribute('datetime')) - serverNow)
                                    / 3600000 : 0};
    }""", _server_now_ms())
    return state


def _free(slot: dict[str, Any], busy: Busy, avoid: str | None) -> bool:
    """A time more than a day ahead, so that it can still be changed online,
    that is not ``avoid`` and not while the person has another appointment."""
    if not slot["starts_at"] or slot["label"] == avoid or slot["hours_ahead"] <= 25:
        return False
    starts_at = datetime.fromisoformat(slot["starts_at"])
    return not any(start - timedelta(hours=2) < starts_at < end for start, end in busy)


def _day_times(page: Page) -> list[dict[str, Any]]:
    times: list[dict[str, Any]] = page.evaluate("""(serverNow) =>
        [...document.querySelectorAll('#day input[name="slot"]')].map(el => {
            const time = el.labels[0].querySelector('time');
            return {label: el.labels[0].textContent.trim(),
                    starts_at: time.getAttribute('datetime'),
                    hours_ahead: (Date.parse(time.getAttribute('datetime')) - serverNow)
                                 / 3600000};
        })""", _server_now_ms())
    return times


def _show_a_day_with_a_free_time(keyboard: Keyboard, busy: Busy, avoid: str | None) -> None:
    """Go on to the next day (the Next day link, with Enter) until the day
    shown has a time :func:`_free` allows: whatever the hour and weekday,
    today's and tomorrow's times may all be too near."""
    page = keyboard.page
    for _ in range(14):
        if any(_free(slot, busy, avoid) for slot in _day_times(page)):
            return
        day = page.evaluate("document.querySelector('#day input[name=\"day\"]').value")
        keyboard.tab_to("#day a#next-day", "the Next day link")
        keyboard.press("Enter")
        page.wait_for_function(
            "(day) => document.querySelector('#day input[name=\"day\"]')?.value !== day", arg=day)
    pytest.fail("no day in the next two weeks has a time more than a day ahead", pytrace=False)


def _choose_a_time(keyboard: Keyboard, busy: Busy, avoid: str | None = None
                   ) -> dict[str, Any]:
    """Tab into the times, move with the arrow keys to a time (another than
    ``avoid``), select it with Space and Tab on to the submit button."""
    page = keyboard.page
    _show_a_day_with_a_free_time(keyboard, busy, avoid)
    keyboard.tab_to("input[type='radio'][name='slot']", "the free times")
    keyboard.press("ArrowDown")  # moves to (and selects) the next time
    keyboard.press("ArrowUp")    # and back: the arrow keys work both ways
    slot = _focused_slot(page)
    for _ in range(100):
        if _free(slot, busy, avoid):
            break
        keyboard.press("ArrowDown")
        slot = _focused_slot(page)
    keyboard.press(" ")
    slot = _focused_slot(page)
    assert slot["checked"], f"Space did not select the time {slot}"
    assert _free(slot, busy, avoid), slot
    keyboard.tab_to("form.time-form button[type='submit']", "the submit button")
    return slot


@pytest.fixture(params=list(VIEWPORTS))
def keyboard(request: pytest.FixtureRequest, browser: Browser, live_server: LiveServer,
             logged_in_state: dict[str, Any]) -> Iterator[Keyboard]:
    context = new_context(browser, live_server, lang="en", viewport=VIEWPORTS[request.param],
                          storage_state=logged_in_state)
    yield Keyboard(context.new_page())
    context.close()


def test_book_change_and_cancel_with_the_keyboard(keyboard: Keyboard,
                                                  live_server: LiveServer) -> None:
    page = keyboard.page
    busy = live_server.demo.busy

    # My page → "Book an appointment" (for me).
    _from_the_top(page, "/min-side")
    keyboard.tab_to('main a[href="/bestill"]', "the Book an appointment link")
    _enter(keyboard)
    assert heading(page) == "Who is the appointment for?"

    keyboard.tab_to('main .choice-list a[href="/bestill?for=me"]', "Me")
    _enter(keyboard)
    assert heading(page) == "What kind of appointment?"

    # The guardian has an adult check-up already; book the hygienist.
    keyboard.tab_to("main .choice-list li:last-child a", "the last kind of appointment")
    kind = " ".join(page.evaluate("document.activeElement.querySelector('.choice-list__title')"
                                  ".textContent").split())
    assert kind == "Dental hygienist appointment"
    _enter(keyboard)
    assert heading(page) == "Which clinic?"

    keyboard.tab_to("main .choice-list a[data-clinic]", "the first clinic")
    clinic = page.evaluate("document.activeElement.querySelector('.choice-list__title')"
                           ".textContent.trim()")
    _enter(keyboard)
    assert heading(page) == "Choose a time"

    booked = _choose_a_time(keyboard, busy)
    _enter(keyboard)
    assert "/bestill/bekreft" in page.url, page.locator("main").inner_text()
    assert heading(page) == "Check and confirm"
    assert clinic in page.locator("main").inner_text()

    # Back one step with Shift+Tab from the confirm button: the focus stays visible.
    keyboard.tab_to("main form button[type='submit']", "the Book this time button")
    keyboard.press("Shift+Tab")
    keyboard.press("Tab")
    assert page.evaluate("document.activeElement.matches(\"main form button[type='submit']\")")
    _enter(keyboard)
    match = re.search(r"/timer/(\d+)/kvittering$", page.url)
    assert match, f"booking ended on {page.url}: {page.locator('main').inner_text()}"
    first_id = match.group(1)
    receipt = page.locator("main").inner_text()
    assert clinic in receipt and booked["label"] in receipt, receipt

    # The receipt → the appointment → Change the time.
    keyboard.tab_to(f'main a[href="/timer/{first_id}"]', "See the appointment")
    _enter(keyboard)
    assert page.url.endswith(f"/timer/{first_id}")
    keyboard.tab_to(f'main a[href="/timer/{first_id}/endre"]', "Change the time")
    _enter(keyboard)
    assert heading(page) == "Change the time"

    changed = _choose_a_time(keyboard, busy, avoid=booked["label"])
    _enter(keyboard)
    text = page.locator("main").inner_text()
    assert changed["label"] in text, f"after the change ({page.url}):\n{text}"
    # The page shows the appointment now (its own, or the new one it was moved to).
    match = re.search(r"/timer/(\d+)", page.url)
    assert match, f"the change ended on {page.url}"
    current_id = match.group(1)
    if "/kvittering" in page.url:
        keyboard.tab_to(f'main a[href="/timer/{current_id}"]', "See the appointment")
        _enter(keyboard)

    # Cancel it, through the confirmation step.
    keyboard.tab_to(f'main a[href="/timer/{current_id}/avbestill"]', "Cancel appointment")
    _enter(keyboard)
    keyboard.tab_to("main form.cancel-form button[type='submit']", "Yes, cancel the appointment")
    _enter(keyboard)
    assert page.url.split("?")[0].endswith(f"/timer/{current_id}"), page.url
    status = page.locator("main .appointment-status").inner_text()
    assert "Cancelled" in status, status

    # /timer lists it among the earlier ones, cancelled (and the first
    # booking is no longer upcoming).
    keyboard.tab_to('main .back-link a, main a[href="/timer"]', "the link to all appointments")
    _enter(keyboard)
    assert page.url.endswith("/timer"), page.url
    upcoming = page.locator(f'main .appointment-list a[href="/timer/{current_id}"]')
    assert upcoming.count() == 0, "the cancelled appointment is still listed as upcoming"
    card = page.locator(f'main .earlier-list__item:has(a[href="/timer/{current_id}"])')
    assert card.count() == 1, page.locator("main").inner_text()
    assert "Cancelled" in card.inner_text(), card.inner_text()
    if first_id != current_id:
        old = page.locator(f'main li:has(> a[href="/timer/{first_id}"]), '
                           f'main article:has(a[href="/timer/{first_id}"])')
        assert old.count() == 0 or "Booked" not in old.inner_text(), old.inner_text()

    keyboard.assert_focus_always_visible()
