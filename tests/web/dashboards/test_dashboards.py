"""The county dashboards (/staff/tall): for county administrators only,
their own county and its clinics, each chart an SVG with its numbers in a
table beside it; another county's clinic is 404 and audited."""

from __future__ import annotations

import re
from datetime import timedelta

from bs4 import BeautifulSoup

from core.db import utcnow
from notifications.models import Notification
from tests.web.support.world import SupportWorld, audit_rows
from web.charts import SVG_POLICY
from web.views.dashboards import CHARTS, REFUSED_ACTION

COUNTY = "/staff/tall"
OSLO_CLINIC = "/staff/tall/klinikk/tannklinikken-grunerlokka"
ROGALAND_CLINIC = "/staff/tall/klinikk/tannklinikken-stavanger-sentrum"


async def _handed_over(app, world: SupportWorld) -> None:
    """Kari's failed text and Per's (Rogaland) went to the provider an hour ago."""
    async with app.state.db.write() as session:
        for nid, segments in ((world.sms_id, 2), (world.per_sms_id, 5)):
            row = await session.get(Notification, nid)
            row.handed_over_at = utcnow() - timedelta(hours=1)
            row.segments = segments


async def _admin(staff, user: str = "county-admin-oslo", lang: str = "nb"):
    client = await staff(user)
    client.headers["Accept-Language"] = lang
    return client


def _table(page: str, key: str) -> list[list[str]]:
    table = BeautifulSoup(page, "html.parser").find("table", id=f"table-{key}")
    assert table is not None, key
    return [[cell.get_text(" ", strip=True) for cell in row.find_all(["th", "td"])]
            for row in table.find("tbody").find_all("tr")]


async def test_the_county_page_has_every_chart_with_its_table(app, staff, world):
    await _handed_over(app, world)
    admin = await _admin(staff)
    response = await admin.get(COUNTY)
    assert response.status_code == 200
    page = response.text
    for chart in CHARTS:
        assert f'src="{COUNTY}/graf/{chart.key}.svg"' in page
        assert len(_table(page, chart.key)) == 12
    # This week's texts: one sent, none delivered, one failed; 2 segments at 0.60 NOK.
    assert _table(page, "sms")[-1][1:] == ["1", "0", "1"]
    assert _table(page, "sms-kostnad")[-1][1:] == ["1,20", "2"]
    assert 'href="/staff/tall/klinikk/tannklinikken-grunerlokka"' in page
    assert "stavanger" not in page


async def test_a_clinic_of_the_county_has_its_own_page(app, staff, world):
    await _handed_over(app, world)
    admin = await _admin(staff)
    page = (await admin.get(OSLO_CLINIC)).text
    assert "Tannklinikken Grünerløkka" in page
    assert _table(page, "sms-kostnad")[-1][1:] == ["1,20", "2"]
    assert f'src="{OSLO_CLINIC}/graf/sms.svg"' in page


async def test_a_chart_is_an_svg_that_loads_and_runs_nothing(app, staff, world):
    admin = await _admin(staff)
    response = await admin.get(f"{COUNTY}/graf/avbestillinger.svg")
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/svg+xml"
    assert response.headers["content-security-policy"] == SVG_POLICY
    assert "no-store" in response.headers["cache-control"]
    svg = response.text
    assert "<svg" in svg and "<script" not in svg
    assert not re.search(r'(?:href|src)="(?:https?:)?//', svg)
    assert "Avbestillinger etter varsel" in svg and "Under 24 timer før" in svg
    admin.headers["Accept-Language"] = "en"
    english = (await admin.get(f"{COUNTY}/graf/avbestillinger.svg")).text
    assert "Cancellations by notice" in english
    assert (await admin.get(f"{COUNTY}/graf/nothing.svg")).status_code == 404


async def test_another_countys_clinic_is_not_found_and_audited(app, staff, world):
    admin = await _admin(staff)
    assert (await admin.get(ROGALAND_CLINIC)).status_code == 404
    assert (await admin.get(f"{ROGALAND_CLINIC}/graf/sms.svg")).status_code == 404
    refused = await audit_rows(app.state.db, REFUSED_ACTION)
    assert len(refused) == 2
    assert refused[0].detail["refused"] == "outside_county"
    assert refused[0].actor_kind == "staff"
    assert (await admin.get("/staff/tall/klinikk/no-such-clinic")).status_code == 404


async def test_only_county_administrators_see_the_dashboards(app, staff, world):
    support = await staff("support-oslo")
    assert (await support.get(COUNTY)).status_code == 403
    assert (await support.get(f"{COUNTY}/graf/sms.svg")).status_code == 403
    assert 'href="/staff/tall"' not in (await support.get("/staff/support")).text
    admin = await _admin(staff)
    assert 'href="/staff/tall"' in (await admin.get("/staff/support")).text
    reception = await staff("reception-grunerlokka")
    assert (await reception.get(COUNTY)).status_code == 403


async def test_the_rogaland_administrator_sees_rogaland(app, staff, world):
    await _handed_over(app, world)
    admin = await _admin(staff, "county-admin-rogaland")
    page = (await admin.get(COUNTY)).text
    assert _table(page, "sms-kostnad")[-1][1:] == ["3,00", "5"]
    assert "grunerlokka" not in page
