"""Who gets the messages, and which numbers are never used."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from booking.statuses import ConfidentialAddress
from notifications.channels.krr import KrrContact, KrrStatus
from notifications.contacts import choose_contact
from notifications.models import SmsNumberBlock
from notifications.recipients import (
    WAIT_FOR,
    Contact,
    Recipient,
    Role,
    block_for,
    block_number,
    check_contact,
    normalise_mobile,
    recipients_for,
    unblock_number,
)
from notifications.statuses import BlockReason, Reason
from tests import factories as f

TODAY = date(2030, 3, 1)


async def family(db, child_birth: date, *, other_address: bool = False,
                 child_confidential: bool = False):
    async with db.write() as s:
        child = await f.patient(
            s, birth_date=child_birth, address_key="home",
            confidential_address=(ConfidentialAddress.CONFIDENTIAL if child_confidential
                                  else ConfidentialAddress.NONE))
        mother = await f.patient(s, birth_date=date(1985, 1, 1),
                                 address_key="elsewhere" if other_address else "home")
        father = await f.patient(s, birth_date=date(1984, 1, 1), address_key="elsewhere")
        await f.guardianship(s, mother, child)
        await f.guardianship(s, father, child)
    return child, mother, father


async def who(db, patient):
    async with db.read() as session:
        return await recipients_for(session, patient, TODAY)


async def test_an_adult_gets_their_own(db):
    async with db.write() as s:
        adult = await f.patient(s, birth_date=date(1980, 1, 1))
    assert await who(db, adult) == [Recipient(adult.id, Role.SELF)]


async def test_each_guardian_of_a_young_child_gets_one(db):
    # One guardian lives with the child: both may represent it (Helsenorge's rule).
    child, mother, father = await family(db, date(2021, 5, 1))
    assert await who(db, child) == [Recipient(mother.id, Role.GUARDIAN),
                                    Recipient(father.id, Role.GUARDIAN)]


async def test_a_child_nobody_may_represent_is_told_at_their_own_number(db):
    child, _, _ = await family(db, date(2021, 5, 1), other_address=True)
    assert await who(db, child) == [Recipient(child.id, Role.SELF)]
    confidential, _, _ = await family(db, date(2021, 5, 1), child_confidential=True)
    assert await who(db, confidential) == [Recipient(confidential.id, Role.SELF)]


async def test_from_twelve_the_young_person_too(db):
    child, mother, father = await family(db, date(2017, 2, 28))  # 13
    assert await who(db, child) == [Recipient(child.id, Role.SELF),
                                    Recipient(mother.id, Role.GUARDIAN),
                                    Recipient(father.id, Role.GUARDIAN)]


async def test_from_sixteen_only_the_young_person(db):
    child, _, _ = await family(db, date(2014, 3, 1))  # 16 today
    assert await who(db, child) == [Recipient(child.id, Role.SELF)]


@pytest.mark.parametrize(("contact", "expected"), [
    (None, (None, Reason.NO_MOBILE)),
    (Contact(None), (None, Reason.NO_MOBILE)),
    (Contact("+4791234567", reserved=True), (None, Reason.RESERVED)),
    (Contact(None, reserved=True), (None, Reason.RESERVED)),
    # 18 months back from 1 March 2030 is 1 September 2028 (KrrContact's own count)
    (Contact("+4791234567", verified_on=date(2028, 8, 31)), (None, Reason.STALE_NUMBER)),
    (Contact("+4791234567", verified_on=date(2028, 9, 1)), ("+4791234567", None)),
    (Contact("+4791234567", from_register=True), (None, Reason.STALE_NUMBER)),  # no date
    (Contact("+4791234567", verified_on=date(2029, 9, 1), from_register=True,
             notifiable=False), (None, Reason.NOT_NOTIFIABLE)),
    (Contact("+4791234567", verified_on=date(2027, 1, 1), from_register=True,
             notifiable=False), (None, Reason.STALE_NUMBER)),  # told as what it is
    (Contact(None, unavailable=True), (None, Reason.REGISTER_UNAVAILABLE)),
    (Contact("22 00 00 00"), (None, Reason.NOT_MOBILE)),  # a landline
    (Contact("not a number"), (None, Reason.NOT_MOBILE)),
    (Contact("912 34 567"), ("+4791234567", None)),
    (Contact("+46 70 123 45 67"), ("+46701234567", None)),  # a Swedish mobile
])
def test_which_numbers_may_be_used(contact, expected):
    assert check_contact(contact, TODAY) == expected


def test_normalise_mobile():
    assert normalise_mobile("+47 412 34 567") == "+4741234567"
    assert normalise_mobile("0047 91234567") == "+4791234567"
    assert normalise_mobile("+4722000000") is None


async def test_blocks(db):
    now = f.at(2030, 3, 1)
    async with db.write() as session:
        await block_number(session, "+4791234567", BlockReason.PERMANENT_FAILURE, now, 5)
        await block_number(session, "+4791234567", BlockReason.PERMANENT_FAILURE, now, 6)
        assert await block_for(session, "+4791234567") == Reason.NUMBER_FAILED
        await block_number(session, "+4791234567", BlockReason.OPTED_OUT, now)
        assert await block_for(session, "+4791234567") == Reason.OPTED_OUT
        row = await session.get(SmsNumberBlock, "+4791234567")
        assert (row.reason, row.notification_id) == ("opted_out", 5)
        # START lifts an opt-out only
        assert await unblock_number(session, "+4791234567", BlockReason.PERMANENT_FAILURE) \
            is False
        assert await unblock_number(session, "+4791234567", BlockReason.OPTED_OUT) is True
        assert await block_for(session, "+4791234567") is None
        assert await block_for(session, "+4741234567") is None


# --- the one rule for which number (notifications.contacts) ------------------

def _krr(**kw) -> KrrContact:
    values = dict(status=KrrStatus.ACTIVE, can_be_notified=True, mobile="+4798765432",
                  mobile_verified=datetime(2029, 12, 1, 12, tzinfo=UTC), language="nn")
    values.update(kw)
    return KrrContact(**values)


@pytest.mark.parametrize(("own", "profile", "register", "number", "reason", "language"), [
    # the number the patient gave wins, over another number and over a reservation
    ("+4741234567", "en", _krr(), "+4741234567", None, "nn"),
    ("+4741234567", "en", _krr(reserved=True), "+4741234567", None, "nn"),
    ("+4741234567", "en", None, "+4741234567", None, "en"),
    # otherwise KRR's, if it may be used today
    (None, "en", _krr(), "+4798765432", None, "nn"),
    (None, None, _krr(reserved=True), None, Reason.RESERVED, "nn"),
    (None, None, _krr(mobile=None), None, Reason.NO_MOBILE, "nn"),
    (None, None, _krr(status=KrrStatus.DELETED), None, Reason.NO_MOBILE, "nn"),
    (None, None, _krr(mobile_verified=datetime(2028, 8, 31, tzinfo=UTC)),
     None, Reason.STALE_NUMBER, "nn"),
    (None, None, _krr(mobile_verified=None), None, Reason.STALE_NUMBER, "nn"),
    (None, None, _krr(can_be_notified=False), None, Reason.NOT_NOTIFIABLE, "nn"),
    (None, None, _krr(mobile="+4722000000"), None, Reason.NOT_MOBILE, "nn"),  # a landline
    # the language: the register's, else the profile's, else none (nb in the templates)
    (None, "en", _krr(language=None), "+4798765432", None, "en"),
    (None, "en", _krr(language="xx"), "+4798765432", None, "en"),
    (None, None, None, None, Reason.NO_MOBILE, None),
])
def test_which_number_and_language(own, profile, register, number, reason, language):
    contact = choose_contact(own, profile, register)
    assert check_contact(contact, TODAY) == (number, reason)
    assert contact.language == language
    if register is not None and own is None and reason is not Reason.NOT_MOBILE:
        # KRR's own judgement (the 18-month count included) agrees
        assert (register.notice_mobile(TODAY) is None) == (number is None)


def test_a_register_that_did_not_answer_is_no_refusal():
    contact = choose_contact(None, "en", None, unavailable=True)
    assert check_contact(contact, TODAY) == (None, Reason.REGISTER_UNAVAILABLE)
    assert Reason.REGISTER_UNAVAILABLE in WAIT_FOR
    # a number of one's own needs no register
    assert check_contact(choose_contact("+4741234567", "en", None, unavailable=True),
                         TODAY) == ("+4741234567", None)
