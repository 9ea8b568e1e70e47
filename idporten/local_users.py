"""Who can log in at the local test ID-porten: the named synthetic demo
persons (``booking.demo``) for patients, and synthetic staff users, among
them one whose claims (wrongly) name a clinic in another county."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Final

from idporten.roles import StaffRole


@dataclass(frozen=True)
class StaffTestUser:
    key: str
    name: str
    description: str  # Bokmål, as the login page shows it
    roles: tuple[StaffRole, ...]
    county: str
    clinics: tuple[str, ...] = ()


STAFF_TEST_USERS: Final = (
    StaffTestUser("reception-grunerlokka", "Hanne Resepsjon", "Resepsjon, Grünerløkka (Oslo)",
                  (StaffRole.RECEPTION,), "03", ("tannklinikken-grunerlokka",)),
    StaffTestUser("clinic-admin-majorstuen", "Kåre Klinikkleder",
                  "Klinikkleder, Majorstuen (Oslo)", (StaffRole.CLINIC_ADMIN,), "03",
                  ("tannklinikken-majorstuen",)),
    StaffTestUser("support-oslo", "Siri Brukerstøtte", "Brukerstøtte, hele Oslo",
                  (StaffRole.SUPPORT,), "03"),
    StaffTestUser("county-admin-oslo", "Ola Fylkesadmin", "Fylkesadministrator, Oslo",
                  (StaffRole.COUNTY_ADMIN,), "03"),
    StaffTestUser("county-admin-rogaland", "Rune Fylkesadmin", "Fylkesadministrator, Rogaland",
                  (StaffRole.COUNTY_ADMIN,), "11"),
    StaffTestUser("reception-wrong-county", "Vera Resepsjon",
                  "Resepsjon i Oslo som også (feilaktig) oppgir en klinikk i Rogaland",
                  (StaffRole.RECEPTION,), "03",
                  ("tannklinikken-grunerlokka", "tannklinikken-stavanger-sentrum")),
)
STAFF_BY_KEY: Final = {user.key: user for user in STAFF_TEST_USERS}


@dataclass(frozen=True)
class TestPerson:
    key: str
    label: str
    description: str
    age: int | None
    number: str = field(repr=False)


def demo_persons(today: date) -> list[TestPerson]:
    """The named demo persons (``booking.demo``), as TestID would list them."""
    try:
        from booking.demo import demo_logins
    except ImportError:  # pragma: no cover - demo data not installed
        return []
    return [TestPerson(login.person.key, login.person.label, login.person.role, login.age,
                       login.identity_number) for login in demo_logins(today)]
