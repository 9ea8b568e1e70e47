"""A short booking reference a patient can read out to the clinic on the
phone ("TT-3R9-K2X"), and back to the appointment id.

Crockford's base 32 (no I, L, O or U, so nothing is misheard or misread;
``O`` is read as zero and ``I``/``L`` as one when typed back), the id padded
to five symbols, then one check symbol: a weighted sum with odd weights, so
any one wrong symbol is caught. The reference names an appointment, not a
person; it is no secret and no key (staff look it up behind their login).
"""

from __future__ import annotations

from typing import Final

ALPHABET: Final = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
PREFIX: Final = "TT"
_BODY_LENGTH: Final = 5
_READ_AS: Final = {"O": "0", "I": "1", "L": "1"}


def _check(body: str) -> str:
    total = sum((2 * position + 1) * ALPHABET.index(symbol)
                for position, symbol in enumerate(reversed(body)))
    return ALPHABET[total % len(ALPHABET)]


def reference(appointment_id: int) -> str:
    """``TT-`` and the id in base 32 with its check symbol, in groups of three."""
    if appointment_id <= 0:
        raise ValueError("an appointment id is positive")
    digits = ""
    value = appointment_id
    while value:
        value, rest = divmod(value, len(ALPHABET))
        digits = ALPHABET[rest] + digits
    body = digits.rjust(_BODY_LENGTH, "0")
    symbols = body + _check(body)
    groups = [symbols[i:i + 3] for i in range(0, len(symbols), 3)]
    return "-".join([PREFIX, *groups])


def parse_reference(text: str) -> int | None:
    """The appointment id of a reference as typed (any case, with or without
    the ``TT`` and the dashes or spaces); None if it is not one."""
    cleaned = "".join(text.upper().split()).replace("-", "")
    if cleaned.startswith(PREFIX):
        cleaned = cleaned[len(PREFIX):]
    cleaned = "".join(_READ_AS.get(symbol, symbol) for symbol in cleaned)
    if len(cleaned) < _BODY_LENGTH + 1 or any(s not in ALPHABET for s in cleaned):
        return None
    body, check = cleaned[:-1], cleaned[-1]
    if _check(body) != check:
        return None
    value = 0
    for symbol in body:
        value = value * len(ALPHABET) + ALPHABET.index(symbol)
    return value or None
