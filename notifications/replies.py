"""What an SMS reply means: :func:`parse` turns a text into a :class:`Reply`
(an intent, maybe a number, the language of the words it matched).

The words live in one data file, ``notifications/data/reply_keywords.json``,
per language (nb, nn, en, se) and intent; its ``about`` says how they are
matched. Every language is tried for every reply. Fuzzy matching is
rapidfuzz's (optimal string alignment distance: one typo is one edit, a
swapped pair of letters included), never an edit distance of our own.

The parser only says what a reply means; ``notifications.reply_actions``
decides what to do about it. A number argument ("JA 2", "JA 4821") is given
back as it is: small numbers choose among the appointments a numbered
message listed, four digits are an offer's code (see ``reply_actions``).
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import Any, Final

from rapidfuzz.distance import OSA

DATA_FILE: Final = Path(__file__).parent / "data" / "reply_keywords.json"
#: Keywords shorter than this match with a typo only as a letter too many ("JAA").
TYPO_FROM_LENGTH: Final = 4
#: The longest number taken as an argument (a code has four digits).
MAX_NUMBER_DIGITS: Final = 6
#: An offer's code has exactly this many digits ("JA 0482").
CODE_DIGITS: Final = 4


class Intent(StrEnum):
    CONFIRM = "confirm"
    CHANGE = "change"
    CANCEL = "cancel"
    STOP = "stop"
    START = "start"
    HELP = "help"
    #: "HER": the patient has arrived (check-in; acted on by a hook, see reply_actions).
    CHECKIN = "checkin"


@dataclass(frozen=True)
class Reply:
    """What a reply says. ``intent`` None: not understood."""

    intent: Intent | None
    number: int | None = None
    #: The language of the keyword that matched (several may share it: the first).
    language: str | None = None
    #: The keyword as the data file has it.
    keyword: str | None = None
    #: A keyword matched with one typo.
    typo: bool = False
    #: A confirmation with a negation ("jeg kommer ikke"): not understood.
    negated: bool = False
    #: Four digits as written ("JA 0482"): an offer's code, leading zeros kept.
    code: str | None = None


@dataclass(frozen=True)
class Keyword:
    intent: Intent
    language: str
    text: str
    words: tuple[str, ...]


@dataclass(frozen=True)
class Vocabulary:
    keywords: tuple[Keyword, ...]
    precedence: tuple[Intent, ...]
    #: Intents whose keyword must begin the reply.
    at_start: frozenset[Intent]
    negations: frozenset[str]
    never_typos: frozenset[str]


_FOLD: Final = str.maketrans({"æ": "ae", "ø": "o", "đ": "d", "ŋ": "n", "ŧ": "t", "ß": "ss"})
_NOT_WORD: Final = re.compile(r"[^a-z0-9]+")
_DIGITS: Final = re.compile(r"(\d+)")


def fold(text: str) -> str:
    """Lower case, no accents, letters and digits only, single spaces."""
    text = unicodedata.normalize("NFKC", text).lower().translate(_FOLD)
    text = "".join(c for c in unicodedata.normalize("NFKD", text)
                   if not unicodedata.combining(c))
    text = text.replace("'", "").replace("\u2019", "")  # can't -> cant
    text = _DIGITS.sub(r" \1 ", text)  # "JA2" -> "ja 2"
    return " ".join(_NOT_WORD.sub(" ", text).split())


def load(data: Mapping[str, Any]) -> Vocabulary:
    keywords: list[Keyword] = []
    for language, intents in data["languages"].items():
        for intent, texts in intents.items():
            for text in texts:
                words = tuple(fold(text).split())
                if not words:
                    raise ValueError(f"an empty keyword for {language} {intent}")
                keywords.append(Keyword(Intent(intent), language, text, words))
    return Vocabulary(
        keywords=tuple(keywords),
        precedence=tuple(Intent(i) for i in data["precedence"]),
        at_start=frozenset(Intent(i) for i in data.get("at_start", ())),
        negations=frozenset(fold(w) for words in data["negations"].values() for w in words),
        never_typos=frozenset(fold(w) for w in data.get("never_typos", ())))


@cache
def vocabulary() -> Vocabulary:
    """The data file's words (read once)."""
    return load(json.loads(DATA_FILE.read_text(encoding="utf-8")))


def _word_typos(said: str, keyword: str, vocab: Vocabulary) -> int | None:
    """0 if ``said`` is ``keyword``, 1 if it is one typo away, else None."""
    if said == keyword:
        return 0
    if said in vocab.never_typos:
        return None
    if len(keyword) < TYPO_FROM_LENGTH and len(said) != len(keyword) + 1:
        return None
    distance = OSA.distance(said, keyword, score_cutoff=1)
    return distance if distance <= 1 else None


def _phrase_typos(words: Sequence[str], keyword: Keyword, vocab: Vocabulary) -> int | None:
    """Typos of the best match of ``keyword`` in ``words`` (None: no match).

    One word: exactly anywhere, or with a typo as the first word. Several:
    in order with anything between, one typo in all. An intent of
    ``at_start``: its first word must be the reply's first."""
    if keyword.intent in vocab.at_start:
        if not words:
            return None
        first = _word_typos(words[0], keyword.words[0], vocab)
        if first is None:
            return None
        if len(keyword.words) == 1:
            return first
        rest = Keyword(keyword.intent, keyword.language, keyword.text, keyword.words[1:])
        others = _phrase_typos(words[1:], rest, replace(vocab, at_start=frozenset()))
        return None if others is None or first + others > 1 else first + others
    if len(keyword.words) == 1:
        target = keyword.words[0]
        if target in words:
            return 0
        return _word_typos(words[0], target, vocab) if words else None
    typos, position = 0, 0
    for target in keyword.words:
        for index in range(position, len(words)):
            found = _word_typos(words[index], target, vocab)
            if found is not None and typos + found <= 1:
                typos += found
                position = index + 1
                break
        else:
            return None
    return typos


def parse(text: str, vocab: Vocabulary | None = None) -> Reply:
    """What the reply ``text`` asks for (see the module's docstring)."""
    vocab = vocab or vocabulary()
    tokens = fold(text).split()
    number: int | None = None
    code: str | None = None
    words: list[str] = []
    for token in tokens:
        if token.isdigit():
            if number is None and len(token) <= MAX_NUMBER_DIGITS:
                number = int(token)
                code = token if len(token) == CODE_DIGITS else None
            continue
        words.append(token)
    best: dict[Intent, tuple[int, int, Keyword]] = {}
    for keyword in vocab.keywords:
        typos = _phrase_typos(words, keyword, vocab)
        if typos is None:
            continue
        # Exact before a typo, then the longest phrase.
        rank = (typos, -len(keyword.words))
        if keyword.intent not in best or rank < best[keyword.intent][:2]:
            best[keyword.intent] = (*rank, keyword)
    if not best:
        return Reply(None, number, code=code)
    exact = {intent: found for intent, found in best.items() if found[0] == 0}
    candidates = exact or best
    intent = next(i for i in vocab.precedence if i in candidates)
    typos, _, keyword = candidates[intent]
    if intent is Intent.CONFIRM and vocab.negations.intersection(words):
        return Reply(None, number, keyword.language, keyword.text, bool(typos), negated=True,
                     code=code)
    return Reply(intent, number, keyword.language, keyword.text, bool(typos), code=code)
