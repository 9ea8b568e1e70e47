"""The reply parser (notifications/replies.py) and the answers' words
(notifications/reply_texts.py): every keyword of every language in the data
file, as written, shouted, with punctuation and words around it, and with
one typo; numbers; negations; words that must not be taken for keywords."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.i18n import catalog
from notifications.replies import DATA_FILE, Intent, Reply, fold, load, parse
from notifications.reply_texts import TEXTS, Item, choices, describe, render
from notifications.segments import count_segments

DATA = json.loads(DATA_FILE.read_text(encoding="utf-8"))
LANGUAGES = ("nb", "nn", "en", "se")
KEYWORDS = [(language, intent, text)
            for language, intents in DATA["languages"].items()
            for intent, texts in intents.items() for text in texts]


def typo(text: str) -> str:
    """One typo in the longest word: its middle letter mistyped (or, in a
    word shorter than four letters, one letter doubled)."""
    words = text.split()
    index = max(range(len(words)), key=lambda i: len(words[i]))
    word = words[index]
    if len(word) < 4:
        words[index] = word + word[-1]
    else:
        middle = len(word) // 2
        wrong = "x" if word[middle] != "x" else "q"
        words[index] = word[:middle] + wrong + word[middle + 1:]
    return " ".join(words)


def test_the_data_file_has_every_intent_in_every_language():
    assert set(DATA["languages"]) == set(LANGUAGES)
    for language in LANGUAGES:
        assert set(DATA["languages"][language]) == {i.value for i in Intent}, language
    assert set(DATA["precedence"]) == {i.value for i in Intent}
    load(DATA)  # no empty keyword


@pytest.mark.parametrize(("language", "intent", "text"), KEYWORDS,
                         ids=[f"{lang}-{intent}-{text}" for lang, intent, text in KEYWORDS])
def test_every_keyword_as_written_and_with_one_typo(language, intent, text):
    for said in (text, text.upper(), f"{text.capitalize()}!", f"  {text}, takk :) "):
        assert parse(said).intent == Intent(intent), said
    # One typo, where the keyword starts the reply (a one-word keyword) or
    # anywhere (a phrase).
    mistyped = typo(text)
    assert mistyped != text
    assert parse(mistyped).intent == Intent(intent), mistyped


@pytest.mark.parametrize(("said", "intent", "number"), [
    ("JA", Intent.CONFIRM, None),
    ("Ja, jeg kommer", Intent.CONFIRM, None),
    ("ja jeg kommer gjerne", Intent.CONFIRM, None),
    ("Eg kjem", Intent.CONFIRM, None),
    ("YES", Intent.CONFIRM, None),
    ("JUO", Intent.CONFIRM, None),
    ("Boadan", Intent.CONFIRM, None),  # without the Sami letters
    ("JA 2", Intent.CONFIRM, 2),
    ("ja2", Intent.CONFIRM, 2),
    ("JA 4821", Intent.CONFIRM, 4821),
    ("Svar: JA 1", Intent.CONFIRM, 1),
    ("ENDRE", Intent.CHANGE, None),
    ("Jeg må endre timen", Intent.CHANGE, None),
    ("jeg ma endre", Intent.CHANGE, None),
    ("ENDRE 2", Intent.CHANGE, 2),
    ("CHANGE", Intent.CHANGE, None),
    ("AVBESTILL", Intent.CANCEL, None),
    ("Avlys timen", Intent.CANCEL, None),
    ("Avbsetill", Intent.CANCEL, None),  # two letters swapped: one typo
    ("CANCEL", Intent.CANCEL, None),
    ("Jeg kan ikke komme", Intent.CANCEL, None),
    ("Ja, men jeg må avbestille", Intent.CANCEL, None),  # the stronger intent wins
    ("STOPP", Intent.STOP, None),
    ("stop", Intent.STOP, None),
    ("START", Intent.START, None),
    ("HJELP", Intent.HELP, None),
    ("HELP", Intent.HELP, None),
    ("HER", Intent.CHECKIN, None),
    ("Jeg er her nå", Intent.CHECKIN, None),
])
def test_replies(said, intent, number):
    found = parse(said)
    assert (found.intent, found.number) == (intent, number)


@pytest.mark.parametrize("said", [
    "", "Hei", "Takk", "?", "Andre tider passer bedre",  # ANDRE is not a typo of ENDRE
    "Jeg kommer ikke", "Eg kjem ikkje", "I will not come",  # negated: not a yes
    "NEI", "JQ", "12",
])
def test_not_understood(said):
    assert parse(said).intent is None


def test_negation_is_said():
    assert parse("Jeg kommer ikke") == Reply(None, None, "nb", "jeg kommer", False, True)


def test_fold():
    assert fold("Šluhtte, BOAĐÁN!") == "sluhtte boadan"
    assert fold("Jeg må") == "jeg ma"
    assert fold("I can't") == "i cant"
    assert fold("JA2") == "ja 2"


# --- the answers' words ----------------------------------------------------------

WHEN = datetime(2030, 3, 4, 9, tzinfo=UTC)


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_answer_text_is_translated(language):
    for key in TEXTS:
        context, english = TEXTS[key]
        translated = catalog(language).pgettext(context, english)
        if language != "en" and translated == english:
            # Only the words that read the same in Norwegian as in English.
            assert key == "choice" and language in ("nb", "nn"), (key, language)
            continue
        answer = render(key, language, clinic="Tannklinikken", list="x", url="u", why="w",
                        phone="p", choices="c", word="W", number="1", name="n")
        assert answer.language == language, key


@pytest.mark.parametrize(("language", "expected"), [
    ("nb", "JA 1 for Emma, JA 2 for Jonas, JA for begge"),
    ("nn", "JA 1 for Emma, JA 2 for Jonas, JA for begge"),
    ("en", "YES 1 for Emma, YES 2 for Jonas, YES for both"),
    ("se", "JUO 1 Emma ovddas, JUO 2 Jonas ovddas, JUO goappašiidda"),
])
def test_the_siblings_choices(language, expected):
    assert choices("word_confirm", ["Emma", "Jonas"], language, everyone=True) == expected


@pytest.mark.parametrize("language", ["nb", "nn", "en"])
def test_a_siblings_request_fits_two_segments(language):
    items = [Item(WHEN, "Emma"), Item(WHEN, "Jonas")]
    answer = render("confirm_request", language,
                    clinic="Den offentlige tannhelsetjenesten Lillestrøm",
                    list=describe(items, language, numbered=True),
                    choices=choices("word_confirm", ["Emma", "Jonas"], language, everyone=True))
    assert count_segments(answer.body).segments <= 2, answer.body


@given(st.text(max_size=200))
@settings(max_examples=300, deadline=None)
def test_any_text_is_parsed_without_error(text):
    found = parse(text)
    assert found.intent is None or isinstance(found.intent, Intent)
    assert found.number is None or 0 <= found.number < 10**6


@given(st.sampled_from(KEYWORDS), st.text(alphabet=" .,!?", max_size=5),
       st.integers(min_value=1, max_value=9))
@settings(max_examples=200, deadline=None)
def test_a_keyword_with_punctuation_and_a_number(keyword, noise, number):
    _, intent, text = keyword
    found = parse(f"{noise}{text.upper()}{noise} {number}{noise}")
    assert (found.intent, found.number) == (Intent(intent), number)


@pytest.mark.parametrize(("said", "intent"), [
    ("Stopp takk", Intent.STOP),
    ("Ikke stopp å sende", None),  # STOP counts only at the start, like Twilio's
    ("Hei, her er Kari. Jeg kommer", Intent.CONFIRM),  # "her" is no check-in here
    ("Ja, jeg er her", Intent.CONFIRM),
    ("Jeg er her", Intent.CHECKIN),
])
def test_some_intents_count_only_at_the_start(said, intent):
    assert parse(said).intent == intent


@pytest.mark.parametrize(("text", "code", "number"), [
    ("JA 4821", "4821", 4821), ("ja 0482 takk", "0482", 482), ("JA 2", None, 2),
    ("JA", None, None), ("JA 123456", None, 123456)])
def test_four_digits_are_an_offers_code_as_written(text, code, number):
    reply = parse(text)
    assert (reply.code, reply.number) == (code, number)
