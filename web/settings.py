"""All settings, read once from the environment (12-factor) into one typed
object. Each is documented in the README's settings table; a test keeps the
two in step. Secrets are never printed: ``repr`` hides them."""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

ROOT = Path(__file__).resolve().parent.parent
VAR = ROOT / "var"

Environment = Literal["dev", "test", "production"]

#: name -> (default shown in the README, meaning). The README table lists these.
DOCUMENTED: dict[str, tuple[str, str]] = {
    "TANNTID_ENV": ("dev", "`dev`, `test` or `production`; production refuses dev-only parts"),
    "DATABASE_URL": ("sqlite+aiosqlite:///var/tanntid.sqlite3",
                     "SQLAlchemy async URL; PostgreSQL (`postgresql+asyncpg://…`) in production"),
    "PUBLIC_URL": ("http://127.0.0.1:8000", "the address users reach the service at"),
    "SECRET_KEY": ("generated into `var/secret_key` in dev",
                   "signs links and keys identity-number hashing and encryption; "
                   "required in production"),
    "REDIS_URL": ("(unset)", "Redis for the job queue and readiness; unset = in-process jobs"),
    "PORT": ("8000", "port for `tanntid serve` and `make run`"),
    "HOST": ("127.0.0.1", "interface for `tanntid serve`"),
    "LOG_JSON": ("off in dev, on otherwise", "JSON log lines"),
    "LOG_LEVEL": ("INFO", "minimum log level"),
    "ALLOW_SYNTHETIC_IDS": ("on outside production",
                            "accept synthetic test identity numbers (month + 80)"),
}


class SettingsError(RuntimeError):
    """The environment does not describe a service that may start."""


@dataclass(frozen=True)
class Settings:
    env: Environment = "dev"
    database_url: str = f"sqlite+aiosqlite:///{VAR / 'tanntid.sqlite3'}"
    public_url: str = "http://127.0.0.1:8000"
    secret_key: str = field(default="", repr=False)
    redis_url: str | None = field(default=None, repr=False)
    host: str = "127.0.0.1"
    port: int = 8000
    log_json: bool = False
    log_level: str = "INFO"
    allow_synthetic_ids: bool = True

    @property
    def is_production(self) -> bool:
        return self.env == "production"

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
            host=env_map.get("HOST", "127.0.0.1"),
            port=int(env_map.get("PORT", "8000")),
            log_json=_flag(env_map.get("LOG_JSON"), default=env != "dev"),
            log_level=env_map.get("LOG_LEVEL", "INFO").upper(),
            allow_synthetic_ids=_flag(env_map.get("ALLOW_SYNTHETIC_IDS"),
                                      default=not production),
        )
        settings.check()
        return settings

    def check(self) -> None:
        """Refuse combinations that must never run."""
        if not self.is_production:
            return
        problems = []
        if self.allow_synthetic_ids:
            problems.append("synthetic identity numbers are allowed")
        if len(self.secret_key) < 32:
            problems.append("SECRET_KEY is shorter than 32 characters")
        if not self.public_url.startswith("https://"):
            problems.append("PUBLIC_URL is not https")
        if self.database_url.startswith("sqlite"):
            problems.append("DATABASE_URL is the embedded SQLite database")
        if problems:
            raise SettingsError("refusing to start in production: " + "; ".join(problems))


def _flag(value: str | None, *, default: bool) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in ("1", "true", "yes", "on")


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
