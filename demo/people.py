"""The demo's synthetic people: the named demo persons (:data:`DEMO_PEOPLE`),
their identity numbers and logins, and ~200 generic patients.

Identity numbers are synthetic numbers of the national test register's kind
(month + 80), never real ones.

The named demo persons have ages relative to the day of seeding. Their birth
dates are anchored on the *calendar month* of ``today``: every birthday lies
in an earlier month, so a person listed as 13 is 13 on every day of that
month, and their identity numbers stay the same all month
(:func:`demo_logins`; :func:`login_persons` lists them on the local login
page). In a new month a re-run of the seed adds a fresh set of named persons
of the right ages; the old ones stay. The ~200 generic patients are anchored
on the calendar year.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy import select

from booking import rules
from booking.models import Patient
from booking.statuses import ConfidentialAddress
from core.db import Database
from core.identity import IdentityVault, synthetic_number
from demo.data import CLINIC_BY_SLUG, CLINICS, COUNTIES, ClinicSeed
from idporten.local_users import TestPerson

# --- Named demo persons -------------------------------------------------------

@dataclass(frozen=True)
class DemoPerson:
    """A named synthetic person for demos, tests and the local login page.

    ``age`` is the person's age in completed years on every day of the month
    of ``today``; ``months_since_birthday`` (1–11) and ``birth_day`` (1–28)
    place the birthday in an earlier month.
    """

    key: str
    given_name: str
    family_name: str
    role: str  # Bokmål, as shown on the local login page
    age: int
    months_since_birthday: int
    birth_day: int
    clinic: str  # slug of the home clinic; the municipality is the clinic's
    household: str | None  # equal households share a registered address; None: hidden
    confidential_address: ConfidentialAddress = ConfidentialAddress.NONE
    preferred_language: str | None = None
    mobile: str | None = None
    d_number: bool = False
    #: Keys of the children this person has parental responsibility
    #: (foreldreansvar) for: one Guardianship row each.
    children: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        return f"{self.given_name} {self.family_name}"

    def birth_date(self, today: date) -> date:
        months = today.year * 12 + (today.month - 1) - self.age * 12 - self.months_since_birthday
        return date(months // 12, months % 12 + 1, self.birth_day)

    def address_key(self, today: date) -> str | None:
        if self.household is None:
            return None
        return f"demo-{period(today)}-{self.household}"

    @property
    def county(self) -> str:
        return CLINIC_BY_SLUG[self.clinic].county

    @property
    def municipality_code(self) -> str | None:
        if self.household is None:
            return None
        return CLINIC_BY_SLUG[self.clinic].municipality_code


_FAMILY_1 = "oslo-bakken"
DEMO_PEOPLE: tuple[DemoPerson, ...] = (
    # A family in Oslo: two guardians and four children, all at one address.
    DemoPerson("guardian-1", "Ingrid", "Bakken", "Forelder til fire barn (bor sammen med dem)",
               41, 3, 14, "tannklinikken-grunerlokka", _FAMILY_1, preferred_language="nb",
               mobile="+4791234501", children=("child-16", "child-13", "child-11", "child-5")),
    DemoPerson("guardian-2", "Thomas", "Bakken", "Forelder til fire barn (bor sammen med dem)",
               43, 7, 2, "tannklinikken-grunerlokka", _FAMILY_1, mobile="+4741234502",
               children=("child-16", "child-13", "child-11", "child-5")),
    DemoPerson("child-16", "Sara", "Bakken", "16 år: helserettslig myndig, egen innlogging",
               16, 5, 9, "tannklinikken-grunerlokka", _FAMILY_1, mobile="+4791234503"),
    DemoPerson("child-13", "Jonas", "Bakken", "13 år: foresatte ser bare timer (12–15 år)",
               13, 2, 21, "tannklinikken-grunerlokka", _FAMILY_1, mobile="+4741234504"),
    DemoPerson("child-11", "Emma", "Bakken", "11 år: foresatte har full tilgang",
               11, 9, 6, "tannklinikken-grunerlokka", _FAMILY_1),
    DemoPerson("child-5", "Olav", "Bakken", "5 år: foresatte har full tilgang",
               5, 1, 27, "tannklinikken-grunerlokka", _FAMILY_1),
    # A second family: the guardians live apart, the child is registered with one.
    DemoPerson("guardian-3", "Marte", "Lie", "Forelder, barnet bor hos henne",
               38, 4, 11, "tannklinikken-majorstuen", "oslo-lie", mobile="+4791234505",
               children=("child-8",)),
    DemoPerson("guardian-4", "Ali", "Rahimi", "Forelder, bor på en annen adresse enn barnet",
               40, 6, 19, "tannklinikken-majorstuen", "oslo-rahimi", preferred_language="en",
               mobile="+4741234506", children=("child-8",)),
    DemoPerson("child-8", "Noah", "Rahimi Lie", "8 år: bor hos én av to foresatte",
               8, 8, 3, "tannklinikken-majorstuen", "oslo-lie"),
    # Confidential addresses: never represented, address never shown.
    DemoPerson("confidential-adult", "Nina", "Strand", "Strengt fortrolig adresse, forelder",
               34, 10, 8, "tannklinikken-holmlia", None,
               ConfidentialAddress.STRICTLY_CONFIDENTIAL, mobile="+4791234507",
               children=("confidential-child",)),
    DemoPerson("confidential-child", "Leah", "Strand", "7 år, strengt fortrolig adresse",
               7, 2, 16, "tannklinikken-holmlia", None,
               ConfidentialAddress.STRICTLY_CONFIDENTIAL),
    DemoPerson("confidential-adult-2", "Jon", "Berg", "Fortrolig adresse",
               52, 5, 24, "tannklinikken-sandvika", None, ConfidentialAddress.CONFIDENTIAL,
               mobile="+4741234508"),
    # Single adults.
    DemoPerson("adult-oslo", "Astrid", "Nilsen", "Voksen, time i morgen (sen avbestilling)",
               29, 1, 5, "tannklinikken-grunerlokka", "oslo-nilsen", mobile="+4791234509"),
    DemoPerson("adult-elderly", "Per", "Johansen", "Eldre, uten mobilnummer",
               81, 11, 12, "tannklinikken-stovner", "oslo-johansen"),
    DemoPerson("adult-nynorsk", "Sigrid", "Haugland", "Voksen, foretrekker nynorsk",
               52, 3, 7, "tannklinikken-voss", "voss-haugland", preferred_language="nn",
               mobile="+4791234510"),
    DemoPerson("adult-sami-finnmark", "Risten Máret", "Sara",
               "Voksen, foretrekker nordsamisk (Kárášjohka)", 45, 6, 28,
               "tannklinikken-karasjohka", "karasjok-sara", preferred_language="se",
               mobile="+4741234511"),
    DemoPerson("adult-sami-troms", "Mikkel Ante", "Labba",
               "Voksen, foretrekker nordsamisk (Gáivuotna)", 63, 4, 1,
               "tannklinikken-olderdalen", "kafjord-labba", preferred_language="se",
               mobile="+4791234512"),
    DemoPerson("adult-d-number", "Tomasz", "Kowalski", "Voksen med D-nummer, engelsk",
               35, 7, 22, "tannklinikken-stavanger-sentrum", "stavanger-kowalski",
               preferred_language="en", mobile="+4741234513", d_number=True),
    # A family in Bergen, Nynorsk speakers.
    DemoPerson("guardian-bergen", "Lars", "Vik", "Forelder i Bergen, foretrekker nynorsk",
               45, 2, 13, "tannklinikken-bergen-sentrum", "bergen-vik",
               preferred_language="nn", mobile="+4791234514", children=("child-bergen",)),
    DemoPerson("child-bergen", "Ingeborg", "Vik", "9 år, Bergen",
               9, 5, 17, "tannklinikken-bergen-sentrum", "bergen-vik",
               preferred_language="nn"),
)
DEMO_PEOPLE_BY_KEY: dict[str, DemoPerson] = {person.key: person for person in DEMO_PEOPLE}


def period(today: date) -> str:
    """The month the named demo persons are anchored on, e.g. "202503"."""
    return f"{today.year:04d}{today.month:02d}"


@dataclass(frozen=True)
class DemoLogin:
    """A named demo person as the local login page lists them."""

    person: DemoPerson
    identity_number: str
    birth_date: date
    age: int

    def __repr__(self) -> str:  # never print the number itself
        return f"DemoLogin(key={self.person.key!r}, age={self.age})"


def demo_logins(today: date) -> list[DemoLogin]:
    """The named demo persons with their synthetic identity numbers, as
    :func:`demo.seed.seed_demo` creates them for ``today`` (the same all month)."""
    taken: set[str] = set()
    logins: list[DemoLogin] = []
    for person in DEMO_PEOPLE:
        birth = person.birth_date(today)
        rng = random.Random(f"tanntid-demo-person:{person.key}:{birth.isoformat()}")
        number = synthetic_number(birth, rng, d_number=person.d_number)
        while number in taken:
            number = synthetic_number(birth, rng, d_number=person.d_number)
        taken.add(number)
        logins.append(DemoLogin(person, number, birth, rules.age_on(birth, today)))
    return logins


async def demo_patient_ids(db: Database, vault: IdentityVault, *, today: date
                           ) -> dict[str, int]:
    """Demo person key → patient id, for the persons seeded for ``today``'s month."""
    hashes = {vault.lookup_hash(login.identity_number): login.person.key
              for login in demo_logins(today)}
    async with db.read() as session:
        rows = await session.execute(
            select(Patient.identity_hash, Patient.id)
            .where(Patient.identity_hash.in_(list(hashes)))
        )
        return {hashes[bytes(identity_hash)]: patient_id for identity_hash, patient_id in rows}


def login_persons(today: date) -> list[TestPerson]:
    """The named demo persons as the local test ID-porten lists them (as
    TestID would), with this month's numbers."""
    return [TestPerson(login.person.key, login.person.label, login.person.role, login.age,
                       login.identity_number) for login in demo_logins(today)]


# --- Generic patients ---------------------------------------------------------

#: How many generic patients per county, roughly after population.
GENERIC_PER_COUNTY: dict[str, int] = {
    "03": 30, "11": 18, "15": 10, "18": 10, "31": 12, "32": 25, "33": 10, "34": 12,
    "39": 10, "40": 7, "42": 12, "46": 22, "50": 18, "55": 8, "56": 6,
}
_GIVEN_CHILD_F = ("Emma", "Nora", "Sofie", "Ella", "Olivia", "Ada", "Frida", "Maja", "Sara",
                  "Leah", "Ingrid", "Astrid", "Hedda", "Selma", "Aurora")
_GIVEN_CHILD_M = ("Jakob", "Emil", "Noah", "Oliver", "Filip", "William", "Lucas", "Liam",
                  "Henrik", "Olav", "Aksel", "Isak", "Theodor", "Magnus", "Johannes")
_GIVEN_ADULT_F = ("Anne", "Inger", "Kari", "Marit", "Liv", "Eva", "Berit", "Hilde", "Silje",
                  "Camilla", "Ida", "Marte", "Tone", "Randi", "Solveig")
_GIVEN_ADULT_M = ("Jan", "Per", "Bjørn", "Ole", "Lars", "Kjell", "Knut", "Arne", "Svein",
                  "Hans", "Geir", "Espen", "Anders", "Martin", "Kristian")
_FAMILY_NAMES = ("Hansen", "Johansen", "Olsen", "Larsen", "Andersen", "Pedersen", "Nilsen",
                 "Kristiansen", "Jensen", "Karlsen", "Johnsen", "Pettersen", "Eriksen",
                 "Berg", "Haugen", "Hagen", "Johannessen", "Andreassen", "Jacobsen", "Dahl",
                 "Halvorsen", "Henriksen", "Lund", "Moen", "Gundersen", "Iversen", "Solberg",
                 "Eide", "Knutsen", "Martinsen", "Lunde", "Bakke", "Berge", "Nygård",
                 "Solheim", "Ahmed", "Ali", "Nguyen", "Nowak", "Hussain", "Mohamed", "Khan")
_SAMI_FAMILY_NAMES = ("Eira", "Hætta", "Somby", "Buljo", "Gaino", "Balto", "Utsi", "Triumf")
_LANGUAGE_BY_COUNTY: dict[str, tuple[tuple[str | None, int], ...]] = {
    "46": (("nn", 35), ("nb", 5), (None, 60)),
    "15": (("nn", 30), ("nb", 5), (None, 65)),
    "55": (("se", 20), ("nb", 10), (None, 70)),
    "56": (("se", 30), ("nb", 10), (None, 60)),
}
_DEFAULT_LANGUAGES: tuple[tuple[str | None, int], ...] = (("nb", 10), ("en", 5), (None, 85))


@dataclass
class PersonRow:
    """A patient to create, with its parental responsibilities."""

    identity_number: str
    given_name: str
    family_name: str
    birth_date: date
    municipality_code: str | None
    address_key: str | None
    confidential_address: str
    preferred_language: str | None
    mobile: str | None
    clinic: str
    guardian_numbers: list[str] = field(default_factory=list)


def _weighted(rng: random.Random, choices: Sequence[tuple[str | None, int]]) -> str | None:
    values = [value for value, _ in choices]
    weights = [weight for _, weight in choices]
    return rng.choices(values, weights)[0]


def _mobile(rng: random.Random) -> str:
    return f"+47{rng.choice('49')}{rng.randrange(10**7):07d}"


def generic_patients(today: date, taken: set[str]) -> list[PersonRow]:
    """~200 invented patients in households over all counties; the same for
    every ``today`` in one calendar year. ``taken`` numbers are not reused
    (and the new ones are added to it)."""
    rng = random.Random(f"tanntid-demo-generic:{today.year}")
    new_year = date(today.year, 1, 1)
    clinics_of: dict[str, list[ClinicSeed]] = defaultdict(list)
    for clinic in CLINICS:
        clinics_of[clinic.county].append(clinic)
    rows: list[PersonRow] = []

    def born(age: int) -> date:
        return date(new_year.year - age - 1, 1, 1) + timedelta(days=rng.randrange(365))

    def number_for(birth: date) -> str:
        number = synthetic_number(birth, rng)
        while number in taken:
            number = synthetic_number(birth, rng)
        taken.add(number)
        return number

    for code, _name in COUNTIES:
        made = 0
        household = 0
        while made < GENERIC_PER_COUNTY[code]:
            household += 1
            clinic = rng.choice(clinics_of[code])
            address = f"demo-{today.year}-{code}-{household:03d}"
            sami = code in ("55", "56") and rng.random() < 0.4
            family = rng.choice(_SAMI_FAMILY_NAMES if sami else _FAMILY_NAMES)
            language = _weighted(rng, _LANGUAGE_BY_COUNTY.get(code, _DEFAULT_LANGUAGES))
            with_children = rng.random() < 0.45
            adults = rng.choice((1, 2, 2)) if with_children else rng.choice((1, 1, 2))
            adult_ages = [rng.randint(27, 52) if with_children else rng.randint(19, 92)
                          for _ in range(adults)]
            guardians: list[str] = []
            for i, age in enumerate(adult_ages):
                birth = born(age)
                female = i == 0 if adults == 2 else rng.random() < 0.5
                given = rng.choice(_GIVEN_ADULT_F if female else _GIVEN_ADULT_M)
                number = number_for(birth)
                guardians.append(number)
                rows.append(PersonRow(
                    number, given, family, birth, clinic.municipality_code, address, "none",
                    language, _mobile(rng) if rng.random() < 0.92 else None, clinic.slug))
            made += adults
            if not with_children:
                continue
            for _ in range(rng.randint(1, 3)):
                age = rng.randint(3, 17)
                birth = born(age)
                given = rng.choice(_GIVEN_CHILD_F if rng.random() < 0.5 else _GIVEN_CHILD_M)
                mobile = _mobile(rng) if age >= 12 and rng.random() < 0.7 else None
                rows.append(PersonRow(
                    number_for(birth), given, family, birth, clinic.municipality_code,
                    address, "none", language, mobile, clinic.slug, list(guardians)))
                made += 1
    return rows

def demo_rows(today: date) -> list[PersonRow]:
    """The named demo persons as patients to create, with their guardians."""
    logins = demo_logins(today)
    number_of = {login.person.key: login.identity_number for login in logins}
    guardians_of: dict[str, list[str]] = defaultdict(list)
    for person in DEMO_PEOPLE:
        for child in person.children:
            guardians_of[child].append(number_of[person.key])
    return [
        PersonRow(
            login.identity_number, login.person.given_name, login.person.family_name,
            login.birth_date, login.person.municipality_code, login.person.address_key(today),
            login.person.confidential_address.value, login.person.preferred_language,
            login.person.mobile, login.person.clinic,
            guardians_of[login.person.key])
        for login in logins
    ]

