"""Which number and which language a person's text messages use: the number
they gave us, else the national contact register's (KRR, *Kontakt- og
reservasjonsregisteret*).

:func:`choose_contact` is the one rule, followed by the outbox
(:class:`RegisterDirectory`) and the profile page
(``web.views.profile.sms_number``):

* The number the patient gave us (``Patient.mobile``) is their explicit
  request for this service and wins, even over another number or a
  reservation in KRR.
* Otherwise KRR's number, with what decides whether it may be used today
  (:func:`notifications.recipients.check_contact`): the reservation, the
  register's notification status (``varslingsstatus``) and when the number
  was last updated or verified (eForvaltningsforskriften § 32: not after 18
  months). A person KRR does not know, or has deleted, has no number.
* The language: the register's (``spraak``), else the profile's choice,
  else nb (issue #5: "official register's language → profile choice → nb").

When KRR cannot be asked (:class:`~notifications.channels.krr.KrrUnavailable`,
or :class:`~notifications.channels.krr.KrrError`, a refusal an operator must
look at), a person without a number of their own gets a :class:`Contact`
marked ``unavailable``: nothing is known about a reservation, so nothing is
sent, and the row waits and is tried again
(:data:`notifications.recipients.WAIT_FOR`) rather than cancelled. A person
with a number of their own is still reached at it, in the profile's language.

Identity numbers are decrypted here only to go into KRR's request body (one
batched lookup for all the patients asked about); they never reach a log
line, a URL or a job argument.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Protocol

import httpx
import structlog
from cryptography.fernet import InvalidToken
from sqlalchemy import select

from booking.models import Patient
from core.db import Database
from core.identity import IdentityVault
from core.settings import NotificationSettings
from notifications.channels.krr import KrrClient, KrrContact, KrrError, KrrStatus, KrrUnavailable
from notifications.recipients import Contact, ContactDirectory, ProfileDirectory
from notifications.templates import LANGUAGES

log = structlog.get_logger(__name__)


def choose_contact(own_mobile: str | None, profile_language: str | None,
                   register: KrrContact | None, *, unavailable: bool = False) -> Contact:
    """How to reach a person: their own number if they gave one, else the
    register's with what :func:`~notifications.recipients.check_contact`
    needs to judge it. ``register`` None: the register was not asked
    (not configured), or with ``unavailable`` could not answer."""
    language = next((choice for choice in (register.language if register else None,
                                           profile_language) if choice in LANGUAGES), None)
    if own_mobile:
        return Contact(own_mobile, language)
    if register is None:
        return Contact(None, language, unavailable=unavailable)
    if register.status is not KrrStatus.ACTIVE:
        return Contact(None, language, from_register=True)
    confirmed = register.mobile_confirmed
    return Contact(register.mobile, language, reserved=register.reserved,
                   verified_on=confirmed.date() if confirmed is not None else None,
                   from_register=True, notifiable=register.can_be_notified is not False)


class Register(Protocol):
    """What :class:`RegisterDirectory` needs of
    :class:`~notifications.channels.krr.KrrClient`: one batched lookup."""

    async def lookup(self, nins: Iterable[str]) -> Mapping[str, KrrContact]: ...


class RegisterDirectory:
    """:class:`~notifications.recipients.ContactDirectory` on KRR plus the
    profile: one database read and one KRR lookup (batched and cached by the
    client) for all the patients asked about."""

    def __init__(self, db: Database, vault: IdentityVault, register: Register, *,
                 owns_register: bool = False) -> None:
        self.db = db
        self.vault = vault
        self.register = register
        self.owns_register = owns_register

    async def contacts(self, patient_ids: Sequence[int]) -> Mapping[int, Contact]:
        if not patient_ids:
            return {}
        async with self.db.read() as session:
            rows = (await session.execute(
                select(Patient.id, Patient.identity_encrypted, Patient.mobile,
                       Patient.preferred_language)
                .where(Patient.id.in_(sorted(set(patient_ids)))))).all()
        nins: dict[int, str] = {}
        for patient_id, encrypted, _, _ in rows:
            try:
                nins[patient_id] = self.vault.decrypt(encrypted)
            except InvalidToken:  # another SECRET_KEY: the register cannot be asked
                log.error("identity_number_unreadable", patient_id=patient_id)
        answers: Mapping[str, KrrContact] = {}
        if nins:
            try:
                answers = await self.register.lookup(nins.values())
            except (KrrUnavailable, KrrError) as exc:
                log.warning("krr_lookup_failed", patients=len(nins), error=type(exc).__name__,
                            detail=str(exc))
        found: dict[int, Contact] = {}
        for patient_id, _, own_mobile, language in rows:
            nin = nins.get(patient_id)
            register = answers.get(nin) if nin is not None else None
            found[patient_id] = choose_contact(own_mobile, language, register,
                                               unavailable=register is None)
        return found

    async def aclose(self) -> None:
        """Close the KRR client if this directory made it."""
        closer = getattr(self.register, "aclose", None)
        if self.owns_register and closer is not None:
            await closer()


def contact_register(settings: NotificationSettings) -> KrrClient | None:
    """The KRR client when the register is configured (always in production):
    the one construction of it, for the web process and the jobs."""
    if not settings.krr_configured:
        return None
    assert settings.krr_api_url and settings.maskinporten_token_url
    assert settings.maskinporten_client_id and settings.maskinporten_client_jwk
    return KrrClient(
        api_url=settings.krr_api_url, token_url=settings.maskinporten_token_url,
        audience=settings.maskinporten_audience
        or str(httpx.URL(settings.maskinporten_token_url).copy_with(path="/", query=None)),
        client_id=settings.maskinporten_client_id,
        client_jwk=settings.maskinporten_client_jwk, cache_ttl=float(settings.krr_cache_ttl))


def contact_directory(settings: NotificationSettings, db: Database) -> ContactDirectory:
    """The directory the jobs use: KRR plus the profile when the register is
    configured (``settings.krr_configured``; required in production), else
    the profile alone (development and tests)."""
    if not settings.krr_configured:
        return ProfileDirectory(db)
    register = contact_register(settings)
    assert register is not None
    return RegisterDirectory(db, IdentityVault.from_secret(settings.secret_key), register,
                             owns_register=True)
