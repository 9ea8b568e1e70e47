"""Settings come from the environment; production refuses unsafe setups."""

from __future__ import annotations

import pytest

from core.settings import Settings, SettingsError
from tests.environments import GOOD_PRODUCTION


def test_defaults_in_dev():
    settings = Settings.from_env({"SECRET_KEY": "x" * 40})
    assert settings.env == "dev"
    assert settings.database_url.startswith("sqlite+aiosqlite:///")
    assert settings.public_url == "http://127.0.0.1:8000"
    assert settings.dev_tools and settings.allow_synthetic_ids
    assert "x" * 40 not in repr(settings)


def test_production_with_everything_set_starts():
    settings = Settings.from_env(GOOD_PRODUCTION)
    assert settings.is_production and not settings.dev_tools
    assert not settings.allow_synthetic_ids


@pytest.mark.parametrize(("change", "message"), [
    ({"SECRET_KEY": ""}, "SECRET_KEY is required"),
    ({"SECRET_KEY": "short"}, "shorter than 32"),
    ({"SECRET_KEY": "a" * 32}, "SECRET_KEY has fewer than 10 different"),
    ({"SECRET_KEY": "k" * 48}, "SECRET_KEY has fewer than 10 different"),
    ({"SECRET_KEY": "0123456789" * 4}, "SECRET_KEY repeats itself"),
    ({"SECRET_KEY": "abcdefghijklmnopqrstuvwxyzABCDEFGH"}, "SECRET_KEY is mostly a run"),
    ({"METRICS_TOKEN": ""}, "neither METRICS_NETWORKS nor METRICS_TOKEN"),
    ({"METRICS_TOKEN": "secret"}, "METRICS_TOKEN is not a long random"),
    ({"PUBLIC_URL": "http://tanntid.example.no"}, "not https"),
    ({"DATABASE_URL": ""}, "embedded SQLite"),
    ({"ALLOW_SYNTHETIC_IDS": "1"}, "synthetic"),
    ({"TWILIO_ACCOUNT_SID": ""}, "TWILIO_ACCOUNT_SID"),
    ({"TWILIO_MESSAGING_SERVICE_SID": ""}, "TWILIO_FROM"),
    ({"KRR_API_URL": ""}, "KRR_API_URL"),
    ({"HELSENORGE_API_URL": ""}, "HELSENORGE_API_URL"),
    ({"HELSEID_CLIENT_JWK": ""}, "HELSEID_"),
    ({"HELSENORGE_ORG_NUMBER": ""}, "HELSENORGE_ORG_NUMBER"),
    ({"PERSON_API_URL": ""}, "PERSON_API_URL and the HELSEID_"),
    ({"HELSEID_TOKEN_URL": ""}, "PERSON_API_URL and the HELSEID_"),
])
def test_production_refuses_unsafe_setups(change, message):
    with pytest.raises(SettingsError, match=message):
        Settings.from_env({**GOOD_PRODUCTION, **change})


async def test_the_contact_register_client_follows_the_settings():
    from cryptography.hazmat.primitives.asymmetric import rsa
    from jwt.algorithms import RSAAlgorithm

    from notifications.contacts import contact_register

    assert contact_register(Settings(secret_key="x" * 40).notifications) is None
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = RSAAlgorithm.to_jwk(key)
    client = contact_register(Settings.from_env({**GOOD_PRODUCTION,
                                                 "MASKINPORTEN_CLIENT_JWK": jwk}).notifications)
    assert client is not None and client.api_url == "https://kontaktregisteret.no"
    await client.aclose()


def test_unknown_environment_is_refused():
    with pytest.raises(SettingsError):
        Settings.from_env({"TANNTID_ENV": "staging", "SECRET_KEY": "x" * 40})


def test_a_generated_secret_key_passes_the_production_screen():
    import secrets

    from core.settings import secret_key_weakness

    assert all(secret_key_weakness(secrets.token_urlsafe(48)) is None for _ in range(200))
    assert all(secret_key_weakness(secrets.token_hex(32)) is None for _ in range(200))


def test_metrics_networks_default_to_loopback_outside_production_only():
    assert Settings.from_env({"SECRET_KEY": "x" * 40}).metrics_networks == \
        ("127.0.0.0/8", "::1/128")
    settings = Settings.from_env(GOOD_PRODUCTION)
    assert settings.metrics_networks == ()
    assert Settings.from_env({**GOOD_PRODUCTION, "METRICS_TOKEN": "",
                              "METRICS_NETWORKS": "10.1.0.0/16, fd00::/8"}).metrics_networks == \
        ("10.1.0.0/16", "fd00::/8")
    with pytest.raises(SettingsError, match="METRICS_NETWORKS"):
        Settings.from_env({"SECRET_KEY": "x" * 40, "METRICS_NETWORKS": "intranet"})


@pytest.mark.parametrize("env", [{"REFILL_WAVE_SIZE": "0"}, {"REFILL_OFFER_MINUTES": "0"},
                                 {"REFILL_MIN_LEAD_HOURS": "-1"}, {"REFILL_WAVE_SIZE": "x"}])
def test_refill_settings_are_checked(env):
    with pytest.raises(SettingsError, match="REFILL_"):
        Settings.from_env({"SECRET_KEY": "k" * 40, **env})


def test_refill_settings_reach_the_worker():
    from notifications.worker import config_from_settings

    settings = Settings.from_env({"SECRET_KEY": "k" * 40, "REFILL_WAVE_SIZE": "5",
                                  "REFILL_OFFER_MINUTES": "20", "REFILL_CHILDREN_FIRST": "off"})
    policy = config_from_settings(settings.notifications).refill
    assert (policy.wave_size, policy.offer_minutes, policy.children_first) == (5, 20, False)
    assert policy.min_lead_hours == 24
