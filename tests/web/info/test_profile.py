"""The profile page: login required, the language choice (kept on the
patient and in the cookie, and followed by every later page), and the
mobile number for text messages: shown, replaced with a checked Norwegian
mobile number, removed again; every change audited without the number."""

from __future__ import annotations

import json

import httpx
import pytest
from starlette.applications import Starlette

from core.db import Database
from tests.pages import html, text_of
from tests.web.auth.helpers import cookie
from tests.web.info.helpers import (
    audit_entries,
    give_mobile,
    log_in,
    new_browser,
    patient_row,
    set_patient,
)
from web import i18n
from web.views.profile import choose_locale

#: The landing page's heading in each language (from the catalogs).
LANDING_H1 = {
    "nb": "Timer hos den offentlige tannhelsetjenesten",
    "nn": "Timar hos den offentlege tannhelsetenesta",
    "se": "Áiggit almmolaš bátnedivššus",
    "en": "Dental appointments with the public dental service",
}


def translated(locale: str, msgid: str) -> str:
    """``msgid`` in ``locale``'s catalog (English until it is translated)."""
    return i18n.translations(locale).gettext(msgid)


# --- login ---------------------------------------------------------------------

async def test_profile_requires_login(client: httpx.AsyncClient) -> None:
    response = await client.get("/profil")
    assert response.status_code == 303
    assert response.headers["location"] == "/auth/login?next=/profil"
    for path in ("/profil/sprak", "/profil/mobil", "/profil/mobil/fjern", "/profil/mobil/kode"):
        posted = await client.post(path, data={"lang": "nn", "mobil": "91234567",
                                               "kode": "123456"})
        assert posted.status_code == 303, path
        assert posted.headers["location"] == "/auth/login"


async def test_profile_page_shows_language_and_the_number_on_file(
        client: httpx.AsyncClient, db: Database, patient_id: int) -> None:
    await set_patient(db, patient_id, mobile="+4791234567")
    response = await client.get("/profil")
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    soup = html(response)
    assert soup.html is not None and soup.html["lang"] == "en"
    assert text_of(soup, "h1") == "Your profile"
    checked = soup.select("input[name=lang][checked]")
    assert [c["value"] for c in checked] == ["en"]
    assert [i["value"] for i in soup.select("input[name=lang]")] == ["nb", "nn", "en", "se"]
    labels = {label["for"]: label["lang"] for label in soup.select("label[for^=lang-]")}
    assert labels == {"lang-nb": "nb", "lang-nn": "nn", "lang-en": "en", "lang-se": "se"}
    # No KRR client in this app: the number the service has on file, in full.
    assert text_of(soup, "#sms-to .phone-number") == "+47 912 34 567"
    assert text_of(soup, "#sms-source") == "(the number we have on file)"
    assert soup.select_one("#krr-number") is None
    field = soup.select_one("input#mobil")
    assert field is not None and field["type"] == "tel" and field["value"] == ""
    assert field["aria-describedby"] == "mobil-hint" and not field.has_attr("aria-invalid")
    assert soup.select_one("form#remove-mobile[action='/profil/mobil/fjern']") is not None


# --- language ------------------------------------------------------------------

@pytest.mark.parametrize(("cookie_lang", "profile_lang", "idporten", "header", "expected"), [
    ("nn", "se", "en", "en", "nn"),  # this browser's latest pick first
    (None, "se", "en", "en", "se"),  # then the choice kept on the patient
    ("xx", "se", "en", "en", "se"),
    (None, None, "nn", "en", "nn"),  # then ID-porten's locale of this login
    (None, "xx", "se", "en", "se"),
    (None, None, None, "en-GB,en;q=0.8", "en"),  # then the browser
    (None, None, None, "de", "nb"),  # then Bokmål
    (None, None, None, None, "nb"),
])
def test_language_order_of_precedence(cookie_lang: str | None, profile_lang: str | None,
                                      idporten: str | None, header: str | None,
                                      expected: str) -> None:
    assert choose_locale(cookie=cookie_lang, profile=profile_lang, idporten=idporten,
                         accept_language=header) == expected


async def test_choosing_a_language_keeps_it_and_sets_the_cookie(
        client: httpx.AsyncClient, db: Database, patient_id: int) -> None:
    assert (await patient_row(db, patient_id)).preferred_language == "en"  # from the login
    response = await client.post("/profil/sprak", data={"lang": "nn"})
    assert response.status_code == 303
    assert response.headers["location"] == "/profil?lagret=sprak"
    set_cookie = next(h for h in response.headers.get_list("set-cookie")
                      if h.startswith("lang="))
    assert set_cookie.startswith("lang=nn;") and "HttpOnly" in set_cookie
    assert "samesite=lax" in set_cookie.lower() and "Max-Age=31536000" in set_cookie
    assert cookie(client, "lang") == "nn"
    assert (await patient_row(db, patient_id)).preferred_language == "nn"

    page = html(await client.get("/profil?lagret=sprak"))
    assert page.html is not None and page.html["lang"] == "nn"
    assert text_of(page, "#saved") == translated("nn", "Your language choice is saved.")
    assert [c["value"] for c in page.select("input[name=lang][checked]")] == ["nn"]
    # Later pages come back in Nynorsk, whatever the browser asks for.
    landing = html(await client.get("/", headers={"Accept-Language": "en"}))
    assert landing.html is not None and landing.html["lang"] == "nn"
    assert text_of(landing, "h1") == LANDING_H1["nn"]

    [entry] = await audit_entries(db)
    assert entry.action == "profile.language.change"
    assert entry.actor_kind == "patient" and entry.actor_id == f"patient:{patient_id}"
    assert entry.subject_patient_id == patient_id and entry.on_behalf_of_id is None
    assert entry.purpose == "self_service"
    assert entry.detail == {"from": "en", "to": "nn"}


async def test_choosing_the_same_language_again_writes_nothing(
        client: httpx.AsyncClient, db: Database, patient_id: int) -> None:
    response = await client.post("/profil/sprak", data={"lang": "en"})
    assert response.status_code == 303 and cookie(client, "lang") == "en"
    assert await audit_entries(db) == []


async def test_the_kept_language_follows_the_patient_to_another_browser(
        app: Starlette, client: httpx.AsyncClient, db: Database, patient_id: int) -> None:
    await client.post("/profil/sprak", data={"lang": "se"})
    async with new_browser(app, "en") as other:
        assert await log_in(other) == patient_id
        assert cookie(other, "lang") is None
        landing = html(await other.get("/"))
        assert landing.html is not None and landing.html["lang"] == "se"
        assert text_of(landing, "h1") == LANDING_H1["se"]
        # The header switcher (cookie only) still wins in this browser.
        await other.post("/language", data={"lang": "nb", "next": "/"})
        landing = html(await other.get("/"))
        assert landing.html is not None and landing.html["lang"] == "nb"
        assert text_of(landing, "h1") == LANDING_H1["nb"]
    # Logged out, the same browser is back to what it asks for.
    async with new_browser(app, "en") as anonymous:
        landing = html(await anonymous.get("/"))
        assert landing.html is not None and landing.html["lang"] == "en"


async def test_without_a_kept_choice_the_login_locale_is_used(
        app: Starlette, db: Database) -> None:
    async with new_browser(app, "nn") as first:  # ID-porten is asked for Nynorsk
        patient_id = await log_in(first)
    await set_patient(db, patient_id, preferred_language=None)
    async with new_browser(app, "nn") as browser_:
        await log_in(browser_)
        browser_.headers["Accept-Language"] = "en"  # the browser now asks for English
        landing = html(await browser_.get("/"))
        assert landing.html is not None and landing.html["lang"] == "nn"
        assert text_of(landing, "h1") == LANDING_H1["nn"]


async def test_a_tampered_language_changes_nothing(
        client: httpx.AsyncClient, db: Database, patient_id: int) -> None:
    response = await client.post("/profil/sprak", data={"lang": "de"})
    assert response.status_code == 400
    assert "lang=" not in response.headers.get("set-cookie", "")
    soup = html(response)
    assert text_of(soup, "#language-error") == "Choose one of the languages in the list."
    fieldset = soup.select_one("fieldset")
    assert fieldset is not None
    assert fieldset["aria-describedby"] == "language-hint language-error"
    assert (await patient_row(db, patient_id)).preferred_language == "en"
    assert await audit_entries(db) == []


# --- mobile number -------------------------------------------------------------

@pytest.mark.parametrize(("typed", "stored", "shown"), [
    ("91234567", "+4791234567", "+47 912 34 567"),
    ("+47 412 34 567", "+4741234567", "+47 412 34 567"),
    ("004791234567", "+4791234567", "+47 912 34 567"),
])
async def test_a_norwegian_mobile_number_is_saved_after_its_code(
        app: Starlette, client: httpx.AsyncClient, db: Database, patient_id: int,
        typed: str, stored: str, shown: str) -> None:
    response = await give_mobile(app, client, db, patient_id, typed)
    assert response.status_code == 303
    assert response.headers["location"] == "/profil?lagret=mobil"
    assert (await patient_row(db, patient_id)).mobile == stored

    soup = html(await client.get(response.headers["location"]))
    assert text_of(soup, "#saved") == (
        "Your mobile number is saved. We will send text messages to it.")
    assert text_of(soup, "#sms-to .phone-number") == shown

    [entry] = await audit_entries(db)
    assert entry.action == "profile.mobile.change"
    assert entry.actor_id == f"patient:{patient_id}" and entry.subject_patient_id == patient_id
    assert entry.purpose == "self_service"
    assert entry.detail == {"change": "added"}
    _assert_no_number(entry, stored)


#: (typed, the English message) — the message is tied to the field.
REFUSED = [
    ("22123456", "That looks like a landline number, which cannot get text messages. "
                 "Give a mobile number: it starts with 4 or 9."),
    ("1234", "That number has too few digits. A Norwegian mobile number has 8 digits, "
             "for example 912 34 567."),
    ("+46701234567", "We can only send text messages to Norwegian mobile numbers (+47). "
                     "If you cannot get messages on a Norwegian number, call your clinic and "
                     "agree how they should reach you."),
    ("9123456789012345678901", "That is too long for a phone number. A Norwegian mobile "
                               "number has 8 digits, for example 912 34 567."),
    ("abc", "A phone number can only have digits, spaces and a + at the start, "
            "for example +47 912 34 567."),
]


@pytest.mark.parametrize(("typed", "message"), REFUSED)
async def test_a_wrong_number_is_refused_next_to_the_field_and_nothing_changes(
        client: httpx.AsyncClient, db: Database, patient_id: int,
        typed: str, message: str) -> None:
    await set_patient(db, patient_id, mobile="+4741234567")
    response = await client.post("/profil/mobil", data={"mobil": typed})
    assert response.status_code == 400
    soup = html(response)
    assert soup.title is not None and soup.title.get_text().startswith("Error:")
    field = soup.select_one("input#mobil")
    assert field is not None
    assert field["value"] == typed  # what the user typed, to correct it
    assert field["aria-invalid"] == "true"
    assert field["aria-describedby"] == "mobil-hint mobil-error"
    assert text_of(soup, "#mobil-error") == message
    summary = soup.select_one("#error-summary a[href='#mobil']")
    assert summary is not None and summary.get_text(strip=True) == message
    # Nothing changed: the old number is still the one shown and stored.
    assert text_of(soup, "#sms-to .phone-number") == "+47 412 34 567"
    assert (await patient_row(db, patient_id)).mobile == "+4741234567"
    assert await audit_entries(db) == []


@pytest.mark.parametrize("lang", ["nb", "nn", "se"])
async def test_the_refusal_is_in_the_readers_language(
        client: httpx.AsyncClient, db: Database, patient_id: int, lang: str) -> None:
    await client.post("/profil/sprak", data={"lang": lang})
    soup = html(await client.post("/profil/mobil", data={"mobil": "22123456"}))
    assert soup.html is not None and soup.html["lang"] == lang
    assert text_of(soup, "#mobil-error") == translated(lang, REFUSED[0][1])
    assert text_of(soup, "h1") == translated(lang, "Your profile")


async def test_removing_my_number_goes_back_to_none_on_file(
        app: Starlette, client: httpx.AsyncClient, db: Database, patient_id: int) -> None:
    await give_mobile(app, client, db, patient_id, "912 34 567")
    before = html(await client.get("/profil"))
    assert text_of(before, "#remove-hint") == (
        "If you remove +47 912 34 567, we have no number for you and cannot send you "
        "text messages.")
    response = await client.post("/profil/mobil/fjern")
    assert response.status_code == 303
    assert response.headers["location"] == "/profil?lagret=fjernet"
    assert (await patient_row(db, patient_id)).mobile is None
    soup = html(await client.get("/profil?lagret=fjernet"))
    assert text_of(soup, "#saved") == "Your own number is removed."
    assert text_of(soup, "#sms-to") == "No number. We cannot send you text messages."
    assert soup.select_one("#remove-mobile") is None

    # Removing again changes nothing and writes nothing.
    assert (await client.post("/profil/mobil/fjern")).status_code == 303
    added, removed = await audit_entries(db)
    assert (added.detail, removed.detail) == ({"change": "added"}, {"change": "removed"})
    for entry in (added, removed):
        assert entry.action == "profile.mobile.change" and entry.purpose == "self_service"
        _assert_no_number(entry, "+4791234567")


async def test_replacing_a_number_is_audited_as_a_replacement(
        app: Starlette, client: httpx.AsyncClient, db: Database, patient_id: int) -> None:
    await set_patient(db, patient_id, mobile="+4741234567")
    await give_mobile(app, client, db, patient_id, "91234567")
    await give_mobile(app, client, db, patient_id, "+4791234567")  # the same again
    [entry] = await audit_entries(db)
    assert entry.detail == {"change": "replaced"}
    _assert_no_number(entry, "+4741234567")
    _assert_no_number(entry, "+4791234567")


async def test_a_cross_site_post_changes_nothing(
        client: httpx.AsyncClient, db: Database, patient_id: int) -> None:
    evil = {"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}
    for path, data in (("/profil/mobil", {"mobil": "91234567"}),
                       ("/profil/mobil/kode", {"kode": "123456"}),
                       ("/profil/sprak", {"lang": "se"}),
                       ("/profil/mobil/fjern", {})):
        response = await client.post(path, data=data, headers=evil)
        assert response.status_code == 403, path
    row = await patient_row(db, patient_id)
    assert (row.mobile, row.preferred_language) == (None, "en")
    assert await audit_entries(db) == []


def _assert_no_number(entry: object, e164: str) -> None:
    """Neither the number nor its national digits anywhere in the entry."""
    national = e164.removeprefix("+47")
    text = json.dumps({name: str(getattr(entry, name)) for name in (
        "actor_id", "action", "purpose", "detail", "on_behalf_of_id", "subject_patient_id")})
    assert national not in text and e164 not in text
