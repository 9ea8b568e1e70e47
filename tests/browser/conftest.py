"""Fixtures for the browser tests (their world: :mod:`tests.browser.live`).

Without Chromium, Playwright or axe-core the tests skip with the reason,
unless ``REQUIRE_SERVICES=1`` (CI), where they fail. ``.ci/install-browser``
installs Chromium.

The browser and the server are package-scoped (one of each for the whole of
``tests/browser``; pytest's "session" for this directory): Playwright's sync
API sets the thread's running event loop while it is alive, so it is started
and stopped around this package only and never overlaps the async tests of
the other packages (under pytest-xdist each worker runs its share of the
package before its other tests: they are handed out first).

The clock: the server runs in a thread of the test process, so the whole
package shares one ticking clock, moved to the suite's moment
(:mod:`tests.clock`), and the demo data is seeded relative to it. The
browser keeps its own clock: a test that needs "now" asks Python's
``time.time()`` (the server's clock), never the page's ``Date.now()``.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest

from tests.browser.live import (
    AXE_JS,
    CHROMIUM,
    CHROMIUM_ARGS,
    NARROW,
    ROOT,
    VENDOR_CSS,
    VIEWPORTS,
    LiveServer,
    Tab,
    build_demo_database,
    in_fresh_thread,
    new_context,
    start_server,
)
from tests.catalogs import compile_catalogs
from tests.clock import frozen_clock

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Playwright


def _missing(what: str) -> None:
    """Skip, or fail under ``REQUIRE_SERVICES=1``."""
    if os.environ.get("REQUIRE_SERVICES") == "1":
        pytest.fail(f"{what} (required: REQUIRE_SERVICES=1; run .ci/install-browser)",
                    pytrace=False)
    pytest.skip(f"{what}; run .ci/install-browser, `pip install -e .[dev]` and `npm ci`")


@pytest.fixture(scope="package", autouse=True)
def _suite_clock() -> Iterator[None]:
    """One clock for the package (instead of one per test): the server, its
    demo data and every test here share it, ticking from the suite's moment."""
    with frozen_clock():
        yield


# --- the app over HTTP --------------------------------------------------------

@pytest.fixture(scope="package")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    compile_catalogs()
    from web import i18n
    i18n.translations.cache_clear()
    if not VENDOR_CSS.is_file():
        pytest.fail(f"{VENDOR_CSS.relative_to(ROOT)} is missing: run `make setup` "
                    "(npm ci and scripts/copy_static.py)", pytrace=False)

    secret_key = "t" * 40
    database_url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('browser') / 'app.sqlite3'}"
    demo = in_fresh_thread(lambda: asyncio.run(build_demo_database(database_url, secret_key)))
    try:
        live = start_server(database_url, secret_key, demo)
    except RuntimeError as exc:
        pytest.fail(str(exc), pytrace=False)
    yield live
    live.stop()


# --- the browser --------------------------------------------------------------

@pytest.fixture(scope="package")
def chromium_path() -> str:
    path = CHROMIUM if os.access(CHROMIUM, os.X_OK) else None
    if path is None and "CHROMIUM_PATH" not in os.environ:
        path = shutil.which("chromium")
    if not path:
        _missing(f"Chromium not found at {CHROMIUM}")
    return str(path)


@pytest.fixture(scope="package")
def axe_source() -> str:
    if not AXE_JS.is_file():
        _missing(f"axe-core not installed ({AXE_JS.relative_to(ROOT)} missing)")
    return AXE_JS.read_text(encoding="utf-8")


@pytest.fixture(scope="package")
def playwright() -> Iterator[Playwright]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("Playwright's Python package is not installed")
    with sync_playwright() as pw:
        yield pw


@pytest.fixture(scope="package")
def browser(chromium_path: str, playwright: Playwright) -> Iterator[Browser]:
    browser = playwright.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
    yield browser
    browser.close()


@pytest.fixture(scope="package")
def tabs(browser: Browser, live_server: LiveServer) -> Iterator[Callable[..., Tab]]:
    """``tabs(lang, viewport_name)``: one page per language and viewport,
    opened on first use and reused by every test that asks for the same pair."""
    opened: dict[tuple[Any, ...], tuple[BrowserContext, Tab]] = {}

    def get(lang: str, viewport: str, **options: Any) -> Tab:
        key = (lang, viewport, tuple(sorted(options.items())))
        if key not in opened:
            size = NARROW if viewport == "narrow" else VIEWPORTS[viewport]
            context = new_context(browser, live_server, lang=lang, viewport=size, **options)
            opened[key] = (context, Tab(context.new_page()))
        return opened[key][1]

    yield get
    for context, _ in opened.values():
        context.close()


# --- logged in ----------------------------------------------------------------

@pytest.fixture(scope="package")
def logged_in_state(browser: Browser, live_server: LiveServer) -> dict[str, Any]:
    """The cookie jar (HttpOnly session cookie included) of a browser that
    logged in once through the local ID-porten as the demo guardian
    (``guardian-1``); pass it as ``new_context(..., storage_state=...)``."""
    from tests.browser.login import logged_in_state as log_in

    return log_in(browser, live_server.url)
