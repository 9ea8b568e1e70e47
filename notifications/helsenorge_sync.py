"""Appointments to the patient's Helsenorge, through the outbox.

Every booking, change and cancellation writes one ``helsenorge`` row in the
booking's own transaction (``notifications.outbox``); :func:`deliver_to_helsenorge`
hands one over, called by ``jobs.deliver`` for rows of that channel:

1. End the row if the appointment changed or was cancelled since it was
   written (the newer row carries the latest state), or if it expired (the
   appointment is over).
2. Wait while another row of the same chain is being handed over: versions
   reach Helsenorge in the order they were made.
3. Build the :class:`~notifications.channels.helsenorge.AppointmentNotice`:
   the chain's id is the identifier (a change is one PUT of the same
   appointment with its new time, as the calendar's ``UID``), the identity
   number is decrypted here, only for the request body, and never reaches a
   log line, a URL or a job argument (jobs carry the row id only).
4. Claim the row (compare-and-swap on status, attempt count, lease and the
   appointment still being as the row knew it), PUT, and record the answer:
   accepted → ``delivered`` (Helsenorge's answer is final; there are no
   receipts); network trouble, 401/403, 429 and 5xx → another attempt after
   ``channels.base.retry_delay``; any other refusal → ``technical-failure``
   with the reason. A PUT is idempotent, so an attempt in doubt is simply
   made again: there is nothing to reconcile.

Without ``HELSENORGE_API_URL`` (development), :class:`LocalHelsenorgeChannel`
builds and checks each resource as the real channel does and keeps it in
memory; production refuses to start without the real one.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

import structlog
from cryptography.fernet import InvalidToken
from sqlalchemy import func, or_, select, update

from booking.models import Appointment, AppointmentType, Clinic, County, Patient
from booking.statuses import AppointmentStatus
from core.db import Database
from core.identity import IdentityVault
from notifications import metrics
from notifications.channels.base import SendOutcome, retry_delay
from notifications.channels.helsenorge import (
    CANCELLED_BY_PATIENT,
    CANCELLED_BY_SERVICE,
    CANCELLED_FOR_PATIENT,
    DEFAULT_SCOPE,
    DENTAL_SERVICE,
    AppointmentNotice,
    Code,
    HelsenorgeChannel,
    SyncResult,
    build_appointment,
    hn_basis_problems,
    identifier_system_for,
)
from notifications.channels.helsenorge import Clinic as HnClinic
from notifications.jobs import (
    Runtime,
    Snapshot,
    _end,
    _locked,
    _move,
    _wait,
    claimable,
    superseded,
)
from notifications.models import Notification
from notifications.statuses import Channel, NotificationStatus, Reason

log = structlog.get_logger(__name__)
S = NotificationStatus

#: Our appointment statuses in Helsenorge's words (hn-appointment-status-vs).
FHIR_STATUS: Mapping[str, str] = {
    AppointmentStatus.BOOKED: "booked",
    AppointmentStatus.CONFIRMED: "booked",
    AppointmentStatus.COMPLETED: "fulfilled",
    AppointmentStatus.NO_SHOW: "noshow",
    AppointmentStatus.CANCELLED: "cancelled",
}
#: Outside production without ``HELSENORGE_ORG_NUMBER``: a placeholder.
DEV_ORG_NUMBER = "000000000"


class AppointmentChannel(Protocol):
    async def put_appointment(self, notice: AppointmentNotice) -> SyncResult:
        """PUT one appointment version. Never raises for Helsenorge or network
        trouble: that is an outcome."""
        ...


class LocalHelsenorgeChannel:
    """Development only: checks each resource as the real channel does and
    keeps the latest per identifier (:attr:`appointments`); nothing leaves
    the machine."""

    def __init__(self, identifier_system: str, service_category: Code = DENTAL_SERVICE
                 ) -> None:
        self.identifier_system = identifier_system
        self.service_category = service_category
        self.appointments: dict[str, dict[str, Any]] = {}

    async def put_appointment(self, notice: AppointmentNotice) -> SyncResult:
        try:
            resource = build_appointment(notice, identifier_system=self.identifier_system,
                                         service_category=self.service_category)
        except ValueError as exc:
            return SyncResult(SendOutcome.FAILED, reason=f"Invalid appointment: {exc}")
        problems = hn_basis_problems(resource)
        if problems:
            return SyncResult(SendOutcome.FAILED, 400,
                              "Invalid appointment: " + "; ".join(problems))
        known = notice.appointment_id in self.appointments
        self.appointments[notice.appointment_id] = resource
        log.info("helsenorge_put_local", appointment=notice.appointment_id,
                 status=notice.status)
        return SyncResult(SendOutcome.ACCEPTED, 200 if known else 201)


@dataclass
class HelsenorgeSync:
    """What delivering a Helsenorge row needs: the channel, the vault that
    reads identity numbers, and whose organisation number the appointments
    carry."""

    channel: AppointmentChannel
    vault: IdentityVault = field(repr=False)
    #: County code → organisation number; ``"*"`` for every county not named.
    org_numbers: Mapping[str, str]

    def org_number(self, county_code: str) -> str | None:
        return self.org_numbers.get(county_code) or self.org_numbers.get("*")

    async def aclose(self) -> None:
        closer = getattr(self.channel, "aclose", None)
        if closer is not None:
            await closer()


def parse_org_numbers(text: str) -> dict[str, str]:
    """``HELSENORGE_ORG_NUMBER``: one organisation number for every county
    (``974770482``) or ``county code=number`` pairs (``03=974770482,46=…``)."""
    numbers: dict[str, str] = {}
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        county, _, number = part.rpartition("=")
        number = number.strip()
        if len(number) != 9 or not number.isdigit():
            raise ValueError(f"HELSENORGE_ORG_NUMBER: {number!r} is not an organisation number")
        numbers[county.strip() or "*"] = number
    return numbers


def _service_category(text: str | None) -> Code:
    if not text:
        return DENTAL_SERVICE
    parts = text.split("|", 2)
    if len(parts) != 3 or not all(parts):
        raise ValueError("HELSENORGE_SERVICE_CATEGORY must be system|code|display")
    return Code(*parts)


def sync_from_settings(settings: Any) -> HelsenorgeSync:
    """Helsenorge when ``HELSENORGE_API_URL`` is set (with ``HELSEID_TOKEN_URL``,
    ``HELSEID_CLIENT_ID`` and ``HELSEID_CLIENT_JWK``); otherwise the local
    channel (refused in production, as is a missing ``HELSENORGE_ORG_NUMBER``)."""
    production = bool(getattr(settings, "is_production", False))
    identifier_system = identifier_system_for(settings.public_url)
    category = _service_category(getattr(settings, "helsenorge_service_category", None))
    org_numbers = parse_org_numbers(getattr(settings, "helsenorge_org_number", None) or "")
    if not org_numbers:
        if production:
            raise RuntimeError("HELSENORGE_ORG_NUMBER is required in production")
        org_numbers = {"*": DEV_ORG_NUMBER}
    api_url = getattr(settings, "helsenorge_api_url", None)
    channel: AppointmentChannel
    if api_url:
        helseid: dict[str, str] = {
            name: getattr(settings, name.lower(), None) or ""
            for name in ("HELSEID_TOKEN_URL", "HELSEID_CLIENT_ID", "HELSEID_CLIENT_JWK")}
        missing = [name for name, value in helseid.items() if not value]
        if missing:
            raise RuntimeError(f"HELSENORGE_API_URL is set but {', '.join(missing)} is not")
        channel = HelsenorgeChannel(
            api_url=api_url, token_url=helseid["HELSEID_TOKEN_URL"],
            client_id=helseid["HELSEID_CLIENT_ID"], client_jwk=helseid["HELSEID_CLIENT_JWK"],
            identifier_system=identifier_system, service_category=category,
            scope=getattr(settings, "helsenorge_scope", None) or DEFAULT_SCOPE)
    elif production:
        raise RuntimeError("HELSENORGE_API_URL is required in production")
    else:
        channel = LocalHelsenorgeChannel(identifier_system, category)
    return HelsenorgeSync(channel, IdentityVault.from_secret(settings.secret_key), org_numbers)


# --- delivering one row -------------------------------------------------------

async def deliver_to_helsenorge(runtime: Runtime, snapshot: Snapshot, now: datetime) -> str:
    """PUT the appointment of one due, unclaimed ``helsenorge`` row; returns
    what happened (as ``jobs.deliver`` does)."""
    row, appointment = snapshot.row, snapshot.appointment
    if superseded(row, appointment):
        return await _end(runtime.db, row, S.CANCELLED, Reason.SUPERSEDED, now, None)
    if now >= row.expires_at:
        return await _end(runtime.db, row, S.TECHNICAL_FAILURE, Reason.EXPIRED, now, None)
    sync = runtime.helsenorge
    if sync is None:
        return await _end(runtime.db, row, S.CANCELLED, Reason.NO_CHANNEL, now, None)
    busy_until = await _chain_in_flight_until(runtime.db, row, appointment, now)
    if busy_until is not None:
        return await _wait(runtime.db, row, busy_until, Reason.AFTER_EARLIER, now, None)
    notice = await _notice(runtime.db, sync, appointment)
    if isinstance(notice, str):
        return await _end(runtime.db, row, S.TECHNICAL_FAILURE, notice, now, None)
    token = await _claim(runtime, row, appointment, now)
    if token is None:
        return "claimed"
    try:
        result = await sync.channel.put_appointment(notice)
    except Exception as exc:  # a channel must not raise; a PUT may simply be made again
        log.error("helsenorge_channel_raised", notification_id=row.id,
                  error=type(exc).__name__)
        result = SyncResult(SendOutcome.RETRY, reason=f"channel raised {type(exc).__name__}")
    return await _record(runtime, row.id, token, result)


async def _chain_in_flight_until(db: Database, row: Notification, appointment: Appointment,
                                 now: datetime) -> datetime | None:
    """Until when another row of the appointment's chain is being handed over."""
    chain = appointment.chain_id or appointment.id
    async with db.read() as session:
        until: datetime | None = (await session.execute(
            select(func.max(Notification.claimed_until))
            .join(Appointment, Appointment.id == Notification.appointment_id)
            .where(or_(Appointment.chain_id == chain, Appointment.id == appointment.id),
                   Notification.channel == Channel.HELSENORGE, Notification.id != row.id,
                   Notification.status == S.CREATED, Notification.claimed_until > now)
        )).scalar_one_or_none()
    return until


def _cancellation_reason(appointment: Appointment) -> Code:
    """Volven 7621: by the patient, by someone for them (a guardian), or by the service."""
    by = appointment.cancelled_by or ""
    if by == f"patient:{appointment.patient_id}":
        return CANCELLED_BY_PATIENT
    if by.startswith("patient:"):
        return CANCELLED_FOR_PATIENT
    return CANCELLED_BY_SERVICE


async def _notice(db: Database, sync: HelsenorgeSync, appointment: Appointment
                  ) -> AppointmentNotice | str:
    """The appointment as Helsenorge should show it, or why it cannot be built."""
    async with db.read() as session:
        (clinic_name, street, postal_code, town, county_code, county_name, type_names,
         encrypted) = (await session.execute(
            select(Clinic.name, Clinic.street_address, Clinic.postal_code,
                   Clinic.postal_town, County.code, County.name, AppointmentType.names,
                   Patient.identity_encrypted)
            .select_from(Appointment)
            .join(Clinic, Clinic.id == Appointment.clinic_id)
            .join(County, County.id == Clinic.county_id)
            .join(AppointmentType, AppointmentType.id == Appointment.appointment_type_id)
            .join(Patient, Patient.id == Appointment.patient_id)
            .where(Appointment.id == appointment.id))).one()
    org_number = sync.org_number(county_code)
    if org_number is None:
        return f"no organisation number for county {county_code}"
    try:
        nin = sync.vault.decrypt(encrypted)
    except InvalidToken:
        return "identity number unreadable"
    cancelled = appointment.status == AppointmentStatus.CANCELLED
    return AppointmentNotice(
        appointment_id=str(appointment.chain_id or appointment.id),
        status=FHIR_STATUS[appointment.status], start=appointment.starts_at,
        end=appointment.ends_at, patient_nin=nin,
        clinic=HnClinic(name=clinic_name,
                        organisation_name=f"{DENTAL_SERVICE.display}, {county_name}",
                        org_number=org_number, street=street, postal_code=postal_code,
                        city=town),
        updated_at=appointment.updated_at,
        cancellation_reason=_cancellation_reason(appointment) if cancelled else None,
        description=(type_names or {}).get("nb"))


async def _claim(runtime: Runtime, row: Notification, appointment: Appointment,
                 now: datetime) -> str | None:
    """Take the row for one PUT (``jobs.claimable``)."""
    token = secrets.token_hex(16)
    lease = runtime.config.lease
    async with runtime.db.write() as session:
        result = await session.execute(
            update(Notification)
            .where(claimable(row, appointment, now))
            # If this worker dies, the row is due again when the lease ends.
            .values(claim_token=token, claimed_until=now + lease, send_after=now + lease,
                    attempts=Notification.attempts + 1, attempted_at=now, reason=None)
            .execution_options(synchronize_session=False))
    return token if result.rowcount == 1 else None  # type: ignore[attr-defined]


async def _record(runtime: Runtime, notification_id: int, token: str, result: SyncResult
                  ) -> str:
    """Write what Helsenorge answered to the PUT made under lease ``token``."""
    now = runtime.clock()
    outcome = result.outcome
    accepted = outcome is SendOutcome.ACCEPTED
    metrics.count_outcome(Channel.HELSENORGE, outcome.value,
                          None if accepted else result.http_status)
    async with runtime.db.write() as session:
        row = await _locked(session, notification_id)
        if row is None:
            return "missing"
        ours = row.claim_token == token
        if ours:
            row.claim_token = None
            row.claimed_until = None
        if accepted:
            if row.handed_over_at is None:
                row.handed_over_at = now
                metrics.observe_handover(row.channel, row.due_at, now)
            _move(session, row, S.DELIVERED, now, "job")
            said = "accepted"
        elif not ours or row.status != S.CREATED:
            said = "lease_lost"
        elif outcome is SendOutcome.FAILED:
            _move(session, row, S.TECHNICAL_FAILURE, now, "job",
                  result.reason or Reason.PROVIDER_REJECTED, result.http_status)
            said = "failed"
        else:  # RETRY (a channel never says UNKNOWN: a PUT may be made again)
            row.error_code = result.http_status
            delay = timedelta(seconds=retry_delay(row.attempts, retry_after=result.retry_after))
            if row.attempts >= runtime.config.max_attempts:
                _move(session, row, S.TECHNICAL_FAILURE, now, "job", Reason.RETRIES_EXHAUSTED,
                      result.http_status)
                said = "failed"
            elif now + delay >= row.expires_at:
                _move(session, row, S.TECHNICAL_FAILURE, now, "job", Reason.EXPIRED,
                      result.http_status)
                said = "failed"
            else:
                row.send_after = now + delay
                row.reason = Reason.PROVIDER_BUSY
                said = "retry"
    log.info("helsenorge_synced", notification_id=notification_id, outcome=said,
             http_status=result.http_status)
    return said
