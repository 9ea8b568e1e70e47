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

import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

from tests.browser.live import (
    NARROW,
    VIEWPORTS,
    WALK_CASES,
    LiveServer,
    Tab,
    check_axe,
    describe_violations,
    new_context,
)

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

#: The pages whose address is known; the others are reached by links.
INFO_PAGES = ("/personvern", "/tilgjengelighet", "/hjelp")

_APPOINTMENT = re.compile(r"^/timer/\d+$")

REFLOW_JS = """() => {
    const width = document.documentElement.clientWidth;
    const sticksOut = el => el.getBoundingClientRect().right > width + 0.5;
    const describe = el => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '')
        + (typeof el.className === 'string' && el.className.trim()
           ? '.' + el.className.trim().split(/\\s+/).join('.') : '')
        + ' "' + (el.textContent || '').trim().slice(0, 40) + '"';
    const wide = [...document.body.querySelectorAll('*')].filter(sticksOut)
        .filter(el => ![...el.children].some(sticksOut));
    return {scroll: document.documentElement.scrollWidth, client: width,
            wide: wide.slice(0, 5).map(describe)};
}"""


class Walk:
    """Goes from page to page in one tab, checking each and collecting the failures."""

    def __init__(self, tab: Tab, axe_source: str, lang: str, viewport: str) -> None:
        self.tab = tab
        self.page: Page = tab.page
        self.axe_source = axe_source
        self.lang = lang
        self.viewport = viewport
        self.failures: list[str] = []
        self.visited: list[str] = []

    def _path(self) -> str:
        url = self.page.url
        return url[url.index("/", len("http://")):]

    def check(self, name: str) -> None:
        """Check the page the tab is on."""
        where = f"{name} {self._path()} ({self.lang}, {self.viewport})"
        self.visited.append(name)
        lang = self.page.evaluate("document.documentElement.lang")
        if lang != self.lang:
            self.failures.append(f"{where}: <html lang={lang!r}>, expected {self.lang!r}")
        violations = check_axe(self.page, self.axe_source)
        if violations:
            self.failures.append(describe_violations(violations, where))
        if self.tab.csp_errors:
            self.failures.append(f"{where}: Content-Security-Policy violations:\n    "
                                 + "\n    ".join(self.tab.csp_errors))
            self.tab.csp_errors.clear()
        if self.viewport == "phone":
            self.page.set_viewport_size(NARROW)
            widths: dict[str, Any] = self.page.evaluate(REFLOW_JS)
            self.page.set_viewport_size(VIEWPORTS["phone"])
            if widths["scroll"] > NARROW["width"]:
                self.failures.append(
                    f"{where}: {widths['scroll']}px wide in a {NARROW['width']}px window "
                    f"(WCAG 1.4.10); widest: {', '.join(widths['wide'])}")

    def goto(self, name: str, path: str, *, check: bool = True) -> bool:
        """Go to ``path`` and check the page (``check=False``: a page checked
        already in this walk, only passed through again)."""
        response = self.page.goto(path, wait_until="load")
        status = response.status if response else None
        if status != 200:
            self.failures.append(f"{name} {path} ({self.lang}, {self.viewport}): HTTP {status}")
            return False
        if check:
            self.check(name)
        return True

    def follow(self, name: str, selector: str, *, last: bool = False) -> bool:
        """Go to the first (or last) link on the page that matches ``selector``."""
        links = self.page.locator(selector)
        if links.count() == 0:
            self.failures.append(f"{name}: no link {selector} on {self._path()} "
                                 f"({self.lang}, {self.viewport})")
            return False
        href = (links.last if last else links.first).get_attribute("href")
        assert href is not None
        return self.goto(name, href)

    def appointment_href(self) -> str | None:
        hrefs: list[str] = self.page.eval_on_selector_all(
            "main a[href^='/timer/']", "links => links.map(a => a.getAttribute('href'))")
        return next((href for href in hrefs if _APPOINTMENT.match(href)), None)


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
    lang, viewport = request.param
    context = new_context(browser, live_server, lang=lang, viewport=VIEWPORTS[viewport],
                          storage_state=logged_in_state)
    yield Tab(context.new_page())
    context.close()


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
