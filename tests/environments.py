"""Environments (the variables ``Settings.from_env`` reads) for tests."""

from __future__ import annotations

#: A production setup that passes every check: each test changes one thing.
GOOD_PRODUCTION = {
    "TANNTID_ENV": "production",
    # secrets.token_urlsafe(48), as the README says to make one.
    "SECRET_KEY": "q3J9vX2-LmT8aR5wZcN1_kF7yHbD4pEsU0gVoQiW6tYxCnMe",
    "METRICS_TOKEN": "Wm5pX8cR2-vLq7TzN0aJ4_yEd9KsB3hG",
    "PUBLIC_URL": "https://tanntid.example.no",
    "DATABASE_URL": "postgresql+asyncpg://tanntid@db/tanntid",
    "IDPORTEN_DISCOVERY_URL": "https://idporten.no/.well-known/openid-configuration",
    "STAFF_OIDC_DISCOVERY_URL": "https://login.example.no/.well-known/openid-configuration",
    "IDPORTEN_CLIENT_ID": "tanntid",
    "IDPORTEN_CLIENT_SECRET": "s" * 40,
    "STAFF_OIDC_CLIENT_ID": "tanntid-staff",
    "STAFF_OIDC_CLIENT_SECRET": "s" * 40,
    "TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
    "TWILIO_AUTH_TOKEN": "a" * 32,
    "KRR_API_URL": "https://kontaktregisteret.no",
    "MASKINPORTEN_TOKEN_URL": "https://maskinporten.no/token",
    "MASKINPORTEN_CLIENT_ID": "tanntid-krr",
    "MASKINPORTEN_CLIENT_JWK": '{"kty": "RSA"}',
    "TWILIO_MESSAGING_SERVICE_SID": "MG" + "0" * 32,
    "HELSENORGE_API_URL": "https://helsenorge.example/timeavtaler/api/v1",
    "HELSEID_TOKEN_URL": "https://helseid-sts.nhn.no/connect/token",
    "HELSEID_CLIENT_ID": "tanntid-helseid",
    "HELSEID_CLIENT_JWK": '{"kty": "RSA"}',
    "HELSENORGE_ORG_NUMBER": "974770482",
    "PERSON_API_URL": "https://persontjenesten.example/api",
}
