"""axe-core over the logged-in pages, in Bokmål and Northern Sami (on the screens
``live.axe_cases`` gives): zero violations of WCAG 2.1 A and AA (and the best-practice rules
test_axe.py enables), the right ``lang``, no Content-Security-Policy
complaints — and on the phone, no sideways scrolling at 320 CSS px.

One browser context per (language, viewport), logged in as the demo guardian
(``guardian-1``) through the cookie jar of one real login. The pages are
found the way a user finds them — by following the links on the page before
— so the test needs no knowledge of ids or query parameters. Every page is
visited and everything found is reported at once.
"""

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
from tests.browser.walk import Walk

if TYPE_CHECKING:
    from playwright.sync_api import Browser

#: The pages whose address is known; the others are reached by links.
INFO_PAGES = ("/personvern", "/tilgjengelighet", "/hjelp")


def walk_logged_in_pages(walk: Walk) -> None:
    """Every logged-in page, reached as a user would reach it."""
    walk.goto("my-page", "/min-side")
    walk.goto("appointments", "/timer")
    appointment = walk.appointment_href()
    if appointment is None:
        walk.failures.append("no appointment linked from /timer")
    else:
        walk.goto("appointment", appointment)
        # The actions are on upcoming appointments; the first one listed is upcoming.
        walk.follow("cancel-confirmation", "main a[href$='/avbestill']")
        walk.goto("appointment", appointment, check=False)
        walk.follow("change-time", "main a[href$='/endre']")
    walk.goto("access-log", "/innsyn")
    walk.goto("profile", "/profil")

    # The booking wizard: who → what → where → when, each by its links. The
    # guardian already has an adult check-up (the first kind), so the last
    # kind (hygienist) is the one that can be booked.
    if walk.goto("book-who", "/bestill") and \
            walk.follow("book-what", "main .choice-list a[href*='for=me']") and \
            walk.follow("book-where", "main .choice-list a[href*='type=']", last=True) and \
            walk.follow("book-when", "main .choice-list a[href*='clinic=']"):
        # Another day of the slot picker, as the day links load it without htmx.
        if walk.follow("book-when-day", "main #next-day, main #first-free, main #next-free"):
            times = walk.page.locator("#day input[name='slot']")
            if times.count() == 0:
                walk.page.go_back()
                times = walk.page.locator("#day input[name='slot']")
            if times.count() == 0:
                walk.failures.append("no free time on the slot picker to go on to confirm")
            else:
                # The last time of the day, so as not to hold the one another test books.
                times.last.check()
                with walk.page.expect_navigation():
                    walk.page.locator("form.time-form button[type='submit']").click()
                if "/bestill/bekreft" in walk.page.url:
                    walk.check("book-confirm")
                else:
                    walk.failures.append(f"choosing a time led to {walk.page.url}, "
                                         "not the confirm page")

    for path in INFO_PAGES:
        walk.goto(path.strip("/"), path)


@pytest.fixture
def logged_in_tab(request: pytest.FixtureRequest, browser: Browser, live_server: LiveServer,
                  logged_in_state: dict[str, Any]) -> Iterator[Tab]:
    with open_tab(browser, live_server, request.param, storage_state=logged_in_state) as tab:
        yield tab


CASES = WALK_CASES


@pytest.mark.parametrize("logged_in_tab", CASES, indirect=True,
                         ids=[f"{lang}-{viewport}" for lang, viewport in CASES])
def test_logged_in_pages_have_no_axe_violations(logged_in_tab: Tab, axe_source: str,
                                                request: pytest.FixtureRequest) -> None:
    lang, viewport = request.node.callspec.params["logged_in_tab"]
    walk = Walk(logged_in_tab, axe_source, lang, viewport)
    walk_logged_in_pages(walk)
    # The walk reached every page it was meant to (a broken link is a failure too).
    expected = {"my-page", "appointments", "appointment", "cancel-confirmation", "change-time",
                "access-log", "profile", "book-who", "book-what", "book-where", "book-when",
                "book-when-day", "book-confirm", *(p.strip("/") for p in INFO_PAGES)}
    missing = expected - set(walk.visited)
    if missing:
        walk.failures.append(f"pages not reached: {', '.join(sorted(missing))}")
    report = "\n\n".join(walk.failures)
    if report:
        print(report)
    assert not walk.failures, f"{len(walk.failures)} problem(s) ({lang}, {viewport}):\n\n{report}"
