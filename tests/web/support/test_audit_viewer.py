"""The county administrator's audit viewer: only their county's entries,
search by patient (through the purpose-stated, audited look-up; the patient
named by an opaque token), staff member, action and dates; pages; CSV
export; the chains' verification state and re-verify; every search and
export audited; another county's ids refused with an audit entry."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

from sqlalchemy import select

from booking import audit
from booking.audit import Actor
from core.db import utcnow
from core.locale import OSLO
from notifications import support as rules
from tests.web.support.world import SupportWorld, audit_rows
from web import signing
from web.oversight import audit_log
from web.oversight.models import AuditVerification, StaffDirectoryEntry

LOG = "/staff/tilsyn/logg"
FIND = "/staff/support/finn"


async def _support_looks_up_kari(support, world: SupportWorld) -> None:
    response = await support.post(FIND, data={"purpose": "patient_called",
                                              "identity_number": world.kari_pid})
    assert response.status_code == 303


async def test_only_county_administrators(staff, world):
    support = await staff("support-oslo")
    assert (await support.get(LOG)).status_code == 403
    assert (await support.get("/staff/tilsyn/tilgang")).status_code == 403
    assert (await support.post(f"{LOG}/verifiser")).status_code == 403
    nav = (await support.get("/staff/support")).text
    assert LOG not in nav
    admin = await staff("county-admin-oslo")
    assert LOG in (await admin.get("/staff/support")).text


async def test_the_countys_entries_and_not_the_others(app, staff, world: SupportWorld):
    support = await staff("support-oslo")
    await _support_looks_up_kari(support, world)
    oslo = await staff("county-admin-oslo")
    page = await oslo.get(LOG)
    assert page.status_code == 200 and rules.LOOKUP_ACTION in page.text
    assert "Siri Brukerstøtte" in page.text
    rogaland = await staff("county-admin-rogaland")
    other = await rogaland.get(LOG, params={"handling": "support."})
    assert other.status_code == 200 and rules.LOOKUP_ACTION not in other.text
    searches = await audit_rows(app.state.db, audit_log.SEARCH_ACTION)
    assert len(searches) == 2 and searches[0].detail["county_id"] != searches[1].detail[
        "county_id"]


async def test_search_by_patient_through_the_audited_look_up(app, staff, world: SupportWorld):
    support = await staff("support-oslo")
    await _support_looks_up_kari(support, world)
    admin = await staff("county-admin-oslo")
    response = await admin.post(f"{LOG}/pasient", data={"purpose": "access_request",
                                                        "identity_number": world.kari_pid})
    assert response.status_code == 303
    location = response.headers["location"]
    assert world.kari_pid not in location and set(parse_qs(urlsplit(location).query)) == {
        "pasient"}
    page = await admin.get(location)
    assert page.status_code == 200 and "Kari Nordmann" in page.text
    assert world.kari_pid not in page.text
    lookups = await audit_rows(app.state.db, rules.LOOKUP_ACTION)
    assert lookups[-1].detail["lookup_purpose"] == "access_request"
    [search] = [s for s in await audit_rows(app.state.db, audit_log.SEARCH_ACTION)
                if s.subject_patient_id == world.kari_id]
    assert search.detail["search"]["patient_id"] == world.kari_id
    refused = await admin.post(f"{LOG}/pasient", data={"purpose": "patient_called",
                                                       "identity_number": world.kari_pid})
    assert refused.status_code == 400 and "Choose why you look the patient up." in refused.text
    other = await admin.post(f"{LOG}/pasient", data={"purpose": "audit_check",
                                                     "identity_number": world.per_pid})
    assert other.status_code == 404 and "Vestlending" not in other.text


async def test_another_countys_ids_are_404_and_audited(app, staff, world: SupportWorld):
    admin = await staff("county-admin-oslo")
    per = signing.sign("audit-patient", world.per_id, utcnow() + timedelta(hours=1),
                       app.state.settings.secret_key)
    assert (await admin.get(LOG, params={"pasient": per})).status_code == 404
    refused = [e for e in await audit_rows(app.state.db, rules.LOOKUP_ACTION)
               if e.detail.get("refused")]
    assert refused and refused[-1].subject_patient_id == world.per_id
    assert (await admin.get(LOG, params={"pasient": "forged"})).status_code == 404
    rogaland = await staff("county-admin-rogaland")
    assert (await rogaland.get(LOG)).status_code == 200
    async with app.state.db.read() as session:
        rogaland_id = (await session.execute(select(StaffDirectoryEntry.actor_id).where(
            StaffDirectoryEntry.name == "Rune Fylkesadmin"))).scalar_one()
    assert (await admin.get(LOG, params={"ansatt": rogaland_id})).status_code == 404
    assert (await admin.get(f"{LOG}.csv", params={"ansatt": rogaland_id})).status_code == 404
    targets = [e.detail["target"] for e in await audit_rows(app.state.db, "access.refused")]
    assert targets == ["audit_patient_token", "staff", "staff"]


async def test_filters_dates_and_pages(app, staff, world: SupportWorld):
    support = await staff("support-oslo")
    await _support_looks_up_kari(support, world)
    [lookup] = await audit_rows(app.state.db, rules.LOOKUP_ACTION)
    actor = Actor.staff(lookup.actor_id.removeprefix("staff:"), frozenset())
    async with app.state.db.write() as session:
        for i in range(audit_log.PAGE_SIZE + 5):
            await audit.record(session, actor, "support.test", purpose="support",
                               detail={"i": i})
    admin = await staff("county-admin-oslo")
    page = await admin.get(LOG, params={"handling": "support.test"})
    assert f"{audit_log.PAGE_SIZE + 5} entries" in page.text and "Page 1 of 2" in page.text
    assert 'rel="next"' in page.text
    second = await admin.get(LOG, params={"handling": "support.test", "side": "2"})
    assert "Page 2 of 2" in second.text and second.text.count('id="entry-') == 5
    staff_only = await admin.get(LOG, params={"ansatt": lookup.actor_id,
                                              "handling": "support.patient"})
    assert "1 entry" in staff_only.text
    today = utcnow().astimezone(OSLO).strftime("%d.%m.%Y")
    past = await admin.get(LOG, params={"til": "01.01.2000", "handling": "support."})
    assert "0 entries" in past.text
    assert "1 entry" in (await admin.get(LOG, params={
        "fra": today, "til": today, "handling": "support.patient"})).text
    bad = await admin.get(LOG, params={"fra": "yesterday"})
    assert bad.status_code == 400 and "day.month.year" in bad.text
    order = await admin.get(LOG, params={"fra": "02.01.2020", "til": "01.01.2020"})
    assert order.status_code == 400 and "must not be before" in order.text


async def test_csv_export_is_audited(app, staff, world: SupportWorld):
    support = await staff("support-oslo")
    await _support_looks_up_kari(support, world)
    admin = await staff("county-admin-oslo")
    response = await admin.get(f"{LOG}.csv", params={"handling": "support.patient"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows[0] == list(audit_log.CSV_COLUMNS)
    assert [r[7] for r in rows[1:]] == [rules.LOOKUP_ACTION]
    assert rows[1][4] == "Siri Brukerstøtte" and world.kari_pid not in response.text
    [export] = await audit_rows(app.state.db, audit_log.EXPORT_ACTION)
    assert export.detail["rows"] == 1


async def test_verification_state_and_re_verify(app, staff, world: SupportWorld):
    admin = await staff("county-admin-oslo")
    assert 'id="never-verified"' in (await admin.get(LOG)).text
    response = await admin.post(f"{LOG}/verifiser")
    assert response.status_code == 303
    page = (await admin.get(response.headers["location"])).text
    assert 'id="verified"' in page and 'id="chain-intact"' in page
    async with app.state.db.read() as session:
        [row] = (await session.execute(select(AuditVerification))).scalars().all()
    assert row.intact and row.entries > 0
    [entry] = await audit_rows(app.state.db, audit_log.VERIFY_ACTION)
    assert entry.detail["verification_id"] == row.id and entry.detail["intact"] is True


async def test_a_broken_verification_says_where(app, staff, world: SupportWorld):
    async with app.state.db.write() as session:
        session.add(AuditVerification(
            verified_at=utcnow(), actor_id="staff:x", intact=False, entries=3, chains=2,
            seals=1, first_broken_id=42, first_broken_seal_id=None, cut_chains=["patient:7"]))
    admin = await staff("county-admin-oslo")
    page = (await admin.get(LOG)).text
    assert 'id="chain-broken"' in page and "42" in page and "patient:7" in page
