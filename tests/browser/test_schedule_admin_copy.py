"""axe-core over copying a week (the form, its preview or refusal) and over
the coming closures with the preview of removing one, in Bokmål and Northern Sami
(at the widths ``live.axe_cases`` gives), as the demo's clinic admin at Majorstuen."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from tests.browser import schedule_admin
from tests.browser.live import Tab
from tests.browser.schedule_admin import CASES
from tests.browser.walk import Walk

BASE = "/staff/klinikk/tannklinikken-majorstuen"

#: The clinic admin's fixtures (:mod:`tests.browser.schedule_admin`).
admin_state, admin_tab = schedule_admin.admin_state, schedule_admin.admin_tab


@pytest.mark.parametrize("admin_tab", CASES, indirect=True,
                         ids=[f"{lang}-{width}" for lang, width in CASES])
def test_copy_and_closure_pages_have_no_axe_violations(
        admin_tab: Tab, axe_source: str,
        request: pytest.FixtureRequest) -> None:
    lang, width = request.node.callspec.params["admin_tab"]
    walk = Walk(admin_tab, axe_source, lang, width)
    page = walk.page
    if walk.goto("copy", f"{BASE}/uke/kopier"):
        page.locator("#copy-form input[name=target]").last.check()
        with page.expect_navigation():
            page.locator("#copy-preview-button").click()
        walk.check("copy-result")
    if walk.goto("closures", f"{BASE}/stenginger"):
        if page.locator("#closure-list form button").count() == 0:
            page.goto(f"{BASE}/uke")
            today = date.fromisoformat(str(page.locator("#closure-day").get_attribute("min")))
            page.fill("#closure-day", (today + timedelta(days=20)).isoformat())
            page.locator("#closure-preview-button").click()
            page.locator("#closure-save").click()
            page.goto(f"{BASE}/stenginger")
        with page.expect_navigation():
            page.locator("#closure-list form button").first.click()
        page.locator("#reopen-preview").wait_for()
        walk.check("reopen-preview")
    missing = {"copy", "copy-result", "closures", "reopen-preview"} - set(walk.visited)
    if missing:
        walk.failures.append(f"pages not reached: {', '.join(sorted(missing))}")
    assert not walk.failures, "\n\n".join(walk.failures)
