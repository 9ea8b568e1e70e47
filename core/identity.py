"""Norwegian identity numbers (fødselsnummer, D-nummer) and how we keep them.

Validation follows Skatteetaten's rules:

* 11 digits: DDMMYY, a three-digit individual number, two check digits (mod 11).
* D-nummer: day + 40. H-nummer (month + 40) is not accepted for login.
* Synthetic test numbers from the national test register (Tenor, also used by
  ID-porten's TestID and the test KRR) have month + 80. They are accepted only
  when ``allow_synthetic`` is on, which production never sets.
* From 2032 the first check digit may come out of the mod-11 sum with a
  remainder of 0, 1, 2 or 3 (``k1`` has four possible values); numbers issued
  before then satisfy the old rule, which is the remainder-0 case. The second
  check digit is unchanged. We accept both, as the register requires.
  (Skatteetaten, "Fødselsnummer 2032".) We never derive birth date or gender
  from the number: those come from the register.

The number itself is stored encrypted (Fernet) and looked up by a keyed
hash (HMAC-SHA256), so a copy of the database alone reveals neither.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import random
from dataclasses import dataclass
from datetime import date

from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

K1_WEIGHTS = (3, 7, 6, 1, 8, 9, 4, 5, 2)
K2_WEIGHTS = (5, 4, 3, 2, 7, 6, 5, 4, 3, 2)


class InvalidIdentityNumber(ValueError):
    """The text is not an identity number we accept."""


@dataclass(frozen=True)
class IdentityNumber:
    value: str
    kind: str  # "fnr" or "dnr"
    synthetic: bool

    def __repr__(self) -> str:  # never print the number itself
        return f"IdentityNumber(kind={self.kind!r}, synthetic={self.synthetic})"

    __str__ = __repr__

    @property
    def fhir_system(self) -> str:
        return "urn:oid:2.16.578.1.12.4.1.4.1" if self.kind == "fnr" else \
            "urn:oid:2.16.578.1.12.4.1.4.2"


def _k1_candidates(digits: list[int]) -> list[int]:
    total = sum(w * d for w, d in zip(K1_WEIGHTS, digits[:9], strict=True))
    # k1 = (11 - (total + r) % 11) % 11 style: the check sum including k1 must
    # leave a remainder r in {0, 1, 2, 3} (r = 0 is the pre-2032 rule).
    candidates = []
    for k1 in range(10):
        if (total + k1) % 11 in (0, 1, 2, 3):
            candidates.append(k1)
    return candidates


def _k2(digits: list[int]) -> int | None:
    total = sum(w * d for w, d in zip(K2_WEIGHTS, digits[:10], strict=True))
    k2 = (11 - total % 11) % 11
    return None if k2 == 10 else k2


def parse(text: str, *, allow_synthetic: bool = False, today: date | None = None
          ) -> IdentityNumber:
    value = text.strip().replace(" ", "")
    if len(value) != 11 or not value.isdigit():
        raise InvalidIdentityNumber("must be 11 digits")
    digits = [int(c) for c in value]
    if digits[9] not in _k1_candidates(digits):
        raise InvalidIdentityNumber("first check digit is wrong")
    if _k2(digits) != digits[10]:
        raise InvalidIdentityNumber("second check digit is wrong")
    day, month = int(value[0:2]), int(value[2:4])
    kind = "fnr"
    synthetic = False
    if day > 40:
        kind, day = "dnr", day - 40
    if month > 80:
        if not allow_synthetic:
            raise InvalidIdentityNumber("synthetic test numbers are not accepted here")
        synthetic, month = True, month - 80
    if not (1 <= month <= 12):
        raise InvalidIdentityNumber("month out of range")
    if not (1 <= day <= 31):
        raise InvalidIdentityNumber("day out of range")
    # The year's century is not encoded after 2032; check only that the day
    # exists in some year (29 February: a leap year such as 2000).
    try:
        date(2000, month, day)
    except ValueError as exc:
        raise InvalidIdentityNumber("no such date") from exc
    return IdentityNumber(value, kind, synthetic)


def is_valid(text: str, *, allow_synthetic: bool = False) -> bool:
    try:
        parse(text, allow_synthetic=allow_synthetic)
    except InvalidIdentityNumber:
        return False
    return True


def synthetic_number(birth_date: date, rng: random.Random, *, d_number: bool = False) -> str:
    """A synthetic number of the national test register's kind (month + 80)
    under the pre-2032 check rule, for demo data and tests."""
    day = birth_date.day + (40 if d_number else 0)
    head = f"{day:02d}{birth_date.month + 80:02d}{birth_date.year % 100:02d}"
    while True:
        individual = f"{rng.randrange(0, 1000):03d}"
        digits = [int(c) for c in head + individual]
        total = sum(w * d for w, d in zip(K1_WEIGHTS, digits, strict=True))
        k1 = (11 - total % 11) % 11
        if k1 == 10:
            continue
        k2 = _k2([*digits, k1])
        if k2 is None:
            continue
        return head + individual + str(k1) + str(k2)


@dataclass(frozen=True)
class IdentityVault:
    """Keyed hashing and encryption of identity numbers."""

    hash_key: bytes
    fernet: Fernet

    @classmethod
    def from_secret(cls, secret: str) -> IdentityVault:
        def derive(label: bytes) -> bytes:
            return HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                        info=b"tanntid:" + label).derive(secret.encode())

        return cls(derive(b"identity-hash"),
                   Fernet(base64.urlsafe_b64encode(derive(b"identity-encryption"))))

    def lookup_hash(self, number: str) -> bytes:
        return hmac.new(self.hash_key, number.encode(), hashlib.sha256).digest()

    def encrypt(self, number: str) -> bytes:
        return self.fernet.encrypt(number.encode())

    def decrypt(self, token: bytes) -> str:
        return self.fernet.decrypt(token).decode()
