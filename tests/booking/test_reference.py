"""The booking reference read out on the phone: short, unambiguous, checked."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from booking.reference import ALPHABET, parse_reference, reference


def test_a_reference_is_short_and_grouped() -> None:
    assert reference(1234) == "TT-001-6J9"
    assert len(reference(33_554_431)) == 10  # five symbols and a check up to 32**5 - 1
    assert reference(33_554_432).count("-") == 3  # longer ids just grow


@given(st.integers(min_value=1, max_value=2**63 - 1))
def test_every_id_round_trips(appointment_id: int) -> None:
    assert parse_reference(reference(appointment_id)) == appointment_id


@pytest.mark.parametrize("typed", ["tt-001-6j9", "TT 001 6J9", "0016J9", "TT-OO1-6J9",
                                   " tt001-6j9 "])
def test_as_typed_by_someone_on_the_phone(typed: str) -> None:
    assert parse_reference(typed) == 1234


@given(st.integers(min_value=1, max_value=10**9), st.data())
def test_any_one_wrong_symbol_is_caught(appointment_id: int, data: st.DataObject) -> None:
    symbols = list(reference(appointment_id).replace("-", "")[2:])
    position = data.draw(st.integers(0, len(symbols) - 1))
    wrong = data.draw(st.sampled_from([s for s in ALPHABET if s != symbols[position]]))
    symbols[position] = wrong
    assert parse_reference("".join(symbols)) is None


@pytest.mark.parametrize("text", ["", "TT", "TT-001", "TT-001-6J!", "hello", "TT-000-000"])
def test_not_a_reference(text: str) -> None:
    assert parse_reference(text) is None


def test_ids_are_positive() -> None:
    with pytest.raises(ValueError):
        reference(0)
