"""Every reason a notification ends or waits has its own plain words, in
every language, from one place."""

from __future__ import annotations

import pytest

from core.locale import LANGUAGES
from notifications.reason_text import REASON_TEXT, explain, reason_text
from notifications.statuses import Reason, describe
from tests.catalogs import compile_catalogs


@pytest.fixture(scope="module", autouse=True)
def compiled() -> None:
    compile_catalogs()


def test_every_reason_has_its_own_words() -> None:
    assert set(REASON_TEXT) == set(Reason)
    assert len(set(REASON_TEXT.values())) == len(Reason)


@pytest.mark.parametrize("language", [lang for lang in LANGUAGES if lang != "en"])
def test_the_words_are_translated(language: str) -> None:
    for reason, english in REASON_TEXT.items():
        assert reason_text(reason, language) != english, (language, reason)


def test_an_expired_message_is_not_called_a_technical_problem() -> None:
    for reason in (Reason.EXPIRED, Reason.EXPIRED_BEFORE_SENDING_HOURS, Reason.TIMEOUT):
        words = explain("technical-failure", reason, "en")
        assert words != describe("technical-failure", "en")
        assert "technical problem" not in words
    assert explain("technical-failure", Reason.EXPIRED_BEFORE_SENDING_HOURS, "nb") == (
        "Ikke sendt: timen begynner før sendetiden åpner igjen, så SMS-en ville kommet "
        "for sent.")


def test_a_providers_own_reason_is_kept_beside_the_status() -> None:
    assert explain("permanent-failure", "Invalid 'To' number", "en") == (
        "Not delivered – the number is wrong or does not accept text messages "
        "(Invalid 'To' number)")
    assert reason_text(None) is None
    assert explain("delivered", None, "en") == "Delivered to the phone"
