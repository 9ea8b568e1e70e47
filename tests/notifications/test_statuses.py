"""The status vocabulary: closed, grouped, with allowed transitions and words."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import IntegrityError

from notifications.models import Notification
from notifications.statuses import (
    FAILED,
    FINAL,
    IN_FLIGHT,
    STATUS_TEXT,
    TRANSITIONS,
    WAITING,
    NotificationStatus,
    describe,
    may_move,
)
from tests.notifications.helpers import EARLY, START, book_adult, rows, world_with_phones

S = NotificationStatus


def test_the_vocabulary_is_notifys():
    assert [s.value for s in S] == [
        "created", "sending", "pending", "delivered", "permanent-failure",
        "temporary-failure", "technical-failure", "cancelled"]


def test_groups_cover_every_status_once():
    assert WAITING | IN_FLIGHT | FINAL == set(S)
    assert not (WAITING & IN_FLIGHT) and not (IN_FLIGHT & FINAL) and not (WAITING & FINAL)
    assert FAILED < FINAL


def test_a_final_status_is_never_left():
    assert set(TRANSITIONS) == set(S)
    for final in FINAL:
        assert TRANSITIONS[final] == frozenset()
        assert not any(may_move(final, other) for other in S)


@pytest.mark.parametrize(("current", "new", "allowed"), [
    ("created", "sending", True),
    ("created", "cancelled", True),
    ("created", "delivered", True),  # a receipt overtook our own record
    ("sending", "pending", True),
    ("sending", "temporary-failure", True),
    ("pending", "delivered", True),
    ("pending", "sending", False),  # out of order
    ("sending", "sending", False),  # a duplicate is not a move
    ("sending", "created", False),
    ("sending", "cancelled", False),  # too late to cancel
    ("delivered", "permanent-failure", False),
    ("temporary-failure", "delivered", False),
])
def test_transitions(current, new, allowed):
    assert may_move(current, new) is allowed


def test_every_status_has_words_for_people():
    for status in S:
        assert set(STATUS_TEXT[status]) == {"nb", "nn", "en"}
    assert describe("temporary-failure", "en") == \
        "Not delivered – the phone was off or out of coverage"
    assert describe("delivered", "se") == "Levert til telefonen"  # Sami falls back to Bokmål


async def test_the_database_refuses_a_status_outside_the_vocabulary(db):
    world = await world_with_phones(db)
    appointment = (await book_adult(db, world)).appointment
    first = (await rows(db, appointment_id=appointment.id))[0]
    with pytest.raises(IntegrityError):
        async with db.write() as session:
            session.add(Notification(
                appointment_id=appointment.id, appointment_version=1,
                patient_id=first.patient_id, purpose="confirmation", offset_minutes=0,
                channel="sms", recipient_id=first.recipient_id, recipient_role="self",
                resend_no=9, status="sent", due_at=EARLY, send_after=EARLY,
                expires_at=START))
