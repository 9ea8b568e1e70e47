"""The one key derivation and token codec."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from core import tokens


def test_derive_key_is_hmac_of_the_label_under_the_secret() -> None:
    expected = hmac.new(b"s" * 32, b"tanntid: signed links", hashlib.sha256).digest()
    assert tokens.derive_key("s" * 32, "tanntid: signed links") == expected
    assert tokens.derive_key("s" * 32, "another use") != expected
    with pytest.raises(ValueError):
        tokens.derive_key("", "tanntid: signed links")


def test_the_prefixed_derivation_is_sha256_of_prefix_and_secret() -> None:
    assert tokens.derive_prefixed_key("secret", b"tanntid:sms-link:v1:") == hashlib.sha256(
        b"tanntid:sms-link:v1:secret").digest()
    assert len(tokens.derive_prefixed_key("", b"p")) == 32


def test_mac_is_truncated_hmac_and_same_compares() -> None:
    key = tokens.derive_key("secret", "label")
    tag = tokens.mac(key, b"message", 6)
    assert tag == hmac.new(key, b"message", hashlib.sha256).digest()[:6]
    assert tokens.same(tag, tokens.mac(key, b"message", 6))
    assert not tokens.same(tag, tokens.mac(key, b"massage", 6))


@pytest.mark.parametrize("raw", [b"", b"\x00", b"\xff" * 13, bytes(range(20))])
def test_encode_decode_round_trip(raw: bytes) -> None:
    token = tokens.encode(raw)
    assert "=" not in token
    assert tokens.decode(token) == raw


@pytest.mark.parametrize("token", ["A", "AB=", "AB+/", "AB.C", "AB", "AAB", " AA"])
def test_decode_refuses_other_spellings(token: str) -> None:
    # "AB" and "AAB" carry set bits beyond the last byte: not canonical.
    assert tokens.decode(token) is None


@pytest.mark.parametrize(("value", "raw"), [(0, b"\x00"), (255, b"\xff"), (256, b"\x01\x00"),
                                           (2**64 - 1, b"\xff" * 8)])
def test_int_bytes_is_minimal_big_endian(value: int, raw: bytes) -> None:
    assert tokens.int_bytes(value) == raw


@pytest.mark.parametrize("value", [-1, 2**64])
def test_int_bytes_refuses_what_does_not_fit(value: int) -> None:
    with pytest.raises(ValueError):
        tokens.int_bytes(value)
