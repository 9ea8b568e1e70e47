"""Appointments to the patient's Helsenorge: the channel and what it is told.

Every booking, change and cancellation writes one ``helsenorge`` row in the
booking's own transaction (``notifications.outbox``);
``notifications.helsenorge_delivery`` hands it over. This module builds what
that needs: the :class:`HelsenorgeSync` (channel, identity vault,
organisation numbers) from the settings, and :func:`notice_for`, the
:class:`~notifications.channels.helsenorge.AppointmentNotice` of an
appointment as it now stands: the chain's id is the identifier (a change is
one PUT of the same appointment with its new time, as the calendar's
``UID``), and the identity number is decrypted here, only for the request
body, and never reaches a log line, a URL or a job argument (jobs carry the
row id only).

Without ``HELSENORGE_API_URL`` (development), :class:`LocalHelsenorgeChannel`
builds and checks each resource as the real channel does and keeps it in
memory; production refuses to start without the real one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import structlog
from cryptography.fernet import InvalidToken
from sqlalchemy import select

from booking.models import Appointment, AppointmentType, Clinic, County, Patient
from booking.statuses import AppointmentStatus
from core.db import Database
from core.identity import IdentityVault
from core.settings import NotificationSettings
from notifications.channels.base import SendOutcome
from notifications.channels.helsenorge import (
    CANCELLED_BY_PATIENT,
    CANCELLED_BY_SERVICE,
    CANCELLED_FOR_PATIENT,
    DEFAULT_SCOPE,
    DENTAL_SERVICE,
    REMINDER_TAG,
    AppointmentNotice,
    Code,
    HelsenorgeChannel,
    SyncResult,
    build_appointment,
    hn_basis_problems,
    identifier_system_for,
    reminder_tag_from,
)
from notifications.channels.helsenorge import Clinic as HnClinic

log = structlog.get_logger(__name__)

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

    def __init__(self, identifier_system: str, service_category: Code = DENTAL_SERVICE,
                 reminder_tag: Code = REMINDER_TAG) -> None:
        self.identifier_system = identifier_system
        self.service_category = service_category
        self.reminder_tag = reminder_tag
        self.appointments: dict[str, dict[str, Any]] = {}
        #: Identifiers PUT with the reminder tag, in order (the ``/dev/sms`` page).
        self.reminders: list[str] = []

    async def put_appointment(self, notice: AppointmentNotice) -> SyncResult:
        try:
            resource = build_appointment(notice, identifier_system=self.identifier_system,
                                         service_category=self.service_category,
                                         reminder_tag=self.reminder_tag)
        except ValueError as exc:
            return SyncResult(SendOutcome.FAILED, reason=f"Invalid appointment: {exc}")
        problems = hn_basis_problems(resource)
        if problems:
            return SyncResult(SendOutcome.FAILED, 400,
                              "Invalid appointment: " + "; ".join(problems))
        known = notice.appointment_id in self.appointments
        self.appointments[notice.appointment_id] = resource
        if notice.reminder:
            self.reminders.append(notice.appointment_id)
        log.info("helsenorge_put_local", appointment=notice.appointment_id,
                 status=notice.status, reminder=notice.reminder)
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


def sync_from_settings(settings: NotificationSettings) -> HelsenorgeSync:
    """Helsenorge when ``HELSENORGE_API_URL`` is set (with ``HELSEID_TOKEN_URL``,
    ``HELSEID_CLIENT_ID`` and ``HELSEID_CLIENT_JWK``); otherwise the local
    channel (refused in production, as is a missing ``HELSENORGE_ORG_NUMBER``)."""
    production = settings.is_production
    identifier_system = identifier_system_for(settings.public_url)
    category = _service_category(settings.helsenorge_service_category)
    reminder_tag = reminder_tag_from(settings.helsenorge_reminder_tag)
    org_numbers = parse_org_numbers(settings.helsenorge_org_number or "")
    if not org_numbers:
        if production:
            raise RuntimeError("HELSENORGE_ORG_NUMBER is required in production")
        org_numbers = {"*": DEV_ORG_NUMBER}
    api_url = settings.helsenorge_api_url
    channel: AppointmentChannel
    if api_url:
        helseid: dict[str, str] = {
            "HELSEID_TOKEN_URL": settings.helseid_token_url or "",
            "HELSEID_CLIENT_ID": settings.helseid_client_id or "",
            "HELSEID_CLIENT_JWK": settings.helseid_client_jwk or ""}
        missing = [name for name, value in helseid.items() if not value]
        if missing:
            raise RuntimeError(f"HELSENORGE_API_URL is set but {', '.join(missing)} is not")
        channel = HelsenorgeChannel(
            api_url=api_url, token_url=helseid["HELSEID_TOKEN_URL"],
            client_id=helseid["HELSEID_CLIENT_ID"], client_jwk=helseid["HELSEID_CLIENT_JWK"],
            identifier_system=identifier_system, service_category=category,
            scope=settings.helsenorge_scope or DEFAULT_SCOPE, reminder_tag=reminder_tag)
    elif production:
        raise RuntimeError("HELSENORGE_API_URL is required in production")
    else:
        channel = LocalHelsenorgeChannel(identifier_system, category, reminder_tag)
    return HelsenorgeSync(channel, IdentityVault.from_secret(settings.secret_key), org_numbers)


def _cancellation_reason(appointment: Appointment) -> Code:
    """Volven 7621: by the patient, by someone for them (a guardian), or by the service."""
    by = appointment.cancelled_by or ""
    if by == f"patient:{appointment.patient_id}":
        return CANCELLED_BY_PATIENT
    if by.startswith("patient:"):
        return CANCELLED_FOR_PATIENT
    return CANCELLED_BY_SERVICE


async def notice_for(db: Database, sync: HelsenorgeSync, appointment: Appointment, *,
                     reminder: bool = False) -> AppointmentNotice | str:
    """The appointment as Helsenorge should show it, or why it cannot be built;
    with ``reminder``, asking Helsenorge to remind the patient."""
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
        description=(type_names or {}).get("nb"), reminder=reminder)
