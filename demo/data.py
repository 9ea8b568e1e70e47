"""The demo's reference data: all 15 counties, invented clinics in real
municipalities, appointment types, the weekly chair plans, and the demo
appointments to book.

Everything here is invented except the counties' and municipalities' numbers
and names, postal codes and towns."""

from __future__ import annotations

import random
import unicodedata
from datetime import time
from typing import NamedTuple

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

ACCESSIBILITY = (
    "Trinnfri inngang fra gateplan. Heis til klinikken i 2. etasje. Tilrettelagt toalett.",
    "Klinikken ligger på gateplan med automatisk dør. Tilrettelagt toalett og teleslynge "
    "i resepsjonen.",
    "Rampe ved hovedinngangen og heis. Behandlingsrommene har plass til rullestol.",
    "To trinn opp til inngangen; ring på klokken ved døren, så kommer vi ut og hjelper. "
    "Heis innvendig.",
)
PARKING = (
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


CLINIC_BY_SLUG: dict[str, ClinicSeed] = {clinic.slug: clinic for clinic in CLINICS}


# --- Appointments -------------------------------------------------------------

class Plan(NamedTuple):
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


DEMO_APPOINTMENTS: tuple[Plan, ...] = (
    Plan("hygienist-guardian-2", "guardian-2", "hygienist", "self", 3, time(10, 0),
         confirm=True),
    Plan("innkalling-child-13", "child-13", "child-exam", "innkalling", 8, time(13, 0)),
    Plan("innkalling-child-5", "child-5", "child-exam", "innkalling", 8, time(13, 0),
         after="innkalling-child-13"),
    Plan("exam-child-11", "child-11", "child-exam", "guardian:guardian-1", 8, time(13, 0),
         after="innkalling-child-5"),
    Plan("exam-child-16", "child-16", "child-exam", "self", 6, time(14, 0)),
    Plan("exam-guardian-1", "guardian-1", "adult-exam", "self", 9, time(8, 0)),
    Plan("innkalling-child-8", "child-8", "child-exam", "innkalling", 5, time(9, 0)),
    Plan("exam-confidential-adult", "confidential-adult", "adult-exam", "self", 4,
         time(12, 0)),
    Plan("innkalling-adult-elderly", "adult-elderly", "adult-exam", "innkalling", 2,
         time(10, 0)),
    Plan("exam-adult-oslo", "adult-oslo", "adult-exam", "self", 1, time(8, 0)),
    Plan("exam-adult-nynorsk", "adult-nynorsk", "adult-exam", "self", 7, time(9, 0)),
    Plan("innkalling-adult-sami-finnmark", "adult-sami-finnmark", "adult-exam",
         "innkalling", 3, time(11, 0)),
    Plan("hygienist-adult-sami-troms", "adult-sami-troms", "hygienist", "self", 10,
         time(12, 0)),
    Plan("exam-adult-d-number", "adult-d-number", "adult-exam", "self", 5, time(8, 0)),
    Plan("exam-guardian-bergen", "guardian-bergen", "adult-exam", "self", 6, time(12, 0)),
    Plan("innkalling-child-bergen", "child-bergen", "child-exam", "innkalling", 6,
         time(12, 0)),
    Plan("hygienist-confidential-adult-2", "confidential-adult-2", "hygienist", "self", 4,
         time(9, 0)),
    # Today, from 14:00: Astrid can check in ("Jeg er her") and the desk sees it.
    Plan("today-adult-oslo", "adult-oslo", "hygienist", "innkalling", 0, time(14, 0)),
)


class PastPlan(NamedTuple):
    """A past appointment from the record system, completed or not attended."""

    tag: str
    person: str
    type_code: str
    day: int  # days before today
    at: time
    attended: bool


#: Past appointments need past slots; they are made for the home clinic of
#: these persons only.
PAST_APPOINTMENTS: tuple[PastPlan, ...] = (
    PastPlan("past-guardian-1", "guardian-1", "adult-exam", 27, time(9, 0), True),
    PastPlan("past-child-13", "child-13", "child-exam", 26, time(13, 0), True),
    PastPlan("past-adult-oslo", "adult-oslo", "adult-exam", 25, time(10, 0), False),
)
GENERIC_APPOINTMENTS = 40

#: The reception desk's day (``/staff/klinikk/{slug}/dag``): at these clinics
#: (those of the local reception test users) generic patients have
#: clinic-issued appointments at these Oslo times on the day of seeding (on a
#: weekend or holiday, the working day before), so a receptionist can mark
#: arrivals, completions and no-shows.
RECEPTION_DAY_CLINICS: tuple[str, ...] = ("tannklinikken-grunerlokka",)
RECEPTION_DAY_TIMES: tuple[time, ...] = tuple(
    time(hour, minute) for hour, minute in ((8, 0), (8, 0), (8, 30), (9, 0), (9, 30), (10, 0),
                                            (11, 0), (12, 30), (13, 0), (13, 30), (14, 0),
                                            (14, 30), (15, 0)))
