"""Checking a mobile number a person types for text messages (SMS).

The service sends SMS to Norwegian mobile numbers only: the number must have
country code +47 and be of the mobile type in ``phonenumbers``' metadata for
Norway (today the 4x and 9x ranges). Landlines cannot receive SMS, and foreign
numbers are refused so nobody is surprised by a notice that never arrives
(or by its cost): the person is told why, and to call the clinic instead.

Accepted ways of writing a number: ``91234567``, ``912 34 567``,
``+47 912 34 567``, ``0047 91234567``, ``(+47) 912-34-567``. Letters are
refused outright (``phonenumbers`` would quietly turn "ABC" into 222) and so
is anything over :data:`MAX_INPUT` characters, before any parsing.

The number itself never goes into a log line or an exception message.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

import phonenumbers

from booking.reasons import N_

#: What the form accepts at all; longer input is refused unread.
MAX_INPUT: Final = 20
NORWAY_CODE: Final = 47
#: Norwegian numbers have 8 digits (after +47); mobile numbers among them start with 4 or 9.
NATIONAL_DIGITS: Final = 8
#: Digits, spaces (also no-break and thin spaces), separators, one + at the start.
_SHAPE: Final = re.compile(r"\(?\+?[0-9 \u00a0\u2009\-().]+")
_MOBILE_E164: Final = re.compile(r"\+47([49]\d{2})(\d{2})(\d{3})")


class PhoneProblem(StrEnum):
    """Why a typed number cannot be used for SMS."""

    EMPTY = "empty"
    TOO_MUCH_TEXT = "too_much_text"
    NOT_DIGITS = "not_digits"
    TOO_SHORT = "too_short"
    TOO_LONG = "too_long"
    NOT_NORWEGIAN = "not_norwegian"
    NOT_A_NUMBER = "not_a_number"
    NOT_MOBILE = "not_mobile"


#: The words shown next to the field, translated where they are shown.
PROBLEM_TEXT: Final[Mapping[PhoneProblem, str]] = {
    PhoneProblem.EMPTY: N_("Type the mobile number, for example 912 34 567."),
    PhoneProblem.TOO_MUCH_TEXT: N_(
        "That is too long for a phone number. A Norwegian mobile number has 8 digits, "
        "for example 912 34 567."),
    PhoneProblem.NOT_DIGITS: N_(
        "A phone number can only have digits, spaces and a + at the start, "
        "for example +47 912 34 567."),
    PhoneProblem.TOO_SHORT: N_(
        "That number has too few digits. A Norwegian mobile number has 8 digits, "
        "for example 912 34 567."),
    PhoneProblem.TOO_LONG: N_(
        "That number has too many digits. A Norwegian mobile number has 8 digits, "
        "for example 912 34 567."),
    PhoneProblem.NOT_NORWEGIAN: N_(
        "We can only send text messages to Norwegian mobile numbers (+47). "
        "If you cannot get messages on a Norwegian number, call your clinic and agree "
        "how they should reach you."),
    PhoneProblem.NOT_A_NUMBER: N_(
        "That is not a Norwegian phone number that is in use. Check the digits."),
    PhoneProblem.NOT_MOBILE: N_(
        "That looks like a landline number, which cannot get text messages. "
        "Give a mobile number: it starts with 4 or 9."),
}


@dataclass(frozen=True)
class PhoneCheck:
    """The outcome: an E.164 number, or the problem (never both)."""

    e164: str | None = None
    problem: PhoneProblem | None = None

    @property
    def ok(self) -> bool:
        return self.e164 is not None


_PARSE_PROBLEMS: Final[Mapping[int, PhoneProblem]] = {
    phonenumbers.NumberParseException.INVALID_COUNTRY_CODE: PhoneProblem.NOT_A_NUMBER,
    phonenumbers.NumberParseException.NOT_A_NUMBER: PhoneProblem.NOT_A_NUMBER,
    phonenumbers.NumberParseException.TOO_SHORT_AFTER_IDD: PhoneProblem.TOO_SHORT,
    phonenumbers.NumberParseException.TOO_SHORT_NSN: PhoneProblem.TOO_SHORT,
    phonenumbers.NumberParseException.TOO_LONG: PhoneProblem.TOO_LONG,
}

_LENGTH_PROBLEMS: Final[Mapping[int, PhoneProblem]] = {
    phonenumbers.ValidationResult.TOO_SHORT: PhoneProblem.TOO_SHORT,
    phonenumbers.ValidationResult.TOO_LONG: PhoneProblem.TOO_LONG,
    phonenumbers.ValidationResult.INVALID_LENGTH: PhoneProblem.NOT_A_NUMBER,
    phonenumbers.ValidationResult.INVALID_COUNTRY_CODE: PhoneProblem.NOT_A_NUMBER,
}


def check_mobile(raw: str) -> PhoneCheck:
    """Is ``raw`` (as typed) a Norwegian mobile number? Returns its E.164 form
    (``+4791234567``) or the first problem found."""
    text = raw.strip()
    if not text:
        return PhoneCheck(problem=PhoneProblem.EMPTY)
    if len(text) > MAX_INPUT:
        return PhoneCheck(problem=PhoneProblem.TOO_MUCH_TEXT)
    if not _SHAPE.fullmatch(text):
        return PhoneCheck(problem=PhoneProblem.NOT_DIGITS)
    try:
        number = phonenumbers.parse(text, "NO")
    except phonenumbers.NumberParseException as exc:
        return PhoneCheck(problem=_PARSE_PROBLEMS.get(exc.error_type, PhoneProblem.NOT_A_NUMBER))
    if number.country_code != NORWAY_CODE:
        return PhoneCheck(problem=PhoneProblem.NOT_NORWEGIAN)
    digits = len(phonenumbers.national_significant_number(number))
    if digits < NATIONAL_DIGITS:
        return PhoneCheck(problem=PhoneProblem.TOO_SHORT)
    if digits > NATIONAL_DIGITS:
        return PhoneCheck(problem=PhoneProblem.TOO_LONG)
    length = phonenumbers.is_possible_number_with_reason(number)
    if length != phonenumbers.ValidationResult.IS_POSSIBLE:
        return PhoneCheck(problem=_LENGTH_PROBLEMS.get(length, PhoneProblem.NOT_A_NUMBER))
    if not phonenumbers.is_valid_number(number):
        return PhoneCheck(problem=PhoneProblem.NOT_A_NUMBER)
    if phonenumbers.number_type(number) != phonenumbers.PhoneNumberType.MOBILE:
        return PhoneCheck(problem=PhoneProblem.NOT_MOBILE)
    return PhoneCheck(e164=phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))


def display(e164: str) -> str:
    """A stored number written the way Norwegians write mobile numbers:
    "+47 912 34 567"; other numbers in the international format, and E.164 as
    is when it cannot be parsed."""
    mobile = _MOBILE_E164.fullmatch(e164)
    if mobile:
        return "+47 " + " ".join(mobile.groups())
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return e164
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def tel_href(e164: str) -> str:
    return "tel:" + e164
