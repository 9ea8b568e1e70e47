"""The demo's people in the fake contact register (KRR), for ``tanntid serve
--fakes`` (``make run``). Never for production.

Each named demo person (:data:`demo.people.DEMO_PEOPLE`, with the identity
numbers :func:`demo.people.demo_logins` gives for this month) is in the
register with the mobile number the demo seed gives them, if any, confirmed
recently, and their preferred language (else Bokmål). Three of them show the
cases the register can put a developer in, on the profile page (``/profil``)
and in the outbox:

* :data:`RESERVED`: reserved against digital contact (no SMS from KRR's number);
* :data:`STALE`: the number was last confirmed more than 18 months ago;
* :data:`WITHOUT_MOBILE`: in the register without a mobile number.

The number a patient gave on their profile wins over the register's (one rule,
``notifications.contacts``), and the demo seed gives most demo persons one: to
see the reserved or stale case reach an SMS, remove the person's own number
on ``/profil`` first. Every other number asked about (the generic demo
patients) is an active person with a made-up number
(:func:`notifications.fakes.krr.made_up_person`), if the fake answers unknown
numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Final

from demo.people import DEMO_PEOPLE_BY_KEY, demo_logins
from notifications.fakes.krr import FakeKrr, FakeKrrPerson

#: Demo person keys (``DemoPerson.key``) with one register case each.
RESERVED: Final = "confidential-adult-2"
STALE: Final = "adult-d-number"
WITHOUT_MOBILE: Final = "adult-elderly"
#: When the register last saw the active numbers confirmed, and the stale one.
CONFIRMED_DAYS_AGO: Final = 90
STALE_DAYS_AGO: Final = 2 * 365


@dataclass(frozen=True)
class RegisterCase:
    """Which demo person shows which case (names only: never a number)."""

    case: str
    key: str

    @property
    def label(self) -> str:
        return DEMO_PEOPLE_BY_KEY[self.key].label


CASES: Final = (RegisterCase("reserved", RESERVED), RegisterCase("stale", STALE),
                RegisterCase("no mobile number", WITHOUT_MOBILE))


def seed_demo_register(krr: FakeKrr, today: date) -> int:
    """Put this month's named demo persons into ``krr``; returns how many."""
    confirmed = today - timedelta(days=CONFIRMED_DAYS_AGO)
    long_ago = today - timedelta(days=STALE_DAYS_AGO)
    logins = demo_logins(today)
    for login in logins:
        person = login.person
        language = person.preferred_language or "nb"
        mobile = person.mobile
        if person.key == WITHOUT_MOBILE or not mobile:
            # KAN_VARSLES: reachable in other ways (e-mail), just not by SMS.
            entry = FakeKrrPerson(language=language)
        elif person.key == RESERVED:
            entry = FakeKrrPerson(reservation="JA", mobile=mobile, mobile_updated=confirmed,
                                  mobile_verified=confirmed, language=language)
        elif person.key == STALE:
            entry = FakeKrrPerson(notification_status="KAN_IKKE_VARSLES", mobile=mobile,
                                  mobile_updated=long_ago, mobile_verified=long_ago,
                                  language=language)
        else:
            entry = FakeKrrPerson(mobile=mobile, mobile_updated=confirmed,
                                  mobile_verified=confirmed, language=language)
        krr.add(login.identity_number, entry)
    return len(logins)
