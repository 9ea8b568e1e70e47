"""Settings of the login side: the local provider never runs in production."""

from __future__ import annotations

import pytest

from core.settings import Settings, SettingsError
from tests.environments import GOOD_PRODUCTION
from web.app import create_app
from web.auth.config import client_config, local_clients
from web.auth.routes import auth_routes

# A production environment that may start, with a JWK for ID-porten.
PRODUCTION = {**GOOD_PRODUCTION, "IDPORTEN_CLIENT_JWK": '{"kty": "RSA"}'}
del PRODUCTION["IDPORTEN_CLIENT_SECRET"]


def test_production_mounts_no_local_provider():
    settings = Settings.from_env(PRODUCTION)
    assert not settings.local_login
    paths = [getattr(route, "path", "") for route in auth_routes(settings)]
    assert "/auth/login" in paths and not any(p.startswith("/dev/") for p in paths)


@pytest.mark.parametrize("unset", ["IDPORTEN_DISCOVERY_URL", "STAFF_OIDC_DISCOVERY_URL"])
def test_production_refuses_to_start_without_a_real_provider(unset):
    with pytest.raises(SettingsError, match="local test login"):
        Settings.from_env({**PRODUCTION, unset: ""})


@pytest.mark.parametrize(("unset", "message"), [
    ("IDPORTEN_CLIENT_ID", "IDPORTEN_CLIENT_ID is unset"),
    ("IDPORTEN_CLIENT_JWK", "neither IDPORTEN_CLIENT_JWK nor IDPORTEN_CLIENT_SECRET"),
    ("STAFF_OIDC_CLIENT_SECRET", "neither STAFF_OIDC_CLIENT_JWK"),
])
def test_production_needs_client_credentials(unset, message):
    with pytest.raises(SettingsError, match=message):
        Settings.from_env({**PRODUCTION, unset: ""})


def test_even_a_hand_made_production_app_refuses_the_local_provider():
    settings = Settings(env="production", secret_key="k" * 48, public_url="https://t.no",
                        database_url="postgresql+asyncpg://x@db/x", allow_synthetic_ids=False)
    with pytest.raises(SettingsError):
        create_app(settings)
    with pytest.raises(SettingsError):
        auth_routes(settings)


def test_dev_defaults():
    settings = Settings.from_env({"SECRET_KEY": "x" * 40})
    assert settings.local_login and settings.idporten_client_id == "tanntid-local"
    assert settings.idporten_acr == "idporten-loa-substantial"
    assert (settings.session_idle_minutes, settings.session_max_minutes) == (30, 120)
    config = client_config(settings, "patient")
    assert config.client_secret and config.client_secret not in repr(config)
    assert config.redirect_uri == "http://127.0.0.1:8000/auth/callback"
    assert set(local_clients(settings)) == {"tanntid-local", "tanntid-staff-local"}


def test_unknown_acr_and_bad_timeouts_are_refused():
    with pytest.raises(SettingsError):
        Settings.from_env({"SECRET_KEY": "x" * 40, "IDPORTEN_ACR": "idporten-loa-low"})
    with pytest.raises(SettingsError):
        Settings.from_env({"SECRET_KEY": "x" * 40, "SESSION_IDLE_MINUTES": "200"})


def test_secrets_are_not_printed():
    settings = Settings.from_env(PRODUCTION)
    assert "s" * 40 not in repr(settings) and '"kty"' not in repr(settings)
