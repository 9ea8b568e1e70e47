"""Identity numbers: real, D-nummer, synthetic (+80) and the 2032 rule."""

from __future__ import annotations

import random
from datetime import date

import pytest

from core.identity import IdentityVault, InvalidIdentityNumber, parse, synthetic_number


@pytest.mark.parametrize(("number", "kind"), [
    ("15108695088", "fnr"),  # ordinary
    ("41018500033", "dnr"),  # D-nummer: day + 40
    ("30108299939", "fnr"),  # Skatteetaten's example of the 2032 check-digit rule
])
def test_real_numbers(number, kind):
    parsed = parse(number)
    assert parsed.kind == kind and not parsed.synthetic


@pytest.mark.parametrize("number", ["21879498012", "17912099997", "57912075186"])
def test_synthetic_numbers_only_when_allowed(number):
    with pytest.raises(InvalidIdentityNumber):
        parse(number)
    assert parse(number, allow_synthetic=True).synthetic


@pytest.mark.parametrize("number", [
    "1510869508",  # too short
    "151086950888",  # too long
    "1510869508a",
    "15108695089",  # second check digit
    "15108695078",  # first check digit
    "31028600073",  # 31 February, with valid check digits
    "15507600333",  # month + 40: an H-nummer or another register's test number
    "15138695088",  # month 13
])
def test_invalid_numbers(number):
    with pytest.raises(InvalidIdentityNumber):
        parse(number, allow_synthetic=True)


def test_generated_synthetic_numbers_are_valid_and_deterministic():
    rng = random.Random(1)
    numbers = [synthetic_number(date(2000 + i % 20, 1 + i % 12, 1 + i % 28), rng)
               for i in range(200)]
    assert all(parse(n, allow_synthetic=True).synthetic for n in numbers)
    again = random.Random(1)
    assert numbers[0] == synthetic_number(date(2000, 1, 1), again)


def test_repr_never_shows_the_number():
    parsed = parse("15108695088")
    assert "15108695088" not in repr(parsed) and "15108695088" not in str(parsed)


def test_vault_hashes_with_a_key_and_round_trips():
    a, b = IdentityVault.from_secret("one"), IdentityVault.from_secret("two")
    assert a.lookup_hash("15108695088") == a.lookup_hash("15108695088")
    assert a.lookup_hash("15108695088") != b.lookup_hash("15108695088")
    token = a.encrypt("15108695088")
    assert b"15108695088" not in token
    assert a.decrypt(token) == "15108695088"
