"""Phone-width screenshots of the main pages in every language.

Starts the app on a temporary SQLite database seeded with the demo data
(the same set-up as the browser tests), logs in through the local ID-porten
as the demo guardian (``guardian-1``) and writes
``docs/screenshots/<page>-<lang>.png`` (390×844 CSS px, scale 1, the
viewport only). The county dashboard is shot on a desktop width
(``dashboard-<lang>.png``: one chart and its table), logged in through the
local staff login as Oslo's county administrator; the support console's
notification timeline (``support-timeline-<lang>.png``) as Oslo's user support,
who finds the demo guardian with the purpose "did not get a message". Run with
``make screenshots``. The clinic console's day view is shot at tablet width
(``day-view-<lang>.png``, 1024×768), logged in as the demo's receptionist;
``python scripts/screenshots.py clinic`` shoots only it. The clinic admin's
week grid is shot at desktop width (``week-grid-<lang>.png``, 1280×800), logged
in as the demo's clinic admin at Majorstuen (Kåre Klinikkleder);
``python scripts/screenshots.py week`` shoots only it.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from playwright.sync_api import Browser, Page, sync_playwright  # noqa: E402

from tests.browser.live import (  # noqa: E402
    CHROMIUM,
    CHROMIUM_ARGS,
    LANGUAGES,
    build_demo_database,
    start_server,
)
from tests.browser.login import logged_in_state  # noqa: E402
from tests.catalogs import compile_catalogs  # noqa: E402

OUT = ROOT / "docs" / "screenshots"
VIEWPORT = {"width": 390, "height": 844}
TABLET = {"width": 1024, "height": 768}
RECEPTION_USER = "reception-grunerlokka"
SECRET_KEY = "s" * 40


def first_href(page: Page, selector: str) -> str:
    href = page.locator(selector).first.get_attribute("href")
    if not href:
        raise SystemExit(f"no link {selector} on {page.url}")
    return href


def shoot(page: Page, name: str, lang: str) -> None:
    path = OUT / f"{name}-{lang}.png"
    page.screenshot(path=str(path))
    print(f"{path.relative_to(ROOT)} ({path.stat().st_size // 1024} KB)")


def clinic_screenshots(browser: Any, url: str) -> None:
    """The reception desk's day on the demo's reception day, in every language."""
    from datetime import date

    from demo.seed import reception_day_date

    context = browser.new_context(base_url=url, locale="nb-NO")
    page = context.new_page()
    page.goto("/staff/auth/login?next=/staff/klinikk", wait_until="load")
    with page.expect_navigation(url="**/dag*"):
        page.locator(f'button[name="user"][value="{RECEPTION_USER}"]').click()
    state = context.storage_state()
    context.close()
    day = reception_day_date(date.today()).isoformat()
    for lang in LANGUAGES:
        context = browser.new_context(base_url=url, viewport=TABLET, device_scale_factor=1,
                                      locale="nb-NO", storage_state=state)
        context.add_cookies([{"name": "lang", "value": lang, "url": url}])
        page = context.new_page()
        page.goto(f"/staff/klinikk/tannklinikken-grunerlokka/dag?dato={day}", wait_until="load")
        page.locator("#grid-heading").scroll_into_view_if_needed()
        shoot(page, "day-view", lang)
        context.close()


#: The dashboard's chart beside its table needs a desktop width.
DESKTOP = {"width": 1280, "height": 800}
DASHBOARD_USER = "county-admin-oslo"
DASHBOARD = "/staff/tall"


def shoot_dashboards(browser: Browser, url: str) -> None:
    """One dashboard chart with its table, in every language."""
    context = browser.new_context(base_url=url, viewport=DESKTOP, device_scale_factor=1,
                                  locale="nb-NO")
    page = context.new_page()
    page.goto(f"/staff/auth/login?next={DASHBOARD}", wait_until="load")
    with page.expect_navigation(url=f"**{DASHBOARD}"):
        page.locator(f'button[name="user"][value="{DASHBOARD_USER}"]').click()
    for lang in LANGUAGES:
        context.add_cookies([{"name": "lang", "value": lang, "url": url}])
        page.goto(DASHBOARD, wait_until="networkidle")
        path = OUT / f"dashboard-{lang}.png"
        page.locator("#chart-ikke-mott").screenshot(path=str(path))
        print(f"{path.relative_to(ROOT)} ({path.stat().st_size // 1024} KB)")
    context.close()


SUPPORT_USER = "support-oslo"
SUPPORT = "/staff/support"


def shoot_support_timeline(browser: Browser, url: str, identity_number: str) -> None:
    """The notification timeline of the demo guardian, in every language."""
    context = browser.new_context(base_url=url, viewport=DESKTOP, device_scale_factor=1,
                                  locale="nb-NO")
    page = context.new_page()
    page.goto(f"/staff/auth/login?next={SUPPORT}", wait_until="load")
    with page.expect_navigation(url=f"**{SUPPORT}"):
        page.locator(f'button[name="user"][value="{SUPPORT_USER}"]').click()
    for lang in LANGUAGES:
        context.add_cookies([{"name": "lang", "value": lang, "url": url}])
        page.goto(SUPPORT, wait_until="load")
        page.check("#purpose-message_not_received")
        page.fill("#identity_number", identity_number)
        with page.expect_navigation():
            page.locator("#find-form button[type='submit']").click()
        path = OUT / f"support-timeline-{lang}.png"
        page.screenshot(path=str(path))
        print(f"{path.relative_to(ROOT)} ({path.stat().st_size // 1024} KB)")
    context.close()


WEEK_ADMIN_USER = "clinic-admin-majorstuen"
WEEK_GRID = "/staff/klinikk/tannklinikken-majorstuen/uke"


def shoot_week_grid(browser: Browser, url: str) -> None:
    """The clinic admin's week grid of the first chair, in every language."""
    context = browser.new_context(base_url=url, viewport=DESKTOP, device_scale_factor=1,
                                  locale="nb-NO")
    page = context.new_page()
    page.goto(f"/staff/auth/login?next={WEEK_GRID}", wait_until="load")
    with page.expect_navigation(url=f"**{WEEK_GRID}"):
        page.locator(f'button[name="user"][value="{WEEK_ADMIN_USER}"]').click()
    for lang in LANGUAGES:
        context.add_cookies([{"name": "lang", "value": lang, "url": url}])
        page.goto(WEEK_GRID, wait_until="load")
        page.locator("#week-grid").scroll_into_view_if_needed()
        shoot(page, "week-grid", lang)
    context.close()


def main() -> None:
    only_clinic = sys.argv[1:] == ["clinic"]
    only_week = sys.argv[1:] == ["week"]
    from datetime import date

    from demo.people import demo_logins
    from notifications import outbox
    from tests.browser.login import DEFAULT_PERSON

    outbox.subscribe()  # the demo's bookings write their notifications, as in the app
    compile_catalogs()
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        database_url = f"sqlite+aiosqlite:///{Path(tmp) / 'app.sqlite3'}"
        demo = asyncio.run(build_demo_database(database_url, SECRET_KEY))
        server = start_server(database_url, SECRET_KEY, demo, name="screenshot-server")
        url = server.url
        try:
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                if only_week:
                    shoot_week_grid(browser, url)
                    return
                clinic_screenshots(browser, url)
                state = logged_in_state(browser, url)
                for lang in LANGUAGES if not only_clinic else ():
                    context = browser.new_context(
                        base_url=url, viewport=VIEWPORT, device_scale_factor=1,
                        locale="nb-NO", storage_state=state)  # type: ignore[arg-type]
                    context.add_cookies([{"name": "lang", "value": lang, "url": url}])
                    page = context.new_page()
                    page.goto("/", wait_until="load")
                    shoot(page, "landing", lang)
                    page.goto(f"/klinikker/{demo.clinic_slug}", wait_until="load")
                    shoot(page, "clinic", lang)
                    page.goto("/min-side", wait_until="load")
                    shoot(page, "my-page", lang)
                    page.goto("/timer", wait_until="load")
                    page.goto(first_href(page, "main .appointment-list a[href^='/timer/']"))
                    shoot(page, "appointment", lang)
                    # The wizard by its links: me → the last kind → the first clinic.
                    page.goto("/bestill?for=me", wait_until="load")
                    page.goto(first_href(page, "main .choice-list li:last-child a"))
                    page.goto(first_href(page, "main .choice-list a[data-clinic]"))
                    shoot(page, "slot-picker", lang)
                    page.locator("#day input[name='slot']").last.check()
                    with page.expect_navigation():
                        page.locator("form.time-form button[type='submit']").click()
                    shoot(page, "booking-confirm", lang)
                    page.goto("/profil", wait_until="load")
                    shoot(page, "profile", lang)
                    context.close()
                if only_clinic:
                    return
                shoot_dashboards(browser, url)
                shoot_week_grid(browser, url)
                shoot_support_timeline(browser, url, next(
                    d.identity_number for d in demo_logins(date.today())
                    if d.person.key == DEFAULT_PERSON))
                browser.close()
        finally:
            server.stop()


if __name__ == "__main__":
    main()
