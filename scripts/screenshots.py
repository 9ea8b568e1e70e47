"""Phone-width screenshots of the main pages in every language.

Starts the app on a temporary SQLite database seeded with the demo data
(the same set-up as the browser tests), logs in through the local ID-porten
as the demo guardian (``guardian-1``) and writes
``docs/screenshots/<page>-<lang>.png`` (390×844 CSS px, scale 1, the
viewport only). Run with ``make screenshots``.
"""

from __future__ import annotations

import asyncio
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from playwright.sync_api import Page, sync_playwright  # noqa: E402

from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, LANGUAGES, _build_database  # noqa: E402
from tests.browser.login import logged_in_state  # noqa: E402
from tests.web.conftest import compile_catalogs  # noqa: E402

OUT = ROOT / "docs" / "screenshots"
VIEWPORT = {"width": 390, "height": 844}
SECRET_KEY = "s" * 40


def start_server(database_url: str) -> tuple[str, object, threading.Thread]:
    import uvicorn

    from core.settings import Settings
    from web.app import create_app

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    app = create_app(Settings(env="test", secret_key=SECRET_KEY, database_url=database_url,
                              public_url=url))
    server = uvicorn.Server(uvicorn.Config(app, lifespan="on", log_config=None,
                                           log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise SystemExit("the server did not start")
        time.sleep(0.02)
    return url, server, thread


def first_href(page: Page, selector: str) -> str:
    href = page.locator(selector).first.get_attribute("href")
    if not href:
        raise SystemExit(f"no link {selector} on {page.url}")
    return href


def shoot(page: Page, name: str, lang: str) -> None:
    path = OUT / f"{name}-{lang}.png"
    page.screenshot(path=str(path))
    print(f"{path.relative_to(ROOT)} ({path.stat().st_size // 1024} KB)")


def main() -> None:
    from notifications import outbox

    outbox.subscribe()  # the demo's bookings write their notifications, as in the app
    compile_catalogs()
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        database_url = f"sqlite+aiosqlite:///{Path(tmp) / 'app.sqlite3'}"
        demo = asyncio.run(_build_database(database_url, SECRET_KEY))
        url, server, thread = start_server(database_url)
        try:
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                state = logged_in_state(browser, url)
                for lang in LANGUAGES:
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
                browser.close()
        finally:
            server.should_exit = True  # type: ignore[attr-defined]
            thread.join(timeout=10)


if __name__ == "__main__":
    main()
