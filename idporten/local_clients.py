"""The clients the local test ID-porten knows: each one's "self-service"
registration, as the application registers it."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal

Audience = Literal["patient", "staff"]


@dataclass(frozen=True)
class RegisteredClient:
    """A client as the local provider knows it (its "self-service" registration)."""

    client_id: str
    audience: Audience
    redirect_uris: tuple[str, ...]
    post_logout_redirect_uris: tuple[str, ...]
    frontchannel_logout_uri: str | None
    secret: str | None = field(default=None, repr=False)
    public_jwk: dict[str, Any] | None = None


def public_part(jwk_text: str) -> dict[str, Any]:
    """The public members of a JSON Web Key (what a client registers)."""
    jwk = json.loads(jwk_text)
    return {k: jwk[k] for k in ("kty", "n", "e", "kid", "alg", "use") if k in jwk}
