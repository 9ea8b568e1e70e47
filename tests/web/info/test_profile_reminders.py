"""The profile's reminder choice: by SMS (the default) or on Helsenorge,
offered from 16 where appointments reach Helsenorge; the choice kept on the
patient and audited; a tampered value or a cross-site post changes nothing."""

from __future__ import annotations

from datetime import date

import httpx
import pytest
from starlette.applications import Starlette

from core.db import Database
from tests.pages import html, text_of
from tests.web.info.helpers import audit_entries, patient_row, set_patient
from web import i18n


def translated(locale: str, msgid: str) -> str:
    return i18n.translations(locale).gettext(msgid)


async def test_the_choice_is_offered_with_sms_chosen(
        client: httpx.AsyncClient, db: Database, patient_id: int) -> None:
    soup = html(await client.get("/profil"))
    form = soup.select_one("form#reminders-form[method=post][action='/profil/paminnelser']")
    assert form is not None
    assert [(i["value"], i.has_attr("checked")) for i in form.select("input[type=radio]")] == [
        ("sms", True), ("helsenorge", False)]
    labels = [label.get_text(" ", strip=True) for label in form.select("label")]
    assert labels == ["By text message (SMS)", "On Helsenorge"]
    assert form.select_one("fieldset")["aria-describedby"] == "reminders-hint"
    hint = text_of(soup, "#reminders-hint")
    assert "Helsenorge then reminds you by its own notice" in hint
    assert "48 hours before it starts, we still send you a text message" in hint
    assert (await patient_row(db, patient_id)).reminder_channel == "sms"


async def test_choosing_helsenorge_keeps_it_and_is_audited(
        client: httpx.AsyncClient, db: Database, patient_id: int) -> None:
    response = await client.post("/profil/paminnelser", data={"paminnelse": "helsenorge"})
    assert response.status_code == 303
    assert response.headers["location"] == "/profil?lagret=paminnelser"
    assert (await patient_row(db, patient_id)).reminder_channel == "helsenorge"
    [entry] = await audit_entries(db)
    assert (entry.action, entry.subject_patient_id, entry.detail) == (
        "profile.reminder_channel.change", patient_id, {"from": "sms", "to": "helsenorge"})
    soup = html(await client.get("/profil?lagret=paminnelser"))
    assert text_of(soup, "#saved") == "Your choice of reminders is saved."
    assert soup.select_one("input#reminders-helsenorge[checked]") is not None
    # The same again writes nothing; back to SMS is one more entry.
    await client.post("/profil/paminnelser", data={"paminnelse": "helsenorge"})
    assert len(await audit_entries(db)) == 1
    await client.post("/profil/paminnelser", data={"paminnelse": "sms"})
    assert (await patient_row(db, patient_id)).reminder_channel == "sms"
    assert len(await audit_entries(db)) == 2


@pytest.mark.parametrize("lang", ["nb", "nn", "en", "se"])
async def test_a_tampered_value_is_refused_in_the_readers_language(
        client: httpx.AsyncClient, db: Database, patient_id: int, lang: str) -> None:
    await client.post("/profil/sprak", data={"lang": lang})
    before = len(await audit_entries(db))
    for data in ({"paminnelse": "email"}, {}):
        response = await client.post("/profil/paminnelser", data=data)
        assert response.status_code == 400
        soup = html(response)
        assert soup.html is not None and soup.html["lang"] == lang
        error = translated(lang, "Choose how you want to be reminded.")
        assert text_of(soup, "#reminders-error") == error
        assert text_of(soup, "#error-summary a[href='#reminders-sms']") == error
        assert soup.select_one("fieldset[aria-describedby='reminders-hint reminders-error']")
    assert (await patient_row(db, patient_id)).reminder_channel == "sms"
    assert len(await audit_entries(db)) == before


async def test_a_cross_site_post_changes_nothing(
        client: httpx.AsyncClient, db: Database, patient_id: int) -> None:
    evil = {"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}
    response = await client.post("/profil/paminnelser", data={"paminnelse": "helsenorge"},
                                 headers=evil)
    assert response.status_code == 403
    assert (await patient_row(db, patient_id)).reminder_channel == "sms"
    assert await audit_entries(db) == []


async def test_not_offered_under_16_nor_without_helsenorge(
        app: Starlette, client: httpx.AsyncClient, db: Database, patient_id: int) -> None:
    await set_patient(db, patient_id, birth_date=date(2025, 1, 1))
    assert html(await client.get("/profil")).select_one("#reminders-form") is None
    response = await client.post("/profil/paminnelser", data={"paminnelse": "helsenorge"})
    assert response.status_code == 404
    await set_patient(db, patient_id, birth_date=date(1980, 1, 1))
    assert html(await client.get("/profil")).select_one("#reminders-form") is not None
    settings = app.state.settings
    app.state.settings = type("NoHelsenorge", (), {
        "__getattr__": lambda self, name: getattr(settings, name),
        "helsenorge_available": False})()
    try:
        assert html(await client.get("/profil")).select_one("#reminders-form") is None
        response = await client.post("/profil/paminnelser", data={"paminnelse": "helsenorge"})
        assert response.status_code == 404
    finally:
        app.state.settings = settings
    assert (await patient_row(db, patient_id)).reminder_channel == "sms"
    assert await audit_entries(db) == []
