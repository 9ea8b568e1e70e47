"""All settings, read once from the environment (12-factor) into one typed
object. Each is documented in the README's settings table; a test keeps the
two in step. Secrets are never printed: ``repr`` hides them."""

from __future__ import annotations

import ipaddress
import itertools
import math
import os
import secrets
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, Literal

from core.ratelimit import Rule

ROOT = Path(__file__).resolve().parent.parent
VAR = ROOT / "var"

Environment = Literal["dev", "test", "production"]

#: name -> (default shown in the README, meaning). The README table lists these.
DOCUMENTED: dict[str, tuple[str, str]] = {
    "TANNTID_ENV": ("dev", "`dev`, `test` or `production`; production refuses dev-only parts"),
    "DATABASE_URL": ("sqlite+aiosqlite:///var/tanntid.sqlite3",
                     "SQLAlchemy async URL; PostgreSQL (`postgresql+asyncpg://…`) in production; "
                     "`?schema=name` selects a PostgreSQL schema"),
    "PUBLIC_URL": ("http://127.0.0.1:8000 (`tanntid serve`: its own host and port)",
                   "the address users reach the service at"),
    "SECRET_KEY": ("generated into `var/secret_key` in dev",
                   "signs links and keys identity-number hashing and encryption; "
                   "required in production: at least 32 characters of real randomness "
                   "(`python3 -c 'import secrets; print(secrets.token_urlsafe(48))'`)"),
    "REDIS_URL": ("(unset)", "Redis for the job queue and readiness; unset = in-process jobs"),
    "NOTIFICATION_QUEUE": ("tanntid:notifications",
                           "the arq queue of the notification jobs (one per deployment "
                           "sharing a Redis)"),
    "PORT": ("8000", "port for `tanntid serve` and `make run`"),
    "HOST": ("127.0.0.1", "interface for `tanntid serve`"),
    "LOG_JSON": ("off in dev, on otherwise", "JSON log lines"),
    "LOG_LEVEL": ("INFO", "minimum log level"),
    "ALLOW_SYNTHETIC_IDS": ("on outside production",
                            "accept synthetic test identity numbers (month + 80)"),
    "IDPORTEN_DISCOVERY_URL": ("(unset: the local test ID-porten at `/dev/idporten`)",
                               "ID-porten's discovery document, e.g. "
                               "`https://test.idporten.no/.well-known/openid-configuration`; "
                               "required in production"),
    "IDPORTEN_CLIENT_ID": ("`tanntid-local` outside production",
                           "our client id at ID-porten; required in production"),
    "IDPORTEN_CLIENT_JWK": ("(unset)", "private RSA key as a JWK (JSON, with `kid`) for "
                            "`private_key_jwt` client authentication (Digdir's recommendation)"),
    "IDPORTEN_CLIENT_SECRET": ("(unset)", "client secret for `client_secret_post`, "
                               "when no JWK is set"),
    "IDPORTEN_ACR": ("idporten-loa-substantial",
                     "the lowest level of assurance accepted (`idporten-loa-high` to require "
                     "BankID, Buypass or Commfides)"),
    "SESSION_IDLE_MINUTES": ("30", "a login session ends after this long without a request"),
    "SESSION_MAX_MINUTES": ("120", "a login session ends this long after login, however busy"),
    "STAFF_OIDC_DISCOVERY_URL": ("(unset: staff test users of the local test login)",
                                 "discovery document of the county's staff identity provider; "
                                 "required in production"),
    "STAFF_OIDC_CLIENT_ID": ("`tanntid-staff-local` outside production",
                             "our client id at the staff identity provider"),
    "STAFF_OIDC_CLIENT_JWK": ("(unset)", "private key (JWK) for `private_key_jwt` at the "
                              "staff identity provider"),
    "TWILIO_ACCOUNT_SID": ("unset: SMS go to the local outbox `/dev/sms`",
                           "Twilio account; refused unset in production"),
    "TWILIO_AUTH_TOKEN": ("unset", "Twilio auth token; also verifies status-callback signatures"),
    "TWILIO_MESSAGING_SERVICE_SID": ("unset", "the Twilio messaging service that sends"),
    "TWILIO_FROM": ("unset", "the sending number, when no messaging service is set"),
    "TWILIO_API_URL": ("`https://api.twilio.com`",
                       "Twilio's API address (a local fake in tests)"),
    "REFILL_OFFER_MINUTES": ("30", "how long an offer of freed time stands and the slot is "
                             "held for it; then the next wave (README: Cancelled time refilled)"),
    "REFILL_WAVE_SIZE": ("3", "how many people on the waitlist one wave offers a freed slot to"),
    "REFILL_MIN_LEAD_HOURS": ("24", "only slots freed at least this many hours before they "
                              "start are offered to the waitlist"),
    "REFILL_CHILDREN_FIRST": ("on", "children's recalls (clinic-issued appointments of "
                              "under-18s) are offered freed time before everyone else"),
    "SECOND_REMINDER_HOURS": ("48", "an appointment not confirmed this many hours before it "
                              "starts gets a second reminder, in sending hours (0: none); a "
                              "county may set `second_reminder_hours` in its `quiet_hours` "
                              "(README: Reminders that escalate)"),
    "CALL_TASK_HOURS": ("24", "an appointment still not confirmed this many hours before it "
                        "starts, of a patient with a missed appointment in the last "
                        "`CALL_TASK_NO_SHOW_DAYS`, becomes a call task for the clinic (0: "
                        "none); a county may set `call_task_hours`"),
    "CALL_TASK_NO_SHOW_DAYS": ("365", "how far back a missed appointment (no-show) counts "
                               "for a call task"),
    "NOTIFICATION_RETENTION_DAYS": ("7", "days before message text and phone numbers are "
                                    "removed from sent notifications (counts are kept)"),
    "WORKER_METRICS_PORT": ("unset", "port where `tanntid worker` serves Prometheus metrics"),
    "KRR_API_URL": ("unset: the number the patient gave, or none",
                    "the contact register (KRR) API, e.g. `https://kontaktregisteret.no`"
                    "; required in production"),
    "MASKINPORTEN_TOKEN_URL": ("unset", "Maskinporten's token endpoint, for KRR"),
    "MASKINPORTEN_AUDIENCE": ("the token URL's origin", "`aud` of the Maskinporten grant"),
    "MASKINPORTEN_CLIENT_ID": ("unset", "our Maskinporten client id"),
    "MASKINPORTEN_CLIENT_JWK": ("unset", "private key (JWK) for the Maskinporten JWT grant"),
    "KRR_CACHE_TTL": ("3600", "seconds a KRR answer is kept"),
    "HELSENORGE_API_URL": ("unset: appointments go to a local stand-in (not in production)",
                           "Helsenorge's appointment API (Timenotifikasjon), e.g. "
                           "`https://<environment>/timeavtaler/api/v1`; required in production"),
    "HELSEID_TOKEN_URL": ("unset", "HelseID's token endpoint (client credentials with "
                          "`private_key_jwt`), e.g. `https://helseid-sts.nhn.no/connect/token`"),
    "HELSEID_CLIENT_ID": ("unset", "our HelseID client id"),
    "HELSEID_CLIENT_JWK": ("unset", "private key (JWK) for the HelseID client assertion"),
    "HELSENORGE_SCOPE": ("`helsenorge:timeavtaler`",
                         "the HelseID scope Helsenorge approved for appointments"),
    "HELSENORGE_ORG_NUMBER": ("a placeholder outside production",
                              "organisation number of the dental service in the appointments "
                              "sent to Helsenorge, or `county code=number` pairs separated by "
                              "commas; required in production"),
    "HELSENORGE_SERVICE_CATEGORY": ("our own code `tannhelse`",
                                    "`system|code|display` of the service category Helsenorge "
                                    "assigns"),
    "HELSENORGE_REMINDER_TAG": ("our own placeholder `paminnelse` (to confirm when onboarding)",
                                "`system|code` of the `meta.tag` asking Helsenorge to remind "
                                "the patient itself, sent instead of the first SMS reminder "
                                "to patients who chose Helsenorge"),
    "STAFF_OIDC_CLIENT_SECRET": ("(unset)", "client secret for `client_secret_post` at the "
                                 "staff identity provider, when no JWK is set"),
    "PERSON_API_URL": ("unset: children and guardians from the local table (not in production)",
                       "Norsk helsenett's Person API (the population register), with the "
                       "`HELSEID_*` client; required in production"),
    "PERSON_API_SCOPE": ("`nhn:hgd-persontjenesten-api/read-with-legal-basis`",
                         "the HelseID scope for the Person API"),
    "RELATIONS_CACHE_TTL": ("60", "seconds a guardian's children from the population register "
                            "are kept"),
    # Running several processes on one PostgreSQL (README: Running in production).
    "WEB_CONCURRENCY": ("1", "web processes `tanntid serve` starts on one port "
                        "(`--workers` overrides it)"),
    "DATABASE_POOL_SIZE": ("10", "database connections each process keeps open once it has "
                           "needed them"),
    "DATABASE_MAX_OVERFLOW": ("0", "extra connections a process may open under load, closed "
                              "again when returned; each process can hold at most "
                              "pool size + overflow"),
    "DATABASE_POOL_TIMEOUT": ("10", "seconds a request waits for a free connection before "
                              "the service answers 503 with `Retry-After`"),
    "DATABASE_PGBOUNCER": ("off", "on behind PgBouncer in transaction pooling mode: no "
                           "prepared-statement caches on the connections"),
    # Limits against abuse (README: Security).
    "LOGIN_RATE_LIMIT": ("`20/minute;200/hour`", "logins started (`/auth/login`) per client "
                         "address"),
    "LOGIN_SESSION_RATE_LIMIT": ("`5/minute;30/hour`", "logins started per browser session"),
    "HOLD_RATE_LIMIT": ("`10/minute;60/hour`", "times held (chosen in the booking or change "
                        "picker) per person acting"),
    "SMS_PER_NUMBER_PER_DAY": ("10", "text messages sent to one mobile number in 24 hours; "
                               "more are cancelled with the reason"),
    "SMS_PRICE_PER_SEGMENT_ORE": ("60", "what one SMS segment costs, in øre (1/100 NOK), for "
                                  "the cost figure on the county dashboards"),
    # The support console and county administrators (README: For support and county
    # administrators).
    "BULK_RESEND_MAX": ("1000", "most messages one bulk resend may send again; a larger "
                        "selection is refused"),
    "ACCESS_REVIEW_WINDOW_DAYS": ("90", "a staff look-up of a patient goes on the access "
                                  "review when the patient had no appointment at the staff "
                                  "member's clinics this many days before or after it"),
    "SMS_REPLY_ANSWERS_PER_DAY": ("5", "answers to text messages from one mobile number in 24 "
                                  "hours; further replies are stored and acted on, unanswered"),
    "METRICS_NETWORKS": ("`127.0.0.0/8,::1/128` outside production, none in production",
                         "networks (CIDR, comma-separated) whose clients may read `/metrics`"),
    "METRICS_TOKEN": ("unset", "a bearer token that opens `/metrics` from anywhere; production "
                      "needs it or `METRICS_NETWORKS`"),
}

#: Outside production, only this machine may read ``/metrics`` unless told otherwise.
LOOPBACK_NETWORKS: Final = ("127.0.0.0/8", "::1/128")


class SettingsError(RuntimeError):
    """The environment does not describe a service that may start."""


@dataclass(frozen=True)
class DatabaseSettings:
    """The database and the pool each process keeps (``DATABASE_*``), as
    :attr:`Settings.database` gives them."""

    url: str = field(repr=False)
    pool_size: int
    max_overflow: int
    pool_timeout: float
    pgbouncer: bool


@dataclass(frozen=True)
class NotificationSettings:
    """The settings ``notifications/`` reads (its jobs, worker, channels and
    contact register), as :attr:`Settings.notifications` gives them: the same
    values, read from the same environment variables, typed for the package
    that uses them. Built only from :class:`Settings`, so a default lives in
    one place."""

    is_production: bool
    #: Local stand-ins (the ``/dev/sms`` page, the local SMS and Helsenorge channels).
    dev_tools: bool
    database: DatabaseSettings
    public_url: str
    secret_key: str = field(repr=False)
    redis_url: str | None = field(repr=False)
    #: The arq queue of the notification jobs (``NOTIFICATION_QUEUE``).
    notification_queue: str
    notification_retention_days: int
    #: Days pre-visit form answers are kept after the appointment (``PREVISIT_RETENTION_DAYS``).
    previsit_retention_days: int
    worker_metrics_port: int | None
    #: Texts handed over to one number in 24 hours (``SMS_PER_NUMBER_PER_DAY``).
    sms_per_number_per_day: int
    #: Answers to replies from one number in 24 hours (``SMS_REPLY_ANSWERS_PER_DAY``).
    sms_reply_answers_per_day: int
    # Twilio; no account = the local outbox.
    twilio_account_sid: str | None
    twilio_auth_token: str | None = field(repr=False)
    twilio_messaging_service_sid: str | None
    twilio_from: str | None
    twilio_api_url: str
    # KRR through Maskinporten; unset = no register lookups.
    krr_api_url: str | None
    maskinporten_token_url: str | None
    maskinporten_audience: str | None
    maskinporten_client_id: str | None
    maskinporten_client_jwk: str | None = field(repr=False)
    krr_cache_ttl: int
    # Appointments to Helsenorge with a HelseID token; unset API URL = a local stand-in.
    helsenorge_api_url: str | None
    helseid_token_url: str | None
    helseid_client_id: str | None
    helseid_client_jwk: str | None = field(repr=False)
    helsenorge_scope: str | None
    helsenorge_org_number: str | None
    helsenorge_service_category: str | None
    # Freed time offered to the waitlist (``REFILL_*``).
    refill_offer_minutes: int = 30
    refill_wave_size: int = 3
    refill_min_lead_hours: int = 24
    refill_children_first: bool = True
    # Reminders that escalate (``SECOND_REMINDER_HOURS``, ``CALL_TASK_*``).
    second_reminder_hours: int = 48
    call_task_hours: int = 24
    call_task_no_show_days: int = 365
    #: ``system|code`` of the reminder tag (``HELSENORGE_REMINDER_TAG``).
    helsenorge_reminder_tag: str | None = None

    @property
    def krr_configured(self) -> bool:
        return bool(self.krr_api_url and self.maskinporten_token_url
                    and self.maskinporten_client_id and self.maskinporten_client_jwk)


@dataclass(frozen=True)
class Settings:
    env: Environment = "dev"
    database_url: str = f"sqlite+aiosqlite:///{VAR / 'tanntid.sqlite3'}"
    public_url: str = "http://127.0.0.1:8000"
    secret_key: str = field(default="", repr=False)
    redis_url: str | None = field(default=None, repr=False)
    notification_queue: str = "tanntid:notifications"
    host: str = "127.0.0.1"
    port: int = 8000
    log_json: bool = False
    log_level: str = "INFO"
    allow_synthetic_ids: bool = True
    # ID-porten (idporten/); unset discovery URL = the local test provider.
    idporten_discovery_url: str | None = None
    idporten_client_id: str = "tanntid-local"
    idporten_client_jwk: str | None = field(default=None, repr=False)
    idporten_client_secret: str | None = field(default=None, repr=False)
    idporten_acr: str = "idporten-loa-substantial"
    session_idle_minutes: int = 30
    session_max_minutes: int = 120
    staff_oidc_discovery_url: str | None = None
    staff_oidc_client_id: str = "tanntid-staff-local"
    staff_oidc_client_jwk: str | None = field(default=None, repr=False)
    staff_oidc_client_secret: str | None = field(default=None, repr=False)
    # Notifications (notifications/); no Twilio account = the local outbox.
    twilio_account_sid: str | None = None
    twilio_auth_token: str | None = field(default=None, repr=False)
    twilio_messaging_service_sid: str | None = None
    twilio_from: str | None = None
    twilio_api_url: str = "https://api.twilio.com"
    notification_retention_days: int = 7
    #: Days a pre-visit form's answers are kept after the appointment.
    previsit_retention_days: int = 30
    worker_metrics_port: int | None = None
    # KRR through Maskinporten; unset = no register lookups (dev and tests).
    krr_api_url: str | None = None
    maskinporten_token_url: str | None = None
    maskinporten_audience: str | None = None
    maskinporten_client_id: str | None = None
    maskinporten_client_jwk: str | None = field(default=None, repr=False)
    krr_cache_ttl: int = 3600
    # Appointments to Helsenorge with a HelseID token; unset API URL = a local stand-in.
    helsenorge_api_url: str | None = None
    helseid_token_url: str | None = None
    helseid_client_id: str | None = None
    helseid_client_jwk: str | None = field(default=None, repr=False)
    helsenorge_scope: str | None = None
    helsenorge_org_number: str | None = None
    helsenorge_service_category: str | None = None
    helsenorge_reminder_tag: str | None = None
    # The population register (NHN Person API) with the same HelseID client;
    # unset = relations from the local guardianships table (dev and tests).
    person_api_url: str | None = None
    person_api_scope: str = "nhn:hgd-persontjenesten-api/read-with-legal-basis"
    relations_cache_ttl: int = 60
    # Several processes on one PostgreSQL.
    web_concurrency: int = 1
    # Ten kept, none beyond: under load an overflow connection is opened and
    # closed again per request (a new PostgreSQL backend each time).
    database_pool_size: int = 10
    database_max_overflow: int = 0
    database_pool_timeout: float = 10.0
    database_pgbouncer: bool = False
    # Limits against abuse (core.ratelimit rules; README: Security).
    login_rate_limit: str = "20/minute;200/hour"
    login_session_rate_limit: str = "5/minute;30/hour"
    hold_rate_limit: str = "10/minute;60/hour"
    sms_per_number_per_day: int = 10
    #: The price of one SMS segment in øre, for the dashboards' cost figure.
    sms_price_per_segment_ore: int = 60
    # The support console and county administrators.
    bulk_resend_max: int = 1000
    access_review_window_days: int = 90
    # Freed time offered to the waitlist (booking.refill).
    refill_offer_minutes: int = 30
    refill_wave_size: int = 3
    refill_min_lead_hours: int = 24
    refill_children_first: bool = True
    sms_reply_answers_per_day: int = 5
    # Reminders that escalate (notifications.escalation).
    second_reminder_hours: int = 48
    call_task_hours: int = 24
    call_task_no_show_days: int = 365
    # Who may read /metrics: clients in these networks, or with this bearer token.
    metrics_networks: tuple[str, ...] = LOOPBACK_NETWORKS
    metrics_token: str | None = field(default=None, repr=False)

    @property
    def krr_configured(self) -> bool:
        return self.notifications.krr_configured

    @property
    def database(self) -> DatabaseSettings:
        """The section the database plumbing reads (:func:`core.db.database_for`)."""
        return DatabaseSettings(
            url=self.database_url, pool_size=self.database_pool_size,
            max_overflow=self.database_max_overflow, pool_timeout=self.database_pool_timeout,
            pgbouncer=self.database_pgbouncer)

    @property
    def notifications(self) -> NotificationSettings:
        """The section ``notifications/`` reads."""
        return NotificationSettings(
            is_production=self.is_production, dev_tools=self.dev_tools,
            database=self.database, public_url=self.public_url,
            secret_key=self.secret_key, redis_url=self.redis_url,
            notification_queue=self.notification_queue,
            notification_retention_days=self.notification_retention_days,
            previsit_retention_days=self.previsit_retention_days,
            worker_metrics_port=self.worker_metrics_port,
            sms_per_number_per_day=self.sms_per_number_per_day,
            sms_reply_answers_per_day=self.sms_reply_answers_per_day,
            twilio_account_sid=self.twilio_account_sid,
            twilio_auth_token=self.twilio_auth_token,
            twilio_messaging_service_sid=self.twilio_messaging_service_sid,
            twilio_from=self.twilio_from, twilio_api_url=self.twilio_api_url,
            krr_api_url=self.krr_api_url, maskinporten_token_url=self.maskinporten_token_url,
            maskinporten_audience=self.maskinporten_audience,
            maskinporten_client_id=self.maskinporten_client_id,
            maskinporten_client_jwk=self.maskinporten_client_jwk,
            krr_cache_ttl=self.krr_cache_ttl,
            helsenorge_api_url=self.helsenorge_api_url,
            helseid_token_url=self.helseid_token_url,
            helseid_client_id=self.helseid_client_id,
            helseid_client_jwk=self.helseid_client_jwk,
            helsenorge_scope=self.helsenorge_scope,
            helsenorge_org_number=self.helsenorge_org_number,
            helsenorge_service_category=self.helsenorge_service_category,
            refill_offer_minutes=self.refill_offer_minutes,
            refill_wave_size=self.refill_wave_size,
            refill_min_lead_hours=self.refill_min_lead_hours,
            refill_children_first=self.refill_children_first,
            second_reminder_hours=self.second_reminder_hours,
            call_task_hours=self.call_task_hours,
            call_task_no_show_days=self.call_task_no_show_days,
            helsenorge_reminder_tag=self.helsenorge_reminder_tag,
        )

    @property
    def helsenorge_available(self) -> bool:
        """Appointments reach Helsenorge: its API is configured, or (outside
        production) the local stand-in takes them. Where not, nobody is
        offered reminders on Helsenorge."""
        return bool(self.helsenorge_api_url and self.helseid_configured) \
            or not self.is_production

    @property
    def helseid_configured(self) -> bool:
        """The HelseID client (Helsenorge and the Person API use the same one)."""
        return bool(self.helseid_token_url and self.helseid_client_id
                    and self.helseid_client_jwk)

    @property
    def person_api_configured(self) -> bool:
        """The population register is asked for names, children and guardians."""
        return bool(self.person_api_url) and self.helseid_configured

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    @property
    def local_login(self) -> bool:
        """The local test ID-porten (``/dev/idporten``) stands in for a real provider."""
        return self.idporten_discovery_url is None or self.staff_oidc_discovery_url is None

    @property
    def dev_tools(self) -> bool:
        """Local stand-ins (test login, SMS outbox page) are mounted."""
        return not self.is_production

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env_map = os.environ if environ is None else environ
        env = env_map.get("TANNTID_ENV", "dev")
        if env not in ("dev", "test", "production"):
            raise SettingsError(f"TANNTID_ENV must be dev, test or production, not {env!r}")
        production = env == "production"
        secret = env_map.get("SECRET_KEY", "")
        if not secret:
            if production:
                raise SettingsError("SECRET_KEY is required in production")
            secret = _dev_secret()
        settings = cls(
            env=env,  # type: ignore[arg-type]
            database_url=env_map.get("DATABASE_URL") or cls.database_url,
            public_url=(env_map.get("PUBLIC_URL") or cls.public_url).rstrip("/"),
            secret_key=secret,
            redis_url=env_map.get("REDIS_URL") or None,
            notification_queue=env_map.get("NOTIFICATION_QUEUE") or cls.notification_queue,
            host=env_map.get("HOST", "127.0.0.1"),
            port=int(env_map.get("PORT", "8000")),
            log_json=_flag(env_map.get("LOG_JSON"), default=env != "dev"),
            log_level=env_map.get("LOG_LEVEL", "INFO").upper(),
            allow_synthetic_ids=_flag(env_map.get("ALLOW_SYNTHETIC_IDS"),
                                      default=not production),
            idporten_discovery_url=env_map.get("IDPORTEN_DISCOVERY_URL") or None,
            idporten_client_id=env_map.get("IDPORTEN_CLIENT_ID")
            or ("" if production else cls.idporten_client_id),
            idporten_client_jwk=env_map.get("IDPORTEN_CLIENT_JWK") or None,
            idporten_client_secret=env_map.get("IDPORTEN_CLIENT_SECRET") or None,
            idporten_acr=env_map.get("IDPORTEN_ACR") or cls.idporten_acr,
            session_idle_minutes=int(env_map.get("SESSION_IDLE_MINUTES") or 30),
            session_max_minutes=int(env_map.get("SESSION_MAX_MINUTES") or 120),
            staff_oidc_discovery_url=env_map.get("STAFF_OIDC_DISCOVERY_URL") or None,
            staff_oidc_client_id=env_map.get("STAFF_OIDC_CLIENT_ID")
            or ("" if production else cls.staff_oidc_client_id),
            staff_oidc_client_jwk=env_map.get("STAFF_OIDC_CLIENT_JWK") or None,
            staff_oidc_client_secret=env_map.get("STAFF_OIDC_CLIENT_SECRET") or None,
            twilio_account_sid=env_map.get("TWILIO_ACCOUNT_SID") or None,
            twilio_auth_token=env_map.get("TWILIO_AUTH_TOKEN") or None,
            twilio_messaging_service_sid=env_map.get("TWILIO_MESSAGING_SERVICE_SID") or None,
            twilio_from=env_map.get("TWILIO_FROM") or None,
            twilio_api_url=env_map.get("TWILIO_API_URL") or "https://api.twilio.com",
            notification_retention_days=int(env_map.get("NOTIFICATION_RETENTION_DAYS") or 7),
            previsit_retention_days=_whole(env_map, "PREVISIT_RETENTION_DAYS", 30),
            worker_metrics_port=int(env_map["WORKER_METRICS_PORT"])
            if env_map.get("WORKER_METRICS_PORT") else None,
            krr_api_url=env_map.get("KRR_API_URL") or None,
            maskinporten_token_url=env_map.get("MASKINPORTEN_TOKEN_URL") or None,
            maskinporten_audience=env_map.get("MASKINPORTEN_AUDIENCE") or None,
            maskinporten_client_id=env_map.get("MASKINPORTEN_CLIENT_ID") or None,
            maskinporten_client_jwk=env_map.get("MASKINPORTEN_CLIENT_JWK") or None,
            krr_cache_ttl=int(env_map.get("KRR_CACHE_TTL") or 3600),
            helsenorge_api_url=env_map.get("HELSENORGE_API_URL") or None,
            helseid_token_url=env_map.get("HELSEID_TOKEN_URL") or None,
            helseid_client_id=env_map.get("HELSEID_CLIENT_ID") or None,
            helseid_client_jwk=env_map.get("HELSEID_CLIENT_JWK") or None,
            helsenorge_scope=env_map.get("HELSENORGE_SCOPE") or None,
            helsenorge_org_number=env_map.get("HELSENORGE_ORG_NUMBER") or None,
            helsenorge_service_category=env_map.get("HELSENORGE_SERVICE_CATEGORY") or None,
            helsenorge_reminder_tag=env_map.get("HELSENORGE_REMINDER_TAG") or None,
            person_api_url=env_map.get("PERSON_API_URL") or None,
            person_api_scope=env_map.get("PERSON_API_SCOPE") or cls.person_api_scope,
            relations_cache_ttl=int(env_map.get("RELATIONS_CACHE_TTL") or 60),
            web_concurrency=_whole(env_map, "WEB_CONCURRENCY", 1),
            database_pool_size=_whole(env_map, "DATABASE_POOL_SIZE", cls.database_pool_size),
            database_max_overflow=_whole(env_map, "DATABASE_MAX_OVERFLOW",
                                         cls.database_max_overflow),
            database_pool_timeout=_seconds(env_map, "DATABASE_POOL_TIMEOUT", 10.0),
            database_pgbouncer=_flag(env_map.get("DATABASE_PGBOUNCER"), default=False),
            login_rate_limit=env_map.get("LOGIN_RATE_LIMIT") or cls.login_rate_limit,
            login_session_rate_limit=env_map.get("LOGIN_SESSION_RATE_LIMIT")
            or cls.login_session_rate_limit,
            hold_rate_limit=env_map.get("HOLD_RATE_LIMIT") or cls.hold_rate_limit,
            sms_per_number_per_day=_whole(env_map, "SMS_PER_NUMBER_PER_DAY", 10),
            sms_price_per_segment_ore=_whole(env_map, "SMS_PRICE_PER_SEGMENT_ORE", 60),
            bulk_resend_max=_whole(env_map, "BULK_RESEND_MAX", 1000),
            access_review_window_days=_whole(env_map, "ACCESS_REVIEW_WINDOW_DAYS", 90),
            refill_offer_minutes=_whole(env_map, "REFILL_OFFER_MINUTES", 30),
            refill_wave_size=_whole(env_map, "REFILL_WAVE_SIZE", 3),
            refill_min_lead_hours=_whole(env_map, "REFILL_MIN_LEAD_HOURS", 24),
            refill_children_first=_flag(env_map.get("REFILL_CHILDREN_FIRST"), default=True),
            sms_reply_answers_per_day=_whole(env_map, "SMS_REPLY_ANSWERS_PER_DAY", 5),
            second_reminder_hours=_whole(env_map, "SECOND_REMINDER_HOURS", 48),
            call_task_hours=_whole(env_map, "CALL_TASK_HOURS", 24),
            call_task_no_show_days=_whole(env_map, "CALL_TASK_NO_SHOW_DAYS", 365),
            metrics_networks=_networks(env_map.get("METRICS_NETWORKS"),
                                       default=() if production else LOOPBACK_NETWORKS),
            metrics_token=env_map.get("METRICS_TOKEN") or None,
        )
        settings.check()
        return settings

    def check(self) -> None:
        """Refuse combinations that must never run."""
        if self.idporten_acr not in ("idporten-loa-substantial", "idporten-loa-high"):
            raise SettingsError("IDPORTEN_ACR must be idporten-loa-substantial or "
                                "idporten-loa-high")
        if not (0 < self.session_idle_minutes <= self.session_max_minutes):
            raise SettingsError("SESSION_IDLE_MINUTES must be positive and at most "
                                "SESSION_MAX_MINUTES")
        if self.person_api_url and not self.person_api_configured and not self.is_production:
            # Else guardians would silently get the local table's children
            # (production lists it with the other problems below).
            raise SettingsError("PERSON_API_URL is set but HELSEID_TOKEN_URL, HELSEID_CLIENT_ID "
                                "or HELSEID_CLIENT_JWK is not")
        if self.relations_cache_ttl < 0:
            raise SettingsError("RELATIONS_CACHE_TTL must not be negative")
        if self.web_concurrency < 1:
            raise SettingsError("WEB_CONCURRENCY must be at least 1")
        if self.database_pool_size < 1 or self.database_max_overflow < 0:
            raise SettingsError("DATABASE_POOL_SIZE must be at least 1 and "
                                "DATABASE_MAX_OVERFLOW not negative")
        if self.database_pool_timeout <= 0:
            raise SettingsError("DATABASE_POOL_TIMEOUT must be positive")
        if self.refill_offer_minutes < 1 or self.refill_wave_size < 1:
            raise SettingsError("REFILL_OFFER_MINUTES and REFILL_WAVE_SIZE must be at least 1")
        if self.refill_min_lead_hours < 0:
            raise SettingsError("REFILL_MIN_LEAD_HOURS must not be negative")
        if min(self.second_reminder_hours, self.call_task_hours,
               self.call_task_no_show_days) < 0:
            raise SettingsError("SECOND_REMINDER_HOURS, CALL_TASK_HOURS and "
                                "CALL_TASK_NO_SHOW_DAYS must not be negative")
        for name, rule in (("LOGIN_RATE_LIMIT", self.login_rate_limit),
                           ("LOGIN_SESSION_RATE_LIMIT", self.login_session_rate_limit),
                           ("HOLD_RATE_LIMIT", self.hold_rate_limit)):
            try:
                Rule.parse(name, rule)
            except ValueError:
                raise SettingsError(f"{name} must be a rate limit such as 10/minute;60/hour, "
                                    f"not {rule!r}") from None
        if self.sms_per_number_per_day < 1:
            raise SettingsError("SMS_PER_NUMBER_PER_DAY must be at least 1")
        if self.sms_price_per_segment_ore < 0:
            raise SettingsError("SMS_PRICE_PER_SEGMENT_ORE must not be negative")
        if self.previsit_retention_days < 1:
            raise SettingsError("PREVISIT_RETENTION_DAYS must be at least 1")
        if self.bulk_resend_max < 1:
            raise SettingsError("BULK_RESEND_MAX must be at least 1")
        if self.access_review_window_days < 1:
            raise SettingsError("ACCESS_REVIEW_WINDOW_DAYS must be at least 1")
        if self.sms_reply_answers_per_day < 0:
            raise SettingsError("SMS_REPLY_ANSWERS_PER_DAY must be 0 or more")
        if self.helsenorge_api_url and not self.is_production and not self.helseid_configured:
            raise SettingsError("HELSENORGE_API_URL is set but HELSEID_TOKEN_URL, "
                                "HELSEID_CLIENT_ID or HELSEID_CLIENT_JWK is not")
        if not self.is_production:
            return
        problems = []
        if self.idporten_discovery_url is None:
            problems.append("IDPORTEN_DISCOVERY_URL is unset (the local test login would "
                            "be mounted)")
        if self.staff_oidc_discovery_url is None:
            problems.append("STAFF_OIDC_DISCOVERY_URL is unset (the local test login would "
                            "be mounted)")
        for name, client_id, jwk, secret in (
            ("IDPORTEN", self.idporten_client_id, self.idporten_client_jwk,
             self.idporten_client_secret),
            ("STAFF_OIDC", self.staff_oidc_client_id, self.staff_oidc_client_jwk,
             self.staff_oidc_client_secret),
        ):
            if not client_id:
                problems.append(f"{name}_CLIENT_ID is unset")
            if not (jwk or secret):
                problems.append(f"neither {name}_CLIENT_JWK nor {name}_CLIENT_SECRET is set")
        if self.allow_synthetic_ids:
            problems.append("synthetic identity numbers are allowed")
        weak = secret_key_weakness(self.secret_key)
        if weak:
            problems.append(f"SECRET_KEY {weak}")
        if not self.metrics_networks and not self.metrics_token:
            problems.append("neither METRICS_NETWORKS nor METRICS_TOKEN is set (/metrics "
                            "would be closed to the scraper)")
        if self.metrics_token is not None and secret_key_weakness(self.metrics_token):
            problems.append("METRICS_TOKEN is not a long random string")
        if not self.public_url.startswith("https://"):
            problems.append("PUBLIC_URL is not https")
        if self.database_url.startswith("sqlite"):
            problems.append("DATABASE_URL is the embedded SQLite database")
        if not self.twilio_account_sid or not self.twilio_auth_token:
            problems.append("TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN are unset (SMS would only "
                            "reach the local outbox)")
        if not (self.krr_api_url and self.maskinporten_token_url
                and self.maskinporten_client_id and self.maskinporten_client_jwk):
            problems.append("KRR_API_URL and the MASKINPORTEN_* settings are unset (contact "
                            "details must come from the official register)")
        if not (self.twilio_messaging_service_sid or self.twilio_from):
            problems.append("neither TWILIO_MESSAGING_SERVICE_SID nor TWILIO_FROM is set")
        if not (self.helsenorge_api_url and self.helseid_configured):
            problems.append("HELSENORGE_API_URL and the HELSEID_* settings are unset "
                            "(appointments would not reach Helsenorge)")
        if not self.helsenorge_org_number:
            problems.append("HELSENORGE_ORG_NUMBER is unset")
        if not self.person_api_configured:
            problems.append("PERSON_API_URL and the HELSEID_* settings are unset (names, children "
                            "and guardians must come from the population register)")
        if problems:
            raise SettingsError("refusing to start in production: " + "; ".join(problems))


#: A production SECRET_KEY has at least this many characters...
SECRET_MIN_LENGTH: Final = 32
#: ... at least this many different ones ...
SECRET_MIN_DISTINCT: Final = 10
#: ... and at least this many bits by the Shannon estimate of its characters.
SECRET_MIN_BITS: Final = 96


def secret_key_weakness(key: str) -> str | None:
    """Why ``key`` is no production secret, or None. A cheap screen for keys
    typed by hand (``aaaa…``, ``abcabc…``, ``abcdef…``, a phrase): what
    ``secrets.token_urlsafe(48)`` or ``openssl rand -base64 48`` prints passes
    it. It cannot prove randomness; it refuses the obviously not random."""
    if len(key) < SECRET_MIN_LENGTH:
        return f"is shorter than {SECRET_MIN_LENGTH} characters"
    counts = Counter(key)
    if len(counts) < SECRET_MIN_DISTINCT:
        return f"has fewer than {SECRET_MIN_DISTINCT} different characters"
    bits = -sum(n * math.log2(n / len(key)) for n in counts.values())
    if bits < SECRET_MIN_BITS:
        return f"has less than {SECRET_MIN_BITS} bits of entropy"
    for period in range(1, len(key) // 2 + 1):
        if all(key[i] == key[i - period] for i in range(period, len(key))):
            return "repeats itself"
    steps = sum(1 for a, b in itertools.pairwise(key) if abs(ord(a) - ord(b)) == 1)
    if steps * 2 > len(key):
        return "is mostly a run of neighbouring characters"
    return None


def _networks(value: str | None, *, default: tuple[str, ...]) -> tuple[str, ...]:
    if value is None or not value.strip():
        return default
    networks = []
    for item in value.split(","):
        try:
            networks.append(str(ipaddress.ip_network(item.strip(), strict=False)))
        except ValueError:
            raise SettingsError(f"METRICS_NETWORKS: {item.strip()!r} is not a network "
                                "(e.g. 10.0.0.0/8)") from None
    return tuple(networks)


def _flag(value: str | None, *, default: bool) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in ("1", "true", "yes", "on")


def _whole(env_map: Mapping[str, str], name: str, default: int) -> int:
    value = env_map.get(name) or ""
    if not value:
        return default
    try:
        return int(value)
    except ValueError:
        raise SettingsError(f"{name} must be a whole number, not {value!r}") from None


def _seconds(env_map: Mapping[str, str], name: str, default: float) -> float:
    value = env_map.get(name) or ""
    if not value:
        return default
    try:
        return float(value)
    except ValueError:
        raise SettingsError(f"{name} must be a number of seconds, not {value!r}") from None


def _dev_secret() -> str:
    """A random key kept under var/ so dev restarts keep sessions and data readable."""
    path = VAR / "secret_key"
    if path.exists():
        return path.read_text().strip()
    VAR.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    path.write_text(key)
    path.chmod(0o600)
    return key
