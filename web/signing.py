"""Short signed tokens for links that work without login (they go in SMS,
where every character costs): the calendar file and the directions page of
one appointment.

A token is base64url (no padding) of::

    payload (1–8 bytes, big-endian, no leading zero byte)
    expiry  (4 bytes: Unix seconds, big-endian; good until 2106)
    tag     (8 bytes: HMAC-SHA256 truncated to 64 bits)

The tag covers a version label, the *purpose* and the bytes before it, so a
calendar token is no directions token, and neither outlives its expiry. Ids
below 2**32 give at most 22 characters (an id below 256 gives 18).

A 64-bit tag is plenty for links checked online by this server: a forger must
guess the one tag in 2**64 for each try, and each try is a request (NIST SP
800-107 Rev. 1 sets 32 bits as the least for a truncated HMAC). The payload
is readable by whoever holds the link, so it is only ever an appointment
(chain) id, never an identity number or anything else about a person. The
signing key is derived from SECRET_KEY for this use alone (kept apart from
the identity-number vault's keys).
"""

from __future__ import annotations

import math
import re
from datetime import datetime
from typing import Final

from core import tokens

#: The label this use of SECRET_KEY derives its key with (:func:`core.tokens.derive_key`).
_KEY_LABEL: Final = "tanntid: signed links"
_VERSION: Final = b"tanntid-link-v1"
_TAG_BYTES: Final = 8
_EXPIRY_BYTES: Final = 4
_MAX_PAYLOAD_BYTES: Final = 8
_PURPOSE = re.compile(r"[a-z][a-z0-9_-]{0,31}")


def _tag(purpose: str, body: bytes, secret: str) -> bytes:
    message = _VERSION + b"\x00" + purpose.encode("ascii") + b"\x00" + body
    return tokens.mac(tokens.derive_key(secret, _KEY_LABEL), message, _TAG_BYTES)


def _check_purpose(purpose: str) -> None:
    if not _PURPOSE.fullmatch(purpose):
        raise ValueError(f"a purpose is a short lower-case word, not {purpose!r}")


def _aware(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("naive datetime: pass an aware (UTC) time")
    return moment


def sign(purpose: str, payload: int, expires_at: datetime, secret: str) -> str:
    """A token for ``payload`` (an appointment or chain id) that ``verify``
    accepts for ``purpose`` until ``expires_at``."""
    _check_purpose(purpose)
    payload_bytes = tokens.int_bytes(payload, _MAX_PAYLOAD_BYTES)
    expiry = math.ceil(_aware(expires_at).timestamp())  # never earlier than asked
    if not 0 < expiry < 2 ** (8 * _EXPIRY_BYTES):
        raise ValueError("expiry out of range")
    body = payload_bytes + expiry.to_bytes(_EXPIRY_BYTES, "big")
    return tokens.encode(body + _tag(purpose, body, secret))


def verify(purpose: str, token: str, secret: str, now: datetime) -> int | None:
    """The payload of a genuine, unexpired ``token`` made for ``purpose``;
    None for anything else (tampered, truncated, other purpose, expired)."""
    _check_purpose(purpose)
    raw = tokens.decode(token)
    if raw is None:
        return None
    body, tag = raw[:-_TAG_BYTES], raw[-_TAG_BYTES:]
    id_bytes, expiry_bytes = body[:-_EXPIRY_BYTES], body[-_EXPIRY_BYTES:]
    if not 1 <= len(id_bytes) <= _MAX_PAYLOAD_BYTES:
        return None
    if not tokens.same(tag, _tag(purpose, body, secret)):
        return None
    if _aware(now).timestamp() >= int.from_bytes(expiry_bytes, "big"):
        return None
    return int.from_bytes(id_bytes, "big")
