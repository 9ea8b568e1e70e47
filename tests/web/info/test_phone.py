"""The mobile-number check on its own: what is accepted, in which form it is
stored, and which problem each kind of wrong input is given."""

from __future__ import annotations

import pytest

from web.phone import PROBLEM_TEXT, PhoneCheck, PhoneProblem, check_mobile, display


@pytest.mark.parametrize(("typed", "e164"), [
    ("91234567", "+4791234567"),
    ("+47 412 34 567", "+4741234567"),
    ("004791234567", "+4791234567"),
    ("0047 912 34 567", "+4791234567"),
    ("912 34 567", "+4791234567"),
    ("  91234567  ", "+4791234567"),
    ("(+47) 912-34-567", "+4791234567"),
    ("912\u00a034\u00a0567", "+4791234567"),
])
def test_norwegian_mobile_numbers_are_stored_as_e164(typed: str, e164: str) -> None:
    assert check_mobile(typed) == PhoneCheck(e164=e164)


@pytest.mark.parametrize(("typed", "problem"), [
    ("", PhoneProblem.EMPTY),
    ("   ", PhoneProblem.EMPTY),
    ("22123456", PhoneProblem.NOT_MOBILE),  # Oslo landline
    ("+47 79 12 34 56", PhoneProblem.NOT_MOBILE),  # Svalbard landline, +47 too
    ("81234567", PhoneProblem.NOT_MOBILE),  # 800 numbers
    ("1234", PhoneProblem.TOO_SHORT),
    ("9123456", PhoneProblem.TOO_SHORT),
    ("+47912345678", PhoneProblem.TOO_LONG),
    ("+46701234567", PhoneProblem.NOT_NORWEGIAN),  # Swedish mobile
    ("+358401234567", PhoneProblem.NOT_NORWEGIAN),
    ("9123456789012345678901", PhoneProblem.TOO_MUCH_TEXT),  # 22 characters
    ("abc", PhoneProblem.NOT_DIGITS),
    ("9123ABCD", PhoneProblem.NOT_DIGITS),  # phonenumbers would read it as 91232223
    ("91234567;DROP", PhoneProblem.NOT_DIGITS),
    ("++4791234567", PhoneProblem.NOT_DIGITS),
    ("59123456", PhoneProblem.NOT_A_NUMBER),  # not a Norwegian range in use
])
def test_wrong_input_gets_its_own_problem(typed: str, problem: PhoneProblem) -> None:
    assert check_mobile(typed) == PhoneCheck(problem=problem)


def test_twenty_characters_are_read_and_twenty_one_are_not() -> None:
    assert check_mobile("+47  912  34  567   ").ok  # 20 characters, spaces and all
    assert check_mobile("0047   912   34   567").problem is PhoneProblem.TOO_MUCH_TEXT


def test_every_problem_has_words_for_people() -> None:
    assert set(PROBLEM_TEXT) == set(PhoneProblem)
    assert all(text.endswith(".") for text in PROBLEM_TEXT.values())


@pytest.mark.parametrize(("e164", "shown"), [
    ("+4791234567", "+47 912 34 567"),
    ("+4741234567", "+47 412 34 567"),
    ("+4722123456", "+47 22 12 34 56"),
    ("+46701234567", "+46 70 123 45 67"),
    ("not a number", "not a number"),
])
def test_numbers_are_shown_the_way_norwegians_write_them(e164: str, shown: str) -> None:
    assert display(e164) == shown
