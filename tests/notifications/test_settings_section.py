"""The notification settings are the service's settings, typed for the package."""

from __future__ import annotations

from dataclasses import fields

from core.settings import NotificationSettings, Settings

ENVIRONMENT = {
    "SECRET_KEY": "s" * 40, "PUBLIC_URL": "https://tanntid.example.no",
    "REDIS_URL": "redis://127.0.0.1:6379/3", "NOTIFICATION_QUEUE": "elsewhere",
    "NOTIFICATION_RETENTION_DAYS": "9", "WORKER_METRICS_PORT": "9105",
    "TWILIO_ACCOUNT_SID": "AC1", "TWILIO_AUTH_TOKEN": "token-secret",
    "TWILIO_FROM": "+4740000000", "KRR_API_URL": "https://krr.example",
    "MASKINPORTEN_TOKEN_URL": "https://mp.example/token", "MASKINPORTEN_CLIENT_ID": "c",
    "MASKINPORTEN_CLIENT_JWK": "jwk-secret", "KRR_CACHE_TTL": "60",
    "HELSENORGE_API_URL": "https://hn.example/api", "HELSEID_TOKEN_URL": "https://h.example/t",
    "HELSEID_CLIENT_ID": "h", "HELSEID_CLIENT_JWK": "helseid-secret",
    "HELSENORGE_ORG_NUMBER": "974770482",
}


def test_every_notification_setting_is_the_service_setting_of_that_name():
    settings = Settings.from_env(ENVIRONMENT)
    section = settings.notifications
    for field in fields(NotificationSettings):
        assert getattr(section, field.name) == getattr(settings, field.name), field.name
    assert section.krr_configured and section.notification_retention_days == 9
    assert section.worker_metrics_port == 9105 and section.dev_tools


def test_secrets_stay_out_of_its_repr():
    shown = repr(Settings.from_env(ENVIRONMENT).notifications)
    for secret in ("s" * 40, "token-secret", "jwk-secret", "helseid-secret", "redis://"):
        assert secret not in shown
