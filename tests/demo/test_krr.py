"""The fake contact register that ``make run`` starts knows the demo's people:
their numbers and languages, and one person for each case a developer should
be able to see (reserved, stale, no mobile number), asked over HTTP through
the real KRR client."""

from __future__ import annotations

from datetime import date

from demo.krr import CASES, RESERVED, STALE, WITHOUT_MOBILE, seed_demo_register
from demo.people import demo_logins
from notifications.channels.krr import KrrClient
from notifications.contacts import choose_contact
from notifications.fakes.server import start_dev_fakes
from notifications.recipients import check_contact
from notifications.statuses import Reason
from web.views.profile import register_problem


async def test_the_fake_register_knows_every_demo_person_with_one_of_each_case() -> None:
    today = date.today()
    logins = {login.person.key: login for login in demo_logins(today)}
    with start_dev_fakes(krr_people=lambda krr: seed_demo_register(krr, today)) as fakes:
        krr = KrrClient.from_settings(fakes.settings)
        try:
            found = await krr.lookup([login.identity_number for login in logins.values()])
        finally:
            await krr.aclose()
    contacts = {key: found[login.identity_number] for key, login in logins.items()}
    assert set(contacts) == set(logins)

    # What the outbox does with each (the person has not given a number of their own).
    def outbox(key: str) -> tuple[str | None, Reason | None]:
        return check_contact(choose_contact(None, None, contacts[key]), today)

    assert outbox(RESERVED) == (None, Reason.RESERVED)
    assert outbox(STALE) == (None, Reason.STALE_NUMBER)
    assert outbox(WITHOUT_MOBILE) == (None, Reason.NO_MOBILE)
    # ... and what the profile page says.
    assert {key: register_problem(contacts[key], today)
            for key in (RESERVED, STALE, WITHOUT_MOBILE)} == {
        RESERVED: "reserved", STALE: "stale", WITHOUT_MOBILE: "no-mobile"}
    assert [case.key for case in CASES] == [RESERVED, STALE, WITHOUT_MOBILE]

    for key, login in logins.items():
        person, contact = login.person, contacts[key]
        assert contact.language == (person.preferred_language or "nb"), key
        if key in (RESERVED, STALE, WITHOUT_MOBILE):
            continue
        # Everyone else: the demo seed's number, usable today; or none at all.
        assert outbox(key) == ((person.mobile, None) if person.mobile
                               else (None, Reason.NO_MOBILE)), key
    assert contacts[RESERVED].mobile == logins[RESERVED].person.mobile
    assert contacts[STALE].mobile == logins[STALE].person.mobile
