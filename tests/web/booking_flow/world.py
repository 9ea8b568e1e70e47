"""A county with three clinics (two in the guardian's municipality's county,
one elsewhere), kinds of appointment for different ages, a guardian with
three children they may book for and one they may not, and free slots one
week ahead, in the afternoon, Oslo time."""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import httpx
from bs4 import BeautifulSoup
from starlette.applications import Starlette

from booking.models import AppointmentType, Chair, Clinic, Patient, ScheduleTemplate, Slot
from booking.picker import is_open
from booking.rules import local_date
from core.db import Database, utcnow
from core.identity import IdentityVault, synthetic_number
from tests import factories as f
from tests.web.auth.helpers import ADULT_PID, login, path_of
from web.i18n import OSLO

OTHER_PID = synthetic_number(date(1971, 3, 3), random.Random(7))


@dataclass
class World:
    db: Database
    home: Clinic  # in the guardian's municipality
    neighbour: Clinic  # same county, another municipality
    far: Clinic  # another county
    exam: AppointmentType  # adults
    child_exam: AppointmentType  # 3 to 18
    braces: AppointmentType  # 12 to 18
    acute: AppointmentType  # not bookable online
    far_child_exam: AppointmentType  # the far county's child examination
    guardian: Patient
    children: dict[str, Patient]  # by given name
    of_age: Patient  # 17: decides for herself
    stranger: Patient
    day: date  # the afternoon with free times
    chairs: list[Chair]
    template: ScheduleTemplate
    slots: list[Slot]  # home clinic, on ``day``: 14:00, 14:30, 15:00, 15:30 (two chairs)
    neighbour_slot: Slot

    def at(self, hour: int, minute: int = 0, day: date | None = None) -> datetime:
        return datetime.combine(day or self.day, time(hour, minute),
                                tzinfo=OSLO).astimezone(UTC)


def _born(years: int) -> date:
    today = local_date(utcnow())
    return date(today.year - years, 1, 1)


def _three_open_days(clinic: Clinic, day: date) -> date:
    """The first day from ``day`` that starts three days the clinic is open
    (the tests step from it to the next open day and the one after), on
    whatever weekday or holiday week the suite's clock stands."""
    while not all(is_open(clinic, day + timedelta(days=i)) for i in range(3)):
        day += timedelta(days=1)
    return day


async def make_world(app: Starlette) -> World:
    db: Database = app.state.db
    vault: IdentityVault = app.state.vault
    async with db.write() as s:
        county = await f.county(s, name="Oslo")
        other_county = await f.county(s, name="Vestland")
        home = await f.clinic(s, county, name="Grünerløkka tannklinikk", slug="grunerlokka",
                              municipality_code="0301", municipality_name="Oslo")
        neighbour = await f.clinic(s, county, name="Asker tannklinikk", slug="asker",
                                   municipality_code="3203", municipality_name="Asker")
        far = await f.clinic(s, other_county, name="Åsane tannklinikk", slug="asane",
                             municipality_code="4601", municipality_name="Bergen")
        day = _three_open_days(home, local_date(utcnow()) + timedelta(days=7))
        exam = await f.appointment_type(s, county.id, code="exam", min_age=18, names={
            "nb": "Undersøkelse", "nn": "Undersøking", "en": "Check-up", "se": "Iskkadeapmi"})
        child_exam = await f.appointment_type(s, county.id, code="child-exam", min_age=3,
                                              max_age=18, late_cancellation_fee=False, names={
            "nb": "Barneundersøkelse", "nn": "Barneundersøking", "en": "Child check-up",
            "se": "Mánáid iskkadeapmi"})
        braces = await f.appointment_type(s, county.id, code="braces", min_age=12, max_age=18,
                                          names={"nb": "Tannregulering", "nn": "Tannregulering",
                                                 "en": "Braces check", "se": "Bátneregulering"})
        acute = await f.appointment_type(s, county.id, code="acute", self_bookable=False,
                                         names={"nb": "Akutt", "nn": "Akutt",
                                                "en": "Acute", "se": "Akuhtta"})
        far_child_exam = await f.appointment_type(s, other_county.id, code="child-exam",
                                                  min_age=3, max_age=18)
        chairs = [await f.chair(s, home), await f.chair(s, home)]
        template = await f.template(s, chairs[0], [exam, child_exam, braces, acute])
        template2 = await f.template(s, chairs[1], [exam, child_exam, braces, acute])
        neighbour_chair = await f.chair(s, neighbour)
        neighbour_template = await f.template(s, neighbour_chair, [exam, child_exam])
        guardian = await f.patient(s, birth_date=date(1980, 5, 17), given_name="Kari",
                                   identity_number=ADULT_PID, municipality_code="0301")
        guardian.identity_hash = vault.lookup_hash(ADULT_PID)
        guardian.identity_encrypted = vault.encrypt(ADULT_PID)
        children = {}
        for name, years in (("Ola", 5), ("Emma", 9), ("Nora", 14)):
            child = await f.patient(s, birth_date=_born(years), given_name=name)
            await f.guardianship(s, guardian, child)
            children[name] = child
        of_age = await f.patient(s, birth_date=_born(17), given_name="Sara")
        await f.guardianship(s, guardian, of_age)
        stranger = await f.patient(s, birth_date=date(1971, 3, 3), given_name="Per",
                                   identity_number=OTHER_PID)
        stranger.identity_hash = vault.lookup_hash(OTHER_PID)
        stranger.identity_encrypted = vault.encrypt(OTHER_PID)
        world = World(db, home, neighbour, far, exam, child_exam, braces, acute, far_child_exam,
                      guardian, children, of_age, stranger, day, chairs, template, [],
                      neighbour_slot=None)  # type: ignore[arg-type]
        for hour, minute in ((14, 0), (14, 30), (15, 0), (15, 30)):
            world.slots.append(await f.slot(s, chairs[0], world.at(hour, minute), template))
        world.slots.append(await f.slot(s, chairs[1], world.at(14, 0), template2))
        # Two days later, one more free time (the "next free day" after ``day``).
        world.slots.append(await f.slot(s, chairs[0], world.at(10, 0, day + timedelta(days=2)),
                                        template))
        world.neighbour_slot = await f.slot(s, neighbour_chair, world.at(14, 0),
                                            neighbour_template)
    return world


# --- walking the pages --------------------------------------------------------

def soup_of(response: httpx.Response) -> BeautifulSoup:
    return BeautifulSoup(response.text, "html.parser")


def text(soup: BeautifulSoup, selector: str) -> str:
    found = soup.select(selector)
    assert len(found) == 1, f"{selector!r} matched {len(found)} elements"
    return " ".join(found[0].get_text(" ").split())


def choices(soup: BeautifulSoup) -> dict[str, str]:
    """The links of the page's choice lists, by their title."""
    return {" ".join(a.select(".choice-list__title")[0].get_text().split()): str(a["href"])
            for a in soup.select("a.choice-list__link")}


def hidden_fields(soup: BeautifulSoup, form: str) -> dict[str, str]:
    found = soup.select_one(form)
    assert found is not None, form
    return {str(i["name"]): str(i.get("value", "")) for i in found.select("input[type=hidden]")}


def times(soup: BeautifulSoup, scope: str = "#day") -> dict[str, str]:
    """The free times a picker offers: label text -> slot id."""
    return {" ".join(label.get_text().split()): str(soup.select_one(
        f"#{label['for']}")["value"])  # type: ignore[index]
        for label in soup.select(f"{scope} .time-list label")}


async def log_in(client: httpx.AsyncClient, pid: str = ADULT_PID) -> None:
    response = await login(client, pid)
    assert response.status_code == 303, response.text


async def get(client: httpx.AsyncClient, url: str, **kw: object) -> httpx.Response:
    response = await client.get(url, **kw)  # type: ignore[arg-type]
    assert response.status_code == 200, (url, response.status_code, response.text[:2000])
    return response


async def pick(client: httpx.AsyncClient, person: str | None, kind: str,
               clinic: str) -> BeautifulSoup:
    """Walk who → what → where; returns the picker page."""
    page = soup_of(await get(client, "/bestill"))
    if person is not None:
        page = soup_of(await get(client, choices(page)[person]))
    page = soup_of(await get(client, choices(page)[kind]))
    return soup_of(await get(client, choices(page)[clinic]))


async def hold(client: httpx.AsyncClient, picker: BeautifulSoup, clock: str) -> str:
    """Choose ``clock`` on the picker; returns the summary page's address."""
    data = {**hidden_fields(picker, "form.time-form"), "slot": times(picker)[clock]}
    response = await client.post("/bestill/velg", data=data)
    assert response.status_code == 303, response.text[:3000]
    return path_of(response.headers["location"])


async def confirm(client: httpx.AsyncClient, summary_url: str) -> tuple[int, dict[str, str]]:
    """Confirm the summary; returns the new appointment's id and the form sent."""
    page = soup_of(await get(client, summary_url))
    data = hidden_fields(page, "form.confirm-form")
    response = await client.post("/bestill/bekreft", data=data)
    assert response.status_code == 303, response.text[:3000]
    found = re.fullmatch(r"/timer/(\d+)/kvittering", response.headers["location"])
    assert found, response.headers["location"]
    return int(found.group(1)), data
