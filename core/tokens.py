"""One key derivation and one token codec for everything the service signs.

Each use of the service's secret gets its own key, derived with a label that
names the use (``derive_key(secret, "tanntid: signed links")``), so a tag made
for one purpose can never be replayed as another. Tokens are unpadded
base64url with exactly one spelling per byte string: :func:`decode` refuses
any other encoding of the same bytes, so a token cannot be varied without
changing what it says.

One older derivation stays, for SMS links already sent:
:func:`derive_prefixed_key` (a plain SHA-256 of a prefix and the secret).
Nothing new uses it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from typing import Final

_BASE64URL: Final = re.compile(r"[A-Za-z0-9_-]*")


def derive_key(secret: str, label: str) -> bytes:
    """The 32-byte key for one use (``label``) of the service's secret."""
    if not secret:
        raise ValueError("no secret to derive a key from")
    return hmac.new(secret.encode(), label.encode(), hashlib.sha256).digest()


def derive_prefixed_key(secret: str, prefix: bytes) -> bytes:
    """The 32-byte key ``SHA-256(prefix + secret)``: the derivation SMS links
    were signed with before :func:`derive_key` (``prefix``
    ``b"tanntid:sms-link:v1:"``). Kept, byte for byte, so links already sent
    keep working; new uses take :func:`derive_key`. Unlike it, an empty
    secret is not refused here, as it never was."""
    return hashlib.sha256(prefix + secret.encode()).digest()


def mac(key: bytes, message: bytes, length: int) -> bytes:
    """The first ``length`` bytes of HMAC-SHA256 of ``message`` under ``key``."""
    return hmac.new(key, message, hashlib.sha256).digest()[:length]


def same(a: bytes, b: bytes) -> bool:
    """Constant-time comparison of two tags."""
    return hmac.compare_digest(a, b)


def encode(raw: bytes) -> str:
    """Unpadded base64url."""
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def decode(token: str) -> bytes | None:
    """The bytes of an unpadded base64url token in its one canonical
    spelling; None for anything else."""
    if not _BASE64URL.fullmatch(token) or len(token) % 4 == 1:
        return None
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError):
        return None
    if encode(raw) != token:
        return None
    return raw


def int_bytes(value: int, max_bytes: int = 8) -> bytes:
    """``value`` big-endian in as few bytes as it needs (at least one);
    ValueError outside 0 … 2**(8 × max_bytes) − 1."""
    if value < 0 or value.bit_length() > 8 * max_bytes:
        raise ValueError(f"a value here is a non-negative {8 * max_bytes}-bit integer")
    return value.to_bytes(max(1, (value.bit_length() + 7) // 8), "big")
