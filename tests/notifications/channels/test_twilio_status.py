"""Twilio's statuses and error codes in our words (the documented table)."""

from __future__ import annotations

import random

import pytest

from notifications.channels.base import FINAL_PROVIDER_STATUSES, SendOutcome, retry_delay
from notifications.channels.twilio_status import (
    ERROR_CODES,
    MESSAGE_STATUSES,
    classify_create_error,
    map_message_status,
)


@pytest.mark.parametrize(("twilio", "ours"), [
    ("accepted", "sending"), ("scheduled", "sending"), ("queued", "sending"),
    ("sending", "pending"), ("sent", "pending"), ("delivered", "delivered"),
    ("read", "delivered"), ("canceled", "technical-failure"), ("DELIVERED", "delivered"),
])
def test_message_statuses(twilio: str, ours: str) -> None:
    assert map_message_status(twilio).status == ours


@pytest.mark.parametrize(("twilio", "code", "ours", "unusable", "opted_out"), [
    ("undelivered", 30003, "temporary-failure", False, False),
    ("undelivered", 30005, "permanent-failure", True, False),
    ("undelivered", 30006, "permanent-failure", True, False),
    ("failed", 21211, "permanent-failure", True, False),
    ("failed", 21614, "permanent-failure", True, False),
    ("failed", 21610, "permanent-failure", True, True),
    ("failed", 30001, "technical-failure", False, False),
    ("failed", 30002, "technical-failure", False, False),
    ("failed", 30007, "technical-failure", False, False),
    ("undelivered", 30008, "temporary-failure", False, False),
    ("failed", 30036, "technical-failure", False, False),
    ("undelivered", 39999, "temporary-failure", False, False),  # unknown: carrier-side
    ("failed", 39999, "technical-failure", False, False),       # unknown: Twilio-side
    ("failed", None, "technical-failure", False, False),
])
def test_failures_by_error_code(twilio: str, code: int | None, ours: str, unusable: bool,
                                opted_out: bool) -> None:
    mapped = map_message_status(twilio, code)
    assert (mapped.status, mapped.number_unusable, mapped.opted_out) == (
        ours, unusable, opted_out)
    assert mapped.reason


def test_an_unknown_status_is_not_understood() -> None:
    mapped = map_message_status("teleported")
    assert mapped.status is None
    assert mapped.reason == "Unknown Twilio status 'teleported'"


@pytest.mark.parametrize(("http", "code", "outcome", "status"), [
    (429, 20429, SendOutcome.RETRY, None),
    (429, None, SendOutcome.RETRY, None),
    (503, 20503, SendOutcome.RETRY, None),
    (500, 20500, SendOutcome.UNKNOWN, None),
    (502, None, SendOutcome.UNKNOWN, None),
    (504, None, SendOutcome.UNKNOWN, None),
    (400, 21211, SendOutcome.FAILED, "permanent-failure"),
    (400, 21610, SendOutcome.FAILED, "permanent-failure"),
    (400, 21611, SendOutcome.RETRY, None),
    (401, 20003, SendOutcome.RETRY, None),
    (400, 21606, SendOutcome.FAILED, "technical-failure"),
    (404, None, SendOutcome.FAILED, "technical-failure"),
    (400, 12345, SendOutcome.FAILED, "technical-failure"),
])
def test_create_errors(http: int, code: int | None, outcome: SendOutcome,
                       status: str | None) -> None:
    found = classify_create_error(http, code)
    assert (found.outcome, found.status) == (outcome, status)


def test_the_tables_use_only_our_words() -> None:
    ours = FINAL_PROVIDER_STATUSES | {"sending", "pending"}
    assert {s for s in MESSAGE_STATUSES.values() if s} <= ours
    assert {e.status for e in ERROR_CODES.values()} <= ours
    assert all(e.reason for e in ERROR_CODES.values())


def test_retry_delay_honours_retry_after_then_backs_off_exponentially() -> None:
    assert retry_delay(3, retry_after=7.0) == 7.0
    assert retry_delay(1, retry_after=900.0) == 300.0
    rng = random.Random(1)
    delays = [retry_delay(n, rng=rng) for n in (1, 2, 3, 4, 12)]
    assert 1.0 <= delays[0] <= 2.0
    assert 2.0 <= delays[1] <= 4.0
    assert 4.0 <= delays[2] <= 8.0
    assert 8.0 <= delays[3] <= 16.0
    assert 150.0 <= delays[4] <= 300.0
