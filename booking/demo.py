"""Demo data: all 15 counties, invented clinics, schedules, slots, synthetic
patients and a few appointments, for the embedded default and for tests.

Everything here is invented except the counties' and municipalities' numbers
and names, postal codes and towns. Identity numbers are synthetic numbers of
the national test register's kind (month + 80), never real ones.

:func:`seed_demo` is idempotent and deterministic. Each row is found again by
a stable natural key before it is created: county code, clinic slug, chair
(clinic, name), appointment type (county, code), patient identity hash,
guardianship (guardian, child), appointment idempotency key / external
reference. Running it twice creates nothing the second time.

The named demo persons (:data:`DEMO_PEOPLE`) have ages relative to the day
of seeding. Their birth dates are anchored on the *calendar month* of
``today``: every birthday lies in an earlier month, so a person listed as 13
is 13 on every day of that month, and their identity numbers stay the same
all month (:func:`demo_logins` gives them to the local login page). In a new
month a re-run adds a fresh set of named persons of the right ages; the old
ones stay. The ~200 generic patients are anchored on the calendar year.
"""

from __future__ import annotations

import random
import unicodedata
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import NamedTuple

import structlog
from sqlalchemy import insert, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from booking import rules, service
from booking.audit import Actor
from booking.models import (
    Appointment,
    AppointmentType,
    Chair,
    Clinic,
    County,
    Guardianship,
    Patient,
    ScheduleTemplate,
    Slot,
    schedule_template_types,
)
from booking.reasons import Reason
from booking.schedule import generate_slots
from booking.statuses import ACTIVE, ConfidentialAddress, SlotStatus
from core.db import Database
from core.identity import IdentityVault, synthetic_number
from core.locale import OSLO

log = structlog.get_logger(__name__)


# --- Counties, clinics, appointment types -------------------------------------

#: The 15 counties (fylkeskommuner) as of 1 January 2024: official number and name.
COUNTIES: tuple[tuple[str, str], ...] = (
    ("03", "Oslo"),
    ("11", "Rogaland"),
    ("15", "Møre og Romsdal"),
    ("18", "Nordland"),
    ("31", "Østfold"),
    ("32", "Akershus"),
    ("33", "Buskerud"),
    ("34", "Innlandet"),
    ("39", "Vestfold"),
    ("40", "Telemark"),
    ("42", "Agder"),
    ("46", "Vestland"),
    ("50", "Trøndelag"),
    ("55", "Troms"),
    ("56", "Finnmark"),
)


class ClinicSeed(NamedTuple):
    """One invented clinic in a real municipality (2024 number and name),
    with a real postal code and town and coordinates inside the municipality.
    Street addresses and phone numbers are invented."""

    county: str
    place: str  # "Tannklinikken <place>"
    municipality_code: str
    municipality_name: str
    street: str
    postal_code: str
    postal_town: str
    latitude: float
    longitude: float
    phone: str
    stop: str  # nearest public-transport stop
    walk_minutes: int

    @property
    def name(self) -> str:
        return f"Tannklinikken {self.place}"

    @property
    def slug(self) -> str:
        return slugify(self.name)


CLINICS: tuple[ClinicSeed, ...] = (
    # Oslo
    ClinicSeed("03", "Grünerløkka", "0301", "Oslo", "Markveien 58", "0554", "Oslo",
               59.9245, 10.7580, "+47 22 35 61 40", "Schous plass", 3),
    ClinicSeed("03", "Majorstuen", "0301", "Oslo", "Bogstadveien 52", "0366", "Oslo",
               59.9290, 10.7150, "+47 22 46 18 20", "Majorstuen", 4),
    ClinicSeed("03", "Stovner", "0301", "Oslo", "Stovnerveien 12", "0985", "Oslo",
               59.9620, 10.9230, "+47 22 10 47 30", "Stovner", 2),
    ClinicSeed("03", "Holmlia", "0301", "Oslo", "Holmlia senter vei 7", "1255", "Oslo",
               59.8350, 10.7960, "+47 22 61 84 50", "Holmlia stasjon", 5),
    # Rogaland
    ClinicSeed("11", "Stavanger sentrum", "1103", "Stavanger", "Klubbgata 5", "4013",
               "Stavanger", 58.9690, 5.7330, "+47 51 84 22 10", "Stavanger byterminal", 4),
    ClinicSeed("11", "Sandnes", "1108", "Sandnes", "Langgata 40", "4306", "Sandnes",
               58.8520, 5.7360, "+47 51 66 31 20", "Ruten", 3),
    ClinicSeed("11", "Haugesund", "1106", "Haugesund", "Haraldsgata 120", "5527",
               "Haugesund", 59.4130, 5.2680, "+47 52 71 40 60", "Smedasundet", 5),
    ClinicSeed("11", "Bryne", "1121", "Time", "Storgata 22", "4340", "Bryne",
               58.7350, 5.6480, "+47 51 48 52 30", "Bryne stasjon", 4),
    # Møre og Romsdal
    ClinicSeed("15", "Ålesund", "1508", "Ålesund", "Kongens gate 20", "6002", "Ålesund",
               62.4722, 6.1549, "+47 70 12 43 50", "Ålesund rutebilstasjon", 6),
    ClinicSeed("15", "Molde", "1506", "Molde", "Storgata 18", "6413", "Molde",
               62.7375, 7.1591, "+47 71 25 36 70", "Molde trafikkterminal", 5),
    ClinicSeed("15", "Kristiansund", "1505", "Kristiansund", "Kaibakken 4", "6509",
               "Kristiansund N", 63.1105, 7.7280, "+47 71 67 28 40", "Kongens plass", 3),
    ClinicSeed("15", "Volda", "1577", "Volda", "Hamnegata 10", "6100", "Volda",
               62.1460, 6.0710, "+47 70 07 51 20", "Volda sentrum", 2),
    # Nordland
    ClinicSeed("18", "Bodø", "1804", "Bodø", "Storgata 30", "8006", "Bodø",
               67.2830, 14.3800, "+47 75 52 34 60", "Sentrumsterminalen", 4),
    ClinicSeed("18", "Mo i Rana", "1833", "Rana", "Ole Tobias Olsens gate 8", "8622",
               "Mo i Rana", 66.3130, 14.1420, "+47 75 13 27 40", "Mo sentrum", 3),
    ClinicSeed("18", "Narvik", "1806", "Narvik", "Kongens gate 45", "8514", "Narvik",
               68.4380, 17.4270, "+47 76 94 18 30", "Narvik bussterminal", 5),
    ClinicSeed("18", "Leknes", "1860", "Vestvågøy", "Storgata 5", "8370", "Leknes",
               68.1470, 13.6110, "+47 76 05 46 20", "Leknes sentrum", 2),
    # Østfold
    ClinicSeed("31", "Fredrikstad", "3107", "Fredrikstad", "Nygaardsgata 15", "1607",
               "Fredrikstad", 59.2180, 10.9340, "+47 69 31 47 20",
               "Fredrikstad bussterminal", 4),
    ClinicSeed("31", "Sarpsborg", "3105", "Sarpsborg", "St. Marie gate 40", "1706",
               "Sarpsborg", 59.2840, 11.1090, "+47 69 15 62 30", "Sarpsborg stasjon", 6),
    ClinicSeed("31", "Halden", "3101", "Halden", "Storgata 8", "1771", "Halden",
               59.1230, 11.3870, "+47 69 17 23 40", "Halden busstasjon", 3),
    ClinicSeed("31", "Moss", "3103", "Moss", "Dronningens gate 12", "1530", "Moss",
               59.4340, 10.6590, "+47 69 25 38 10", "Moss stasjon", 5),
    # Akershus
    ClinicSeed("32", "Sandvika", "3201", "Bærum", "Rådmann Halmrasts vei 9", "1337",
               "Sandvika", 59.8900, 10.5250, "+47 67 54 21 30", "Sandvika bussterminal", 3),
    ClinicSeed("32", "Asker", "3203", "Asker", "Strandveien 10", "1384", "Asker",
               59.8340, 10.4350, "+47 66 78 42 50", "Asker stasjon", 4),
    ClinicSeed("32", "Lillestrøm", "3205", "Lillestrøm", "Storgata 14", "2000",
               "Lillestrøm", 59.9560, 11.0500, "+47 63 81 37 20", "Lillestrøm stasjon", 5),
    ClinicSeed("32", "Ski", "3207", "Nordre Follo", "Idrettsveien 8", "1400", "Ski",
               59.7190, 10.8360, "+47 64 87 52 40", "Ski stasjon", 6),
    ClinicSeed("32", "Jessheim", "3209", "Ullensaker", "Storgata 6", "2050", "Jessheim",
               60.1420, 11.1750, "+47 63 97 18 60", "Jessheim stasjon", 4),
    # Buskerud
    ClinicSeed("33", "Drammen", "3301", "Drammen", "Bragernes torg 4", "3015", "Drammen",
               59.7440, 10.2040, "+47 32 80 46 20", "Bragernes torg", 1),
    ClinicSeed("33", "Kongsberg", "3303", "Kongsberg", "Kirkegata 10", "3611", "Kongsberg",
               59.6680, 9.6500, "+47 32 72 53 40", "Kongsberg skysstasjon", 5),
    ClinicSeed("33", "Hønefoss", "3305", "Ringerike", "Storgata 12", "3510", "Hønefoss",
               60.1680, 10.2570, "+47 32 11 37 60", "Hønefoss bussterminal", 4),
    # Innlandet
    ClinicSeed("34", "Hamar", "3403", "Hamar", "Torggata 45", "2317", "Hamar",
               60.7950, 11.0680, "+47 62 54 36 10", "Hamar skysstasjon", 6),
    ClinicSeed("34", "Lillehammer", "3405", "Lillehammer", "Storgata 60", "2615",
               "Lillehammer", 61.1150, 10.4660, "+47 61 26 48 30",
               "Lillehammer skysstasjon", 7),
    ClinicSeed("34", "Gjøvik", "3407", "Gjøvik", "Storgata 20", "2815", "Gjøvik",
               60.7950, 10.6920, "+47 61 13 25 70", "Gjøvik skysstasjon", 4),
    ClinicSeed("34", "Elverum", "3420", "Elverum", "Storgata 25", "2406", "Elverum",
               60.8810, 11.5630, "+47 62 43 17 20", "Elverum skysstasjon", 5),
    # Vestfold
    ClinicSeed("39", "Tønsberg", "3905", "Tønsberg", "Storgaten 30", "3126", "Tønsberg",
               59.2670, 10.4080, "+47 33 35 42 10", "Tønsberg bussterminal", 4),
    ClinicSeed("39", "Sandefjord", "3907", "Sandefjord", "Jernbanealleen 5", "3210",
               "Sandefjord", 59.1310, 10.2170, "+47 33 48 26 30",
               "Sandefjord bussterminal", 3),
    ClinicSeed("39", "Larvik", "3909", "Larvik", "Prinsegata 8", "3256", "Larvik",
               59.0530, 10.0280, "+47 33 14 57 40", "Larvik stasjon", 6),
    ClinicSeed("39", "Horten", "3901", "Horten", "Storgata 40", "3181", "Horten",
               59.4170, 10.4840, "+47 33 07 31 20", "Horten sentrum", 2),
    # Telemark
    ClinicSeed("40", "Skien", "4003", "Skien", "Kongens gate 12", "3717", "Skien",
               59.2090, 9.6090, "+47 35 58 23 40", "Skien bussterminal", 4),
    ClinicSeed("40", "Porsgrunn", "4001", "Porsgrunn", "Storgata 100", "3915", "Porsgrunn",
               59.1400, 9.6560, "+47 35 54 61 20", "Porsgrunn rutebilstasjon", 3),
    ClinicSeed("40", "Notodden", "4005", "Notodden", "Storgata 45", "3674", "Notodden",
               59.5610, 9.2630, "+47 35 01 47 50", "Notodden skysstasjon", 5),
    # Agder
    ClinicSeed("42", "Kristiansand", "4204", "Kristiansand", "Markens gate 20", "4611",
               "Kristiansand S", 58.1470, 7.9950, "+47 38 07 52 30",
               "Henrik Wergelands gate", 3),
    ClinicSeed("42", "Arendal", "4203", "Arendal", "Langbryggen 8", "4836", "Arendal",
               58.4610, 8.7720, "+47 37 01 34 60", "Arendal bussterminal", 4),
    ClinicSeed("42", "Grimstad", "4202", "Grimstad", "Storgaten 15", "4876", "Grimstad",
               58.3400, 8.5930, "+47 37 25 48 20", "Grimstad bussterminal", 3),
    ClinicSeed("42", "Mandal", "4205", "Lindesnes", "Store Elvegate 30", "4515", "Mandal",
               58.0290, 7.4610, "+47 38 27 16 40", "Mandal rutebilstasjon", 5),
    # Vestland
    ClinicSeed("46", "Bergen sentrum", "4601", "Bergen", "Strandgaten 60", "5013", "Bergen",
               60.3940, 5.3200, "+47 55 56 38 20", "Torget", 4),
    ClinicSeed("46", "Fyllingsdalen", "4601", "Bergen", "Folke Bernadottes vei 40", "5147",
               "Fyllingsdalen", 60.3500, 5.2900, "+47 55 16 42 70", "Oasen", 3),
    ClinicSeed("46", "Voss", "4621", "Voss", "Uttrågata 12", "5700", "Voss",
               60.6280, 6.4180, "+47 56 52 17 30", "Voss stasjon", 6),
    ClinicSeed("46", "Sogndal", "4640", "Sogndal", "Gravensteinsgata 6", "6856", "Sogndal",
               61.2290, 7.1000, "+47 57 62 48 10", "Sogndal skysstasjon", 4),
    ClinicSeed("46", "Florø", "4602", "Kinn", "Strandgata 20", "6900", "Florø",
               61.5990, 5.0320, "+47 57 75 36 40", "Florø sentrum", 3),
    # Trøndelag
    ClinicSeed("50", "Midtbyen", "5001", "Trondheim", "Kongens gate 10", "7011",
               "Trondheim", 63.4300, 10.3950, "+47 73 52 46 10", "Torvet", 2),
    ClinicSeed("50", "Heimdal", "5001", "Trondheim", "Heimdalsveien 8", "7080", "Heimdal",
               63.3500, 10.3580, "+47 72 59 37 20", "Heimdal stasjon", 5),
    ClinicSeed("50", "Steinkjer", "5006", "Steinkjer", "Kongens gate 30", "7713",
               "Steinkjer", 64.0140, 11.4950, "+47 74 16 52 40", "Steinkjer stasjon", 4),
    ClinicSeed("50", "Stjørdal", "5035", "Stjørdal", "Kjøpmannsgata 15", "7500",
               "Stjørdal", 63.4690, 10.9180, "+47 74 82 41 60", "Stjørdal stasjon", 6),
    # Troms
    ClinicSeed("55", "Tromsø sentrum", "5501", "Tromsø", "Storgata 80", "9008", "Tromsø",
               69.6490, 18.9550, "+47 77 62 38 10", "Fredrik Langes gate", 3),
    ClinicSeed("55", "Harstad", "5503", "Harstad", "Storgata 15", "9405", "Harstad",
               68.7990, 16.5410, "+47 77 04 26 30", "Harstad sentrum", 2),
    ClinicSeed("55", "Finnsnes", "5530", "Senja", "Storgata 10", "9300", "Finnsnes",
               69.2290, 17.9810, "+47 77 85 41 20", "Finnsnes sentrum", 3),
    ClinicSeed("55", "Olderdalen", "5540", "Gáivuotna - Kåfjord - Kaivuono",
               "Olderdalsveien 5", "9146", "Olderdalen", 69.6040, 20.5310,
               "+47 77 71 92 40", "Olderdalen kai", 4),
    # Finnmark
    ClinicSeed("56", "Alta", "5601", "Alta", "Markedsgata 10", "9510", "Alta",
               69.9680, 23.2720, "+47 78 45 63 20", "Alta sentrum", 3),
    ClinicSeed("56", "Hammerfest", "5603", "Hammerfest", "Strandgata 20", "9600",
               "Hammerfest", 70.6630, 23.6820, "+47 78 41 27 40", "Hammerfest sentrum", 2),
    ClinicSeed("56", "Kirkenes", "5605", "Sør-Varanger", "Dr. Wessels gate 5", "9900",
               "Kirkenes", 69.7270, 30.0450, "+47 78 97 35 10", "Kirkenes sentrum", 4),
    ClinicSeed("56", "Kárášjohka", "5610", "Kárášjohka - Karasjok", "Ávjovárgeaidnu 30",
               "9730", "Karasjok", 69.4720, 25.5110, "+47 78 46 82 30", "Karasjok sentrum", 3),
    ClinicSeed("56", "Guovdageaidnu", "5612", "Guovdageaidnu - Kautokeino",
               "Bredbuktnesveien 20", "9520", "Kautokeino", 69.0120, 23.0410,
               "+47 78 48 71 60", "Kautokeino sentrum", 5),
)

#: Monday = "0" ... Friday = "4"; closed at weekends.
OPENING_HOURS: dict[str, list[str]] = {str(day): ["08:00", "15:30"] for day in range(5)}

_ACCESSIBILITY = (
    "Trinnfri inngang fra gateplan. Heis til klinikken i 2. etasje. Tilrettelagt toalett.",
    "Klinikken ligger på gateplan med automatisk dør. Tilrettelagt toalett og teleslynge "
    "i resepsjonen.",
    "Rampe ved hovedinngangen og heis. Behandlingsrommene har plass til rullestol.",
    "To trinn opp til inngangen; ring på klokken ved døren, så kommer vi ut og hjelper. "
    "Heis innvendig.",
)
_PARKING = (
    "Gratis parkering for pasienter bak bygget. To plasser for forflytningshemmede ved "
    "inngangen.",
    "Avgiftsbelagt gateparkering i nærheten. HC-parkering ved inngangen.",
    "Parkeringshus i nabobygget (avgift). Sykkelparkering ved inngangen.",
    "Begrenset parkering, vi anbefaler kollektivtransport. HC-plass ved inngangen.",
)


class TypeSeed(NamedTuple):
    code: str
    names: dict[str, str]
    duration_minutes: int
    min_age: int
    max_age: int | None
    self_bookable: bool
    min_notice_hours: int
    late_cancellation_fee: bool


APPOINTMENT_TYPES: tuple[TypeSeed, ...] = (
    TypeSeed("child-exam", {
        "nb": "Undersøkelse for barn og unge",
        "nn": "Undersøking for born og unge",
        "en": "Check-up for children and young people",
        "se": "Mánáid ja nuoraid bátnedárkkisteapmi",
    }, 30, 3, 18, True, 2, False),
    TypeSeed("adult-exam", {
        "nb": "Undersøkelse for voksne",
        "nn": "Undersøking for vaksne",
        "en": "Check-up for adults",
        "se": "Rávesolbmuid bátnedárkkisteapmi",
    }, 45, 19, None, True, 2, True),
    TypeSeed("hygienist", {
        "nb": "Time hos tannpleier",
        "nn": "Time hos tannpleiar",
        "en": "Dental hygienist appointment",
        "se": "Áigi bátnedikšára luhtte",
    }, 45, 12, None, True, 2, True),
    TypeSeed("acute", {
        "nb": "Akutt tannbehandling",
        "nn": "Akutt tannbehandling",
        "en": "Emergency dental treatment",
        "se": "Akuhtta bátnedikšu",
    }, 30, 0, None, False, 0, True),
)
BOOKING_HORIZON_DAYS = 90
CHANGE_CUTOFF_HOURS = 24
MAX_SELF_RESCHEDULES = 2


class TemplateSeed(NamedTuple):
    starts_at: time
    ends_at: time
    slot_minutes: int
    types: tuple[str, ...]


#: Chair 1 of every clinic sees children: 30-minute slots.
CHILD_CHAIR_DAY = (
    TemplateSeed(time(8, 0), time(11, 30), 30, ("child-exam", "acute")),
    TemplateSeed(time(12, 0), time(15, 0), 30, ("child-exam", "acute")),
)
#: The other chairs see adults and youths: 45-minute slots.
ADULT_CHAIR_DAY = (
    TemplateSeed(time(8, 0), time(11, 45), 45, ("adult-exam", "hygienist")),
    TemplateSeed(time(12, 15), time(15, 15), 45, ("adult-exam", "hygienist")),
)
#: Wednesday afternoon of a clinic's last chair is kept for staff (acute):
#: not released for self-booking.
UNRELEASED_WEEKDAY = 2
UNRELEASED_TYPES = ("acute",)


def slugify(text: str) -> str:
    """URL-safe ASCII: æ→ae, ø→o, å→a, other accents dropped."""
    text = text.lower().replace("æ", "ae").replace("ø", "o").replace("å", "a")
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "-".join("".join(c if c.isalnum() else " " for c in text).split())


def chair_count(slug: str) -> int:
    """2–4 chairs, the same for a clinic on every run."""
    return random.Random(f"tanntid-demo-chairs:{slug}").randint(2, 4)


def chair_name(index: int) -> str:
    return f"Behandlingsrom {index + 1}"


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
CLINIC_BY_SLUG: dict[str, ClinicSeed] = {clinic.slug: clinic for clinic in CLINICS}


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
    :func:`seed_demo` creates them for ``today`` (the same all month)."""
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
class _PersonRow:
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


def generic_patients(today: date, taken: set[str]) -> list[_PersonRow]:
    """~200 invented patients in households over all counties; the same for
    every ``today`` in one calendar year. ``taken`` numbers are not reused
    (and the new ones are added to it)."""
    rng = random.Random(f"tanntid-demo-generic:{today.year}")
    new_year = date(today.year, 1, 1)
    clinics_of: dict[str, list[ClinicSeed]] = defaultdict(list)
    for clinic in CLINICS:
        clinics_of[clinic.county].append(clinic)
    rows: list[_PersonRow] = []

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
                rows.append(_PersonRow(
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
                rows.append(_PersonRow(
                    number_for(birth), given, family, birth, clinic.municipality_code,
                    address, "none", language, mobile, clinic.slug, list(guardians)))
                made += 1
    return rows


def _demo_rows(today: date) -> list[_PersonRow]:
    logins = demo_logins(today)
    number_of = {login.person.key: login.identity_number for login in logins}
    guardians_of: dict[str, list[str]] = defaultdict(list)
    for person in DEMO_PEOPLE:
        for child in person.children:
            guardians_of[child].append(number_of[person.key])
    return [
        _PersonRow(
            login.identity_number, login.person.given_name, login.person.family_name,
            login.birth_date, login.person.municipality_code, login.person.address_key(today),
            login.person.confidential_address.value, login.person.preferred_language,
            login.person.mobile, login.person.clinic,
            guardians_of[login.person.key])
        for login in logins
    ]


# --- The seed -----------------------------------------------------------------

@dataclass
class SeedReport:
    """What one run of :func:`seed_demo` created (zero everywhere on a re-run)."""

    counties_created: int = 0
    clinics_created: int = 0
    chairs_created: int = 0
    appointment_types_created: int = 0
    templates_created: int = 0
    patients_created: int = 0
    guardianships_created: int = 0
    slots_created: int = 0
    appointments_created: int = 0

    @property
    def total_created(self) -> int:
        return sum(asdict(self).values())

    def __str__(self) -> str:
        return (f"created {self.counties_created} counties, {self.clinics_created} clinics, "
                f"{self.chairs_created} chairs, {self.appointment_types_created} appointment "
                f"types, {self.templates_created} schedule templates, "
                f"{self.patients_created} patients, {self.guardianships_created} "
                f"guardianships, {self.slots_created} slots, "
                f"{self.appointments_created} appointments")


async def seed_demo(db: Database, vault: IdentityVault, *, today: date,
                    weeks: int = 12) -> SeedReport:
    """Load the demo data for ``today`` and make slots for ``weeks`` weeks from
    it. Idempotent and deterministic; see the module's docstring."""
    if weeks <= 0:
        raise ValueError("weeks must be positive")
    report = SeedReport()
    now = datetime.combine(today, time(6, 0), tzinfo=UTC)
    demo = _demo_rows(today)
    generic = generic_patients(today, {row.identity_number for row in demo})
    async with db.write() as session:
        await _seed_reference_data(session, report, today)
    async with db.write() as session:
        await _seed_patients(session, vault, report, today, demo + generic)
    report.slots_created += await generate_slots(db, start=today, weeks=weeks, now=now)
    bookings = _Bookings(db, vault, report, today, now, weeks, generic)
    await bookings.load()
    await bookings.past_appointments()
    await bookings.demo_appointments()
    await bookings.generic_appointments()
    log.info("demo_seeded", **asdict(report))
    return report


async def _seed_reference_data(session: AsyncSession, report: SeedReport, today: date) -> None:
    counties = {row.code: row for row in (await session.execute(select(County))).scalars()}
    for code, name in COUNTIES:
        if code not in counties:
            counties[code] = County(code=code, name=name)
            session.add(counties[code])
            report.counties_created += 1
    await session.flush()

    types = {(row.county_id, row.code): row
             for row in (await session.execute(select(AppointmentType))).scalars()}
    for county in counties.values():
        if county.code not in dict(COUNTIES):
            continue
        for type_seed in APPOINTMENT_TYPES:
            if (county.id, type_seed.code) in types:
                continue
            row = AppointmentType(
                county_id=county.id, code=type_seed.code, names=dict(type_seed.names),
                duration_minutes=type_seed.duration_minutes, min_age=type_seed.min_age,
                max_age=type_seed.max_age, self_bookable=type_seed.self_bookable,
                booking_horizon_days=BOOKING_HORIZON_DAYS,
                min_notice_hours=type_seed.min_notice_hours,
                change_cutoff_hours=CHANGE_CUTOFF_HOURS,
                late_cancellation_fee=type_seed.late_cancellation_fee,
                max_self_reschedules=MAX_SELF_RESCHEDULES,
            )
            types[(county.id, type_seed.code)] = row
            session.add(row)
            report.appointment_types_created += 1

    clinics = {row.slug: row for row in (await session.execute(select(Clinic))).scalars()}
    for seed in CLINICS:
        if seed.slug in clinics:
            continue
        pick = random.Random(f"tanntid-demo-notes:{seed.slug}")
        clinics[seed.slug] = Clinic(
            county_id=counties[seed.county].id, slug=seed.slug, name=seed.name,
            street_address=seed.street, postal_code=seed.postal_code,
            postal_town=seed.postal_town, municipality_code=seed.municipality_code,
            municipality_name=seed.municipality_name, latitude=seed.latitude,
            longitude=seed.longitude, phone=seed.phone,
            opening_hours={day: list(hours) for day, hours in OPENING_HOURS.items()},
            accessibility=pick.choice(_ACCESSIBILITY), parking=pick.choice(_PARKING),
            public_transport=(f"Nærmeste holdeplass er {seed.stop}, "
                              f"ca. {seed.walk_minutes} minutters gange."),
        )
        session.add(clinics[seed.slug])
        report.clinics_created += 1
    await session.flush()

    chairs = {(row.clinic_id, row.name): row
              for row in (await session.execute(select(Chair))).scalars()}
    with_templates = set((await session.execute(
        select(ScheduleTemplate.chair_id).distinct())).scalars())
    for seed in CLINICS:
        clinic = clinics[seed.slug]
        for index in range(chair_count(seed.slug)):
            key = (clinic.id, chair_name(index))
            if key not in chairs:
                chairs[key] = Chair(clinic_id=clinic.id, name=chair_name(index))
                session.add(chairs[key])
                report.chairs_created += 1
    await session.flush()

    # Weekly templates for chairs that have none yet (a clinic admin's own
    # changes to an existing schedule are left alone).
    valid_from = date(today.year - 1, 1, 1)
    for seed in CLINICS:
        clinic = clinics[seed.slug]
        county_id = counties[seed.county].id
        count = chair_count(seed.slug)
        for index in range(count):
            chair = chairs[(clinic.id, chair_name(index))]
            if chair.id in with_templates:
                continue
            day_plan = CHILD_CHAIR_DAY if index == 0 else ADULT_CHAIR_DAY
            for weekday in range(5):
                for part, tpl in enumerate(day_plan):
                    unreleased = (index == count - 1 and weekday == UNRELEASED_WEEKDAY
                                  and part == len(day_plan) - 1)
                    type_codes = UNRELEASED_TYPES if unreleased else tpl.types
                    session.add(ScheduleTemplate(
                        chair_id=chair.id, weekday=weekday, starts_at=tpl.starts_at,
                        ends_at=tpl.ends_at, slot_minutes=tpl.slot_minutes,
                        valid_from=valid_from, released=not unreleased,
                        appointment_types=[types[(county_id, code)] for code in type_codes],
                    ))
                    report.templates_created += 1
    await session.flush()


async def _seed_patients(session: AsyncSession, vault: IdentityVault, report: SeedReport,
                         today: date, rows: list[_PersonRow]) -> None:
    hash_of = {row.identity_number: vault.lookup_hash(row.identity_number) for row in rows}
    existing: dict[bytes, int] = {}
    hashes = list(hash_of.values())
    for offset in range(0, len(hashes), 500):
        result = await session.execute(
            select(Patient.identity_hash, Patient.id)
            .where(Patient.identity_hash.in_(hashes[offset:offset + 500])))
        existing.update((bytes(h), patient_id) for h, patient_id in result)

    missing = [row for row in rows if hash_of[row.identity_number] not in existing]
    if missing:
        created_at = datetime.combine(today, time(5, 0), tzinfo=UTC)
        result = await session.execute(
            insert(Patient).returning(Patient.identity_hash, Patient.id),
            [dict(identity_hash=hash_of[row.identity_number],
                  identity_encrypted=vault.encrypt(row.identity_number),
                  given_name=row.given_name, family_name=row.family_name,
                  birth_date=row.birth_date, municipality_code=row.municipality_code,
                  address_key=row.address_key, confidential_address=row.confidential_address,
                  preferred_language=row.preferred_language, mobile=row.mobile,
                  created_at=created_at)
             for row in missing],
        )
        existing.update((bytes(h), patient_id) for h, patient_id in result)
        report.patients_created += len(missing)

    pairs = {(existing[hash_of[guardian]], existing[hash_of[row.identity_number]])
             for row in rows for guardian in row.guardian_numbers}
    child_ids = list({child for _, child in pairs})
    known: set[tuple[int, int]] = set()
    for offset in range(0, len(child_ids), 500):
        found = await session.execute(
            select(Guardianship.guardian_id, Guardianship.child_id)
            .where(Guardianship.child_id.in_(child_ids[offset:offset + 500])))
        known.update((guardian, child) for guardian, child in found)
    new_pairs = sorted(pairs - known)
    if new_pairs:
        await session.execute(insert(Guardianship), [
            dict(guardian_id=guardian, child_id=child) for guardian, child in new_pairs])
        report.guardianships_created += len(new_pairs)


# --- Appointments -------------------------------------------------------------

class _Plan(NamedTuple):
    """One demo appointment: booked by the person (``self``), by a guardian
    (``guardian:<key>``) or issued by the clinic (``innkalling``), at the
    first fitting slot from ``day`` days after today at ``at`` (Oslo time),
    or right after the appointment ``after`` (a tag) if given."""

    tag: str
    person: str
    type_code: str
    by: str
    day: int
    at: time
    after: str | None = None
    confirm: bool = False


DEMO_APPOINTMENTS: tuple[_Plan, ...] = (
    _Plan("hygienist-guardian-2", "guardian-2", "hygienist", "self", 3, time(10, 0),
          confirm=True),
    _Plan("innkalling-child-13", "child-13", "child-exam", "innkalling", 8, time(13, 0)),
    _Plan("innkalling-child-5", "child-5", "child-exam", "innkalling", 8, time(13, 0),
          after="innkalling-child-13"),
    _Plan("exam-child-11", "child-11", "child-exam", "guardian:guardian-1", 8, time(13, 0),
          after="innkalling-child-5"),
    _Plan("exam-child-16", "child-16", "child-exam", "self", 6, time(14, 0)),
    _Plan("exam-guardian-1", "guardian-1", "adult-exam", "self", 9, time(8, 0)),
    _Plan("innkalling-child-8", "child-8", "child-exam", "innkalling", 5, time(9, 0)),
    _Plan("exam-confidential-adult", "confidential-adult", "adult-exam", "self", 4,
          time(12, 0)),
    _Plan("innkalling-adult-elderly", "adult-elderly", "adult-exam", "innkalling", 2,
          time(10, 0)),
    _Plan("exam-adult-oslo", "adult-oslo", "adult-exam", "self", 1, time(8, 0)),
    _Plan("exam-adult-nynorsk", "adult-nynorsk", "adult-exam", "self", 7, time(9, 0)),
    _Plan("innkalling-adult-sami-finnmark", "adult-sami-finnmark", "adult-exam",
          "innkalling", 3, time(11, 0)),
    _Plan("hygienist-adult-sami-troms", "adult-sami-troms", "hygienist", "self", 10,
          time(12, 0)),
    _Plan("exam-adult-d-number", "adult-d-number", "adult-exam", "self", 5, time(8, 0)),
    _Plan("exam-guardian-bergen", "guardian-bergen", "adult-exam", "self", 6, time(12, 0)),
    _Plan("innkalling-child-bergen", "child-bergen", "child-exam", "innkalling", 6,
          time(12, 0)),
    _Plan("hygienist-confidential-adult-2", "confidential-adult-2", "hygienist", "self", 4,
          time(9, 0)),
)


class _PastPlan(NamedTuple):
    """A past appointment from the record system, completed or not attended."""

    tag: str
    person: str
    type_code: str
    day: int  # days before today
    at: time
    attended: bool


#: Past appointments need past slots; they are made for the home clinic of
#: these persons only.
PAST_APPOINTMENTS: tuple[_PastPlan, ...] = (
    _PastPlan("past-guardian-1", "guardian-1", "adult-exam", 27, time(9, 0), True),
    _PastPlan("past-child-13", "child-13", "child-exam", 26, time(13, 0), True),
    _PastPlan("past-adult-oslo", "adult-oslo", "adult-exam", 25, time(10, 0), False),
)
GENERIC_APPOINTMENTS = 40


def _local(day: date, at: time) -> datetime:
    return datetime.combine(day, at, tzinfo=OSLO).astimezone(UTC)


class _Bookings:
    """Books the demo appointments through :mod:`booking.service`, so they
    obey every booking rule and are audited like any other."""

    def __init__(self, db: Database, vault: IdentityVault, report: SeedReport, today: date,
                 now: datetime, weeks: int, generic: list[_PersonRow]) -> None:
        self.generic = generic
        self.db = db
        self.vault = vault
        self.report = report
        self.today = today
        self.now = now
        self.weeks = weeks
        self.period = period(today)
        self.people: dict[str, int] = {}
        self.clinics: dict[str, Clinic] = {}
        self.types: dict[tuple[int, str], AppointmentType] = {}
        self.done: dict[str, Appointment] = {}
        self.existing: dict[str, Appointment] = {}

    async def load(self) -> None:
        self.people = await demo_patient_ids(self.db, self.vault, today=self.today)
        async with self.db.read() as session:
            self.clinics = {row.slug: row
                            for row in (await session.execute(select(Clinic))).scalars()}
            self.types = {(row.county_id, row.code): row
                          for row in (await session.execute(select(AppointmentType))).scalars()}
            # Appointments an earlier run made, by their idempotency key or
            # external reference (both start with "demo-").
            rows = (await session.execute(
                select(Appointment).where(or_(Appointment.idempotency_key.like("demo-%"),
                                              Appointment.external_ref.like("demo-%")))
            )).scalars()
            for row in rows:
                for key in (row.idempotency_key, row.external_ref):
                    if key is not None:
                        self.existing[key] = row

    def _type(self, clinic: Clinic, code: str) -> AppointmentType:
        return self.types[(clinic.county_id, code)]

    def _existing(self, key: str) -> Appointment | None:
        return self.existing.get(key)

    async def _candidates(self, clinic_id: int, type_id: int, start: datetime, end: datetime,
                          released_only: bool) -> list[int]:
        query = (
            select(Slot.id)
            .join(schedule_template_types,
                  schedule_template_types.c.template_id == Slot.template_id)
            .where(Slot.clinic_id == clinic_id, Slot.status == SlotStatus.FREE,
                   schedule_template_types.c.appointment_type_id == type_id,
                   Slot.starts_at >= start, Slot.starts_at < end)
            .order_by(Slot.starts_at, Slot.chair_id)
            .limit(25)
        )
        if released_only:
            query = query.where(Slot.released.is_(True))
        async with self.db.read() as session:
            return list((await session.execute(query)).scalars())

    async def _book(self, *, key: str, patient_id: int, clinic: Clinic, type_code: str,
                    actor: Actor, innkalling: bool, start: datetime, now: datetime,
                    fallback_start: datetime | None = None, end: datetime | None = None
                    ) -> Appointment | None:
        """Book the first slot from ``start`` (or, if none, from
        ``fallback_start``) to ``end`` that the rules allow; None if there is none."""
        kind = self._type(clinic, type_code)
        end = end or now + timedelta(days=kind.booking_horizon_days)
        self_service = rules.is_self_service(actor)
        for lower in (start, fallback_start):
            if lower is None:
                continue
            for slot_id in await self._candidates(clinic.id, kind.id, lower, end,
                                                  self_service):
                try:
                    outcome = await service.book(
                        self.db, actor, patient_id=patient_id, slot_id=slot_id,
                        appointment_type_id=kind.id, idempotency_key=key,
                        clinic_issued=innkalling, external_ref=key if innkalling else None,
                        now=now)
                except service.BookingRefused as refused:
                    if refused.reason in (Reason.SLOT_TAKEN, Reason.OVERLAPS_OTHER):
                        continue
                    log.info("demo_booking_skipped", reason=refused.reason.value)
                    return None
                if not outcome.replayed:
                    self.report.appointments_created += 1
                return outcome.appointment
        log.info("demo_booking_skipped", reason="no_free_slot")
        return None

    def _key(self, plan_by: str, tag: str) -> str:
        if plan_by == "innkalling":
            return f"demo-innkalling-{self.period}-{tag}"
        return f"demo-{self.period}-{tag}"

    def _actor(self, by: str, patient_id: int) -> Actor:
        if by == "self":
            return Actor.patient(patient_id)
        if by.startswith("guardian:"):
            return Actor.guardian(self.people[by.split(":", 1)[1]], {patient_id})
        return Actor.record_system("demo-journal")

    async def demo_appointments(self) -> None:
        for plan in DEMO_APPOINTMENTS:
            key = self._key(plan.by, plan.tag)
            existing = self._existing(key)
            if existing is None:
                patient_id = self.people[plan.person]
                clinic = self.clinics[DEMO_PEOPLE_BY_KEY[plan.person].clinic]
                previous = self.done.get(plan.after) if plan.after else None
                start = (previous.ends_at if previous is not None
                         else _local(self.today + timedelta(days=plan.day), plan.at))
                existing = await self._book(
                    key=key, patient_id=patient_id, clinic=clinic, type_code=plan.type_code,
                    actor=self._actor(plan.by, patient_id), innkalling=plan.by == "innkalling",
                    start=start, now=self.now, fallback_start=self.now + timedelta(hours=3))
            if existing is None:
                continue
            self.done[plan.tag] = existing
            if plan.confirm and existing.status == "booked" and existing.starts_at > self.now:
                await service.confirm(self.db, Actor.patient(existing.patient_id),
                                      appointment_id=existing.id, now=self.now)

    async def past_appointments(self) -> None:
        """A few past appointments at the Oslo family's clinic: slots are made
        for the week they fall in, booked as the record system did then, and
        marked completed or not attended."""
        slugs = {DEMO_PEOPLE_BY_KEY[plan.person].clinic for plan in PAST_APPOINTMENTS}
        first = self.today - timedelta(days=max(plan.day for plan in PAST_APPOINTMENTS))
        self.report.slots_created += await generate_slots(
            self.db, start=first, weeks=1, clinic_ids=[self.clinics[s].id for s in slugs],
            now=self.now)
        recorder = Actor.record_system("demo-journal")
        for plan in PAST_APPOINTMENTS:
            key = self._key("innkalling", plan.tag)
            appointment = self._existing(key)
            if appointment is None:
                clinic = self.clinics[DEMO_PEOPLE_BY_KEY[plan.person].clinic]
                start = _local(self.today - timedelta(days=plan.day), plan.at)
                appointment = await self._book(
                    key=key, patient_id=self.people[plan.person], clinic=clinic,
                    type_code=plan.type_code, actor=recorder, innkalling=True, start=start,
                    now=start - timedelta(days=14), end=_local(first + timedelta(days=7),
                                                               time(0, 0)))
            if appointment is None or appointment.status not in ACTIVE:
                continue
            if appointment.starts_at < self.now:
                await service.record_attendance(
                    self.db, recorder, appointment_id=appointment.id, attended=plan.attended,
                    now=appointment.ends_at + timedelta(minutes=30))

    async def generic_appointments(self) -> None:
        """Appointments for some generic patients, so day lists look lived-in."""
        rng = random.Random(f"tanntid-demo-generic-appointments:{self.today.year}")
        hashes = [self.vault.lookup_hash(row.identity_number) for row in self.generic]
        async with self.db.read() as session:
            result = await session.execute(
                select(Patient.identity_hash, Patient.id)
                .where(Patient.identity_hash.in_(hashes)))
            ids = {bytes(h): patient_id for h, patient_id in result}
        present = [i for i, identity_hash in enumerate(hashes) if identity_hash in ids]
        chosen = sorted(rng.sample(present, min(GENERIC_APPOINTMENTS, len(present))))
        last_day = max(1, 7 * self.weeks - 2)
        for index in chosen:
            row = self.generic[index]
            age = rules.age_on(row.birth_date, self.today)
            type_code = ("child-exam" if age <= 18
                         else rng.choice(("adult-exam", "adult-exam", "hygienist")))
            innkalling = age <= 18 or rng.random() < 0.4
            day = rng.randint(1, last_day)
            at = time(rng.choice((8, 9, 10, 12, 13, 14)), 0)
            key = f"demo-{self.today.year}-generic-{index}"
            if innkalling:
                key = f"demo-innkalling-{self.today.year}-generic-{index}"
            if self._existing(key) is not None:
                continue
            patient_id = ids[hashes[index]]
            await self._book(
                key=key, patient_id=patient_id, clinic=self.clinics[row.clinic],
                type_code=type_code,
                actor=self._actor("innkalling" if innkalling else "self", patient_id),
                innkalling=innkalling, start=_local(self.today + timedelta(days=day), at),
                now=self.now, fallback_start=self.now + timedelta(hours=3))

