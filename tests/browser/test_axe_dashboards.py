"""axe-core over the county dashboards, in Bokmål and Northern Sami (on the screens
``live.axe_cases`` gives): the county's page and one of its clinics', filled from the demo's
twelve weeks of history. Logged in through the local staff login as the
demo's county administrator for Oslo (``county-admin-oslo``). Each chart
image must load (an SVG from its own route, under the page's policy)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

from tests.browser.live import WALK_CASES, LiveServer, Tab, open_tab
from tests.browser.login import staff_state
from tests.browser.walk import Walk

if TYPE_CHECKING:
    from playwright.sync_api import Browser

ADMIN_USER = "county-admin-oslo"
COUNTY = "/staff/tall"
CLINIC = "/staff/tall/klinikk/tannklinikken-grunerlokka"
#: Every chart image on the page has loaded and has a size.
IMAGES_LOADED_JS = """() => Array.from(document.querySelectorAll('img.dashboard-chart__image'))
    .filter(img => !(img.complete && img.naturalWidth > 0)).map(img => img.src)"""


@pytest.fixture(scope="module")
def admin_state(browser: Browser, live_server: LiveServer) -> dict[str, Any]:
    """The cookie jar of the county administrator's login."""
    return staff_state(browser, live_server.url, ADMIN_USER, COUNTY)


@pytest.fixture
def admin_tab(request: pytest.FixtureRequest, browser: Browser, live_server: LiveServer,
              admin_state: dict[str, Any]) -> Iterator[Tab]:
    with open_tab(browser, live_server, request.param, storage_state=admin_state) as tab:
        yield tab


CASES = WALK_CASES


@pytest.mark.parametrize("admin_tab", CASES, indirect=True,
                         ids=[f"{lang}-{viewport}" for lang, viewport in CASES])
def test_dashboards_have_no_axe_violations(admin_tab: Tab, axe_source: str,
                                           request: pytest.FixtureRequest) -> None:
    lang, viewport = request.node.callspec.params["admin_tab"]
    walk = Walk(admin_tab, axe_source, lang, viewport)
    for name, path in (("county", COUNTY), ("clinic", CLINIC)):
        if walk.goto(name, path):
            broken = walk.page.evaluate(IMAGES_LOADED_JS)
            if broken:
                walk.failures.append(f"{name} ({lang}, {viewport}): charts not shown: {broken}")
    report = "\n\n".join(walk.failures)
    assert not walk.failures, f"{len(walk.failures)} problem(s) ({lang}, {viewport}):\n\n{report}"
