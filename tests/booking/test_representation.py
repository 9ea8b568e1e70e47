"""The representation rules: age on the day, shared address, confidential
addresses, parental responsibility."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from booking.representation import (
    CAPABILITIES,
    REPRESENTATION_REASON_TEXT,
    Access,
    Capability,
    ChildRelation,
    PersonFacts,
    RepresentationReason,
    guardian_access,
    may_log_in_self,
    represented_children,
    shares_address,
)
from booking.rules import local_date
from booking.statuses import ConfidentialAddress

TODAY = date(2025, 3, 10)
HOME = "addr-home"


def guardian(pid: int = 1, address: str | None = HOME,
             confidential: ConfidentialAddress = ConfidentialAddress.NONE) -> PersonFacts:
    return PersonFacts(pid, date(1985, 6, 1), address, confidential)


def child(birth_date: date, pid: int = 100, address: str | None = HOME,
          confidential: ConfidentialAddress = ConfidentialAddress.NONE) -> PersonFacts:
    return PersonFacts(pid, birth_date, address, confidential)


def born_years_before(day: date, years: int) -> date:
    return day.replace(year=day.year - years)


# --- The guardian matrix: on the birthday and the day before -----------------

@pytest.mark.parametrize(("age", "on_birthday", "day_before"), [
    (11, (Access.FULL, 11), (Access.FULL, 10)),
    (12, (Access.LOGISTICS, 12), (Access.FULL, 11)),
    (15, (Access.LOGISTICS, 15), (Access.LOGISTICS, 14)),
    (16, (Access.NONE, 16), (Access.LOGISTICS, 15)),
])
def test_guardian_matrix_on_birthday_and_day_before(age, on_birthday, day_before):
    kid = child(born_years_before(TODAY, age))
    on = guardian_access(guardian=guardian(), child=kid, today=TODAY)
    before = guardian_access(guardian=guardian(), child=kid, today=date(2025, 3, 9))
    assert (on.access, on.child_age) == on_birthday
    assert (before.access, before.child_age) == day_before
    assert before.reason is None
    if on.access is Access.NONE:
        assert on.reason is RepresentationReason.CHILD_OF_AGE_IN_HEALTH_MATTERS
        assert not on
    else:
        assert on.reason is None and on


def test_sixteenth_birthday_starts_at_oslo_midnight_not_utc_midnight():
    kid = child(date(2009, 3, 10))
    late_evening_utc = datetime(2025, 3, 9, 23, 30, tzinfo=UTC)  # 00:30 in Oslo on the 10th
    assert local_date(late_evening_utc) == date(2025, 3, 10)
    decision = guardian_access(guardian=guardian(), child=kid,
                               today=local_date(late_evening_utc))
    assert decision.access is Access.NONE and decision.child_age == 16
    earlier = guardian_access(guardian=guardian(), child=kid,
                              today=local_date(datetime(2025, 3, 9, 22, 59, tzinfo=UTC)))
    assert earlier.access is Access.LOGISTICS and earlier.child_age == 15


def test_leap_day_child_has_birthday_on_29_february_or_else_on_1_march():
    kid = child(date(2012, 2, 29))
    assert guardian_access(guardian=guardian(), child=kid,
                           today=date(2024, 2, 28)).access is Access.FULL
    assert guardian_access(guardian=guardian(), child=kid,
                           today=date(2024, 2, 29)).access is Access.LOGISTICS
    assert guardian_access(guardian=guardian(), child=kid,
                           today=date(2025, 2, 28)).child_age == 12
    assert guardian_access(guardian=guardian(), child=kid,
                           today=date(2025, 3, 1)).child_age == 13


# --- Same address (under 12) -------------------------------------------------

def test_under_12_with_no_guardian_at_childs_address_is_none_for_both():
    kid = child(date(2017, 1, 1), address="addr-child")
    mother = guardian(1, "addr-mother")
    father = guardian(2, "addr-father")
    for me, other in ((mother, father), (father, mother)):
        decision = guardian_access(guardian=me, child=kid, today=TODAY, other_guardians=[other])
        assert decision.access is Access.NONE
        assert decision.reason is RepresentationReason.NO_GUARDIAN_AT_CHILD_ADDRESS
        assert decision.child_age == 8


def test_under_12_one_of_two_guardians_at_the_address_gives_full_to_both():
    kid = child(date(2017, 1, 1), address="addr-child")
    with_child = guardian(1, "addr-child")
    elsewhere = guardian(2, "addr-elsewhere")
    for me, other in ((with_child, elsewhere), (elsewhere, with_child)):
        decision = guardian_access(guardian=me, child=kid, today=TODAY, other_guardians=[other])
        assert decision.access is Access.FULL
        assert decision.reason is None


def test_lone_guardian_elsewhere_is_none_and_setting_can_turn_the_rule_off():
    kid = child(date(2017, 1, 1), address="addr-child")
    me = guardian(1, "addr-elsewhere")
    assert guardian_access(guardian=me, child=kid, today=TODAY).access is Access.NONE
    relaxed = guardian_access(guardian=me, child=kid, today=TODAY,
                              require_shared_address=False)
    assert relaxed.access is Access.FULL


def test_address_rule_applies_only_under_12():
    kid = child(date(2012, 1, 1), address="addr-child")  # 13
    decision = guardian_access(guardian=guardian(1, "addr-elsewhere"), child=kid, today=TODAY)
    assert decision.access is Access.LOGISTICS


def test_unknown_addresses_never_match():
    kid = child(date(2017, 1, 1), address=None)
    decision = guardian_access(guardian=guardian(1, None), child=kid, today=TODAY)
    assert decision.access is Access.NONE
    assert decision.reason is RepresentationReason.NO_GUARDIAN_AT_CHILD_ADDRESS
    assert not shares_address(kid, [guardian(1, None)])


def test_a_co_guardians_confidential_address_does_not_count_as_shared():
    kid = child(date(2017, 1, 1), address="addr-child")
    hidden = guardian(2, "addr-child", ConfidentialAddress.CONFIDENTIAL)
    decision = guardian_access(guardian=guardian(1, "addr-elsewhere"), child=kid, today=TODAY,
                               other_guardians=[hidden])
    assert decision.access is Access.NONE
    assert decision.reason is RepresentationReason.NO_GUARDIAN_AT_CHILD_ADDRESS


# --- Confidential addresses ---------------------------------------------------

@pytest.mark.parametrize("mark", [ConfidentialAddress.CONFIDENTIAL,
                                  ConfidentialAddress.STRICTLY_CONFIDENTIAL])
@pytest.mark.parametrize("years", [5, 13])
def test_child_with_confidential_address_is_never_represented(mark, years):
    kid = child(born_years_before(TODAY, years), confidential=mark)
    decision = guardian_access(guardian=guardian(), child=kid, today=TODAY)
    assert decision.access is Access.NONE
    assert decision.reason is RepresentationReason.CHILD_CONFIDENTIAL_ADDRESS
    assert decision.child_age == years


@pytest.mark.parametrize("mark", [ConfidentialAddress.CONFIDENTIAL,
                                  ConfidentialAddress.STRICTLY_CONFIDENTIAL])
def test_guardian_with_confidential_address_represents_nobody(mark):
    kid = child(date(2018, 5, 5))
    me = guardian(confidential=mark)
    decision = guardian_access(guardian=me, child=kid, today=TODAY,
                               other_guardians=[guardian(2)])
    assert decision.access is Access.NONE
    assert decision.reason is RepresentationReason.GUARDIAN_CONFIDENTIAL_ADDRESS


def test_confidential_reasons_share_one_neutral_text():
    child_text = REPRESENTATION_REASON_TEXT[RepresentationReason.CHILD_CONFIDENTIAL_ADDRESS]
    guardian_text = REPRESENTATION_REASON_TEXT[
        RepresentationReason.GUARDIAN_CONFIDENTIAL_ADDRESS]
    assert child_text == guardian_text
    assert child_text == "You cannot act for this child online. Please contact the clinic."
    assert "address" not in child_text


def test_every_reason_has_text_and_decisions_expose_it():
    assert set(REPRESENTATION_REASON_TEXT) == set(RepresentationReason)
    decision = guardian_access(guardian=guardian(), child=child(date(2005, 1, 1)), today=TODAY)
    assert decision.text == REPRESENTATION_REASON_TEXT[
        RepresentationReason.CHILD_OF_AGE_IN_HEALTH_MATTERS]
    assert "16" in (decision.text or "")
    assert guardian_access(guardian=guardian(), child=child(date(2020, 1, 1)),
                           today=TODAY).text is None


def test_no_parental_responsibility_is_none():
    decision = guardian_access(guardian=guardian(), child=child(date(2020, 1, 1)), today=TODAY,
                               parental_responsibility=False)
    assert decision.access is Access.NONE
    assert decision.reason is RepresentationReason.NO_PARENTAL_RESPONSIBILITY


# --- Capabilities, self-login, the list for a guardian -------------------------

def test_capabilities_by_access():
    assert CAPABILITIES[Access.FULL] == frozenset(Capability)
    assert CAPABILITIES[Access.LOGISTICS] == {Capability.VIEW_TIMES, Capability.BOOK,
                                              Capability.CHANGE, Capability.CANCEL,
                                              Capability.CONFIRM}
    assert CAPABILITIES[Access.NONE] == frozenset()
    teen = guardian_access(guardian=guardian(), child=child(date(2011, 1, 1)), today=TODAY)
    assert teen.allows(Capability.BOOK) and not teen.allows(Capability.VIEW_DETAILS)


@pytest.mark.parametrize(("age", "expected"), [(0, False), (11, False), (12, True),
                                                (15, True), (16, True), (70, True)])
def test_may_log_in_self(age, expected):
    assert may_log_in_self(age) is expected


def test_represented_children_lists_each_child_oldest_first_with_access_and_reason():
    me = guardian(1, HOME)
    relations = [
        ChildRelation(me, child(date(2018, 4, 1), 101)),
        ChildRelation(me, child(date(2008, 7, 1), 102)),
        ChildRelation(me, child(date(2012, 9, 1), 103)),
        ChildRelation(me, child(date(2016, 2, 2), 104, address="addr-other")),
        ChildRelation(me, child(date(2019, 1, 1), 105,
                                confidential=ConfidentialAddress.STRICTLY_CONFIDENTIAL)),
    ]
    listed = represented_children(relations, TODAY)
    assert [(c.patient_id, c.access, c.reason) for c in listed] == [
        (102, Access.NONE, RepresentationReason.CHILD_OF_AGE_IN_HEALTH_MATTERS),
        (103, Access.LOGISTICS, None),
        (104, Access.NONE, RepresentationReason.NO_GUARDIAN_AT_CHILD_ADDRESS),
        (101, Access.FULL, None),
        (105, Access.NONE, RepresentationReason.CHILD_CONFIDENTIAL_ADDRESS),
    ]
    relaxed = represented_children(relations, TODAY, require_shared_address=False)
    assert {c.patient_id: c.access for c in relaxed}[104] is Access.FULL
