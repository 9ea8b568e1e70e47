"""Server-side login sessions.

The browser's cookie holds only a random id (HttpOnly, SameSite=Lax, Secure
outside dev). The session lives in the database, or in Redis when one is
configured, keyed by the SHA-256 of that id, and is also findable by the
provider's ``sid`` so front-channel logout works without the cookie
(browsers no longer send cookies into third-party iframes). A session ends
after ``idle`` without a request (Digdir: at most 30 minutes in the ID-porten
federation) and ``absolute`` after login, whichever comes first. Each login
gets a new id (no session fixation). No identity number is ever stored here:
patients by internal id; the ID token is kept encrypted for ``id_token_hint``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal, Protocol

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import bindparam, delete, select, update
from starlette.responses import Response

from booking.models import Patient
from core.db import Database, utcnow
from web.auth.models import AuthSession

SessionKind = Literal["patient", "staff"]
#: last_seen is written at most this often (a page with many fragments is one visit).
TOUCH_INTERVAL = timedelta(seconds=30)


def derive_fernet(secret: str, label: str) -> Fernet:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
               info=b"tanntid:" + label.encode()).derive(secret.encode())
    return Fernet(base64.urlsafe_b64encode(key))


def key_hash(cookie_value: str) -> str:
    return hashlib.sha256(cookie_value.encode()).hexdigest()


@dataclass
class Session:
    key_hash: str
    kind: SessionKind
    issuer: str
    sid: str | None
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime
    patient_id: int | None = None
    data: dict[str, Any] = field(default_factory=dict)
    id_token: str | None = field(default=None, repr=False)
    #: The patient's kept language (``patients.preferred_language``) as it was
    #: when the session was loaded, if the store read it with the session (the
    #: database store does, in the same query); ``profile_loaded`` says so.
    profile_locale: str | None = field(default=None, compare=False)
    profile_loaded: bool = field(default=False, compare=False)

    @property
    def locale(self) -> str | None:
        return self.data.get("locale")

    @property
    def acr(self) -> str | None:
        return self.data.get("acr")


class SessionStore(Protocol):
    async def save(self, session: Session) -> None: ...
    async def load(self, key: str) -> Session | None: ...
    async def touch(self, session: Session, now: datetime, idle: timedelta) -> None: ...
    async def delete(self, key: str) -> None: ...
    async def delete_by_sid(self, issuer: str, sid: str) -> int: ...


#: A session with its patient's kept language; built once (every page of a
#: logged-in user runs it).
_LOAD = (select(AuthSession, Patient.preferred_language)
         .outerjoin(Patient, Patient.id == AuthSession.patient_id)
         .where(AuthSession.key_hash == bindparam("key_hash")))


class DatabaseSessionStore:
    def __init__(self, db: Database, fernet: Fernet) -> None:
        self.db = db
        self.fernet = fernet

    async def save(self, session: Session) -> None:
        async with self.db.write() as tx:
            tx.add(AuthSession(
                key_hash=session.key_hash, kind=session.kind, issuer=session.issuer,
                sid=session.sid, patient_id=session.patient_id, data=session.data,
                id_token_encrypted=(self.fernet.encrypt(session.id_token.encode())
                                    if session.id_token else None),
                created_at=session.created_at, last_seen_at=session.last_seen_at,
                expires_at=session.expires_at,
            ))

    async def load(self, key: str) -> Session | None:
        # The session and its patient's kept language in one query: every
        # page of a logged-in patient asks for both (web.views.profile).
        async with self.db.read() as tx:
            found = (await tx.execute(_LOAD, {"key_hash": key})).one_or_none()
        if found is None:
            return None
        row, profile_locale = found
        return Session(
            profile_locale=profile_locale, profile_loaded=row.patient_id is not None,
            key_hash=row.key_hash, kind="staff" if row.kind == "staff" else "patient",
            issuer=row.issuer, sid=row.sid, created_at=row.created_at,
            last_seen_at=row.last_seen_at, expires_at=row.expires_at,
            patient_id=row.patient_id, data=dict(row.data or {}),
            id_token=_decrypt(self.fernet, row.id_token_encrypted),
        )

    async def touch(self, session: Session, now: datetime, idle: timedelta) -> None:
        async with self.db.write() as tx:
            await tx.execute(update(AuthSession).where(AuthSession.key_hash == session.key_hash)
                             .values(last_seen_at=now))

    async def delete(self, key: str) -> None:
        async with self.db.write() as tx:
            await tx.execute(delete(AuthSession).where(AuthSession.key_hash == key))

    async def delete_by_sid(self, issuer: str, sid: str) -> int:
        async with self.db.write() as tx:
            keys = (await tx.execute(select(AuthSession.key_hash).where(
                AuthSession.issuer == issuer, AuthSession.sid == sid))).scalars().all()
            if keys:
                await tx.execute(delete(AuthSession).where(AuthSession.key_hash.in_(keys)))
            return len(keys)

    async def purge_expired(self, now: datetime, idle: timedelta) -> int:
        """Delete sessions past either limit (for a periodic job)."""
        async with self.db.write() as tx:
            result = await tx.execute(delete(AuthSession).where(
                (AuthSession.expires_at <= now) | (AuthSession.last_seen_at <= now - idle)))
            return int(getattr(result, "rowcount", 0) or 0)


class RedisSessionStore:
    """Sessions in Redis: one JSON value per session that expires by itself at
    the idle or absolute limit (whichever is sooner), plus a set per ``sid``."""

    def __init__(self, redis: Any, fernet: Fernet, prefix: str = "tanntid:") -> None:
        self.redis = redis
        self.fernet = fernet
        self.prefix = prefix

    def _key(self, key: str) -> str:
        return f"{self.prefix}session:{key}"

    def _sid_key(self, issuer: str, sid: str) -> str:
        digest = hashlib.sha256(f"{issuer}\n{sid}".encode()).hexdigest()
        return f"{self.prefix}session-sid:{digest}"

    async def save(self, session: Session) -> None:
        value = json.dumps({
            "kind": session.kind, "issuer": session.issuer, "sid": session.sid,
            "patient_id": session.patient_id, "data": session.data,
            "id_token": (self.fernet.encrypt(session.id_token.encode()).decode()
                         if session.id_token else None),
            "created_at": session.created_at.isoformat(),
            "last_seen_at": session.last_seen_at.isoformat(),
            "expires_at": session.expires_at.isoformat(),
        })
        ttl = _millis(session.expires_at - session.last_seen_at)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.set(self._key(session.key_hash), value, px=ttl)
            if session.sid:
                sid_key = self._sid_key(session.issuer, session.sid)
                pipe.sadd(sid_key, session.key_hash)
                pipe.pexpire(sid_key, _millis(session.expires_at - session.created_at))
            await pipe.execute()

    async def load(self, key: str) -> Session | None:
        raw = await self.redis.get(self._key(key))
        if raw is None:
            return None
        data = json.loads(raw)
        token = data.get("id_token")
        return Session(
            key_hash=key, kind="staff" if data["kind"] == "staff" else "patient",
            issuer=data["issuer"], sid=data["sid"],
            created_at=datetime.fromisoformat(data["created_at"]),
            last_seen_at=datetime.fromisoformat(data["last_seen_at"]),
            expires_at=datetime.fromisoformat(data["expires_at"]),
            patient_id=data["patient_id"], data=data["data"],
            id_token=_decrypt(self.fernet, token.encode() if token else None),
        )

    async def touch(self, session: Session, now: datetime, idle: timedelta) -> None:
        session.last_seen_at = now
        remaining = min(session.expires_at - now, idle)
        if remaining <= timedelta(0):
            await self.delete(session.key_hash)
            return
        # Rewrite with the new last_seen, expiring at the sooner limit.
        raw = await self.redis.get(self._key(session.key_hash))
        if raw is None:
            return
        data = json.loads(raw)
        data["last_seen_at"] = now.isoformat()
        await self.redis.set(self._key(session.key_hash), json.dumps(data),
                             px=_millis(remaining), xx=True)

    async def delete(self, key: str) -> None:
        await self.redis.delete(self._key(key))

    async def delete_by_sid(self, issuer: str, sid: str) -> int:
        sid_key = self._sid_key(issuer, sid)
        members = await self.redis.smembers(sid_key)
        keys = [m.decode() if isinstance(m, bytes) else str(m) for m in members]
        if keys:
            await self.redis.delete(*[self._key(k) for k in keys])
        await self.redis.delete(sid_key)
        return len(keys)


def _millis(delta: timedelta) -> int:
    return max(1, int(delta.total_seconds() * 1000))


def _decrypt(fernet: Fernet, token: bytes | None) -> str | None:
    if not token:
        return None
    try:
        return fernet.decrypt(bytes(token)).decode()
    except InvalidToken:
        return None  # the secret key changed: the session still works, logout without hint


class SessionManager:
    """Creates, finds (enforcing the limits) and ends sessions."""

    def __init__(self, store: SessionStore, *, idle: timedelta, absolute: timedelta,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self.store = store
        self.idle = idle
        self.absolute = absolute
        self.clock = clock

    async def create(self, kind: SessionKind, *, issuer: str, sid: str | None,
                     patient_id: int | None = None, data: dict[str, Any] | None = None,
                     id_token: str | None = None) -> tuple[str, Session]:
        """A new session with a new random id: (cookie value, session)."""
        value = secrets.token_urlsafe(32)
        now = self.clock()
        session = Session(key_hash=key_hash(value), kind=kind, issuer=issuer, sid=sid,
                          created_at=now, last_seen_at=now, expires_at=now + self.absolute,
                          patient_id=patient_id, data=dict(data or {}), id_token=id_token)
        await self.store.save(session)
        return value, session

    async def get(self, cookie_value: str | None, kind: SessionKind) -> Session | None:
        """The live session for this cookie, or None (an expired one is deleted)."""
        if not cookie_value or len(cookie_value) > 100:
            return None
        session = await self.store.load(key_hash(cookie_value))
        if session is None:
            return None
        if session.kind != kind:
            return None
        now = self.clock()
        if now >= session.expires_at or now - session.last_seen_at >= self.idle:
            await self.store.delete(session.key_hash)
            return None
        if now - session.last_seen_at >= TOUCH_INTERVAL:
            await self.store.touch(session, now, self.idle)
            session.last_seen_at = now
        return session

    async def end(self, cookie_value: str | None) -> Session | None:
        """End the session of this cookie (if any); returns it for the logout's
        ``id_token_hint``."""
        if not cookie_value or len(cookie_value) > 100:
            return None
        session = await self.store.load(key_hash(cookie_value))
        if session is not None:
            await self.store.delete(session.key_hash)
        return session

    async def end_by_sid(self, issuer: str, sid: str) -> int:
        return await self.store.delete_by_sid(issuer, sid)


@dataclass(frozen=True)
class CookiePolicy:
    """How one kind of session cookie is written."""

    name: str
    secure: bool

    @classmethod
    def for_app(cls, base_name: str, *, env: str, public_url: str) -> CookiePolicy:
        secure = env != "dev"
        # __Host-: the browser insists on Secure, Path=/ and no Domain (RFC 6265bis).
        host_prefix = secure and public_url.startswith("https://")
        return cls(("__Host-" if host_prefix else "") + base_name, secure)

    def set(self, response: Response, value: str) -> None:
        # No Max-Age: the cookie dies with the browser; the server enforces limits.
        response.set_cookie(self.name, value, path="/", secure=self.secure, httponly=True,
                            samesite="lax")

    def clear(self, response: Response) -> None:
        response.delete_cookie(self.name, path="/", secure=self.secure, httponly=True,
                               samesite="lax")
