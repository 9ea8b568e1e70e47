"""A walk through a site's pages in one browser tab, as a user goes from page
to page: each page is checked with axe-core (WCAG 2.1 A and AA, and the
best-practice rules ``live`` enables), for the right ``lang``, for
Content-Security-Policy complaints and, on the phone, for sideways scrolling
at 320 CSS px; every failure is collected, so a test reports all at once."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from tests.browser.live import NARROW, VIEWPORTS, Tab, check_axe, describe_violations

if TYPE_CHECKING:
    from playwright.sync_api import Page

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
