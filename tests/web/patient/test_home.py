"""``/min-side``: the next appointments of the user and of each child they
may act for today, with what can be done now and the way to book."""

from __future__ import annotations

from bs4 import BeautifulSoup

from core.db import utcnow
from tests.pages import html, text_of
from tests.web.patient.world import World, appointment_row, audit_entries
from web import i18n


def section(soup: BeautifulSoup, patient_id: int) -> BeautifulSoup:
    heading = soup.select_one(f"#person-{patient_id}-heading")
    assert heading is not None, f"no section for patient {patient_id}"
    found = heading.find_parent("section")
    assert found is not None
    return found


async def test_login_is_required(anonymous, world: World) -> None:
    response = await anonymous.get("/min-side")
    assert response.status_code == 303
    assert response.headers["location"] == "/auth/login?next=/min-side"
    htmx = await anonymous.get("/timer", headers={"HX-Request": "true",
                                                   "HX-Current-URL": "http://127.0.0.1:8000/timer"})
    assert htmx.status_code == 401
    assert htmx.headers["hx-redirect"] == "/auth/login?next=/timer"


async def test_home_shows_own_and_represented_childrens_appointments(
        app, world: World, logged_in) -> None:
    client = await logged_in(world.guardian)
    response = await client.get("/min-side", headers={"Accept-Language": "en"})
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    soup = html(response)
    assert text_of(soup, "h1") == "My page"

    i18n.set_locale("en")
    mine = section(soup, world.guardian.id)
    own = await appointment_row(app, world.appointments["guardian"])
    assert text_of(mine, "h2") == "Your appointments"
    assert [t.get_text() for t in mine.select(".appointment-card time")] == [
        i18n.format_when(own.starts_at, "en")]
    assert "Adult check-up" in mine.get_text()
    assert mine.select_one("a.ds-button[href='/bestill']") is not None
    assert mine.select_one(f"form[action='/timer/{own.id}/bekreft']") is not None
    assert mine.select_one(f"a[href='/timer/{own.id}/avbestill']") is not None
    assert mine.select_one(f"a[href='/timer/{own.id}/endre']") is not None

    emma = section(soup, world.child11.id)
    emma_row = await appointment_row(app, world.appointments["child11"])
    assert text_of(emma, "h2") == "Emma (11 years old)"
    assert [t.get_text() for t in emma.select(".appointment-card time")] == [
        i18n.format_when(emma_row.starts_at, "en")]
    assert "Child check-up" in emma.get_text()
    assert emma.select_one(f"a.ds-button[href='/bestill?for={world.child11.id}']") is not None

    # 13: logistics only: the time and place, not the kind of appointment.
    jonas = section(soup, world.child13.id)
    jonas_row = await appointment_row(app, world.appointments["child13"])
    assert text_of(jonas, "h2") == "Jonas (13 years old)"
    assert [t.get_text() for t in jonas.select(".appointment-card time")] == [
        i18n.format_when(jonas_row.starts_at, "en")]
    assert "Tannklinikken Testby" in jonas.get_text()
    assert "Child check-up" not in jonas.get_text()
    assert jonas.select_one(f"a[href='/timer/{jonas_row.id}/avbestill']") is not None

    # 16: no section, no time; the reason instead.
    assert soup.select_one(f"#person-{world.child16.id}-heading") is None
    sara_row = await appointment_row(app, world.appointments["child16"])
    assert i18n.format_when(sara_row.starts_at, "en") not in soup.get_text()
    unavailable = [" ".join(li.get_text().split()) for li in soup.select(".unavailable-list li")]
    assert unavailable == ["Sara: From the age of 16, young people decide about their own "
                           "health care. They can log in and manage their appointments "
                           "themselves."]

    # Nobody else's appointments.
    for name in ("stranger", "stranger_child", "adult"):
        assert soup.select_one(f"a[href='/timer/{world.appointments[name]}']") is None

    views = await audit_entries(app, action="appointments.view")
    assert sorted((e.subject_patient_id, e.on_behalf_of_id, e.purpose, e.actor_id)
                  for e in views) == sorted([
        (world.child11.id, world.child11.id, "guardian_for_child",
         f"patient:{world.guardian.id}"),
        (world.child13.id, world.child13.id, "guardian_for_child",
         f"patient:{world.guardian.id}"),
    ])


async def test_an_adult_without_children_sees_only_their_own(app, world: World,
                                                              logged_in) -> None:
    client = await logged_in(world.adult)
    soup = html(await client.get("/min-side"))
    assert len(soup.select("section.person-section")) == 1
    assert soup.select_one(".person-switcher") is None
    assert soup.select_one(".unavailable-list") is None
    row = await appointment_row(app, world.appointments["adult"])
    assert soup.select_one(f"a[href='/timer/{row.id}']") is not None
    assert row.starts_at > utcnow()
    # A patient's own view is not a guardian's: nothing audited.
    assert await audit_entries(app, action="appointments.view") == []
