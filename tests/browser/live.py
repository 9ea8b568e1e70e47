"""The browser tests' world, for the fixtures in ``conftest.py`` and for
``scripts/screenshots.py``: the real app served over HTTP on a database with
the demo data, one headless Chromium (Debian's ``chromium``, driven by
Playwright's Python package), axe-core from ``node_modules``, the public
pages and the checks run on them.

Adding a page: append it to :data:`PAGES` (public) — or, for logged-in pages,
give :func:`new_context` a logged-in cookie jar (``storage_state``) and list
the pages there. :func:`check_axe` and :func:`describe_violations` work on
any Playwright page.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import select

if TYPE_CHECKING:
    from playwright.sync_api import (
        Browser,
        BrowserContext,
        ConsoleMessage,
        Page,
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
#: The language with the longest words, where text is likeliest to break a layout.
LONGEST_WORDS = "se"


def axe_cases(wide: str, narrow: str) -> list[tuple[str, str]]:
    """Where an axe walk runs, as (language, screen) pairs: Bokmål, the
    default, on the ``wide`` screen, and Northern Sami, the language with the
    longest words, on the ``narrow`` one (where the phone walks also check
    reflow at 320 CSS px). The languages share every template and differ
    only in their catalogs' words, so what one language can break that
    another does not is the layout (the length of its words, met by the
    longest words on the narrowest screen) and the page's ``lang`` (one
    layout for every page; :data:`PUBLIC_CASES` and the phone tests run all
    four languages in the browser)."""
    return [("nb", wide), (LONGEST_WORDS, narrow)]


#: The walks over patients' and staff pages: patients mostly use a phone,
#: staff a desk, and both are walked on both.
WALK_CASES = axe_cases("desktop", "phone")
#: The public pages (``test_axe.py``): every language on a phone, and
#: Northern Sami on a desktop too.
PUBLIC_CASES = [(lang, "phone") for lang in LANGUAGES] + [(LONGEST_WORDS, "desktop")]

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


# --- the app over HTTP --------------------------------------------------------

@dataclass(frozen=True)
class DemoFacts:
    """Things from the seeded demo data the tests navigate to."""

    county_id: int
    county_name: str
    clinic_slug: str
    clinic_name: str
    municipality: str
    #: (start, end) of every active appointment of the logged-in demo person
    #: (:data:`tests.browser.login.DEFAULT_PERSON`): times they cannot book.
    busy: tuple[tuple[datetime, datetime], ...] = ()


@dataclass
class LiveServer:
    url: str
    demo: DemoFacts
    _server: Any = field(repr=False)
    _thread: threading.Thread = field(repr=False)
    _socket: socket.socket = field(repr=False)

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._socket.close()


def start_server(database_url: str, secret_key: str, demo: DemoFacts, *,
                 name: str = "browser-test-server") -> LiveServer:
    """The app (``create_app``) served by uvicorn on a free loopback port, in
    a thread of this process (so it shares this process's clock)."""
    import uvicorn

    from core.settings import Settings
    from web.app import create_app

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    # One server for the whole browser run: its many logins come from one address
    # and, within a page's context, one browser session.
    app = create_app(Settings(env="test", secret_key=secret_key, database_url=database_url,
                              public_url=url, login_rate_limit="10000/minute",
                              login_session_rate_limit="10000/minute",
                              hold_rate_limit="10000/minute"))
    config = uvicorn.Config(app, lifespan="on", log_config=None, log_level="warning",
                            access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name=name,
                              daemon=True)
    thread.start()
    live = LiveServer(url=url, demo=demo, _server=server, _thread=thread, _socket=sock)
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            live.stop()
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    return live


def in_fresh_thread(work: Callable[[], T]) -> T:
    """Run ``work`` (which calls ``asyncio.run``) where no event loop runs."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(work).result()


async def build_demo_database(url: str, secret_key: str, today: date | None = None
                              ) -> DemoFacts:
    """Every table and two weeks of demo data from ``today`` (by default
    this process's today, on its clock) in the database at ``url``;
    facts the tests navigate by."""
    try:
        import web.schema  # noqa: F401  (registers every table)
    except ImportError:
        import booking.models  # noqa: F401
    # The local ID-porten keeps its state in the database too (migration 0004);
    # without this, a browser test run on its own has no table to log in with.
    import idporten.local_state  # noqa: F401
    from booking.models import Appointment, Clinic, County, Patient
    from booking.search import next_free_times
    from booking.statuses import ACTIVE
    from core.db import Base, create_database
    from core.identity import IdentityVault
    from demo.people import demo_logins
    from demo.seed import seed_demo
    from tests.browser.login import DEFAULT_PERSON

    # As `tanntid seed` and the local ID-porten do: the process's date.
    today = today or date.today()
    vault = IdentityVault.from_secret(secret_key)
    db = create_database(url)
    try:
        async with db.engine.begin() as conn:
            await conn.run_sync(Base.metadata.create_all)
        await seed_demo(db, vault, today=today, weeks=2)
        person = next(d for d in demo_logins(today) if d.person.key == DEFAULT_PERSON)
        async with db.read() as session:
            # A clinic whose page shows every section: directions and free times.
            clinics = (await session.execute(
                select(Clinic, County.name).join(County, County.id == Clinic.county_id)
                .where(Clinic.active.is_(True))
                .order_by((Clinic.accessibility == "").asc(), Clinic.name)
            )).all()
            busy = tuple((row.starts_at, row.ends_at) for row in (await session.execute(
                select(Appointment.starts_at, Appointment.ends_at)
                .join(Patient, Patient.id == Appointment.patient_id)
                .where(Patient.identity_hash == vault.lookup_hash(person.identity_number),
                       Appointment.status.in_(list(ACTIVE)))
            )).all())
        for clinic, county_name in clinics:
            if await next_free_times(db, clinic_id=clinic.id, limit=1):
                return DemoFacts(county_id=clinic.county_id, county_name=county_name,
                                 clinic_slug=clinic.slug, clinic_name=clinic.name,
                                 municipality=clinic.municipality_name, busy=busy)
        raise RuntimeError("the demo data has no clinic with free times")
    finally:
        await db.dispose()


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


@contextmanager
def open_tab(browser: Browser, server: LiveServer, case: tuple[str, str], *,
             screens: dict[str, ViewportSize] | None = None, **options: Any) -> Iterator[Tab]:
    """A page of a fresh context (:func:`new_context`, ``options`` included)
    for ``case``, a (language, screen name in ``screens``) pair as the axe
    and keyboard tests take it; the context is closed afterwards."""
    lang, screen = case
    context = new_context(browser, server, lang=lang, viewport=(screens or VIEWPORTS)[screen],
                          **options)
    try:
        yield Tab(context.new_page())
    finally:
        context.close()


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
