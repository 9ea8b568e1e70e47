"""Fixtures for the browser tests: the real app over HTTP on a seeded SQLite
database, one headless Chromium (Debian's ``chromium``, driven by Playwright's
Python package), and axe-core from ``node_modules``.

Without Chromium, Playwright or axe-core the tests skip with the reason,
unless ``REQUIRE_SERVICES=1`` (CI), where they fail. ``.ci/install-browser``
installs Chromium.

The browser and the server are package-scoped (one of each for the whole of
``tests/browser``; pytest's "session" for this directory): Playwright's sync
API sets the thread's running event loop while it is alive, so it is started
and stopped around this package only and never overlaps the async tests of
the other packages.

Adding a page: append it to :data:`PAGES` (public) — or, for logged-in pages
later, give :func:`new_context` a logged-in cookie jar (``storage_state``) and
list the pages there. :func:`check_axe` and :func:`describe_violations` work
on any Playwright page.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import pytest
from sqlalchemy import select

from tests.web.conftest import compile_catalogs

if TYPE_CHECKING:
    from playwright.sync_api import (
        Browser,
        BrowserContext,
        ConsoleMessage,
        Page,
        Playwright,
        ViewportSize,
    )

ROOT = Path(__file__).resolve().parents[2]
AXE_JS = ROOT / "node_modules" / "axe-core" / "axe.min.js"
VENDOR_CSS = ROOT / "web" / "static" / "vendor" / "designsystemet" / "designsystemet.css"
#: Debian's package; ``CHROMIUM_PATH`` names another build.
CHROMIUM = os.environ.get("CHROMIUM_PATH") or "/usr/bin/chromium"
#: Without the background-networking flags Chromium's own outgoing
#: connections (updates, sync, field trials) are refused in bulk here.
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]

LANGUAGES = ("nb", "nn", "en", "se")
VIEWPORTS: dict[str, ViewportSize] = {
    "phone": {"width": 375, "height": 667},
    "desktop": {"width": 1280, "height": 800},
}
#: The narrowest screen the pages must work on without sideways scrolling
#: (WCAG 1.4.10 Reflow: 320 CSS px).
NARROW: ViewportSize = {"width": 320, "height": 568}

#: What "zero violations" is measured against: WCAG 2.0 and 2.1, A and AA ...
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
#: ... plus the axe best-practice rules for what issue 4 asks by name
#: (headings in order, a skip link that works, every part in a landmark).
AXE_EXTRA_RULES = ["heading-order", "page-has-heading-one", "landmark-one-main",
                   "region", "skip-link", "landmark-unique"]

T = TypeVar("T")


def _missing(what: str) -> None:
    """Skip, or fail under ``REQUIRE_SERVICES=1``."""
    if os.environ.get("REQUIRE_SERVICES") == "1":
        pytest.fail(f"{what} (required: REQUIRE_SERVICES=1; run .ci/install-browser)",
                    pytrace=False)
    pytest.skip(f"{what}; run .ci/install-browser, `pip install -e .[dev]` and `npm ci`")


# --- the app over HTTP --------------------------------------------------------

@dataclass(frozen=True)
class DemoFacts:
    """Things from the seeded demo data the tests navigate to."""

    county_id: int
    county_name: str
    clinic_slug: str
    clinic_name: str
    municipality: str


@dataclass
class LiveServer:
    url: str
    demo: DemoFacts
    _server: Any = field(repr=False)
    _thread: threading.Thread = field(repr=False)

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)


def _in_fresh_thread(work: Callable[[], T]) -> T:
    """Run ``work`` (which calls ``asyncio.run``) where no event loop runs."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(work).result()


async def _build_database(url: str, secret_key: str) -> DemoFacts:
    try:
        import web.schema  # noqa: F401  (registers every table)
    except ImportError:
        import booking.models  # noqa: F401
    from booking.models import Clinic, County
    from booking.search import next_free_times
    from core.db import Base, create_database
    from core.identity import IdentityVault
    from demo.seed import seed_demo

    db = create_database(url)
    try:
        async with db.engine.begin() as conn:
            await conn.run_sync(Base.metadata.create_all)
        await seed_demo(db, IdentityVault.from_secret(secret_key), today=date.today(), weeks=2)
        async with db.read() as session:
            # A clinic whose page shows every section: directions and free times.
            clinics = (await session.execute(
                select(Clinic, County.name).join(County, County.id == Clinic.county_id)
                .where(Clinic.active.is_(True))
                .order_by((Clinic.accessibility == "").asc(), Clinic.name)
            )).all()
        for clinic, county_name in clinics:
            if await next_free_times(db, clinic_id=clinic.id, limit=1):
                return DemoFacts(county_id=clinic.county_id, county_name=county_name,
                                 clinic_slug=clinic.slug, clinic_name=clinic.name,
                                 municipality=clinic.municipality_name)
        raise RuntimeError("the demo data has no clinic with free times")
    finally:
        await db.dispose()


@pytest.fixture(scope="package")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    import uvicorn

    from core.settings import Settings
    from web.app import create_app

    compile_catalogs()
    from web import i18n
    i18n.translations.cache_clear()
    if not VENDOR_CSS.is_file():
        pytest.fail(f"{VENDOR_CSS.relative_to(ROOT)} is missing: run `make setup` "
                    "(npm ci and scripts/copy_static.py)", pytrace=False)

    secret_key = "t" * 40
    database_url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('browser') / 'app.sqlite3'}"
    demo = _in_fresh_thread(lambda: asyncio.run(_build_database(database_url, secret_key)))

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    app = create_app(Settings(env="test", secret_key=secret_key, database_url=database_url,
                              public_url=url))
    config = uvicorn.Config(app, lifespan="on", log_config=None, log_level="warning",
                            access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]},
                              name="browser-test-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            pytest.fail("the test server did not start", pytrace=False)
        time.sleep(0.02)
    live = LiveServer(url=url, demo=demo, _server=server, _thread=thread)
    yield live
    live.stop()
    sock.close()


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


def new_context(browser: Browser, server: LiveServer, *, lang: str | None = None,
                viewport: ViewportSize | None = None, **options: Any) -> BrowserContext:
    """A fresh browser profile on ``server``; ``lang`` sets the language cookie
    the language switcher sets. The pages' own CSP stays in force (axe is
    added with ``evaluate``, which CSP does not govern)."""
    context = browser.new_context(viewport=viewport or VIEWPORTS["desktop"],
                                  base_url=server.url, locale="nb-NO", **options)
    context.set_default_timeout(10_000)
    if lang:
        context.add_cookies([{"name": "lang", "value": lang, "url": server.url}])
    return context


@dataclass
class Tab:
    """One open page and the Content-Security-Policy complaints it logged."""

    page: Page
    csp_errors: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.page.on("console", self._console)

    def _console(self, message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text:
            self.csp_errors.append(message.text)


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


# --- pages and checks ---------------------------------------------------------

@dataclass(frozen=True)
class PageSpec:
    name: str
    path: str
    status: int = 200


#: Every page a visitor who is not logged in can reach; ``{…}`` are filled
#: in from :class:`DemoFacts`. Add new pages here (logged-in ones get a list
#: of their own, opened in a logged-in context).
PAGES = [
    PageSpec("landing", "/"),
    PageSpec("clinic-search", "/klinikker"),
    PageSpec("clinic-results", "/klinikker?fylke={county_id}"),
    PageSpec("clinic-results-none", "/klinikker?navn=finnes-ikke-zzz"),
    PageSpec("clinic", "/klinikker/{clinic_slug}"),
    PageSpec("not-found", "/finnes-ikke", status=404),
    PageSpec("clinic-not-found", "/klinikker/finnes-ikke", status=404),
]
#: Names only, for parametrising before the demo data exists.
PAGE_NAMES = [spec.name for spec in PAGES]


def pages(demo: DemoFacts) -> list[PageSpec]:
    return [replace(spec, path=spec.path.format(**asdict(demo))) for spec in PAGES]


def page_spec(server: LiveServer, name: str) -> PageSpec:
    return next(spec for spec in pages(server.demo) if spec.name == name)


def check_axe(page: Page, axe_source: str, url: str | None = None) -> list[dict[str, Any]]:
    """axe-core's violations on ``page`` (after going to ``url``, if given)."""
    if url is not None:
        page.goto(url, wait_until="load")
    if not page.evaluate("typeof window.axe === 'object'"):
        page.evaluate(axe_source)
    violations: list[dict[str, Any]] = page.evaluate(
        """([tags, extra]) => axe.run(document, {
               runOnly: {type: 'tag', values: tags},
               rules: Object.fromEntries(extra.map(id => [id, {enabled: true}])),
               resultTypes: ['violations'],
           }).then(result => result.violations.map(v => ({
               id: v.id, impact: v.impact, tags: v.tags, help: v.help, helpUrl: v.helpUrl,
               nodes: v.nodes.map(n => ({target: n.target, html: n.html,
                                         failureSummary: n.failureSummary})),
           })))""",
        [AXE_TAGS, AXE_EXTRA_RULES],
    )
    return violations


def describe_violations(violations: list[dict[str, Any]], where: str = "") -> str:
    """Rule, impact, help text and the offending nodes, one rule per paragraph."""
    lines = [f"{len(violations)} axe violation(s){' on ' + where if where else ''}:"]
    for violation in violations:
        tags = ",".join(t for t in violation["tags"] if t.startswith(("wcag", "best")))
        lines.append(f"- {violation['id']} [{violation.get('impact')}] ({tags}): "
                     f"{violation['help']} — {violation['helpUrl']}")
        for node in violation["nodes"][:10]:
            target = " ".join(" > ".join(t) if isinstance(t, list) else str(t)
                              for t in node["target"])
            summary = "; ".join(line.strip() for line in
                                (node.get("failureSummary") or "").splitlines() if line.strip())
            lines.append(f"    at {target}: {summary}")
            lines.append(f"       {node['html'][:200]}")
        if len(violation["nodes"]) > 10:
            lines.append(f"    … and {len(violation['nodes']) - 10} more")
    return "\n".join(lines)


#: True when the focused element shows a focus indicator: an outline or a box-shadow.
FOCUS_VISIBLE_JS = """() => {
    const el = document.activeElement;
    if (!el || el === document.body) return null;
    const style = getComputedStyle(el);
    const outline = style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) > 0;
    const shadow = style.boxShadow !== 'none' && style.boxShadow !== '';
    return {outline, shadow, tag: el.tagName, text: (el.textContent || el.value || '').trim()
            .slice(0, 60), outlineValue: `${style.outlineStyle} ${style.outlineWidth}`,
            boxShadow: style.boxShadow};
}"""



# --- logged in ----------------------------------------------------------------

@pytest.fixture(scope="package")
def logged_in_state(browser: Browser, live_server: LiveServer) -> dict[str, Any]:
    """The cookie jar (HttpOnly session cookie included) of a browser that
    logged in once through the local ID-porten as the demo guardian
    (``guardian-1``); pass it as ``new_context(..., storage_state=...)``."""
    from tests.browser.login import logged_in_state as log_in

    return log_in(browser, live_server.url)
