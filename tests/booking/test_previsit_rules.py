"""The pre-visit form's pure rules: who fills it in, and reading answers."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from booking.previsit import (
    DETAIL_LIMIT,
    Answers,
    FillRefusal,
    FormCipher,
    InvalidAnswers,
    parse_answers,
    who_fills,
)
from booking.representation import Access


@pytest.mark.parametrize(("for_child", "access", "age", "expected"), [
    (True, Access.FULL, 3, None),
    (True, Access.FULL, 11, None),
    (True, Access.LOGISTICS, 12, FillRefusal.YOUNG_PERSON_FILLS),
    (True, Access.LOGISTICS, 15, FillRefusal.YOUNG_PERSON_FILLS),
    (True, Access.NONE, 16, FillRefusal.NO_ACCESS),
    # Access says FULL but the age says 12: never the guardian.
    (True, Access.FULL, 12, FillRefusal.NO_ACCESS),
    (False, Access.FULL, 11, FillRefusal.GUARDIAN_FILLS),
    (False, Access.FULL, 12, None),
    (False, Access.FULL, 16, None),
    (False, Access.FULL, 80, None),
])
def test_who_fills_in_the_form(for_child, access, age, expected):
    assert who_fills(for_child=for_child, access=access, age=age) is expected


FIELDS = ["medicines", "medicines_detail", "allergies", "allergies_detail", "health_changed",
          "health_changed_detail", "contact_doctor", "confirm"]


@given(st.dictionaries(st.sampled_from(FIELDS),
                       st.one_of(st.sampled_from(["yes", "no", "1", ""]), st.text(max_size=300))))
def test_any_form_gives_answers_or_field_errors_never_anything_else(form):
    try:
        answers = parse_answers(form)
    except InvalidAnswers as invalid:
        assert invalid.errors and set(invalid.errors) <= set(FIELDS)
        return
    for name in ("medicines", "allergies", "health_changed"):
        detail = getattr(answers, f"{name}_detail")
        assert len(detail) <= DETAIL_LIMIT
        assert bool(detail) is getattr(answers, name)


def test_answers_round_trip_encrypted_and_a_wrong_key_reads_nothing():
    answers = Answers(True, "Marevan «5 mg»", False, "", True, "ny hofte 2026", False)
    sealed = FormCipher.from_secret("s" * 40).seal(answers)
    assert FormCipher.from_secret("s" * 40).open(sealed) == answers
    assert FormCipher.from_secret("t" * 40).open(sealed) is None
    assert b"Marevan" not in sealed
