"""Contact details from KRR (Kontakt- og reservasjonsregisteret, Digdir):
mobile number, when it was last updated and verified, reservation, notification
status and language.

* Token: Maskinporten's JWT bearer grant (RFC 7523 §2.1) with scope
  ``krr:global/kontaktinformasjon.read``.
* Lookup: ``POST {KRR_API_URL}/rest/v2/personer`` with
  ``{"personidentifikatorer": [...]}``, at most 1000 per call (batches are far
  faster than single lookups). Identity numbers travel only in request bodies
  and never reach a log line.
* Answer (docs.digdir.no, "Attributter i KRR"): ``personer[]`` with
  ``personidentifikator``, ``reservasjon`` (JA/NEI), ``status`` (AKTIV,
  SLETTET, IKKE_REGISTRERT), ``varslingsstatus`` (KAN_VARSLES,
  KAN_IKKE_VARSLES), ``spraak`` and ``kontaktinformasjon`` with
  ``mobiltelefonnummer``, ``mobiltelefonnummer_oppdatert`` and
  ``mobiltelefonnummer_sist_verifisert`` (camelCase spellings are read too).
  A person the register does not know may be left out: that is IKKE_REGISTRERT.
* **The 18-month rule** (eForvaltningsforskriften § 32): a number neither
  updated nor verified in the last 18 months must not be used for notices.
  :meth:`KrrContact.notice_mobile` applies it with the date it is given, on
  top of the register's own ``varslingsstatus``; a reservation (JA) means no
  SMS notices at all.
* Answers are cached per person for ``cache_ttl`` seconds, keyed by a keyed
  hash of the identity number.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any

import httpx
import phonenumbers

from core.oauth import SigningKey, TokenError, TokenSource, jwt_bearer

SCOPE = "krr:global/kontaktinformasjon.read"
BATCH_SIZE = 1000
STALE_AFTER_MONTHS = 18


class KrrStatus(StrEnum):
    ACTIVE = "AKTIV"
    DELETED = "SLETTET"
    NOT_REGISTERED = "IKKE_REGISTRERT"


class KrrUnavailable(RuntimeError):
    """KRR or Maskinporten could not answer now; try again later."""


class KrrError(RuntimeError):
    """KRR refused the request (configuration or a malformed request)."""


def months_before(day: date, months: int) -> date:
    """The same day ``months`` calendar months earlier (clamped to the end of a
    shorter month: 31 August − 18 months = 28/29 February)."""
    index = day.year * 12 + (day.month - 1) - months
    year, month = divmod(index, 12)
    month += 1
    for d in (day.day, 30, 29, 28):
        try:
            return date(year, month, min(day.day, d))
        except ValueError:
            continue
    raise AssertionError("unreachable")


@dataclass(frozen=True)
class KrrContact:
    status: KrrStatus
    reserved: bool = False
    #: The register's ``varslingsstatus``: None when it was not given.
    can_be_notified: bool | None = None
    mobile: str | None = field(default=None, repr=False)
    mobile_updated: datetime | None = None
    mobile_verified: datetime | None = None
    language: str | None = None

    @property
    def mobile_confirmed(self) -> datetime | None:
        """When the person last updated or verified the number."""
        dates = [d for d in (self.mobile_updated, self.mobile_verified) if d is not None]
        return max(dates) if dates else None

    def no_notice_reason(self, today: date) -> str | None:
        """Why the mobile number may not be used for notices today, or None
        when it may: not-registered, deleted, reserved, cannot-be-notified,
        no-mobile, stale (the 18-month rule)."""
        if self.status is KrrStatus.NOT_REGISTERED:
            return "not-registered"
        if self.status is KrrStatus.DELETED:
            return "deleted"
        if self.reserved:
            return "reserved"
        if self.can_be_notified is False:
            return "cannot-be-notified"
        if not self.mobile:
            return "no-mobile"
        confirmed = self.mobile_confirmed
        if confirmed is None or confirmed.date() < months_before(today, STALE_AFTER_MONTHS):
            return "stale"
        return None

    def notice_mobile(self, today: date) -> str | None:
        """The E.164 mobile number to send notices to, or None."""
        return self.mobile if self.no_notice_reason(today) is None else None


def _timestamp(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        return None


def _e164(number: Any) -> str | None:
    if not number:
        return None
    try:
        parsed = phonenumbers.parse(str(number), "NO")
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def _pick(mapping: Mapping[str, Any], *names: str) -> Any:
    for name in names:
        if mapping.get(name) is not None:
            return mapping[name]
    return None


def parse_person(person: Mapping[str, Any]) -> KrrContact:
    """One entry of ``personer`` as a :class:`KrrContact`."""
    try:
        status = KrrStatus(str(person.get("status") or "IKKE_REGISTRERT").upper())
    except ValueError:
        status = KrrStatus.NOT_REGISTERED
    contact = person.get("kontaktinformasjon") or {}
    notify = str(person.get("varslingsstatus") or "").upper()
    language = person.get("spraak")
    return KrrContact(
        status=status,
        reserved=str(person.get("reservasjon") or "").upper() == "JA",
        can_be_notified={"KAN_VARSLES": True, "KAN_IKKE_VARSLES": False}.get(notify),
        mobile=_e164(contact.get("mobiltelefonnummer")),
        mobile_updated=_timestamp(_pick(contact, "mobiltelefonnummer_oppdatert",
                                        "mobiltelefonnummerOppdatert")),
        mobile_verified=_timestamp(_pick(contact, "mobiltelefonnummer_sist_verifisert",
                                         "mobiltelefonnummerSistVerifisert")),
        language=str(language).lower() if language else None,
    )


class KrrClient:
    """Batched, cached KRR lookups with a Maskinporten token."""

    def __init__(self, *, api_url: str, token_url: str, audience: str, client_id: str,
                 client_jwk: str | Mapping[str, Any], scope: str = SCOPE,
                 cache_ttl: float = 3600.0, timeout: float = 15.0,
                 http: httpx.AsyncClient | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.api_url = api_url.rstrip("/")
        self.cache_ttl = cache_ttl
        self._http = http or httpx.AsyncClient(timeout=timeout)
        self._clock = clock
        # Per process, correct by design: KRR is the authority and every
        # process may keep an answer ``cache_ttl`` seconds (KRR_CACHE_TTL),
        # as Digdir allows; a second process asks KRR once more, no harm.
        self._cache: dict[bytes, tuple[float, KrrContact]] = {}
        self._cache_key = os.urandom(32)
        self.requests = 0
        self.tokens = TokenSource(
            jwt_bearer(SigningKey.from_jwk(client_jwk), client_id=client_id, scope=scope),
            http=self._http, issuer=audience, token_url=token_url, clock=clock)

    @classmethod
    def from_settings(cls, settings: Mapping[str, str], **overrides: Any) -> KrrClient:
        """From ``KRR_API_URL``, ``MASKINPORTEN_TOKEN_URL``, ``MASKINPORTEN_AUDIENCE``
        (default: the token URL's origin with a trailing slash, as
        ``https://maskinporten.no/``), ``MASKINPORTEN_CLIENT_ID``,
        ``MASKINPORTEN_CLIENT_JWK`` and ``KRR_CACHE_TTL`` (seconds)."""
        token_url = settings["MASKINPORTEN_TOKEN_URL"]
        audience = settings.get("MASKINPORTEN_AUDIENCE") or str(
            httpx.URL(token_url).copy_with(path="/", query=None))
        values: dict[str, Any] = {
            "api_url": settings["KRR_API_URL"], "token_url": token_url,
            "audience": audience, "client_id": settings["MASKINPORTEN_CLIENT_ID"],
            "client_jwk": settings["MASKINPORTEN_CLIENT_JWK"],
            "cache_ttl": float(settings.get("KRR_CACHE_TTL") or 3600),
        }
        values.update(overrides)
        return cls(**values)

    async def aclose(self) -> None:
        await self._http.aclose()

    def _key(self, nin: str) -> bytes:
        return hmac.new(self._cache_key, nin.encode(), hashlib.sha256).digest()

    def forget(self, nins: Iterable[str] | None = None) -> None:
        """Drop cached answers (all, or for these persons)."""
        if nins is None:
            self._cache.clear()
            return
        for nin in nins:
            self._cache.pop(self._key(nin), None)

    async def contact(self, nin: str) -> KrrContact:
        return (await self.lookup([nin]))[nin]

    async def lookup(self, nins: Iterable[str]) -> dict[str, KrrContact]:
        """Contact details for each identity number (every one gets an answer;
        unknown persons are IKKE_REGISTRERT). Raises :class:`KrrUnavailable`
        or :class:`KrrError`."""
        wanted = list(dict.fromkeys(nins))
        now = self._clock()
        found: dict[str, KrrContact] = {}
        missing: list[str] = []
        for nin in wanted:
            cached = self._cache.get(self._key(nin))
            if cached is not None and cached[0] > now:
                found[nin] = cached[1]
            else:
                missing.append(nin)
        for start in range(0, len(missing), BATCH_SIZE):
            batch = missing[start:start + BATCH_SIZE]
            answers = await self._post(batch)
            expires = self._clock() + self.cache_ttl
            for nin in batch:
                contact = answers.get(nin, KrrContact(KrrStatus.NOT_REGISTERED))
                self._cache[self._key(nin)] = (expires, contact)
                found[nin] = contact
        return {nin: found[nin] for nin in wanted}

    async def _post(self, batch: list[str]) -> dict[str, KrrContact]:
        for attempt in range(2):
            try:
                token = await self.tokens.token()
            except TokenError as exc:
                if exc.retryable:
                    raise KrrUnavailable(f"Maskinporten: {exc}") from exc
                raise KrrError(f"Maskinporten: {exc}") from exc
            self.requests += 1
            try:
                response = await self._http.post(
                    f"{self.api_url}/rest/v2/personer",
                    json={"personidentifikatorer": batch},
                    headers={"Authorization": f"Bearer {token}", "Accept": "application/json"})
            except httpx.HTTPError as exc:
                raise KrrUnavailable(f"KRR not reached: {type(exc).__name__}") from exc
            if response.status_code == 401 and attempt == 0:
                self.tokens.forget()
                continue
            if response.status_code == 429 or response.status_code >= 500:
                raise KrrUnavailable(f"KRR answered {response.status_code}")
            if response.status_code != 200:
                raise KrrError(f"KRR answered {response.status_code}")
            try:
                persons = response.json().get("personer") or []
            except (ValueError, AttributeError) as exc:
                raise KrrUnavailable("KRR answered without JSON") from exc
            return {str(p.get("personidentifikator")): parse_person(p) for p in persons}
        raise KrrError("KRR refused the Maskinporten token")
