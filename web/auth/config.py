"""The two OIDC client configurations (patients at ID-porten, staff at the
county's identity provider), and how the local test provider knows them,
all derived from :class:`core.settings.Settings`."""

from __future__ import annotations

import base64
from dataclasses import dataclass

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from core.settings import Settings
from idporten.client import ClientConfig
from idporten.local_clients import Audience, RegisteredClient, public_part

#: Where the local test provider is mounted (its issuer is PUBLIC_URL + this).
LOCAL_PATH = "/dev/idporten"
WELL_KNOWN = "/.well-known/openid-configuration"

@dataclass(frozen=True)
class Paths:
    """The routes of one login flow."""

    prefix: str

    @property
    def login(self) -> str:
        return f"{self.prefix}/login"

    @property
    def callback(self) -> str:
        return f"{self.prefix}/callback"

    @property
    def logout(self) -> str:
        return f"{self.prefix}/logout"

    @property
    def logout_callback(self) -> str:
        return f"{self.prefix}/logout/callback"

    @property
    def frontchannel_logout(self) -> str:
        return f"{self.prefix}/frontchannel-logout"


PATIENT_PATHS = Paths("/auth")
STAFF_PATHS = Paths("/staff/auth")


def local_issuer(settings: Settings) -> str:
    return settings.public_url + LOCAL_PATH


def discovery_url(settings: Settings, audience: Audience) -> str:
    configured = (settings.idporten_discovery_url if audience == "patient"
                  else settings.staff_oidc_discovery_url)
    return configured or local_issuer(settings) + WELL_KNOWN


def uses_local_provider(settings: Settings, audience: Audience) -> bool:
    configured = (settings.idporten_discovery_url if audience == "patient"
                  else settings.staff_oidc_discovery_url)
    return configured is None


def local_client_secret(settings: Settings, client_id: str) -> str:
    """The client secret the app and the local provider share when no
    credentials are configured (derived from SECRET_KEY; dev and tests only)."""
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
               info=b"tanntid:local-client-secret:" + client_id.encode()
               ).derive(settings.secret_key.encode())
    return base64.urlsafe_b64encode(key).decode().rstrip("=")


def client_config(settings: Settings, audience: Audience) -> ClientConfig:
    if audience == "patient":
        client_id, jwk, secret = (settings.idporten_client_id, settings.idporten_client_jwk,
                                  settings.idporten_client_secret)
        paths = PATIENT_PATHS
    else:
        client_id, jwk, secret = (settings.staff_oidc_client_id, settings.staff_oidc_client_jwk,
                                  settings.staff_oidc_client_secret)
        paths = STAFF_PATHS
    if not jwk and not secret and uses_local_provider(settings, audience):
        secret = local_client_secret(settings, client_id)
    return ClientConfig(
        client_id=client_id,
        redirect_uri=settings.public_url + paths.callback,
        post_logout_redirect_uri=settings.public_url + paths.logout_callback,
        required_acr=settings.idporten_acr if audience == "patient" else None,
        client_jwk=jwk, client_secret=secret,
        require_pid=audience == "patient",
        allow_synthetic=settings.allow_synthetic_ids,
    )


def local_clients(settings: Settings) -> dict[str, RegisteredClient]:
    """The clients that use the local provider, registered as the app uses them."""
    clients: dict[str, RegisteredClient] = {}
    flows: tuple[tuple[Audience, Paths], ...] = (("patient", PATIENT_PATHS),
                                                 ("staff", STAFF_PATHS))
    for audience, paths in flows:
        if not uses_local_provider(settings, audience):
            continue
        config = client_config(settings, audience)
        base = settings.public_url
        clients[config.client_id] = RegisteredClient(
            client_id=config.client_id, audience=audience,
            redirect_uris=(base + paths.callback,),
            post_logout_redirect_uris=(base + paths.logout_callback,),
            frontchannel_logout_uri=base + paths.frontchannel_logout,
            secret=None if config.client_jwk else config.client_secret,
            public_jwk=public_part(config.client_jwk) if config.client_jwk else None,
        )
    return clients
