"""The day view: chairs as columns, time down the side, blocks that say only
time, kind, first name and age group; opening one shows the rest, audited."""

from __future__ import annotations

from datetime import timedelta

from booking.rules import local_date
from core.db import utcnow
from tests.web.clinic.world import GRUNERLOKKA, ClinicWorld, audit_rows

DAY = f"/staff/klinikk/{GRUNERLOKKA}/dag"


async def test_the_staff_login_lands_on_the_day_of_the_receptionists_clinic(reception, world):
    response = await reception.get("/staff")
    assert response.status_code == 303 and response.headers["location"] == "/staff/klinikk"
    response = await reception.get("/staff/klinikk")
    assert response.status_code == 303
    assert response.headers["location"] == f"{DAY}?dato={local_date(utcnow()).isoformat()}"


async def test_the_day_shows_chairs_and_closed_blocks(app, reception, world: ClinicWorld):
    response = await reception.get(DAY)
    assert response.status_code == 200
    page = response.text
    for name in world.chair_names:
        assert f'<th scope="col">{name}</th>' in page
    assert "Kari" in page and "Emma" in page
    assert "Nordmann" not in page and "+4791234567" not in page
    assert "(adult)" in page or "(voksen)" in page
    assert f'id="a-{world.now_id}"' in page and f'id="a-{world.soon_id}"' in page
    assert f'id="a-{world.earlier_id}"' not in page  # another day
    assert f'id="a-{world.majorstuen_id}"' not in page  # another clinic
    [entry] = await audit_rows(app.state.db, "clinic.day.view")
    assert entry.subject_patient_id is None


async def test_previous_and_next_day_links(reception, world: ClinicWorld):
    today = local_date(utcnow())
    page = (await reception.get(f"{DAY}?dato={today.isoformat()}")).text
    assert f"dato={(today - timedelta(days=1)).isoformat()}" in page
    assert f"dato={(today + timedelta(days=1)).isoformat()}" in page
    earlier = local_date(utcnow() - timedelta(days=2))
    page = (await reception.get(f"{DAY}?dato={earlier.isoformat()}")).text
    assert f'id="a-{world.earlier_id}"' in page and f'id="a-{world.now_id}"' not in page


async def test_a_bad_date_gets_a_translated_error(reception, world):
    for bad in ("2026-02-30", "i morgen", "99999-01-01", ""):
        response = await reception.get(f"{DAY}?dato={bad}", headers={"Accept-Language": "en"})
        assert response.status_code == 400, bad
        assert "Write the date as year-month-day" in response.text


async def test_opening_an_appointment_shows_the_full_name_and_is_audited(
        app, reception, world: ClinicWorld):
    response = await reception.get(f"/staff/klinikk/{GRUNERLOKKA}/time/{world.now_id}")
    assert response.status_code == 200
    assert "Kari Nordmann" in response.text and "+4791234567" in response.text
    assert world.kari_pid not in response.text
    [entry] = await audit_rows(app.state.db, "clinic.appointment.open")
    assert entry.subject_patient_id == world.kari_id
    assert entry.detail == {"appointment_id": world.now_id}


async def test_todays_arrivals(app, reception, world: ClinicWorld):
    base = f"/staff/klinikk/{GRUNERLOKKA}/time/{world.now_id}"
    page = (await reception.get(DAY)).text
    assert "Nobody has arrived yet." in page
    await reception.post(f"{base}/merk", data={"mark": "arrived"})
    page = (await reception.get(DAY)).text
    assert 'id="arrivals"' in page and "Nobody has arrived yet." not in page


async def test_the_patient_sees_who_at_the_desk_opened_their_appointment(
        app, reception, world: ClinicWorld):
    import httpx

    from tests.apps import BASE_URL
    from tests.web.auth.helpers import browser, login

    await reception.get(f"/staff/klinikk/{GRUNERLOKKA}/time/{world.now_id}")
    async with browser(BASE_URL, httpx.ASGITransport(app=app)) as kari:
        assert (await login(kari, world.kari_pid)).status_code == 303
        page = await kari.get("/innsyn", headers={"Accept-Language": "en"})
    assert page.status_code == 200
    assert "Opened the appointment at the clinic&#39;s desk" in page.text


async def test_a_childs_appointment_shows_the_guardians_to_call(reception, world: ClinicWorld):
    response = await reception.get(f"/staff/klinikk/{GRUNERLOKKA}/time/{world.soon_id}",
                                   headers={"Accept-Language": "en"})
    assert response.status_code == 200
    assert "Emma Nordmann" in response.text
    assert "<dt>Guardian</dt><dd>Kari Nordmann" in response.text
    assert "+4791234567" in response.text
