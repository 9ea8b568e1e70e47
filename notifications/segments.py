"""How many SMS segments a text takes, and in which encoding.

An SMS carries 140 bytes. Texts are sent in one of two encodings:

* **GSM-7** (GSM 03.38): 7-bit septets, 160 per single message, 153 per part
  when the text is split (the user data header of a concatenated SMS takes 7
  septets). Characters of the *extension table* (``^ { } \\ [ ~ ] | €`` and form
  feed) are an escape plus a character: two septets each, and an escape pair is
  never split across parts.
* **UCS-2** (UTF-16): 70 code units per single message, 67 per part. A
  character outside the Basic Multilingual Plane (most emoji) takes two code
  units (a surrogate pair), which is never split across parts either.

A single character outside GSM-7 turns the whole text into UCS-2. Norwegian
Bokmål and Nynorsk fit GSM-7 (Æ æ Ø ø Å å are in the basic set); an en dash
``–``, typographic quotes, or Northern Sami letters (á č đ ŋ š ŧ ž) do not.
Twilio picks the most compact encoding itself; these counts match what it
bills (see https://www.twilio.com/docs/glossary/what-is-ucs-2-character-encoding).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Encoding = Literal["GSM-7", "UCS-2"]

#: The GSM 03.38 basic character set (the escape 0x1B itself excluded).
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
#: The GSM 03.38 extension table: each costs an escape septet plus itself.
GSM7_EXTENSION = frozenset("^{}\\[~]|€\f")

GSM7_SINGLE, GSM7_PART = 160, 153
UCS2_SINGLE, UCS2_PART = 70, 67


@dataclass(frozen=True)
class SegmentCount:
    encoding: Encoding
    #: Septets (GSM-7) or UTF-16 code units (UCS-2) the text needs.
    units: int
    segments: int
    #: Units that fit in one segment at this length (160/153 or 70/67).
    per_segment: int


def is_gsm7(text: str) -> bool:
    return all(ch in GSM7_BASIC or ch in GSM7_EXTENSION for ch in text)


def non_gsm7_characters(text: str) -> list[str]:
    """The characters that force ``text`` into UCS-2, in order of first use."""
    seen: dict[str, None] = {}
    for ch in text:
        if ch not in GSM7_BASIC and ch not in GSM7_EXTENSION:
            seen.setdefault(ch, None)
    return list(seen)


def _pack(costs: list[int], single: int, part: int) -> tuple[int, int]:
    """(total units, segments) when characters of these unit costs are packed
    into parts without splitting any character."""
    total = sum(costs)
    if total <= single:
        return total, 1
    segments, used = 1, 0
    for cost in costs:
        if used + cost > part:
            segments += 1
            used = 0
        used += cost
    return total, segments


def count_segments(text: str) -> SegmentCount:
    """The encoding, size and number of segments of ``text`` as an SMS. An
    empty text still takes one segment."""
    if is_gsm7(text):
        costs = [2 if ch in GSM7_EXTENSION else 1 for ch in text]
        units, segments = _pack(costs, GSM7_SINGLE, GSM7_PART)
        per = GSM7_SINGLE if segments == 1 else GSM7_PART
        return SegmentCount("GSM-7", units, segments, per)
    costs = [2 if ord(ch) > 0xFFFF else 1 for ch in text]
    units, segments = _pack(costs, UCS2_SINGLE, UCS2_PART)
    per = UCS2_SINGLE if segments == 1 else UCS2_PART
    return SegmentCount("UCS-2", units, segments, per)
