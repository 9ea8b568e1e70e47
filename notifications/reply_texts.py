"""The words of our answers to SMS replies (``notifications.reply_actions``),
in the recipient's language from the translation catalogs, like every other
SMS text (``notifications.templates``): English msgids, the context
``sms reply.<id>``, ``{name}`` placeholders, Bokmål then English as fallback.

Like the other texts: no treatment, no full name, no identity number; a
child is named by first given name only. ``tests/notifications/test_replies.py``
renders each in every language.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from core.i18n import SOURCE_LANGUAGE, catalog
from core.locale import DEFAULT_LANGUAGE
from notifications.templates import choose_language, format_when, sms_text

#: Raised when any wording below changes (recorded on each answer row).
VERSION: Final = 1

TEXTS: Final = {
    "confirmed": sms_text("sms reply.confirmed", "{clinic}: Thank you! Confirmed: {list}."),
    "cancelled": sms_text("sms reply.cancelled",
                          "{clinic}: Cancelled: {list}. Need a new time? {url}"),
    "changed": sms_text("sms reply.changed", "{clinic}: Your new time: {list}. {url}"),
    "change": sms_text("sms reply.change", "{clinic}: Choose a new time for {list} here: {url}"),
    "change_times": sms_text("sms reply.change_times", "Or reply {choices}."),
    "refused": sms_text("sms reply.refused",
                        "{clinic}: {why} Please call the clinic on {phone}."),
    "why_started": sms_text("sms reply.why_started", "The appointment has already started."),
    "why_late": sms_text("sms reply.why_late", "It is too late to do this by text message."),
    "why_other": sms_text("sms reply.why_other", "This cannot be done by text message."),
    "choose": sms_text("sms reply.choose", "Which appointment? {list}. Reply {choices}."),
    "confirm_request": sms_text("sms reply.confirm_request",
                                "{clinic}: Please confirm: {list}. Reply {choices}."),
    "choice": sms_text("sms reply.choice", "{word} {number} for {name}"),
    "choice_both": sms_text("sms reply.choice_both", "{word} for both"),
    "choice_all": sms_text("sms reply.choice_all", "{word} for all"),
    "help": sms_text("sms reply.help",
                     "Tanntid: Reply YES to confirm, CHANGE to change or CANCEL to cancel an "
                     "appointment. STOP: no more texts. {url}"),
    "started": sms_text("sms reply.started",
                        "Tanntid: You will get text messages from us again. Reply STOP to "
                        "stop them."),
    # The keywords our answers ask for, in the reader's language.
    "word_confirm": sms_text("sms reply.word_confirm", "YES"),
    "word_change": sms_text("sms reply.word_change", "CHANGE"),
    "word_cancel": sms_text("sms reply.word_cancel", "CANCEL"),
}


def text(key: str, language: str) -> tuple[str, str]:
    """(words, the language they are in) of one text: ``language``, else
    Bokmål, else English."""
    context, english = TEXTS[key]
    language = choose_language(language)
    for candidate in dict.fromkeys((language, DEFAULT_LANGUAGE)):
        translated = str(catalog(candidate).pgettext(context, english))
        if translated != english or candidate == SOURCE_LANGUAGE:
            return translated, candidate
    return english, SOURCE_LANGUAGE


@dataclass(frozen=True)
class Item:
    """One appointment in an answer: when, and whose (a child's first name)."""

    starts_at: datetime
    name: str | None = None


def describe(items: Sequence[Item], language: str, *, numbered: bool = False) -> str:
    """"Emma, tirsdag 5. mars kl. 10:00; Jonas, ..." (numbered: "1) Emma ...")."""
    parts = []
    for number, item in enumerate(items, 1):
        when = format_when(item.starts_at, language)
        part = f"{item.name}, {when}" if item.name else when
        parts.append(f"{number}) {part}" if numbered else part)
    return "; ".join(parts)


def choices(word_key: str, names: Sequence[str], language: str, *, everyone: bool) -> str:
    """"JA 1 for Emma, JA 2 for Jonas, JA for begge"."""
    word, _ = text(word_key, language)
    template, _ = text("choice", language)
    parts = [template.format(word=word, number=n, name=name)
             for n, name in enumerate(names, 1)]
    if everyone and len(names) > 1:
        last, _ = text("choice_both" if len(names) == 2 else "choice_all", language)
        parts.append(last.format(word=word))
    return ", ".join(parts)


@dataclass(frozen=True)
class Answer:
    body: str
    template_id: str
    language: str


def render(key: str, language: str, **fields: str) -> Answer:
    words, used = text(key, language)
    return Answer(words.format(**fields), f"reply.{key}", used)
